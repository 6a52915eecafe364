// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Request starts after authentication (issue 13), the pure parts: SHA-256 and Go's type hashes, the
 * apiserver prefix and parameters, Go's time.Time, the assembler's context key and received time, and
 * the user and groups in records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/assembler.h"
#include "assemble/go_time.h"
#include "assemble/record_json.h"
#include "output/json_writer.h"
#include "plan/authn_params.h"
#include "util/sha256.h"

static void hex(const uint8_t *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void test_sha256(void **state)
{
	uint8_t h[32];
	char x[65];
	char big[1000];

	(void)state;
	/* FIPS 180-4 examples */
	sha256("", 0, h);
	hex(h, 32, x);
	assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256("abc", 3, h);
	hex(h, 32, x);
	assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h); /* two padding blocks */
	hex(h, 32, x);
	assert_string_equal(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(big, 'a', sizeof(big)); /* several blocks */
	sha256(big, sizeof(big), h);
	hex(h, 32, x);
	assert_string_equal(x, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

/* The hashes found in the testbed's kube-apiserver 1.20.2 (go1.19.8) type descriptors (runtime._type.hash
 * next to the descriptor's size and kind; docs/capture.md). */
static void test_go_type_hash(void **state)
{
	(void)state;
	assert_int_equal(go_typehash_alg(19), GTH_NOTSHA256);
	assert_int_equal(go_typehash_alg(18), GTH_UNKNOWN);
	assert_int_equal(go_typehash_alg(20), GTH_UNKNOWN);
	assert_int_equal(go_type_hash(GTH_NOTSHA256, "int"), 0xcb735792);
	assert_int_equal(go_type_hash(GTH_NOTSHA256, "time.Time"), 0x8cac3de9);
	assert_int_equal(go_type_hash(GTH_NOTSHA256, "k8s.io/kubernetes/vendor/k8s.io/apiserver/pkg/endpoints/request.key"),
			 0xab753265);
	assert_int_equal(go_type_hash(GTH_NOTSHA256,
				      "k8s.io/kubernetes/vendor/k8s.io/apiserver/pkg/endpoints/request."
				      "requestReceivedTimestampKeyType"),
			 0xa7f16a6e);
	assert_int_equal(go_type_hash(GTH_NOTSHA256,
				      "*k8s.io/kubernetes/vendor/k8s.io/apiserver/pkg/authentication/user.DefaultInfo"),
			 0x06c2aa81);
	assert_int_equal(go_type_hash(GTH_UNKNOWN, "int"), 0);
}

static void test_prefix_and_params(void **state)
{
	char p[128], why[256];
	struct kp_authn_params a;

	(void)state;
	assert_int_equal(authn_apiserver_prefix("k8s.io/kubernetes/vendor/k8s.io/apiserver/pkg/endpoints/filters."
						"WithImpersonation.func1", p, sizeof(p)),
			 (int)strlen("k8s.io/kubernetes/vendor/k8s.io/apiserver/"));
	assert_string_equal(p, "k8s.io/kubernetes/vendor/k8s.io/apiserver/");
	assert_true(authn_apiserver_prefix("k8s.io/apiserver/pkg/endpoints/filters.Unauthorized.func1", p, sizeof(p)) > 0);
	assert_string_equal(p, "k8s.io/apiserver/");
	assert_int_equal(authn_apiserver_prefix("example.com/xpkg/endpoints/filters.F", p, sizeof(p)), -1);
	assert_int_equal(authn_apiserver_prefix("net/http.(*conn).serve", p, sizeof(p)), -1);
	assert_int_equal(authn_apiserver_prefix(NULL, p, sizeof(p)), -1);
	assert_int_equal(authn_apiserver_prefix("k8s.io/apiserver/pkg/endpoints/filters.F", p, 4), -1);

	assert_int_equal(authn_params_fill(19, "k8s.io/kubernetes/vendor/k8s.io/apiserver/pkg/endpoints/filters."
					       "WithImpersonation.func1", &a, why, sizeof(why)), 0);
	assert_int_equal(a.hash_req_key, 0xab753265);
	assert_int_equal(a.hash_recv_ts_key, 0xa7f16a6e);
	assert_int_equal(a.hash_user_type, 0x06c2aa81);
	assert_int_equal(a.user_key, 1);
	assert_int_equal(a.recv_ts_key, 0);
	assert_int_equal(a.user_groups, 32);
	assert_int_equal(a.req_spill, KP_OFF_UNKNOWN); /* the plan sets it from the frame size */
	/* a module build (no vendor prefix) hashes other names */
	assert_int_equal(authn_params_fill(19, "k8s.io/apiserver/pkg/endpoints/filters.WithImpersonation.func1", &a,
					   why, sizeof(why)), 0);
	assert_int_not_equal(a.hash_req_key, 0xab753265);
	/* unknown Go: no parameters, a reason */
	assert_int_equal(authn_params_fill(23, "k8s.io/apiserver/pkg/endpoints/filters.WithImpersonation.func1", &a,
					   why, sizeof(why)), -1);
	assert_non_null(strstr(why, "go1.23"));
	assert_int_equal(a.hash_req_key, 0);
}

static void test_go_time(void **state)
{
	uint64_t ns;

	(void)state;
	/* time.Now() with a monotonic reading: wall = 1<<63 | (sec since 1885) << 30 | nsec.
	 * 2026-11-30T08:51:28.233676976Z = 1796028688 s since the epoch; 1885 -> 1970: 2682288000 s */
	{
		uint64_t sec1885 = 1796028688ULL + 2682288000ULL;
		uint64_t wall = 1ULL << 63 | sec1885 << 30 | 233676976ULL;

		assert_true(go_time_unix_ns(wall, 12345, &ns));
		assert_int_equal(ns, 1796028688233676976ULL);
	}
	/* without (time.Unix(...)): ext = seconds since year 1 (1970 is 62135596800 s after it) */
	assert_true(go_time_unix_ns(5, 62135596800LL + 1796028688LL, &ns));
	assert_int_equal(ns, 1796028688000000005ULL);
	/* the zero time, a bad nanosecond field: not a time of a running program */
	assert_false(go_time_unix_ns(0, 0, &ns));
	assert_false(go_time_unix_ns(1ULL << 63 | (999999999ULL + 1), 0, &ns));
}

/* ---- assembler: starts after authentication ---- */
static struct request_record got[16];
static int ngot;

static void cb(struct request_record *r, void *ctx)
{
	(void)ctx;
	if (ngot < 16)
		got[ngot] = *r;
	ngot++;
}

#define MONO_TO_WALL 1796000000000000000LL /* wall = mono + this */

static void mk_authn(struct kp_req_start *s, uint8_t kind, uint64_t root_ctx, uint64_t probe_mono,
		     uint64_t recv_wall_ns, const char *user)
{
	uint64_t sec = recv_wall_ns / 1000000000ULL + 2682288000ULL;

	memset(s, 0, sizeof(*s));
	s->hdr.type = KP_EV_REQ_START;
	s->hdr.ts_ns = probe_mono;
	s->conn = root_ctx;
	s->stream_id = KP_SID_CTX;
	s->proto = KP_PROTO_H2;
	s->authn = kind;
	s->method_len = 3;
	memcpy(s->method, "GET", 3);
	s->path_len = 5;
	memcpy(s->path, "/api/", 5);
	s->content_length = -1;
	if (recv_wall_ns) {
		s->recv_found = 1;
		s->recv_wall = 1ULL << 63 | sec << 30 | recv_wall_ns % 1000000000ULL;
		s->recv_ext = 777;
	}
	if (user) {
		s->user_found = 1;
		s->user_len = (uint16_t)strlen(user);
		memcpy(s->user, user, s->user_len);
		s->ngroups = 2;
		s->group_len[0] = 14;
		memcpy(s->groups[0], "system:masters", 14);
		s->group_len[1] = 20;
		memcpy(s->groups[1], "system:authenticated", 20);
	}
}

static void mk_end(struct kp_req_end *e, uint64_t conn, uint32_t sid, uint64_t ctx, uint64_t mono)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = KP_EV_REQ_END;
	e->hdr.ts_ns = mono;
	e->conn = conn;
	e->stream_id = sid;
	e->proto = KP_PROTO_H2;
	e->status = 200;
	e->bytes_in = e->bytes_out = -1;
	e->ctx = ctx;
}

/* budget mode: the weight of the window the start probe ran in (its gate), not of the arrival time */
static double weigh_probe(void *ctx, uint64_t mono)
{
	(void)ctx;
	return mono == 5000000000ULL ? 2.0 : 1.0;
}

static void test_assembler_authn(void **state)
{
	struct assembler *a = asm_new(0, MONO_TO_WALL, cb, NULL);
	struct kp_req_start s;
	struct kp_req_end e;
	const uint64_t mono = 5000000000ULL, wall = (uint64_t)MONO_TO_WALL + mono;

	(void)state;
	ngot = 0;
	asm_set_weigher(a, weigh_probe, NULL);
	/* authenticated, received 2 ms before the probe: the record starts when the request arrived */
	mk_authn(&s, KP_AUTHN_OK, 0xc000100000ULL, mono, wall - 2000000, "admin");
	assert_true(asm_start(a, &s) >= 0);
	assert_int_equal(asm_pending(a), 1);
	/* a generic end of another request does not take it */
	mk_end(&e, 0xc000100000ULL, 1, 0, mono + 1000);
	asm_end(a, &e);
	assert_int_equal(ngot, 0);
	/* the end carries the root context: matched; stream id and protocol from the end */
	mk_end(&e, 0xc000555000ULL, 7, 0xc000100000ULL, mono + 3000000);
	asm_end(a, &e);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0].start_ns, wall - 2000000);
	assert_int_equal(got[0].latency_ns, 5000000);
	assert_int_equal(got[0].stream_id, 7);
	assert_true(got[0].sample_factor == 2.0);
	assert_true(got[0].has_user);
	assert_string_equal(got[0].user, "admin");
	assert_int_equal(got[0].ngroups, 2);
	assert_string_equal(got[0].groups[0], "system:masters");
	assert_string_equal(got[0].groups[1], "system:authenticated");
	assert_int_equal(asm_get_stats(a)->authn_started, 1);
	assert_int_equal(asm_get_stats(a)->authn_no_recv_ts, 0);

	/* failed authentication: no user even if the event had one */
	mk_authn(&s, KP_AUTHN_FAIL, 0xc000200000ULL, mono, wall - 1000, "ignored");
	asm_start(a, &s);
	mk_end(&e, 0xc000666000ULL, 9, 0xc000200000ULL, mono + 100000);
	e.status = 401;
	asm_end(a, &e);
	assert_int_equal(ngot, 2);
	assert_false(got[1].has_user);
	assert_int_equal(got[1].status, 401);

	/* a received time after the probe (beyond the clock slack), or none: the probe's time */
	mk_authn(&s, KP_AUTHN_OK, 0xc000300000ULL, mono, wall + 50000000, "bob");
	asm_start(a, &s);
	mk_authn(&s, KP_AUTHN_OK, 0xc000400000ULL, mono, 0, "carol");
	asm_start(a, &s);
	mk_end(&e, 1, 11, 0xc000300000ULL, mono + 10);
	asm_end(a, &e);
	mk_end(&e, 1, 13, 0xc000400000ULL, mono + 10);
	asm_end(a, &e);
	assert_int_equal(ngot, 4);
	assert_int_equal(got[2].start_ns, wall);
	assert_int_equal(got[3].start_ns, wall);
	assert_int_equal(asm_get_stats(a)->authn_no_recv_ts, 2);
	assert_int_equal(asm_get_stats(a)->unmatched_end, 1);
	asm_free(a);
}

