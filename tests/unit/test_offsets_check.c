// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Validation of unverified offsets (src/assemble/offsets_check.c): per-event plausibility, the
 * verdict after OC_MIN_EVENTS informative events (never before), hold and release in order, drop
 * after a failure, and --etcd-prefix from a command line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/offsets_check.h"

static struct kp_req_start h2_start(uint32_t sid, const char *method, const char *path)
{
	struct kp_req_start e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = KP_EV_REQ_START;
	e.proto = KP_PROTO_H2;
	e.stream_id = sid;
	e.conn = 0xc000123400;
	e.method_len = (uint16_t)strlen(method);
	memcpy(e.method, method, e.method_len);
	e.path_len = (uint16_t)strlen(path);
	memcpy(e.path, path, e.path_len);
	e.addr_len = (uint16_t)strlen("127.0.0.1:41234");
	memcpy(e.addr, "127.0.0.1:41234", e.addr_len);
	e.content_length = -1;
	return e;
}

static struct kp_req_end h2_end(uint32_t sid, int64_t status)
{
	struct kp_req_end e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = KP_EV_REQ_END;
	e.proto = KP_PROTO_H2;
	e.stream_id = sid;
	e.conn = 0xc000123400;
	e.status = status;
	e.bytes_out = 1234;
	e.bytes_in = 0;
	return e;
}

/* A RangeRequest {key: key} as protobuf (field 1, bytes). */
static struct kp_grpc_start grpc_start(const char *method, const char *key)
{
	struct kp_grpc_start e;
	size_t kl = strlen(key);

	memset(&e, 0, sizeof(e));
	e.hdr.type = KP_EV_GRPC_START;
	e.method_len = (uint16_t)strlen(method);
	memcpy(e.method, method, e.method_len);
	e.payload[0] = 0x0a;
	e.payload[1] = (uint8_t)kl;
	memcpy(e.payload + 2, key, kl);
	e.payload_len = e.payload_copied = (uint16_t)(kl + 2);
	e.nctx = 3;
	return e;
}

static enum oc_score score(const void *e, size_t size, const char *prefix, const char *why_has)
{
	char why[256];
	enum oc_score s = oc_score_event(e, size, prefix, why, sizeof(why));

	if (why_has && !strstr(why, why_has))
		fail_msg("reason \"%s\" lacks \"%s\"", why, why_has);
	return s;
}

