// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* APF rejections -> their requests (assemble/apf_join.h), and through the pipeline into the records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/apf_join.h"
#include "pipeline/pipeline.h"

#define MS 1000000ULL
#define HOLD (2000 * MS)

static void rej(struct apf_join *j, uint64_t g, uint64_t ts, const char *pl, const char *fs, const char *why)
{
	struct kp_apf_reject e;

	memset(&e, 0xab, sizeof(e)); /* garbage beyond the lengths */
	e.hdr.type = KP_EV_APF_REJECT;
	e.hdr.goid_g = g;
	e.hdr.ts_ns = ts;
	e.truncated = 0;
	e.pl_len = (uint16_t)strlen(pl);
	e.fs_len = (uint16_t)strlen(fs);
	e.reason_len = (uint16_t)strlen(why);
	memcpy(e.pl, pl, e.pl_len);
	memcpy(e.fs, fs, e.fs_len);
	memcpy(e.reason, why, e.reason_len);
	apf_join_reject(j, &e);
}

/* a 429 of the request whose context is ctx: the chain is [derived..., ctx, parents...] */
static void tmr(struct apf_join *j, uint64_t g, uint64_t ts, uint64_t ctx)
{
	struct kp_apf_too_many e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = KP_EV_APF_TOO_MANY;
	e.hdr.goid_g = g;
	e.hdr.ts_ns = ts;
	e.nctx = 5;
	e.ctx_chain[0] = ctx + 0x1000;
	e.ctx_chain[1] = ctx + 0x2000;
	e.ctx_chain[2] = ctx;
	e.ctx_chain[3] = 0x50; /* the server's base context: shared by every request */
	e.ctx_chain[4] = 0x40;
	apf_join_too_many(j, &e);
}

static bool end(struct apf_join *j, uint64_t ctx, struct request_record *r)
{
	memset(r, 0, sizeof(*r));
	r->link_ctx = ctx;
	return apf_join_request_end(j, r);
}

static void test_pairs_by_goroutine_links_by_context(void **state)
{
	struct apf_join *j = apf_join_new(HOLD);
	struct request_record r;

	/* two requests rejected at once on two goroutines, their events interleaved */
	rej(j, 0xa000, 1 * MS, "pl-a", "fs-a", "queue-full");
	rej(j, 0xb000, 2 * MS, "pl-b", "fs-b", "concurrency-limit");
	tmr(j, 0xb000, 3 * MS, 0x7000b);
	tmr(j, 0xa000, 4 * MS, 0x7000a);
	/* a request without a 429 (its context in no chain) gets nothing */
	assert_false(end(j, 0x7000c, &r));
	assert_true(end(j, 0x7000a, &r));
	assert_string_equal(r.apf.priority_level, "pl-a");
	assert_string_equal(r.apf.flow_schema, "fs-a");
	assert_string_equal(r.apf.reject_reason, "queue-full");
	assert_true(end(j, 0x7000b, &r));
	assert_string_equal(r.apf.priority_level, "pl-b");
	assert_string_equal(r.apf.reject_reason, "concurrency-limit");
	/* claimed once */
	assert_false(end(j, 0x7000a, &r));
	assert_int_equal(apf_join_get_stats(j)->attributed, 2);
	assert_int_equal(apf_join_get_stats(j)->unpaired, 0);
	apf_join_free(j);
}

static void test_unpaired_and_expiry(void **state)
{
	struct apf_join *j = apf_join_new(HOLD);
	struct request_record r;

	/* a 429 of the max-in-flight filter (no AddReject): attributed, without names */
	tmr(j, 0xc000, 1 * MS, 0x7000c);
	assert_true(end(j, 0x7000c, &r));
	assert_string_equal(r.apf.priority_level, "");
	assert_string_equal(r.apf.reject_reason, "");
	assert_int_equal(apf_join_get_stats(j)->unpaired, 1);
	/* an AddReject too old for the goroutine's next 429 is not paired with it */
	rej(j, 0xd000, 10 * MS, "pl", "fs", "time-out");
	tmr(j, 0xd000, 10 * MS + HOLD + 1, 0x7000d);
	assert_true(end(j, 0x7000d, &r));
	assert_string_equal(r.apf.priority_level, "");
	/* a 429 no request end claims expires at a tick after the hold */
	tmr(j, 0xe000, 20 * MS, 0x7000e);
	apf_join_tick(j, 20 * MS + HOLD / 2);
	assert_int_equal(apf_join_get_stats(j)->expired, 0);
	apf_join_tick(j, 20 * MS + HOLD + 1);
	assert_int_equal(apf_join_get_stats(j)->expired, 1);
	assert_false(end(j, 0x7000e, &r));
	apf_join_free(j);
}

