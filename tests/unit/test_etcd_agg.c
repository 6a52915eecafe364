// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* etcd call aggregation: windowed rates per (op, resource) at controlled timestamps, errors, bytes,
 * quantiles vs exact, attribution of linked calls to request rows, late records never changing a
 * reported step, "(other)" overflow, sampling weights, stream messages, the bounded request ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "aggregate/etcd_agg.h"
#include "aggregate/loghist.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S) /* step-aligned start */
/* this cmocka has no assert_double_equal; print both values when it fails */
#define assert_double_equal(a, b, eps)                                                                           \
	do {                                                                                                     \
		double a_ = (a), b_ = (b);                                                                      \
		if (!(fabs(a_ - b_) <= (eps)))                                                                  \
			fail_msg("%s = %.9g, expected %.9g", #a, a_, b_);                                      \
	} while (0)

static struct etcd_record mk(const char *op, const char *group, const char *resource, uint64_t end_ns,
			     uint64_t latency_ns)
{
	struct etcd_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.op, sizeof(r.op), "%s", op);
	snprintf(r.group, sizeof(r.group), "%s", group);
	snprintf(r.resource, sizeof(r.resource), "%s", resource);
	r.latency_ns = latency_ns;
	r.start_ns = end_ns - latency_ns;
	r.req_size = 40;
	r.resp_size = -1;
	r.limit = -1;
	r.sample_factor = 1.0;
	return r;
}

static struct etcd_agg *mkagg(uint32_t max_keys, uint32_t nsteps, uint32_t recent, uint64_t start)
{
	struct etcd_agg_params p;
	struct etcd_agg *e;

	etcd_agg_params_default(&p);
	p.max_keys = max_keys;
	p.nsteps = nsteps;
	p.link_tables = 2;
	p.link_rows = 16;
	p.recent = recent;
	e = etcd_agg_new(&p, start);
	assert_non_null(e);
	return e;
}

static const struct etcd_agg_row *find(const struct etcd_agg_row *rows, size_t n, const char *op, const char *res)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].key->op, op) && !strcmp(rows[i].key->resource, res))
			return &rows[i];
	return NULL;
}

static void add_n(struct etcd_agg *e, int n, const char *op, const char *group, const char *res, uint64_t step_start,
		  uint64_t latency, int32_t status)
{
	for (int i = 0; i < n; i++) {
		struct etcd_record r = mk(op, group, res, step_start + (uint64_t)i * (S / (uint64_t)(n + 1)) + 1, latency);

		r.grpc_status = status;
		etcd_agg_add(e, &r);
	}
}

static void test_rates_errors_bytes(void **state)
{
	struct etcd_agg *e = mkagg(64, 10, 1024, T0);
	struct etcd_agg_row rows[8], total;
	const struct etcd_agg_row *r;
	double span;
	size_t n;

	/* step 0: 10 range configmaps; step 1: 30 range configmaps, 6 txn apps/deployments (2 failed);
	 * step 2 (current, not reported): 50 put configmaps */
	add_n(e, 10, "range", "", "configmaps", T0, 1000000, 0);
	add_n(e, 30, "range", "", "configmaps", T0 + S, 2000000, 0);
	add_n(e, 4, "txn", "apps", "deployments", T0 + S, 3000000, 0);
	add_n(e, 2, "txn", "apps", "deployments", T0 + S, 3000000, 5);
	add_n(e, 50, "put", "", "configmaps", T0 + 2 * S, 1000000, 0);
	etcd_agg_advance(e, T0 + 2 * S + S / 2);

	/* last completed step only */
	n = etcd_agg_query(e, 1, rows, 8, &total, &span);
	assert_int_equal(n, 2);
	assert_double_equal(span, 1.0, 1e-9);
	assert_string_equal(rows[0].key->op, "range"); /* sorted by calls */
	assert_string_equal(rows[0].key->resource, "configmaps");
	assert_double_equal(rows[0].rate, 30, 1e-6);
	assert_double_equal(rows[0].err_pct, 0, 1e-9);
	assert_double_equal(rows[0].req_bytes_rate, 30 * 40, 1e-3);
	r = find(rows, n, "txn", "apps/deployments");
	assert_non_null(r);
	assert_false(r->other);
	assert_double_equal(r->calls, 6, 1e-6);
	assert_double_equal(r->errors, 2, 1e-6);
	assert_double_equal(r->err_pct, 100.0 * 2 / 6, 1e-6);
	assert_null(total.key);
	assert_double_equal(total.calls, 36, 1e-6);
	assert_double_equal(total.errors, 2, 1e-6);
	assert_double_equal(total.rate, 36, 1e-6);
	/* two steps: the current step (put) is still excluded */
	n = etcd_agg_query(e, 2, rows, 8, &total, &span);
	assert_int_equal(n, 2);
	assert_double_equal(span, 2.0, 1e-9);
	assert_double_equal(find(rows, n, "range", "configmaps")->rate, 20, 1e-6);
	assert_null(find(rows, n, "put", "configmaps"));
	assert_double_equal(total.calls, 46, 1e-6);
	/* the put step completes */
	etcd_agg_advance(e, T0 + 3 * S);
	n = etcd_agg_query(e, 1, rows, 8, &total, NULL);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].key->op, "put");
	assert_double_equal(total.calls, 50, 1e-6);
	/* max_rows limits what is written, not the count */
	n = etcd_agg_query(e, 3, rows, 1, NULL, NULL);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].key->op, "put");
	etcd_agg_free(e);
}