static void test_score_http(void **st)
{
	struct kp_req_start s = h2_start(1, "GET", "/api/v1/pods");
	struct kp_req_end e = h2_end(1, 200);

	(void)st;
	assert_int_equal(score(&s, sizeof(s), NULL, NULL), OC_GOOD);
	assert_int_equal(score(&e, sizeof(e), NULL, NULL), OC_GOOD);
	s = h2_start(3, "PATCH", "/apis/apps/v1/namespaces/x/deployments/y");
	assert_int_equal(score(&s, sizeof(s), NULL, NULL), OC_GOOD);
	s = h2_start(5, "GXT", "/api");
	assert_int_equal(score(&s, sizeof(s), NULL, "not a known HTTP method"), OC_BAD);
	s = h2_start(5, "get", "/api"); /* methods are case-sensitive */
	assert_int_equal(score(&s, sizeof(s), NULL, "method"), OC_BAD);
	s = h2_start(5, "GET", "api/v1");
	assert_int_equal(score(&s, sizeof(s), NULL, "does not start with '/'"), OC_BAD);
	s = h2_start(5, "GET", "");
	assert_int_equal(score(&s, sizeof(s), NULL, "path"), OC_BAD);
	s = h2_start(4, "GET", "/api"); /* even: server-initiated, never a request */
	assert_int_equal(score(&s, sizeof(s), NULL, "stream id 4"), OC_BAD);
	s = h2_start(0x80000001u, "GET", "/api");
	assert_int_equal(score(&s, sizeof(s), NULL, "stream id"), OC_BAD);
	s = h2_start(7, "GET", "/api");
	s.path[2] = '\x01';
	assert_int_equal(score(&s, sizeof(s), NULL, "control"), OC_BAD);
	s = h2_start(7, "GET", "/api");
	memcpy(s.addr, "\x90\x12\x00\x00\xc0", 5);
	s.addr_len = 5;
	assert_int_equal(score(&s, sizeof(s), NULL, "host:port"), OC_BAD);
	s = h2_start(7, "GET", "/api");
	s.addr_len = 0; /* unreadable address: not judged */
	assert_int_equal(score(&s, sizeof(s), NULL, NULL), OC_GOOD);
	s = h2_start(7, "GET", "/api");
	s.method_len = 900; /* beyond the buffer */
	assert_int_equal(score(&s, sizeof(s), NULL, "lengths"), OC_BAD);
	/* h1: stream id 0 */
	s = h2_start(0, "POST", "/api/v1/namespaces");
	s.proto = KP_PROTO_H1;
	assert_int_equal(score(&s, sizeof(s), NULL, NULL), OC_GOOD);
	s.stream_id = 1;
	assert_int_equal(score(&s, sizeof(s), NULL, "h1 stream id"), OC_BAD);
	/* ends */
	e = h2_end(9, 0); /* handler wrote nothing: neither good nor bad */
	assert_int_equal(score(&e, sizeof(e), NULL, NULL), OC_NEUTRAL);
	e = h2_end(9, 99);
	assert_int_equal(score(&e, sizeof(e), NULL, "outside 100-599"), OC_BAD);
	e = h2_end(9, 600);
	assert_int_equal(score(&e, sizeof(e), NULL, "outside 100-599"), OC_BAD);
	e = h2_end(9, 0xc000a1b2c0); /* a pointer read as a status */
	assert_int_equal(score(&e, sizeof(e), NULL, "status"), OC_BAD);
	e = h2_end(9, 404);
	e.bytes_out = 0xc000a1b2c0ll << 8;
	assert_int_equal(score(&e, sizeof(e), NULL, "byte counts"), OC_BAD);
	e = h2_end(10, 200);
	assert_int_equal(score(&e, sizeof(e), NULL, "stream id 10"), OC_BAD);
	/* short events */
	assert_int_equal(score(&e, 8, NULL, NULL), OC_BAD);
	assert_int_equal(score(&s, sizeof(s) - 1, NULL, "short"), OC_BAD);
}

static void test_score_etcd(void **st)
{
	struct kp_grpc_start g = grpc_start("/etcdserverpb.KV/Range", "/registry/pods/default/p");
	struct kp_grpc_end ge = { .hdr.type = KP_EV_GRPC_END };
	struct kp_watch_resp w = { .hdr.type = KP_EV_WATCH_RESP, .nevents = 2, .key_len = 15 };

	(void)st;
	assert_int_equal(score(&g, sizeof(g), NULL, NULL), OC_GOOD);
	g = grpc_start("/etcdserverpb.KV/Range", "/other/pods/default/p");
	assert_int_equal(score(&g, sizeof(g), NULL, "not under the etcd prefix /registry"), OC_BAD);
	assert_int_equal(score(&g, sizeof(g), "/other", NULL), OC_GOOD); /* --etcd-prefix=/other */
	g = grpc_start("/etcdserverpb.KV/Range", "/registryx/pods"); /* a prefix of a path component only */
	assert_int_equal(score(&g, sizeof(g), NULL, "prefix"), OC_BAD);
	g = grpc_start("/etcdserverpb.KV/Range", "compact_rev_key"); /* the apiserver's compactor */
	assert_int_equal(score(&g, sizeof(g), NULL, NULL), OC_GOOD);
	g = grpc_start("/etcdserverpb.Lease/LeaseGrant", ""); /* no key */
	g.payload_copied = g.payload_len = 0;
	assert_int_equal(score(&g, sizeof(g), NULL, NULL), OC_GOOD);
	g = grpc_start("\x10\x22\x01/etcdserverpb", "/registry/x");
	assert_int_equal(score(&g, sizeof(g), NULL, "not /etcdserverpb"), OC_BAD);
	g = grpc_start("/grpc.health.v1.Health/Check", "");
	assert_int_equal(score(&g, sizeof(g), NULL, "not /etcdserverpb"), OC_BAD);
	g = grpc_start("/etcdserverpb.KV/Range", "/registry/x");
	g.nctx = 200;
	assert_int_equal(score(&g, sizeof(g), NULL, "context chain"), OC_BAD);

	assert_int_equal(score(&ge, sizeof(ge), NULL, NULL), OC_NEUTRAL); /* OK: status not read */
	ge.is_err = 1, ge.code = 14;
	assert_int_equal(score(&ge, sizeof(ge), NULL, NULL), OC_GOOD);
	ge.code = -1; /* unknown error shape */
	assert_int_equal(score(&ge, sizeof(ge), NULL, NULL), OC_NEUTRAL);
	ge.code = 40;
	assert_int_equal(score(&ge, sizeof(ge), NULL, "outside 0-16"), OC_BAD);

	memcpy(w.key, "/registry/pods/", 15);
	assert_int_equal(score(&w, sizeof(w), NULL, NULL), OC_GOOD);
	w.first_type = 7;
	assert_int_equal(score(&w, sizeof(w), NULL, "event type"), OC_BAD);
	w.first_type = 0;
	memcpy(w.key, "\xc0\x00\x12garbage.......", 15);
	assert_int_equal(score(&w, sizeof(w), NULL, "watched key"), OC_BAD);
	w.nevents = 0; /* progress notification */
	assert_int_equal(score(&w, sizeof(w), NULL, NULL), OC_NEUTRAL);
}

