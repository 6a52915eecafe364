// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The pipeline without BPF: raw ring-buffer events in, joined records and in-flight changes out to
 * every sink, in the documented order; bad events rejected and counted; the aggregate sink's
 * in-flight accounting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "aggregate/agg_sink.h"
#include "pipeline/pipeline.h"

/* ---- a recording sink: what it got, in order ---- */

enum what { W_REQ = 1, W_ETCD, W_START, W_ABANDON };

struct got {
	enum what what;
	uint64_t id;           /* request id / etcd request_id */
	char path[512];        /* request path / etcd key */
	uint16_t local_port;
	uint32_t pid;
	bool ongoing;
	char verb[24];
	bool has_cost; /* request: its etcd cost */
	uint64_t calls, bytes, kvs;
	int64_t resp_size, ekvs; /* etcd: what etcd returned */
};

struct rec_sink {
	struct got g[64];
	int n;
};

static void push(struct rec_sink *s, enum what w, uint64_t id, const char *path, uint16_t lp, bool ongoing,
		 const char *verb, uint32_t pid)
{
	if (s->n < 64) {
		struct got *g = &s->g[s->n];

		g->what = w;
		g->id = id;
		snprintf(g->path, sizeof(g->path), "%s", path);
		g->local_port = lp;
		g->ongoing = ongoing;
		g->pid = pid;
		snprintf(g->verb, sizeof(g->verb), "%s", verb);
	}
	s->n++;
}

static void s_req(void *ctx, const struct request_record *r)
{
	struct rec_sink *s = ctx;

	push(ctx, W_REQ, r->id, r->path, r->local_port, r->ongoing, r->ri.verb, r->apiserver_pid);
	if (s->n <= 64) {
		s->g[s->n - 1].has_cost = r->has_etcd_cost;
		s->g[s->n - 1].calls = r->etcd_calls;
		s->g[s->n - 1].bytes = r->etcd_resp_bytes;
		s->g[s->n - 1].kvs = r->etcd_kvs;
	}
}

static void s_etcd(void *ctx, const struct etcd_record *r)
{
	struct rec_sink *s = ctx;

	push(ctx, W_ETCD, r->request_id, r->key, 0, false, r->op, r->apiserver_pid);
	if (s->n <= 64) {
		s->g[s->n - 1].resp_size = r->resp_size;
		s->g[s->n - 1].ekvs = r->kvs;
	}
}

static void s_start(void *ctx, const struct request_record *r)
{
	push(ctx, W_START, r->id, r->path, r->local_port, r->ongoing, r->ri.verb, 0);
}

static void s_abandon(void *ctx, const struct request_record *r)
{
	push(ctx, W_ABANDON, r->id, r->path, r->local_port, r->ongoing, r->ri.verb, 0);
}

static struct pipeline_sink rec_iface(struct rec_sink *s)
{
	return (struct pipeline_sink){ .name = "test", .request = s_req, .etcd = s_etcd, .request_started = s_start,
				       .request_abandoned = s_abandon, .ctx = s };
}

/* ---- events ---- */

static void mk_start(struct kp_req_start *s, uint64_t conn, uint32_t sid, uint64_t ts, const char *method,
		     const char *path, const char *addr)
{
	memset(s, 0, sizeof(*s));
	s->hdr.type = KP_EV_REQ_START;
	s->hdr.ts_ns = ts;
	s->hdr.tgid = 4242;
	s->conn = conn;
	s->stream_id = sid;
	s->proto = KP_PROTO_H2;
	s->method_len = (uint16_t)strlen(method);
	memcpy(s->method, method, s->method_len);
	s->path_len = (uint16_t)strlen(path);
	memcpy(s->path, path, s->path_len);
	s->ua_len = 7;
	memcpy(s->ua, "kubelet", 7);
	s->addr_len = (uint16_t)strlen(addr);
	memcpy(s->addr, addr, s->addr_len);
	s->content_length = -1;
}

static void mk_end(struct kp_req_end *e, uint64_t conn, uint32_t sid, uint64_t ts, uint64_t ctx)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = KP_EV_REQ_END;
	e->hdr.ts_ns = ts;
	e->hdr.tgid = 4242;
	e->conn = conn;
	e->stream_id = sid;
	e->proto = KP_PROTO_H2;
	e->status = 200;
	e->bytes_out = 10;
	e->bytes_in = -1;
	e->ctx = ctx;
}

