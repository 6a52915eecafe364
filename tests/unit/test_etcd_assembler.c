// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* etcd assembly: unary pairing by goroutine, protobuf decode, request linking in both event
 * orders, hold expiry, stream accounting, malformed and cut messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/etcd_assembler.h"

#define MAXREC 64
static struct etcd_record got[MAXREC];
static int ngot;

static void cb(const struct etcd_record *r, void *ctx)
{
	(void)ctx;
	if (ngot < MAXREC)
		got[ngot] = *r;
	ngot++;
}

/* protobuf: field 1 (key), length-delimited */
static size_t pb_key(uint8_t *buf, uint8_t field, const char *key)
{
	size_t n = strlen(key);

	buf[0] = (uint8_t)(field << 3 | 2);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, key, n);
	return n + 2;
}

static void mk_start(struct kp_grpc_start *s, uint64_t g, uint64_t ts, const char *method, const uint8_t *msg,
		     size_t len, const uint64_t *chain, int nchain)
{
	memset(s, 0, sizeof(*s));
	s->hdr.type = KP_EV_GRPC_START;
	s->hdr.ts_ns = ts;
	s->hdr.goid_g = g;
	s->stream = 0x5000 + g;
	s->method_len = strlen(method);
	memcpy(s->method, method, s->method_len);
	memcpy(s->payload, msg, len);
	s->payload_len = (uint32_t)len;
	s->payload_copied = (uint16_t)len;
	for (int i = 0; i < nchain; i++)
		s->ctx_chain[i] = chain[i];
	s->nctx = (uint8_t)nchain;
}

static void mk_end(struct kp_grpc_end *e, uint64_t g, uint64_t ts, int err_code)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = KP_EV_GRPC_END;
	e->hdr.ts_ns = ts;
	e->hdr.goid_g = g;
	e->is_err = err_code != 0;
	e->code = err_code;
}

static const uint64_t chain_a[] = { 0xa1, 0xa2, 0xa3, 0xba5e };

static void test_link_after_and_before_request_end(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, cb, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	uint8_t msg[64];
	size_t n;

	ngot = 0;
	/* call ends first, request ends later: held, then linked */
	n = pb_key(msg, 1, "/registry/leases/kube-node-lease/n1");
	mk_start(&s, 7, 100, "/etcdserverpb.KV/Range", msg, n, chain_a, 4);
	etcd_asm_start(a, &s);
	mk_end(&e, 7, 130, 0);
	etcd_asm_end(a, &e);
	assert_int_equal(ngot, 0);
	etcd_asm_request_done(a, 0xa2, 90, 200, 42);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0].request_id, 42);
	assert_string_equal(got[0].op, "range");
	assert_string_equal(got[0].key, "/registry/leases/kube-node-lease/n1");
	assert_string_equal(got[0].resource, "leases");
	assert_string_equal(got[0].group, "coordination.k8s.io");
	assert_int_equal(got[0].latency_ns, 30);
	assert_int_equal(got[0].grpc_status, 0);

	/* request ended first (events from the other ring came earlier): linked at call end */
	etcd_asm_request_done(a, 0xb2, 300, 400, 43);
	mk_start(&s, 8, 310, "/etcdserverpb.KV/Range", msg, n, (const uint64_t[]){ 0xb1, 0xb2 }, 2);
	etcd_asm_start(a, &s);
	mk_end(&e, 8, 320, 5 /* NotFound */);
	etcd_asm_end(a, &e);
	assert_int_equal(ngot, 2);
	assert_int_equal(got[1].request_id, 43);
	assert_int_equal(got[1].grpc_status, 5);
	assert_int_equal(etcd_asm_get_stats(a)->linked, 2);
	etcd_asm_free(a);
}

