// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Aggregator: windowed rates at controlled timestamps, error split, quantiles vs exact, overflow into
 * "(other)", sampling-factor weighting, sorting, in-flight, keys, anomaly feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "aggregate/aggregate.h"
#include "aggregate/anomaly_line.h"
#include "aggregate/field_same.h"
#include "assemble/assembler.h"
#include "assemble/request_fill.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S) /* step-aligned start */

static struct request_record mk(const char *ua, const char *verb, const char *resource, int status,
				uint64_t end_ns, uint64_t latency_ns)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.user_agent, sizeof(r.user_agent), "%s", ua);
	snprintf(r.ri.verb, sizeof(r.ri.verb), "%s", verb);
	snprintf(r.ri.resource, sizeof(r.ri.resource), "%s", resource);
	snprintf(r.method, sizeof(r.method), "GET");
	snprintf(r.client, sizeof(r.client), "127.0.0.1:40000");
	r.ri.is_resource_request = true;
	r.status = status;
	r.latency_ns = latency_ns;
	r.start_ns = end_ns - latency_ns;
	r.bytes_out = 100;
	r.sample_factor = 1.0;
	return r;
}

static struct agg *mkagg(uint32_t max_keys, uint32_t nsteps, uint64_t start)
{
	struct agg_params p;
	struct agg *a;

	agg_params_default(&p);
	p.max_keys = max_keys;
	p.nsteps = nsteps;
	p.detector_window = 0;
	a = agg_new(&p, start);
	assert_non_null(a);
	return a;
}

static const struct agg_row *find_ua(const struct agg_row *rows, size_t n, const char *ua)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].key->user_agent, ua))
			return &rows[i];
	return NULL;
}

/* What the requests cost in etcd: summed per row and per second (weighted), sortable: a rare LIST that
 * returns many keys comes first by etcd-bytes / etcd-keys, not by rate; records without a known cost
 * add nothing; an evicted key's cost moves to "(other)". */
static void test_etcd_cost_sorts(void **state)
{
	struct agg *a = mkagg(64, 10, T0);
	struct agg_row rows[8];
	const struct agg_row *r;
	size_t n;

	for (int i = 0; i < 50; i++) { /* a frequent GET: 1 key, 300 bytes each */
		struct request_record q = mk("getter", "get", "configmaps", 200, T0 + (uint64_t)i * S / 50, 1000000);

		q.has_etcd_cost = true;
		q.etcd_calls = 1;
		q.etcd_resp_bytes = 300;
		q.etcd_kvs = 1;
		agg_add(a, &q);
	}
	for (int i = 0; i < 2; i++) { /* a rare LIST: 5000 keys, 4 MB, counted twice (sample factor 2) */
		struct request_record q = mk("lister", "list", "configmaps", 200, T0 + S / 2 + (uint64_t)i, 9000000);

		q.has_etcd_cost = true;
		q.etcd_calls = 1;
		q.etcd_resp_bytes = 4000000;
		q.etcd_kvs = 5000;
		q.sample_factor = 2;
		agg_add(a, &q);
	}
	{ /* no etcd capture: no cost */
		struct request_record q = mk("nocost", "list", "pods", 200, T0 + S / 3, 1000000);

		agg_add(a, &q);
	}
	agg_add(a, &(struct request_record){ .start_ns = T0 + S, .latency_ns = 1 }); /* step 0 is complete */
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 8, NULL);
	assert_true(n >= 3);
	assert_string_equal(rows[0].key->user_agent, "getter");
	r = find_ua(rows, n, "lister");
	assert_non_null(r);
	assert_true(r->etcd_bytes == 2 * 2 * 4000000.0);
	assert_true(r->etcd_kvs == 2 * 2 * 5000.0);
	assert_true(r->etcd_kvs_rate == r->etcd_kvs); /* a 1 s span */
	r = find_ua(rows, n, "getter");
	assert_true(r->etcd_bytes == 50 * 300.0 && r->etcd_kvs == 50.0);
	r = find_ua(rows, n, "nocost");
	assert_true(r->etcd_bytes == 0 && r->etcd_kvs == 0);
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_ETCD_BYTES, rows, 8, NULL);
	assert_string_equal(rows[0].key->user_agent, "lister");
	assert_string_equal(rows[1].key->user_agent, "getter");
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_ETCD_KEYS, rows, 8, NULL);
	assert_string_equal(rows[0].key->user_agent, "lister");
	assert_string_equal(agg_sort_name(AGG_SORT_ETCD_BYTES), "etcd-bytes");
	assert_string_equal(agg_sort_name(AGG_SORT_ETCD_KEYS), "etcd-keys");
	/* the total row has it all */
	assert_int_equal(agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, rows, 1, NULL), 1);
	assert_true(rows[0].etcd_kvs == 50.0 + 20000.0);
	agg_free(a);
}

static void test_rates_by_step(void **state)
{
	struct agg *a = mkagg(64, 10, T0);
	struct agg_row rows[8];
	double span;
	size_t n;

	/* step 0: 10 requests of agent a; step 1: 30 of a, 5 of b; step 2 (current): 7 of a */
	for (int i = 0; i < 10; i++) {
		struct request_record r = mk("a", "get", "pods", 200, T0 + (uint64_t)i * S / 10, 1000000);
		agg_add(a, &r);
	}
	for (int i = 0; i < 30; i++) {
		struct request_record r = mk("a", "get", "pods", 200, T0 + S + (uint64_t)i * S / 30, 1000000);
		agg_add(a, &r);
	}
	for (int i = 0; i < 5; i++) {
		struct request_record r = mk("b", "list", "pods", 200, T0 + S + 1, 1000000);
		agg_add(a, &r);
	}
	for (int i = 0; i < 7; i++) {
		struct request_record r = mk("a", "get", "pods", 200, T0 + 2 * S + 5, 1000000);
		agg_add(a, &r);
	}
	assert_int_equal(agg_current_step(a), T0 / S + 2);
	/* last completed step only: the current step is excluded */
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 8, &span);
	assert_int_equal(n, 2);
	assert_true(span == 1.0);
	assert_string_equal(rows[0].key->user_agent, "a");
	assert_true(rows[0].rate == 30.0);
	assert_true(rows[1].rate == 5.0);
	/* two steps */
	n = agg_query(a, AGG_BY_AGENT, 2, AGG_SORT_RATE, rows, 8, &span);
	assert_true(span == 2.0);
	assert_true(find_ua(rows, n, "a")->rate == 20.0);
	assert_true(find_ua(rows, n, "b")->rate == 2.5);
	assert_true(find_ua(rows, n, "a")->bytes_rate == 2000.0);
	/* total */
	n = agg_query(a, AGG_TOTAL, 2, AGG_SORT_RATE, rows, 8, NULL);
	assert_int_equal(n, 1);
	assert_true(rows[0].req == 45.0);
	assert_true(agg_step_requests(a, T0 / S + 1) == 35.0);
	/* move on 5 steps: nothing in the last step, and step 0..2 still in a 10-step window */
	agg_advance(a, T0 + 7 * S);
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 8, NULL);
	assert_int_equal(n, 0);
	n = agg_query(a, AGG_BY_AGENT, 10, AGG_SORT_RATE, rows, 8, &span);
	assert_true(span == 7.0); /* not 10: the aggregation started 7 s ago */
	assert_true(find_ua(rows, n, "a")->req == 47.0);
	/* past the window: steps 0..2 are gone; a record that old is "late" (cumulative only) */
	agg_advance(a, T0 + 12 * S + S / 2);
	n = agg_query(a, AGG_BY_AGENT, 10, AGG_SORT_RATE, rows, 8, &span);
	assert_true(span == 10.0);
	assert_int_equal(n, 1); /* steps 2..11: only step 2's 7 requests */
	assert_true(rows[0].req == 7.0);
	agg_advance(a, T0 + 13 * S);
	assert_int_equal(agg_query(a, AGG_BY_AGENT, 10, AGG_SORT_RATE, rows, 8, NULL), 0);
	{
		struct request_record r = mk("a", "get", "pods", 200, T0 + S, 1000);
		const struct agg_cum *cum;

		agg_add(a, &r);
		assert_int_equal(agg_get_stats(a)->late, 1);
		agg_table_entry(a, AGG_TOTAL, 0, &cum, NULL, NULL);
		assert_true(cum->req[AGG_C_2XX] == 53.0);
	}
	agg_free(a);
}

