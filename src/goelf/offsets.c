// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Go struct field offsets: DWARF (libdw) first, then a table keyed by versions, then a fallback.
 * Every table value below was measured here from DWARF of Go programs built with Debian's Go 1.19.8
 * (see docs/go-introspection.md for the commands); nothing is copied from other projects.
 */
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "goelf/offsets.h"

#define U KP_OFF_UNKNOWN

const char *goff_source_name(enum goff_source s)
{
	switch (s) {
	case GOFF_DWARF: return "dwarf";
	case GOFF_TABLE: return "table";
	case GOFF_FALLBACK: return "fallback";
	default: return "none";
	}
}

const char *goff_group_name(enum goff_group g)
{
	static const char *n[] = { "h2-xnet", "h2-bundled", "http1", "grpc" };

	return (unsigned)g < GOFF__NGROUPS ? n[g] : "?";
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
};

static kp_off_t *h2_field(struct kp_h2_offsets *h, size_t i)
{
	kp_off_t *f[] = { &h->meta_headers_frame_fields, &h->headers_frame_stream_id, &h->header_field_size,
			  &h->server_conn_remote_addr, &h->response_writer_rws, &h->rws_stream, &h->rws_status,
			  &h->rws_wrote_bytes, &h->rws_sent_content_len, &h->stream_sc, &h->stream_id,
			  &h->stream_body_bytes, &h->stream_ctx };
	return i < sizeof(f) / sizeof(f[0]) ? f[i] : NULL;
}

static kp_off_t *h1_field(struct kp_http1_offsets *h, size_t i)
{
	kp_off_t *f[] = { &h->response_conn, &h->response_req, &h->response_status, &h->response_written,
			  &h->conn_remote_addr, &h->request_method, &h->request_header,
			  &h->request_content_length, &h->request_request_uri, &h->request_proto_major,
			  &h->request_ctx };
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
static const char *const hpack_xnet = "golang.org/x/net/http2/hpack.HeaderField";
static const char *const hpack_std = "vendor/golang.org/x/net/http2/hpack.HeaderField";

static char h2names[2][NH2][96];

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
	for (int g = 0; g < 2; g++) {
		const char *pre = g == 0 ? h2x_prefix : h2b_prefix;

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
	dw_collect(&c);

	for (int g = 0; g < 2; g++) {
		struct kp_h2_offsets *h = g == 0 ? &o->h2x : &o->h2b;
		kp_off_t *all[NH2];
		bool any = false;

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
			got[g] = true;
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

static const char prov_measured[] =
	"measured from DWARF of a program built here with Debian's golang-1.X-go toolchain "
	"(scripts/gen-go-offsets.sh; 1.21-1.23 from bookworm-backports, 1.24 trixie, 1.26 sid)";
static const char prov_xnet2020[] =
	"measured from DWARF of a Go 1.19.8 program built here against golang.org/x/net "
	"v0.0.0-20201110031124-69a78807bb2b (vendored by kubernetes v1.20.2)";
static const char prov_grpc127[] =
	"measured from DWARF of a Go 1.19.8 program built here against google.golang.org/grpc v1.27.1 "
	"and genproto v0.0.0-20201110150050-8816d57aaa9a (vendored by kubernetes v1.20.2)";

/* net/http (HTTP/1 + bundled http2) by Go minor version. */
struct go_entry {
	int minor;
	struct kp_http1_offsets h1;
	struct kp_h2_offsets h2b;
	const char *prov;
};

static const struct go_entry go_table[] = {
	/* go1.19.8, measured by scripts/gen-go-offsets.sh */
	{ 19,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 232 },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 168, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 80,
	    .rws_wrote_bytes = 104, .rws_sent_content_len = 96, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32 },
	  prov_measured },
	/* go1.21.13, measured by scripts/gen-go-offsets.sh */
	{ 21,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 232 },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32 },
	  prov_measured },
	/* go1.22.12, measured by scripts/gen-go-offsets.sh */
	{ 22,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 232 },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32 },
	  prov_measured },
	/* go1.23.5, measured by scripts/gen-go-offsets.sh */
	{ 23,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 248 },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32 },
	  prov_measured },
	/* go1.24.4, measured by scripts/gen-go-offsets.sh */
	{ 24,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 248 },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32 },
	  prov_measured },
	/* go1.26.10, measured by scripts/gen-go-offsets.sh */
	{ 26,
	  { .response_conn = 0, .response_req = 8, .response_status = 120, .response_written = 104,
	    .conn_remote_addr = 32, .request_method = 0, .request_header = 56, .request_content_length = 88,
	    .request_request_uri = 192, .request_proto_major = 40, .map_kind = 0, .request_ctx = 248 },
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 160, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 72,
	    .rws_wrote_bytes = 96, .rws_sent_content_len = 88, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 64, .stream_ctx = 40 },
	  prov_measured },
};

