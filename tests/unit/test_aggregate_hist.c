// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Log-bucket histogram: bucket bounds, representative error, quantiles vs exact, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "aggregate/loghist.h"

/* deterministic xorshift so failures reproduce */
static uint64_t rng = 88172645463325252ULL;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ULL << 53);
}

/* log-uniform over [lo, hi) */
static double logu(double lo, double hi)
{
	return lo * pow(hi / lo, urand());
}

static void test_bucket_bounds(void **state)
{
	assert_int_equal(lh_bucket(0), 0);
	assert_int_equal(lh_bucket(999), 0);
	assert_int_equal(lh_bucket(NAN), 0);
	assert_int_equal(lh_bucket(1000), 1);
	assert_int_equal(lh_bucket(1e13), LH_NBUCKETS - 1);
	assert_int_equal(lh_bucket(1e20), LH_NBUCKETS - 1);
	/* every value lies inside its bucket's bounds, buckets are contiguous and increasing */
	for (unsigned b = 1; b < LH_NBUCKETS - 1; b++) {
		assert_true(lh_upper(b) > lh_lower(b));
		assert_true(fabs(lh_upper(b) - lh_lower(b + 1)) <= 1e-9 * lh_upper(b));
		assert_true(lh_value(b) > lh_lower(b) && lh_value(b) < lh_upper(b));
	}
	for (int i = 0; i < 200000; i++) {
		double v = logu(LH_MIN_NS, LH_MAX_NS);
		unsigned b = lh_bucket(v);

		assert_true(b >= 1 && b <= LH_NBUCKETS - 2);
		/* allow one ulp-level disagreement at the exact boundary */
		assert_true(v >= lh_lower(b) * (1 - 1e-12) && v < lh_upper(b) * (1 + 1e-12));
	}
}

static void test_relative_error_bound(void **state)
{
	double worst = 0;

	for (int i = 0; i < 500000; i++) {
		double v = logu(LH_MIN_NS, LH_MAX_NS);
		double e = fabs(lh_value(lh_bucket(v)) - v) / v;

		if (e > worst)
			worst = e;
	}
	print_message("worst relative error over 500000 log-uniform values: %.5f (bound %.5f)\n", worst, LH_REL_ERR);
	assert_true(worst <= LH_REL_ERR);
	/* and the bound is tight: values near bucket edges come close to it */
	assert_true(worst > 0.9 * LH_REL_ERR);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct wv {
	double v, w;
};

static int wvcmp(const void *a, const void *b)
{
	return dcmp(&((const struct wv *)a)->v, &((const struct wv *)b)->v);
}

/* exact weighted quantile: smallest v whose cumulative weight reaches q * total */
static double exact_q(struct wv *s, size_t n, double q)
{
	double total = 0, cum = 0;

	qsort(s, n, sizeof(*s), wvcmp);
	for (size_t i = 0; i < n; i++)
		total += s[i].w;
	for (size_t i = 0; i < n; i++) {
		cum += s[i].w;
		if (cum >= q * total)
			return s[i].v;
	}
	return s[n - 1].v;
}

static void test_quantiles_vs_exact(void **state)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 0.0, 1.0 };
	enum { N = 20000 };
	struct wv *s = malloc(N * sizeof(*s));
	uint64_t counts[LH_NBUCKETS];
	double worst = 0;

	for (int trial = 0; trial < 20; trial++) {
		size_t n = 1 + (size_t)(urand() * N);

		memset(counts, 0, sizeof(counts));
		for (size_t i = 0; i < n; i++) {
			/* bimodal: fast gets and slow lists, integer weights 1..4 (sampling factors) */
			s[i].v = urand() < 0.8 ? logu(2e5, 5e6) : logu(5e7, 3e9);
			s[i].w = trial % 2 ? 1 + (int)(urand() * 4) : 1;
			counts[lh_bucket(s[i].v)] += (uint64_t)s[i].w;
		}
		for (size_t j = 0; j < sizeof(qs) / sizeof(qs[0]); j++) {
			double ex = exact_q(s, n, qs[j]), got = lh_quantile(counts, qs[j]);
			double e = fabs(got - ex) / ex;

			if (e > worst)
				worst = e;
			assert_true(e <= LH_REL_ERR);
		}
	}
	print_message("worst quantile relative error vs exact: %.5f\n", worst);
	free(s);
}

/* The integer bucket agrees with lh_bucket on every integer around each bucket's first value (where
 * a table off by one would show), at the edges, and on random values over the whole range. */