static void mk_conn(struct kp_conn_event *c, const char *peer_ip, uint16_t peer_port, uint16_t local_port,
		    uint8_t established)
{
	memset(c, 0, sizeof(*c));
	c->hdr.type = KP_EV_CONN;
	c->family = AF_INET;
	c->local_port = local_port;
	c->peer_port = peer_port;
	c->established = established;
	inet_pton(AF_INET, peer_ip, c->peer_addr);
}

static void mk_grpc_start(struct kp_grpc_start *s, uint64_t g, uint64_t ts, const char *key, uint64_t ctx)
{
	size_t n = strlen(key);

	memset(s, 0, sizeof(*s));
	s->hdr.type = KP_EV_GRPC_START;
	s->hdr.ts_ns = ts;
	s->hdr.tgid = 4242;
	s->hdr.goid_g = g;
	s->stream = 0x5000 + g;
	s->method_len = (uint16_t)strlen("/etcdserverpb.KV/Range");
	memcpy(s->method, "/etcdserverpb.KV/Range", s->method_len);
	s->payload[0] = 1 << 3 | 2; /* field 1 (key), length-delimited */
	s->payload[1] = (uint8_t)n;
	memcpy(s->payload + 2, key, n);
	s->payload_len = (uint32_t)(n + 2);
	s->payload_copied = (uint16_t)(n + 2);
	s->ctx_chain[0] = 0xc1;
	s->ctx_chain[1] = ctx;
	s->ctx_chain[2] = 0xba5e;
	s->nctx = 3;
}

static void mk_grpc_end(struct kp_grpc_end *e, uint64_t g, uint64_t ts)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = KP_EV_GRPC_END;
	e->hdr.ts_ns = ts;
	e->hdr.tgid = 4242;
	e->hdr.goid_g = g;
}

static struct pipeline *mk_pipeline(bool etcd)
{
	struct pipeline_opts o = { .mono_to_wall_ns = 1000, .etcd = etcd, .etcd_link_hold_ns = 1000000 };

	return pipeline_new(&o);
}

/* Requests are joined with their connection's local port (seeded and live connections) and
 * delivered to every sink; started precedes the record. */
static void test_requests_joined_to_every_sink(void **state)
{
	struct pipeline *p = mk_pipeline(false);
	struct rec_sink a = { 0 }, b = { 0 };
	struct pipeline_sink sa = rec_iface(&a), sb = rec_iface(&b);
	struct kp_conn_event c;
	struct kp_req_start s;
	struct kp_req_end e;

	assert_non_null(p);
	assert_int_equal(pipeline_add_sink(p, &sa), 0);
	assert_int_equal(pipeline_add_sink(p, &sb), 0);
	mk_conn(&c, "10.0.0.1", 5000, 6443, KP_CONN_SEEDED);
	assert_int_equal(pipeline_feed(p, &c, sizeof(c)), 0);
	mk_conn(&c, "10.0.0.2", 5001, 8443, 1);
	assert_int_equal(pipeline_feed(p, &c, sizeof(c)), 0);
	assert_int_equal(pipeline_conn_stats(p)->seeded, 1);
	assert_int_equal(pipeline_conn_stats(p)->opened, 1);

	mk_start(&s, 0x100, 1, 100, "GET", "/api/v1/namespaces/default/pods", "10.0.0.1:5000");
	assert_int_equal(pipeline_feed(p, &s, sizeof(s)), 0);
	mk_start(&s, 0x200, 1, 110, "GET", "/api/v1/nodes/n1", "10.0.0.2:5001");
	assert_int_equal(pipeline_feed(p, &s, sizeof(s)), 0);
	assert_int_equal(pipeline_pending(p), 2);
	mk_end(&e, 0x200, 1, 200, 0);
	assert_int_equal(pipeline_feed(p, &e, sizeof(e)), 0);
	mk_end(&e, 0x100, 1, 300, 0);
	assert_int_equal(pipeline_feed(p, &e, sizeof(e)), 0);

	assert_int_equal(a.n, 4);
	assert_int_equal(b.n, 4);
	assert_int_equal(a.g[0].what, W_START);
	assert_string_equal(a.g[0].verb, "list"); /* classified at start */
	assert_int_equal(a.g[1].what, W_START);
	assert_int_equal(a.g[2].what, W_REQ);
	assert_string_equal(a.g[2].path, "/api/v1/nodes/n1");
	assert_int_equal(a.g[2].local_port, 8443);
	assert_int_equal(a.g[2].pid, 4242);
	assert_string_equal(a.g[2].verb, "get");
	assert_int_equal(a.g[3].what, W_REQ);
	assert_int_equal(a.g[3].local_port, 6443);
	assert_true(a.g[2].id != a.g[3].id);
	assert_memory_equal(&a.g[2], &b.g[2], sizeof(a.g[2]));
	assert_int_equal(pipeline_get_stats(p)->requests, 2);
	assert_int_equal(pipeline_pending(p), 0);
	pipeline_free(p);
}

