// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* OTLP trace encoding: records → protobuf spans. Field numbers from opentelemetry-proto (see the
 * tables below); the attribute names are those of docs/otlp.md. */
#include "output/otlp_encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/path_sanitize.h"
#include "assemble/record_json.h"
#include "etcd/protobuf.h"
#include "output/json_writer.h"
#include "util/hash.h"

/* opentelemetry-proto field numbers */
enum {
	/* collector/trace/v1 ExportTraceServiceRequest / Response / ExportTracePartialSuccess */
	F_REQ_RESOURCE_SPANS = 1,
	F_RESP_PARTIAL_SUCCESS = 1,
	F_PS_REJECTED_SPANS = 1,
	F_PS_ERROR_MESSAGE = 2,
	/* trace/v1 ResourceSpans, ScopeSpans */
	F_RS_RESOURCE = 1,
	F_RS_SCOPE_SPANS = 2,
	F_SS_SCOPE = 1,
	F_SS_SPANS = 2,
	/* resource/v1 Resource; common/v1 InstrumentationScope, KeyValue, AnyValue */
	F_RES_ATTRIBUTES = 1,
	F_SCOPE_NAME = 1,
	F_SCOPE_VERSION = 2,
	F_KV_KEY = 1,
	F_KV_VALUE = 2,
	F_AV_STRING = 1,
	F_AV_BOOL = 2,
	F_AV_INT = 3,
	F_AV_DOUBLE = 4,
	/* trace/v1 Span, Status */
	F_SPAN_TRACE_ID = 1,
	F_SPAN_SPAN_ID = 2,
	F_SPAN_PARENT_SPAN_ID = 4,
	F_SPAN_NAME = 5,
	F_SPAN_KIND = 6,
	F_SPAN_START = 7,
	F_SPAN_END = 8,
	F_SPAN_ATTRIBUTES = 9,
	F_SPAN_STATUS = 15,
	F_SPAN_FLAGS = 16,
	F_STATUS_MESSAGE = 2,
	F_STATUS_CODE = 3,
};
#define STATUS_CODE_ERROR 2
#define W3C_FLAG_SAMPLED 0x01u

/* ---- bounded protobuf writer ---- */
struct pbw {
	uint8_t *p;
	size_t cap, len;
	bool err;
};