static void test_unlinked_after_hold_and_time_window(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, cb, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	uint8_t msg[64];
	size_t n = pb_key(msg, 1, "/registry/configmaps/default/x");

	ngot = 0;
	mk_start(&s, 9, 5000, "/etcdserverpb.KV/Range", msg, n, chain_a, 4);
	etcd_asm_start(a, &s);
	mk_end(&e, 9, 5010, 0);
	etcd_asm_end(a, &e);
	/* a request with the same ctx that ended before the call started is not its parent */
	etcd_asm_request_done(a, 0xa2, 1000, 2000, 50);
	assert_int_equal(ngot, 0);
	etcd_asm_tick(a, 5500);
	assert_int_equal(ngot, 0);
	etcd_asm_tick(a, 6001);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0].request_id, 0);
	assert_int_equal(etcd_asm_get_stats(a)->unlinked, 1);
	etcd_asm_free(a);

	/* the same, the request remembered before the call ends: its context is found among the recent
	 * requests, not taken, and the search goes on to the end of its bucket's (one-entry) chain */
	a = etcd_asm_new(0, 1000, cb, NULL);
	ngot = 0;
	etcd_asm_request_done(a, 0xa2, 1000, 2000, 50);
	mk_start(&s, 9, 5000, "/etcdserverpb.KV/Range", msg, n, chain_a, 4);
	etcd_asm_start(a, &s);
	mk_end(&e, 9, 5010, 0);
	etcd_asm_end(a, &e);
	assert_int_equal(ngot, 0);
	etcd_asm_flush(a);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0].request_id, 0);
	etcd_asm_free(a);
}

static void test_txn_and_retry(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, cb, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	uint8_t cmp[64], msg[80];
	size_t cn = pb_key(cmp, 3, "/registry/configmaps/default/cm1"), n;

	ngot = 0;
	msg[0] = 0x0a; /* TxnRequest.compare */
	msg[1] = (uint8_t)cn;
	memcpy(msg + 2, cmp, cn);
	n = cn + 2;
	mk_start(&s, 11, 10, "/etcdserverpb.KV/Txn", msg, n, NULL, 0);
	etcd_asm_start(a, &s);
	mk_start(&s, 11, 20, "/etcdserverpb.KV/Txn", msg, n, NULL, 0); /* a retry on the same goroutine */
	etcd_asm_start(a, &s);
	mk_end(&e, 11, 25, 0);
	etcd_asm_end(a, &e);
	etcd_asm_flush(a);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0].op, "txn");
	assert_string_equal(got[0].key, "/registry/configmaps/default/cm1");
	assert_string_equal(got[0].resource, "configmaps");
	assert_int_equal(got[0].latency_ns, 5);
	assert_int_equal(etcd_asm_get_stats(a)->retried, 1);
	/* an end with no start: counted */
	mk_end(&e, 99, 30, 0);
	etcd_asm_end(a, &e);
	assert_int_equal(etcd_asm_get_stats(a)->unmatched_end, 1);
	etcd_asm_free(a);
}

static void test_streams_and_bad_messages(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, cb, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	uint8_t garbage[] = { 0x0a, 0x7f, 0x01 }; /* key length past the end */
	uint8_t big[64];
	size_t n = pb_key(big, 1, "/registry/pods/default/p");

	ngot = 0;
	mk_start(&s, 1, 10, "/etcdserverpb.Watch/Watch", big, 0, NULL, 0);
	etcd_asm_start(a, &s);
	etcd_asm_start(a, &s); /* second message, same stream */
	assert_int_equal(ngot, 2);
	assert_true(got[0].stream);
	assert_int_equal(etcd_asm_get_stats(a)->streams_opened, 1);
	assert_int_equal(etcd_asm_get_stats(a)->stream_messages, 2);

	mk_start(&s, 2, 10, "/etcdserverpb.KV/Range", garbage, sizeof(garbage), NULL, 0);
	etcd_asm_start(a, &s);
	mk_end(&e, 2, 11, 0);
	etcd_asm_end(a, &e);
	assert_int_equal(etcd_asm_get_stats(a)->decode.errors, 1);

	/* a message cut by the capture bound (a Put whose value did not fit) is not an error */
	big[n] = 0x12; /* value, field 2 */
	big[n + 1] = 100;
	mk_start(&s, 3, 10, "/etcdserverpb.KV/Put", big, n + 2, NULL, 0);
	s.payload_len = (uint32_t)(n + 2 + 100);
	etcd_asm_start(a, &s);
	mk_end(&e, 3, 12, 0);
	etcd_asm_end(a, &e);
	etcd_asm_flush(a);
	assert_int_equal(etcd_asm_get_stats(a)->decode.errors, 1);
	assert_string_equal(got[ngot - 1].op, "put");
	assert_string_equal(got[ngot - 1].key, "/registry/pods/default/p");
	assert_int_equal(got[ngot - 1].req_size, (int64_t)(n + 102));
	etcd_asm_free(a);
}

