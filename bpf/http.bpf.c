// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Apiserver request capture: two uprobe hits per request and protocol.
 *
 *   HTTP/2  start  (*serverConn).processHeaders entry   decoded :method, :path, user-agent, stream id
 *           end    (*responseWriter).handlerDone entry  status, response bytes, stream id
 *   HTTP/1  start  (*conn).serve's call of ServeHTTP      *response: method, URI, User-Agent, client
 *                  (fallback: (*conn).readRequest RET sites)
 *           end    (*response).finishRequest entry      status, response bytes
 *
 * Both golang.org/x/net/http2 and net/http's bundled copy share one body; each has its own entry
 * program that passes the struct-offset index as a constant (no attach cookies: the
 * bpf_get_attach_cookie helper needs kernel 5.15, and a constant lets the verifier fold it).
 * Start and end are keyed by connection + stream (h2) or by
 * the *response (h1), never by thread or goroutine: the apiserver's handlers hop goroutines.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kapimon/go_offsets.h"
#include "go_read.h"
#include "kp_common.h"
#include "go_map.h"


/* Settings (rodata, set by the loader before load). */
const volatile struct kp_h2_offsets h2_off[2] = {}; /* [0] x/net/http2, [1] net/http bundled */
const volatile struct kp_http1_offsets h1_off = {};
const volatile struct kp_authn_params authn = {};
const volatile __u32 max_header_fields = 32;
/* Header keys looked up in Go header maps (enum kp_hdr; src/plan/headers.c); len 0 = off */
const volatile struct kp_hdr_key hdr_keys[KP_HDR__COUNT] = {};
/* Kubernetes API objects' name and UID (src/plan/k8s_meta.c) */
const volatile struct kp_k8s_offsets k8s_off = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

KP_STAT_MAPS(hits, counters);

/* Scratch for header-map scans (bpf/go_map.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdr_scratch);
} scratch_map SEC(".maps");

/* API Priority and Fairness: the classification the apiserver wrote into the response headers of a
 * request it served (the two UIDs), read at the request's end from the handler's header map h. No
 * extra probe: a few reads in the end programs. Only these two keys are compared (rodata), and only
 * their values are copied. */
static __always_inline void apf_uids(struct kp_req_end *e, const void *h, __u8 map_kind)
{
	struct hdr_scratch *s;
	__u32 zero = 0;
	__u8 len8 = 0;
	__u16 len16;

	e->pl_uid_len = e->fs_uid_len = e->apf_truncated = 0;
	if (!h || !hdr_keys[KP_HDR_APF_PL_UID].len)
		return;
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return;
	hdr_scan(h, map_kind, hdr_keys, KP_HDR_APF_PL_UID, 2, s);
	HDR_COPY_FIRST(s->val[0], e->pl_uid, KP_APF_UID_MAX, &len16, len8, KP_TRUNC_APF_PL);
	e->pl_uid_len = (__u8)len16;
	HDR_COPY_FIRST(s->val[1], e->fs_uid, KP_APF_UID_MAX, &len16, len8, KP_TRUNC_APF_FS);
	e->fs_uid_len = (__u8)len16;
	e->apf_truncated = len8;
}



/* ---- HTTP/2 ---- */

#define NAME_METHOD 0x646f6874656d3aULL /* ":method" little-endian */
#define NAME_PATH 0x687461703aULL       /* ":path" */
#define NAME_UA_LO 0x6567612d72657375ULL /* "user-age" */
#define NAME_UA_HI 0x746eU               /* "nt" */

struct hfield {
	struct go_string name;
	struct go_string value;
};