static void test_partial_first_step(void **state)
{
	/* started 0.25 s before the end of the first step: rates over that step use 0.25 s */
	struct agg *a = mkagg(16, 10, T0 + 3 * S / 4);
	struct request_record r = mk("a", "get", "pods", 200, T0 + 9 * S / 10, 1000);
	struct agg_row row;
	double span;

	agg_add(a, &r);
	agg_advance(a, T0 + S);
	assert_int_equal(agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, &row, 1, &span), 1);
	assert_true(span == 0.25);
	assert_true(row.rate == 4.0);
	agg_free(a);
}

static void test_error_split(void **state)
{
	static const int codes[] = { 200, 201, 404, 403, 429, 429, 429, 500, 503, 301, 0 };
	struct agg *a = mkagg(16, 10, T0);
	const struct agg_cum *cum;
	struct agg_row row;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct request_record r = mk("a", "get", "pods", codes[i], T0 + 10, 1000);
		agg_add(a, &r);
	}
	agg_advance(a, T0 + S);
	agg_query(a, AGG_BY_KEY, 1, AGG_SORT_RATE, &row, 1, NULL);
	assert_true(row.req == 11);
	assert_true(row.e4xx == 2);
	assert_true(row.e429 == 3);
	assert_true(row.e5xx == 2);
	assert_true(fabs(row.err_pct - 700.0 / 11) < 1e-9);
	agg_table_entry(a, AGG_BY_KEY, 1, &cum, NULL, NULL);
	assert_true(cum->req[AGG_C_2XX] == 2 && cum->req[AGG_C_3XX] == 1 && cum->req[AGG_C_4XX] == 2 &&
		    cum->req[AGG_C_429] == 3 && cum->req[AGG_C_5XX] == 2 && cum->req[AGG_C_UNKNOWN] == 1);
	assert_int_equal(agg_status_class(429), AGG_C_429);
	assert_int_equal(agg_status_class(499), AGG_C_4XX);
	assert_int_equal(agg_status_class(599), AGG_C_5XX);
	assert_int_equal(agg_status_class(600), AGG_C_UNKNOWN);
	agg_free(a);
}

static uint64_t rng = 0x243f6a8885a308d3ULL;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ULL << 53);
}

static int u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t exact(uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)ceil(q * (double)n);

	qsort(v, n, sizeof(*v), u64cmp);
	return v[i ? i - 1 : 0];
}

static void test_quantiles_across_steps(void **state)
{
	enum { N = 3000 };
	struct agg *a = mkagg(16, 10, T0);
	static uint64_t lat[N];
	struct agg_row row;
	double e50, e90, e99;

	/* spread over 3 steps; latencies log-uniform 100 us .. 2 s */
	for (int i = 0; i < N; i++) {
		lat[i] = (uint64_t)(1e5 * pow(2e4, urand()));
		struct request_record r = mk("a", "list", "pods", 200, T0 + (uint64_t)i * 3 * S / N, lat[i]);
		agg_add(a, &r);
	}
	agg_advance(a, T0 + 3 * S);
	assert_int_equal(agg_query(a, AGG_BY_AGENT, 3, AGG_SORT_RATE, &row, 1, NULL), 1);
	e50 = (double)exact(lat, N, 0.5);
	e90 = (double)exact(lat, N, 0.9);
	e99 = (double)exact(lat, N, 0.99);
	print_message("p50 %.0f vs %.0f, p90 %.0f vs %.0f, p99 %.0f vs %.0f\n", row.p50_ns, e50, row.p90_ns, e90,
		      row.p99_ns, e99);
	assert_true(fabs(row.p50_ns - e50) / e50 <= LH_REL_ERR);
	assert_true(fabs(row.p90_ns - e90) / e90 <= LH_REL_ERR);
	assert_true(fabs(row.p99_ns - e99) / e99 <= LH_REL_ERR);
	agg_free(a);
}

static void test_quantiles_last_step(void **state)
{
	enum { N = 2000 };
	struct agg *a = mkagg(16, 10, T0);
	static uint64_t old[N], cur[N];
	struct agg_row row;

	for (int i = 0; i < N; i++) {
		old[i] = (uint64_t)(1e6 * pow(10, urand())); /* 1..10 ms in step 0 */
		cur[i] = (uint64_t)(1e8 * pow(10, urand())); /* 100 ms..1 s in step 1 */
		struct request_record r0 = mk("a", "get", "pods", 200, T0 + (uint64_t)i * (S / N), old[i]);
		struct request_record r1 = mk("a", "get", "pods", 200, T0 + S + (uint64_t)i * (S / N), cur[i]);
		agg_add(a, &r0);
		agg_add(a, &r1);
	}
	agg_advance(a, T0 + 2 * S);
	agg_query(a, AGG_BY_KEY, 1, AGG_SORT_RATE, &row, 1, NULL);
	{
		double e = (double)exact(cur, N, 0.5);
		assert_true(fabs(row.p50_ns - e) / e <= LH_REL_ERR);
	}
	agg_query(a, AGG_BY_KEY, 2, AGG_SORT_RATE, &row, 1, NULL);
	/* the median of both steps is the boundary between them: the largest of the fast ones */
	{
		double e = (double)exact(old, N, 1.0);
		assert_true(fabs(row.p50_ns - e) / e <= LH_REL_ERR);
	}
	agg_free(a);
}

/* The cumulative counters' status classes and latency buckets are those of agg_status_class and of the
 * first bound >= the latency in seconds, for latencies at, around and between every bound and statuses
 * at every class edge. */