/* many goroutines rejected before any of their 429s (the testbed saw 120 at once): every pair found */
static void test_many_at_once(void **state)
{
	struct apf_join *j = apf_join_new(HOLD);
	struct request_record r;
	char pl[32];
	int n = 600;

	for (int i = 0; i < n; i++) {
		snprintf(pl, sizeof(pl), "pl-%d", i);
		rej(j, 0xc000000000ULL + (uint64_t)i * 0x1a0, MS + (uint64_t)i, pl, "fs", "queue-full");
	}
	for (int i = n - 1; i >= 0; i--)
		tmr(j, 0xc000000000ULL + (uint64_t)i * 0x1a0, 2 * MS + (uint64_t)i, 0x100000 + (uint64_t)i * 0x10000);
	for (int i = 0; i < n; i++) {
		snprintf(pl, sizeof(pl), "pl-%d", i);
		assert_true(end(j, 0x100000 + (uint64_t)i * 0x10000, &r));
		assert_string_equal(r.apf.priority_level, pl);
	}
	assert_int_equal(apf_join_get_stats(j)->unpaired, 0);
	assert_int_equal(apf_join_get_stats(j)->dropped_full, 0);
	apf_join_free(j);
}

/* bounded: more 429s waiting than the table holds drop the oldest, counted */
static void test_pending_bound(void **state)
{
	struct apf_join *j = apf_join_new(HOLD);
	struct request_record r;

	for (int i = 0; i < APF_MAX_PENDING + 3; i++)
		tmr(j, 0x10, MS, 0x100000 + (uint64_t)i * 0x10000);
	assert_int_equal(apf_join_get_stats(j)->dropped_full, 3);
	assert_false(end(j, 0x100000, &r));
	assert_true(end(j, 0x100000 + (uint64_t)(APF_MAX_PENDING + 2) * 0x10000, &r));
	apf_join_free(j);
}

/* Rejections no 429 claimed leave at a tick after the hold (the tick skips its scan while none wait):
 * afterwards the table takes new goroutines as an empty one does, whether its slots were replaced,
 * paired or left to expire. */
static void test_tick_frees_rejections(void **state)
{
	struct apf_join *j = apf_join_new(HOLD), *fresh = apf_join_new(HOLD);
	struct request_record r;
	uint64_t before;

	for (int i = 0; i < APF_MAX_GOROUTINES; i++)
		rej(j, 0xa00000000ULL + (uint64_t)i * 0x1a0, MS, "pl", "fs", "queue-full");
	rej(j, 0xa00000000ULL, MS + 1, "pl", "fs", "time-out"); /* the goroutine's own slot again */
	tmr(j, 0xa00000000ULL + 0x1a0, MS + 2, 0x7000a);       /* paired: its slot is free at once */
	assert_true(end(j, 0x7000a, &r));
	assert_string_equal(r.apf.priority_level, "pl");
	/* nothing expires within the hold: the table is full, a new goroutine takes an old slot */
	apf_join_tick(j, MS + HOLD / 2);
	before = apf_join_get_stats(j)->dropped_full;
	rej(j, 0xb00000000ULL, MS + HOLD / 2, "pl", "fs", "queue-full");
	assert_int_equal(apf_join_get_stats(j)->dropped_full, before + 1);
	/* after the hold every slot is free: the same goroutines fit as in an empty table */
	apf_join_tick(j, MS + HOLD / 2 + HOLD + 1);
	apf_join_tick(j, MS + HOLD / 2 + HOLD + 2); /* nothing left: the tick has nothing to do */
	before = apf_join_get_stats(j)->dropped_full;
	for (int i = 0; i < APF_MAX_GOROUTINES / 2; i++) {
		rej(j, 0xc00000000ULL + (uint64_t)i * 0x2a0, 4 * HOLD, "pl", "fs", "queue-full");
		rej(fresh, 0xc00000000ULL + (uint64_t)i * 0x2a0, 4 * HOLD, "pl", "fs", "queue-full");
	}
	assert_int_equal(apf_join_get_stats(j)->dropped_full - before, apf_join_get_stats(fresh)->dropped_full);
	apf_join_free(j);
	apf_join_free(fresh);
}