static __always_inline int h2_headers(struct pt_regs *ctx, __u32 flavor)
{
	const volatile struct kp_h2_offsets *o = &h2_off[flavor & 1];
	const void *sc = (const void *)GO_REG1(ctx);
	const void *mh = (const void *)GO_REG2(ctx); /* *MetaHeadersFrame */
	struct kp_req_start *e;
	struct go_slice fields = {};
	const void *hf;
	__u32 n, i;
	int have_method = 0;

	count(&hits, KP_PROBE_H2_HEADERS);
	if (!sc || !mh || !gate_is_open())
		return 0;
	if (bpf_probe_read_user(&fields, sizeof(fields), (const char *)mh + o->meta_headers_frame_fields))
		goto fail;
	hf = read_ptr(mh, 0); /* MetaHeadersFrame embeds *HeadersFrame first */

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_REQ_START, GO_G(ctx));
	e->conn = (__u64)sc;
	e->stream_id = read_u32(hf, o->headers_frame_stream_id);
	e->proto = KP_PROTO_H2;
	e->h2_flavor = flavor & 1;
	e->truncated = 0;
	e->method_len = e->path_len = e->ua_len = e->addr_len = 0;
	e->content_length = -1;
	e->authn = 0;
	e->recv_wall = 0;
	e->recv_ext = 0;
	e->recv_found = e->user_found = e->ngroups = e->_pad2 = 0;
	e->user_len = 0;

	n = fields.len > 0 ? (__u32)fields.len : 0;
	for (i = 0; i < 32; i++) {
		struct hfield f = {};
		__u64 w[2] = {};
		__u16 len16;

		if (i >= n || i >= max_header_fields)
			break;
		if (bpf_probe_read_user(&f, sizeof(f), (const char *)fields.ptr + i * o->header_field_size))
			break;
		if (f.name.len != 7 && f.name.len != 5 && f.name.len != 10)
			continue;
		if (bpf_probe_read_user(w, f.name.len & 15, f.name.ptr))
			continue;
		if (f.name.len == 7 && w[0] == NAME_METHOD) {
			COPY_GO_STR(e->method, KP_METHOD_MAX, f.value, &len16, e->truncated, KP_TRUNC_METHOD);
			e->method_len = len16;
			have_method = 1;
		} else if (f.name.len == 5 && w[0] == NAME_PATH) {
			COPY_GO_STR(e->path, KP_PATH_MAX, f.value, &len16, e->truncated, KP_TRUNC_PATH);
			e->path_len = len16;
		} else if (f.name.len == 10 && w[0] == NAME_UA_LO && (w[1] & 0xffff) == NAME_UA_HI) {
			COPY_GO_STR(e->ua, KP_UA_MAX, f.value, &len16, e->truncated, KP_TRUNC_UA);
			e->ua_len = len16;
		}
	}
	if (!have_method) {
		/* trailers or a malformed HEADERS frame: not a new request */
		count(&counters, KP_CNT_NO_METHOD);
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	{
		struct go_string a = read_go_string(sc, o->server_conn_remote_addr);
		__u16 len16;

		COPY_GO_STR(e->addr, KP_ADDR_MAX, a, &len16, e->truncated, KP_TRUNC_ADDR);
		e->addr_len = len16;
	}
	bpf_ringbuf_submit(e, rb_wakeup(&events));
	return 0;
fail:
	count(&counters, KP_CNT_READ_FAIL);
	return 0;
}

/* One entry program per variant; the flavor is the index into h2_off. */
SEC("uprobe")
int h2x_process_headers(struct pt_regs *ctx)
{
	return h2_headers(ctx, 0);
}

SEC("uprobe")
int h2b_process_headers(struct pt_regs *ctx)
{
	return h2_headers(ctx, 1);
}

static __always_inline int h2_done(struct pt_regs *ctx, __u32 flavor)
{
	const volatile struct kp_h2_offsets *o = &h2_off[flavor & 1];
	const void *w = (const void *)GO_REG1(ctx); /* *responseWriter */
	const void *rws, *st;
	struct kp_req_end *e;

	count(&hits, KP_PROBE_H2_DONE);
	rws = read_ptr(w, o->response_writer_rws);
	st = read_ptr(rws, o->rws_stream);
	if (!st) {
		count(&counters, KP_CNT_READ_FAIL);
		return 0;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_REQ_END, GO_G(ctx));
	e->conn = (__u64)read_ptr(st, o->stream_sc);
	e->stream_id = read_u32(st, o->stream_id);
	e->proto = KP_PROTO_H2;
	e->h2_flavor = flavor & 1;
	e->status = (__s64)read_u64(rws, o->rws_status);
	e->bytes_out = OFF_OK(o->rws_wrote_bytes) ? (__s64)read_u64(rws, o->rws_wrote_bytes) : -1;
	e->bytes_in = OFF_OK(o->stream_body_bytes) ? (__s64)read_u64(st, o->stream_body_bytes) : -1;
	e->ctx = OFF_OK(o->stream_ctx) ? read_u64(st, o->stream_ctx + 8) : 0; /* iface data word */
	apf_uids(e, OFF_OK(o->rws_handler_header) ? read_ptr(rws, o->rws_handler_header) : NULL, h1_off.map_kind);
	bpf_ringbuf_submit(e, rb_wakeup(&events));
	return 0;
}