static void test_cum_classes_and_buckets(void **state)
{
	static const int32_t statuses[] = { 0, -1, 99, 100, 199, 200, 201, 299, 300, 399, 400, 428, 429, 430, 499,
					     500, 599, 600, 1000 };
	struct agg *a = mkagg(16, 10, T0);
	double want_le[AGG_NLE + 1] = { 0 }, want_cls[AGG__NCLASS] = { 0 };
	const struct agg_cum *cum;
	unsigned n = 0;

	for (int i = 0; i < AGG_NLE + 3000; i++) {
		uint64_t lat;
		unsigned le = 0;

		if (i < AGG_NLE) { /* each bound and its neighbours */
			uint64_t b = (uint64_t)llround(agg_le_seconds[i] * 1e9);

			for (uint64_t d = 0; d < 3; d++) {
				struct request_record r = mk("a", "get", "pods", statuses[n % (sizeof(statuses) / sizeof(statuses[0]))], T0 + S / 2, b + d - 1);

				for (le = 0; le < AGG_NLE && !((double)r.latency_ns / 1e9 <= agg_le_seconds[le]); le++)
					;
				want_le[le]++;
				want_cls[agg_status_class(r.status)]++;
				agg_add(a, &r);
				n++;
			}
			continue;
		}
		lat = i < AGG_NLE + 6 ? (uint64_t[]){ 0, 1, 999, 1000, 10000000000000ULL, 20000000000000ULL }[i - AGG_NLE]
				      : (uint64_t)pow(10, 14 * urand());
		{
			struct request_record r = mk("a", "get", "pods", statuses[n % (sizeof(statuses) / sizeof(statuses[0]))],
						     T0 + S / 2, lat);

			for (le = 0; le < AGG_NLE && !((double)lat / 1e9 <= agg_le_seconds[le]); le++)
				;
			want_le[le]++;
			want_cls[agg_status_class(r.status)]++;
			agg_add(a, &r);
			n++;
		}
	}
	assert_non_null(agg_table_entry(a, AGG_TOTAL, 0, &cum, NULL, NULL));
	for (int b = 0; b <= AGG_NLE; b++)
		if (cum->le[b] != want_le[b])
			fail_msg("le[%d] = %g, expected %g", b, cum->le[b], want_le[b]);
	for (int c = 0; c < AGG__NCLASS; c++)
		if (cum->req[c] != want_cls[c])
			fail_msg("req[%s] = %g, expected %g", agg_class_name((enum agg_class)c), cum->req[c], want_cls[c]);
	agg_free(a);
}

/* field_same: for every field size the aggregations compare, every string length (a full field without
 * a NUL too) and every position: the same string with other bytes after the NUL is the same, a byte
 * changed up to the NUL (or the NUL itself) is not; SRC_SAME copies the record's field when not. */
static void test_field_same(void **state)
{
	static const size_t sizes[] = { 16, 24, 40, 64, 128, 256 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t size = sizes[k];
		char *rec = malloc(size), *prev = malloc(size);

		assert_non_null(rec);
		assert_non_null(prev);
		for (size_t n = 0; n <= size; n++) {
			for (size_t i = 0; i < size; i++) {
				rec[i] = (char)('a' + (i * 7 + n) % 26);
				prev[i] = i > n ? (char)('A' + (i + n) % 26) : rec[i]; /* other bytes after the NUL */
			}
			if (n < size)
				rec[n] = prev[n] = '\0';
			assert_true(field_same(rec, prev, size));
			for (size_t j = 0; j <= n && j < size; j++) {
				char keep = prev[j];

				prev[j] = j == n ? 'x' : (char)(keep ^ 0x20);
				if (field_same(rec, prev, size))
					fail_msg("size %zu, length %zu: a difference at %zu not seen", size, n, j);
				prev[j] = keep;
			}
		}
		free(rec);
		free(prev);
	}
	{
		char a[24] = "list", b[24] = "watch";

		assert_false(SRC_SAME(b, a));
		assert_true(!strcmp(b, "list") && SRC_SAME(b, a));
	}
}

static void test_sampling_factor(void **state)
{
	struct agg *a = mkagg(16, 10, T0);
	struct agg_row rows[4];
	size_t n;

	/* agent s: 10 records sampled at 1/4 (factor 4) = 40 requests; agent f: 30 at factor 1 */
	for (int i = 0; i < 10; i++) {
		struct request_record r = mk("s", "get", "pods", i < 5 ? 500 : 200, T0 + 100, 1000000);
		r.sample_factor = 4.0;
		agg_add(a, &r);
	}
	for (int i = 0; i < 30; i++) {
		struct request_record r = mk("f", "get", "pods", 200, T0 + 100, 1000000);
		agg_add(a, &r);
	}
	/* weights move quantiles: 99 units at 1 ms and 1 unit at 1 s -> p99 is 1 ms */
	for (int i = 0; i < 2; i++) {
		struct request_record r = mk("q", "get", "nodes", 200, T0 + 200, i ? 1000000000 : 1000000);
		r.sample_factor = i ? 1.0 : 99.0;
		agg_add(a, &r);
	}
	agg_advance(a, T0 + S);
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].key->user_agent, "q");
	assert_true(rows[0].rate == 100.0);
	assert_true(fabs(rows[0].p99_ns - 1e6) / 1e6 <= LH_REL_ERR);
	assert_true(fabs(rows[0].p90_ns - 1e6) / 1e6 <= LH_REL_ERR);
	assert_string_equal(rows[1].key->user_agent, "s");
	assert_true(rows[1].rate == 40.0);
	assert_true(rows[1].e5xx == 20.0);
	assert_true(rows[1].err_pct == 50.0);
	assert_true(rows[1].bytes == 4000.0);
	assert_true(rows[2].rate == 30.0);
	agg_free(a);
}

static void test_eviction_other(void **state)
{
	struct agg *a = mkagg(4, 10, T0);
	struct agg_row rows[8];
	char ua[32];
	size_t n;
	const struct agg_row *o;
	static const double want_err[4] = { 3, 4, 6, 8 }; /* inherited minimum at admission */

	/* 10 agents, agent i sends i+1 requests in turn; 4 rows: each new agent takes the row of the
	 * smallest score (Space-Saving), the evicted agents' requests move to "(other)" */
	for (int i = 0; i < 10; i++) {
		snprintf(ua, sizeof(ua), "agent-%d", i);
		for (int j = 0; j <= i; j++) {
			struct request_record r = mk(ua, "get", "pods", 200, T0 + 1, 1000);
			agg_add(a, &r);
		}
	}
	agg_advance(a, T0 + S);
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 8, NULL);
	assert_int_equal(n, 5);
	assert_int_equal(agg_table_size(a, AGG_BY_AGENT), 5);
	o = find_ua(rows, n, "(other)");
	assert_non_null(o);
	assert_true(o->other);
	/* agents 0..5 were evicted: 1+2+...+6 = 21 requests; agents 6..9 keep exact counts */
	assert_true(o->req == 21.0);
	assert_int_equal(agg_get_stats(a)->evicted[AGG_BY_AGENT], 6);
	for (int i = 6; i < 10; i++) {
		snprintf(ua, sizeof(ua), "agent-%d", i);
		assert_non_null(find_ua(rows, n, ua));
		assert_true(find_ua(rows, n, ua)->req == i + 1.0);
		/* admitted in the window: up to the inherited minimum may have been missed */
		assert_true(fabs(find_ua(rows, n, ua)->req_err - want_err[i - 6]) < 1e-9);
	}
	assert_string_equal(rows[0].key->user_agent, "(other)"); /* biggest by rate */
	/* a key without a row had at most the smallest score: agent-6's 3 + 7 */
	assert_true(fabs(agg_untracked_bound(a, AGG_BY_AGENT, 1) - 10.0) < 1e-9);
	/* the (verb, resource) table has one key: no eviction, exact */
	assert_int_equal(agg_get_stats(a)->evicted[AGG_BY_VERB_RESOURCE], 0);
	assert_true(agg_untracked_bound(a, AGG_BY_VERB_RESOURCE, 1) == 0);
	/* cumulative totals (Prometheus) moved along: rows + "(other)" = total */
	{
		double sum = 0;
		const struct agg_cum *cum;

		for (size_t i = 0; i < agg_table_size(a, AGG_BY_AGENT); i++) {
			agg_table_entry(a, AGG_BY_AGENT, i, &cum, NULL, NULL);
			sum += cum->req[AGG_C_2XX];
		}
		assert_true(sum == 55.0);
	}
	agg_free(a);
}