/* Generic and authn starts pending at once: an end that matches both keys goes to the generic start
 * ((conn, stream id) is looked up first), the next with the context to the authn start; once no generic
 * start is pending, an end is looked up by its context only, and an end of neither kind is unmatched. */
static void test_assembler_generic_and_authn(void **state)
{
	struct assembler *a = asm_new(0, MONO_TO_WALL, cb, NULL);
	struct kp_req_start s;
	struct kp_req_end e;
	const uint64_t mono = 5000000000ULL;

	(void)state;
	ngot = 0;
	mk_authn(&s, KP_AUTHN_OK, 0xc000100000ULL, mono, 0, "admin");
	asm_start(a, &s);
	mk_authn(&s, KP_AUTHN_OK, 0xc000100000ULL, mono, 0, NULL); /* a generic start: (conn, stream 3) */
	s.authn = 0;
	s.conn = 0xc000900000ULL;
	s.stream_id = 3;
	asm_start(a, &s);
	assert_int_equal(asm_pending(a), 2);
	mk_end(&e, 0xc000900000ULL, 3, 0xc000100000ULL, mono + 1000);
	asm_end(a, &e);
	assert_int_equal(ngot, 1);
	assert_false(got[0].has_user); /* the generic one */
	asm_end(a, &e);
	assert_int_equal(ngot, 2);
	assert_true(got[1].has_user); /* then the authn one, by its context */
	asm_end(a, &e);
	assert_int_equal(ngot, 2);
	assert_int_equal(asm_get_stats(a)->unmatched_end, 1);
	assert_int_equal(asm_pending(a), 0);
	/* again after the table was emptied by a flush */
	asm_start(a, &s);
	asm_flush_ongoing(a, mono + 2000);
	assert_int_equal(ngot, 3);
	mk_authn(&s, KP_AUTHN_OK, 0xc000200000ULL, mono, 0, "bob");
	asm_start(a, &s);
	mk_end(&e, 0xc000900000ULL, 3, 0xc000200000ULL, mono + 3000);
	asm_end(a, &e);
	assert_int_equal(ngot, 4);
	assert_string_equal(got[3].user, "bob");
	asm_free(a);
}

