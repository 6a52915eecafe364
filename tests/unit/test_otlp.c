// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* OTLP encoder (read back with kapimon's protobuf reader), span queue, retry/sampling policy and the
 * HTTP/1.1 pieces. The exporter's socket part is tested against an independent receiver in
 * tests/cli/test_otlp_export.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/record_json.h"
#include "etcd/protobuf.h"
#include "output/json_writer.h"
#include "output/otlp_encode.h"
#include "output/otlp_export.h"
#include "output/otlp_http.h"
#include "output/otlp_policy.h"
#include "output/otlp_queue.h"

/* ---- a small reader of what the encoder wrote ---- */
enum { AV_NONE, AV_STR, AV_BOOL, AV_INT, AV_DOUBLE };

struct attr {
	char key[64];
	int type;
	char s[2048];
	size_t slen;
	int64_t i;
	double d;
};

struct span {
	uint8_t trace_id[16], span_id[8], parent[8];
	size_t trace_len, span_len, parent_len;
	char name[512];
	uint64_t kind, start, end;
	uint32_t flags;
	int status_code;
	char status_msg[64];
	int nattr;
	struct attr attr[48];
};

static void read_kv(const struct pb_reader *parent, const struct pb_field *f, struct attr *a)
{
	struct pb_reader r, v;
	struct pb_field g, h;

	memset(a, 0, sizeof(*a));
	assert_int_equal(pb_enter(parent, f, &r), PB_OK);
	while (pb_next(&r, &g) > 0) {
		if (g.num == 1) {
			assert_true(g.len < sizeof(a->key));
			memcpy(a->key, g.data, g.len);
		} else if (g.num == 2) {
			assert_int_equal(pb_enter(&r, &g, &v), PB_OK);
			while (pb_next(&v, &h) > 0) {
				if (h.num == 1) {
					a->type = AV_STR;
					assert_true(h.len < sizeof(a->s));
					memcpy(a->s, h.data, h.len);
					a->slen = h.len;
				} else if (h.num == 2) {
					a->type = AV_BOOL;
					a->i = (int64_t)h.u;
				} else if (h.num == 3) {
					a->type = AV_INT;
					a->i = (int64_t)h.u;
				} else if (h.num == 4) {
					assert_int_equal(h.wt, PB_WT_I64);
					a->type = AV_DOUBLE;
					memcpy(&a->d, &h.u, 8);
				}
			}
		}
	}
}

/* Read one ScopeSpans.spans field (tag 2, LEN) from buf. */
static void read_span_body(const struct pb_reader *parent, const struct pb_field *f, struct span *s)
{
	struct pb_reader r, st;
	struct pb_field g, h;
	int rc;

	memset(s, 0, sizeof(*s));
	assert_int_equal(pb_enter(parent, f, &r), PB_OK);
	while ((rc = pb_next(&r, &g)) > 0) {
		switch (g.num) {
		case 1: memcpy(s->trace_id, g.data, g.len <= 16 ? g.len : 16); s->trace_len = g.len; break;
		case 2: memcpy(s->span_id, g.data, g.len <= 8 ? g.len : 8); s->span_len = g.len; break;
		case 4: memcpy(s->parent, g.data, g.len <= 8 ? g.len : 8); s->parent_len = g.len; break;
		case 5: memcpy(s->name, g.data, g.len < sizeof(s->name) ? g.len : sizeof(s->name) - 1); break;
		case 6: s->kind = g.u; break;
		case 7: assert_int_equal(g.wt, PB_WT_I64); s->start = g.u; break;
		case 8: assert_int_equal(g.wt, PB_WT_I64); s->end = g.u; break;
		case 9: assert_true(s->nattr < 48); read_kv(&r, &g, &s->attr[s->nattr++]); break;
		case 15:
			assert_int_equal(pb_enter(&r, &g, &st), PB_OK);
			while (pb_next(&st, &h) > 0) {
				if (h.num == 3)
					s->status_code = (int)h.u;
				else if (h.num == 2)
					memcpy(s->status_msg, h.data, h.len < 63 ? h.len : 63);
			}
			break;
		case 16: assert_int_equal(g.wt, PB_WT_I32); s->flags = (uint32_t)g.u; break;
		default: fail_msg("unexpected span field %u", g.num);
		}
	}
	assert_int_equal(rc, 0);
}

static void read_span(const uint8_t *buf, size_t len, struct span *s)
{
	struct pb_reader r;
	struct pb_field f;

	pb_init(&r, buf, len);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 2);
	assert_int_equal(f.wt, PB_WT_LEN);
	read_span_body(&r, &f, s);
	assert_int_equal(pb_next(&r, &f), 0); /* exactly one field */
}

static const struct attr *find(const struct span *s, const char *key)
{
	const struct attr *found = NULL;

	for (int i = 0; i < s->nattr; i++) {
		if (!strcmp(s->attr[i].key, key)) {
			assert_null(found); /* keys are unique */
			found = &s->attr[i];
		}
	}
	return found;
}

static void assert_str_attr(const struct span *s, const char *key, const char *v)
{
	const struct attr *a = find(s, key);

	if (!a)
		fail_msg("attribute %s missing", key);
	assert_int_equal(a->type, AV_STR);
	assert_string_equal(a->s, v);
}

static void assert_int_attr(const struct span *s, const char *key, int64_t v)
{
	const struct attr *a = find(s, key);

	if (!a)
		fail_msg("attribute %s missing", key);
	assert_int_equal(a->type, AV_INT);
	assert_int_equal(a->i, v);
}