static void test_sorting(void **state)
{
	struct agg *a = mkagg(16, 10, T0);
	struct agg_row rows[4];

	/* x: most requests; y: most errors; z: slowest; w: most bytes */
	for (int i = 0; i < 20; i++) {
		struct request_record r = mk("x", "get", "pods", 200, T0 + 5, 1000000);
		agg_add(a, &r);
	}
	for (int i = 0; i < 10; i++) {
		struct request_record r = mk("y", "get", "pods", 429, T0 + 5, 1000000);
		agg_add(a, &r);
	}
	for (int i = 0; i < 3; i++) {
		struct request_record r = mk("z", "list", "pods", 200, T0 + 5, 3000000000ULL);
		agg_add(a, &r);
	}
	{
		struct request_record r = mk("w", "list", "secrets", 200, T0 + 5, 1000000);
		r.bytes_out = 50000000;
		agg_add(a, &r);
	}
	agg_advance(a, T0 + S);
	agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_string_equal(rows[0].key->user_agent, "x");
	assert_string_equal(rows[3].key->user_agent, "w");
	agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_ERRORS, rows, 4, NULL);
	assert_string_equal(rows[0].key->user_agent, "y");
	agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_P99, rows, 4, NULL);
	assert_string_equal(rows[0].key->user_agent, "z");
	agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_BYTES, rows, 4, NULL);
	assert_string_equal(rows[0].key->user_agent, "w");
	/* max_rows smaller than the number of rows */
	assert_int_equal(agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_BYTES, rows, 1, NULL), 4);
	agg_free(a);
}

static void test_inflight(void **state)
{
	struct agg *a = mkagg(2, 10, T0);
	struct request_record w = mk("watcher", "watch", "pods", 200, T0 + 5, 1000);
	struct request_record x = mk("busy", "get", "pods", 200, T0 + 3 * S + 5, 1000);
	struct request_record y = mk("busy2", "get", "pods", 200, T0 + 3 * S + 5, 1000);
	struct request_record z = mk("late-watcher", "watch", "pods", 200, T0 + 5, 1000);
	struct agg_row rows[4];
	size_t n;

	/* a snapshot: the pending table holds 3 watcher requests; one of them ends */
	agg_inflight_clear(a);
	for (int i = 0; i < 3; i++)
		agg_inflight(a, &w, +1);
	agg_add(a, &w);
	agg_inflight_clear(a);
	for (int i = 0; i < 2; i++)
		agg_inflight(a, &w, +1);
	agg_advance(a, T0 + 3 * S);
	/* no request ended in the last step, but the watcher still shows: 2 in flight */
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].inflight, 2);
	assert_true(rows[0].rate == 0);
	agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(rows[0].inflight, 2);
	/* the requests are gone from the pending table (ended unseen, replaced, connection closed): no
	 * count is left behind, whatever happened to them */
	agg_inflight_clear(a);
	assert_int_equal(agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL), 0);
	agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(rows[0].inflight, 0);
	/* full table (2 rows: watcher, busy): busy2 evicts the smaller score; an in-flight-only key never
	 * evicts a counted one: it counts in "(other)" */
	agg_add(a, &x);
	agg_add(a, &x);
	agg_add(a, &y);
	assert_int_equal(agg_get_stats(a)->evicted[AGG_BY_AGENT], 1);
	agg_inflight_clear(a);
	agg_inflight(a, &z, +1);
	agg_advance(a, T0 + 4 * S);
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 3); /* busy, busy2, (other) holding the watcher's request and the in-flight one */
	assert_non_null(find_ua(rows, n, "busy"));
	assert_non_null(find_ua(rows, n, "busy2"));
	assert_null(find_ua(rows, n, "late-watcher"));
	assert_int_equal(find_ua(rows, n, "(other)")->inflight, 1);
	assert_int_equal(agg_get_stats(a)->evicted[AGG_BY_AGENT], 1);
	/* much later busy and busy2 are idle (decayed weight < 0.01): the in-flight key takes a row */
	agg_advance(a, T0 + 60 * S);
	agg_inflight_clear(a);
	agg_inflight(a, &z, +1);
	agg_inflight(a, &w, +1); /* a second in-flight-only key takes the other idle row, not z's */
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(find_ua(rows, n, "late-watcher")->inflight, 1);
	assert_int_equal(find_ua(rows, n, "watcher")->inflight, 1);
	/* ongoing records (flushed at exit) are not counted as finished */
	w.ongoing = true;
	agg_add(a, &w);
	assert_int_equal(agg_get_stats(a)->ongoing, 1);
	assert_int_equal(agg_get_stats(a)->records, 4);
	assert_int_equal(agg_get_stats(a)->evicted[AGG_BY_AGENT], 3);
	agg_free(a);
}

/* top's wiring: in-flight per row is a snapshot of the assembler's pending table. */
struct inflight_ctx {
	struct agg *a;
	int64_t mono_to_wall;
	int records;
};

static void on_pending(struct request_record *r, void *ctx)
{
	struct inflight_ctx *c = ctx;

	agg_inflight(c->a, r, +1);
}

static void on_rec(struct request_record *r, void *ctx)
{
	struct inflight_ctx *c = ctx;

	agg_add(c->a, r);
	c->records++;
}

static struct kp_req_start start_ev(uint64_t conn, uint32_t sid, const char *ua, uint64_t ts)
{
	struct kp_req_start ev;

	memset(&ev, 0, sizeof(ev));
	ev.hdr.ts_ns = ts;
	ev.conn = conn;
	ev.stream_id = sid;
	ev.proto = KP_PROTO_H2;
	ev.content_length = -1;
	ev.method_len = (uint16_t)snprintf(ev.method, sizeof(ev.method), "GET");
	ev.path_len = (uint16_t)snprintf(ev.path, sizeof(ev.path), "/api/v1/namespaces/default/pods?watch=1");
	ev.ua_len = (uint16_t)snprintf(ev.ua, sizeof(ev.ua), "%s", ua);
	ev.addr_len = (uint16_t)snprintf(ev.addr, sizeof(ev.addr), "127.0.0.1:40000");
	return ev;
}

static int64_t snapshot_total(struct inflight_ctx *c, struct assembler *as, const char *ua, int64_t *row_inflight)
{
	struct agg_row rows[8];
	size_t n;

	agg_inflight_clear(c->a);
	asm_foreach_pending(as, on_pending, c);
	*row_inflight = 0;
	n = agg_query(c->a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 8, NULL);
	for (size_t i = 0; i < n && i < 8; i++)
		if (!strcmp(rows[i].key->user_agent, ua))
			*row_inflight = rows[i].inflight;
	agg_query(c->a, AGG_TOTAL, 1, AGG_SORT_RATE, rows, 1, NULL);
	return rows[0].inflight;
}

static void test_inflight_from_pending(void **state)
{
	struct inflight_ctx c = { mkagg(16, 10, T0), (int64_t)T0, 0 };
	struct assembler *as = asm_new(0, c.mono_to_wall, on_rec, &c);
	struct kp_req_start s1 = start_ev(1, 1, "watcher", 10), s2 = start_ev(1, 1, "watcher", 20),
			    s3 = start_ev(2, 3, "watcher", 30);
	struct kp_req_end e;
	int64_t row;

	assert_non_null(as);
	/* the same key started twice (its end was lost): the assembler keeps one; so does in-flight */
	asm_start(as, &s1);
	asm_start(as, &s2);
	asm_start(as, &s3);
	assert_int_equal(asm_get_stats(as)->replaced, 1);
	assert_int_equal(snapshot_total(&c, as, "watcher", &row), 2);
	assert_int_equal(row, 2);
	/* one ends */
	memset(&e, 0, sizeof(e));
	e.hdr.ts_ns = 40;
	e.conn = 2;
	e.stream_id = 3;
	e.proto = KP_PROTO_H2;
	e.status = 200;
	asm_end(as, &e);
	assert_int_equal(c.records, 1);
	assert_int_equal(snapshot_total(&c, as, "watcher", &row), 1);
	assert_int_equal(row, 1);
	/* an end without a start (started before attach) never takes a count below what is pending */
	e.conn = 9;
	asm_end(as, &e);
	assert_int_equal(snapshot_total(&c, as, "watcher", &row), 1);
	/* never ended (apiserver restart: the pending requests are flushed as ongoing): nothing left */
	asm_flush_ongoing(as, 50);
	assert_int_equal(snapshot_total(&c, as, "watcher", &row), 0);
	assert_int_equal(row, 0);
	asm_free(as);
	agg_free(c.a);
}