static void test_span_after_start(void **state)
{
	/* starting mid-step: the first window is the time since start */
	struct etcd_agg *e = mkagg(8, 10, 1024, T0 + S / 4);
	struct etcd_agg_row total;
	double span;

	for (int i = 0; i < 3; i++) {
		struct etcd_record r = mk("range", "", "pods", T0 + S / 2 + (uint64_t)i, 1000);

		etcd_agg_add(e, &r);
	}
	etcd_agg_advance(e, T0 + S + 1);
	etcd_agg_query(e, 1, NULL, 0, &total, &span);
	assert_double_equal(span, 0.75, 1e-9);
	assert_double_equal(total.rate, 3 / 0.75, 1e-6);
	etcd_agg_free(e);
}

static double exact_q(double *v, size_t n, double q)
{
	size_t rank;

	for (size_t i = 1; i < n; i++) /* insertion sort: small n */
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	rank = (size_t)ceil(q * (double)n);
	return v[rank ? rank - 1 : 0];
}

static void test_quantiles(void **state)
{
	struct etcd_agg *e = mkagg(8, 10, 1024, T0);
	struct etcd_agg_row rows[4], total;
	static double lat[2000], all[4000], last[1000];
	size_t n, nall = 0;
	unsigned seed = 12345;

	/* two keys, two steps, bimodal latencies from 50 us to 2 s */
	for (int s = 0; s < 2; s++)
		for (int i = 0; i < 1000; i++) {
			double u = (double)rand_r(&seed) / RAND_MAX;
			double v = i % 3 ? 50e3 * pow(10, 2 * u) : 20e6 * pow(10, 2 * u);
			struct etcd_record r = mk(i % 2 ? "range" : "txn", "", "pods", T0 + (uint64_t)s * S + 1000 + (uint64_t)i,
						  (uint64_t)v);

			etcd_agg_add(e, &r);
			if (i % 2)
				lat[s * 1000 / 2 + i / 2] = (double)r.latency_ns;
			all[nall++] = (double)r.latency_ns;
			if (s == 1)
				last[i] = (double)r.latency_ns;
		}
	etcd_agg_advance(e, T0 + 2 * S);
	n = etcd_agg_query(e, 2, rows, 4, &total, NULL);
	assert_int_equal(n, 2);
	{
		const struct etcd_agg_row *r = find(rows, n, "range", "pods");
		const double qs[3] = { 0.5, 0.9, 0.99 };
		const double got[3] = { r->p50_ns, r->p90_ns, r->p99_ns };
		const double got_t[3] = { total.p50_ns, total.p90_ns, total.p99_ns };

		for (int i = 0; i < 3; i++) {
			double x = exact_q(lat, 1000, qs[i]), y = exact_q(all, nall, qs[i]);

			assert_true(fabs(got[i] - x) / x <= LH_REL_ERR);
			assert_true(fabs(got_t[i] - y) / y <= LH_REL_ERR);
		}
		assert_true(r->p50_ns <= r->p90_ns && r->p90_ns <= r->p99_ns);
	}
	/* queries one after the other share the scratch histograms: each sees its own steps only (the
	 * newest step alone, then both again, with the first query's quantiles bit for bit) */
	{
		struct etcd_agg_row again;
		const double qs[3] = { 0.5, 0.9, 0.99 };
		const double first[3] = { total.p50_ns, total.p90_ns, total.p99_ns };

		etcd_agg_query(e, 1, NULL, 0, &again, NULL);
		for (int i = 0; i < 3; i++) {
			const double got = i == 0 ? again.p50_ns : i == 1 ? again.p90_ns : again.p99_ns;
			double y = exact_q(last, 1000, qs[i]);

			assert_true(fabs(got - y) / y <= LH_REL_ERR);
		}
		etcd_agg_query(e, 2, NULL, 0, &again, NULL);
		assert_memory_equal(first, ((const double[3]){ again.p50_ns, again.p90_ns, again.p99_ns }), sizeof(first));
	}
	/* a window without calls has no quantiles */
	etcd_agg_advance(e, T0 + 5 * S);
	etcd_agg_query(e, 1, NULL, 0, &total, NULL);
	assert_true(isnan(total.p50_ns) && isnan(total.p99_ns));
	assert_double_equal(total.calls, 0, 0);
	etcd_agg_free(e);
}

