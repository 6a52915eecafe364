// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sampling/budget.h"

#define MS 1000000ULL
#define S 1000000000ULL

static void test_parse(void **state)
{
	double f;

	assert_true(budget_parse("1%", &f));
	assert_true(f > 0.0099 && f < 0.0101);
	assert_true(budget_parse("0.05", &f));
	assert_true(f > 0.0499 && f < 0.0501);
	assert_false(budget_parse("0%", &f));
	assert_false(budget_parse("150%", &f));
	assert_false(budget_parse("abc", &f));
	assert_false(budget_parse("1%%", &f));
	assert_false(budget_parse("", &f));
}

/* A steady apiserver seen through the cycle: hit_rate hits/s at full capture, own_rate s of its own
 * CPU per s; the probes are attached for the window plus extra_ns (attach, drain); the next attach
 * waits churn_ns for the detach. Runs n cycles; returns the overhead of the last one. */
struct load {
	double hit_rate, own_rate;
	uint64_t extra_ns, churn_ns;
	double prog_per_hit_ns; /* the BPF programs' run time per hit */
};

static double run_cycles(struct budget_ctl *b, const struct load *l, int n)
{
	double last = 0;

	for (int i = 0; i < n; i++) {
		uint64_t cycle = b->cycle_ns, win = budget_window_ns(b);
		uint64_t att = b->duty >= 1.0 ? cycle : win + l->extra_ns;
		struct budget_cycle m = {
			.cycle_ns = cycle,
			.window_ns = win,
			.hits_window = (uint64_t)(l->hit_rate * (double)win / 1e9),
			.hits = (uint64_t)(l->hit_rate * (double)att / 1e9),
			.churn_ns = b->duty >= 1.0 ? 0 : l->churn_ns,
		};
		double cost;

		m.prog_ns = (uint64_t)(l->prog_per_hit_ns * (double)m.hits);
		cost = (double)m.hits * b->hit_cost_ns + (double)m.prog_ns;

		m.cpu_ns = (uint64_t)(l->own_rate * (double)cycle + cost);
		last = cost / (l->own_rate * (double)cycle);
		budget_update(b, &m);
	}
	return last;
}

static void test_first_cycle_is_short(void **state)
{
	struct budget_ctl b;

	budget_init(&b, 0.01, 800, 10 * S);
	/* never a full-capture cycle before the load is known */
	assert_true(b.duty <= 0.25);
	assert_true(budget_window_ns(&b) >= b.min_window_ns);
}

/* Loaded: 4 hits/request (request + etcd) at 1000 req/s, 500 us of its own CPU per request: full
 * capture costs 4000 x 0.8 us / 0.5 s = 0.64%. A 0.1% budget must hold, including the attached time
 * outside the windows, and the duty follows budget / f. */
static void test_converges_to_budget(void **state)
{
	struct budget_ctl b;
	struct load l = { .hit_rate = 4000, .own_rate = 0.5, .extra_ns = 150 * MS, .churn_ns = 800 * MS };
	double last;

	budget_init(&b, 0.001, 800, 10 * S);
	last = run_cycles(&b, &l, 30);
	assert_true(b.last_overhead > 0.0060 && b.last_overhead < 0.0068);
	assert_true(last <= 0.001 * 1.02);
	assert_true(last >= 0.001 * 0.9);
	assert_true(budget_measured_overhead(&b) <= 0.001 * 1.05); /* the short first cycle included */
	assert_true(budget_expected_overhead(&b) <= 0.001 * 1.02);
	assert_true(b.duty < 0.16 && b.duty > 0.12);
	assert_true(budget_sample_factor(&b) > 6 && budget_sample_factor(&b) < 8.5);
}

/* The programs' run time counts: 3.2 us of program per 0.8 us trap makes the cost 5x, and the
 * budget still holds (on the full cost), with a duty about 5x lower. */
static void test_program_time_counts(void **state)
{
	struct budget_ctl b, b0;
	struct load l = { .hit_rate = 1000, .own_rate = 0.5, .extra_ns = 150 * MS, .churn_ns = 800 * MS };
	double last;

	budget_init(&b0, 0.002, 800, 10 * S);
	run_cycles(&b0, &l, 30);
	l.prog_per_hit_ns = 3200;
	budget_init(&b, 0.002, 800, 10 * S);
	last = run_cycles(&b, &l, 30);
	assert_true(last <= 0.002 * 1.02 && last >= 0.002 * 0.9);
	assert_true(b.per_hit_ns > 3990 && b.per_hit_ns < 4010);
	assert_true(b.last_overhead > 4.9 * b0.last_overhead && b.last_overhead < 5.1 * b0.last_overhead);
	assert_true(budget_window_ns(&b) < budget_window_ns(&b0) / 3);
}

/* Idle or cheap: full capture (duty 1), reached within a few cycles. */
static void test_cheap_goes_full(void **state)
{
	struct budget_ctl b;
	struct load l = { .hit_rate = 10, .own_rate = 0.05, .extra_ns = 150 * MS, .churn_ns = 800 * MS };

	budget_init(&b, 0.01, 800, 10 * S);
	run_cycles(&b, &l, 8);
	assert_true(b.duty == 1.0);
	assert_true(b.cycle_ns == b.period_ns);
	assert_true(budget_sample_factor(&b) == 1.0);
}

/* A load increase cuts the duty at once. */
static void test_reacts_to_load(void **state)
{
	struct budget_ctl b;
	struct load l = { .hit_rate = 1000, .own_rate = 0.5, .extra_ns = 150 * MS, .churn_ns = 800 * MS };
	double d0;

	budget_init(&b, 0.001, 800, 10 * S);
	run_cycles(&b, &l, 20);
	d0 = b.duty;
	l.hit_rate *= 4;
	run_cycles(&b, &l, 1);
	assert_true(b.duty < d0 / 3);
}