static void anomaly_text(const struct online_result *r, double rate, char *buf, size_t cap, struct anomaly_view *v)
{
	anomaly_view(r, rate, v);
	anomaly_format(v, buf, cap);
}

static void test_anomaly_line(void **state)
{
	struct online_result r = { 0 };
	struct anomaly_view v;
	char b[128];

	/* not warm: no numbers at all */
	r.baseline = 0;
	r.score = -923075.2;
	r.flag = 0;
	anomaly_text(&r, 0, b, sizeof(b), &v);
	assert_string_equal(b, "anomaly: learning the baseline");
	assert_int_equal(v.state, AL_LEARNING);
	/* the line: LOW with a 0/s baseline and a huge score: not an anomaly */
	r.warm = true;
	r.flag = -1;
	r.baseline = 0.3;
	anomaly_text(&r, 0, b, sizeof(b), &v);
	assert_int_equal(v.state, AL_NONE);
	assert_int_equal(v.flag, 0);
	assert_string_equal(b, "anomaly: none (baseline 0.3/s)");
	assert_true(v.score == -AL_SCORE_MAX && v.clamped);
	/* a real drop: 500/s to 20/s */
	r.baseline = 500;
	r.score = -12.34;
	anomaly_text(&r, 20, b, sizeof(b), &v);
	assert_string_equal(b, "anomaly: LOW rate 20/s, baseline 500/s (score -12.3)");
	/* a flood over a quiet baseline: HIGH, the score clamped */
	r.flag = 1;
	r.baseline = 1;
	r.score = 5e9;
	anomaly_text(&r, 480, b, sizeof(b), &v);
	assert_string_equal(b, "anomaly: HIGH rate 480/s, baseline 1.0/s (score >99)");
	assert_int_equal(v.flag, 1);
	/* within counting noise (4 sqrt(100) = 40): not flagged */
	r.baseline = 100;
	r.score = 3;
	anomaly_text(&r, 130, b, sizeof(b), &v);
	assert_int_equal(v.state, AL_NONE);
	/* flag and direction disagree, or the score is not a number: not flagged */
	anomaly_text(&r, 10, b, sizeof(b), &v);
	assert_int_equal(v.state, AL_NONE);
	r.score = NAN;
	anomaly_text(&r, 1000, b, sizeof(b), &v);
	assert_int_equal(v.state, AL_NONE);
	assert_true(v.score == 0);
	/* an infinite score (tail probability 0) is clamped, the flag stays */
	r.score = INFINITY;
	anomaly_text(&r, 1000, b, sizeof(b), &v);
	assert_string_equal(b, "anomaly: HIGH rate 1000/s, baseline 100/s (score >99)");
	/* the steps of an alerted event after its first one (flag 0, event +1) still show it */
	r.flag = 0;
	r.event = 1;
	r.score = 7.5;
	anomaly_text(&r, 1000, b, sizeof(b), &v);
	assert_string_equal(b, "anomaly: HIGH rate 1000/s, baseline 100/s (score 7.5)");
	r.event = 0;
	anomaly_text(&r, 1000, b, sizeof(b), &v);
	assert_int_equal(v.state, AL_NONE);
	r.baseline = NAN;
	anomaly_text(&r, 1000, b, sizeof(b), &v);
	assert_int_equal(v.state, AL_LEARNING);
}

static void test_keys(void **state)
{
	struct request_record r = mk("kubectl/v1.20", "get", "deployments", 200, T0, 1);
	struct agg_key_text k;

	snprintf(r.ri.group, sizeof(r.ri.group), "apps");
	snprintf(r.ri.subresource, sizeof(r.ri.subresource), "scale");
	snprintf(r.client, sizeof(r.client), "10.1.2.3:5555");
	agg_key_from_record(&r, &k);
	assert_string_equal(k.resource, "apps/deployments");
	assert_string_equal(k.subresource, "scale");
	assert_string_equal(k.client, "10.1.2.3");
	assert_string_equal(k.verb, "get");
	snprintf(r.client, sizeof(r.client), "[::1]:443");
	r.ri.is_resource_request = false;
	r.ri.verb[0] = '\0';
	snprintf(r.method, sizeof(r.method), "POST");
	snprintf(r.path, sizeof(r.path), "/healthz?verbose=1");
	agg_key_from_record(&r, &k);
	assert_string_equal(k.client, "::1");
	assert_string_equal(k.verb, "post");
	assert_string_equal(k.resource, "/healthz");
	assert_string_equal(k.subresource, "");
}

/* Each grouping stores only the fields it groups by: its rows show those (at their full length, a row
 * reused by another key shows the new one whole) and "" for the others; "(other)" and the total keep
 * their labels. */
static void test_keys_per_table(void **state)
{
	struct agg *a = mkagg(2, 10, T0);
	struct request_record r = mk("", "get", "deployments", 200, T0 + 1, 1000);
	struct agg_row rows[4];
	char longua[REC_UA_LEN];
	const struct agg_key *k;
	bool other;
	size_t n;

	(void)state;
	memset(longua, 'u', sizeof(longua) - 1);
	longua[sizeof(longua) - 1] = '\0';
	snprintf(r.user_agent, sizeof(r.user_agent), "%s", longua);
	snprintf(r.ri.group, sizeof(r.ri.group), "apps");
	snprintf(r.ri.subresource, sizeof(r.ri.subresource), "scale");
	snprintf(r.ri.namespace_, sizeof(r.ri.namespace_), "ns1");
	snprintf(r.user, sizeof(r.user), "alice");
	r.has_user = true;
	snprintf(r.apf.priority_level, sizeof(r.apf.priority_level), "workload-low");
	agg_add(a, &r);
	agg_advance(a, T0 + S);
	for (int t = 0; t < AGG_TOTAL; t++) {
		n = agg_query(a, (enum agg_table)t, 1, AGG_SORT_RATE, rows, 4, NULL);
		assert_int_equal(n, 1);
		k = rows[0].key;
		assert_false(rows[0].other);
		assert_string_equal(k->user_agent, t == AGG_BY_KEY || t == AGG_BY_AGENT ? longua : "");
		assert_string_equal(k->verb, t == AGG_BY_KEY || t == AGG_BY_VERB_RESOURCE ? "get" : "");
		assert_string_equal(k->resource, t == AGG_BY_KEY || t == AGG_BY_VERB_RESOURCE || t == AGG_BY_RESOURCE
						 ? "apps/deployments" : "");
		assert_string_equal(k->subresource, t == AGG_BY_KEY ? "scale" : "");
		assert_string_equal(k->client, t == AGG_BY_CLIENT ? "127.0.0.1" : "");
		assert_string_equal(k->namespace_, t == AGG_BY_NAMESPACE ? "ns1" : "");
		assert_string_equal(k->user, t == AGG_BY_USER ? "alice" : "");
		assert_string_equal(k->priority_level, t == AGG_BY_PRIORITY_LEVEL ? "workload-low" : "");
	}
	k = agg_table_entry(a, AGG_TOTAL, 0, NULL, NULL, &other);
	assert_non_null(k);
	assert_false(other);
	assert_string_equal(k->user_agent, "");
	assert_string_equal(k->priority_level, "");
	k = agg_table_entry(a, AGG_BY_AGENT, 0, NULL, NULL, &other);
	assert_true(other);
	assert_string_equal(k->user_agent, "(other)");
	/* two more agents with short names evict the long one's row: the reused row shows its new key */
	for (int i = 0; i < 2; i++) {
		struct request_record q = mk(i ? "b" : "a", "list", "pods", 200, T0 + S + 1, 1000);

		for (int j = 0; j < 3; j++)
			agg_add(a, &q);
	}
	agg_advance(a, T0 + 2 * S);
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].key->user_agent, "a");
	assert_string_equal(rows[1].key->user_agent, "b");
	assert_string_equal(rows[0].key->verb, "");
	assert_int_equal(agg_get_stats(a)->evicted[AGG_BY_AGENT], 1);
	agg_free(a);
}

