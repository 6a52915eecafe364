// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sampling/budget.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool budget_parse(const char *s, double *fraction)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return false;
	if (*end == '%') {
		v /= 100.0;
		end++;
	}
	if (*end || v <= 0 || v > 1)
		return false;
	*fraction = v;
	return true;
}

void budget_init(struct budget_ctl *b, double budget, double hit_cost_ns, uint64_t period_ns)
{
	memset(b, 0, sizeof(*b));
	b->budget = budget;
	b->hit_cost_ns = hit_cost_ns > 0 ? hit_cost_ns : 1;
	b->period_ns = period_ns ? period_ns : 10000000000ULL;
	b->min_duty = 0.02;
	b->duty = 1.0; /* first window measures the load at full capture */
}

void budget_update(struct budget_ctl *b, uint64_t hits, uint64_t on_ns, uint64_t target_cpu_ns)
{
	double cost = (double)hits * b->hit_cost_ns, work = (double)target_cpu_ns - cost, f, want;

	if (!on_ns)
		return;
	if (work < (double)target_cpu_ns * 0.05)
		work = (double)target_cpu_ns * 0.05; /* CPU accounting jitter: never divide by ~0 */
	f = work > 0 ? cost / work : 0;
	b->last_overhead = f;
	want = f > 0 ? b->budget / f : 1.0;
	if (want > 1.0)
		want = 1.0;
	if (want < b->min_duty)
		want = b->min_duty;
	/* react fast to load increases (cut the duty at once), slowly to decreases */
	b->duty = want < b->duty ? want : 0.5 * b->duty + 0.5 * want;
	b->cycles++;
}

uint64_t budget_on_ns(const struct budget_ctl *b)
{
	return (uint64_t)((double)b->period_ns * b->duty);
}

double budget_expected_overhead(const struct budget_ctl *b)
{
	return b->last_overhead * b->duty;
}

double budget_sample_factor(const struct budget_ctl *b)
{
	return b->duty > 0 ? 1.0 / b->duty : 1.0;
}
