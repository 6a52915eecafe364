// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Go struct field offsets: DWARF (libdw) first, then a table keyed by versions, then a fallback.
 * Every table value below was measured here from DWARF of Go programs built with Debian's Go toolchains
 * (go_table: scripts/gen-go-offsets.sh; xnet_table/grpc_table: scripts/gen-module-offsets.sh against
 * kubernetes 1.20.2's vendor tree and Debian's bookworm/trixie/sid -dev packages); see
 * docs/go-introspection.md. Nothing is copied from other projects.
 */
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goelf/offsets.h"

#define U KP_OFF_UNKNOWN

const char *goff_source_name(enum goff_source s)
{
	switch (s) {
	case GOFF_DWARF: return "dwarf";
	case GOFF_MEASURED: return "measured";
	case GOFF_NEAREST: return "nearest (unverified)";
	default: return "none";
	}
}

const char *goff_group_name(enum goff_group g)
{
	return (unsigned)g < GOFF__NGROUPS ? probe_group_name((enum probe_group)g) : "?";
}

int goff_group_from_name(const char *name, size_t len)
{
	for (int g = 0; g < GOFF__NGROUPS; g++) {
		const char *n = goff_group_name((enum goff_group)g);

		if (name && strlen(n) == len && !strncmp(n, name, len))
			return g;
	}
	return -1;
}

/* ------------------------------------------------------------------------------------------------ */
/* field specs: which struct/member each offset is                                                  */

struct fspec {
	const char *field;  /* name in go_offsets.h */
	const char *type;   /* struct type name (after the group prefix) */
	const char *member; /* member; "A.B" descends into A's struct type; NULL = sizeof(type) */
};

/* HTTP/2, relative to the package prefix ("golang.org/x/net/http2." or "net/http.http2"). */
static const struct fspec h2_specs[] = {
	{ "meta_headers_frame_fields", "MetaHeadersFrame", "Fields" },
	{ "headers_frame_stream_id", "HeadersFrame", "FrameHeader.StreamID" },
	{ "header_field_size", NULL, NULL }, /* hpack.HeaderField, package differs: handled apart */
	{ "server_conn_remote_addr", "serverConn", "remoteAddrStr" },
	{ "response_writer_rws", "responseWriter", "rws" },
	{ "rws_stream", "responseWriterState", "stream" },
	{ "rws_status", "responseWriterState", "status" },
	{ "rws_wrote_bytes", "responseWriterState", "wroteBytes" },
	{ "rws_sent_content_len", "responseWriterState", "sentContentLen" },
	{ "stream_sc", "stream", "sc" },
	{ "stream_id", "stream", "id" },
	{ "stream_body_bytes", "stream", "bodyBytes" },
	{ "stream_ctx", "stream", "ctx" },
	{ "rws_handler_header", "responseWriterState", "handlerHeader" },
};

static const struct fspec h1_specs[] = {
	{ "response_conn", "net/http.response", "conn" },
	{ "response_req", "net/http.response", "req" },
	{ "response_status", "net/http.response", "status" },
	{ "response_written", "net/http.response", "written" },
	{ "conn_remote_addr", "net/http.conn", "remoteAddr" },
	{ "request_method", "net/http.Request", "Method" },
	{ "request_header", "net/http.Request", "Header" },
	{ "request_content_length", "net/http.Request", "ContentLength" },
	{ "request_request_uri", "net/http.Request", "RequestURI" },
	{ "request_proto_major", "net/http.Request", "ProtoMajor" },
	{ "request_ctx", "net/http.Request", "ctx" },
	{ "request_remote_addr", "net/http.Request", "RemoteAddr" },
	{ "response_handler_header", "net/http.response", "handlerHeader" },
};

static kp_off_t *h2_field(struct kp_h2_offsets *h, size_t i)
{
	kp_off_t *f[] = { &h->meta_headers_frame_fields, &h->headers_frame_stream_id, &h->header_field_size,
			  &h->server_conn_remote_addr, &h->response_writer_rws, &h->rws_stream, &h->rws_status,
			  &h->rws_wrote_bytes, &h->rws_sent_content_len, &h->stream_sc, &h->stream_id,
			  &h->stream_body_bytes, &h->stream_ctx, &h->rws_handler_header };
	return i < sizeof(f) / sizeof(f[0]) ? f[i] : NULL;
}

static kp_off_t *h1_field(struct kp_http1_offsets *h, size_t i)
{
	kp_off_t *f[] = { &h->response_conn, &h->response_req, &h->response_status, &h->response_written,
			  &h->conn_remote_addr, &h->request_method, &h->request_header,
			  &h->request_content_length, &h->request_request_uri, &h->request_proto_major,
			  &h->request_ctx, &h->request_remote_addr, &h->response_handler_header };
	return i < sizeof(f) / sizeof(f[0]) ? f[i] : NULL;
}

#define NH2 (sizeof(h2_specs) / sizeof(h2_specs[0]))
#define NH1 (sizeof(h1_specs) / sizeof(h1_specs[0]))

size_t goff_fields(struct go_offsets *o, enum goff_group g, struct goff_field *out, size_t max)
{
	size_t n = 0;

	switch (g) {
	case GOFF_H2X:
	case GOFF_H2B:
		for (size_t i = 0; i < NH2 && n < max; i++, n++)
			out[n] = (struct goff_field){ h2_specs[i].field, h2_field(g == GOFF_H2X ? &o->h2x : &o->h2b, i) };
		break;
	case GOFF_H1:
		for (size_t i = 0; i < NH1 && n < max; i++, n++)
			out[n] = (struct goff_field){ h1_specs[i].field, h1_field(&o->h1, i) };
		break;
	case GOFF_GRPC: {
		struct goff_field f[] = { { "status_error_s", &o->grpc.status_error_s },
					  { "status_s", &o->grpc.status_s },
					  { "spb_status_code", &o->grpc.spb_status_code },
					  { "error_is_spb", &o->grpc.error_is_spb } };
		for (size_t i = 0; i < 4 && n < max; i++, n++)
			out[n] = f[i];
		break;
	}
	default:
		break;
	}
	return n;
}