static void test_watch_events_by_resource(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, cb, NULL);
	struct kp_watch_resp w;
	const struct etcd_watch_res *res;
	size_t n;

	memset(&w, 0, sizeof(w));
	w.nevents = 3;
	w.key_len = (uint16_t)snprintf(w.key, sizeof(w.key), "/registry/configmaps/default/a");
	etcd_asm_watch_resp(a, &w);
	w.nevents = 2;
	w.key_len = (uint16_t)snprintf(w.key, sizeof(w.key), "/registry/leases/kube-node-lease/n1");
	etcd_asm_watch_resp(a, &w);
	w.nevents = 1;
	w.key_len = (uint16_t)snprintf(w.key, sizeof(w.key), "/registry/configmaps/kube-system/b");
	etcd_asm_watch_resp(a, &w);
	w.key_len = 0; /* unreadable key */
	etcd_asm_watch_resp(a, &w);
	assert_int_equal(etcd_asm_get_stats(a)->watch_responses, 4);
	assert_int_equal(etcd_asm_get_stats(a)->watch_events, 7);
	n = etcd_asm_watch_by_resource(a, &res);
	assert_int_equal(n, 3);
	assert_string_equal(res[0].resource, "configmaps");
	assert_int_equal(res[0].events, 4);
	assert_string_equal(res[1].resource, "leases.coordination.k8s.io");
	assert_int_equal(res[1].events, 2);
	assert_string_equal(res[2].resource, "(unknown)");
	/* bounded: the last slot collects what does not fit */
	for (int i = 0; i < 100; i++) {
		w.nevents = 1;
		w.key_len = (uint16_t)snprintf(w.key, sizeof(w.key), "/registry/kapimon.test/r%d/x", i);
		etcd_asm_watch_resp(a, &w);
	}
	n = etcd_asm_watch_by_resource(a, &res);
	assert_int_equal(n, ETCD_WATCH_RES_MAX);
	assert_string_equal(res[ETCD_WATCH_RES_MAX - 1].resource, "(other)");
	etcd_asm_free(a);
}

/* The probe's copy of a write stops before the value: the call is recorded from that prefix, and the
 * flags are counted (stats: copy_stopped_at_value, copy_gave_up). */
static void test_prefix_flags_counted(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, cb, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	uint8_t msg[64];
	size_t n;

	ngot = 0;
	n = pb_key(msg, 1, "/registry/secrets/default/s");
	mk_start(&s, 5, 10, "/etcdserverpb.KV/Put", msg, n, NULL, 0);
	s.payload_len = (uint32_t)(n + 40); /* the value (not copied) follows */
	s.truncated = KP_TRUNC_GRPC_PAYLOAD | KP_TRUNC_GRPC_AT_VALUE;
	etcd_asm_start(a, &s);
	mk_end(&e, 5, 20, 0);
	etcd_asm_end(a, &e);
	mk_start(&s, 6, 30, "/etcdserverpb.KV/Range", msg, 2, NULL, 0);
	s.payload_len = (uint32_t)n;
	s.truncated = KP_TRUNC_GRPC_PAYLOAD | KP_TRUNC_GRPC_GAVE_UP;
	etcd_asm_start(a, &s);
	mk_end(&e, 6, 40, 0);
	etcd_asm_end(a, &e);
	etcd_asm_flush(a);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[0].key, "/registry/secrets/default/s");
	assert_string_equal(got[0].resource, "secrets");
	assert_int_equal(got[0].req_size, (int64_t)(n + 40));
	assert_int_equal(got[0].latency_ns, 10);
	assert_int_equal(etcd_asm_get_stats(a)->stopped_at_value, 1);
	assert_int_equal(etcd_asm_get_stats(a)->copy_gave_up, 1);
	assert_int_equal(etcd_asm_get_stats(a)->decode.errors, 0);
	etcd_asm_free(a);
}

/* Past the bounds: 5,000 calls in flight (4,096 tracked, the rest counted), 10,000 calls held for a
 * request that never ends (the oldest are emitted unlinked when the hold ring is full). Pooled call
 * bodies are reused without mixing calls up: every record carries its own key. */
static int nbad_keys;

static void cb_check_key(const struct etcd_record *r, void *ctx)
{
	char want[64];

	(void)ctx;
	snprintf(want, sizeof(want), "/registry/pods/ns/p%llu", (unsigned long long)r->start_ns);
	if (strcmp(r->key, want))
		nbad_keys++;
	ngot++;
}