static void test_cell_overflow(void **state)
{
	struct agg_params p;
	struct agg *a;
	struct agg_row row;

	agg_params_default(&p);
	p.cells_per_step = 4;
	p.detector_window = 0;
	a = agg_new(&p, T0);
	assert_non_null(a);
	/* 10 distinct latency buckets: the total row's cells are taken first (4 of them) */
	for (int i = 0; i < 10; i++) {
		struct request_record r = mk("a", "get", "pods", 200, T0 + 1, (uint64_t)(1e4 * pow(10, i / 2.0)));
		agg_add(a, &r);
	}
	assert_true(agg_get_stats(a)->cell_overflow > 0);
	agg_advance(a, T0 + S);
	agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, &row, 1, NULL);
	assert_true(row.req == 10); /* counts stay exact */
	assert_false(isnan(row.p50_ns));
	agg_free(a);

	/* the total's cells count against cells_per_step as the rows' do: 4 cells, 2 groupings (the total
	 * first), latencies in buckets b1, b2, b3, b1: the total and the agent get b1 and b2, b3 is left
	 * out of both (2 overflows), b1 again adds to both */
	p.tables = AGG_TABLE_BIT(AGG_BY_AGENT);
	a = agg_new(&p, T0);
	assert_non_null(a);
	{
		static const uint64_t lat[4] = { 1000000, 2000000, 50000000, 1000000 };
		struct agg_row arow;

		for (int i = 0; i < 4; i++) {
			struct request_record r = mk("a", "get", "pods", 200, T0 + 1 + (uint64_t)i, lat[i]);

			agg_add(a, &r);
		}
		assert_int_equal(agg_get_stats(a)->cell_overflow, 2);
		agg_advance(a, T0 + S);
		agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, &row, 1, NULL);
		agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, &arow, 1, NULL);
		assert_true(row.req == 4 && arow.req == 4);
		/* 3 latencies in the quantiles: the largest is 2 ms */
		assert_true(fabs(row.p99_ns - 2e6) / 2e6 <= LH_REL_ERR && fabs(arow.p99_ns - 2e6) / 2e6 <= LH_REL_ERR);
		assert_true(fabs(row.p50_ns - 1e6) / 1e6 <= LH_REL_ERR);
	}
	agg_free(a);
}

/* The previous record's row is reused only while it holds the same key: records of one key, then a
 * key that takes that row by eviction (and one by an in-flight admission), then the first key again,
 * each counted in the row of its own key; a record that repeats a key only in some fields (same
 * agent, other resource) is counted in the agent's row and a new (agent, verb, resource) row. Also
 * the cumulative latency buckets at their bounds (ns <= bound). */
static void test_prev_row_reuse(void **state)
{
	struct agg *a = mkagg(1, 10, T0);
	struct agg_row rows[4];
	const struct agg_key *k;
	const struct agg_cum *cum;
	struct request_record r;
	size_t n;

	for (int i = 0; i < 3; i++) {
		r = mk("first", "get", "pods", 200, T0 + S / 2, 2500000); /* exactly 2.5 ms: le 0.0025 */
		agg_add(a, &r);
	}
	r = mk("second", "get", "pods", 200, T0 + S / 2, 2500001); /* just above: le 0.005 */
	agg_add(a, &r); /* evicts "first" from the one agent row */
	r = mk("first", "get", "pods", 200, T0 + S / 2, 1000000);
	agg_add(a, &r); /* evicts "second": "first" again, counted once in its new row */
	agg_advance(a, T0 + S);
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 2); /* by rate: "(other)" first */
	assert_false(rows[1].other);
	assert_string_equal(rows[1].key->user_agent, "first");
	/* "(other)" holds the first three of "first" and the one of "second"; the row the last "first" */
	assert_true(rows[0].other);
	assert_true(fabs(rows[0].req - 4) < 1e-9);
	assert_true(fabs(rows[1].req - 1) < 1e-9);
	/* cumulative buckets: 3 in le 0.0025 (moved to "(other)"), 1 in le 0.005 ("(other)"), 1 in le 0.001 */
	k = agg_table_entry(a, AGG_BY_AGENT, 0, &cum, NULL, NULL);
	assert_non_null(k);
	assert_true(fabs(cum->le[1] - 3) < 1e-9 && fabs(cum->le[2] - 1) < 1e-9 && cum->le[0] == 0);
	k = agg_table_entry(a, AGG_BY_AGENT, 1, &cum, NULL, NULL);
	assert_string_equal(k->user_agent, "first");
	assert_true(fabs(cum->le[0] - 1) < 1e-9 && cum->req[AGG_C_2XX] == 1);
	/* the same agent with another resource: its agent row, a new key row (the old one to "(other)") */
	r = mk("first", "get", "secrets", 200, T0 + S + S / 2, 1000000);
	agg_add(a, &r);
	agg_advance(a, T0 + 2 * S);
	n = agg_query(a, AGG_BY_KEY, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].key->resource, "secrets");
	n = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].key->user_agent, "first");
	assert_true(fabs(rows[0].req - 1) < 1e-9);
	agg_free(a);

	/* an in-flight request of another key takes the (idle) row between two records of one key */
	a = mkagg(1, 30, T0);
	r = mk("early", "get", "pods", 200, T0 + S / 2, 1000000);
	agg_add(a, &r);
	agg_advance(a, T0 + 25 * S); /* "early" idle: decayed below the idle weight */
	r = mk("pending", "get", "pods", 200, T0 + 25 * S, 1000000);
	agg_inflight(a, &r, +1);
	k = agg_table_entry(a, AGG_BY_AGENT, 1, NULL, NULL, NULL);
	assert_string_equal(k->user_agent, "pending");
	r = mk("early", "get", "pods", 200, T0 + 25 * S + S / 2, 1000000);
	agg_add(a, &r);
	k = agg_table_entry(a, AGG_BY_AGENT, 1, &cum, NULL, NULL);
	assert_string_equal(k->user_agent, "early");
	assert_true(cum->req[AGG_C_2XX] == 1); /* only the new record: the first went to "(other)" */
	agg_free(a);
}

/* The previous-record shortcut never puts a record in another key's row: a stream that varies each
 * key field in the ways a record can (bytes after the NUL, a field that fills its buffer, the verb
 * from the method, resource or path, a group, other ports of one client, IPv6, an unknown user with
 * leftover bytes, the priority level's name or UID, a UID that fills its field) is counted row by row
 * in the rows whose keys are the records' own (agg_key_from_record), table by table. Tables of 3 rows:
 * rows change keys (evictions) between records of one key too. */