/* ------------------------------------------------------------------------------------------------ */
/* DWARF                                                                                            */

#define MAXW 32
struct dw_ctx {
	Dwarf *dw;
	const char *want[MAXW];
	Dwarf_Die die[MAXW];
	int rank[MAXW]; /* 0 = not found; 1 exact; 2 suffix; 3 suffix in Go's std "vendor/" */
	size_t n;
};

static void want(struct dw_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->want[i], name))
			return;
	if (c->n < MAXW)
		c->want[c->n++] = name;
}

static int match_rank(const char *die_name, const char *w)
{
	size_t l = strlen(die_name), n = strlen(w);

	if (!strcmp(die_name, w))
		return 1;
	if (l > n && die_name[l - n - 1] == '/' && !strcmp(die_name + l - n, w))
		return strncmp(die_name, "vendor/", 7) ? 2 : 3;
	return 0;
}

static void dw_collect(struct dw_ctx *c)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (dwarf_nextcu(c->dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, d;

		if (dwarf_offdie(c->dw, off + hsize, &cu) && dwarf_child(&cu, &d) == 0) {
			do {
				const char *nm;

				if (dwarf_tag(&d) != DW_TAG_structure_type || !(nm = dwarf_diename(&d)))
					continue;
				for (size_t i = 0; i < c->n; i++) {
					int r = match_rank(nm, c->want[i]);

					if (r && (!c->rank[i] || r < c->rank[i])) {
						c->rank[i] = r;
						c->die[i] = d;
					}
				}
			} while (dwarf_siblingof(&d, &d) == 0);
		}
		off = next;
	}
}

static Dwarf_Die *dw_struct(struct dw_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->want[i], name))
			return c->rank[i] ? &c->die[i] : NULL;
	return NULL;
}

static bool dw_member(Dwarf_Die *st, const char *name, size_t nlen, Dwarf_Word *off, Dwarf_Die *type)
{
	Dwarf_Die m;

	if (dwarf_child(st, &m) != 0)
		return false;
	do {
		const char *mn;
		Dwarf_Attribute a;

		if (dwarf_tag(&m) != DW_TAG_member || !(mn = dwarf_diename(&m)))
			continue;
		if (strlen(mn) != nlen || memcmp(mn, name, nlen))
			continue;
		if (!dwarf_attr(&m, DW_AT_data_member_location, &a) || dwarf_formudata(&a, off) != 0)
			return false;
		if (type) {
			if (!dwarf_attr_integrate(&m, DW_AT_type, &a) || !dwarf_formref_die(&a, type))
				return false;
			while (dwarf_tag(type) == DW_TAG_typedef) {
				if (!dwarf_attr_integrate(type, DW_AT_type, &a) || !dwarf_formref_die(&a, type))
					return false;
			}
		}
		return true;
	} while (dwarf_siblingof(&m, &m) == 0);
	return false;
}

/* "A.B.C" member path -> summed offset. */
static kp_off_t dw_path(struct dw_ctx *c, const char *type, const char *path)
{
	Dwarf_Die *st = dw_struct(c, type), cur, next;
	Dwarf_Word total = 0;

	if (!st)
		return U;
	cur = *st;
	while (path && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		Dwarf_Word o;

		if (!dw_member(&cur, path, n, &o, &next))
			return U;
		total += o;
		cur = next;
		path = dot ? dot + 1 : NULL;
	}
	return total < U ? (kp_off_t)total : U;
}

static kp_off_t dw_size(struct dw_ctx *c, const char *type)
{
	Dwarf_Die *st = dw_struct(c, type);
	int sz;

	if (!st)
		return U;
	sz = dwarf_bytesize(st);
	return sz > 0 && sz < U ? (kp_off_t)sz : U;
}

static const char *const h2x_prefix = "golang.org/x/net/http2.";
static const char *const h2b_prefix = "net/http.http2";
static const char *const h2i_prefix = "net/http/internal/http2."; /* Go >= 1.27: no longer bundled */
static const char *const hpack_xnet = "golang.org/x/net/http2/hpack.HeaderField";
static const char *const hpack_std = "vendor/golang.org/x/net/http2/hpack.HeaderField";

static char h2names[3][NH2][96]; /* x/net, bundled (<= 1.26), internal (>= 1.27) */

static unsigned count_known(kp_off_t *const *f, size_t n)
{
	unsigned k = 0;

	for (size_t i = 0; i < n; i++)
		k += *f[i] != U;
	return k;
}

