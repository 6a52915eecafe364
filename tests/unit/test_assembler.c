// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Request assembly: start/end pairing by key, out-of-order ends, unmatched ends, ongoing flush. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/assembler.h"
#include "assemble/conntrack.h"
#include "assemble/request_fill.h"

#define MAXREC 4096
static struct request_record got[MAXREC];
static int ngot;

static void cb(struct request_record *r, void *ctx)
{
	(void)ctx;
	if (ngot < MAXREC)
		got[ngot] = *r;
	ngot++;
}

static void mk_start(struct kp_req_start *s, uint64_t conn, uint32_t sid, uint64_t ts, const char *method,
		     const char *path, const char *ua)
{
	memset(s, 0, sizeof(*s));
	s->hdr.type = KP_EV_REQ_START;
	s->hdr.ts_ns = ts;
	s->conn = conn;
	s->stream_id = sid;
	s->proto = sid ? KP_PROTO_H2 : KP_PROTO_H1;
	s->method_len = strlen(method);
	memcpy(s->method, method, s->method_len);
	s->path_len = strlen(path);
	memcpy(s->path, path, s->path_len);
	s->ua_len = strlen(ua);
	memcpy(s->ua, ua, s->ua_len);
	s->content_length = -1;
}

static void mk_end(struct kp_req_end *e, uint64_t conn, uint32_t sid, uint64_t ts, int status)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = KP_EV_REQ_END;
	e->hdr.ts_ns = ts;
	e->conn = conn;
	e->stream_id = sid;
	e->status = status;
	e->bytes_out = 10;
	e->bytes_in = -1;
}

static void test_pairs_and_classifies(void **state)
{
	struct assembler *a = asm_new(0, 1000, cb, NULL);
	struct kp_req_start s;
	struct kp_req_end e;

	ngot = 0;
	mk_start(&s, 0x1000, 1, 100, "GET", "/api/v1/namespaces/kube-node-lease/leases/n1", "kubelet/v1.20");
	asm_start(a, &s);
	mk_start(&s, 0x1000, 3, 150, "POST", "/api/v1/namespaces/default/configmaps", "kubectl");
	asm_start(a, &s);
	mk_end(&e, 0x1000, 3, 400, 201); /* ends out of order */
	asm_end(a, &e);
	mk_end(&e, 0x1000, 1, 500, 0); /* 0: handler wrote nothing: implicit 200 */
	asm_end(a, &e);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[0].ri.verb, "create");
	assert_int_equal(got[0].status, 201);
	assert_int_equal(got[0].latency_ns, 250);
	assert_string_equal(got[1].ri.verb, "get");
	assert_string_equal(got[1].ri.resource, "leases");
	assert_string_equal(got[1].ri.namespace_, "kube-node-lease");
	assert_string_equal(got[1].user_agent, "kubelet/v1.20");
	assert_int_equal(got[1].status, 200);
	assert_int_equal(got[1].start_ns, 1100);
	assert_true(got[0].id != got[1].id);
	assert_int_equal(asm_pending(a), 0);
	asm_free(a);
}

static void test_unmatched_and_ongoing(void **state)
{
	struct assembler *a = asm_new(0, 0, cb, NULL);
	struct kp_req_start s;
	struct kp_req_end e;

	ngot = 0;
	mk_end(&e, 0x2000, 5, 50, 200); /* began before attach */
	asm_end(a, &e);
	assert_int_equal(asm_get_stats(a)->unmatched_end, 1);
	mk_start(&s, 0x2000, 7, 100, "GET", "/api/v1/pods?watch=1", "w");
	asm_start(a, &s);
	asm_flush_ongoing(a, 1100);
	assert_int_equal(ngot, 1);
	assert_true(got[0].ongoing);
	assert_string_equal(got[0].ri.verb, "watch");
	assert_int_equal(got[0].latency_ns, 1000);
	assert_int_equal(asm_pending(a), 0);
	asm_free(a);
}

/* Many interleaved requests across growth and deletions: every one pairs exactly once, with its own
 * start (path, start time), and a kept start stays valid while others come and go. */
static void end_and_check(struct assembler *a, int i, uint64_t ts)
{
	char want[64];
	struct kp_req_end e;
	int before = ngot;

	mk_end(&e, 0x10000 + (i % 7) * 64, (uint32_t)(2 * i + 1), ts, 200);
	asm_end(a, &e);
	assert_int_equal(ngot, before + 1);
	snprintf(want, sizeof(want), "/api/v1/namespaces/ns-%d/pods", i);
	assert_string_equal(got[before % MAXREC].path, want);
	assert_int_equal(got[before % MAXREC].start_ns, (uint64_t)i);
	assert_int_equal(got[before % MAXREC].latency_ns, ts - (uint64_t)i);
}