SEC("uprobe")
int h2x_handler_done(struct pt_regs *ctx)
{
	return h2_done(ctx, 0);
}

SEC("uprobe")
int h2b_handler_done(struct pt_regs *ctx)
{
	return h2_done(ctx, 1);
}

/* ---- HTTP/1.x ---- */

/* Method, request target, User-Agent and declared body length of a *http.Request into e. */
static __always_inline void read_request(struct kp_req_start *e, const void *req, struct hdr_scratch *s)
{
	const void *hdrmap;
	struct go_string str;
	__u16 len16;

	e->content_length = OFF_OK(h1_off.request_content_length) ?
				    (__s64)read_u64(req, h1_off.request_content_length) : -1;
	str = read_go_string(req, h1_off.request_method);
	COPY_GO_STR(e->method, KP_METHOD_MAX, str, &len16, e->truncated, KP_TRUNC_METHOD);
	e->method_len = len16;
	str = read_go_string(req, h1_off.request_request_uri);
	COPY_GO_STR(e->path, KP_PATH_MAX, str, &len16, e->truncated, KP_TRUNC_PATH);
	e->path_len = len16;
	hdrmap = read_ptr(req, h1_off.request_header);
	hdr_scan(hdrmap, h1_off.map_kind, hdr_keys, KP_HDR_USER_AGENT, 1, s);
	HDR_COPY_FIRST(s->val[0], e->ua, KP_UA_MAX, &len16, e->truncated, KP_TRUNC_UA);
	e->ua_len = len16;
}

static __always_inline void start_init(struct kp_req_start *e, struct pt_regs *ctx)
{
	fill_hdr(&e->hdr, KP_EV_REQ_START, GO_G(ctx));
	e->stream_id = 0;
	e->h2_flavor = 0;
	e->authn = 0;
	e->truncated = 0;
	e->method_len = e->path_len = e->ua_len = e->addr_len = 0;
	e->recv_wall = 0;
	e->recv_ext = 0;
	e->recv_found = e->user_found = e->ngroups = e->_pad2 = 0;
	e->user_len = 0;
}

static __always_inline int h1_start(struct pt_regs *ctx, int at_call)
{
	/* at_call: at (*conn).serve's CALL of serverHandler.ServeHTTP(sh, w ResponseWriter, req): the
	 * interface's data word, the *response, is in RCX (an emulated CALL: cheap);
	 * !at_call (fallback): at readRequest's RETs, (*response, error) in RAX, RBX/RCX (single-stepped) */
	__u64 ax = GO_REG1(ctx), cx = GO_REG3(ctx);
	const void *w;
	const void *req, *c;
	struct kp_req_start *e;
	struct hdr_scratch *s;
	struct go_string str;
	__u32 zero = 0;
	__u16 len16;

	__asm__ volatile("" : "+r"(ax), "+r"(cx));
	w = (const void *)(at_call ? cx : ax);
	count(&hits, KP_PROBE_H1_START);
	if (!w || !gate_is_open())
		return 0; /* error return (no request), or a paused sampling window */
	req = read_ptr(w, h1_off.response_req);
	c = read_ptr(w, h1_off.response_conn);
	if (!req) {
		count(&counters, KP_CNT_READ_FAIL);
		return 0;
	}
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return 0;
	}
	start_init(e, ctx);
	e->conn = (__u64)w;
	e->proto = KP_PROTO_H1;
	read_request(e, req, s);
	str = read_go_string(c, h1_off.conn_remote_addr);
	COPY_GO_STR(e->addr, KP_ADDR_MAX, str, &len16, e->truncated, KP_TRUNC_ADDR);
	e->addr_len = len16;
	bpf_ringbuf_submit(e, rb_wakeup(&events));
	return 0;
}

/* Request start at the call of ServeHTTP (the usual site) */
SEC("uprobe")
int h1_serve_call(struct pt_regs *ctx)
{
	return h1_start(ctx, 1);
}

/* Request start at readRequest's RETs (fallback when the call site is not found) */
SEC("uprobe")
int h1_read_request_ret(struct pt_regs *ctx)
{
	return h1_start(ctx, 0);
}

