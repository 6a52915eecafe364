// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The streaming detector (analysis/stream.h): causality, one alert per event, finite results, scale
 * floors, and the labelled corpus (series_corpus.h): alerts per 1,000 normal points, recall of events
 * and detection delay, per family and overall (printed; docs/analysis.md quotes them).
 */
#include <math.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analysis/stream.h"
#include "series_corpus.h"

static void run(const double *x, size_t n, const struct sd_params *p, int8_t *flag, double *score)
{
	struct sd_detector *d = sd_new(p);
	struct sd_verdict v;

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		sd_feed(d, x[i], &v);
		assert_true(isfinite(v.score));
		if (flag)
			flag[i] = (int8_t)v.flag;
		if (score)
			score[i] = v.score;
	}
	sd_free(d);
}

static void test_causal(void **st)
{
	struct sc_series s;
	int8_t *full, *pre;
	double *sf, *sp;

	assert_int_equal(sc_generate("season_gauss", 1, &s), 0);
	full = malloc(s.n);
	pre = malloc(s.n);
	sf = malloc(s.n * sizeof(double));
	sp = malloc(s.n * sizeof(double));
	run(s.x, s.n, NULL, full, sf);
	/* the verdicts on a prefix do not depend on what comes after it */
	run(s.x, s.n / 2, NULL, pre, sp);
	assert_memory_equal(full, pre, s.n / 2);
	assert_memory_equal(sf, sp, s.n / 2 * sizeof(double));
	free(full);
	free(pre);
	free(sf);
	free(sp);
	sc_free(&s);
}

static void test_level_shift_alerts_once(void **st)
{
	double x[1200];
	int8_t flag[1200];
	unsigned long long r = 88172645463325252ULL;
	int nflags = 0;

	for (int i = 0; i < 1200; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		x[i] = (i < 600 ? 10 : 30) + ((double)(r >> 11) / 9007199254740992.0 - 0.5);
	}
	run(x, 1200, NULL, flag, NULL);
	for (int i = 0; i < 1200; i++)
		nflags += flag[i] != 0;
	assert_int_equal(flag[600], 1);
	assert_int_equal(nflags, 1);
}

static void test_return_after_relearn_is_quiet(void **st)
{
	/* a 100-step flood: alerted at its start, learnt, and its end is not a second alert */
	double x[1000];
	int8_t flag[1000];
	int nflags = 0;

	for (int i = 0; i < 1000; i++)
		x[i] = 50 + (i % 7) - 3 + ((i >= 500 && i < 600) ? 200 : 0);
	run(x, 1000, NULL, flag, NULL);
	for (int i = 0; i < 1000; i++)
		nflags += flag[i] != 0;
	assert_int_equal(flag[500], 1);
	assert_int_equal(nflags, 1);
}

static void test_quantised_two_level(void **st)
{
	/* a CPU metric alternating between two values: MAD 0, never an alarm for the other level */
	double x[3000];
	int8_t flag[3000];
	int nflags = 0;

	for (int i = 0; i < 3000; i++)
		x[i] = (i / 7) % 5 == 0 || i % 101 == 0 ? 0.75 : 0.5;
	x[2500] = 9.0;
	run(x, 3000, NULL, flag, NULL);
	for (int i = 0; i < 3000; i++)
		nflags += flag[i] != 0;
	assert_int_equal(flag[2500], 1);
	assert_int_equal(nflags, 1);
}

static void test_constant_then_jump(void **st)
{
	double x[200];
	int8_t flag[200];

	for (int i = 0; i < 200; i++)
		x[i] = i < 150 ? 5 : 500;
	run(x, 200, NULL, flag, NULL);
	assert_int_equal(flag[150], 1);
}

static void test_extreme_values_finite(void **st)
{
	double x[400];
	int8_t flag[400];
	double score[400];
	int nflags = 0;

	for (int i = 0; i < 400; i++)
		x[i] = (i % 2 ? 1 : -1) * 1e307 * (1 + (i % 5) * 0.1);
	x[300] = DBL_MAX;
	x[301] = -DBL_MAX;
	run(x, 400, NULL, flag, score);
	for (int i = 0; i < 400; i++)
		nflags += flag[i] != 0;
	assert_true(nflags <= 3);
	/* and tiny values */
	for (int i = 0; i < 400; i++)
		x[i] = 1e-300 * (1 + (i % 3));
	x[350] = 1e-290;
	run(x, 400, NULL, flag, score);
	assert_int_equal(flag[350], 1);
}