/* The etcd join asks the pipeline which contexts are requests': an authenticated request in flight
 * (its start keyed by its context) and a held end are; a generic start in flight is not (its calls are
 * indexed whole), and a request that started after a call is not that call's. All link either way. */
static void test_calls_indexed_under_known_request(void **state)
{
	struct pipeline *p = mk_pipeline(true);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_req_start s;
	struct kp_req_end e;
	struct kp_grpc_start gs;
	struct kp_grpc_end ge;

	pipeline_add_sink(p, &sa);
	/* A: authenticated, keyed by its context 0xa0a0, in flight while its call ends */
	mk_start(&s, 0xa0a0, KP_SID_CTX, 100, "GET", "/api/v1/namespaces/default/pods", "10.0.0.1:5000");
	s.authn = KP_AUTHN_OK;
	pipeline_feed(p, &s, sizeof(s));
	/* B: a generic start (connection 0x200, stream 5): its context is known only at its end */
	mk_start(&s, 0x200, 5, 100, "GET", "/api/v1/namespaces/default/secrets", "10.0.0.2:5000");
	pipeline_feed(p, &s, sizeof(s));
	mk_grpc_start(&gs, 1, 110, "/registry/pods/default/", 0xa0a0);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 1, 120);
	pipeline_feed(p, &ge, sizeof(ge));
	assert_int_equal(pipeline_etcd_stats(p)->held_narrow, 1);
	mk_grpc_start(&gs, 2, 110, "/registry/secrets/default/", 0xb0b0);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 2, 120);
	pipeline_feed(p, &ge, sizeof(ge));
	assert_int_equal(pipeline_etcd_stats(p)->held_narrow, 1); /* B's context is not known yet */
	/* C: authenticated, context 0xc0c0, started at 300: a call that started at 250 is not its */
	mk_start(&s, 0xc0c0, KP_SID_CTX, 300, "GET", "/api/v1/nodes", "10.0.0.3:5000");
	s.authn = KP_AUTHN_OK;
	pipeline_feed(p, &s, sizeof(s));
	mk_grpc_start(&gs, 3, 250, "/registry/minions/", 0xc0c0);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 3, 260);
	pipeline_feed(p, &ge, sizeof(ge));
	assert_int_equal(pipeline_etcd_stats(p)->held_narrow, 1);
	mk_end(&e, 0xa0a0, KP_SID_CTX, 400, 0xa0a0);
	pipeline_feed(p, &e, sizeof(e));
	mk_end(&e, 0x200, 5, 400, 0xb0b0);
	pipeline_feed(p, &e, sizeof(e));
	mk_end(&e, 0xc0c0, KP_SID_CTX, 400, 0xc0c0);
	pipeline_feed(p, &e, sizeof(e));
	pipeline_rings_read(p);
	assert_int_equal(a.n, 3 + 3 + 2); /* 3 starts, 3 records, the linked calls of A and B */
	for (int i = 3, req = 0; i < a.n; i++) {
		if (a.g[i].what == W_REQ) {
			req = i;
			assert_int_equal(a.g[i].calls, strstr(a.g[i].path, "nodes") ? 0 : 1);
		} else {
			assert_int_equal(a.g[i].what, W_ETCD);
			assert_int_equal(a.g[i].id, a.g[req].id);
		}
	}
	pipeline_flush(p, 1000);
	assert_int_equal(a.n, 3 + 3 + 3); /* C's call, unlinked */
	assert_int_equal(a.g[8].what, W_ETCD);
	assert_int_equal(a.g[8].id, 0);
	pipeline_free(p);
}

/* With etcd capture a request's end is held until the rings were read; a new request on the same key
 * (an h1 connection's next request) meanwhile is a new request, not a replacement of the held one,
 * and each record keeps its own start. */