SEC("uprobe")
int h1_finish_request(struct pt_regs *ctx)
{
	const void *w = (const void *)GO_REG1(ctx); /* *response */
	struct kp_req_end *e;

	count(&hits, KP_PROBE_H1_DONE);
	if (!w)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_REQ_END, GO_G(ctx));
	e->conn = (__u64)w;
	e->stream_id = 0;
	e->proto = KP_PROTO_H1;
	e->h2_flavor = 0;
	e->status = (__s64)read_u64(w, h1_off.response_status);
	e->bytes_out = OFF_OK(h1_off.response_written) ? (__s64)read_u64(w, h1_off.response_written) : -1;
	e->bytes_in = -1;
	e->ctx = OFF_OK(h1_off.request_ctx) ?
			 read_u64(read_ptr(w, h1_off.response_req), h1_off.request_ctx + 8) : 0;
	apf_uids(e, OFF_OK(h1_off.response_handler_header) ? read_ptr(w, h1_off.response_handler_header) : NULL,
		 h1_off.map_kind);
	bpf_ringbuf_submit(e, rb_wakeup(&events));
	return 0;
}

/* ---- API Priority and Fairness rejections (kube-apiserver only; rare: two hits per 429) ---- */

/* k8s.io/apiserver/pkg/util/flowcontrol/metrics.AddReject(priorityLevel, flowSchema, reason string):
 * three strings in RAX/RBX, RCX/RDI, RSI/R8. On the rejected request's goroutine. */
SEC("uprobe")
int apf_add_reject(struct pt_regs *ctx)
{
	__u64 r1 = GO_REG1(ctx), r2 = GO_REG2(ctx), r3 = GO_REG3(ctx), r4 = GO_REG4(ctx), r5 = GO_REG5(ctx),
	      r6 = GO_REG6(ctx);
	struct go_string pl, fs, why;
	struct kp_apf_reject *e;
	__u16 len16;

	/* not gated (budget mode): the request's start decides whether it is recorded */
	count(&hits, KP_PROBE_APF_REJECT);
	__asm__ volatile("" : "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6));
	pl.ptr = (const char *)r1;
	pl.len = (__s64)r2;
	fs.ptr = (const char *)r3;
	fs.len = (__s64)r4;
	why.ptr = (const char *)r5;
	why.len = (__s64)r6;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_APF_REJECT, GO_G(ctx));
	e->truncated = 0;
	COPY_GO_STR(e->pl, KP_APF_NAME_MAX, pl, &len16, e->truncated, KP_TRUNC_APF_PL);
	e->pl_len = len16;
	COPY_GO_STR(e->fs, KP_APF_NAME_MAX, fs, &len16, e->truncated, KP_TRUNC_APF_FS);
	e->fs_len = len16;
	COPY_GO_STR(e->reason, KP_APF_REASON_MAX, why, &len16, e->truncated, 0);
	e->reason_len = len16;
	bpf_ringbuf_submit(e, rb_wakeup(&events));
	return 0;
}

/* k8s.io/apiserver/pkg/server/filters.tooManyRequests(req *http.Request, w http.ResponseWriter): req in
 * RAX. The context chain of req (Request.ctx, then each context's embedded parent) holds the request's
 * own context (the h2 stream's, the h1 Request's), which its end event carries. */
SEC("uprobe")
int apf_too_many(struct pt_regs *ctx)
{
	const void *req = (const void *)GO_REG1(ctx);
	struct kp_apf_too_many *e;
	struct go_iface c = {};

	count(&hits, KP_PROBE_APF_TOO_MANY);
	if (!req || !OFF_OK(h1_off.request_ctx))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_APF_TOO_MANY, GO_G(ctx));
	bpf_probe_read_user(&c, sizeof(c), (const char *)req + h1_off.request_ctx);
	e->nctx = read_ctx_chain(c, e->ctx_chain);
	bpf_ringbuf_submit(e, rb_wakeup(&events));
	return 0;
}

/* One object of a digest: its name and UID. */
static __always_inline void apf_object(const void *obj, __u8 kind, struct pt_regs *ctx)
{
	struct kp_apf_object *e;
	struct go_string name, uid;
	__u16 len16;

	if (!obj)
		return;
	name = read_go_string(obj, k8s_off.object_name);
	uid = read_go_string(obj, k8s_off.object_uid);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return;
	}
	fill_hdr(&e->hdr, KP_EV_APF_OBJECT, GO_G(ctx));
	e->kind = kind;
	e->truncated = 0;
	COPY_GO_STR(e->name, KP_APF_NAME_MAX, name, &len16, e->truncated, KP_TRUNC_APF_PL);
	e->name_len = (__u8)len16;
	COPY_GO_STR(e->uid, KP_APF_UID_MAX, uid, &len16, e->truncated, KP_TRUNC_APF_FS);
	e->uid_len = (__u8)len16;
	bpf_ringbuf_submit(e, rb_wakeup(&events));
}