static void test_missing_never_flagged(void **st)
{
	double x[600];
	int8_t flag[600];

	for (int i = 0; i < 600; i++)
		x[i] = (i >= 200 && i < 400) ? NAN : 10 + (i % 3);
	run(x, 600, NULL, flag, NULL);
	for (int i = 0; i < 600; i++)
		assert_int_equal(flag[i], 0);
}

static void test_threshold_governs(void **st)
{
	struct sc_series s;
	struct sd_params p;
	int8_t *flag;
	size_t prev = SIZE_MAX;

	assert_int_equal(sc_generate("heavy_tail", 3, &s), 0);
	flag = malloc(s.n);
	sd_params_default(&p);
	for (double t = 2; t <= 64; t *= 2) {
		size_t nf = 0;

		p.threshold = t;
		run(s.x, s.n, &p, flag, NULL);
		for (size_t i = 0; i < s.n; i++)
			nf += flag[i] != 0;
		assert_true(nf <= prev);
		prev = nf;
	}
	assert_int_equal(prev, 0);
	free(flag);
	sc_free(&s);
}

/* Three floods 19-20 s apart (recorded on the testbed, on a fast host) are three anomalies, not a
 * 20-step season: a period fitted to two or three bursts would forecast the third and alert a drop
 * where the fourth does not come. */
static void test_spaced_bursts_not_a_season(void **st)
{
	struct sc_series s;
	struct sd_params p;
	struct sd_detector *d;
	struct sd_verdict v;
	size_t e = 0, drops = 0;

	assert_int_equal(sc_generate("recorded", 2, &s), 0);
	assert_int_equal(s.nev, 3);
	sd_params_default(&p);
	p.poisson = true;
	d = sd_new(&p);
	assert_non_null(d);
	for (size_t i = 0; i < s.n; i++) {
		sd_feed(d, s.x[i], &v);
		assert_int_equal(v.period, 0);
		if (v.flag > 0) {
			assert_true(e < s.nev);
			assert_int_equal(i, s.ev_onset[e]);
			e++;
		}
		drops += v.flag < 0;
	}
	assert_int_equal(e, 3);
	assert_int_equal(drops, 0);
	sd_free(d);
	sc_free(&s);
}

static void test_corpus(void **st)
{
	struct sc_score all = { 0 };
	const unsigned seeds = 10;

	printf("  %-14s %7s %6s %9s %8s %9s\n", "family", "points", "events", "detected", "alarms/k", "delay");
	for (int f = 0; sc_families[f]; f++) {
		struct sc_score sc = { 0 };

		/* the recorded family: one series per file */
		for (unsigned seed = 1; seed <= (strcmp(sc_families[f], "recorded") ? seeds : SC_RECORDED_FILES); seed++) {
			struct sc_series s;
			struct sd_params p;
			int8_t *flag;

			assert_int_equal(sc_generate(sc_families[f], seed, &s), 0);
			sd_params_default(&p);
			p.poisson = s.counts;
			flag = malloc(s.n);
			run(s.x, s.n, &p, flag, NULL);
			sc_score_series(&s, flag, &sc);
			free(flag);
			sc_free(&s);
		}
		printf("  %-14s %7zu %6zu %9zu %8.2f %9.1f\n", sc_families[f], sc.points, sc.events, sc.detected,
		       1000.0 * (double)sc.false_alarms / (double)sc.normal_points,
		       sc.detected ? sc.delay_sum / (double)sc.detected : 0);
		all.points += sc.points;
		all.normal_points += sc.normal_points;
		all.events += sc.events;
		all.detected += sc.detected;
		all.false_alarms += sc.false_alarms;
		all.delay_sum += sc.delay_sum;
	}
	printf("  %-14s %7zu %6zu %9zu %8.2f %9.1f   recall %.3f\n", "all", all.points, all.events, all.detected,
	       1000.0 * (double)all.false_alarms / (double)all.normal_points,
	       all.detected ? all.delay_sum / (double)all.detected : 0, (double)all.detected / (double)all.events);
	assert_true(1000.0 * (double)all.false_alarms / (double)all.normal_points <= 2.0);
	assert_true((double)all.detected / (double)all.events >= 0.9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_causal),
		cmocka_unit_test(test_level_shift_alerts_once),
		cmocka_unit_test(test_return_after_relearn_is_quiet),
		cmocka_unit_test(test_quantised_two_level),
		cmocka_unit_test(test_constant_then_jump),
		cmocka_unit_test(test_extreme_values_finite),
		cmocka_unit_test(test_missing_never_flagged),
		cmocka_unit_test(test_threshold_governs),
		cmocka_unit_test(test_spaced_bursts_not_a_season),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