static void test_key_reused_while_end_held(void **state)
{
	struct pipeline *p = mk_pipeline(true);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_req_start s;
	struct kp_req_end e;

	assert_non_null(p);
	assert_int_equal(pipeline_add_sink(p, &sa), 0);
	mk_start(&s, 0x700, 0, 100, "GET", "/api/v1/namespaces/a/pods", "10.0.0.7:5000");
	assert_int_equal(pipeline_feed(p, &s, sizeof(s)), 0);
	mk_end(&e, 0x700, 0, 200, 0x9000);
	assert_int_equal(pipeline_feed(p, &e, sizeof(e)), 0);
	mk_start(&s, 0x700, 0, 300, "GET", "/api/v1/namespaces/b/configmaps", "10.0.0.7:5000");
	assert_int_equal(pipeline_feed(p, &s, sizeof(s)), 0);
	assert_int_equal(pipeline_pending(p), 1);
	mk_end(&e, 0x700, 0, 450, 0x9100);
	assert_int_equal(pipeline_feed(p, &e, sizeof(e)), 0);
	assert_int_equal(a.n, 2); /* the two starts; both ends held */
	pipeline_rings_read(p);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.g[2].what, W_REQ);
	assert_string_equal(a.g[2].path, "/api/v1/namespaces/a/pods");
	assert_int_equal(a.g[3].what, W_REQ);
	assert_string_equal(a.g[3].path, "/api/v1/namespaces/b/configmaps");
	assert_true(a.g[2].id < a.g[3].id);
	assert_int_equal(pipeline_asm_stats(p)->replaced, 0);
	assert_int_equal(pipeline_get_stats(p)->requests, 2);
	pipeline_free(p);
}

/* An etcd call that ended before its request is held and delivered right after the request's
 * record, linked to its id; one that ends after the request is linked too. */
static void test_etcd_joined_after_its_request(void **state)
{
	struct pipeline *p = mk_pipeline(true);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_req_start s;
	struct kp_req_end e;
	struct kp_grpc_start gs;
	struct kp_grpc_end ge;

	pipeline_add_sink(p, &sa);
	mk_start(&s, 0x100, 3, 100, "GET", "/api/v1/namespaces/default/configmaps/x", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	mk_grpc_start(&gs, 7, 110, "/registry/configmaps/default/x", 0xc7c7);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 7, 120);
	pipeline_feed(p, &ge, sizeof(ge));
	assert_int_equal(a.n, 1); /* only the start: the call waits for its request */
	mk_end(&e, 0x100, 3, 200, 0xc7c7);
	pipeline_feed(p, &e, sizeof(e));
	assert_int_equal(a.n, 1); /* the request waits until every ring was read once more */
	pipeline_rings_read(p);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.g[1].what, W_REQ);
	assert_int_equal(a.g[2].what, W_ETCD);
	assert_string_equal(a.g[2].path, "/registry/configmaps/default/x");
	assert_int_equal(a.g[2].id, a.g[1].id);
	assert_int_equal(a.g[2].pid, 4242);

	/* a call on that context that starts after the request ended is not its call: held for the
	 * link hold, then delivered unlinked by the housekeeping tick */
	mk_grpc_start(&gs, 8, 210, "/registry/configmaps/default/y", 0xc7c7);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 8, 220);
	pipeline_feed(p, &ge, sizeof(ge));
	assert_int_equal(a.n, 3);
	pipeline_tick(p, 220 + 2000000);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.g[3].what, W_ETCD);
	assert_int_equal(a.g[3].id, 0);
	assert_int_equal(pipeline_get_stats(p)->etcd_records, 2);
	assert_non_null(pipeline_etcd_stats(p));
	pipeline_free(p);
}

/* With etcd capture a finished request waits for the rings to be read once more, so the calls that
 * ended before it but are read after it (another ring) are summed in its record: calls, response bytes,
 * key-values of its Ranges; what etcd returned is in each call's record. Without etcd: no cost. */