static void test_record_json_user(void **state)
{
	struct request_record r;
	struct json_writer w;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	(void)state;
	memset(&r, 0, sizeof(r));
	strcpy(r.method, "GET");
	strcpy(r.path, "/api");
	r.bytes_in = r.bytes_out = -1;
	r.has_user = true;
	strcpy(r.user, "evil\"\n\xff");
	r.ngroups = 2;
	strcpy(r.groups[0], "g1");
	strcpy(r.groups[1], "system:authenticated");
	r.truncated = REC_TRUNC_GROUPS;
	m = open_memstream(&buf, &len);
	jw_init(&w, m, false);
	record_json_request(&w, &r);
	fclose(m);
	assert_non_null(strstr(buf, "\"user\":\"evil\\\"\\n\\ufffd\",\"groups\":[\"g1\",\"system:authenticated\"]"));
	assert_non_null(strstr(buf, "\"truncated\":[\"groups\"]"));
	free(buf);

	r.has_user = false; /* unknown: neither field */
	r.truncated = 0;
	buf = NULL;
	m = open_memstream(&buf, &len);
	jw_init(&w, m, false);
	record_json_request(&w, &r);
	fclose(m);
	assert_null(strstr(buf, "\"user\""));
	assert_null(strstr(buf, "\"groups\""));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_go_type_hash),
		cmocka_unit_test(test_prefix_and_params),
		cmocka_unit_test(test_go_time),
		cmocka_unit_test(test_assembler_authn),
		cmocka_unit_test(test_assembler_generic_and_authn),
		cmocka_unit_test(test_record_json_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