static void test_groups(void **st)
{
	struct kp_req_start s = h2_start(1, "GET", "/");
	struct kp_req_end e = h2_end(1, 200);
	struct kp_grpc_start g = grpc_start("/etcdserverpb.KV/Range", "/registry/a");
	struct kp_conn_event c = { .hdr.type = KP_EV_CONN };

	(void)st;
	assert_int_equal(oc_event_group(&s, sizeof(s)), OC_H2X);
	s.h2_flavor = 1;
	assert_int_equal(oc_event_group(&s, sizeof(s)), OC_H2B);
	e.h2_flavor = 1;
	assert_int_equal(oc_event_group(&e, sizeof(e)), OC_H2B);
	s.proto = e.proto = KP_PROTO_H1;
	assert_int_equal(oc_event_group(&s, sizeof(s)), OC_H1);
	assert_int_equal(oc_event_group(&e, sizeof(e)), OC_H1);
	assert_int_equal(oc_event_group(&g, sizeof(g)), OC_GRPC);
	assert_int_equal(oc_event_group(&c, sizeof(c)), -1);
	assert_int_equal(oc_event_group(&s, 4), -1);
}

struct seen {
	uint32_t sid[OC_HOLD_MAX];
	int type[OC_HOLD_MAX];
	size_t n;
};

static void collect(void *ctx, const void *data, size_t size)
{
	struct seen *sn = ctx;
	const struct kp_event_hdr *h = data;

	assert_true(size >= sizeof(*h));
	assert_true(sn->n < OC_HOLD_MAX);
	sn->type[sn->n] = (int)h->type;
	sn->sid[sn->n++] = h->type == KP_EV_REQ_START ? ((const struct kp_req_start *)data)->stream_id
						      : ((const struct kp_req_end *)data)->stream_id;
}

