// Prints the byte offsets kapimon's BPF programs read in golang.org/x/net/http2 (server) and
// google.golang.org/grpc (client) as C initializer rows for xnet_table[] and grpc_table[] in
// src/goelf/offsets.c, measured from this program's own DWARF. Built in GOPATH mode against one
// (x/net, grpc) source set by scripts/gen-module-offsets.sh, which passes the module versions.
//
// Cross-checks run before printing (a failed check exits 1 and prints nothing):
//   - exported fields against unsafe.Offsetof/Sizeof (MetaHeadersFrame.Fields, FrameHeader.StreamID
//     inside HeadersFrame, sizeof hpack.HeaderField);
//   - the grpc error chain: a real (*ClientConn).Invoke to a closed local port must fail, and the
//     status code read from that error through the measured offsets must equal status.Code(err).
package main

import (
	"context"
	"debug/dwarf"
	"debug/elf"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

const (
	h2     = "golang.org/x/net/http2."
	hp     = "golang.org/x/net/http2/hpack."
	gtr    = "google.golang.org/grpc/internal/transport."
	gist   = "google.golang.org/grpc/internal/status."
	gst    = "google.golang.org/grpc/status."
	spbPkg = "google.golang.org/genproto/googleapis/rpc/status."
	grpcPk = "google.golang.org/grpc."
)

const U = -1

var structs = map[string]*dwarf.StructType{}

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "modoffsets: "+f+"\n", a...)
	os.Exit(1)
}

func loadDWARF() {
	exe, err := os.Executable()
	if err != nil {
		die("%v", err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		die("%v", err)
	}
	d, err := f.DWARF()
	if err != nil {
		die("no DWARF: %v", err)
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		r.SkipChildren()
		for _, p := range []string{h2, hp, gtr, gist, gst, spbPkg, grpcPk} {
			if strings.HasPrefix(name, p) && !strings.ContainsAny(name[len(p):], "./[") {
				if t, err := d.Type(e.Offset); err == nil {
					if st, ok := t.(*dwarf.StructType); ok {
						structs[name] = st
					}
				}
			}
		}
	}
}

func strip(t dwarf.Type) dwarf.Type {
	for {
		td, ok := t.(*dwarf.TypedefType)
		if !ok {
			return t
		}
		t = td.Type
	}
}

// field returns the offset of path ("A.B" descends into A's struct type) in struct typ and the
// last member's type name; U when missing.
func field(typ, path string) (int64, string) {
	st := structs[typ]
	if st == nil {
		return U, ""
	}
	var total int64
	parts := strings.Split(path, ".")
	for i, p := range parts {
		var fl *dwarf.StructField
		for _, f := range st.Field {
			if f.Name == p {
				fl = f
				break
			}
		}
		if fl == nil {
			return U, ""
		}
		total += fl.ByteOffset
		if i == len(parts)-1 {
			return total, fl.Type.String()
		}
		next, ok := strip(fl.Type).(*dwarf.StructType)
		if !ok {
			return U, ""
		}
		st = next
	}
	return total, ""
}

func off(typ, path string) int64 { o, _ := field(typ, path); return o }

func size(typ string) int64 {
	if st := structs[typ]; st != nil {
		return st.ByteSize
	}
	return U
}

func c(v int64) string {
	if v == U {
		return "U"
	}
	return fmt.Sprint(v)
}

func ptrAt(p unsafe.Pointer, o int64) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(uintptr(p) + uintptr(o)))
}

// cstr splits s into adjacent C string literals of at most ~100 characters (at spaces).
func cstr(s, indent string) string {
	var parts []string
	for len(s) > 100 {
		i := strings.LastIndex(s[:100], " ")
		if i <= 0 {
			i = 100
		}
		parts = append(parts, fmt.Sprintf("%q", s[:i+1]))
		s = s[i+1:]
	}
	parts = append(parts, fmt.Sprintf("%q", s))
	return strings.Join(parts, "\n"+indent)
}