/* golang.org/x/net by module version. */
struct mod_entry {
	const char *version;
	struct kp_h2_offsets h2;
	const char *prov;
};

static const struct mod_entry xnet_table[] = {
	{ "v0.0.0-20201110031124-69a78807bb2b",
	  { .meta_headers_frame_fields = 8, .headers_frame_stream_id = 8, .header_field_size = 40,
	    .server_conn_remote_addr = 168, .response_writer_rws = 0, .rws_stream = 0, .rws_status = 80,
	    .rws_wrote_bytes = 104, .rws_sent_content_len = 96, .stream_sc = 0, .stream_id = 8,
	    .stream_body_bytes = 56, .stream_ctx = 32 },
	  prov_xnet2020 },
};

struct grpc_entry {
	const char *version;
	struct kp_grpc_offsets g;
	const char *prov;
};

static const struct grpc_entry grpc_table[] = {
	{ "v1.27.1", { .status_error_s = U, .status_s = U, .spb_status_code = 40, ._pad = 0, .error_is_spb = 1,
		       .stream_method = 72, .stream_ctx = 32 },
	  prov_grpc127 },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void set_info(struct goff_group_info *gi, enum goff_source s, const char *prov, const char *fmt,
		     const char *a, const char *b)
{
	gi->source = s;
	gi->provenance = prov;
	snprintf(gi->basis, sizeof(gi->basis), fmt, a, b);
}

static void fill_go_table(const struct go_binary *b, struct go_offsets *o, bool need_h1, bool need_h2b)
{
	int maj, min, pat;
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
	char nv[16];
	snprintf(nv, sizeof(nv), "go1.%d", use->minor);
	if (need_h1) {
		o->h1 = use->h1;
		o->h1.map_kind = (min >= 24 && !(gobin_goexperiment(b) && strstr(gobin_goexperiment(b), "noswissmap")))
				       ? 1 : 0;
		if (e)
			set_info(&o->info[GOFF_H1], GOFF_TABLE, use->prov, "%s%s", nv, "");
		else
			set_info(&o->info[GOFF_H1], GOFF_FALLBACK, use->prov, "%s -> nearest known %s", ver, nv);
	}
	if (need_h2b) {
		o->h2b = use->h2b;
		if (e)
			set_info(&o->info[GOFF_H2B], GOFF_TABLE, use->prov, "%s%s", nv, "");
		else
			set_info(&o->info[GOFF_H2B], GOFF_FALLBACK, use->prov, "%s -> nearest known %s", ver, nv);
	}
}

static void fill_xnet_table(const struct go_binary *b, struct go_offsets *o)
{
	const char *v = gobin_module_version(b, "golang.org/x/net");
	const struct mod_entry *use = &xnet_table[0];

	for (size_t i = 0; v && i < ARRAY_SIZE(xnet_table); i++) {
		if (!strcmp(xnet_table[i].version, v)) {
			o->h2x = xnet_table[i].h2;
			set_info(&o->info[GOFF_H2X], GOFF_TABLE, xnet_table[i].prov, "golang.org/x/net %s%s", v, "");
			return;
		}
	}
	o->h2x = use->h2;
	if (v)
		set_info(&o->info[GOFF_H2X], GOFF_FALLBACK, use->prov,
			 "golang.org/x/net %s not in table -> nearest known %s", v, use->version);
	else
		set_info(&o->info[GOFF_H2X], GOFF_FALLBACK, use->prov,
			 "golang.org/x/net version unknown (GOPATH build%s) -> %s", "", use->version);
}

static void fill_grpc_table(const struct go_binary *b, struct go_offsets *o)
{
	const char *v = gobin_module_version(b, "google.golang.org/grpc");
	const struct grpc_entry *use = &grpc_table[0];

	for (size_t i = 0; v && i < ARRAY_SIZE(grpc_table); i++) {
		if (!strcmp(grpc_table[i].version, v)) {
			o->grpc = grpc_table[i].g;
			set_info(&o->info[GOFF_GRPC], GOFF_TABLE, grpc_table[i].prov, "google.golang.org/grpc %s%s", v, "");
			return;
		}
	}
	o->grpc = use->g;
	if (v)
		set_info(&o->info[GOFF_GRPC], GOFF_FALLBACK, use->prov,
			 "google.golang.org/grpc %s not in table -> nearest known %s", v, use->version);
	else
		set_info(&o->info[GOFF_GRPC], GOFF_FALLBACK, use->prov,
			 "google.golang.org/grpc version unknown (GOPATH build%s) -> %s", "", use->version);
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