static bool valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0, l; i < n; i += l)
		if (!(l = utf8_seq_len((const unsigned char *)s + i, n - i)))
			return false;
	return true;
}

static bool mem_has(const uint8_t *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

static struct request_record sample_request(void)
{
	struct request_record r;

	request_record_init(&r);
	r.id = 42;
	r.start_ns = 1795000000123456789ULL;
	r.latency_ns = 5000000;
	r.proto = REC_PROTO_H2;
	strcpy(r.method, "GET");
	strcpy(r.path, "/api/v1/namespaces/default/pods/web-0?resourceVersion=5&access_token=s3cr3t");
	strcpy(r.user_agent, "kubectl/v1.20.2 (linux/amd64)");
	strcpy(r.client, "10.1.2.3:51234");
	r.local_port = 6443;
	r.status = 200;
	r.bytes_in = 0;
	r.bytes_out = 1234;
	r.ri.is_resource_request = true;
	strcpy(r.ri.verb, "get");
	strcpy(r.ri.api_prefix, "api");
	strcpy(r.ri.version, "v1");
	strcpy(r.ri.resource, "pods");
	strcpy(r.ri.namespace_, "default");
	strcpy(r.ri.name, "web-0");
	return r;
}

static struct etcd_record sample_etcd(uint64_t request_id)
{
	struct etcd_record e;

	etcd_record_init(&e);
	e.start_ns = 1795000000124000000ULL;
	e.latency_ns = 1000000;
	strcpy(e.method, "/etcdserverpb.KV/Range");
	strcpy(e.op, "range");
	strcpy(e.key, "/registry/pods/default/web-0");
	strcpy(e.resource, "pods");
	e.grpc_status = 0;
	e.resp_size = 800;
	e.request_id = request_id;
	return e;
}

static struct otlp_ids ids;
static uint8_t buf[OTLP_SPAN_MAX];

/* The request span carries what its etcd calls cost, when known. */
static void test_request_span_etcd_cost(void **state)
{
	struct request_record r = sample_request();
	struct span s;
	size_t n;

	r.has_etcd_cost = true;
	r.etcd_calls = 2;
	r.etcd_resp_bytes = 90000;
	r.etcd_kvs = 120;
	n = otlp_encode_request_span(&ids, &r, 0, buf, sizeof(buf));
	assert_true(n > 0);
	read_span(buf, n, &s);
	assert_int_attr(&s, "kapimon.etcd.calls", 2);
	assert_int_attr(&s, "kapimon.etcd.response_bytes", 90000);
	assert_int_attr(&s, "kapimon.etcd.keys", 120);
}

static void test_request_span(void **state)
{
	struct request_record r = sample_request();
	uint8_t tid[16], sid[8];
	struct span s;
	size_t n = otlp_encode_request_span(&ids, &r, 0, buf, sizeof(buf));

	assert_true(n > 0);
	read_span(buf, n, &s);
	otlp_request_ids(&ids, 42, tid, sid);
	assert_int_equal(s.trace_len, 16);
	assert_int_equal(s.span_len, 8);
	assert_memory_equal(s.trace_id, tid, 16);
	assert_memory_equal(s.span_id, sid, 8);
	assert_int_equal(s.parent_len, 0);
	assert_string_equal(s.name, "get pods");
	assert_int_equal(s.kind, 2);
	assert_int_equal(s.start, 1795000000123456789ULL);
	assert_int_equal(s.end, 1795000000123456789ULL + 5000000);
	assert_int_equal(s.flags, 1);
	assert_int_equal(s.status_code, 0);
	assert_str_attr(&s, "http.request.method", "GET");
	assert_str_attr(&s, "url.path", "/api/v1/namespaces/default/pods/web-0");
	assert_str_attr(&s, "url.query", "resourceVersion=5&access_token=REDACTED");
	assert_false(mem_has(buf, n, "s3cr3t"));
	assert_int_attr(&s, "http.response.status_code", 200);
	assert_str_attr(&s, "user_agent.original", "kubectl/v1.20.2 (linux/amd64)");
	assert_str_attr(&s, "client.address", "10.1.2.3");
	assert_int_attr(&s, "client.port", 51234);
	assert_int_attr(&s, "server.port", 6443);
	assert_str_attr(&s, "network.protocol.name", "http");
	assert_str_attr(&s, "network.protocol.version", "2");
	assert_int_attr(&s, "http.request.body.size", 0);
	assert_int_attr(&s, "http.response.body.size", 1234);
	assert_str_attr(&s, "k8s.apiserver.verb", "get");
	assert_null(find(&s, "kapimon.etcd.calls")); /* no etcd capture: absent */
	assert_null(find(&s, "k8s.apiserver.group")); /* core group: absent */
	assert_str_attr(&s, "k8s.apiserver.version", "v1");
	assert_str_attr(&s, "k8s.apiserver.resource", "pods");
	assert_null(find(&s, "k8s.apiserver.subresource"));
	assert_str_attr(&s, "k8s.apiserver.namespace", "default");
	assert_str_attr(&s, "k8s.apiserver.name", "web-0");
	assert_int_attr(&s, "kapimon.request.id", 42);
	assert_null(find(&s, "kapimon.ongoing"));
	assert_null(find(&s, "kapimon.sample_factor"));
	assert_null(find(&s, "kapimon.truncated"));
	assert_null(find(&s, "error.type"));
	assert_null(find(&s, "user.name")); /* no user known */

	/* an authenticated request: user.name */
	r.has_user = true;
	strcpy(r.user, "system:serviceaccount:kube-system:default");
	n = otlp_encode_request_span(&ids, &r, 0, buf, sizeof(buf));
	read_span(buf, n, &s);
	assert_str_attr(&s, "user.name", "system:serviceaccount:kube-system:default");
}

static void test_request_span_variants(void **state)
{
	struct request_record r = sample_request();
	struct span s;
	size_t n;

	/* 5xx: error status and error.type; subresource and group in the name/attributes; h1 */
	r.status = 503;
	r.proto = REC_PROTO_H1;
	strcpy(r.ri.group, "apps");
	strcpy(r.ri.resource, "deployments");
	strcpy(r.ri.subresource, "scale");
	strcpy(r.client, "[fd00::1]:443");
	r.truncated = REC_TRUNC_PATH | REC_TRUNC_USER_AGENT;
	r.sample_factor = 4.0;
	n = otlp_encode_request_span(&ids, &r, 0, buf, sizeof(buf));
	read_span(buf, n, &s);
	assert_string_equal(s.name, "get deployments/scale");
	assert_int_equal(s.status_code, 2);
	assert_string_equal(s.status_msg, "HTTP 503");
	assert_str_attr(&s, "error.type", "503");
	assert_str_attr(&s, "network.protocol.version", "1.1");
	assert_str_attr(&s, "k8s.apiserver.group", "apps");
	assert_str_attr(&s, "k8s.apiserver.subresource", "scale");
	assert_str_attr(&s, "client.address", "fd00::1");
	assert_int_attr(&s, "client.port", 443);
	assert_str_attr(&s, "kapimon.truncated", "path,user_agent");
	assert_int_equal(find(&s, "kapimon.sample_factor")->type, AV_DOUBLE);
	assert_true(find(&s, "kapimon.sample_factor")->d == 4.0);

	/* 4xx is not an error of the server */
	r.status = 404;
	n = otlp_encode_request_span(&ids, &r, 0, buf, sizeof(buf));
	read_span(buf, n, &s);
	assert_int_equal(s.status_code, 0);

	/* non-resource request, unknown method, unknown proto and status, ongoing, invalid UTF-8 */
	r = sample_request();
	r.ri.is_resource_request = false;
	strcpy(r.ri.verb, "foo");
	r.ri.resource[0] = r.ri.version[0] = r.ri.namespace_[0] = r.ri.name[0] = '\0';
	strcpy(r.method, "FOO");
	strcpy(r.path, "/healthz?verbose=1");
	strcpy(r.user_agent, "bad\xff\xfe ua \xc3\xa9");
	strcpy(r.client, "unix");
	r.proto = REC_PROTO_UNKNOWN;
	r.status = 0;
	r.local_port = 0;
	r.bytes_in = r.bytes_out = -1;
	r.ongoing = true;
	r.latency_ns = 0;
	n = otlp_encode_request_span(&ids, &r, r.start_ns + 777, buf, sizeof(buf));
	read_span(buf, n, &s);
	assert_string_equal(s.name, "FOO /healthz");
	assert_str_attr(&s, "http.request.method", "_OTHER");
	assert_str_attr(&s, "http.request.method_original", "FOO");
	assert_str_attr(&s, "url.path", "/healthz");
	assert_str_attr(&s, "url.query", "verbose=1");
	assert_null(find(&s, "http.response.status_code"));
	assert_null(find(&s, "network.protocol.version"));
	assert_null(find(&s, "server.port"));
	assert_null(find(&s, "client.port"));
	assert_str_attr(&s, "client.address", "unix");
	assert_null(find(&s, "http.request.body.size"));
	assert_int_equal(find(&s, "kapimon.ongoing")->type, AV_BOOL);
	assert_int_equal(s.end, r.start_ns + 777);
	assert_string_equal(find(&s, "user_agent.original")->s, "bad\xef\xbf\xbd\xef\xbf\xbd ua \xc3\xa9");
	for (int i = 0; i < s.nattr; i++)
		if (s.attr[i].type == AV_STR)
			assert_true(valid_utf8(s.attr[i].s, s.attr[i].slen));
}

static void test_etcd_span(void **state)
{
	struct etcd_record e = sample_etcd(42);
	uint8_t tid[16], sid[8];
	struct span s, s2;
	size_t n;

	n = otlp_encode_etcd_span(&ids, &e, 7, buf, sizeof(buf));
	assert_true(n > 0);
	read_span(buf, n, &s);
	otlp_request_ids(&ids, 42, tid, sid);
	assert_memory_equal(s.trace_id, tid, 16); /* the request's trace */
	assert_int_equal(s.parent_len, 8);
	assert_memory_equal(s.parent, sid, 8); /* the request's span is the parent */
	assert_memory_not_equal(s.span_id, sid, 8);
	assert_int_equal(s.kind, 3);
	assert_string_equal(s.name, "range pods");
	assert_int_equal(s.start, e.start_ns);
	assert_int_equal(s.end, e.start_ns + e.latency_ns);
	assert_str_attr(&s, "db.system.name", "etcd");
	assert_str_attr(&s, "db.operation.name", "range");
	assert_str_attr(&s, "db.collection.name", "pods");
	assert_str_attr(&s, "etcd.key_prefix", "/registry/pods/default/");
	assert_str_attr(&s, "rpc.system", "grpc");
	assert_str_attr(&s, "rpc.service", "etcdserverpb.KV");
	assert_str_attr(&s, "rpc.method", "Range");
	assert_int_attr(&s, "rpc.grpc.status_code", 0);
	assert_int_attr(&s, "kapimon.request.id", 42);
	assert_int_equal(s.status_code, 0);
	/* what etcd returned: sizes and counts only */
	assert_int_attr(&s, "etcd.response_size", 800);
	assert_null(find(&s, "db.response.returned_rows")); /* unknown: absent */
	assert_null(find(&s, "etcd.count"));
	assert_null(find(&s, "etcd.more"));
	e.kvs = 0;
	e.count = 1200;
	e.more = true;
	n = otlp_encode_etcd_span(&ids, &e, 7, buf, sizeof(buf));
	read_span(buf, n, &s2);
	assert_int_attr(&s2, "db.response.returned_rows", 0);
	assert_int_attr(&s2, "etcd.count", 1200);
	assert_non_null(find(&s2, "etcd.more"));
	e.kvs = e.count = -1;
	e.more = false;

	/* error status; a prefix range keeps its key whole; another seq gives another span id */
	e.grpc_status = 14;
	strcpy(e.key, "/registry/pods/");
	e.limit = 500;
	n = otlp_encode_etcd_span(&ids, &e, 8, buf, sizeof(buf));
	read_span(buf, n, &s2);
	assert_int_equal(s2.status_code, 2);
	assert_string_equal(s2.status_msg, "gRPC status 14");
	assert_int_attr(&s2, "rpc.grpc.status_code", 14);
	assert_str_attr(&s2, "etcd.key_prefix", "/registry/pods/");
	assert_int_attr(&s2, "etcd.limit", 500);
	assert_memory_not_equal(s2.span_id, s.span_id, 8);
	assert_memory_equal(s2.trace_id, s.trace_id, 16);

	/* unlinked: a trace of its own, no parent, no request id; binary key with a NUL and bad UTF-8 */
	e = sample_etcd(0);
	memcpy(e.key, "/registry/x\0\xff/k", 15);
	e.key_len = 15;
	strcpy(e.op, "txn");
	e.resource[0] = '\0';
	e.grpc_status = -1;
	n = otlp_encode_etcd_span(&ids, &e, 9, buf, sizeof(buf));
	read_span(buf, n, &s);
	assert_int_equal(s.parent_len, 0);
	assert_memory_not_equal(s.trace_id, tid, 16);
	assert_null(find(&s, "kapimon.request.id"));
	assert_null(find(&s, "rpc.grpc.status_code"));
	assert_null(find(&s, "db.collection.name"));
	assert_string_equal(s.name, "txn");
	assert_int_equal(find(&s, "etcd.key_prefix")->slen, 16); /* "/registry/x" NUL U+FFFD "/" */
	assert_memory_equal(find(&s, "etcd.key_prefix")->s, "/registry/x\0\xef\xbf\xbd/", 16);

	/* stream messages are not round trips */
	e.stream = true;
	assert_int_equal(otlp_encode_etcd_span(&ids, &e, 10, buf, sizeof(buf)), 0);
}

static void test_ids(void **state)
{
	struct otlp_ids a, b;
	uint8_t t1[16], s1[8], t2[16], s2[8], p[8], zero[16] = { 0 };
	bool hp;

	otlp_ids_init(&a, 1);
	otlp_ids_init(&b, 2);
	otlp_request_ids(&a, 5, t1, s1);
	otlp_request_ids(&a, 5, t2, s2);
	assert_memory_equal(t1, t2, 16); /* deterministic */
	assert_memory_equal(s1, s2, 8);
	otlp_request_ids(&b, 5, t2, s2);
	assert_memory_not_equal(t1, t2, 16); /* per-run seed */
	for (uint64_t id = 0; id < 20000; id++) {
		otlp_request_ids(&a, id, t1, s1);
		assert_memory_not_equal(t1, zero, 16);
		assert_memory_not_equal(s1, zero, 8);
		otlp_etcd_ids(&a, 0, id, t2, s2, p, &hp);
		assert_false(hp);
		assert_memory_not_equal(t2, zero, 16);
		assert_memory_not_equal(s2, zero, 8);
		assert_memory_not_equal(t1, t2, 16);
	}
}

static void test_small_buffers(void **state)
{
	struct request_record r = sample_request();
	struct etcd_record e = sample_etcd(3);
	size_t nr = otlp_encode_request_span(&ids, &r, 0, buf, sizeof(buf));
	size_t ne = otlp_encode_etcd_span(&ids, &e, 1, buf, sizeof(buf));
	static uint8_t small[OTLP_SPAN_MAX + 16];

	for (size_t cap = 0; cap < nr; cap++) {
		memset(small, 0xa5, sizeof(small));
		assert_int_equal(otlp_encode_request_span(&ids, &r, 0, small, cap), 0);
		for (size_t i = cap; i < cap + 16; i++)
			assert_int_equal(small[i], 0xa5); /* nothing written past cap */
	}
	for (size_t cap = 0; cap < ne; cap++)
		assert_int_equal(otlp_encode_etcd_span(&ids, &e, 1, small, cap), 0);

	/* the largest record fits OTLP_SPAN_MAX: every string at its bound, all bytes invalid UTF-8 */
	memset(&r.path, 0xff, sizeof(r.path) - 1);
	r.path[0] = '/';
	memset(&r.user_agent, 0xff, sizeof(r.user_agent) - 1);
	memset(&r.client, 0xff, sizeof(r.client) - 1);
	memset(r.method, 0xff, sizeof(r.method) - 1);
	memset(r.ri.verb, 0xff, sizeof(r.ri.verb) - 1);
	memset(r.ri.group, 0xff, sizeof(r.ri.group) - 1);
	memset(r.ri.version, 0xff, sizeof(r.ri.version) - 1);
	memset(r.ri.resource, 0xff, sizeof(r.ri.resource) - 1);
	memset(r.ri.subresource, 0xff, sizeof(r.ri.subresource) - 1);
	memset(r.ri.namespace_, 0xff, sizeof(r.ri.namespace_) - 1);
	memset(r.ri.name, 0xff, sizeof(r.ri.name) - 1);
	r.truncated = REC_TRUNC__ALL;
	r.status = 599;
	assert_true(otlp_encode_request_span(&ids, &r, 0, buf, sizeof(buf)) > 0);
	memset(e.key, 0xff, sizeof(e.key));
	e.key_len = sizeof(e.key);
	memset(e.method, 0xff, sizeof(e.method) - 1);
	memset(e.op, 0xff, sizeof(e.op) - 1);
	memset(e.resource, 0xff, sizeof(e.resource) - 1);
	assert_true(otlp_encode_etcd_span(&ids, &e, 1, buf, sizeof(buf)) > 0);
}

static void test_export_request(void **state)
{
	static uint8_t spans[300 * 1024], out[300 * 1024 + OTLP_EXPORT_OVERHEAD];
	struct otlp_resource res = { .service_version = "v1.20.2", .host_name = "cp-1", .pid = 4242,
				     .scope_version = "0.1.0" };
	struct pb_reader r, rs, sub, ss, sc;
	struct pb_field f, g, h, k;
	size_t len = 0, n;
	int nspans = 0, nres = 0;
	bool has_scope = false;
	struct attr a;

	for (int i = 0; i < 300; i++) {
		struct request_record rr = sample_request();

		rr.id = (uint64_t)i + 1;
		len += otlp_encode_request_span(&ids, &rr, 0, spans + len, sizeof(spans) - len);
	}
	n = otlp_encode_export(&res, spans, len, out, sizeof(out));
	assert_true(n > len);
	assert_int_equal(otlp_encode_export(&res, spans, len, out, n - 1), 0);
	assert_int_equal(otlp_encode_export(&res, spans, len, out, n), n);
	pb_init(&r, out, n);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 1); /* resource_spans */
	assert_int_equal(pb_next(&r, &g), 0);
	assert_int_equal(pb_enter(&r, &f, &rs), PB_OK);
	while (pb_next(&rs, &g) > 0) {
		assert_int_equal(pb_enter(&rs, &g, &sub), PB_OK);
		if (g.num == 1) { /* resource */
			while (pb_next(&sub, &h) > 0) {
				assert_int_equal(h.num, 1);
				read_kv(&sub, &h, &a);
				nres++;
				if (!strcmp(a.key, "service.name"))
					assert_string_equal(a.s, "kube-apiserver");
				else if (!strcmp(a.key, "service.version"))
					assert_string_equal(a.s, "v1.20.2");
				else if (!strcmp(a.key, "host.name"))
					assert_string_equal(a.s, "cp-1");
				else if (!strcmp(a.key, "process.pid"))
					assert_int_equal(a.i, 4242);
				else if (!strcmp(a.key, "telemetry.sdk.name"))
					assert_string_equal(a.s, "kapimon");
				else
					fail_msg("unexpected resource attribute %s", a.key);
			}
		} else if (g.num == 2) { /* scope_spans */
			ss = sub;
			while (pb_next(&ss, &h) > 0) {
				if (h.num == 1) {
					has_scope = true;
					assert_int_equal(pb_enter(&ss, &h, &sc), PB_OK);
					assert_int_equal(pb_next(&sc, &k), 1);
					assert_int_equal(k.num, 1);
					assert_int_equal(k.len, 7);
					assert_memory_equal(k.data, "kapimon", 7);
				} else {
					struct span s;

					assert_int_equal(h.num, 2);
					read_span_body(&ss, &h, &s);
					nspans++;
					assert_int_attr(&s, "kapimon.request.id", nspans);
				}
			}
		} else {
			fail_msg("unexpected ResourceSpans field %u", g.num);
		}
	}
	assert_int_equal(nres, 5);
	assert_true(has_scope);
	assert_int_equal(nspans, 300);
}