static void test_request_etcd_cost(void **state)
{
	struct pipeline *p = mk_pipeline(true);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_req_start s;
	struct kp_req_end e;
	struct kp_grpc_start gs;
	struct kp_grpc_end ge;

	pipeline_add_sink(p, &sa);
	mk_start(&s, 0x100, 3, 100, "GET", "/api/v1/namespaces/default/configmaps", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	/* the request's end is read first (its ring), then its two calls */
	mk_end(&e, 0x100, 3, 200, 0xc7c7);
	pipeline_feed(p, &e, sizeof(e));
	mk_grpc_start(&gs, 7, 110, "/registry/configmaps/default/", 0xc7c7);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 7, 120);
	ge.flags = KP_END_RESP_SIZE | KP_END_RANGE;
	ge.resp_size = 5000;
	ge.range_kvs = 40;
	ge.range_count = 55;
	ge.range_more = 1;
	pipeline_feed(p, &ge, sizeof(ge));
	mk_grpc_start(&gs, 8, 130, "/registry/configmaps/default/", 0xc7c7);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 8, 140);
	ge.flags = KP_END_RANGE; /* no parser header: the RangeResponse's encoded size */
	ge.resp_size = 1500;
	ge.range_kvs = 15;
	ge.range_count = 15;
	ge.range_more = 0;
	pipeline_feed(p, &ge, sizeof(ge));
	/* a failed call counts, with no bytes */
	mk_grpc_start(&gs, 9, 150, "/registry/configmaps/default/x", 0xc7c7);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 9, 160);
	ge.is_err = 1;
	ge.code = 4;
	ge.flags = KP_END_RESP_SIZE;
	ge.resp_size = 77;
	pipeline_feed(p, &ge, sizeof(ge));
	assert_int_equal(a.n, 1);
	/* the request's end is held: its calls were indexed under its context alone */
	assert_int_equal(pipeline_etcd_stats(p)->held_narrow, 3);
	pipeline_rings_read(p);
	assert_int_equal(a.n, 5);
	assert_int_equal(a.g[1].what, W_REQ);
	assert_true(a.g[1].has_cost);
	assert_int_equal(a.g[1].calls, 3);
	assert_int_equal(a.g[1].bytes, 6500);
	assert_int_equal(a.g[1].kvs, 55);
	{
		/* the calls follow their request (in any order) */
		int seen = 0;

		for (int i = 2; i < 5; i++) {
			assert_int_equal(a.g[i].what, W_ETCD);
			assert_int_equal(a.g[i].id, a.g[1].id);
			if (a.g[i].resp_size == 5000 && a.g[i].ekvs == 40)
				seen |= 1;
			if (a.g[i].resp_size == 1500 && a.g[i].ekvs == 15)
				seen |= 2;
			if (a.g[i].resp_size == -1 && a.g[i].ekvs == -1) /* the failed call */
				seen |= 4;
		}
		assert_int_equal(seen, 7);
	}
	assert_int_equal(pipeline_get_stats(p)->cost_deferred, 1);
	assert_int_equal(pipeline_get_stats(p)->cost_early, 0);
	pipeline_free(p);

	/* more finished requests than the pipeline holds: the oldest go early (counted), none is lost */
	p = mk_pipeline(true);
	memset(&a, 0, sizeof(a));
	pipeline_add_sink(p, &sa);
	for (uint64_t i = 0; i < PIPELINE_DEFER_CAP + 5; i++) {
		mk_start(&s, 0x1000 + i, 1, 1000 + 10 * i, "GET", "/api/v1/pods", "10.0.0.1:5000");
		pipeline_feed(p, &s, sizeof(s));
		mk_end(&e, 0x1000 + i, 1, 1005 + 10 * i, 0xd000 + i);
		pipeline_feed(p, &e, sizeof(e));
	}
	assert_int_equal(pipeline_get_stats(p)->cost_early, 5);
	pipeline_tick(p, 1000000);
	assert_int_equal(pipeline_get_stats(p)->requests, PIPELINE_DEFER_CAP + 5);
	pipeline_free(p);

	/* a call end of the earlier layout (recorded corpora, before the response fields) is still a call
	 * end, with no response known */
	p = mk_pipeline(true);
	memset(&a, 0, sizeof(a));
	pipeline_add_sink(p, &sa);
	mk_grpc_start(&gs, 7, 110, "/registry/configmaps/default/x", 0);
	pipeline_feed(p, &gs, sizeof(gs));
	mk_grpc_end(&ge, 7, 120);
	ge.flags = KP_END_RANGE; /* beyond the old layout: not read */
	assert_int_equal(pipeline_feed(p, &ge, offsetof(struct kp_grpc_end, resp_size)), 0);
	assert_int_equal(pipeline_get_stats(p)->bad_events, 0);
	pipeline_flush(p, 10000000);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.g[0].what, W_ETCD);
	assert_int_equal(a.g[0].resp_size, -1);
	assert_int_equal(a.g[0].ekvs, -1);
	assert_int_equal(pipeline_feed(p, &ge, offsetof(struct kp_grpc_end, resp_size) - 1), -EINVAL);
	pipeline_free(p);

	/* without etcd capture: delivered at once, no cost */
	p = mk_pipeline(false);
	memset(&a, 0, sizeof(a));
	pipeline_add_sink(p, &sa);
	mk_start(&s, 0x100, 3, 100, "GET", "/api/v1/pods", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	mk_end(&e, 0x100, 3, 200, 0xc7c7);
	pipeline_feed(p, &e, sizeof(e));
	assert_int_equal(a.n, 2);
	assert_false(a.g[1].has_cost);
	pipeline_free(p);
}