static void dwarf_fill(Elf *elf, struct go_offsets *o, bool got[GOFF__NGROUPS])
{
	struct dw_ctx c = { 0 };

	c.dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!c.dw)
		return;
	for (int g = 0; g < 3; g++) {
		const char *pre = g == 0 ? h2x_prefix : g == 1 ? h2b_prefix : h2i_prefix;

		for (size_t i = 0; i < NH2; i++) {
			if (!h2_specs[i].type)
				continue;
			snprintf(h2names[g][i], sizeof(h2names[g][i]), "%s%s", pre, h2_specs[i].type);
			want(&c, h2names[g][i]);
		}
	}
	want(&c, hpack_xnet);
	want(&c, hpack_std);
	for (size_t i = 0; i < NH1; i++)
		want(&c, h1_specs[i].type);
	want(&c, "google.golang.org/grpc/internal/status.Error");
	want(&c, "google.golang.org/grpc/internal/status.Status");
	want(&c, "google.golang.org/grpc/status.statusError");
	want(&c, "google.golang.org/grpc/status.Status");
	want(&c, "google.golang.org/genproto/googleapis/rpc/status.Status");
	want(&c, "google.golang.org/grpc/internal/transport.Stream");
	want(&c, "google.golang.org/grpc.clientStream");
	want(&c, "google.golang.org/grpc.csAttempt");
	want(&c, "google.golang.org/grpc.parser");
	dw_collect(&c);

	for (int g = 0; g < 3; g++) {
		struct kp_h2_offsets *h = g == 0 ? &o->h2x : &o->h2b;
		kp_off_t *all[NH2];
		bool any = false;

		if (g == 2 && got[1])
			break; /* net/http's server was found bundled: not the Go >= 1.27 layout */
		for (size_t i = 0; i < NH2; i++) {
			all[i] = h2_field(h, i);
			if (h2_specs[i].type && g == 1 && !strcmp(h2_specs[i].member, "FrameHeader.StreamID"))
				/* the bundle renames the embedded type (and so the field) to http2FrameHeader */
				*all[i] = dw_path(&c, h2names[g][i], "http2FrameHeader.StreamID");
			else if (h2_specs[i].type)
				*all[i] = dw_path(&c, h2names[g][i], h2_specs[i].member);
			else
				*all[i] = dw_size(&c, g == 0 ? hpack_xnet : hpack_std);
			any |= *all[i] != U && h2_specs[i].type;
		}
		if (any)
			got[g == 2 ? 1 : g] = true;
	}
	{
		bool any = false;
		for (size_t i = 0; i < NH1; i++) {
			*h1_field(&o->h1, i) = dw_path(&c, h1_specs[i].type, h1_specs[i].member);
			any |= *h1_field(&o->h1, i) != U;
		}
		got[GOFF_H1] = any;
	}
	{
		struct kp_grpc_offsets *g = &o->grpc;

		g->spb_status_code = dw_path(&c, "google.golang.org/genproto/googleapis/rpc/status.Status", "Code");
		g->stream_method = dw_path(&c, "google.golang.org/grpc/internal/transport.Stream", "method");
		g->stream_ctx = dw_path(&c, "google.golang.org/grpc/internal/transport.Stream", "ctx");
		g->cs_attempt = dw_path(&c, "google.golang.org/grpc.clientStream", "attempt");
		g->attempt_parser = dw_path(&c, "google.golang.org/grpc.csAttempt", "p");
		g->parser_header = dw_path(&c, "google.golang.org/grpc.parser", "header");
		g->range_resp_kvs = g->range_resp_more = g->range_resp_count = U; /* offsets_select's etcd table */
		if (dw_struct(&c, "google.golang.org/grpc/internal/status.Error")) {
			g->error_is_spb = 0;
			g->status_error_s = dw_path(&c, "google.golang.org/grpc/internal/status.Error", "s");
			if (g->status_error_s != U) {
				g->status_s = dw_path(&c, "google.golang.org/grpc/internal/status.Status", "s");
			} else {
				/* Error{e *spb.Status}: one hop */
				g->status_error_s = dw_path(&c, "google.golang.org/grpc/internal/status.Error", "e");
				g->status_s = U;
			}
			got[GOFF_GRPC] = true;
		} else if (dw_struct(&c, "google.golang.org/grpc/status.statusError")) {
			g->error_is_spb = 1;
			g->status_error_s = g->status_s = U;
			got[GOFF_GRPC] = true;
		}
	}
	dwarf_end(c.dw);
}

/* ------------------------------------------------------------------------------------------------ */
/* tables (measured here; see provenance strings)                                                   */

/* One row per Go minor version, declared to cover the minor's patch releases (they carry security and
 * critical fixes only); each row was measured with one toolchain (measured_at). A patch release that
 * moved one of these fields would not be caught by the runtime validation (it only runs for "nearest"):
 * docs/go-introspection.md, "Provenance". Go 1.27 moved the server to net/http/internal/http2. */
#define GO_PROV(v, pkg)                                                                                       \
	"measured from DWARF of a program built here with " v " (Debian " pkg ") by scripts/gen-go-offsets.sh"
/* net/http (HTTP/1 + bundled http2) by Go minor version. */
struct go_entry {
	int minor;
	struct kp_http1_offsets h1;
	struct kp_h2_offsets h2b;
	const char *prov;
	const char *measured_at;
};

static const struct go_entry go_table[] = {
	/* go1.19.8, measured by scripts/gen-go-offsets.sh */
	{ 19,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 232,
	    .request_remote_addr = 176, .response_handler_header = 88 },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 168, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 80,
	    .rws_wrote_bytes = 104, .rws_sent_content_len = 96, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = 40 },
	  GO_PROV("go1.19.8", "golang-1.19-go 1.19.8-2"), "go1.19.8" },
	/* go1.21.13, measured by scripts/gen-go-offsets.sh */
	{ 21,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 232,
	    .request_remote_addr = 176, .response_handler_header = U },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = U },
	  GO_PROV("go1.21.13", "bookworm-backports golang-1.21-go"), "go1.21.13" },
	/* go1.22.12, measured by scripts/gen-go-offsets.sh */
	{ 22,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 232,
	    .request_remote_addr = 176, .response_handler_header = U },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = U },
	  GO_PROV("go1.22.12", "bookworm-backports golang-1.22-go"), "go1.22.12" },
	/* go1.23.5, measured by scripts/gen-go-offsets.sh */
	{ 23,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 248,
	    .request_remote_addr = 176, .response_handler_header = U },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = U },
	  GO_PROV("go1.23.5", "bookworm-backports golang-1.23-go"), "go1.23.5" },
	/* go1.24.4, measured by scripts/gen-go-offsets.sh */
	{ 24,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 248,
	    .request_remote_addr = 176, .response_handler_header = U },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = U },
	  GO_PROV("go1.24.4", "trixie golang-1.24-go"), "go1.24.4" },
	/* go1.26.10, measured by scripts/gen-go-offsets.sh */
	{ 26,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 248,
	    .request_remote_addr = 176, .response_handler_header = U },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 64, .stream_ctx = 40, .rws_handler_header = U },
	  GO_PROV("go1.26.10", "sid golang-1.26-go"), "go1.26.10" },
	/* go1.27.3, measured by scripts/gen-go-offsets.sh */
	{ 27,
	  { .response_conn = 0, .response_req = 8, .response_status = 128, .response_written = 112,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 248,
	    .request_remote_addr = 176, .response_handler_header = U },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 168, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 240,
	    .rws_wrote_bytes = 264, .rws_sent_content_len = 256, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 64, .stream_ctx = 40, .rws_handler_header = U },
	  GO_PROV("go1.27.3", "sid golang-1.27-go"), "go1.27.3" },
};