static void test_decode_response(void **state)
{
	int64_t rej;
	char msg[15];
	/* partial_success { rejected_spans: 3, error_message: "too old spans!!" (cut to 14) } */
	static const uint8_t ps[] = { 0x0a, 0x13, 0x08, 0x03, 0x12, 0x0f, 't', 'o', 'o', ' ', 'o', 'l', 'd', ' ',
				      's', 'p', 'a', 'n', 's', '!', '!' };
	static const uint8_t bad[] = { 0x0a, 0x05, 0x08 };

	assert_int_equal(otlp_decode_response(NULL, 0, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 0);
	assert_string_equal(msg, "");
	assert_int_equal(otlp_decode_response(ps, sizeof(ps), &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 3);
	assert_string_equal(msg, "too old spans!");
	assert_int_equal(otlp_decode_response(bad, sizeof(bad), &rej, msg, sizeof(msg)), -1);
}

/* ---- queue ---- */
static void test_queue(void **state)
{
	struct otlp_queue q;
	uint8_t out[64], data[40];
	uint32_t items, over = 0;
	size_t n;

	assert_int_equal(otlp_queue_init(&q, 0, 4), -1);
	assert_int_equal(otlp_queue_init(&q, 64, 4), 0);
	for (int i = 0; i < 40; i++)
		data[i] = (uint8_t)i;
	assert_false(otlp_queue_push(&q, data, 0));
	assert_true(otlp_queue_push(&q, data, 10));       /* 14 bytes used */
	assert_true(otlp_queue_push(&q, data + 10, 20));  /* 38 */
	assert_false(otlp_queue_push(&q, data, 30));      /* 72 > 64: full by bytes */
	assert_true(otlp_queue_push(&q, data + 30, 10));  /* 52 */
	assert_int_equal(otlp_queue_count(&q), 3);
	/* pop stops before an entry that does not fit out */
	n = otlp_queue_pop(&q, out, 25, 10, &items, &over);
	assert_int_equal(items, 1);
	assert_int_equal(n, 10);
	assert_memory_equal(out, data, 10);
	/* wrap around: 26 bytes at the end of the ring */
	assert_true(otlp_queue_push(&q, data, 20)); /* 38 + 24 = 62 */
	n = otlp_queue_pop(&q, out, sizeof(out), 10, &items, &over);
	assert_int_equal(items, 3);
	assert_int_equal(n, 50);
	assert_memory_equal(out, data + 10, 30); /* FIFO: 20 then 10 bytes */
	assert_memory_equal(out + 30, data, 20);
	assert_int_equal(otlp_queue_count(&q), 0);
	assert_int_equal(q.tail - q.head, 0);
	/* full by count */
	for (int i = 0; i < 4; i++)
		assert_true(otlp_queue_push(&q, data, 1));
	assert_false(otlp_queue_push(&q, data, 1));
	n = otlp_queue_pop(&q, out, sizeof(out), 2, &items, &over);
	assert_int_equal(items, 2); /* max_items */
	/* an entry larger than out is dropped and counted */
	otlp_queue_pop(&q, out, sizeof(out), 10, &items, &over);
	assert_true(otlp_queue_push(&q, data, 40));
	n = otlp_queue_pop(&q, out, 16, 10, &items, &over);
	assert_int_equal(items, 0);
	assert_int_equal(over, 1);
	assert_int_equal(otlp_queue_count(&q), 0);
	/* out NULL discards */
	assert_true(otlp_queue_push(&q, data, 5));
	assert_true(otlp_queue_push(&q, data, 6));
	otlp_queue_pop(&q, NULL, 0, 10, &items, &over);
	assert_int_equal(items, 2);
	assert_int_equal(otlp_queue_count(&q), 0);
	/* many wraps keep FIFO order and content */
	for (int round = 0; round < 1000; round++) {
		uint8_t len = (uint8_t)(1 + round % 23);

		data[0] = (uint8_t)round;
		assert_true(otlp_queue_push(&q, data, len));
		n = otlp_queue_pop(&q, out, sizeof(out), 10, &items, &over);
		assert_int_equal(items, 1);
		assert_int_equal(n, len);
		assert_int_equal(out[0], (uint8_t)round);
		assert_memory_equal(out + 1, data + 1, len - 1);
	}
	otlp_queue_free(&q);
}

/* One producer thread, one consumer: every entry arrives once, in order, intact, or was refused. */
#define STRESS_N 200000
static struct otlp_queue stress_q;
static uint64_t stress_refused;

static void *stress_producer(void *arg)
{
	uint8_t e[64];

	for (uint32_t i = 0; i < STRESS_N; i++) {
		size_t len = 4 + i % 57;

		memcpy(e, &i, 4);
		for (size_t j = 4; j < len; j++)
			e[j] = (uint8_t)(i + j);
		if (!otlp_queue_push(&stress_q, e, len))
			__atomic_fetch_add(&stress_refused, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_queue_threads(void **state)
{
	static uint8_t out[4096];
	uint64_t got = 0;
	uint32_t last = 0, items, over = 0;
	bool first = true, done = false;
	pthread_t t;

	assert_int_equal(otlp_queue_init(&stress_q, 1000, 30), 0);
	assert_int_equal(pthread_create(&t, NULL, stress_producer, NULL), 0);
	while (!done) {
		size_t n, off = 0;

		done = __atomic_load_n(&stress_q.pushed, __ATOMIC_ACQUIRE) + __atomic_load_n(&stress_refused, __ATOMIC_ACQUIRE) == STRESS_N &&
		       otlp_queue_count(&stress_q) == 0;
		n = otlp_queue_pop(&stress_q, out, sizeof(out), 7, &items, &over);
		for (uint32_t k = 0; k < items; k++) {
			uint32_t seq;
			size_t len;

			memcpy(&seq, out + off, 4);
			len = 4 + seq % 57;
			assert_true(first || seq > last);
			for (size_t j = 4; j < len; j++)
				assert_int_equal(out[off + j], (uint8_t)(seq + j));
			off += len;
			last = seq;
			first = false;
			got++;
		}
		assert_int_equal(off, n);
	}
	pthread_join(t, NULL);
	assert_int_equal(over, 0);
	assert_int_equal(got + stress_refused, STRESS_N);
	assert_true(got > 0);
	otlp_queue_free(&stress_q);
}

/* ---- policy ---- */
static void test_sampling(void **state)
{
	uint64_t kept = 0;
	uint8_t t[16], s[8];

	for (uint64_t id = 1; id <= 100000; id++) {
		otlp_request_ids(&ids, id, t, s);
		assert_true(otlp_sampled(otlp_trace_key(t), OTLP_PER_MILLION));
		assert_false(otlp_sampled(otlp_trace_key(t), 0));
		kept += otlp_sampled(otlp_trace_key(t), 100000); /* 10 % */
	}
	/* the keys are a hash of the id: 10 % ± 1 % of 100,000 (binomial sd ≈ 95) */
	assert_true(kept > 9000 && kept < 11000);
	assert_true(otlp_sampled(999999, 1000000));
	assert_false(otlp_sampled(100, 100));
	assert_true(otlp_sampled(99, 100));
}

static void test_backoff(void **state)
{
	uint64_t prev_max = 0;

	assert_true(otlp_status_retryable(429));
	assert_true(otlp_status_retryable(502));
	assert_true(otlp_status_retryable(503));
	assert_true(otlp_status_retryable(504));
	assert_false(otlp_status_retryable(400));
	assert_false(otlp_status_retryable(413));
	assert_false(otlp_status_retryable(500));
	assert_false(otlp_status_retryable(200));
	for (unsigned a = 0; a < 70; a++) {
		uint64_t d = a < 6 ? 500ULL << a : 30000;
		uint64_t lo, hi;

		if (d > 30000)
			d = 30000;
		lo = otlp_backoff_ms(500, 30000, a, 0);
		hi = otlp_backoff_ms(500, 30000, a, d / 2);
		assert_int_equal(lo, d);          /* rnd 0: the full delay */
		assert_int_equal(hi, d - d / 2);  /* largest jitter: half */
		for (uint64_t r = 0; r < 50; r++) {
			uint64_t v = otlp_backoff_ms(500, 30000, a, r * 7919);

			assert_true(v >= d - d / 2 && v <= d);
		}
		assert_true(d >= prev_max);
		prev_max = d;
	}
	assert_int_equal(otlp_backoff_ms(0, 100, 3, 5), 0);
}

static void test_retry_after(void **state)
{
	uint64_t ms;

	assert_int_equal(otlp_retry_after_ms("120", 3, 600000, &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(otlp_retry_after_ms(" 5 ", 3, 600000, &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(otlp_retry_after_ms("0", 1, 600000, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(otlp_retry_after_ms("99999999999999999999", 20, 60000, &ms), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(otlp_retry_after_ms("Fri, 31 Dec 1999 23:59:59 GMT", 29, 60000, &ms), -1);
	assert_int_equal(otlp_retry_after_ms("", 0, 60000, &ms), -1);
	assert_int_equal(otlp_retry_after_ms("-1", 2, 60000, &ms), -1);
	assert_int_equal(otlp_retry_after_ms("1.5", 3, 60000, &ms), -1);
}

/* ---- HTTP ---- */
static void test_url(void **state)
{
	struct otlp_url u;
	char err[256];

	assert_int_equal(otlp_url_parse("http://127.0.0.1:4318", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "4318");
	assert_string_equal(u.path, "/v1/traces");
	assert_string_equal(u.hostport, "127.0.0.1:4318");
	assert_int_equal(otlp_url_parse("HTTP://collector/otlp/", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "collector");
	assert_string_equal(u.port, "80");
	assert_string_equal(u.path, "/otlp/v1/traces");
	assert_int_equal(otlp_url_parse("http://[::1]:4318/v1/traces", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.path, "/v1/traces");
	assert_string_equal(u.hostport, "[::1]:4318");
	assert_int_equal(otlp_url_parse("https://x:4318", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "https"));
	assert_int_equal(otlp_url_parse("grpc://x:4317", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://:4318", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://x:0", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://x:65536", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://x:43a8", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://x:", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://user:pw@x:4318", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://x:4318/a?b=c", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://x:4318/a b", &u, err, sizeof(err)), -1);
	assert_int_equal(otlp_url_parse("http://[::1", &u, err, sizeof(err)), -1);
}

static void test_request_head(void **state)
{
	struct otlp_url u;
	char err[128], head[512];
	size_t n;

	assert_int_equal(otlp_url_parse("http://127.0.0.1:4318", &u, err, sizeof(err)), 0);
	n = otlp_http_request_head(&u, 1234, head, sizeof(head));
	assert_true(n > 0);
	assert_string_equal(head, "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:4318\r\nUser-Agent: kapimon-otlp\r\n"
				  "Content-Type: application/x-protobuf\r\nContent-Length: 1234\r\n\r\n");
	assert_int_equal(otlp_http_request_head(&u, 1234, head, n), 0);
}

static void test_response_head(void **state)
{
	struct otlp_http_resp r;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\ncontent-length: 0\r\n\r\nX";
	const char *busy = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nConnection: close\r\n\r\n";
	const char *chunk = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	const char *h10 = "HTTP/1.0 429 Too Many\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n";

	assert_int_equal(otlp_http_parse_head(ok, strlen(ok), 60000, &r), (int)strlen(ok) - 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.content_length, 0);
	assert_false(r.close);
	assert_false(r.chunked);
	assert_int_equal(r.retry_after_ms, -1);
	for (size_t i = 0; i < strlen(ok) - 1; i++)
		assert_int_equal(otlp_http_parse_head(ok, i, 60000, &r), 0); /* incomplete */
	assert_true(otlp_http_parse_head(busy, strlen(busy), 60000, &r) > 0);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.retry_after_ms, 2000);
	assert_true(r.close);
	assert_true(otlp_http_parse_head(chunk, strlen(chunk), 60000, &r) > 0);
	assert_true(r.chunked);
	assert_int_equal(r.content_length, -1);
	assert_true(otlp_http_parse_head(h10, strlen(h10), 60000, &r) > 0);
	assert_int_equal(r.status, 429);
	assert_true(r.close); /* HTTP/1.0 without keep-alive */
	assert_int_equal(r.retry_after_ms, -1);
	assert_int_equal(otlp_http_parse_head("HTTP/2 200\r\n\r\n", 14, 60000, &r), -1);
	assert_int_equal(otlp_http_parse_head("HTTP/1.1 20 OK\r\n\r\n", 18, 60000, &r), -1);
	assert_int_equal(otlp_http_parse_head("HTTP/1.1 200 OK\r\nBroken\r\n\r\n", 27, 60000, &r), -1);
	assert_int_equal(otlp_http_parse_head("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 39, 60000, &r), -1);
}

static void test_dechunk(void **state)
{
	char in[] = "4\r\nab\r\n\r\n3;ext=1\r\ncde\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	size_t body, used, len = strlen(in);
	char partial[64];

	for (size_t i = 0; i < len - 4; i++) {
		memcpy(partial, in, i);
		assert_int_equal(otlp_http_dechunk((uint8_t *)partial, i, &body, &used), 0);
	}
	/* the same buffer growing, as the exporter reads it: an incomplete call must not change it */
	{
		char grow[sizeof(in)];

		memcpy(grow, in, sizeof(in));
		for (size_t i = 0; i < len - 4; i++)
			assert_int_equal(otlp_http_dechunk((uint8_t *)grow, i, &body, &used), 0);
		assert_memory_equal(grow, in, sizeof(in));
	}
	assert_int_equal(otlp_http_dechunk((uint8_t *)in, len, &body, &used), 1);
	assert_int_equal(body, 7);
	assert_memory_equal(in, "ab\r\ncde", 7);
	assert_int_equal(used, len - 4);
	{
		char bad[] = "zz\r\nab\r\n0\r\n\r\n";
		char bad2[] = "2\r\nabX0\r\n\r\n";

		assert_int_equal(otlp_http_dechunk((uint8_t *)bad, strlen(bad), &body, &used), -1);
		assert_int_equal(otlp_http_dechunk((uint8_t *)bad2, strlen(bad2), &body, &used), -1);
	}
}

/* The exporter's configuration checks and its counters without a receiver (nothing listens on the
 * port: every attempt fails at connect). The exchange with a receiver is tests/cli/test_otlp_export.sh. */
static void test_exporter_offline(void **state)
{
	struct otlp_exporter_config cfg;
	struct otlp_exporter_stats st;
	struct otlp_exporter *ex;
	struct request_record r = sample_request();
	struct etcd_record e = sample_etcd(42);
	char err[512];

	otlp_exporter_config_default(&cfg);
	assert_null(otlp_exporter_new(&cfg, err, sizeof(err))); /* no URL */
	cfg.url = "https://collector:4318";
	assert_null(otlp_exporter_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "https is not supported"));
	cfg.url = "http://127.0.0.1:1";
	cfg.batch_delay_ms = 0;
	assert_null(otlp_exporter_new(&cfg, err, sizeof(err)));
	cfg.batch_delay_ms = 1000;
	cfg.sample_per_million = OTLP_PER_MILLION + 1;
	assert_null(otlp_exporter_new(&cfg, err, sizeof(err)));
	cfg.sample_per_million = OTLP_PER_MILLION;
	cfg.backoff_initial_ms = 10;
	cfg.backoff_max_ms = 20;
	ex = otlp_exporter_new(&cfg, err, sizeof(err));
	assert_non_null(ex);
	assert_int_equal(otlp_exporter_add_etcd(ex, &e), 0);
	assert_int_equal(otlp_exporter_add_request(ex, &r), 0);
	e.stream = true;
	assert_int_equal(otlp_exporter_add_etcd(ex, &e), 1);
	otlp_exporter_stats(ex, &st);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.skipped, 1);
	otlp_exporter_close(ex, 0, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.failed, 2); /* nothing could be sent before the (zero) deadline */
	assert_int_equal(st.queue_len, 0);

	cfg.sample_per_million = 0;
	ex = otlp_exporter_new(&cfg, err, sizeof(err));
	assert_non_null(ex);
	assert_int_equal(otlp_exporter_add_request(ex, &r), 1);
	e.stream = false;
	assert_int_equal(otlp_exporter_add_etcd(ex, &e), 1);
	otlp_exporter_close(ex, 0, &st);
	assert_int_equal(st.sampled_out, 2);
	assert_int_equal(st.queued, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_span_etcd_cost),
		cmocka_unit_test(test_request_span),
		cmocka_unit_test(test_request_span_variants),
		cmocka_unit_test(test_etcd_span),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_small_buffers),
		cmocka_unit_test(test_export_request),
		cmocka_unit_test(test_decode_response),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_queue_threads),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_request_head),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_dechunk),
		cmocka_unit_test(test_exporter_offline),
	};

	otlp_ids_init(&ids, 0x1234);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