static void test_bucket_ns_matches(void **state)
{
	uint64_t edges[] = { 0, 1, 999, 1000, 1001, 1023, 1024, 9999999999999ULL, 10000000000000ULL,
			     10000000000001ULL, 1ULL << 53, (1ULL << 53) + 1, UINT64_MAX };

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		assert_int_equal(lh_bucket_ns(edges[i]), lh_bucket((double)edges[i]));
	for (unsigned b = 1; b < LH_NBUCKETS - 1; b++) {
		uint64_t lo = (uint64_t)ceil(lh_lower(b));

		for (uint64_t v = lo > 300 ? lo - 300 : 0; v < lo + 300; v++)
			assert_int_equal(lh_bucket_ns(v), lh_bucket((double)v));
		/* and the bucket really changes there */
		assert_true(lh_bucket_ns(lo + 300) >= b);
	}
	for (int i = 0; i < 1000000; i++) {
		uint64_t v = (uint64_t)logu(1, 1e14);

		assert_int_equal(lh_bucket_ns(v), lh_bucket((double)v));
	}
}

/* lh_quantiles (and lh_quantiles_in over any range that holds the non-empty buckets) gives lh_quantile's
 * values bit for bit (several quantiles in one walk), in any order of the quantiles, on sparse and dense
 * histograms, and NaN for an empty one. */
static void test_quantiles_one_walk(void **state)
{
	static const double qs[] = { 0.99, 0.5, 0.9, 0.0, 1.0, 0.999, 0.5, 0.25 };
	uint64_t counts[LH_NBUCKETS];
	double got[LH_MAXQ];

	for (int trial = 0; trial < 200; trial++) {
		unsigned nz = trial % 3 == 0 ? 1 : trial % 3 == 1 ? 5 : LH_NBUCKETS;

		memset(counts, 0, sizeof(counts));
		for (unsigned k = 0; k < nz; k++)
			counts[(unsigned)(urand() * LH_NBUCKETS) % LH_NBUCKETS] += 1 + (uint64_t)(urand() * 1000);
		unsigned lo = 0, hi = LH_NBUCKETS - 1;

		while (lo < hi && !counts[lo])
			lo++;
		while (hi > lo && !counts[hi])
			hi--;
		for (unsigned n = 1; n <= LH_MAXQ; n++) {
			lh_quantiles(counts, qs, got, n);
			for (unsigned i = 0; i < n; i++)
				assert_memory_equal(&got[i], &(double){ lh_quantile(counts, qs[i]) }, sizeof(double));
			/* the walk over the non-empty range only, and over a wider one */
			lh_quantiles_in(counts, lo, hi, qs, got, n);
			for (unsigned i = 0; i < n; i++)
				assert_memory_equal(&got[i], &(double){ lh_quantile(counts, qs[i]) }, sizeof(double));
			lh_quantiles_in(counts, lo / 2, hi + (LH_NBUCKETS - 1 - hi) / 2, qs, got, n);
			for (unsigned i = 0; i < n; i++)
				assert_memory_equal(&got[i], &(double){ lh_quantile(counts, qs[i]) }, sizeof(double));
		}
	}
	memset(counts, 0, sizeof(counts));
	lh_quantiles(counts, qs, got, 3);
	assert_true(isnan(got[0]) && isnan(got[1]) && isnan(got[2]));
	lh_quantiles_in(counts, 7, 7, qs, got, 3);
	assert_true(isnan(got[0]) && isnan(got[1]) && isnan(got[2]));
}

static void test_merge_and_empty(void **state)
{
	uint64_t a[LH_NBUCKETS] = { 0 }, b[LH_NBUCKETS] = { 0 }, m[LH_NBUCKETS] = { 0 };
	struct wv s[2000];

	assert_true(isnan(lh_quantile(a, 0.5)));
	for (int i = 0; i < 2000; i++) {
		s[i].v = logu(1e4, 1e10);
		s[i].w = 1;
		(i < 1000 ? a : b)[lh_bucket(s[i].v)]++;
		m[lh_bucket(s[i].v)]++;
	}
	for (unsigned i = 0; i < LH_NBUCKETS; i++)
		a[i] += b[i];
	assert_memory_equal(a, m, sizeof(a));
	assert_true(fabs(lh_quantile(a, 0.99) - exact_q(s, 2000, 0.99)) / exact_q(s, 2000, 0.99) <= LH_REL_ERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_relative_error_bound),
		cmocka_unit_test(test_quantiles_vs_exact),
		cmocka_unit_test(test_quantiles_one_walk),
		cmocka_unit_test(test_merge_and_empty),
		cmocka_unit_test(test_bucket_ns_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