/* golang.org/x/net and google.golang.org/grpc by module version (scripts/gen-module-offsets.sh prints
 * these rows). Sorted by version. go_era: minor of the Go toolchain the row was measured with (the
 * suite's default Go: bookworm 1.19, trixie 1.24, sid 1.26; the k8s 1.20.2 vendor tree with the
 * testbed's 1.19); it picks the row for GOPATH builds, which carry no module versions. */
struct mod_entry {
	const char *version;
	int go_era;
	struct kp_h2_offsets h2;
	const char *prov;
};

static const struct mod_entry xnet_table[] = {
	/* xnet_table row, set k8s-1.20.2, go1.19.8 */
	{ "v0.0.0-20201110031124-69a78807bb2b", 19,
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 168, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 80,
	    .rws_wrote_bytes = 104, .rws_sent_content_len = 96, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = 40 },
	  "measured from DWARF of a go1.19.8 GOPATH program built here against golang.org/x/net "
	  "v0.0.0-20201110031124-69a78807bb2b (set k8s-1.20.2: genproto v0.0.0-20201110150050-8816d57aaa9a, "
	  "google.golang.org/protobuf v1.25.0, github.com/golang/protobuf v1.4.3 (kubernetes v1.20.2 "
	  "vendor/modules.txt)) by scripts/gen-module-offsets.sh" },
	/* xnet_table row, set bookworm, go1.19.8 */
	{ "v0.7.0", 19,
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = U },
	  "measured from DWARF of a go1.19.8 GOPATH program built here against golang.org/x/net v0.7.0 (set "
	  "bookworm: Debian bookworm golang-golang-x-net-dev 1:0.7.0+dfsg-1, golang-google-grpc-dev 1.33.3-2, "
	  "golang-google-genproto-dev 0.0~git20200413.b5235f6-3, golang-google-protobuf-dev 1.28.1-3, "
	  "golang-github-golang-protobuf-1-5-dev 1.5.2-3) by scripts/gen-module-offsets.sh" },
	/* xnet_table row, set trixie, go1.24.4 */
	{ "v0.27.0", 24,
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32, .rws_handler_header = U },
	  "measured from DWARF of a go1.24.4 GOPATH program built here against golang.org/x/net v0.27.0 (set "
	  "trixie: Debian trixie golang-golang-x-net-dev 1:0.27.0-2, golang-google-grpc-dev 1.64.0-7, "
	  "golang-google-genproto-dev 0.0~git20210726.e7812ac-4, golang-google-protobuf-dev 1.36.5-1, "
	  "golang-github-golang-protobuf-1-5-dev 1.5.4-1) by scripts/gen-module-offsets.sh" },
	/* xnet_table row, set sid, go1.26.10 */
	{ "v0.62.0", 26,
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 64, .stream_ctx = 40, .rws_handler_header = U },
	  "measured from DWARF of a go1.26.10 GOPATH program built here against golang.org/x/net v0.62.0 (set "
	  "sid: Debian sid golang-golang-x-net-dev 1:0.62.0-1, golang-google-grpc-dev 1.81.1-1, "
	  "golang-google-genproto-dev 0.0~git20260414.afd174a-2, golang-google-protobuf-dev 1.36.10-2, "
	  "golang-github-golang-protobuf-1-5-dev 1.5.4-2) by scripts/gen-module-offsets.sh" },
};

struct grpc_entry {
	const char *version;
	int go_era;
	struct kp_grpc_offsets g;
	const char *prov;
};

