/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Overhead budget (kapimon record/top --budget PCT): the per-request probes are attached only for
 * a duty cycle that keeps their estimated cost under a fraction of the apiserver's own CPU time.
 *
 *   cost while attached     C = hits x hit_cost      (uprobe traps run in the apiserver's context)
 *   apiserver's own work    W = cpu_time - C         (its CPU time in the same window, minus ours)
 *   overhead at full        f = C / W
 *   duty                    d = clamp(budget / f, min_duty, 1), smoothed (EWMA) across cycles
 *
 * Records captured while attached carry sample_factor = 1/d, so counts and rates summed over
 * records estimate the full traffic without bias (requests arrive independently of the cycle).
 * Pure logic; the attach/detach mechanics live in src/capture/.
 */
#ifndef KAPIMON_BUDGET_H
#define KAPIMON_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget_ctl {
	double budget;      /* allowed overhead as a fraction of the apiserver's CPU, e.g. 0.01 */
	double hit_cost_ns; /* measured cost of one uprobe hit */
	uint64_t period_ns; /* one on+off cycle */
	double min_duty;    /* never sample less than this */
	double duty;        /* current duty, (0, 1] */
	double last_overhead; /* f measured in the last attached window (overhead at full capture) */
	uint64_t cycles;
};

/* Parse "1%", "0.5%" or "0.01" into a fraction in (0, 1]; false on garbage. */
bool budget_parse(const char *s, double *fraction);
void budget_init(struct budget_ctl *b, double budget, double hit_cost_ns, uint64_t period_ns);
/* After an attached window of on_ns with `hits` probe hits while the target used target_cpu_ns. */
void budget_update(struct budget_ctl *b, uint64_t hits, uint64_t on_ns, uint64_t target_cpu_ns);
/* Length of the attached part of the next cycle. */
uint64_t budget_on_ns(const struct budget_ctl *b);
/* Estimated overhead (fraction of the apiserver's CPU) at the current duty. */
double budget_expected_overhead(const struct budget_ctl *b);
double budget_sample_factor(const struct budget_ctl *b);

#endif
