// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Heavy hitters (aggregate/hh.h): the Space-Saving invariants against exact decayed counts, the true
 * top-k under a Zipf stream mixed with 1,000,000 distinct noise keys, expiry (an old heavy key gives
 * way to a new one), bad parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "aggregate/hh.h"
#include "util/hash.h"

/* The caller's side: the key of each row. */
struct keys {
	uint64_t *key; /* per row */
	uint64_t want;
};

static bool eq(void *ctx, uint32_t row)
{
	struct keys *k = ctx;

	return k->key[row] == k->want;
}

/* Count key x with weight w: hit its row or admit it. Returns its row. */
static uint32_t feed(struct hh *h, struct keys *k, uint64_t x, double w)
{
	uint64_t hash = hash_mix64(x + 1);
	uint32_t row;

	k->want = x;
	row = hh_find(h, hash, eq, k);
	if (row != HH_NONE) {
		hh_hit(h, row, w);
		return row;
	}
	row = hh_admit(h, hash, w, true, NULL);
	assert_int_not_equal(row, HH_NONE);
	k->key[row] = x;
	return row;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static double urand(void) { return (double)(xrand() >> 11) / (double)(1ULL << 53); }

static uint32_t find_row(struct hh *h, struct keys *k, uint64_t x)
{
	k->want = x;
	return hh_find(h, hash_mix64(x + 1), eq, k);
}

/* Every invariant, with exact decayed weights of a small key space. */
static void test_invariants(void **state)
{
	enum { CAP = 32, NKEYS = 400, STEPS = 60, PER_STEP = 300 };
	const double tau = 5;
	struct hh *h = hh_new(CAP, tau, 1000);
	struct keys k = { calloc(CAP, sizeof(uint64_t)), 0 };
	static double exact[NKEYS], win[NKEYS];
	uint64_t step = 1000;

	assert_non_null(h);
	for (int s = 0; s < STEPS; s++, step++) {
		hh_set_step(h, step);
		for (int i = 0; i < NKEYS; i++)
			exact[i] *= exp(-1 / tau); /* decay by one step */
		if (s == STEPS - 3)
			memset(win, 0, sizeof(win)); /* raw weights of the last 3 steps */
		for (int j = 0; j < PER_STEP; j++) {
			/* skewed keys, weights 1..3 (sample factors) */
			uint64_t x = (uint64_t)(NKEYS * pow(urand(), 3));
			double w = 1 + (double)(xrand() % 3);

			feed(h, &k, x, w);
			exact[x] += w;
			win[x] += w;
		}
		{
			double total = 0, min = INFINITY;

			for (int i = 0; i < NKEYS; i++)
				total += exact[i];
			for (uint32_t r = 0; r < hh_size(h); r++) {
				double sc = hh_score(h, r, step);
				double err = hh_err(h, r, hh_born(h, r)) * exp(-(double)(step - hh_born(h, r)) / tau);
				uint64_t x = k.key[r];

				/* tracked: score - err <= exact <= score */
				assert_true(exact[x] <= sc * (1 + 1e-9));
				assert_true(sc - err <= exact[x] * (1 + 1e-9) + 1e-9);
				if (sc < min)
					min = sc;
			}
			assert_int_equal(hh_size(h), CAP);
			/* the minimum (threshold for the window [step, step]) is <= total / cap */
			assert_true(min <= total / CAP * (1 + 1e-9));
			assert_true(fabs(hh_threshold(h, step) - min) <= 1e-9 * min);
			for (uint64_t x = 0; x < NKEYS; x++)
				if (find_row(h, &k, x) == HH_NONE)
					assert_true(exact[x] <= min * (1 + 1e-9)); /* untracked: <= minimum */
		}
	}
	/* raw weights over the last 3 steps [step - 3, step): untracked keys below the window threshold;
	 * tracked keys admitted before the window are exact in the caller's counters, others miss <= err */
	{
		uint64_t first = step - 3;
		double thr = hh_threshold(h, first);

		for (uint64_t x = 0; x < NKEYS; x++) {
			uint32_t r = find_row(h, &k, x);

			if (r == HH_NONE)
				assert_true(win[x] <= thr * (1 + 1e-9));
			else if (hh_born(h, r) < first)
				assert_true(hh_err(h, r, first) == 0);
		}
	}
	free(k.key);
	hh_free(h);
}

/* Zipf heavy keys mixed with 1,000,000 distinct noise keys: the top 20 by score are the true top 20. */
static void test_zipf_topk_under_noise(void **state)
{
	enum { CAP = 4096, HEAVY = 200, TOP = 20, NOISE = 1000000, HEAVY_N = 400000, STEPS = 20 };
	struct hh *h = hh_new(CAP, 10, 0);
	struct keys k = { calloc(CAP, sizeof(uint64_t)), 0 };
	static double cdf[HEAVY], cnt[HEAVY];
	uint64_t noise_next = 1ULL << 40;
	double z = 0;
	int order[HEAVY];

	assert_non_null(h);
	for (int i = 0; i < HEAVY; i++) {
		z += 1.0 / pow(i + 1, 1.1);
		cdf[i] = z;
	}
	for (int i = 0; i < HEAVY; i++)
		cdf[i] /= z;
	for (int s = 0; s < STEPS; s++) {
		hh_set_step(h, (uint64_t)s);
		for (int j = 0; j < (HEAVY_N + NOISE) / STEPS; j++) {
			if (j % 7 >= 5) { /* 2 of 7 heavy: 400,000 heavy and exactly 1,000,000 noise records */
				double u = urand();
				int lo = 0, hi = HEAVY - 1;

				while (lo < hi) {
					int mid = (lo + hi) / 2;

					if (cdf[mid] < u)
						lo = mid + 1;
					else
						hi = mid;
				}
				feed(h, &k, (uint64_t)lo, 1);
				if (s == STEPS - 1)
					cnt[lo]++;
			} else {
				feed(h, &k, noise_next++, 1);
			}
		}
	}
	print_message("noise keys %llu, evictions %llu, threshold of the last step %.1f\n",
		      (unsigned long long)(noise_next - (1ULL << 40)), (unsigned long long)hh_evictions(h),
		      hh_threshold(h, STEPS - 1));
	assert_true(noise_next - (1ULL << 40) == NOISE);
	/* the true top 20 of the last step (exact counts) all have rows, and no noise key outranks them */
	for (int i = 0; i < HEAVY; i++)
		order[i] = i;
	for (int i = 0; i < TOP; i++)
		for (int j = i + 1; j < HEAVY; j++)
			if (cnt[order[j]] > cnt[order[i]]) {
				int t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
	{
		double weakest = INFINITY;

		for (int i = 0; i < TOP; i++) {
			uint32_t r = find_row(h, &k, (uint64_t)order[i]);

			assert_int_not_equal(r, HH_NONE);
			/* tracked since long before the last step: its counts there are exact */
			assert_true(hh_born(h, r) < STEPS - 1);
			assert_true(cnt[order[i]] > hh_threshold(h, STEPS - 1));
			if (hh_score(h, r, STEPS - 1) < weakest)
				weakest = hh_score(h, r, STEPS - 1);
		}
		for (uint32_t r = 0; r < hh_size(h); r++)
			if (k.key[r] >= (1ULL << 40))
				assert_true(hh_score(h, r, STEPS - 1) < weakest);
	}
	free(k.key);
	hh_free(h);
}

/* Expiry: a key that was heavy and went quiet gives its row to a new steady key. */
static void test_expiry(void **state)
{
	enum { CAP = 8 };
	struct hh *h = hh_new(CAP, 5, 0);
	struct keys k = { calloc(CAP, sizeof(uint64_t)), 0 };
	uint64_t s;

	/* 8 keys, key 0 very heavy in step 0 */
	for (uint64_t x = 0; x < CAP; x++)
		feed(h, &k, x, x == 0 ? 10000 : 10);
	/* later: keys 1..7 and a new key 100 keep sending; key 0 is silent */
	for (s = 1; s < 200; s++) {
		hh_set_step(h, s);
		for (uint64_t x = 1; x < CAP; x++)
			feed(h, &k, x, 10);
		feed(h, &k, 100, 10);
	}
	assert_int_equal(find_row(h, &k, 0), HH_NONE);
	assert_int_not_equal(find_row(h, &k, 100), HH_NONE);
	for (uint64_t x = 1; x < CAP; x++)
		assert_int_not_equal(find_row(h, &k, x), HH_NONE);
	/* scores are rescaled without changing what they mean (forward decay over many steps) */
	for (; s < 20000; s += 97)
		hh_set_step(h, s);
	feed(h, &k, 100, 1);
	assert_true(hh_score(h, find_row(h, &k, 100), s - 97) > 0.99);
	assert_true(isfinite(hh_threshold(h, s - 97)));
	free(k.key);
	hh_free(h);
}

static void test_params(void **state)
{
	struct hh *h;
	bool ev;

	assert_null(hh_new(0, 10, 0));
	assert_null(hh_new(16, 0.5, 0));
	assert_null(hh_new(16, NAN, 0));
	h = hh_new(1, 1, 0);
	assert_non_null(h);
	assert_true(hh_threshold(h, 0) == 0); /* a free row: every key is tracked */
	assert_int_equal(hh_admit(h, 1, 1, false, &ev), 0);
	assert_false(ev);
	assert_int_equal(hh_admit(h, 2, 1, false, &ev), HH_NONE); /* full, no eviction allowed */
	assert_int_equal(hh_admit(h, 2, 1, true, &ev), 0);
	assert_true(ev);
	assert_int_equal(hh_gen(h, 0), 2);
	assert_true(hh_err(h, 0, 0) == 1.0);
	hh_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invariants),
		cmocka_unit_test(test_zipf_topk_under_noise),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