/* Good traffic: held until the OC_MIN_EVENTS-th informative event, then released in arrival order. */
static void test_pass_and_release(void **st)
{
	struct offcheck *oc = oc_new(0, NULL);
	struct oc_group_info in;
	struct seen sn = { 0 };
	int decided = -2;
	unsigned fed = 0;

	(void)st;
	assert_non_null(oc);
	assert_false(oc_pending_any(oc));
	assert_int_equal(oc_watch(oc, OC_H2X), 0);
	assert_true(oc_pending_any(oc));
	for (uint32_t sid = 1; fed < OC_MIN_EVENTS - 1; sid += 2) {
		struct kp_req_start s = h2_start(sid, "GET", "/api/v1/pods");
		struct kp_req_end e = h2_end(sid, 200);

		assert_int_equal(oc_feed(oc, &s, sizeof(s), &decided), OC_HOLD);
		assert_int_equal(decided, -1);
		fed++;
		if (fed < OC_MIN_EVENTS - 1) {
			assert_int_equal(oc_feed(oc, &e, sizeof(e), &decided), OC_HOLD);
			assert_int_equal(decided, -1);
			fed++;
		}
	}
	/* a status-0 end is uninformative: still no verdict */
	{
		struct kp_req_end e0 = h2_end(101, 0);

		assert_int_equal(oc_feed(oc, &e0, sizeof(e0), &decided), OC_HOLD);
		assert_int_equal(decided, -1);
	}
	oc_info(oc, OC_H2X, &in);
	assert_int_equal(in.state, OC_PENDING);
	assert_int_equal(in.good, OC_MIN_EVENTS - 1);
	assert_int_equal(in.neutral, 1);
	assert_int_equal(in.held, OC_MIN_EVENTS);
	/* nothing to release before the verdict */
	assert_int_equal(oc_release(oc, OC_H2X, collect, &sn), 0);
	{
		struct kp_req_end e = h2_end(103, 201);

		assert_int_equal(oc_feed(oc, &e, sizeof(e), &decided), OC_HOLD);
		assert_int_equal(decided, OC_H2X);
	}
	oc_info(oc, OC_H2X, &in);
	assert_int_equal(in.state, OC_PASS);
	assert_false(oc_pending_any(oc));
	assert_int_equal(oc_release(oc, OC_H2X, collect, &sn), OC_MIN_EVENTS + 1);
	/* arrival order: start 1, end 1, start 3, ... */
	assert_int_equal(sn.type[0], KP_EV_REQ_START);
	assert_int_equal(sn.sid[0], 1);
	assert_int_equal(sn.type[1], KP_EV_REQ_END);
	assert_int_equal(sn.sid[1], 1);
	assert_int_equal(sn.sid[2], 3);
	assert_int_equal(sn.sid[sn.n - 2], 101);
	assert_int_equal(sn.sid[sn.n - 1], 103);
	/* afterwards everything passes through, even a bad event, and nothing is held */
	{
		struct kp_req_end bad = h2_end(2, 7);

		assert_int_equal(oc_feed(oc, &bad, sizeof(bad), &decided), OC_DELIVER);
		assert_int_equal(decided, -1);
	}
	assert_int_equal(oc_release(oc, OC_H2X, collect, &sn), 0);
	oc_free(oc);
}

/* Deterministic garbage (xorshift, fixed seed) in the shape of real events. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void fill_random(void *p, size_t n, uint64_t *x)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = (uint8_t)rnd(x);
}

static void test_garbage_fails(void **st)
{
	struct offcheck *oc = oc_new(0, NULL);
	struct oc_group_info in;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int decided = -2, verdict_at = -1;
	unsigned i;

	(void)st;
	assert_int_equal(oc_watch(oc, OC_H2X), 0);
	for (i = 0; i < 200 && verdict_at < 0; i++) {
		union {
			struct kp_req_start s;
			struct kp_req_end e;
		} u;
		size_t size = i % 2 ? sizeof(u.e) : sizeof(u.s);

		fill_random(&u, sizeof(u), &x);
		u.s.hdr.type = i % 2 ? KP_EV_REQ_END : KP_EV_REQ_START;
		if (i % 2) {
			u.e.proto = KP_PROTO_H2, u.e.h2_flavor = 0;
		} else {
			u.s.proto = KP_PROTO_H2, u.s.h2_flavor = 0, u.s.authn = 0;
		}
		enum oc_action a = oc_feed(oc, &u, size, &decided);
		if (decided >= 0) {
			assert_int_equal(decided, OC_H2X);
			assert_int_equal(a, OC_DROP);
			verdict_at = (int)i;
		} else {
			assert_int_equal(a, OC_HOLD);
		}
	}
	oc_info(oc, OC_H2X, &in);
	assert_int_equal(in.state, OC_FAIL);
	/* never before OC_MIN_EVENTS informative events */
	assert_true(verdict_at >= OC_MIN_EVENTS - 1);
	assert_int_equal(in.good + in.bad, OC_MIN_EVENTS);
	assert_non_null(strstr(in.why, "implausible"));
	assert_non_null(strstr(in.why, "first: "));
	assert_int_equal(in.held, 0);
	assert_int_equal(in.discarded, (uint64_t)verdict_at + 1);
	/* later events of the group are dropped, good ones too; others are delivered */
	{
		struct kp_req_start s = h2_start(1, "GET", "/");
		struct kp_grpc_start g = grpc_start("/etcdserverpb.KV/Range", "/registry/a");

		assert_int_equal(oc_feed(oc, &s, sizeof(s), &decided), OC_DROP);
		assert_int_equal(decided, -1);
		assert_int_equal(oc_feed(oc, &g, sizeof(g), &decided), OC_DELIVER);
		s.h2_flavor = 1; /* the other h2 group is not watched */
		assert_int_equal(oc_feed(oc, &s, sizeof(s), &decided), OC_DELIVER);
	}
	assert_int_equal(oc_release(oc, OC_H2X, collect, NULL), 0);
	oc_free(oc);
}