static void test_link_attribution(void **state)
{
	struct etcd_agg *e = mkagg(8, 10, 1024, T0);
	struct etcd_agg_row total;
	const uint32_t rows_a[2] = { 3, 1 }, rows_b[2] = { 4, 1 };

	/* request 7 (rows 3 / 1) ended in step 1 after 3 etcd calls, one of which ended in step 0;
	 * request 8 (rows 4 / 1) ended in step 1 with 1 call; one call links to a request never announced;
	 * two calls are the apiserver's own (no request) */
	etcd_agg_request(e, 7, T0 + S + S / 2, rows_a);
	etcd_agg_request(e, 8, T0 + S + S / 3, rows_b);
	for (int i = 0; i < 3; i++) {
		struct etcd_record r = mk("range", "", "configmaps", i ? T0 + S + S / 4 : T0 + S - 1000, 100000);

		r.request_id = 7;
		etcd_agg_add(e, &r);
	}
	{
		struct etcd_record r = mk("get", "", "secrets", T0 + S + 5, 1000);

		r.request_id = 8;
		etcd_agg_add(e, &r);
		r.request_id = 99;
		etcd_agg_add(e, &r);
		r.request_id = 0;
		etcd_agg_add(e, &r);
		etcd_agg_add(e, &r);
	}
	etcd_agg_advance(e, T0 + 2 * S);
	/* per request row: all 3 calls of request 7 in its end step (1) */
	assert_double_equal(etcd_agg_linked(e, 0, 3, 1), 3, 1e-6);
	assert_double_equal(etcd_agg_linked(e, 0, 4, 1), 1, 1e-6);
	assert_double_equal(etcd_agg_linked(e, 1, 1, 1), 4, 1e-6);
	assert_double_equal(etcd_agg_linked(e, 0, 5, 1), 0, 0);
	assert_double_equal(etcd_agg_linked(e, 0, 3, 2), 3, 1e-6);
	/* out of range: 0, no crash */
	assert_double_equal(etcd_agg_linked(e, 2, 0, 1), 0, 0);
	assert_double_equal(etcd_agg_linked(e, 0, 16, 1), 0, 0);
	/* the etcd side: calls by their own end step; linked = with a request id */
	etcd_agg_query(e, 1, NULL, 0, &total, NULL);
	assert_double_equal(total.calls, 6, 1e-6);
	assert_double_equal(total.linked, 4, 1e-6);
	etcd_agg_query(e, 2, NULL, 0, &total, NULL);
	assert_double_equal(total.calls, 7, 1e-6);
	assert_double_equal(total.linked, 5, 1e-6);
	assert_int_equal(etcd_agg_get_stats(e)->linked, 5);
	assert_int_equal(etcd_agg_get_stats(e)->attributed, 4);
	assert_int_equal(etcd_agg_get_stats(e)->unattributed, 1);
	/* requests with request 7's rows ending in step 2, then in step 3, then in step 2 again (a link
	 * counted in its request's step, whatever the rows of the one before) */
	{
		static const uint64_t ends[3] = { T0 + 2 * S + 10, T0 + 3 * S + 10, T0 + 2 * S + 20 };

		for (int i = 0; i < 3; i++) {
			struct etcd_record r = mk("range", "", "configmaps", T0 + 3 * S + 100, 1000);

			etcd_agg_request(e, 20 + (uint64_t)i, ends[i], rows_a);
			r.request_id = 20 + (uint64_t)i;
			etcd_agg_add(e, &r);
		}
		etcd_agg_advance(e, T0 + 4 * S);
		assert_double_equal(etcd_agg_linked(e, 0, 3, 1), 1, 1e-6);
		assert_double_equal(etcd_agg_linked(e, 0, 3, 2), 3, 1e-6);
		assert_double_equal(etcd_agg_linked(e, 1, 1, 1), 1, 1e-6);
	}
	etcd_agg_free(e);
}