static void test_many_interleaved(void **state)
{
	struct assembler *a = asm_new(0, 0, cb, NULL);
	static struct request_record r; /* zeroed: filled by asm_fill_started */
	int32_t kept = -1;
	struct kp_req_start s;
	const int n = 3000;
	char path[64];

	ngot = 0;
	for (int i = 0; i < n; i++) {
		int32_t k;

		snprintf(path, sizeof(path), "/api/v1/namespaces/ns-%d/pods", i);
		mk_start(&s, 0x10000 + (i % 7) * 64, (uint32_t)(2 * i + 1), (uint64_t)i, "GET", path, "x");
		k = asm_start(a, &s);
		assert_true(k >= 0);
		if (i == 1)
			kept = k; /* request 1 ends in the second loop */
		if (i % 3 == 2) /* end an earlier one */
			end_and_check(a, i - 2, (uint64_t)i + 5);
	}
	asm_fill_started(a, kept, &r);
	assert_string_equal(r.path, "/api/v1/namespaces/ns-1/pods");
	assert_int_equal(r.start_ns, 1);
	for (int i = 0; i < n; i++) {
		if (i % 3 == 0 && i + 2 < n)
			continue; /* already ended */
		end_and_check(a, i, (uint64_t)n + 10);
	}
	assert_int_equal(asm_get_stats(a)->unmatched_end, 0);
	assert_int_equal(ngot, n);
	assert_int_equal(asm_pending(a), 0);
	asm_free(a);
}

static void test_max_pending(void **state)
{
	struct assembler *a = asm_new(4, 0, cb, NULL);
	struct kp_req_start s;

	for (int i = 0; i < 6; i++) {
		mk_start(&s, 0x3000, (uint32_t)i + 1, 1, "GET", "/", "x");
		asm_start(a, &s);
	}
	assert_int_equal(asm_pending(a), 4);
	assert_int_equal(asm_get_stats(a)->full, 2);
	asm_free(a);
}

/* A request whose end was lost stays pending until its connection has been closed for the grace. */
static void test_expire_closed(void **state)
{
	struct assembler *a = asm_new(0, 0, cb, NULL);
	struct conntrack *ct = ct_new(0);
	struct kp_req_start s;
	const uint64_t G = 5000;
	static const char *peers[] = { "10.0.0.1:1000", "10.0.0.2:2000", "10.0.0.3:3000" };

	assert_non_null(a);
	assert_non_null(ct);
	ngot = 0;
	for (int i = 0; i < 3; i++)
		ct_open(ct, peers[i], 443, 10, false);
	/* 40 requests per connection (many collide in the table: removal must keep the others) */
	for (int i = 0; i < 3; i++)
		for (uint32_t sid = 1; sid <= 79; sid += 2) {
			mk_start(&s, 100 + (uint64_t)i, sid, 100, "GET", "/api/v1/pods", "ua");
			s.addr_len = (uint16_t)snprintf(s.addr, sizeof(s.addr), "%s", peers[i]);
			asm_start(a, &s);
		}
	assert_int_equal(asm_pending(a), 120);
	/* connection 0 closes at 1000; connection 2's address closed at 50 and opened again at 60 (it is
	 * open now) */
	ct_close(ct, peers[0], 1000);
	ct_close(ct, peers[2], 50);
	ct_open(ct, peers[2], 443, 60, false);
	/* within the grace: nothing */
	assert_int_equal(asm_expire_closed(a, ct, 1000 + G - 1, G), 0);
	assert_int_equal(asm_pending(a), 120);
	/* after it: connection 0's 40 go, the open ones stay */
	assert_int_equal(asm_expire_closed(a, ct, 1000 + G, G), 40);
	assert_int_equal(asm_pending(a), 80);
	assert_int_equal(asm_get_stats(a)->expired, 40);
	assert_int_equal(ngot, 0); /* no record */
	/* a connection closed before the request started does not expire it (it is a newer connection) */
	ct_close(ct, peers[1], 50);
	assert_int_equal(asm_expire_closed(a, ct, 100000, G), 0);
	/* the others still pair with their ends */
	{
		struct kp_req_end e;

		mk_end(&e, 101, 1, 200, 200);
		asm_end(a, &e);
		assert_int_equal(ngot, 1);
		mk_end(&e, 100, 1, 200, 200); /* expired: unmatched */
		asm_end(a, &e);
		assert_int_equal(asm_get_stats(a)->unmatched_end, 1);
	}
	ct_free(ct);
	asm_free(a);
}