/* The threshold: OC_MIN_EVENTS - 1 bad events decide nothing; at OC_MIN_EVENTS, up to OC_MAX_BAD_PCT
 * percent bad pass and one more fails. */
static void run_mix(unsigned nbad, enum oc_state want)
{
	struct offcheck *oc = oc_new(0, NULL);
	struct oc_group_info in;
	int decided;

	assert_int_equal(oc_watch(oc, OC_GRPC), 0);
	for (unsigned i = 0; i < OC_MIN_EVENTS; i++) {
		struct kp_grpc_start g = grpc_start("/etcdserverpb.KV/Range", i < nbad ? "/elsewhere/x" : "/registry/x");
		enum oc_action a = oc_feed(oc, &g, sizeof(g), &decided);

		if (i < OC_MIN_EVENTS - 1) {
			assert_int_equal(a, OC_HOLD);
			assert_int_equal(decided, -1);
			oc_info(oc, OC_GRPC, &in);
			assert_int_equal(in.state, OC_PENDING);
		} else {
			assert_int_equal(decided, OC_GRPC);
			assert_int_equal(a, want == OC_PASS ? OC_HOLD : OC_DROP);
		}
	}
	oc_info(oc, OC_GRPC, &in);
	if (in.state != want)
		fail_msg("%u bad of %u: state %d, want %d (%s)", nbad, OC_MIN_EVENTS, in.state, want, in.why);
	oc_free(oc);
}

static void test_threshold(void **st)
{
	unsigned tolerated = OC_MIN_EVENTS * OC_MAX_BAD_PCT / 100;

	(void)st;
	run_mix(0, OC_PASS);
	run_mix(tolerated, OC_PASS);
	run_mix(tolerated + 1, OC_FAIL);
	run_mix(OC_MIN_EVENTS - 1, OC_FAIL); /* and all of them bad but the last: no verdict before the end */
	run_mix(OC_MIN_EVENTS, OC_FAIL);
}

/* Uninformative events only: no verdict until the hold queue is full, then "cannot verify". */
static void test_cannot_verify(void **st)
{
	struct offcheck *oc = oc_new(0, NULL);
	struct oc_group_info in;
	int decided = -1;
	unsigned i;

	(void)st;
	assert_int_equal(oc_watch(oc, OC_H1), 0);
	for (i = 0; i < OC_HOLD_MAX && decided < 0; i++) {
		struct kp_req_end e = h2_end(0, 0);

		e.proto = KP_PROTO_H1;
		oc_feed(oc, &e, sizeof(e), &decided);
	}
	assert_int_equal(i, OC_HOLD_MAX);
	assert_int_equal(decided, OC_H1);
	oc_info(oc, OC_H1, &in);
	assert_int_equal(in.state, OC_FAIL);
	assert_non_null(strstr(in.why, "cannot verify"));
	oc_free(oc);
}

/* HTTP: plausible starts but every end with status 0 (a status offset into zeroed memory) never pass;
 * with a few real statuses they do. */