static const struct grpc_entry grpc_table[] = {
	/* grpc_table row, set k8s-1.20.2, go1.19.8:
	 * status.statusError is spb.Status;
	 * Invoke error *status.statusError code 14 read through these offsets */
	{ "v1.27.1", 19,
	  { .status_error_s = U, .status_s = U, .spb_status_code = 40, ._pad = 0, .error_is_spb = 1,
	    .stream_method = 72, .stream_ctx = 32, .cs_attempt = 224, .attempt_parser = 32, .parser_header = 16,
	    .range_resp_kvs = U, .range_resp_more = U, .range_resp_count = U },
	  "measured from DWARF of a go1.19.8 GOPATH program built here against google.golang.org/grpc v1.27.1 "
	  "(set k8s-1.20.2: genproto v0.0.0-20201110150050-8816d57aaa9a, google.golang.org/protobuf v1.25.0, "
	  "github.com/golang/protobuf v1.4.3 (kubernetes v1.20.2 vendor/modules.txt)) by "
	  "scripts/gen-module-offsets.sh" },
	/* grpc_table row, set bookworm, go1.19.8:
	 * internal/status.Error{e *google.golang.org/genproto/googleapis/rpc/status.Status @0};
	 * Invoke error *status.Error code 14 read through these offsets */
	{ "v1.33.3", 19,
	  { .status_error_s = 0, .status_s = U, .spb_status_code = 0, ._pad = 0, .error_is_spb = 0,
	    .stream_method = 72, .stream_ctx = 32,
	    /* not measured for this version: the response size of non-Range calls is not read */
	    .cs_attempt = U, .attempt_parser = U, .parser_header = U,
	    .range_resp_kvs = U, .range_resp_more = U, .range_resp_count = U },
	  "measured from DWARF of a go1.19.8 GOPATH program built here against google.golang.org/grpc v1.33.3 "
	  "(set bookworm: Debian bookworm golang-golang-x-net-dev 1:0.7.0+dfsg-1, golang-google-grpc-dev "
	  "1.33.3-2, golang-google-genproto-dev 0.0~git20200413.b5235f6-3, golang-google-protobuf-dev "
	  "1.28.1-3, golang-github-golang-protobuf-1-5-dev 1.5.2-3) by scripts/gen-module-offsets.sh" },
	/* grpc_table row, set trixie, go1.24.4:
	 * internal/status.Error{s *google.golang.org/grpc/internal/status.Status @0} -> Status{s *google.golang.org/genproto/googleapis/rpc/status.Status @0};
	 * Invoke error *status.Error code 14 read through these offsets */
	{ "v1.64.0", 24,
	  { .status_error_s = 0, .status_s = 0, .spb_status_code = 40, ._pad = 0, .error_is_spb = 0,
	    .stream_method = 80, .stream_ctx = 32,
	    /* not measured for this version: the response size of non-Range calls is not read */
	    .cs_attempt = U, .attempt_parser = U, .parser_header = U,
	    .range_resp_kvs = U, .range_resp_more = U, .range_resp_count = U },
	  "measured from DWARF of a go1.24.4 GOPATH program built here against google.golang.org/grpc v1.64.0 "
	  "(set trixie: Debian trixie golang-golang-x-net-dev 1:0.27.0-2, golang-google-grpc-dev 1.64.0-7, "
	  "golang-google-genproto-dev 0.0~git20210726.e7812ac-4, golang-google-protobuf-dev 1.36.5-1, "
	  "golang-github-golang-protobuf-1-5-dev 1.5.4-1) by scripts/gen-module-offsets.sh" },
	/* grpc_table row, set sid, go1.26.10:
	 * internal/status.Error{s *google.golang.org/grpc/internal/status.Status @0} -> Status{s *google.golang.org/genproto/googleapis/rpc/status.Status @0};
	 * Invoke error *status.Error code 14 read through these offsets; transport.ClientStream embeds Stream at 0 */
	{ "v1.81.1", 26,
	  { .status_error_s = 0, .status_s = 0, .spb_status_code = 40, ._pad = 0, .error_is_spb = 0,
	    .stream_method = 16, .stream_ctx = 0,
	    /* not measured for this version: the response size of non-Range calls is not read */
	    .cs_attempt = U, .attempt_parser = U, .parser_header = U,
	    .range_resp_kvs = U, .range_resp_more = U, .range_resp_count = U },
	  "measured from DWARF of a go1.26.10 GOPATH program built here against google.golang.org/grpc v1.81.1 "
	  "(set sid: Debian sid golang-golang-x-net-dev 1:0.62.0-1, golang-google-grpc-dev 1.81.1-1, "
	  "golang-google-genproto-dev 0.0~git20260414.afd174a-2, golang-google-protobuf-dev 1.36.10-2, "
	  "golang-github-golang-protobuf-1-5-dev 1.5.4-2) by scripts/gen-module-offsets.sh" },
};

/* spb.Status.Code depends on how genproto's googleapis/rpc/status was generated, not on grpc: the
 * golang/protobuf v1 generator puts Code first (XXX_ fields last); google.golang.org/protobuf's puts
 * state, sizeCache, unknownFields first. The binary says which: only the latter generator emits a
 * ProtoReflect method, only the former XXX_Unmarshal (checked on kube-apiserver 1.20.2, Debian's etcd
 * and the programs of scripts/gen-module-offsets.sh, stripped or not: methods reached through
 * interfaces stay in pclntab). */