static void obj(struct apf_join *j, int kind, const char *name, const char *uid)
{
	struct kp_apf_object e;

	memset(&e, 0xcd, sizeof(e)); /* garbage beyond the lengths */
	e.hdr.type = KP_EV_APF_OBJECT;
	e.kind = (uint8_t)kind;
	e.truncated = 0;
	e.name_len = (uint8_t)strlen(name);
	e.uid_len = (uint8_t)strlen(uid);
	memcpy(e.name, name, e.name_len);
	memcpy(e.uid, uid, e.uid_len);
	apf_join_object(j, &e);
}

/* names of served requests' UIDs, from config digests; per kind; bounded */
static void test_names_from_digest(void **state)
{
	struct apf_join *j = apf_join_new(HOLD);
	struct request_record r;
	char uid[40], name[40];

	memset(&r, 0, sizeof(r));
	snprintf(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), "u-pl");
	snprintf(r.apf.flow_schema_uid, sizeof(r.apf.flow_schema_uid), "u-fs");
	assert_false(apf_join_request_end(j, &r)); /* nothing learned yet: UIDs only */
	assert_string_equal(r.apf.priority_level, "");
	obj(j, KP_APF_PRIORITY_LEVEL, "workload-low", "u-pl");
	obj(j, KP_APF_FLOW_SCHEMA, "service-accounts", "u-fs");
	obj(j, KP_APF_FLOW_SCHEMA, "not-a-pl", "u-x");
	assert_false(apf_join_request_end(j, &r));
	assert_string_equal(r.apf.priority_level, "workload-low");
	assert_string_equal(r.apf.flow_schema, "service-accounts");
	/* a UID of the other kind is not a name of this one */
	memset(&r.apf, 0, sizeof(r.apf));
	snprintf(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), "u-x");
	apf_join_request_end(j, &r);
	assert_string_equal(r.apf.priority_level, "");
	/* a digest after a rename (same UID) updates it */
	obj(j, KP_APF_PRIORITY_LEVEL, "renamed", "u-pl");
	memset(&r.apf, 0, sizeof(r.apf));
	snprintf(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), "u-pl");
	apf_join_request_end(j, &r);
	assert_string_equal(r.apf.priority_level, "renamed");
	assert_int_equal(apf_join_get_stats(j)->objects, 3);
	/* bounded: a full table drops (counted) and keeps answering */
	for (int i = 0; i < APF_MAX_OBJECTS + 5; i++) {
		snprintf(uid, sizeof(uid), "uid-%d", i);
		snprintf(name, sizeof(name), "fs-%d", i);
		obj(j, KP_APF_FLOW_SCHEMA, name, uid);
	}
	assert_int_equal(apf_join_get_stats(j)->dropped_full, 7); /* 2 slots held u-fs and u-x */
	memset(&r.apf, 0, sizeof(r.apf));
	snprintf(r.apf.flow_schema_uid, sizeof(r.apf.flow_schema_uid), "uid-17");
	apf_join_request_end(j, &r);
	assert_string_equal(r.apf.flow_schema, "fs-17");
	apf_join_free(j);
}

/* ---- through the pipeline: end events carry the UIDs; a 429's names reach its record ---- */
static struct request_record got[4];
static int ngot;
static void on_req(void *ctx, const struct request_record *r)
{
	if (ngot < 4)
		got[ngot++] = *r;
}