func main() {
	xnetV := flag.String("xnet", "", "golang.org/x/net module version")
	grpcV := flag.String("grpc", "", "google.golang.org/grpc module version")
	set := flag.String("set", "", "source set name")
	src := flag.String("src", "", "where the sources came from")
	never := flag.Bool("never", false, "")
	flag.Parse()
	if *never { // keep the servers' and client's types linked in
		srv := &http.Server{}
		_ = http2.ConfigureServer(srv, &http2.Server{})
		_ = srv.ListenAndServeTLS("", "")
		cc, _ := grpc.Dial("x", grpc.WithInsecure())
		_ = cc.Invoke(context.Background(), "/a.B/C", &spb.Status{}, &spb.Status{})
		_, _ = status.FromError(nil)
	}
	loadDWARF()

	// ---- x/net/http2 ----
	h := map[string]int64{
		"meta_headers_frame_fields": off(h2+"MetaHeadersFrame", "Fields"),
		"headers_frame_stream_id":   off(h2+"HeadersFrame", "FrameHeader.StreamID"),
		"header_field_size":         size(hp + "HeaderField"),
		"server_conn_remote_addr":   off(h2+"serverConn", "remoteAddrStr"),
		"response_writer_rws":       off(h2+"responseWriter", "rws"),
		"rws_stream":                off(h2+"responseWriterState", "stream"),
		"rws_status":                off(h2+"responseWriterState", "status"),
		"rws_wrote_bytes":           off(h2+"responseWriterState", "wroteBytes"),
		"rws_sent_content_len":      off(h2+"responseWriterState", "sentContentLen"),
		"stream_sc":                 off(h2+"stream", "sc"),
		"stream_id":                 off(h2+"stream", "id"),
		"stream_body_bytes":         off(h2+"stream", "bodyBytes"),
		"stream_ctx":                off(h2+"stream", "ctx"),
	}
	for k, v := range h {
		if v == U {
			die("x/net/http2: %s not found in DWARF", k)
		}
	}
	if h["meta_headers_frame_fields"] != int64(unsafe.Offsetof(http2.MetaHeadersFrame{}.Fields)) ||
		h["headers_frame_stream_id"] != int64(unsafe.Offsetof(http2.HeadersFrame{}.StreamID)) ||
		h["header_field_size"] != int64(unsafe.Sizeof(hpack.HeaderField{})) {
		die("x/net/http2: DWARF disagrees with unsafe.Offsetof/Sizeof")
	}

	// ---- grpc ----
	g := map[string]int64{"status_error_s": U, "status_s": U, "error_is_spb": U}
	g["spb_status_code"] = off(spbPkg+"Status", "Code")
	g["stream_method"] = off(gtr+"Stream", "method")
	g["stream_ctx"] = off(gtr+"Stream", "ctx")
	// the last received message's 5-byte gRPC header: clientStream.attempt -> csAttempt.p -> parser.header
	g["cs_attempt"] = off(grpcPk+"clientStream", "attempt")
	g["attempt_parser"] = off(grpcPk+"csAttempt", "p")
	g["parser_header"] = off(grpcPk+"parser", "header")
	chain := ""
	if structs[gist+"Error"] != nil {
		g["error_is_spb"] = 0
		if o, t := field(gist+"Error", "s"); o != U {
			g["status_error_s"] = o
			o2, t2 := field(gist+"Status", "s")
			g["status_s"] = o2
			chain = fmt.Sprintf("internal/status.Error{s %s @%d} -> Status{s %s @%d}", t, o, t2, o2)
		} else if o, t := field(gist+"Error", "e"); o != U {
			g["status_error_s"] = o
			chain = fmt.Sprintf("internal/status.Error{e %s @%d}", t, o)
		}
	} else if structs[gst+"statusError"] != nil {
		g["error_is_spb"] = 1
		chain = "status.statusError is spb.Status"
	}
	if g["spb_status_code"] == U || g["stream_method"] == U || g["stream_ctx"] == U || chain == "" {
		die("grpc: fields missing in DWARF: %v %q", g, chain)
	}
	if g["spb_status_code"] != int64(unsafe.Offsetof(spb.Status{}.Code)) {
		die("grpc: DWARF spb.Status.Code %d != unsafe.Offsetof %d", g["spb_status_code"], unsafe.Offsetof(spb.Status{}.Code))
	}
	// A real Invoke error, read through the offsets the way the BPF program does.
	cc, err := grpc.Dial("127.0.0.1:1", grpc.WithInsecure())
	if err != nil {
		die("grpc.Dial: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ierr := cc.Invoke(ctx, "/kapimon.Test/Call", &spb.Status{}, &spb.Status{})
	cancel()
	cc.Close()
	if ierr == nil {
		die("grpc: Invoke to a closed port succeeded")
	}
	p := (*[2]unsafe.Pointer)(unsafe.Pointer(&ierr))[1] // iface data pointer
	if g["error_is_spb"] == 0 {
		p = ptrAt(p, g["status_error_s"])
		if g["status_s"] != U {
			p = ptrAt(p, g["status_s"])
		}
	}
	got := *(*int32)(unsafe.Pointer(uintptr(p) + uintptr(g["spb_status_code"])))
	if want := int32(status.Code(ierr)); got != want {
		die("grpc: code via offsets %d != status.Code %d (%T %v)", got, want, ierr, ierr)
	}
	// ClientStream (grpc >= 1.68) embeds Stream: report where, for the record.
	embed := ""
	if o := off(gtr+"ClientStream", "Stream"); o != U {
		embed = fmt.Sprintf("; transport.ClientStream embeds Stream at %d", o)
	}

	prov := func(lib, ver string) string {
		return fmt.Sprintf("measured from DWARF of a %s GOPATH program built here against %s %s (set %s: %s) by scripts/gen-module-offsets.sh",
			runtime.Version(), lib, ver, *set, *src)
	}
	fmt.Printf("\t/* xnet_table row, set %s, %s */\n", *set, runtime.Version())
	fmt.Printf("\t{ %q, %s,\n", *xnetV, strings.Split(strings.TrimPrefix(runtime.Version(), "go1."), ".")[0])
	fmt.Printf("\t  { .meta_headers_frame_fields = %s, .headers_frame_stream_id = %s, .header_field_size = %s,\n",
		c(h["meta_headers_frame_fields"]), c(h["headers_frame_stream_id"]), c(h["header_field_size"]))
	fmt.Printf("\t    .server_conn_remote_addr = %s, .response_writer_rws = %s, .rws_stream = %s, .rws_status = %s,\n",
		c(h["server_conn_remote_addr"]), c(h["response_writer_rws"]), c(h["rws_stream"]), c(h["rws_status"]))
	fmt.Printf("\t    .rws_wrote_bytes = %s, .rws_sent_content_len = %s, .stream_sc = %s, .stream_id = %s,\n",
		c(h["rws_wrote_bytes"]), c(h["rws_sent_content_len"]), c(h["stream_sc"]), c(h["stream_id"]))
	fmt.Printf("\t    .stream_body_bytes = %s, .stream_ctx = %s },\n", c(h["stream_body_bytes"]), c(h["stream_ctx"]))
	fmt.Printf("\t  %s },\n", cstr(prov("golang.org/x/net", *xnetV), "\t  "))
	fmt.Printf("\t/* grpc_table row, set %s, %s:\n\t * %s;\n\t * Invoke error %T code %d read through these offsets%s */\n",
		*set, runtime.Version(), chain, ierr, got, embed)
	fmt.Printf("\t{ %q, %s,\n", *grpcV, strings.Split(strings.TrimPrefix(runtime.Version(), "go1."), ".")[0])
	fmt.Printf("\t  { .status_error_s = %s, .status_s = %s, .spb_status_code = %s, ._pad = 0, .error_is_spb = %s,\n",
		c(g["status_error_s"]), c(g["status_s"]), c(g["spb_status_code"]), c(g["error_is_spb"]))
	fmt.Printf("\t    .stream_method = %s, .stream_ctx = %s, .cs_attempt = %s, .attempt_parser = %s, .parser_header = %s },\n",
		c(g["stream_method"]), c(g["stream_ctx"]), c(g["cs_attempt"]), c(g["attempt_parser"]), c(g["parser_header"]))
	fmt.Printf("\t  %s },\n", cstr(prov("google.golang.org/grpc", *grpcV), "\t  "))
}