static const char spb_status_pkg[] = "google.golang.org/genproto/googleapis/rpc/status.";
static const struct {
	const char *method;
	const char *what;
	kp_off_t code;
	const char *prov;
} spb_gen_table[] = {
	{ "(*Status).ProtoReflect", "google.golang.org/protobuf-generated spb.Status", 40,
	  "measured from DWARF by scripts/gen-module-offsets.sh: genproto of kubernetes v1.20.2 "
	  "(v0.0.0-20201110150050-8816d57aaa9a), Debian trixie 0.0~git20210726.e7812ac-4 and sid "
	  "0.0~git20260414.afd174a-2 (protoc-gen-go v1.25/v1.26 output)" },
	{ "(*Status).XXX_Unmarshal", "golang/protobuf v1-generated spb.Status", 0,
	  "measured from DWARF by scripts/gen-module-offsets.sh: Debian bookworm genproto "
	  "0.0~git20200413.b5235f6-3 (golang/protobuf v1 protoc-gen-go output); Debian's etcd agrees" },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- semantic versions (Go module flavour) ---- */

struct semver {
	unsigned long num[3];
	const char *pre; /* after '-', up to '+' or end; NULL = release */
	size_t prelen;
};

static bool semver_parse(const char *s, struct semver *v)
{
	memset(v, 0, sizeof(*v));
	if (!s || *s != 'v')
		return false;
	s++;
	for (int i = 0; i < 3; i++) {
		char *end;

		if (*s < '0' || *s > '9')
			return false;
		v->num[i] = strtoul(s, &end, 10);
		s = end;
		if (i < 2) {
			if (*s != '.')
				return false;
			s++;
		}
	}
	if (*s == '-') {
		v->pre = ++s;
		v->prelen = strcspn(s, "+");
		s += v->prelen;
	}
	return *s == '\0' || *s == '+';
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* SemVer 2.0 precedence of pre-release identifiers (dot-separated; numeric < alphanumeric). */
static int pre_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	while (al && bl) {
		size_t an = strcspn(a, "."), bn = strcspn(b, ".");
		int c;

		if (an > al)
			an = al;
		if (bn > bl)
			bn = bl;
		bool ad = all_digits(a, an), bd = all_digits(b, bn);
		if (ad && bd) {
			/* compare numerically without overflow: strip leading zeros, longer is bigger */
			while (an > 1 && *a == '0')
				a++, an--, al--;
			while (bn > 1 && *b == '0')
				b++, bn--, bl--;
			c = an != bn ? (an < bn ? -1 : 1) : memcmp(a, b, an);
		} else if (ad != bd) {
			c = ad ? -1 : 1;
		} else {
			c = memcmp(a, b, an < bn ? an : bn);
			if (!c && an != bn)
				c = an < bn ? -1 : 1;
		}
		if (c)
			return c < 0 ? -1 : 1;
		a += an, al -= an, b += bn, bl -= bn;
		if (al && *a == '.')
			a++, al--;
		if (bl && *b == '.')
			b++, bl--;
	}
	return al ? 1 : bl ? -1 : 0;
}

int goff_semver_cmp(const char *a, const char *b)
{
	struct semver x, y;
	bool px = semver_parse(a, &x), py = semver_parse(b, &y);

	if (!px || !py) /* invalid sorts first, then plain strcmp */
		return px != py ? (px ? 1 : -1) : (a && b ? (strcmp(a, b) > 0) - (strcmp(a, b) < 0) : 0);
	for (int i = 0; i < 3; i++)
		if (x.num[i] != y.num[i])
			return x.num[i] < y.num[i] ? -1 : 1;
	if (!x.pre || !y.pre)
		return x.pre ? -1 : y.pre ? 1 : 0; /* a pre-release precedes its release */
	return pre_cmp(x.pre, x.prelen, y.pre, y.prelen);
}

/* Distance for "nearest": major/minor/patch as one number (pre-releases and pseudo-versions count as
 * their base version; ties go to the older entry). */
static double semver_key(const char *s)
{
	struct semver v;

	if (!semver_parse(s, &v))
		return 0;
	return (double)v.num[0] * 1e6 + (double)(v.num[1] < 999 ? v.num[1] : 999) * 1e3 +
	       (double)(v.num[2] < 999 ? v.num[2] : 999);
}

/* Index of the entry for version (exact, else nearest by semver order), or for a GOPATH build
 * (version NULL) by Go era: the newest era <= go_minor (the oldest entry of that era when go_minor
 * equals it, the newest when the binary's Go is newer); go_minor older than every era (or unknown,
 * < 0) -> entry 0. versions[] must be sorted ascending. */
static size_t pick(const char *const *versions, const int *eras, size_t n, const char *version, int go_minor,
		   enum goff_source *src)
{
	if (version) {
		size_t floor = n, ceil = n;

		for (size_t i = 0; i < n; i++) {
			int c = goff_semver_cmp(versions[i], version);

			if (c == 0) {
				*src = GOFF_MEASURED;
				return i;
			}
			if (c < 0)
				floor = i;
			else if (ceil == n)
				ceil = i;
		}
		*src = GOFF_NEAREST;
		if (floor == n)
			return ceil == n ? 0 : ceil;
		if (ceil == n)
			return floor;
		double k = semver_key(version), df = k - semver_key(versions[floor]), dc = semver_key(versions[ceil]) - k;
		return dc < df ? ceil : floor;
	}
	*src = GOFF_NEAREST;
	int best = -1;
	for (size_t i = 0; i < n; i++)
		if (go_minor >= 0 && eras[i] <= go_minor && eras[i] > best)
			best = eras[i];
	if (best < 0)
		return 0;
	size_t use = n;
	for (size_t i = 0; i < n; i++) {
		if (eras[i] != best)
			continue;
		if (use == n || go_minor > best) /* first (oldest) of the era, or the newest when Go is newer */
			use = i;
	}
	return use;
}

static const char *const *xnet_versions(int **eras, size_t *n)
{
	static const char *v[ARRAY_SIZE(xnet_table)];
	static int e[ARRAY_SIZE(xnet_table)];

	for (size_t i = 0; i < ARRAY_SIZE(xnet_table); i++)
		v[i] = xnet_table[i].version, e[i] = xnet_table[i].go_era;
	*eras = e;
	*n = ARRAY_SIZE(xnet_table);
	return v;
}

static const char *const *grpc_versions(int **eras, size_t *n)
{
	static const char *v[ARRAY_SIZE(grpc_table)];
	static int e[ARRAY_SIZE(grpc_table)];

	for (size_t i = 0; i < ARRAY_SIZE(grpc_table); i++)
		v[i] = grpc_table[i].version, e[i] = grpc_table[i].go_era;
	*eras = e;
	*n = ARRAY_SIZE(grpc_table);
	return v;
}

static bool is_grpc(const char *lib)
{
	return lib && !strcmp(lib, "google.golang.org/grpc");
}

size_t goff_module_table(const char *lib, const char **versions, size_t max)
{
	int *eras;
	size_t n;
	const char *const *v = is_grpc(lib) ? grpc_versions(&eras, &n) : xnet_versions(&eras, &n);

	for (size_t i = 0; i < n && i < max; i++)
		versions[i] = v[i];
	return n;
}

const char *goff_module_pick(const char *lib, const char *version, int go_minor, bool *exact)
{
	int *eras;
	size_t n;
	enum goff_source src;
	const char *const *v = is_grpc(lib) ? grpc_versions(&eras, &n) : xnet_versions(&eras, &n);
	size_t i = pick(v, eras, n, version, go_minor, &src);

	if (exact)
		*exact = src == GOFF_MEASURED;
	return v[i];
}

static void count_all(struct go_offsets *o);

static void set_info(struct goff_group_info *gi, enum goff_source s, const char *prov, const char *fmt,
		     const char *a, const char *b)
{
	gi->source = s;
	gi->provenance = prov;
	snprintf(gi->basis, sizeof(gi->basis), fmt, a, b);
}

static int go_minor_of(const struct go_binary *b)
{
	int maj, min, pat;

	return gobin_go_version_num(b, &maj, &min, &pat) && maj == 1 ? min : -1;
}

static void module_basis(struct goff_group_info *gi, enum goff_source src, const char *lib, const char *v,
			 const char *use, int go_minor, int era, const char *prov, bool module_build)
{
	const char *why = module_build ? "not a dependency of this module build" : "version unknown (GOPATH build";

	gi->source = src;
	gi->provenance = prov;
	if (src == GOFF_MEASURED)
		snprintf(gi->basis, sizeof(gi->basis), "%s %s", lib, v);
	else if (v)
		snprintf(gi->basis, sizeof(gi->basis), "%s %s not in table -> nearest known %s", lib, v, use);
	else if (go_minor >= 0)
		snprintf(gi->basis, sizeof(gi->basis), "%s %s%sgo1.%d) -> %s (go1.%d era)", lib, why,
			 module_build ? " (" : ", ", go_minor, use, era);
	else
		snprintf(gi->basis, sizeof(gi->basis), "%s %s%sGo version unknown) -> %s", lib, why,
			 module_build ? " (" : ", ", use);
}

/* GOPATH builds carry no module versions. A known release build is recognised by its main package and
 * the version its release scripts stamp with -ldflags -X (recorded in the buildinfo's "build -ldflags="
 * line since Go 1.18); its vendored versions are that release's vendor/modules.txt. A build that replaced
 * x/net or grpc in its vendor tree would be misidentified: say so in the docs, not silently. */
static const struct vendor_set {
	const char *main_prefix; /* "path" line of the buildinfo */
	const char *stamp;       /* -X symbol suffix whose value is the release */
	const char *release;
	const char *xnet, *grpc;
	const char *facts;
} vendor_sets[] = {
	{ "k8s.io/kubernetes/cmd/", "k8s.io/component-base/version.gitVersion=", "v1.20.2",
	  "v0.0.0-20201110031124-69a78807bb2b", "v1.27.1",
	  "kubernetes v1.20.2 vendor/modules.txt (Debian's kubernetes_1.20.5+really1.20.2 source package, "
	  "the tree scripts/build-apiserver.sh builds)" },
};

static bool line_value(const char *modinfo, const char *key, const char **v, size_t *len)
{
	size_t kl = strlen(key);

	for (const char *l = modinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl)) {
			*v = l + kl;
			*len = strcspn(*v, "\n");
			return true;
		}
	}
	return false;
}