/* Short periods: the window leaves time for the serialized detach and the next attach (windows
 * stay on schedule), by taking a cycle of several periods when needed. */
static void test_churn_caps_window(void **state)
{
	struct budget_ctl b;
	struct load l = { .hit_rate = 4000, .own_rate = 0.5, .extra_ns = 100 * MS, .churn_ns = 800 * MS };

	budget_init(&b, 0.004, 800, 1 * S); /* allows ~60% of the time attached */
	run_cycles(&b, &l, 10);
	assert_true(b.duty < 1.0);
	assert_true(budget_window_ns(&b) + b.drain_ns + (uint64_t)(1.5 * b.churn_ns) <= b.cycle_ns);
	assert_true(b.cycle_ns % b.period_ns == 0);
}

/* A budget below what even the shortest window costs: the window stays at its minimum, the cycle
 * grows to its longest, and the measured overhead tells the truth (above the budget). */
static void test_infeasible_budget(void **state)
{
	struct budget_ctl b;
	struct load l = { .hit_rate = 40000, .own_rate = 0.5, .extra_ns = 300 * MS, .churn_ns = 800 * MS };

	budget_init(&b, 0.00001, 800, 1 * S);
	run_cycles(&b, &l, 10);
	assert_true(budget_window_ns(&b) == b.min_window_ns);
	assert_true(b.cycle_ns == b.max_mult * b.period_ns);
	assert_true(b.measured > b.budget);
}

static void test_calib_summary(void **state)
{
	double v[] = { 900, 750, 5200, 760, 770 }, mn, med, mx;
	double e[] = { 2, 4, 1, 3 };

	budget_calib_summary(v, 5, &mn, &med, &mx);
	assert_true(mn == 750 && med == 770 && mx == 5200); /* one slow round does not move the median */
	budget_calib_summary(e, 4, &mn, &med, &mx);
	assert_true(med == 2.5);
}

static void test_windows_lookup(void **state)
{
	struct budget_windows ws;

	assert_int_equal(budget_windows_init(&ws, 4), 0);
	assert_true(budget_windows_weight(&ws, 5, 0, 1.0) == 1.0); /* none yet */
	budget_windows_add(&ws, 100, 200, 5.0);
	budget_windows_add(&ws, 1000, 1100, 4.0);
	assert_true(budget_windows_weight(&ws, 99, 0, 7.0) == 7.0);
	assert_true(budget_windows_weight(&ws, 100, 0, 7.0) == 5.0);
	assert_true(budget_windows_weight(&ws, 199, 0, 7.0) == 5.0);
	assert_true(budget_windows_weight(&ws, 200, 0, 7.0) == 7.0);
	assert_true(budget_windows_weight(&ws, 203, 5, 7.0) == 5.0); /* stamped just after the gate check */
	assert_true(budget_windows_weight(&ws, 1050, 0, 7.0) == 4.0);
	/* stop inside the newest window: it ends there */
	budget_windows_close(&ws, 1020);
	assert_true(budget_windows_weight(&ws, 1050, 0, 7.0) == 7.0);
	/* an open-ended (full capture) window */
	budget_windows_add(&ws, 2000, UINT64_MAX, 1.0);
	assert_true(budget_windows_weight(&ws, 999999, 0, 7.0) == 1.0);
	/* the ring drops the oldest */
	budget_windows_add(&ws, 3000, 3100, 2.0);
	budget_windows_add(&ws, 4000, 4100, 3.0);
	assert_true(budget_windows_weight(&ws, 150, 0, 7.0) == 7.0);
	assert_true(budget_windows_weight(&ws, 4050, 0, 7.0) == 3.0);
	assert_true(budget_windows_weight(&ws, 1010, 0, 7.0) == 4.0);
	budget_windows_free(&ws);
}

/* Unbiased weights: arrivals at a steady rate with jitter; windows of varying length, some opening
 * late; every arrival in a window counts cycle/window. The weighted count matches the arrivals in
 * the covered cycles. */
static void test_weighted_count_unbiased(void **state)
{
	struct budget_windows ws;
	uint64_t c = 1 * S, truth = 0, x = 12345;
	double est = 0;
	const uint64_t cycle = 2 * S, step = 2500000; /* 400/s */

	assert_int_equal(budget_windows_init(&ws, 64), 0);
	for (int k = 0; k < 40; k++) {
		uint64_t win = (150 + 37 * (k % 7)) * MS, late = k % 5 == 0 ? 120 * MS : 0;

		budget_windows_add(&ws, c + late, c + late + win, (double)cycle / (double)win);
		c += cycle;
	}
	for (uint64_t t = 1 * S; t < c; t += step) {
		uint64_t ts;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		ts = t + (x >> 33) % step; /* one arrival per step, anywhere in it */
		truth++;
		est += budget_windows_weight(&ws, ts, 0, 0.0);
	}
	assert_true(est > 0.97 * (double)truth && est < 1.03 * (double)truth);
	budget_windows_free(&ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_first_cycle_is_short),
		cmocka_unit_test(test_converges_to_budget),
		cmocka_unit_test(test_program_time_counts),
		cmocka_unit_test(test_cheap_goes_full),
		cmocka_unit_test(test_reacts_to_load),
		cmocka_unit_test(test_churn_caps_window),
		cmocka_unit_test(test_infeasible_budget),
		cmocka_unit_test(test_calib_summary),
		cmocka_unit_test(test_windows_lookup),
		cmocka_unit_test(test_weighted_count_unbiased),
	};
	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
