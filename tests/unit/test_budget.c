// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sampling/budget.h"

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

/* A loaded apiserver: 2 hits/request, 9.2 us/hit, 160 us of its own CPU per request, 1000 req/s.
 * At full capture f = 18.4/160 = 11.5%; a 1% budget needs duty ~ 0.087. */
static void test_duty_converges_to_budget(void **state)
{
	struct budget_ctl b;
	const double hit = 9200, own_per_req = 160000, rps = 1000;

	budget_init(&b, 0.01, hit, 10000000000ULL);
	assert_true(b.duty == 1.0);
	for (int i = 0; i < 20; i++) {
		double on_s = (double)budget_on_ns(&b) / 1e9;
		uint64_t hits = (uint64_t)(2 * rps * on_s);
		uint64_t cpu = (uint64_t)(rps * on_s * own_per_req + hits * hit);

		budget_update(&b, hits, budget_on_ns(&b), cpu);
	}
	assert_true(b.duty > 0.08 && b.duty < 0.095);
	assert_true(budget_expected_overhead(&b) <= 0.0101);
	assert_true(budget_sample_factor(&b) > 10 && budget_sample_factor(&b) < 12.5);
}

static void test_idle_stays_full(void **state)
{
	struct budget_ctl b;

	budget_init(&b, 0.01, 9200, 10000000000ULL);
	budget_update(&b, 10, 10000000000ULL, 50000000); /* 10 hits while it used 50 ms */
	assert_true(b.duty == 1.0);
	budget_update(&b, 0, 10000000000ULL, 0);
	assert_true(b.duty == 1.0);
}

static void test_min_duty_floor(void **state)
{
	struct budget_ctl b;

	budget_init(&b, 0.001, 9200, 10000000000ULL);
	budget_update(&b, 1000000, 10000000000ULL, 9300000000ULL); /* nearly all its CPU is ours */
	assert_true(b.duty == b.min_duty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_duty_converges_to_budget),
		cmocka_unit_test(test_idle_stays_full),
		cmocka_unit_test(test_min_duty_floor),
	};
	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