const char *goff_vendored_version(const char *modinfo, const char *lib, const char **release)
{
	const char *path, *ld;
	size_t plen, ldlen;

	if (release)
		*release = NULL;
	if (!modinfo || !lib || !line_value(modinfo, "path\t", &path, &plen) ||
	    !line_value(modinfo, "build\t-ldflags=", &ld, &ldlen))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(vendor_sets); i++) {
		const struct vendor_set *s = &vendor_sets[i];
		size_t mp = strlen(s->main_prefix), sl = strlen(s->stamp), rl = strlen(s->release);

		if (plen < mp || strncmp(path, s->main_prefix, mp))
			continue;
		for (const char *p = ld; p + sl + rl <= ld + ldlen; p++) {
			/* the stamp, as the symbol's suffix (after '/' or the -X quote), then exactly the release */
			if (memcmp(p, s->stamp, sl) || (p > ld && p[-1] != '/' && p[-1] != '\'' && p[-1] != ' '))
				continue;
			if (memcmp(p + sl, s->release, rl) || (p + sl + rl < ld + ldlen && !strchr("' \"", p[sl + rl])))
				continue;
			if (release)
				*release = s->facts;
			return !strcmp(lib, "golang.org/x/net") ? s->xnet : is_grpc(lib) ? s->grpc : NULL;
		}
	}
	return NULL;
}

/* The module version of lib in b: from the buildinfo (module builds), else from a known vendor set
 * (GOPATH release builds; *vendored = the set's facts), else NULL. */
static const char *module_version(const struct go_binary *b, const char *lib, const char **vendored)
{
	const char *v = gobin_module_version(b, lib);

	*vendored = NULL;
	return v ? v : goff_vendored_version(gobin_modinfo(b), lib, vendored);
}

static void vendored_basis(struct goff_group_info *gi, const char *vendored)
{
	size_t l = strlen(gi->basis);

	if (vendored)
		snprintf(gi->basis + l, sizeof(gi->basis) - l, " (GOPATH build; vendored: %s)", vendored);
}

static void fill_xnet_table(const struct go_binary *b, struct go_offsets *o)
{
	const char *vendored, *v = module_version(b, "golang.org/x/net", &vendored);
	int *eras, gm = go_minor_of(b);
	size_t n;
	enum goff_source src;
	const char *const *vers = xnet_versions(&eras, &n);
	const struct mod_entry *use = &xnet_table[pick(vers, eras, n, v, gm, &src)];

	o->h2x = use->h2;
	module_basis(&o->info[GOFF_H2X], src, "golang.org/x/net", v, use->version, gm, use->go_era, use->prov,
		     gobin_main_module(b) && *gobin_main_module(b));
	vendored_basis(&o->info[GOFF_H2X], vendored);
}

static void fill_grpc_table(const struct go_binary *b, struct go_offsets *o)
{
	const char *vendored, *v = module_version(b, "google.golang.org/grpc", &vendored);
	int *eras, gm = go_minor_of(b);
	size_t n;
	enum goff_source src;
	const char *const *vers = grpc_versions(&eras, &n);
	const struct grpc_entry *use = &grpc_table[pick(vers, eras, n, v, gm, &src)];
	struct goff_group_info *gi = &o->info[GOFF_GRPC];

	o->grpc = use->g;
	module_basis(gi, src, "google.golang.org/grpc", v, use->version, gm, use->go_era, use->prov,
		     gobin_main_module(b) && *gobin_main_module(b));
	vendored_basis(gi, vendored);
	/* spb.Status.Code from the generator the binary's own methods reveal */
	for (size_t i = 0; i < ARRAY_SIZE(spb_gen_table); i++) {
		char fn[128];

		snprintf(fn, sizeof(fn), "%s%s", spb_status_pkg, spb_gen_table[i].method);
		if (!gobin_find_func(b, fn))
			continue;
		o->grpc.spb_status_code = spb_gen_table[i].code;
		size_t l = strlen(gi->basis);
		snprintf(gi->basis + l, sizeof(gi->basis) - l, "; spb.Status.Code %u (%s)", spb_gen_table[i].code,
			 spb_gen_table[i].method);
		break;
	}
}