static void test_reported_steps_never_change(void **state)
{
	struct etcd_agg *e = mkagg(8, 10, 1024, T0);
	const uint32_t rows[2] = { 2, 1 };
	struct etcd_agg_row total;
	struct etcd_record r = mk("range", "", "pods", T0 + S / 2, 1000);
	double sum = 0;

	etcd_agg_add(e, &r);
	etcd_agg_advance(e, T0 + S + S / 20); /* step 0 is reported now */
	etcd_agg_query(e, 1, NULL, 0, &total, NULL);
	assert_double_equal(total.calls, 1, 1e-6);
	sum += total.calls;
	/* a call of step 0 that was held (no parent) arrives now; a request of step 0 announces late,
	 * and its linked call arrives */
	etcd_agg_add(e, &r);
	etcd_agg_request(e, 5, T0 + S / 2, rows);
	r.request_id = 5;
	etcd_agg_add(e, &r);
	assert_int_equal(etcd_agg_get_stats(e)->deferred, 3); /* two records + one link */
	/* step 0 as reported is unchanged... */
	etcd_agg_advance(e, T0 + S + S / 10);
	etcd_agg_query(e, 1, NULL, 0, &total, NULL);
	assert_double_equal(total.calls, 1, 1e-6);
	/* ...and the late ones are in step 1, counted once */
	etcd_agg_advance(e, T0 + 2 * S + 1);
	etcd_agg_query(e, 1, NULL, 0, &total, NULL);
	assert_double_equal(total.calls, 2, 1e-6);
	assert_double_equal(total.linked, 1, 1e-6);
	assert_double_equal(etcd_agg_linked(e, 0, 2, 1), 1, 1e-6);
	sum += total.calls;
	assert_double_equal(sum, 3, 1e-6);
	etcd_agg_free(e);
}

static void test_overflow_other(void **state)
{
	struct etcd_agg *e = mkagg(2, 10, 1024, T0);
	struct etcd_agg_row rows[8], total;
	size_t n;

	add_n(e, 5, "range", "", "pods", T0, 1000, 0);
	add_n(e, 4, "range", "", "secrets", T0, 1000, 0);
	add_n(e, 3, "put", "", "pods", T0, 1000, 0);      /* third key: "(other)" */
	add_n(e, 2, "delete", "", "events", T0, 1000, 0); /* fourth: "(other)" */
	etcd_agg_advance(e, T0 + S);
	n = etcd_agg_query(e, 1, rows, 8, &total, NULL);
	assert_int_equal(n, 3);
	/* 5 calls each: ties are ordered by key, "(other)" before "range" */
	assert_true(rows[0].other);
	assert_string_equal(rows[0].key->op, "(other)");
	assert_double_equal(rows[0].calls, 5, 1e-6);
	assert_false(rows[1].other);
	assert_string_equal(rows[1].key->resource, "pods");
	assert_double_equal(rows[2].calls, 4, 1e-6);
	assert_double_equal(total.calls, 14, 1e-6);
	assert_int_equal(etcd_agg_get_stats(e)->overflow, 5);
	etcd_agg_free(e);
}