/* A replaced start is abandoned (its end was lost); flush delivers what still runs as ongoing. */
static void test_abandon_and_flush(void **state)
{
	struct pipeline *p = mk_pipeline(false);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_req_start s;

	pipeline_add_sink(p, &sa);
	mk_start(&s, 0x100, 5, 100, "GET", "/api/v1/pods", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	mk_start(&s, 0x100, 5, 150, "GET", "/api/v1/nodes", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	assert_int_equal(a.n, 3);
	assert_int_equal(a.g[0].what, W_START);
	assert_int_equal(a.g[1].what, W_ABANDON);
	assert_string_equal(a.g[1].path, "/api/v1/pods");
	assert_int_equal(a.g[2].what, W_START);
	assert_int_equal(pipeline_get_stats(p)->abandoned, 1);
	pipeline_flush(p, 400);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.g[3].what, W_REQ);
	assert_true(a.g[3].ongoing);
	assert_string_equal(a.g[3].path, "/api/v1/nodes");
	assert_int_equal(pipeline_pending(p), 0);
	pipeline_free(p);
}

/* Two apiserver processes: the same connection pointer and stream id in both are different requests;
 * ids stay unique, records say which apiserver; one exiting flushes only its own requests. */
static void test_two_apiservers(void **state)
{
	struct pipeline *p = mk_pipeline(true);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_req_start s;
	struct kp_req_end e;
	uint32_t pids[4];

	pipeline_add_sink(p, &sa);
	mk_start(&s, 0xc000100000, 1, 100, "GET", "/api/v1/pods", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	s.hdr.tgid = 777;
	s.hdr.ts_ns = 110;
	pipeline_feed(p, &s, sizeof(s));
	assert_int_equal(pipeline_pending(p), 2);
	assert_int_equal(pipeline_get_stats(p)->abandoned, 0); /* not a replaced start */
	assert_int_equal(pipeline_sources(p, pids, 4), 2);
	mk_end(&e, 0xc000100000, 1, 200, 0);
	e.hdr.tgid = 777;
	pipeline_feed(p, &e, sizeof(e));
	pipeline_rings_read(p);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.g[2].what, W_REQ);
	assert_int_equal(a.g[2].pid, 777);
	/* 4242 exits: its request is delivered as ongoing, its lane goes */
	pipeline_source_gone(p, 4242, 300);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.g[3].what, W_REQ);
	assert_true(a.g[3].ongoing);
	assert_int_equal(a.g[3].pid, 4242);
	assert_true(a.g[3].id != a.g[2].id);
	assert_int_equal(pipeline_sources(p, pids, 4), 1);
	assert_int_equal(pids[0], 777);
	assert_int_equal(pipeline_pending(p), 0);
	/* counters of the gone apiserver stay in the totals */
	assert_int_equal(pipeline_asm_stats(p)->started, 2);
	assert_int_equal(pipeline_asm_stats(p)->finished, 1);
	assert_int_equal(pipeline_asm_stats(p)->ongoing, 1);
	assert_int_equal(pipeline_get_stats(p)->sources_gone, 1);
	/* a later start of a new process (restart) gets a fresh lane */
	s.hdr.tgid = 888;
	pipeline_feed(p, &s, sizeof(s));
	assert_int_equal(pipeline_pending(p), 1);
	pipeline_free(p);
}