static void put_raw(struct pbw *w, const void *d, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = true;
		return;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static size_t varint_encode(uint64_t v, uint8_t out[10])
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

static void put_varint(struct pbw *w, uint64_t v)
{
	uint8_t b[10];

	put_raw(w, b, varint_encode(v, b));
}

static void put_tag(struct pbw *w, uint32_t field, enum pb_wire wt)
{
	put_varint(w, ((uint64_t)field << 3) | wt);
}

static void put_uint(struct pbw *w, uint32_t field, uint64_t v)
{
	put_tag(w, field, PB_WT_VARINT);
	put_varint(w, v);
}

static void put_fixed64(struct pbw *w, uint32_t field, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_tag(w, field, PB_WT_I64);
	put_raw(w, b, 8);
}

static void put_fixed32(struct pbw *w, uint32_t field, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_tag(w, field, PB_WT_I32);
	put_raw(w, b, 4);
}

static void put_bytes(struct pbw *w, uint32_t field, const void *d, size_t n)
{
	put_tag(w, field, PB_WT_LEN);
	put_varint(w, n);
	put_raw(w, d, n);
}

/* A string field from n untrusted bytes: invalid UTF-8 bytes become U+FFFD (proto3 strings must be
 * valid UTF-8; receivers may reject the whole request otherwise). */
static void put_str_n(struct pbw *w, uint32_t field, const char *str, size_t n)
{
	static const uint8_t fffd[3] = { 0xef, 0xbf, 0xbd };
	const unsigned char *s = (const unsigned char *)str;
	size_t out = 0, i = 0, l, run;

	while (i < n) {
		if (s[i] < 0x80) { /* ASCII fast path */
			i++;
			out++;
			continue;
		}
		l = utf8_seq_len(s + i, n - i);
		out += l ? l : 3;
		i += l ? l : 1;
	}
	put_tag(w, field, PB_WT_LEN);
	put_varint(w, out);
	if (out == n) { /* valid as it is */
		put_raw(w, s, n);
		return;
	}
	for (i = run = 0; i < n;) {
		l = s[i] < 0x80 ? 1 : utf8_seq_len(s + i, n - i);
		if (l) {
			i += l;
			continue;
		}
		put_raw(w, s + run, i - run);
		put_raw(w, fffd, 3);
		run = ++i;
	}
	put_raw(w, s + run, n - run);
}

static void put_str(struct pbw *w, uint32_t field, const char *s)
{
	put_str_n(w, field, s, strlen(s));
}

/* Nested message: begin() writes the tag and reserves one length byte; end() writes the length,
 * moving the payload when the length needs more than one byte. */
static size_t msg_begin(struct pbw *w, uint32_t field)
{
	size_t mark;

	put_tag(w, field, PB_WT_LEN);
	mark = w->len;
	put_raw(w, "", 1);
	return mark;
}

static void msg_end(struct pbw *w, size_t mark)
{
	uint8_t b[10];
	size_t n, vl;

	if (w->err)
		return;
	n = w->len - mark - 1;
	vl = varint_encode(n, b);
	if (vl > 1) {
		if (vl - 1 > w->cap - w->len) {
			w->err = true;
			return;
		}
		memmove(w->p + mark + vl, w->p + mark + 1, n);
		w->len += vl - 1;
	}
	memcpy(w->p + mark, b, vl);
}

/* ---- attributes: repeated KeyValue {key, AnyValue} ---- */
static void attr_strn(struct pbw *w, uint32_t field, const char *key, const char *v, size_t n)
{
	size_t kv = msg_begin(w, field), av;

	put_str(w, F_KV_KEY, key);
	av = msg_begin(w, F_KV_VALUE);
	put_str_n(w, F_AV_STRING, v, n);
	msg_end(w, av);
	msg_end(w, kv);
}

/* String attribute, left out when empty (absent = unknown / not applicable). */
static void attr_str(struct pbw *w, uint32_t field, const char *key, const char *v)
{
	if (v && *v)
		attr_strn(w, field, key, v, strlen(v));
}

static void attr_int(struct pbw *w, uint32_t field, const char *key, int64_t v)
{
	size_t kv = msg_begin(w, field), av;

	put_str(w, F_KV_KEY, key);
	av = msg_begin(w, F_KV_VALUE);
	put_uint(w, F_AV_INT, (uint64_t)v); /* int64: two's complement varint */
	msg_end(w, av);
	msg_end(w, kv);
}

static void attr_bool(struct pbw *w, uint32_t field, const char *key, bool v)
{
	size_t kv = msg_begin(w, field), av;

	put_str(w, F_KV_KEY, key);
	av = msg_begin(w, F_KV_VALUE);
	put_uint(w, F_AV_BOOL, v);
	msg_end(w, av);
	msg_end(w, kv);
}

static void attr_double(struct pbw *w, uint32_t field, const char *key, double v)
{
	size_t kv = msg_begin(w, field), av;
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	put_str(w, F_KV_KEY, key);
	av = msg_begin(w, F_KV_VALUE);
	put_fixed64(w, F_AV_DOUBLE, bits);
	msg_end(w, av);
	msg_end(w, kv);
}

/* ---- ids ---- */
void otlp_ids_init(struct otlp_ids *ids, uint64_t seed)
{
	for (size_t i = 0; i < sizeof(ids->k) / sizeof(ids->k[0]); i++)
		ids->k[i] = hash_splitmix64(&seed);
}

/* A keyed bijection of x (distinct x give distinct values under one key), never 0. */
static uint64_t keyed(uint64_t key, uint64_t x)
{
	uint64_t h = hash_mix64(key ^ hash_mix64(x + 0x9e3779b97f4a7c15ULL));

	return h ? h : 1;
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

void otlp_request_ids(const struct otlp_ids *ids, uint64_t request_id, uint8_t trace_id[16], uint8_t span_id[8])
{
	put_be64(trace_id, keyed(ids->k[0], request_id));
	put_be64(trace_id + 8, keyed(ids->k[1], request_id));
	put_be64(span_id, keyed(ids->k[2], request_id));
}

void otlp_etcd_ids(const struct otlp_ids *ids, uint64_t request_id, uint64_t seq, uint8_t trace_id[16],
		   uint8_t span_id[8], uint8_t parent_span_id[8], bool *has_parent)
{
	if (request_id) {
		otlp_request_ids(ids, request_id, trace_id, parent_span_id);
		*has_parent = true;
	} else {
		put_be64(trace_id, keyed(ids->k[4], seq));
		put_be64(trace_id + 8, keyed(ids->k[5], seq));
		memset(parent_span_id, 0, 8);
		*has_parent = false;
	}
	put_be64(span_id, keyed(ids->k[3], seq));
}

uint64_t otlp_trace_key(const uint8_t trace_id[16])
{
	uint64_t v = 0;

	for (int i = 8; i < 16; i++)
		v = (v << 8) | trace_id[i];
	return v;
}

/* ---- spans ---- */
static void span_head(struct pbw *w, const uint8_t trace_id[16], const uint8_t span_id[8],
		      const uint8_t *parent, const char *name, enum otlp_span_kind kind, uint64_t start,
		      uint64_t end)
{
	put_bytes(w, F_SPAN_TRACE_ID, trace_id, 16);
	put_bytes(w, F_SPAN_SPAN_ID, span_id, 8);
	if (parent)
		put_bytes(w, F_SPAN_PARENT_SPAN_ID, parent, 8);
	put_str(w, F_SPAN_NAME, name);
	put_uint(w, F_SPAN_KIND, kind);
	put_fixed64(w, F_SPAN_START, start);
	put_fixed64(w, F_SPAN_END, end < start ? start : end);
	put_fixed32(w, F_SPAN_FLAGS, W3C_FLAG_SAMPLED);
}

static void span_error(struct pbw *w, const char *msg)
{
	size_t st = msg_begin(w, F_SPAN_STATUS);

	put_str(w, F_STATUS_MESSAGE, msg);
	put_uint(w, F_STATUS_CODE, STATUS_CODE_ERROR);
	msg_end(w, st);
}

/* HTTP methods the semantic conventions know; others are "_OTHER" + http.request.method_original. */
static const char *const known_methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
					     "OPTIONS", "TRACE", "PATCH", "QUERY" };

static bool method_known(const char *m)
{
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (!strcmp(m, known_methods[i]))
			return true;
	return false;
}

/* "ip:port" or "[ipv6]:port" (Go's RemoteAddr) → address and port (0 when none). */
static void split_client(const char *c, const char **addr, size_t *alen, long *port)
{
	const char *colon = strrchr(c, ':');

	*addr = c;
	*alen = strlen(c);
	*port = 0;
	if (c[0] == '[') {
		const char *rb = strchr(c, ']');

		if (!rb)
			return;
		*addr = c + 1;
		*alen = (size_t)(rb - c - 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else if (!colon || strchr(c, ':') != colon) {
		return; /* no port, or a bare IPv6 address */
	} else {
		*alen = (size_t)(colon - c);
	}
	if (colon && colon[1]) {
		char *end;
		long p = strtol(colon + 1, &end, 10);

		if (!*end && p > 0 && p < 65536)
			*port = p;
	}
}

static void trunc_list(uint8_t bits, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned b = 1; b <= REC_TRUNC__ALL; b <<= 1) {
		const char *name = (bits & b) ? rec_trunc_name(b) : NULL;

		if (name)
			n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "", name);
	}
}

size_t otlp_encode_request_span(const struct otlp_ids *ids, const struct request_record *r,
				uint64_t end_ns_if_ongoing, uint8_t *buf, size_t cap)
{
	struct pbw w = { .p = buf, .cap = cap };
	const struct k8s_request_info *ri = &r->ri;
	uint8_t trace_id[16], span_id[8];
	char path[REC_PATH_LEN], name[3 * REC_FIELD_LEN], tl[64];
	const char *q, *addr;
	size_t span, plen, alen;
	long port;

	otlp_request_ids(ids, r->id, trace_id, span_id);
	path_sanitize(r->path, strnlen(r->path, sizeof(r->path)), path, sizeof(path));
	q = strchr(path, '?');
	plen = q ? (size_t)(q - path) : strlen(path);
	if (ri->is_resource_request && ri->verb[0] && ri->resource[0])
		snprintf(name, sizeof(name), "%s %s%s%s", ri->verb, ri->resource, ri->subresource[0] ? "/" : "",
			 ri->subresource);
	else
		snprintf(name, sizeof(name), "%s %.*s", r->method[0] ? r->method : "HTTP", (int)plen, path);

	span = msg_begin(&w, F_SS_SPANS);
	span_head(&w, trace_id, span_id, NULL, name, OTLP_KIND_SERVER, r->start_ns,
		  r->ongoing ? end_ns_if_ongoing : r->start_ns + r->latency_ns);
	if (method_known(r->method)) {
		attr_str(&w, F_SPAN_ATTRIBUTES, "http.request.method", r->method);
	} else {
		attr_str(&w, F_SPAN_ATTRIBUTES, "http.request.method", "_OTHER");
		attr_str(&w, F_SPAN_ATTRIBUTES, "http.request.method_original", r->method);
	}
	attr_strn(&w, F_SPAN_ATTRIBUTES, "url.path", path, plen);
	if (q && q[1])
		attr_str(&w, F_SPAN_ATTRIBUTES, "url.query", q + 1);
	if (r->status)
		attr_int(&w, F_SPAN_ATTRIBUTES, "http.response.status_code", r->status);
	attr_str(&w, F_SPAN_ATTRIBUTES, "user_agent.original", r->user_agent);
	if (r->has_user) /* the authenticated user (semantic conventions' user.name) */
		attr_str(&w, F_SPAN_ATTRIBUTES, "user.name", r->user);
	split_client(r->client, &addr, &alen, &port);
	if (alen)
		attr_strn(&w, F_SPAN_ATTRIBUTES, "client.address", addr, alen);
	if (port)
		attr_int(&w, F_SPAN_ATTRIBUTES, "client.port", port);
	if (r->local_port)
		attr_int(&w, F_SPAN_ATTRIBUTES, "server.port", r->local_port);
	if (r->proto == REC_PROTO_H1 || r->proto == REC_PROTO_H2) {
		attr_str(&w, F_SPAN_ATTRIBUTES, "network.protocol.name", "http");
		attr_str(&w, F_SPAN_ATTRIBUTES, "network.protocol.version", r->proto == REC_PROTO_H2 ? "2" : "1.1");
	}
	if (r->bytes_in >= 0)
		attr_int(&w, F_SPAN_ATTRIBUTES, "http.request.body.size", r->bytes_in);
	if (r->bytes_out >= 0)
		attr_int(&w, F_SPAN_ATTRIBUTES, "http.response.body.size", r->bytes_out);
	attr_str(&w, F_SPAN_ATTRIBUTES, "k8s.apiserver.verb", ri->verb);
	attr_str(&w, F_SPAN_ATTRIBUTES, "k8s.apiserver.group", ri->group);
	attr_str(&w, F_SPAN_ATTRIBUTES, "k8s.apiserver.version", ri->version);
	attr_str(&w, F_SPAN_ATTRIBUTES, "k8s.apiserver.resource", ri->resource);
	attr_str(&w, F_SPAN_ATTRIBUTES, "k8s.apiserver.subresource", ri->subresource);
	attr_str(&w, F_SPAN_ATTRIBUTES, "k8s.apiserver.namespace", ri->namespace_);
	attr_str(&w, F_SPAN_ATTRIBUTES, "k8s.apiserver.name", ri->name);
	attr_int(&w, F_SPAN_ATTRIBUTES, "kapimon.request.id", (int64_t)r->id);
	if (r->has_etcd_cost) { /* what its etcd calls cost (their spans are its children) */
		attr_int(&w, F_SPAN_ATTRIBUTES, "kapimon.etcd.calls", (int64_t)r->etcd_calls);
		attr_int(&w, F_SPAN_ATTRIBUTES, "kapimon.etcd.response_bytes", (int64_t)r->etcd_resp_bytes);
		attr_int(&w, F_SPAN_ATTRIBUTES, "kapimon.etcd.keys", (int64_t)r->etcd_kvs);
	}
	if (r->ongoing)
		attr_bool(&w, F_SPAN_ATTRIBUTES, "kapimon.ongoing", true);
	if (r->sample_factor != 1.0)
		attr_double(&w, F_SPAN_ATTRIBUTES, "kapimon.sample_factor", r->sample_factor);
	trunc_list(r->truncated, tl, sizeof(tl));
	attr_str(&w, F_SPAN_ATTRIBUTES, "kapimon.truncated", tl);
	if (r->status >= 500) {
		char code[16], msg[32];

		snprintf(code, sizeof(code), "%d", r->status);
		snprintf(msg, sizeof(msg), "HTTP %d", r->status);
		attr_str(&w, F_SPAN_ATTRIBUTES, "error.type", code);
		span_error(&w, msg);
	}
	msg_end(&w, span);
	return w.err ? 0 : w.len;
}

size_t otlp_encode_etcd_span(const struct otlp_ids *ids, const struct etcd_record *e, uint64_t seq,
			     uint8_t *buf, size_t cap)
{
	struct pbw w = { .p = buf, .cap = cap };
	uint8_t trace_id[16], span_id[8], parent[8];
	char name[sizeof(e->op) + REC_FIELD_LEN + 2], svc[sizeof(e->method)];
	const char *slash, *op = e->op[0] ? e->op : "unknown";
	size_t span, klen, plen;
	bool has_parent;

	if (e->stream)
		return 0;
	otlp_etcd_ids(ids, e->request_id, seq, trace_id, span_id, parent, &has_parent);
	snprintf(name, sizeof(name), "%s%s%s", op, e->resource[0] ? " " : "", e->resource);

	span = msg_begin(&w, F_SS_SPANS);
	span_head(&w, trace_id, span_id, has_parent ? parent : NULL, name, OTLP_KIND_CLIENT, e->start_ns,
		  e->start_ns + e->latency_ns);
	attr_str(&w, F_SPAN_ATTRIBUTES, "db.system.name", "etcd");
	attr_str(&w, F_SPAN_ATTRIBUTES, "db.operation.name", op);
	attr_str(&w, F_SPAN_ATTRIBUTES, "db.collection.name", e->resource);
	/* the key up to its last '/': the directory the call works in, without the object name */
	klen = e->key_len ? e->key_len : strnlen(e->key, sizeof(e->key));
	if (klen > sizeof(e->key))
		klen = sizeof(e->key);
	for (plen = klen; plen > 0 && e->key[plen - 1] != '/'; plen--)
		;
	if (plen)
		attr_strn(&w, F_SPAN_ATTRIBUTES, "etcd.key_prefix", e->key, plen);
	if (e->key_truncated)
		attr_bool(&w, F_SPAN_ATTRIBUTES, "etcd.key_truncated", true);
	if (e->limit > 0)
		attr_int(&w, F_SPAN_ATTRIBUTES, "etcd.limit", e->limit);
	if (e->count_only)
		attr_bool(&w, F_SPAN_ATTRIBUTES, "etcd.count_only", true);
	if (e->keys_only)
		attr_bool(&w, F_SPAN_ATTRIBUTES, "etcd.keys_only", true);
	/* what etcd returned: sizes and counts, never a key or value of the response */
	if (e->resp_size >= 0)
		attr_int(&w, F_SPAN_ATTRIBUTES, "etcd.response_size", e->resp_size);
	if (e->kvs >= 0)
		attr_int(&w, F_SPAN_ATTRIBUTES, "db.response.returned_rows", e->kvs);
	if (e->count >= 0)
		attr_int(&w, F_SPAN_ATTRIBUTES, "etcd.count", e->count);
	if (e->more)
		attr_bool(&w, F_SPAN_ATTRIBUTES, "etcd.more", true);
	/* rpc.*: "/etcdserverpb.KV/Range" → service "etcdserverpb.KV", method "Range" */
	attr_str(&w, F_SPAN_ATTRIBUTES, "rpc.system", "grpc");
	slash = e->method[0] == '/' ? strchr(e->method + 1, '/') : NULL;
	if (slash) {
		snprintf(svc, sizeof(svc), "%.*s", (int)(slash - e->method - 1), e->method + 1);
		attr_str(&w, F_SPAN_ATTRIBUTES, "rpc.service", svc);
		attr_str(&w, F_SPAN_ATTRIBUTES, "rpc.method", slash + 1);
	}
	if (e->grpc_status >= 0)
		attr_int(&w, F_SPAN_ATTRIBUTES, "rpc.grpc.status_code", e->grpc_status);
	if (e->request_id)
		attr_int(&w, F_SPAN_ATTRIBUTES, "kapimon.request.id", (int64_t)e->request_id);
	if (e->sample_factor != 1.0)
		attr_double(&w, F_SPAN_ATTRIBUTES, "kapimon.sample_factor", e->sample_factor);
	if (e->grpc_status > 0) {
		char msg[32];

		snprintf(msg, sizeof(msg), "gRPC status %d", e->grpc_status);
		span_error(&w, msg);
	}
	msg_end(&w, span);
	return w.err ? 0 : w.len;
}

static void res_str(struct pbw *w, const char *key, const char *v)
{
	if (v && *v)
		attr_strn(w, F_RES_ATTRIBUTES, key, v, strnlen(v, OTLP_RES_STR_MAX));
}

size_t otlp_encode_export(const struct otlp_resource *res, const uint8_t *spans, size_t spans_len,
			  uint8_t *out, size_t cap)
{
	struct pbw w = { .p = out, .cap = cap };
	size_t rs, r, ss, sc;

	rs = msg_begin(&w, F_REQ_RESOURCE_SPANS);
	r = msg_begin(&w, F_RS_RESOURCE);
	res_str(&w, "service.name", res->service_name ? res->service_name : "kube-apiserver");
	res_str(&w, "service.version", res->service_version);
	res_str(&w, "host.name", res->host_name);
	if (res->pid > 0)
		attr_int(&w, F_RES_ATTRIBUTES, "process.pid", res->pid);
	res_str(&w, "telemetry.sdk.name", "kapimon");
	msg_end(&w, r);
	ss = msg_begin(&w, F_RS_SCOPE_SPANS);
	sc = msg_begin(&w, F_SS_SCOPE);
	put_str(&w, F_SCOPE_NAME, "kapimon");
	if (res->scope_version && *res->scope_version)
		put_str_n(&w, F_SCOPE_VERSION, res->scope_version, strnlen(res->scope_version, OTLP_RES_STR_MAX));
	msg_end(&w, sc);
	put_raw(&w, spans, spans_len); /* already ScopeSpans.spans fields */
	msg_end(&w, ss);
	msg_end(&w, rs);
	return w.err ? 0 : w.len;
}

int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected, char *msg, size_t msgcap)
{
	struct pb_reader r, ps;
	struct pb_field f, g;
	int rc;

	*rejected = 0;
	if (msgcap)
		msg[0] = '\0';
	pb_init(&r, buf, len);
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.num != F_RESP_PARTIAL_SUCCESS || f.wt != PB_WT_LEN)
			continue;
		if (pb_enter(&r, &f, &ps) != PB_OK)
			return -1;
		while ((rc = pb_next(&ps, &g)) > 0) {
			if (g.num == F_PS_REJECTED_SPANS && g.wt == PB_WT_VARINT) {
				*rejected = (int64_t)g.u;
			} else if (g.num == F_PS_ERROR_MESSAGE && g.wt == PB_WT_LEN && msgcap) {
				size_t n = g.len < msgcap - 1 ? g.len : msgcap - 1;

				memcpy(msg, g.data, n);
				msg[n] = '\0';
			}
		}
		if (rc < 0)
			return -1;
	}
	return rc < 0 ? -1 : 0;
}