static void test_weights_streams_keys(void **state)
{
	struct etcd_agg *e = mkagg(8, 10, 1024, T0);
	struct etcd_agg_row rows[8], total;
	const uint32_t rows_a[2] = { 1, 1 };
	size_t n;

	/* budget mode: each record stands for 4 calls */
	for (int i = 0; i < 10; i++) {
		struct etcd_record r = mk("range", "coordination.k8s.io", "leases", T0 + 100 + (uint64_t)i, 1000);

		r.sample_factor = 4.0;
		r.request_id = i < 5 ? 1 : 0;
		etcd_agg_add(e, &r);
	}
	etcd_agg_request(e, 1, T0 + 10, rows_a); /* announced after: its calls were already counted */
	{
		/* stream messages (watch, lease keep-alive) are not calls; no resource: "" */
		struct etcd_record r = mk("lease_keepalive", "", "", T0 + 500, 0);

		r.stream = true;
		etcd_agg_add(e, &r);
		r = mk("compact", "", "", T0 + 600, 1000);
		etcd_agg_add(e, &r);
	}
	etcd_agg_advance(e, T0 + S);
	n = etcd_agg_query(e, 1, rows, 8, &total, NULL);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].key->resource, "coordination.k8s.io/leases");
	assert_double_equal(rows[0].calls, 40, 1e-6);
	assert_double_equal(rows[0].linked, 20, 1e-6);
	assert_double_equal(rows[0].req_bytes, 40 * 40, 1e-3);
	assert_string_equal(rows[1].key->op, "compact");
	assert_string_equal(rows[1].key->resource, "");
	assert_double_equal(total.calls, 41, 1e-6);
	assert_int_equal(etcd_agg_get_stats(e)->streams, 1);
	assert_int_equal(etcd_agg_get_stats(e)->records, 11);
	/* calls linked before the request was announced are unattributed: no guess */
	assert_int_equal(etcd_agg_get_stats(e)->unattributed, 5);
	assert_double_equal(etcd_agg_linked(e, 0, 1, 1), 0, 0);
	etcd_agg_free(e);
}

static void test_request_ring_bounded(void **state)
{
	/* 16 requests remembered: request 1 is forgotten once request 17 reuses its slot */
	struct etcd_agg *e = mkagg(8, 10, 16, T0);
	const uint32_t r1[2] = { 1, 1 }, r17[2] = { 2, 1 };
	struct etcd_record c = mk("range", "", "pods", T0 + 100, 10);

	etcd_agg_request(e, 1, T0 + 200, r1);
	etcd_agg_request(e, 17, T0 + 300, r17);
	c.request_id = 1;
	etcd_agg_add(e, &c);
	c.request_id = 17;
	etcd_agg_add(e, &c);
	etcd_agg_advance(e, T0 + S);
	assert_double_equal(etcd_agg_linked(e, 0, 1, 1), 0, 0);
	assert_double_equal(etcd_agg_linked(e, 0, 2, 1), 1, 1e-6);
	assert_int_equal(etcd_agg_get_stats(e)->unattributed, 1);
	assert_int_equal(etcd_agg_get_stats(e)->attributed, 1);
	etcd_agg_free(e);
}

/* The total's latency cells count against cells_per_step as the keys' do: 4 cells, latencies in buckets
 * b1, b2, b3, b1 (a key's cell, then the total's): b3 is left out of both (2 overflows), b1 again adds to
 * both; the quantiles hold the 3 others. */
static void test_cell_budget(void **state)
{
	struct etcd_agg_params p;
	struct etcd_agg *e;
	struct etcd_agg_row row, total;
	static const uint64_t lat[4] = { 1000000, 2000000, 50000000, 1000000 };

	etcd_agg_params_default(&p);
	p.cells_per_step = 4;
	p.nsteps = 10;
	e = etcd_agg_new(&p, T0);
	assert_non_null(e);
	for (int i = 0; i < 4; i++) {
		struct etcd_record r = mk("range", "", "pods", T0 + 100 + (uint64_t)i, lat[i]);

		etcd_agg_add(e, &r);
	}
	assert_int_equal(etcd_agg_get_stats(e)->cell_overflow, 2);
	etcd_agg_advance(e, T0 + S);
	assert_int_equal(etcd_agg_query(e, 1, &row, 1, &total, NULL), 1);
	assert_double_equal(row.calls, 4, 0);
	assert_double_equal(total.calls, 4, 0);
	assert_true(fabs(row.p99_ns - 2e6) / 2e6 <= LH_REL_ERR && fabs(total.p99_ns - 2e6) / 2e6 <= LH_REL_ERR);
	assert_true(fabs(total.p50_ns - 1e6) / 1e6 <= LH_REL_ERR);
	etcd_agg_free(e);
}