/* k8s.io/apiserver/pkg/util/flowcontrol.(*configController).lockAndDigestConfigObjects(newPLs
 * []*PriorityLevelConfiguration, newFSs []*FlowSchema): receiver in RAX, the slices in RBX/RCX/RDI and
 * RSI/R8/R9. Runs when the apiserver starts and whenever an APF object's spec changes (never per
 * request): the names of the UIDs that served requests carry. Not gated (budget mode). */
SEC("uprobe")
int apf_digest(struct pt_regs *ctx)
{
	__u64 pls = GO_REG2(ctx), npl = GO_REG3(ctx), fss = GO_REG5(ctx), nfs = GO_REG6(ctx);
	int i;

	count(&hits, KP_PROBE_APF_DIGEST);
	__asm__ volatile("" : "+r"(pls), "+r"(npl), "+r"(fss), "+r"(nfs));
	if (!OFF_OK(k8s_off.object_name) || !OFF_OK(k8s_off.object_uid))
		return 0;
	for (i = 0; i < KP_APF_DIGEST_MAX; i++) {
		if ((__u64)i >= npl || !pls)
			break;
		apf_object(read_ptr((const void *)pls, i * 8), KP_APF_PRIORITY_LEVEL, ctx);
	}
	for (i = 0; i < KP_APF_DIGEST_MAX; i++) {
		if ((__u64)i >= nfs || !fss)
			break;
		apf_object(read_ptr((const void *)fss, i * 8), KP_APF_FLOW_SCHEMA, ctx);
	}
	return 0;
}

/* ---- Kubernetes apiserver: request start after authentication ----
 *
 * At the entry (stack-check JBE) of the first filter after authentication (success: the
 * impersonation filter; failure: the Unauthorized handler), func(w http.ResponseWriter, req
 * *http.Request): req in RCX. The request is read as for HTTP/1 (both protocols reach the handler
 * as a *http.Request); its context chain (every standard context embeds its parent at offset 0)
 * holds the user (WithUser, success only) and, further down, the time the request arrived
 * (WithRequestReceivedTimestamp, the outermost filter but panic recovery): that context's parent is
 * the request's root context, which the request end carries (h2 stream ctx, h1 Request.ctx): the key.
 * Nothing else is read: no header but User-Agent (the Authorization header was read by the
 * authenticator, never by kapimon), no token, no UID, no extra. */

struct value_ctx {
	struct go_iface parent;
	struct go_iface key;
	struct go_iface val;
};

static __always_inline void read_user(struct kp_req_start *e, const void *info)
{
	struct go_string name = read_go_string(info, authn.user_name);
	struct go_slice groups = {};
	__u16 len16;
	__u32 i, n;

	COPY_GO_STR(e->user, KP_USER_MAX, name, &len16, e->truncated, KP_TRUNC_USER);
	e->user_len = len16;
	if (!OFF_OK(authn.user_groups) ||
	    bpf_probe_read_user(&groups, sizeof(groups), (const char *)info + authn.user_groups))
		return;
	n = groups.len > 0 ? (__u32)groups.len : 0;
	if (n > KP_GROUPS_MAX) {
		n = KP_GROUPS_MAX;
		e->truncated |= KP_TRUNC_GROUPS;
	}
	for (i = 0; i < KP_GROUPS_MAX; i++) {
		struct go_string g = {};

		if (i >= n || !groups.ptr)
			break;
		if (bpf_probe_read_user(&g, sizeof(g), (const char *)groups.ptr + i * sizeof(g)))
			break;
		COPY_GO_STR(e->groups[i], KP_GROUP_MAX, g, &len16, e->truncated, KP_TRUNC_GROUPS);
		e->group_len[i] = len16;
		e->ngroups = i + 1;
	}
}

static __always_inline struct go_iface read_parent(const void *c)
{
	struct go_iface p = {};

	bpf_probe_read_user(&p, sizeof(p), c); /* every standard context embeds its parent first */
	return p;
}