static void test_status_zero_ends(void **st)
{
	struct offcheck *oc = oc_new(0, NULL);
	struct oc_group_info in;
	int decided = -1;
	unsigned i, need = (OC_MIN_EVENTS + 3) / 4;

	(void)st;
	assert_int_equal(oc_watch(oc, OC_H2X), 0);
	assert_int_equal(oc_watch(oc, OC_H2B), 0);
	for (i = 0; i < OC_HOLD_MAX && decided < 0; i++) {
		struct kp_req_start s = h2_start(2 * (i / 2) + 1, "GET", "/api");
		struct kp_req_end e = h2_end(2 * (i / 2) + 1, 0);

		if (i % 2)
			oc_feed(oc, &e, sizeof(e), &decided);
		else
			oc_feed(oc, &s, sizeof(s), &decided);
	}
	assert_int_equal(i, OC_HOLD_MAX);
	oc_info(oc, OC_H2X, &in);
	assert_int_equal(in.state, OC_FAIL);
	assert_non_null(strstr(in.why, "cannot verify"));
	/* the other h2 group: starts, then need - 1 real statuses: pending; one more: PASS */
	decided = -1;
	for (i = 0; i < OC_MIN_EVENTS; i++) {
		struct kp_req_start s = h2_start(2 * i + 1, "GET", "/api");

		s.h2_flavor = 1;
		assert_int_equal(oc_feed(oc, &s, sizeof(s), &decided), OC_HOLD);
	}
	for (i = 0; i < need; i++) {
		struct kp_req_end e = h2_end(2 * i + 1, 200);

		e.h2_flavor = 1;
		assert_int_equal(oc_feed(oc, &e, sizeof(e), &decided), OC_HOLD);
		assert_int_equal(decided, i + 1 < need ? -1 : OC_H2B);
	}
	oc_info(oc, OC_H2B, &in);
	assert_int_equal(in.state, OC_PASS);
	oc_free(oc);
}

/* A capture that ends before a verdict discards the held events. */
static void test_discard_pending(void **st)
{
	struct offcheck *oc = oc_new(5, "/custom");
	struct kp_grpc_start g = grpc_start("/etcdserverpb.KV/Range", "/custom/a");
	struct oc_group_info in;
	int decided;

	(void)st;
	assert_int_equal(oc_watch(oc, OC_GRPC), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(oc_feed(oc, &g, sizeof(g), &decided), OC_HOLD);
	assert_int_equal(oc_discard_pending(oc), 4);
	oc_info(oc, OC_GRPC, &in);
	assert_int_equal(in.discarded, 4);
	assert_int_equal(in.held, 0);
	/* min_events 5 with the custom prefix: the fifth good event passes */
	assert_int_equal(oc_feed(oc, &g, sizeof(g), &decided), OC_HOLD);
	assert_int_equal(decided, OC_GRPC);
	oc_info(oc, OC_GRPC, &in);
	assert_int_equal(in.state, OC_PASS);
	assert_int_equal(oc_release(oc, OC_GRPC, NULL, NULL), 1);
	oc_free(oc);
	/* NULL-safe */
	assert_int_equal(oc_feed(NULL, &g, sizeof(g), &decided), OC_DELIVER);
	assert_false(oc_pending_any(NULL));
	assert_int_not_equal(oc_watch(NULL, OC_H1), 0);
	oc_free(NULL);
}

static void prefix_of(const char *cmd, size_t len, const char *want)
{
	char out[64] = "unchanged";

	oc_etcd_prefix_from_cmdline(cmd, len, out, sizeof(out));
	if (strcmp(out, want))
		fail_msg("prefix \"%s\", want \"%s\"", out, want);
}

static void test_cmdline(void **st)
{
	static const char a[] = "kube-apiserver\0--etcd-servers=https://127.0.0.1:2379\0--etcd-prefix=/kp\0--v=2";
	static const char b[] = "kube-apiserver\0--etcd-prefix\0/two\0-etcd-prefix=/three";
	static const char c[] = "kube-apiserver\0--etcd-prefixes=/no\0--etcd-prefix";
	static const char d[] = "kube-apiserver\0-etcd-prefix\0/single";

	(void)st;
	prefix_of(a, sizeof(a), "/kp");
	prefix_of(b, sizeof(b), "/three"); /* the last one wins */
	prefix_of(b, 34, "/two");          /* cut short: the rest is not read */
	prefix_of(c, sizeof(c), "");       /* another flag; a flag without its value */
	prefix_of(d, sizeof(d), "/single");
	prefix_of("", 0, "");
	prefix_of(NULL, 0, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_score_http),	 cmocka_unit_test(test_score_etcd),
		cmocka_unit_test(test_groups),		 cmocka_unit_test(test_pass_and_release),
		cmocka_unit_test(test_garbage_fails),	 cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_cannot_verify),	 cmocka_unit_test(test_discard_pending),
		cmocka_unit_test(test_cmdline),	 cmocka_unit_test(test_status_zero_ends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