static void test_bad_params(void **state)
{
	struct etcd_agg_params p;

	etcd_agg_params_default(&p);
	p.recent = 1000; /* not a power of two */
	assert_null(etcd_agg_new(&p, T0));
	etcd_agg_params_default(&p);
	p.link_tables = ETCD_AGG_MAX_LINK_TABLES + 1;
	assert_null(etcd_agg_new(&p, T0));
	etcd_agg_params_default(&p);
	p.nsteps = 0;
	assert_null(etcd_agg_new(&p, T0));
	etcd_agg_free(NULL);
}

/* The previous-call shortcut counts every call under its own (op, resource): calls whose op, group or
 * resource change one at a time, with other bytes after each NUL, a group without a resource, an op
 * that fills its field; counted per key exactly as built from each record. */
static void put_field(char *dst, size_t cap, const char *v, unsigned junk)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < cap; i++)
		dst[i] = (char)('!' + (i * 5 + junk) % 90); /* never NUL */
	if (n < cap) {
		memcpy(dst, v, n);
		dst[n] = '\0';
	} else {
		memcpy(dst, v, cap);
	}
}

static void test_prev_key_fields(void **state)
{
	static const char *const ops[] = { "range", "txn", "an-op-name-of-24-bytes-x" };
	static const char *const groups[] = { "", "apps" };
	static const char *const resources[] = { "pods", "", "configmaps" };
	/* the keys: op (cut to 23 bytes) x ("group/resource", or the resource alone when either is "") */
	double want[3][2][3] = { { { 0 } } };
	struct etcd_agg *e = mkagg(64, 4, 16, T0);
	struct etcd_agg_row rows[32];
	unsigned sel[3] = { 0, 0, 0 };
	uint64_t x = 99;
	size_t n, found = 0;
	double total = 0;

	for (int i = 0; i < 3000; i++) {
		struct etcd_record r = mk("", "", "", T0 + S / 2, 1000);
		unsigned o, g, rs;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		sel[(x >> 33) % 3] = (unsigned)(x >> 45);
		o = sel[0] % 3, g = sel[1] % 2, rs = sel[2] % 3;
		put_field(r.op, sizeof(r.op), ops[o], (unsigned)i);
		put_field(r.group, sizeof(r.group), groups[g], (unsigned)i);
		put_field(r.resource, sizeof(r.resource), resources[rs], (unsigned)i);
		etcd_agg_add(e, &r);
		want[o][g && rs != 1][rs] += 1;
	}
	etcd_agg_advance(e, T0 + S);
	n = etcd_agg_query(e, 1, rows, 32, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		bool matched = false;

		assert_false(rows[i].other);
		for (unsigned o = 0; o < 3; o++)
			for (unsigned g = 0; g < 2; g++)
				for (unsigned rs = 0; rs < 3; rs++) {
					char op[24], res[64];

					snprintf(op, sizeof(op), "%s", ops[o]);
					snprintf(res, sizeof(res), "%s%s%s", g ? "apps" : "", g ? "/" : "", resources[rs]);
					if (want[o][g][rs] > 0 && !strcmp(rows[i].key->op, op) && !strcmp(rows[i].key->resource, res)) {
						assert_double_equal(rows[i].calls, want[o][g][rs], 1e-9);
						matched = true;
					}
				}
		assert_true(matched);
		found++;
		total += rows[i].calls;
	}
	assert_double_equal(total, 3000, 1e-9);
	assert_true(found >= 12); /* most of the 15 keys occur */
	etcd_agg_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates_errors_bytes),
		cmocka_unit_test(test_span_after_start),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_link_attribution),
		cmocka_unit_test(test_reported_steps_never_change),
		cmocka_unit_test(test_overflow_other),
		cmocka_unit_test(test_weights_streams_keys),
		cmocka_unit_test(test_request_ring_bounded),
		cmocka_unit_test(test_cell_budget),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_prev_key_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
