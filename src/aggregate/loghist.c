// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/loghist.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>

unsigned lh_bucket(double v)
{
	double b;

	if (!(v >= LH_MIN_NS)) /* also NaN */
		return 0;
	if (v >= LH_MAX_NS)
		return LH_NBUCKETS - 1;
	b = floor(log10(v / LH_MIN_NS) * LH_PER_DECADE);
	if (b < 0)
		b = 0;
	if (b > LH_NBUCKETS - 3)
		b = LH_NBUCKETS - 3;
	return 1 + (unsigned)b;
}

/* lh_bucket_ns's tables (loghist.h): lh_ns_thr_[b] = the smallest integer ns in bucket b (b >= 1;
 * [LH_NBUCKETS] = UINT64_MAX), lh_ns_start_[i] = the bucket of the smallest value whose top bits (the
 * highest set bit e >= 9, 1000 ns needing 10 bits, and the 4 bits below it) are
 * i = (e - 9) * 16 + those 4 bits (at least bucket 1). A run of one index spans at most a factor 17/16 < g, so its values
 * lie in at most two buckets. */
#define lhn_thr lh_ns_thr_
#define lhn_start lh_ns_start_
#define lhn_ready lh_ns_ready_
uint64_t lh_ns_thr_[LH_NBUCKETS + 1];
uint16_t lh_ns_start_[(LHN_MAX_E - LHN_MIN_E + 1) << LHN_TOP_BITS];
static double lhn_value[LH_NBUCKETS]; /* lh_value of each bucket, for the quantiles (no pow per call) */
static pthread_once_t lhn_once = PTHREAD_ONCE_INIT;
int lh_ns_ready_; /* set (release) once the tables are built: the fast path skips pthread_once */

static void lhn_init(void)
{
	lhn_thr[0] = 0;
	for (unsigned b = 1; b < LH_NBUCKETS; b++) {
		/* smallest integer with lh_bucket >= b: near the bucket's lower bound, moved to the exact
		 * integer by lh_bucket itself (the formula is monotone) */
		uint64_t v = b == LH_NBUCKETS - 1 ? 10000000000000ULL : (uint64_t)ceil(lh_lower(b));

		while (v > lhn_thr[b - 1] && lh_bucket((double)(v - 1)) >= b)
			v--;
		while (lh_bucket((double)v) < b)
			v++;
		lhn_thr[b] = v;
	}
	lhn_thr[LH_NBUCKETS] = UINT64_MAX;
	for (unsigned e = LHN_MIN_E; e <= LHN_MAX_E; e++)
		for (unsigned top = 0; top < 1u << LHN_TOP_BITS; top++) {
			uint64_t v = (1ULL << e) | (uint64_t)top << (e - LHN_TOP_BITS);

			/* >= 1: lh_bucket_ns reads the table for values >= LH_MIN_NS only (bucket >= 1), the
			 * index's smallest value may be below */
			lhn_start[(e - LHN_MIN_E) << LHN_TOP_BITS | top] = (uint16_t)(lh_bucket((double)v) > 1 ? lh_bucket((double)v) : 1);
		}
	for (unsigned b = 0; b < LH_NBUCKETS; b++)
		lhn_value[b] = lh_value(b);
	__atomic_store_n(&lhn_ready, 1, __ATOMIC_RELEASE);
}

void lh_init(void)
{
	pthread_once(&lhn_once, lhn_init);
}

double lh_lower(unsigned b)
{
	if (b == 0)
		return 0;
	if (b >= LH_NBUCKETS - 1)
		return LH_MAX_NS;
	return LH_MIN_NS * pow(10.0, (double)(b - 1) / LH_PER_DECADE);
}

double lh_upper(unsigned b)
{
	if (b == 0)
		return LH_MIN_NS;
	if (b >= LH_NBUCKETS - 1)
		return INFINITY;
	return LH_MIN_NS * pow(10.0, (double)b / LH_PER_DECADE);
}

double lh_value(unsigned b)
{
	double lo, hi;

	if (b == 0)
		return LH_MIN_NS;
	if (b >= LH_NBUCKETS - 1)
		return LH_MAX_NS;
	lo = lh_lower(b);
	hi = lh_upper(b);
	return 2 * lo * hi / (lo + hi);
}

double lh_quantile(const uint64_t *counts, double q)
{
	double total = 0, target, cum = 0;

	for (unsigned b = 0; b < LH_NBUCKETS; b++)
		total += (double)counts[b];
	if (total <= 0)
		return NAN;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	target = q * total;
	for (unsigned b = 0; b < LH_NBUCKETS; b++) {
		if (!counts[b])
			continue;
		cum += (double)counts[b];
		if (cum >= target)
			return lh_value(b);
	}
	return lh_value(LH_NBUCKETS - 1); /* not reached: cum == total >= target */
}

void lh_quantiles(const uint64_t *counts, const double *q, double *out, unsigned n)
{
	lh_quantiles_in(counts, 0, LH_NBUCKETS - 1, q, out, n);
}

void lh_quantiles_in(const uint64_t *counts, unsigned lo, unsigned hi, const double *q, double *out, unsigned n)
{
	double total = 0, target[LH_MAXQ], cum = 0, next;
	unsigned left = n < LH_MAXQ ? n : LH_MAXQ;
	bool done[LH_MAXQ] = { false };

	if (!__atomic_load_n(&lhn_ready, __ATOMIC_ACQUIRE))
		lh_init();
	if (hi > LH_NBUCKETS - 1)
		hi = LH_NBUCKETS - 1;
	/* the buckets outside [lo, hi] are 0: adding them would leave every sum as it is */
	for (unsigned b = lo; b <= hi; b++)
		total += (double)counts[b];
	next = INFINITY; /* the smallest target not reached yet */
	for (unsigned i = 0; i < left; i++) {
		double qi = q[i] < 0 ? 0 : q[i] > 1 ? 1 : q[i];

		out[i] = NAN;
		target[i] = qi * total; /* as lh_quantile: the same sums, so the same buckets */
		if (target[i] < next)
			next = target[i];
	}
	if (total <= 0)
		return;
	n = left;
	for (unsigned b = lo; b <= hi && left; b++) {
		if (!counts[b])
			continue;
		cum += (double)counts[b];
		if (!(cum >= next))
			continue;
		next = INFINITY;
		for (unsigned i = 0; i < n; i++) {
			if (done[i])
				continue;
			if (cum >= target[i]) {
				out[i] = lhn_value[b];
				done[i] = true;
				left--;
			} else if (target[i] < next) {
				next = target[i];
			}
		}
	}
	for (unsigned i = 0; i < n; i++) /* not reached: cum == total >= target */
		if (!done[i])
			out[i] = lhn_value[LH_NBUCKETS - 1];
}