static void test_bounds_and_pool_reuse(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000000000000ULL, cb_check_key, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	const struct etcd_asm_stats *st = etcd_asm_get_stats(a);
	uint8_t msg[64];
	char key[64];

	ngot = nbad_keys = 0;
	for (uint64_t g = 1; g <= 5000; g++) {
		snprintf(key, sizeof(key), "/registry/pods/ns/p%llu", (unsigned long long)g);
		mk_start(&s, g, g, "/etcdserverpb.KV/Range", msg, pb_key(msg, 1, key), chain_a, 4);
		etcd_asm_start(a, &s);
	}
	assert_int_equal(st->pending_full, 5000 - 4096);
	for (uint64_t g = 1; g <= 5000; g++) {
		mk_end(&e, g, g + 1, 0);
		etcd_asm_end(a, &e);
	}
	assert_int_equal(st->calls, 4096);
	assert_int_equal(st->unmatched_end, 5000 - 4096);
	/* 4,096 held; 10,000 more: the ring (8,192) overflows */
	for (uint64_t g = 5001; g <= 15000; g++) {
		snprintf(key, sizeof(key), "/registry/pods/ns/p%llu", (unsigned long long)g);
		mk_start(&s, g, g, "/etcdserverpb.KV/Range", msg, pb_key(msg, 1, key), chain_a, 4);
		etcd_asm_start(a, &s);
		mk_end(&e, g, g + 1, 0);
		etcd_asm_end(a, &e);
	}
	assert_int_equal(st->calls, 4096 + 10000);
	assert_int_equal(st->hold_full, 4096 + 10000 - 8192);
	assert_int_equal(ngot, 4096 + 10000 - 8192);
	etcd_asm_flush(a);
	assert_int_equal(ngot, 4096 + 10000);
	assert_int_equal(nbad_keys, 0);
	etcd_asm_free(a);
}

/* Calls share their outer contexts (the server's base contexts are in every chain): with hundreds held,
 * requests ending in any order each get exactly their calls, with the right cost, through
 * etcd_asm_request_cost's remembered list or (more calls than it keeps, or no cost asked) the index. */
#define NREQ 300
static uint64_t linked_to[NREQ * 2 + 200];
static int nlinked, nunlinked;

static void cb_link(const struct etcd_record *r, void *ctx)
{
	int i = atoi(strrchr(r->key, 'p') + 1);

	(void)ctx;
	if (r->request_id)
		nlinked++;
	else
		nunlinked++;
	if (i >= 0 && i < (int)(sizeof(linked_to) / sizeof(linked_to[0])))
		linked_to[i] = r->request_id;
}

/* The caller knows the requests with an even number (their contexts 0x10000 + 2k) */
static bool even_known(void *ctx, uint64_t v, uint64_t start)
{
	(void)ctx;
	(void)start;
	return v >= 0x10000 && v < 0x10000 + NREQ && (v - 0x10000) % 2 == 0;
}

static void shared_ancestors_any_order(bool narrow)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000000000000ULL, cb_link, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	struct etcd_cost c;
	uint8_t msg[64];
	char key[64];
	int order[NREQ], ncalls = 0;

	memset(linked_to, 0, sizeof(linked_to));
	nlinked = nunlinked = 0;
	if (narrow) /* even requests' calls indexed under their context alone, odd ones' whole */
		etcd_asm_set_request_ctx_fn(a, even_known, NULL);
	/* request r (context 0x10000 + r) made calls 2r and 2r+1; request 0 also the 200 calls 600..799 */
	for (int i = 0; i < NREQ * 2 + 200; i++) {
		int r = i < NREQ * 2 ? i / 2 : 0;
		uint64_t chain[] = { 0x90000 + (uint64_t)i, 0x10000 + (uint64_t)r, 0xb0, 0xb1, 0xb2 };

		snprintf(key, sizeof(key), "/registry/pods/ns/p%d", i);
		mk_start(&s, (uint64_t)i + 1, 1000 + (uint64_t)i, "/etcdserverpb.KV/Range", msg, pb_key(msg, 1, key), chain, 5);
		etcd_asm_start(a, &s);
		mk_end(&e, (uint64_t)i + 1, 1001 + (uint64_t)i, 0);
		etcd_asm_end(a, &e);
		ncalls++;
	}
	assert_int_equal(nlinked + nunlinked, 0); /* all held */
	for (int r = 0; r < NREQ; r++)
		order[r] = r;
	for (int r = NREQ - 1; r > 0; r--) { /* a fixed shuffle */
		int j = (int)((uint64_t)r * 2654435761u % (uint64_t)(r + 1)), t = order[r];

		order[r] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < NREQ; k++) {
		int r = order[k];
		uint64_t ctx = 0x10000 + (uint64_t)r;

		if (r % 3 == 1) { /* without asking the cost first: the index is walked */
			etcd_asm_request_done(a, ctx, 0, 1000000, 7000 + (uint64_t)r);
			continue;
		}
		etcd_asm_request_cost(a, ctx, 0, 1000000, &c);
		assert_int_equal(c.calls, r == 0 ? 202 : 2);
		etcd_asm_request_done(a, ctx, 0, 1000000, 7000 + (uint64_t)r);
	}
	assert_int_equal(nlinked, ncalls);
	assert_int_equal(nunlinked, 0);
	for (int i = 0; i < ncalls; i++)
		assert_int_equal(linked_to[i], 7000 + (i < NREQ * 2 ? i / 2 : 0));
	/* nothing left held: a flush delivers nothing more */
	etcd_asm_flush(a);
	assert_int_equal(nlinked + nunlinked, ncalls);
	assert_int_equal(etcd_asm_get_stats(a)->linked, (uint64_t)ncalls);
	/* calls 0..2*NREQ-1 of even requests, and the 200 more of request 0 */
	assert_int_equal(etcd_asm_get_stats(a)->held_narrow, narrow ? (uint64_t)(NREQ + (NREQ % 2) + 200) : 0);
	etcd_asm_free(a);
}