static __always_inline int authn_start(struct pt_regs *ctx, __u8 kind, int at_call)
{
	const void *req = at_call ? read_ptr((const void *)ctx->sp, authn.req_spill) : (const void *)GO_REG3(ctx);
	const void *c, *ts_tab = 0;
	struct go_iface cur = {};
	struct kp_req_start *e;
	struct hdr_scratch *s;
	struct go_string str;
	__u32 zero = 0, i;
	__u16 len16;

	count(&hits, kind == KP_AUTHN_OK ? KP_PROBE_AUTHN_OK : KP_PROBE_AUTHN_FAIL);
	if (!req || !gate_is_open())
		return 0;
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&counters, KP_CNT_RB_DROP);
		return 0;
	}
	start_init(e, ctx);
	e->conn = 0;
	e->stream_id = KP_SID_CTX;
	e->authn = kind;
	e->proto = read_u64(req, h1_off.request_proto_major) == 2 ? KP_PROTO_H2 : KP_PROTO_H1;
	__builtin_memset(e->group_len, 0, sizeof(e->group_len));
	read_request(e, req, s);
	str = read_go_string(req, h1_off.request_remote_addr);
	COPY_GO_STR(e->addr, KP_ADDR_MAX, str, &len16, e->truncated, KP_TRUNC_ADDR);
	e->addr_len = len16;

	/* Walk from the request's context towards the root. Below the received-timestamp context only
	 * value contexts of the apiserver's outer filters (of the same type: same itab) remain before
	 * the root: the first context of another type (the h2 stream's or h1 request's cancelCtx) is
	 * the key the request end carries. */
	if (OFF_OK(h1_off.request_ctx))
		bpf_probe_read_user(&cur, sizeof(cur), (const char *)req + h1_off.request_ctx);
	for (i = 0; i < KP_CTX_CHAIN_MAX; i++) {
		struct value_ctx v = {};
		__u32 h = 0;
		__s64 kv = -1;

		c = cur.data;
		if (!c)
			break;
		if (ts_tab) {
			if (cur.tab != ts_tab) {
				e->conn = (__u64)c; /* the request's root context */
				break;
			}
			cur = read_parent(c);
			continue;
		}
		if (bpf_probe_read_user(&v, sizeof(v), c))
			break;
		if (v.key.tab && v.key.data &&
		    bpf_probe_read_user(&h, sizeof(h), (const char *)v.key.tab + authn.type_hash) == 0 && h &&
		    (h == authn.hash_recv_ts_key || h == authn.hash_req_key))
			bpf_probe_read_user(&kv, sizeof(kv), v.key.data);
		if (h && h == authn.hash_req_key && kv == authn.user_key && kind == KP_AUTHN_OK && !e->user_found) {
			__u32 vh = 0;

			if (v.val.tab && bpf_probe_read_user(&vh, sizeof(vh), (const char *)v.val.tab + authn.type_hash) == 0 &&
			    vh == authn.hash_user_type && v.val.data) {
				read_user(e, v.val.data);
				e->user_found = 1;
			}
		}
		if (h && h == authn.hash_recv_ts_key && kv == authn.recv_ts_key) {
			__u64 t[2] = {};

			if (v.val.data && bpf_probe_read_user(t, sizeof(t), v.val.data) == 0) {
				e->recv_wall = t[0];
				e->recv_ext = (__s64)t[1];
				e->recv_found = 1;
			}
			ts_tab = cur.tab ? cur.tab : (const void *)1;
		}
		cur = v.parent;
	}
	if (!e->conn) {
		/* no received-timestamp context: the start cannot be matched with its end */
		count(&counters, KP_CNT_NO_RECV_TS);
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	if (kind == KP_AUTHN_OK && !e->user_found)
		count(&counters, KP_CNT_NO_USER);
	bpf_ringbuf_submit(e, rb_wakeup(&events));
	return 0;
}

/* Success: at the impersonation filter's first call (once per request), req in its spill slot */
SEC("uprobe")
int authn_ok(struct pt_regs *ctx)
{
	return authn_start(ctx, KP_AUTHN_OK, 1);
}

/* Success, fallback: at the impersonation filter's entry, req in RCX */
SEC("uprobe")
int authn_ok_entry(struct pt_regs *ctx)
{
	return authn_start(ctx, KP_AUTHN_OK, 0);
}

/* Failure: at the Unauthorized handler's entry (a second hit only if its goroutine's stack grows there) */
SEC("uprobe")
int authn_fail(struct pt_regs *ctx)
{
	return authn_start(ctx, KP_AUTHN_FAIL, 0);
}

/* Budget mode: an empty probe on a function of kapimon itself, to measure what one uprobe hit
 * costs on this machine. */
SEC("uprobe")
int calibrate(struct pt_regs *ctx)
{
	count(&hits, KP_PROBE_CALIBRATE);
	return 0;
}