static void put_field(char *dst, size_t cap, const char *s, unsigned junk)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < cap; i++)
		dst[i] = (char)('!' + (i * 7 + junk) % 90); /* never NUL */
	if (n < cap) {
		memcpy(dst, s, n);
		dst[n] = '\0';
	} else {
		memcpy(dst, s, cap);
	}
}

static void test_prev_key_fields(void **state)
{
	static const char *const uas[] = { "a", "b", "kube-controller-manager/v1.20.2 (linux/amd64) kubernetes/faecb19" };
	static const char *const verbs[] = { "list", "", "deletecollection" };
	static const char *const methods[] = { "GET", "POST" };
	static const char *const groups[] = { "", "apps" };
	static const char *const resources[] = { "pods", "", "configmaps" };
	static const char *const paths[] = { "/healthz", "/healthz?verbose", "/metrics" };
	static const char *const clients[] = { "10.0.0.1:1", "10.0.0.1:2", "[fd00::1]:3", "fd00::1", "10.0.0.2:1" };
	static const char *const users[] = { "alice", "bob" };
	static const char *const levels[] = { "", "workload-low" };
	static const char *const uids[] = { "uid-1", "uid-2" };
	static const uint32_t fields[AGG_TOTAL] = { 0x0f, 0x01, 0x10, 0x06, 0x04, 0x20, 0x40, 0x80 }; /* agg.c's table_fields */
	struct agg *a;
	char big[300];
	uint64_t x = 12345;

	memset(big, 'u', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	for (int run = 0; run < 2; run++) {
	/* run 1: the agent and the (verb, resource) groupings first, the others enabled halfway (their
	 * fields were not compared until then) */
	struct agg_params p;

	agg_params_default(&p);
	p.max_keys = 3;
	p.nsteps = 10;
	p.detector_window = 0;
	if (run)
		p.tables = AGG_TABLE_BIT(AGG_BY_AGENT) | AGG_TABLE_BIT(AGG_BY_VERB_RESOURCE);
	a = agg_new(&p, T0);
	assert_non_null(a);
	for (int i = 0; i < 20000; i++) {
		struct request_record r = mk("", "", "", 200, T0 + S / 2 + (uint64_t)i * 1000, 1000000);
		struct agg_key_text kt;
		uint32_t rows[AGG__NTABLES];
		unsigned junk = (unsigned)i;
		/* mostly one field changes from the record before */
		static unsigned sel[12];

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		sel[(x >> 33) % 12] = (unsigned)(x >> 45);
		put_field(r.user_agent, sizeof(r.user_agent), sel[0] % 7 == 6 ? big : uas[sel[0] % 3], junk);
		if (sel[0] % 7 == 5) /* the buffer full, no NUL, the last byte differs */
			r.user_agent[sizeof(r.user_agent) - 1] = (char)('A' + i % 3);
		put_field(r.ri.verb, sizeof(r.ri.verb), verbs[sel[1] % 3], junk);
		put_field(r.method, sizeof(r.method), methods[sel[2] % 2], junk);
		r.ri.is_resource_request = sel[3] % 4 != 0;
		put_field(r.ri.group, sizeof(r.ri.group), groups[sel[4] % 2], junk);
		put_field(r.ri.resource, sizeof(r.ri.resource), resources[sel[5] % 3], junk);
		put_field(r.ri.subresource, sizeof(r.ri.subresource), sel[5] % 2 ? "status" : "", junk);
		put_field(r.ri.namespace_, sizeof(r.ri.namespace_), sel[6] % 2 ? "default" : "", junk);
		put_field(r.path, sizeof(r.path), paths[sel[6] % 3], junk);
		put_field(r.client, sizeof(r.client), clients[sel[7] % 5], junk);
		r.has_user = sel[8] % 3 != 0;
		put_field(r.user, sizeof(r.user), users[sel[9] % 2], junk);
		put_field(r.apf.priority_level, sizeof(r.apf.priority_level), levels[sel[10] % 2], junk);
		put_field(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), sel[11] % 5 == 4 ? big : uids[sel[11] % 2],
			  junk);
		agg_key_from_record(&r, &kt);
		if (run && i == 10000)
			agg_enable_tables(a, AGG_ALL_TABLES, r.start_ns);
		assert_true(agg_add_rows(a, &r, rows));
		for (int t = 0; t < AGG_TOTAL; t++) {
			const struct agg_key *k;

			if (!agg_table_enabled(a, (enum agg_table)t)) {
				assert_int_equal(rows[t], UINT32_MAX);
				continue;
			}
			k = agg_table_entry(a, (enum agg_table)t, rows[t], NULL, NULL, NULL);
			const char *want[8] = { kt.user_agent, kt.verb, kt.resource, kt.subresource, kt.client, kt.namespace_,
						kt.user, kt.priority_level };
			const char *got[8];

			assert_non_null(k);
			assert_int_not_equal(rows[t], 0); /* a counted record always has its own row */
			got[0] = k->user_agent, got[1] = k->verb, got[2] = k->resource, got[3] = k->subresource;
			got[4] = k->client, got[5] = k->namespace_, got[6] = k->user, got[7] = k->priority_level;
			for (int f = 0; f < 8; f++)
				if (fields[t] >> f & 1)
					assert_string_equal(got[f], want[f]);
		}
	}
	agg_free(a);
	}
	/* a UID of 64 bytes without a NUL: the level is the UID's 64 bytes, nothing of the next field */
	{
		struct request_record r = mk("u", "get", "pods", 200, T0 + S, 1000000);
		struct agg_key_text kt;

		memset(r.apf.priority_level_uid, 'x', sizeof(r.apf.priority_level_uid));
		memset(r.apf.flow_schema_uid, 'y', sizeof(r.apf.flow_schema_uid));
		agg_key_from_record(&r, &kt);
		assert_int_equal(strlen(kt.priority_level), sizeof(r.apf.priority_level_uid));
		assert_null(strchr(kt.priority_level, 'y'));
	}
}

/* A record a grouping does not count (it ended before the grouping's start) does not leave the
 * previous record's row behind as its own: the next record with its key fields gets its own row. */
static void test_prev_key_uncounted(void **state)
{
	struct agg *a = mkagg(8, 10, T0 + S);
	struct request_record r;
	uint32_t rows[AGG__NTABLES];
	const struct agg_key *k;

	r = mk("ua", "get", "pods", 200, T0 + S + S / 2, 1000000);
	snprintf(r.ri.namespace_, sizeof(r.ri.namespace_), "x");
	assert_true(agg_add_rows(a, &r, rows));
	r = mk("ua", "get", "pods", 200, T0 + S / 2, 1000000); /* before the start: in no grouping */
	assert_true(agg_add_rows(a, &r, rows));
	assert_int_equal(rows[AGG_BY_NAMESPACE], UINT32_MAX);
	r = mk("ua", "get", "pods", 200, T0 + S + S / 2, 1000000); /* its fields are the record's before */
	assert_true(agg_add_rows(a, &r, rows));
	k = agg_table_entry(a, AGG_BY_NAMESPACE, rows[AGG_BY_NAMESPACE], NULL, NULL, NULL);
	assert_non_null(k);
	assert_string_equal(k->namespace_, "");
	agg_free(a);
}

/* cause_steps: the oldest steps are kept as request counts only, in the rows of AGG_BY_KEY,
 * AGG_BY_VERB_RESOURCE and the total. Their counts per step survive the slots' steps, move to
 * "(other)" with an evicted key, are zeroed as the history passes them (a row idle for longer than
 * nsteps shows nothing stale), and a late record inside nsteps but older than the slots counts in
 * the history and the cumulative totals without touching the newest step's slot or cells. */