static void test_shared_ancestors_any_order(void **state)
{
	(void)state;
	shared_ancestors_any_order(false);
}

/* The same with the requests' contexts known to the caller for half of them: a held call indexed under
 * its request's context alone is linked as one indexed whole. */
static void test_shared_ancestors_narrow_index(void **state)
{
	(void)state;
	shared_ancestors_any_order(true);
}

static uint64_t known_ctx;

static bool one_known(void *ctx, uint64_t v, uint64_t start)
{
	(void)ctx;
	(void)start;
	return v == known_ctx;
}

/* One call of the test below: chain from innermost to outermost, the time 1000 + i. */
static void call(struct etcd_assembler *a, int i, const uint64_t *chain, int n)
{
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	uint8_t msg[64];

	mk_start(&s, 100 + (uint64_t)i, 1000 + (uint64_t)i, "/etcdserverpb.KV/Range", msg,
		 pb_key(msg, 1, "/registry/pods/ns/p"), chain, n);
	etcd_asm_start(a, &s);
	mk_end(&e, 100 + (uint64_t)i, 1001 + (uint64_t)i, 0);
	etcd_asm_end(a, &e);
}

/* Contexts seen above a request's are passed over in later chains; when such an address comes back
 * as a request's own context (the memory was reused), its calls still link: indexed whole when the
 * request is known, linked at once when it was delivered already. */
static void test_ancestor_address_reused(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000000000000ULL, cb, NULL);
	const uint64_t c1[] = { 0x900, 0x1010, 0xa10, 0xa20 }; /* request 0x1010 under 0xa10, 0xa20 */
	const uint64_t c2[] = { 0x910, 0xa10, 0xa20 };          /* request 0xa10: an ancestor's address */
	const uint64_t c3[] = { 0x920, 0xa20 };                 /* request 0xa20, already delivered */

	(void)state;
	ngot = 0;
	etcd_asm_set_request_ctx_fn(a, one_known, NULL);
	known_ctx = 0x1010;
	call(a, 0, c1, 4);
	assert_int_equal(etcd_asm_get_stats(a)->held_narrow, 1);
	etcd_asm_request_done(a, 0x1010, 0, 5000, 11);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0].request_id, 11);
	known_ctx = 0xa10;
	call(a, 1, c2, 3);
	assert_int_equal(etcd_asm_get_stats(a)->held_narrow, 1); /* passed over: indexed whole */
	assert_int_equal(ngot, 1);
	etcd_asm_request_done(a, 0xa10, 0, 5000, 12);
	assert_int_equal(ngot, 2);
	assert_int_equal(got[1].request_id, 12);
	known_ctx = 0;
	etcd_asm_request_done(a, 0xa20, 0, 5000, 13); /* no call held under it: remembered */
	assert_int_equal(ngot, 2);
	call(a, 2, c3, 2);
	assert_int_equal(ngot, 3);
	assert_int_equal(got[2].request_id, 13);
	etcd_asm_flush(a);
	assert_int_equal(ngot, 3);
	assert_int_equal(etcd_asm_get_stats(a)->linked, 3);
	etcd_asm_free(a);
}