static void start_end(struct pipeline *p, uint64_t conn, uint64_t ts, int status, uint64_t ctx, const char *pl_uid)
{
	struct kp_req_start s;
	struct kp_req_end e;

	memset(&s, 0, sizeof(s));
	s.hdr.type = KP_EV_REQ_START;
	s.hdr.tgid = 42;
	s.hdr.ts_ns = ts;
	s.conn = conn;
	s.proto = KP_PROTO_H1;
	s.method_len = 3;
	memcpy(s.method, "GET", 3);
	s.path_len = 8;
	memcpy(s.path, "/healthz", 8);
	s.content_length = -1;
	assert_int_equal(pipeline_feed(p, &s, sizeof(s)), 0);
	if (status == 429) {
		struct kp_apf_reject rj;
		struct kp_apf_too_many tm;

		memset(&rj, 0, sizeof(rj));
		rj.hdr.type = KP_EV_APF_REJECT;
		rj.hdr.tgid = 42;
		rj.hdr.goid_g = 0x9000;
		rj.hdr.ts_ns = ts + 1;
		rj.pl_len = 4;
		memcpy(rj.pl, "tiny", 4);
		rj.fs_len = 5;
		memcpy(rj.fs, "alice", 5);
		rj.reason_len = 10;
		memcpy(rj.reason, "queue-full", 10);
		assert_int_equal(pipeline_feed(p, &rj, sizeof(rj)), 0);
		memset(&tm, 0, sizeof(tm));
		tm.hdr.type = KP_EV_APF_TOO_MANY;
		tm.hdr.tgid = 42;
		tm.hdr.goid_g = 0x9000;
		tm.hdr.ts_ns = ts + 2;
		tm.nctx = 2;
		tm.ctx_chain[0] = ctx + 8;
		tm.ctx_chain[1] = ctx;
		assert_int_equal(pipeline_feed(p, &tm, sizeof(tm)), 0);
	}
	memset(&e, 0, sizeof(e));
	e.hdr.type = KP_EV_REQ_END;
	e.hdr.tgid = 42;
	e.hdr.ts_ns = ts + 10;
	e.conn = conn;
	e.proto = KP_PROTO_H1;
	e.status = status;
	e.bytes_out = e.bytes_in = -1;
	e.ctx = ctx;
	if (pl_uid) {
		e.pl_uid_len = (uint8_t)strlen(pl_uid);
		memcpy(e.pl_uid, pl_uid, e.pl_uid_len);
		e.fs_uid_len = 3;
		memcpy(e.fs_uid, "fsu", 3);
	}
	assert_int_equal(pipeline_feed(p, &e, sizeof(e)), 0);
}

static void test_pipeline(void **state)
{
	struct pipeline *p = pipeline_new(&(struct pipeline_opts){ 0 });
	struct pipeline_sink s = { .name = "t", .request = on_req };
	struct record_stats st;
	uint64_t hits[KP_PROBE__COUNT] = { 0 }, counters[KP_CNT__COUNT] = { 0 };

	ngot = 0;
	assert_int_equal(pipeline_add_sink(p, &s), 0);
	start_end(p, 0x1, 1000 * MS, 200, 0xaa0, "cdd47590-6639-4f81-ae93-cd3845744465");
	start_end(p, 0x2, 1001 * MS, 429, 0xbb0, NULL);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[0].apf.priority_level_uid, "cdd47590-6639-4f81-ae93-cd3845744465");
	assert_string_equal(got[0].apf.flow_schema_uid, "fsu");
	assert_string_equal(got[0].apf.priority_level, "");
	assert_string_equal(got[1].apf.priority_level, "tiny");
	assert_string_equal(got[1].apf.flow_schema, "alice");
	assert_string_equal(got[1].apf.reject_reason, "queue-full");
	assert_string_equal(got[1].apf.priority_level_uid, "");
	pipeline_fill_stats(p, hits, counters, 0, &st);
	assert_true(st.has_apf);
	assert_int_equal(st.apf_rejects, 1);
	assert_int_equal(st.apf_attributed, 1);
	pipeline_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs_by_goroutine_links_by_context),
		cmocka_unit_test(test_unpaired_and_expiry),
		cmocka_unit_test(test_many_at_once),
		cmocka_unit_test(test_pending_bound),
		cmocka_unit_test(test_tick_frees_rejections),
		cmocka_unit_test(test_names_from_digest),
		cmocka_unit_test(test_pipeline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
