// Prints the byte offsets kapimon's BPF programs read in net/http (HTTP/1 and the bundled HTTP/2
// server) as a C initializer row for src/goelf/offsets.c, measured from this program's own DWARF.
// Build it with the Go toolchain whose layout you want: scripts/gen-go-offsets.sh does.
package main

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "never" { // keep the server's types linked in
		srv := &http.Server{}
		_ = srv.ListenAndServeTLS("", "")
	}
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		panic(err)
	}
	d, err := f.DWARF()
	if err != nil {
		panic(err)
	}
	off := map[string]int64{}
	size := map[string]int64{}
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
		if !strings.HasPrefix(name, "net/http.") && !strings.HasPrefix(name, "context.") &&
			!strings.HasPrefix(name, "net/http/internal/http2.") && !isHeaderField(name) {
			r.SkipChildren()
			continue
		}
		if sz, ok := e.Val(dwarf.AttrByteSize).(int64); ok {
			size[name] = sz
		}
		for {
			c, _ := r.Next()
			if c == nil || c.Tag == 0 {
				break
			}
			if c.Tag == dwarf.TagMember {
				o, _ := c.Val(dwarf.AttrDataMemberLoc).(int64)
				n, _ := c.Val(dwarf.AttrName).(string)
				off[name+"."+n] = o
			}
		}
	}
	get := func(k string) string {
		if v, ok := off[k]; ok {
			return fmt.Sprint(v)
		}
		// Go >= 1.27 moved the bundled server to net/http/internal/http2 (types lose the prefix)
		if strings.HasPrefix(k, "net/http.http2") {
			if v, ok := off["net/http/internal/http2."+strings.TrimPrefix(k, "net/http.http2")]; ok {
				return fmt.Sprint(v)
			}
		}
		return "U"
	}
	fmt.Printf("\t/* %s, measured by scripts/gen-go-offsets.sh */\n", runtime.Version())
	fmt.Printf("\t{ %s,\n", strings.Split(strings.TrimPrefix(runtime.Version(), "go1."), ".")[0])
	fmt.Printf("\t  { .response_conn = %s, .response_req = %s, .response_status = %s, .response_written = %s,\n",
		get("net/http.response.conn"), get("net/http.response.req"), get("net/http.response.status"), get("net/http.response.written"))
	fmt.Printf("\t    .conn_remote_addr = %s, .request_method = %s, .request_header = %s, .request_content_length = %s,\n",
		get("net/http.conn.remoteAddr"), get("net/http.Request.Method"), get("net/http.Request.Header"), get("net/http.Request.ContentLength"))
	fmt.Printf("\t    .request_request_uri = %s, .request_proto_major = %s, .map_kind = 0, .request_ctx = %s,\n",
		get("net/http.Request.RequestURI"), get("net/http.Request.ProtoMajor"), get("net/http.Request.ctx"))
	fmt.Printf("\t    .request_remote_addr = %s },\n", get("net/http.Request.RemoteAddr"))
	streamID := func() string {
		if v := get("net/http.http2FrameHeader.StreamID"); v != "U" {
			return v
		}
		return get("net/http/internal/http2.FrameHeader.StreamID")
	}
	// sizeof(hpack.HeaderField): the bundle keeps hpack as a package of its own (std's vendored copy)
	hf := "U"
	for n, v := range size {
		if isHeaderField(n) && v > 0 {
			hf = fmt.Sprint(v)
		}
	}
	fmt.Printf("\t  { .meta_headers_frame_fields = %s, .headers_frame_stream_id = %s, .header_field_size = %s,\n",
		get("net/http.http2MetaHeadersFrame.Fields"), streamID(), hf)
	fmt.Printf("\t    .server_conn_remote_addr = %s, .response_writer_rws = %s, .rws_stream = %s, .rws_status = %s,\n",
		get("net/http.http2serverConn.remoteAddrStr"), get("net/http.http2responseWriter.rws"),
		get("net/http.http2responseWriterState.stream"), get("net/http.http2responseWriterState.status"))
	fmt.Printf("\t    .rws_wrote_bytes = %s, .rws_sent_content_len = %s, .stream_sc = %s, .stream_id = %s,\n",
		get("net/http.http2responseWriterState.wroteBytes"), get("net/http.http2responseWriterState.sentContentLen"),
		get("net/http.http2stream.sc"), get("net/http.http2stream.id"))
	fmt.Printf("\t    .stream_body_bytes = %s, .stream_ctx = %s },\n",
		get("net/http.http2stream.bodyBytes"), get("net/http.http2stream.ctx"))
	pkg := "?"
	if len(os.Args) > 2 && os.Args[1] == "-pkg" {
		pkg = os.Args[2]
	}
	fmt.Printf("\t  GO_PROV(\"%s\", \"%s\"), \"%s\" },\n", runtime.Version(), pkg, runtime.Version())
}

// isHeaderField: the struct hpack.HeaderField itself (vendored by std, or under net/http/internal), not
// the slice or pointer types DWARF also names after it ("[]vendor/.../hpack.HeaderField").
func isHeaderField(name string) bool {
	return strings.HasSuffix(name, "/hpack.HeaderField") && !strings.ContainsAny(name[:1], "[*")
}