/* pending_closed_grace_ns: a request whose connection closed (its end lost) is abandoned by the tick. */
static void test_pending_expires_after_close(void **state)
{
	struct pipeline_opts o = { .mono_to_wall_ns = 1000, .pending_closed_grace_ns = 5000 };
	struct pipeline *p = pipeline_new(&o);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_conn_event c;
	struct kp_req_start s;

	pipeline_add_sink(p, &sa);
	mk_conn(&c, "10.0.0.9", 7000, 6443, 1);
	c.hdr.ts_ns = 50;
	pipeline_feed(p, &c, sizeof(c));
	mk_start(&s, 0x900, 1, 100, "GET", "/api/v1/pods", "10.0.0.9:7000");
	pipeline_feed(p, &s, sizeof(s));
	mk_conn(&c, "10.0.0.9", 7000, 6443, 0);
	c.hdr.ts_ns = 1000;
	pipeline_feed(p, &c, sizeof(c));
	pipeline_tick(p, 1000 + 4999);
	assert_int_equal(pipeline_pending(p), 1);
	pipeline_tick(p, 1000 + 5000);
	assert_int_equal(pipeline_pending(p), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.g[1].what, W_ABANDON);
	assert_int_equal(pipeline_asm_stats(p)->expired, 1);
	pipeline_free(p);
}

/* More apiservers than lanes: counted, not assembled, never crashing. */
static void test_too_many_apiservers(void **state)
{
	struct pipeline *p = mk_pipeline(false);
	struct kp_req_start s;

	mk_start(&s, 0x100, 1, 100, "GET", "/api/v1/pods", "10.0.0.1:5000");
	for (uint32_t i = 0; i < PIPELINE_MAX_SOURCES + 3; i++) {
		s.hdr.tgid = 1000 + i;
		assert_int_equal(pipeline_feed(p, &s, sizeof(s)), i < PIPELINE_MAX_SOURCES ? 0 : -ENOSPC);
	}
	assert_int_equal(pipeline_get_stats(p)->no_lane, 3);
	assert_int_equal(pipeline_pending(p), PIPELINE_MAX_SOURCES);
	pipeline_free(p);
}

/* Unknown types and short events are rejected and counted, never read past their size. */
static void test_bad_events(void **state)
{
	struct pipeline *p = mk_pipeline(true);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);
	struct kp_req_start s;
	struct kp_event_hdr h = { .type = 99 };

	pipeline_add_sink(p, &sa);
	mk_start(&s, 0x100, 1, 100, "GET", "/api/v1/pods", "10.0.0.1:5000");
	assert_int_equal(pipeline_feed(p, &s, sizeof(s) - 1), -EINVAL);
	assert_int_equal(pipeline_feed(p, &s, 4), -EINVAL);
	assert_int_equal(pipeline_feed(p, &h, sizeof(h)), -EINVAL);
	h.type = 0;
	assert_int_equal(pipeline_feed(p, &h, sizeof(h)), -EINVAL);
	assert_int_equal(pipeline_feed(p, NULL, 0), -EINVAL);
	assert_int_equal(a.n, 0);
	assert_int_equal(pipeline_get_stats(p)->bad_events, 5);
	assert_int_equal(pipeline_get_stats(p)->events, 5);
	pipeline_free(p);
}

static void test_sink_limit(void **state)
{
	struct pipeline *p = mk_pipeline(false);
	struct rec_sink a = { 0 };
	struct pipeline_sink sa = rec_iface(&a);

	for (int i = 0; i < PIPELINE_MAX_SINKS; i++)
		assert_int_equal(pipeline_add_sink(p, &sa), 0);
	assert_int_equal(pipeline_add_sink(p, &sa), -ENOSPC);
	pipeline_free(p);
}

/* The aggregate sink's in-flight count: a snapshot of the pending requests (a replaced start, a
 * finished or an expired request leaves nothing behind). */
static int64_t total_inflight(struct agg *g)
{
	const struct agg_cum *cum;
	int64_t inflight = -1;
	bool other;

	assert_int_equal(agg_table_size(g, AGG_TOTAL), 1);
	agg_table_entry(g, AGG_TOTAL, 0, &cum, &inflight, &other);
	return inflight;
}