static void test_cause_history(void **state)
{
	struct agg_params p;
	struct agg *a;
	struct agg_row rows[4];
	struct request_record r;
	const struct agg_cum *cum;
	size_t n;
	const uint64_t B = T0 / S; /* the first step */

	agg_params_for_window(&p, 1); /* nsteps 23, cause_steps 20: slots for 3 steps */
	p.max_keys = 1;
	p.detector_window = 0;
	assert_int_equal(p.nsteps - p.cause_steps, 3);
	a = agg_new(&p, T0);
	assert_non_null(a);
	for (uint64_t st = 0; st < 10; st++)
		for (uint64_t i = 0; i <= st; i++) { /* st + 1 requests in step st */
			r = mk("steady", "list", "pods", 200, T0 + st * S + S / 2, 1000000);
			agg_add(a, &r);
		}
	agg_advance(a, T0 + 10 * S);
	for (uint64_t st = 0; st < 10; st++) {
		assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 1, B + st, B + st + 1) - (double)(st + 1)) < 1e-9);
		assert_true(fabs(agg_entry_requests(a, AGG_BY_VERB_RESOURCE, 1, B + st, B + st + 1) - (double)(st + 1)) < 1e-9);
		assert_true(fabs(agg_step_requests(a, B + st) - (double)(st + 1)) < 1e-9);
	}
	assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 1, B + 0, B + 10) - 55) < 1e-9);
	/* a query covers at most the slots' steps: k = 20 is cut to 3 (steps 7, 8, 9 = 8 + 9 + 10) */
	n = agg_query(a, AGG_BY_KEY, 20, AGG_SORT_RATE, rows, 4, NULL);
	assert_int_equal(n, 1);
	assert_true(fabs(rows[0].req - 27) < 1e-9);
	/* a late record for step 5 (older than the slots, inside nsteps): history and totals, no slot */
	r = mk("steady", "list", "pods", 200, T0 + 5 * S + S / 2, 1000000);
	agg_add(a, &r);
	assert_int_equal(agg_get_stats(a)->late, 0);
	assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 1, B + 5, B + 6) - 7) < 1e-9);
	agg_table_entry(a, AGG_BY_KEY, 1, &cum, NULL, NULL);
	assert_true(fabs(cum->req[AGG_C_2XX] - 56) < 1e-9);
	n = agg_query(a, AGG_BY_KEY, 1, AGG_SORT_RATE, rows, 4, NULL);
	assert_true(fabs(rows[0].req - 10) < 1e-9 && !isnan(rows[0].p50_ns));
	/* another key evicts "steady": its history goes to "(other)", per step */
	r = mk("newcomer", "list", "pods", 200, T0 + 10 * S + S / 2, 1000000);
	agg_add(a, &r);
	assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 0, B + 3, B + 4) - 4) < 1e-9);
	assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 0, B + 0, B + 11) - 56) < 1e-9);
	assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 1, B + 0, B + 10) - 0) < 1e-9);
	assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 1, B + 10, B + 11) - 1) < 1e-9);
	/* the verb-resource row kept its key: its history goes on */
	assert_true(fabs(agg_entry_requests(a, AGG_BY_VERB_RESOURCE, 1, B + 0, B + 11) - 57) < 1e-9);
	/* idle for longer than nsteps: nothing stale when it counts again */
	r = mk("newcomer", "list", "pods", 200, T0 + 40 * S + S / 2, 1000000);
	agg_add(a, &r);
	agg_advance(a, T0 + 41 * S);
	assert_true(fabs(agg_entry_requests(a, AGG_BY_VERB_RESOURCE, 1, B + 0, B + 41) - 1) < 1e-9);
	assert_true(fabs(agg_step_requests(a, B + 40) - 1) < 1e-9);
	assert_true(agg_step_requests(a, B + 17) == 0 && agg_step_requests(a, B + 40 - 23) == 0);
	agg_free(a);
	/* a history that moves by less than nsteps zeroes the steps it passes: 5 requests in step 0 are
	 * not read as step 23's (the same place in the ring), nor added to step 24's */
	agg_params_for_window(&p, 1);
	p.detector_window = 0;
	a = agg_new(&p, T0);
	assert_non_null(a);
	for (int i = 0; i < 5; i++) {
		r = mk("x", "get", "pods", 200, T0 + S / 2, 1000000);
		agg_add(a, &r);
	}
	r = mk("x", "get", "pods", 200, T0 + 10 * S + S / 2, 1000000);
	agg_add(a, &r);
	r = mk("x", "get", "pods", 200, T0 + 24 * S + S / 2, 1000000);
	agg_add(a, &r);
	agg_advance(a, T0 + 25 * S);
	assert_true(agg_step_requests(a, B + 23) == 0);
	assert_true(agg_step_requests(a, B + 24) == 1);
	assert_true(agg_step_requests(a, B + 10) == 1);
	assert_true(fabs(agg_entry_requests(a, AGG_BY_KEY, 1, B + 2, B + 25) - 2) < 1e-9);
	agg_free(a);
	/* cause_steps must leave at least one step of slots */
	agg_params_for_window(&p, 1);
	p.cause_steps = p.nsteps;
	assert_null(agg_new(&p, T0));
}

static void test_anomaly_feed(void **state)
{
	struct agg_params p;
	struct agg *a;
	struct online_result res;
	uint64_t step;
	int fed = 0;

	agg_params_default(&p);
	p.detector_window = 60;
	a = agg_new(&p, T0);
	assert_non_null(a);
	/* 40 s of 20 +- 2 req/s, then a step of 400 */
	for (int s = 0; s <= 40; s++) {
		int n = s == 40 ? 400 : 20 + (s % 5) - 2;

		for (int i = 0; i < n; i++) {
			struct request_record r = mk("a", "get", "pods", 200, T0 + (uint64_t)s * S + 1000, 100);
			agg_add(a, &r);
		}
		agg_advance(a, T0 + (uint64_t)(s + 1) * S);
		fed += agg_update_anomaly(a, &res, &step);
		assert_int_equal(step, T0 / S + s);
		if (s < 40 && res.warm)
			assert_int_equal(res.flag, 0);
	}
	assert_int_equal(fed, 41);
	assert_true(res.warm);
	assert_int_equal(res.flag, 1);
	/* nothing new to feed */
	assert_int_equal(agg_update_anomaly(a, NULL, NULL), 0);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates_by_step),
		cmocka_unit_test(test_etcd_cost_sorts),
		cmocka_unit_test(test_partial_first_step),
		cmocka_unit_test(test_error_split),
		cmocka_unit_test(test_quantiles_across_steps),
		cmocka_unit_test(test_quantiles_last_step),
		cmocka_unit_test(test_cum_classes_and_buckets),
		cmocka_unit_test(test_field_same),
		cmocka_unit_test(test_sampling_factor),
		cmocka_unit_test(test_eviction_other),
		cmocka_unit_test(test_sorting),
		cmocka_unit_test(test_inflight),
		cmocka_unit_test(test_inflight_from_pending),
		cmocka_unit_test(test_anomaly_line),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_keys_per_table),
		cmocka_unit_test(test_cell_overflow),
		cmocka_unit_test(test_anomaly_feed),
		cmocka_unit_test(test_prev_row_reuse),
		cmocka_unit_test(test_prev_key_fields),
		cmocka_unit_test(test_prev_key_uncounted),
		cmocka_unit_test(test_cause_history),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