static int nasked;

/* Requests' contexts are 0x100000 + 16 i; counts the questions */
static bool count_known(void *ctx, uint64_t v, uint64_t start)
{
	(void)ctx;
	(void)start;
	nasked++;
	return v >= 0x100000 && v < 0x200000;
}

/* Calls over 8 connections whose contexts sit 0x400 apart (the same low address bits: Go allocates them
 * alike) under one server context: once each connection's context was seen above a request's, a call's
 * chain is asked about its request's context alone, whichever connection it came on. */
static void test_ancestors_many_connections(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000000000000ULL, cb, NULL);
	enum { NCONN = 8, NCALLS = 400 };

	(void)state;
	ngot = 0;
	nasked = 0;
	etcd_asm_set_request_ctx_fn(a, count_known, NULL);
	for (int i = 0; i < NCALLS; i++) {
		const uint64_t chain[] = { 0x900000 + 16 * (uint64_t)i, 0x100000 + 16 * (uint64_t)i,
					   0x200000 + 0x400 * (uint64_t)(i % NCONN), 0x300000 };

		call(a, i, chain, 4);
	}
	/* the first call asks all three; the first on each other connection two; every later one one */
	assert_int_equal(nasked, 3 + (NCONN - 1) * 2 + (NCALLS - NCONN));
	assert_int_equal(etcd_asm_get_stats(a)->held_narrow, NCALLS);
	assert_int_equal(ngot, 0);
	etcd_asm_free(a);
}

/* Remembered requests are forgotten hold_ns after they end, exactly those: 6,000 requests (their contexts
 * share hash buckets), the first half expired by a tick: a call of each of the second half, ending after
 * its request was delivered, is linked to it at once; a call of each of the first half is held. */
static uint64_t linked_sum;

static void cb_sum(const struct etcd_record *r, void *ctx)
{
	(void)ctx;
	linked_sum += r->request_id;
	ngot++;
}

static void test_recent_expiry_exact(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, cb_sum, NULL);
	struct kp_grpc_start s;
	struct kp_grpc_end e;
	uint8_t msg[64];
	size_t n = pb_key(msg, 1, "/registry/configmaps/default/x");
	enum { NREQ_HALF = 3000 };
	uint64_t want = 0;

	(void)state;
	ngot = 0;
	linked_sum = 0;
	for (uint64_t i = 0; i < 2 * NREQ_HALF; i++) /* the first half ends at 200, the second at 5000 */
		etcd_asm_request_done(a, 0x7000000 + 16 * i, 100, i < NREQ_HALF ? 200 : 5000, i + 1);
	etcd_asm_tick(a, 1201); /* 200 + hold < 1201 <= 5000 + hold */
	for (uint64_t i = 0; i < 2 * NREQ_HALF; i++) {
		const uint64_t chain[] = { 0x9000000 + 16 * i, 0x7000000 + 16 * i };

		mk_start(&s, 1 + i, 150, "/etcdserverpb.KV/Range", msg, n, chain, 2);
		etcd_asm_start(a, &s);
		mk_end(&e, 1 + i, 160, 0);
		etcd_asm_end(a, &e);
		if (i >= NREQ_HALF)
			want += i + 1;
	}
	assert_int_equal(ngot, NREQ_HALF);
	assert_int_equal(linked_sum, want);
	etcd_asm_flush(a);
	assert_int_equal(ngot, 2 * NREQ_HALF);
	assert_int_equal(linked_sum, want);
	etcd_asm_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds_and_pool_reuse),
		cmocka_unit_test(test_shared_ancestors_any_order),
		cmocka_unit_test(test_shared_ancestors_narrow_index),
		cmocka_unit_test(test_ancestor_address_reused),
		cmocka_unit_test(test_ancestors_many_connections),
		cmocka_unit_test(test_recent_expiry_exact),
		cmocka_unit_test(test_link_after_and_before_request_end),
		cmocka_unit_test(test_unlinked_after_hold_and_time_window),
		cmocka_unit_test(test_txn_and_retry),
		cmocka_unit_test(test_streams_and_bad_messages),
		cmocka_unit_test(test_watch_events_by_resource),
		cmocka_unit_test(test_prefix_flags_counted),
	};
	return cmocka_run_group_tests_name("etcd_assembler", tests, NULL, NULL);
}