static void test_agg_sink_inflight(void **state)
{
	struct pipeline *p = mk_pipeline(false);
	struct agg *g = agg_new(NULL, 0);
	struct agg_sink as;
	struct pipeline_sink si;
	struct kp_req_start s;
	struct kp_req_end e;

	assert_non_null(g);
	agg_sink_init(&as, g, NULL);
	si = agg_sink_iface(&as);
	pipeline_add_sink(p, &si);
	mk_start(&s, 0x100, 1, 100, "GET", "/api/v1/pods", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	mk_start(&s, 0x100, 3, 100, "GET", "/api/v1/pods", "10.0.0.1:5000");
	pipeline_feed(p, &s, sizeof(s));
	agg_sink_inflight_snapshot(&as, p);
	assert_int_equal(total_inflight(g), 2);
	mk_start(&s, 0x100, 3, 120, "GET", "/api/v1/pods", "10.0.0.1:5000"); /* replaces stream 3's start */
	pipeline_feed(p, &s, sizeof(s));
	agg_sink_inflight_snapshot(&as, p);
	assert_int_equal(total_inflight(g), 2);
	mk_end(&e, 0x100, 1, 200, 0);
	pipeline_feed(p, &e, sizeof(e));
	agg_sink_inflight_snapshot(&as, p);
	assert_int_equal(total_inflight(g), 1);
	assert_int_equal(agg_get_stats(g)->records, 1);
	pipeline_flush(p, 300); /* stream 3 ongoing: no longer in flight, not counted */
	agg_sink_inflight_snapshot(&as, p);
	assert_int_equal(total_inflight(g), 0);
	assert_int_equal(agg_get_stats(g)->records, 1);
	pipeline_free(p);
	agg_free(g);
}

/* Connection events become conn records, delivered to every sink that takes them (and only opens and
 * closes of known connections: an unknown close is counted, not delivered). */
static int nconn[2];
static struct conn_record last_conn;

static void c_conn(void *ctx, const struct conn_record *r)
{
	nconn[*(int *)ctx]++;
	last_conn = *r;
}

static void test_conn_records_to_sinks(void **state)
{
	struct pipeline *p = mk_pipeline(false);
	int ia = 0, ib = 1;
	struct pipeline_sink sa = { .name = "a", .conn = c_conn, .ctx = &ia }, sb = { .name = "b", .conn = c_conn, .ctx = &ib };
	struct rec_sink none = { 0 };
	struct pipeline_sink sc = rec_iface(&none); /* a sink without a conn callback */
	struct kp_conn_event c;

	assert_non_null(p);
	nconn[0] = nconn[1] = 0;
	assert_int_equal(pipeline_add_sink(p, &sa), 0);
	assert_int_equal(pipeline_add_sink(p, &sb), 0);
	assert_int_equal(pipeline_add_sink(p, &sc), 0);
	mk_conn(&c, "10.0.0.2", 5001, 8443, KP_CONN_OPEN);
	assert_int_equal(pipeline_feed(p, &c, sizeof(c)), 0);
	mk_conn(&c, "10.0.0.2", 5001, 8443, KP_CONN_CLOSE);
	c.hdr.ts_ns = 5000;
	assert_int_equal(pipeline_feed(p, &c, sizeof(c)), 0);
	mk_conn(&c, "10.0.0.3", 5001, 8443, KP_CONN_CLOSE);
	assert_int_equal(pipeline_feed(p, &c, sizeof(c)), 0);
	assert_int_equal(nconn[0], 2);
	assert_int_equal(nconn[1], 2);
	assert_int_equal(last_conn.event, REC_CONN_CLOSE);
	assert_string_equal(last_conn.peer, "10.0.0.2:5001");
	assert_int_equal(pipeline_get_stats(p)->conn_records, 2);
	assert_int_equal(none.n, 0);
	pipeline_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_records_to_sinks),
		cmocka_unit_test(test_requests_joined_to_every_sink),
		cmocka_unit_test(test_key_reused_while_end_held),
		cmocka_unit_test(test_calls_indexed_under_known_request),
		cmocka_unit_test(test_etcd_joined_after_its_request),
		cmocka_unit_test(test_request_etcd_cost),
		cmocka_unit_test(test_abandon_and_flush),
		cmocka_unit_test(test_two_apiservers),
		cmocka_unit_test(test_too_many_apiservers),
		cmocka_unit_test(test_pending_expires_after_close),
		cmocka_unit_test(test_bad_events),
		cmocka_unit_test(test_sink_limit),
		cmocka_unit_test(test_agg_sink_inflight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