static void fill_go_table(const struct go_binary *b, struct go_offsets *o, bool need_h1, bool need_h2b)
{
	int maj = -1, min = -1, pat = -1; /* -1 = unknown: gobin_go_version_num leaves them unset */
	const struct go_entry *e = NULL, *near = NULL;
	char ver[32];

	if (gobin_go_version_num(b, &maj, &min, &pat) && maj == 1) {
		for (size_t i = 0; i < ARRAY_SIZE(go_table); i++) {
			int d = go_table[i].minor - min, bd = near ? near->minor - min : 0;

			if (go_table[i].minor == min)
				e = &go_table[i];
			if (!near || (d < 0 ? -d : d) < (bd < 0 ? -bd : bd))
				near = &go_table[i];
		}
		snprintf(ver, sizeof(ver), "go1.%d", min);
	} else {
		snprintf(ver, sizeof(ver), "unknown Go version");
		near = &go_table[0];
	}
	const struct go_entry *use = e ? e : near;
	char nv[64];
	if (e)
		snprintf(nv, sizeof(nv), "go1.%d (row measured with %s)", use->minor, use->measured_at);
	else
		snprintf(nv, sizeof(nv), "go1.%d (measured with %s)", use->minor, use->measured_at);
	if (need_h1) {
		o->h1 = use->h1;
		o->h1.map_kind = (min >= 24 && !(gobin_goexperiment(b) && strstr(gobin_goexperiment(b), "noswissmap")))
				       ? 1 : 0;
		if (e)
			set_info(&o->info[GOFF_H1], GOFF_MEASURED, use->prov, "%s%s", nv, "");
		else
			set_info(&o->info[GOFF_H1], GOFF_NEAREST, use->prov, "%s -> nearest known %s", ver, nv);
	}
	if (need_h2b) {
		o->h2b = use->h2b;
		if (e)
			set_info(&o->info[GOFF_H2B], GOFF_MEASURED, use->prov, "%s%s", nv, "");
		else
			set_info(&o->info[GOFF_H2B], GOFF_NEAREST, use->prov, "%s -> nearest known %s", ver, nv);
	}
}

int goff_force_row(struct go_offsets *o, enum goff_group g, const char *version)
{
	int minor;
	char tail;

	if (!o || !version)
		return -EINVAL;
	if (g == GOFF_H2X || g == GOFF_GRPC) {
		for (size_t i = 0; g == GOFF_H2X && i < ARRAY_SIZE(xnet_table); i++)
			if (!strcmp(xnet_table[i].version, version)) {
				o->h2x = xnet_table[i].h2;
				goto forced;
			}
		for (size_t i = 0; g == GOFF_GRPC && i < ARRAY_SIZE(grpc_table); i++)
			if (!strcmp(grpc_table[i].version, version)) {
				o->grpc = grpc_table[i].g;
				goto forced;
			}
		return -ENOENT;
	}
	if ((g != GOFF_H1 && g != GOFF_H2B) || sscanf(version, "go1.%d%c", &minor, &tail) != 1)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(go_table); i++)
		if (go_table[i].minor == minor) {
			uint8_t mk = o->h1.map_kind;

			if (g == GOFF_H1)
				o->h1 = go_table[i].h1, o->h1.map_kind = mk;
			else
				o->h2b = go_table[i].h2b;
			goto forced;
		}
	return -ENOENT;
forced:
	o->info[g].source = GOFF_NEAREST;
	o->info[g].provenance = NULL;
	snprintf(o->info[g].basis, sizeof(o->info[g].basis),
		 "TEST ONLY: row %s forced by KAPIMON_TEST_OFFSETS, whatever the binary is", version);
	count_all(o);
	return 0;
}

static void count_all(struct go_offsets *o)
{
	for (int g = 0; g < GOFF__NGROUPS; g++) {
		struct goff_field f[16];
		size_t n = goff_fields(o, (enum goff_group)g, f, 16);
		kp_off_t *p[16];

		for (size_t i = 0; i < n; i++)
			p[i] = f[i].val;
		o->info[g].total = (unsigned)n;
		o->info[g].known = count_known(p, n);
	}
}

int go_offsets_fill(const struct go_binary *b, unsigned flags, struct go_offsets *o)
{
	bool got[GOFF__NGROUPS] = { 0 };

	if (!b || !o)
		return -EINVAL;
	memset(&o->h2x, 0xff, sizeof(o->h2x));
	memset(&o->h2b, 0xff, sizeof(o->h2b));
	memset(&o->h1, 0xff, sizeof(o->h1));
	memset(&o->grpc, 0xff, sizeof(o->grpc));
	memset(o->info, 0, sizeof(o->info));
	o->h1._pad = 0;
	o->grpc._pad = 0;

	if (!(flags & GOFF_NO_DWARF) && gobin_has_dwarf(b) && gobin_elf(b)) {
		dwarf_fill(gobin_elf(b), o, got);
		for (int g = 0; g < GOFF__NGROUPS; g++)
			if (got[g])
				set_info(&o->info[g], GOFF_DWARF, NULL, "struct member offsets from DWARF%s%s", "", "");
		if (got[GOFF_H1]) {
			int maj, min, pat;
			bool v = gobin_go_version_num(b, &maj, &min, &pat);
			o->h1.map_kind = v && min >= 24 &&
						 !(gobin_goexperiment(b) && strstr(gobin_goexperiment(b), "noswissmap"))
					 ? 1 : 0;
		}
	}
	if (!got[GOFF_H1] || !got[GOFF_H2B])
		fill_go_table(b, o, !got[GOFF_H1], !got[GOFF_H2B]);
	if (!got[GOFF_H2X])
		fill_xnet_table(b, o);
	if (!got[GOFF_GRPC])
		fill_grpc_table(b, o);
	count_all(o);
	return 0;
}