/* A kept start holds its strings by their length, the path up to its first NUL (nothing after it), and
 * fills the record its event does; forgetting it leaves none of the path's bytes. */
static bool holds(const void *mem, size_t n, const char *needle)
{
	size_t l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (!memcmp((const char *)mem + i, needle, l))
			return true;
	return false;
}

static void test_kept_start(void **state)
{
	static struct req_start_kept k; /* zeroed: any secret found in it was put there */
	static struct request_record r;
	static const char after_nul[] = "/api/v1/pods\0?token=hidden-after-nul";
	struct kp_req_start s;

	(void)state;
	mk_start(&s, 0x4000, 1, 7, "GET", "/api/v1/namespaces/ns/pods?access_token=s3cr3t-value", "ua/1");
	s.addr_len = (uint16_t)snprintf(s.addr, sizeof(s.addr), "10.1.2.3:4567");
	s.authn = KP_AUTHN_OK;
	s.user_found = 1;
	s.user_len = (uint16_t)snprintf(s.user, sizeof(s.user), "alice");
	s.ngroups = 2;
	s.group_len[0] = (uint16_t)snprintf(s.groups[0], sizeof(s.groups[0]), "system:masters");
	s.group_len[1] = (uint16_t)snprintf(s.groups[1], sizeof(s.groups[1]), "system:authenticated");
	req_start_keep(&k, &s);
	request_fill_kept(&r, &k, 1000);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.path, "/api/v1/namespaces/ns/pods?access_token=REDACTED");
	assert_string_equal(r.user_agent, "ua/1");
	assert_string_equal(r.client, "10.1.2.3:4567");
	assert_string_equal(r.user, "alice");
	assert_int_equal(r.ngroups, 2);
	assert_string_equal(r.groups[1], "system:authenticated");
	assert_int_equal(r.start_ns, 1007);
	assert_memory_equal(req_start_kept_addr(&k), "10.1.2.3:4567", k.addr_len);
	assert_true(holds(&k, sizeof(k), "s3cr3t-value"));
	req_start_forget(&k);
	assert_false(holds(&k, sizeof(k), "s3cr3t-value"));
	/* bytes after a NUL in the captured path are not kept */
	memset(&k, 0, sizeof(k));
	s.path_len = sizeof(after_nul) - 1;
	memcpy(s.path, after_nul, s.path_len);
	req_start_keep(&k, &s);
	assert_int_equal(k.path_len, strlen("/api/v1/pods"));
	assert_false(holds(&k, sizeof(k), "hidden-after-nul"));
	request_fill_kept(&r, &k, 0);
	assert_string_equal(r.path, "/api/v1/pods");
	/* every length, a NUL anywhere or nowhere: the kept path is the C string, and forgetting it clears
	 * every byte of it */
	for (size_t len = 0; len <= 100; len++)
		for (size_t nul = 0; nul <= len; nul++) {
			memset(s.path, 'p', sizeof(s.path));
			if (nul < len)
				s.path[nul] = '\0';
			s.path_len = (uint16_t)len;
			req_start_keep(&k, &s);
			assert_int_equal(k.path_len, nul);
			req_start_forget(&k);
			for (size_t b = 0; b < nul; b++)
				assert_int_equal(k.s[k.method_len + b], 0);
		}
}

/* A pending request's path is cleared when its request ends (the pool slot is kept for reuse). */
static void test_freed_pending_has_no_path(void **state)
{
	struct assembler *a = asm_new(0, 0, cb, NULL);
	static struct request_record r;
	struct kp_req_start s;
	struct kp_req_end e;
	int32_t h;

	(void)state;
	ngot = 0;
	mk_start(&s, 0x5000, 1, 10, "GET", "/api/v1/secrets?token=abcdef", "u");
	h = asm_start(a, &s);
	assert_true(h >= 0);
	asm_fill_started(a, h, &r);
	assert_string_equal(r.path, "/api/v1/secrets?token=REDACTED");
	mk_end(&e, 0x5000, 1, 20, 200);
	asm_end(a, &e);
	assert_int_equal(ngot, 1);
	/* the slot, read after its request ended (its memory stays in the pool), holds an empty path */
	asm_fill_started(a, h, &r);
	assert_string_equal(r.path, "");
	asm_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs_and_classifies),
		cmocka_unit_test(test_unmatched_and_ongoing),
		cmocka_unit_test(test_many_interleaved),
		cmocka_unit_test(test_max_pending),
		cmocka_unit_test(test_expire_closed),
		cmocka_unit_test(test_kept_start),
		cmocka_unit_test(test_freed_pending_has_no_path),
	};
	return cmocka_run_group_tests_name("assembler", tests, NULL, NULL);
}
