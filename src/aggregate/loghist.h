/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Log-bucket latency histogram (DDSketch-style index, fixed range, dense counts).
 *
 * Buckets: 0 holds values below LH_MIN_NS (1 us); 1..LH_NBUCKETS-2 cover [1 us, 10^4 s) with
 * LH_PER_DECADE (32) buckets per decade, so bucket b spans [lo, lo*g) with g = 10^(1/32) ~ 1.0746;
 * the last bucket holds values >= LH_MAX_NS. A bucket is reported by lh_value(), the point
 * 2*lo*hi/(lo+hi) that minimises the worst relative error, so for any value v inside the covered
 * range |lh_value(lh_bucket(v)) - v| / v <= LH_REL_ERR = (g-1)/(g+1) ~ 3.6%.
 *
 * Histograms are plain count arrays indexed by bucket, so they merge by adding counts. A quantile
 * taken with lh_quantile() is the bucket that holds the exact rank-q value (the smallest x whose
 * cumulative weight reaches q * total), hence it is within LH_REL_ERR of that exact value, for any
 * number of samples and any weights (sample factors). Outside [1 us, 10^4 s) only the side is known.
 */
#ifndef KAPIMON_AGGREGATE_LOGHIST_H
#define KAPIMON_AGGREGATE_LOGHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LH_PER_DECADE 32
#define LH_DECADES 10
#define LH_MIN_NS 1000.0   /* 1 us */
#define LH_MAX_NS 1e13     /* 10^4 s */
#define LH_NBUCKETS (LH_PER_DECADE * LH_DECADES + 2)
#define LH_REL_ERR 0.035963 /* (10^(1/32) - 1) / (10^(1/32) + 1) = 0.0359624, rounded up */

/* Bucket of a value in ns. */
unsigned lh_bucket(double v_ns);
/* lh_bucket((double)ns) for an integer latency, without log10: a table of each bucket's first
 * integer ns (derived once from lh_bucket itself, so the two always agree) indexed by the value's top
 * bits, then at most a comparison or two. Thread-safe. */
static inline unsigned lh_bucket_ns(uint64_t ns);
/* lh_bucket_ns once the tables are built (after lh_init(): the aggregations' per-record path, whose _new
 * builds them). */
static inline unsigned lh_bucket_ns_built(uint64_t ns);
/* Build lh_bucket_ns's tables now (~0.2 ms once; agg_new and etcd_agg_new call it, so that the first
 * record does not pay it). */
void lh_init(void);
/* Lower and upper bound of bucket b in ns (bucket 0: [0, LH_MIN_NS); last: [LH_MAX_NS, inf)). */
double lh_lower(unsigned b);
double lh_upper(unsigned b);
/* The value reported for bucket b (ns): 2*lo*hi/(lo+hi); LH_MIN_NS / LH_MAX_NS for the edges. */
double lh_value(unsigned b);
/* Quantile q in [0,1] of counts[0..LH_NBUCKETS) (any non-negative weights): the value of the first
 * bucket whose cumulative count reaches q * total (q = 0: first non-empty bucket). NaN when empty. */
double lh_quantile(const uint64_t *counts, double q);
/* out[i] = lh_quantile(counts, q[i]) for i < n <= LH_MAXQ (bit for bit), in two passes over the buckets
 * instead of two per quantile. */
#define LH_MAXQ 8
void lh_quantiles(const uint64_t *counts, const double *q, double *out, unsigned n);
/* lh_quantiles of a histogram whose counts are all 0 outside buckets [lo, hi] (the same values, bit for
 * bit): the walks cover [lo, hi] only, and a bucket's value is read from a table. */
void lh_quantiles_in(const uint64_t *counts, unsigned lo, unsigned hi, const double *q, double *out, unsigned n);

/* The latency cells of one step of a row that every observation counts in (the aggregations' totals),
 * dense by bucket: w[LH_NBUCKETS] weight units, 0 = no cell (an observation adds 1 unit at least), the
 * cells in buckets [lo, hi] (lo > hi: none). A new cell is taken from the step's cell budget as the
 * hashed cells of the other rows are (*used < cap, then ++*used). */
struct lh_cells {
	uint32_t *w;
	uint16_t lo, hi;
};

/* Add w units to bucket b: false when the bucket had no cell and the budget was spent (left out). */
static inline bool lh_cells_add(struct lh_cells *c, unsigned b, uint32_t w, uint32_t *used, uint32_t cap)
{
	uint32_t *x = &c->w[b];

	if (*x) {
		*x = *x + w < *x ? UINT32_MAX : *x + w;
		return true;
	}
	if (*used >= cap)
		return false;
	++*used;
	*x = w;
	if (b < c->lo)
		c->lo = (uint16_t)b;
	if (b > c->hi)
		c->hi = (uint16_t)b;
	return true;
}

/* No cells (w: zeroed over the range used). */
static inline void lh_cells_clear(struct lh_cells *c)
{
	for (unsigned b = c->lo; b <= c->hi; b++)
		c->w[b] = 0;
	c->lo = LH_NBUCKETS;
	c->hi = 0;
}

/* hist[b] += the cells' weights; [*lo, *hi] widened to hold them (when there are cells). */
static inline void lh_cells_merge(const struct lh_cells *c, uint64_t *hist, uint16_t *lo, uint16_t *hi)
{
	for (unsigned b = c->lo; b <= c->hi; b++)
		hist[b] += c->w[b];
	if (c->lo <= c->hi) {
		if (c->lo < *lo)
			*lo = c->lo;
		if (c->hi > *hi)
			*hi = c->hi;
	}
}

/* lh_bucket_ns, inline (per record): its tables are built in loghist.c */
#define LHN_TOP_BITS 4
#define LHN_MIN_E 9  /* 2^9 <= 1000 < 2^10 */
#define LHN_MAX_E 43 /* 1e13 < 2^44 */
extern uint64_t lh_ns_thr_[LH_NBUCKETS + 1];
extern uint16_t lh_ns_start_[(LHN_MAX_E - LHN_MIN_E + 1) << LHN_TOP_BITS];
extern int lh_ns_ready_;

static inline unsigned lh_bucket_ns_built(uint64_t ns)
{
	unsigned e, b;

	if (ns < 1000)
		return 0;
	if (ns >= 10000000000000ULL)
		return LH_NBUCKETS - 1;
	e = 63 - (unsigned)__builtin_clzll(ns);
	b = lh_ns_start_[(e - LHN_MIN_E) << LHN_TOP_BITS | (unsigned)(ns >> (e - LHN_TOP_BITS) & ((1u << LHN_TOP_BITS) - 1))];
	while (ns >= lh_ns_thr_[b + 1])
		b++;
	return b;
}

static inline unsigned lh_bucket_ns(uint64_t ns)
{
	if (!__atomic_load_n(&lh_ns_ready_, __ATOMIC_ACQUIRE))
		lh_init();
	return lh_bucket_ns_built(ns);
}

#endif
