/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Overhead budget (kapimon record/top --budget PCT): all uprobes (request and etcd) are attached only
 * part of each cycle, so that their cost stays under a fraction of the apiserver's own CPU time.
 *
 *   cost                      C = hits x hit_cost + program run time
 *                                                      (hit_cost: the calibrated trap of an empty
 *                                                       probe; the programs' run time is measured by
 *                                                       the kernel; all of it runs in the apiserver's
 *                                                       context; gated hits cost too)
 *   apiserver's own work      W = cpu_time - C         (its CPU time in the cycle, minus ours)
 *   overhead at full capture  f = rate_in_window x cycle x hit_cost / W
 *   attached time allowed     A = budget / f x cycle
 *   gate window               w = A - extra            (extra: attached time outside the window --
 *                                                       attach, drain, detach -- measured from hits)
 *                             w <= cycle - drain - 1.5 churn   (the next attach must not wait for
 *                                                       this cycle's detach: windows stay on time)
 *
 * Records are weighted by the window they started in: weight = cycle / window, with both lengths
 * exact because the BPF gate opens and closes at timestamps written before the window begins
 * (bpf/kp_common.h). Requests arrive independently of the cycle, so weighted counts are unbiased.
 * Pure logic; the attach/detach mechanics live in src/capture/sampler.c.
 */
#ifndef KAPIMON_BUDGET_H
#define KAPIMON_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct budget_ctl {
	double budget;        /* allowed overhead as a fraction of the apiserver's CPU, e.g. 0.01 */
	double hit_cost_ns;   /* measured cost of one uprobe hit */
	uint64_t period_ns;   /* cycle length unit (--budget-period) */
	uint64_t min_window_ns; /* never open the gate for less than this */
	unsigned max_mult;    /* a cycle is at most this many periods */
	double duty;          /* gate-open share of the next cycle, (0, 1]; 1 = full capture */
	uint64_t cycle_ns;    /* length of the next cycle (a multiple of period_ns) */
	double last_overhead; /* f: overhead at full capture, from the last cycle */
	double allow;         /* attached share of a cycle the budget allows (smoothed) */
	double extra_ns;      /* attached time outside the window per cycle (smoothed), ns */
	bool extra_known;     /* extra_ns was measured (else a guess) */
	uint64_t drain_ns;    /* all probes stay attached this long after the window (requests end) */
	double churn_ns;      /* background detach + attach per cycle (uprobe unregistration waits
			       * for RCU grace periods, one after the other, and blocks attaching) */
	double measured;      /* overhead measured in the last cycle: cost / own CPU */
	double per_hit_ns;    /* cost per hit in the last cycle (hit_cost + program time per hit) */
	double cost_ns, own_ns; /* summed over all measured cycles */
	uint64_t cycles;
};

/* What the driver measured over one complete cycle. */
struct budget_cycle {
	uint64_t cycle_ns;    /* the cycle's length */
	uint64_t window_ns;   /* gate open (cycle_ns in full capture) */
	uint64_t hits_window; /* probe hits while the gate was open */
	uint64_t hits;        /* probe hits in the whole cycle (window included) */
	uint64_t prog_ns;     /* the probes' BPF programs' run time in the cycle (0: not measured) */
	uint64_t cpu_ns;      /* the apiserver's CPU time in the cycle (the probes' cost included) */
	uint64_t churn_ns;    /* detach start to attach done, idle time excluded (0: not cycling) */
};

/* Parse "1%", "0.5%" or "0.01" into a fraction in (0, 1]; false on garbage. */
bool budget_parse(const char *s, double *fraction);
void budget_init(struct budget_ctl *b, double budget, double hit_cost_ns, uint64_t period_ns);
/* Plan the next cycle (duty, cycle_ns) from the one just measured. */
void budget_update(struct budget_ctl *b, const struct budget_cycle *m);
/* Length of the gate window of the next cycle. */
uint64_t budget_window_ns(const struct budget_ctl *b);
/* Expected overhead (fraction of the apiserver's CPU) of the planned cycle. */
double budget_expected_overhead(const struct budget_ctl *b);
/* Overhead measured over all cycles so far (summed cost / summed own CPU); 0 before the first. */
double budget_measured_overhead(const struct budget_ctl *b);
/* Weight of a record captured in the planned window: cycle / window. */
double budget_sample_factor(const struct budget_ctl *b);

/* Calibration rounds (ns per hit) -> min, median, max (v is sorted in place). */
void budget_calib_summary(double *v, size_t n, double *min, double *median, double *max);

/*
 * The gate windows, so that each record gets the weight of the window its start fell in (a long
 * request ends windows later; an event may be read after the next window opened). A bounded ring,
 * oldest dropped first; windows are added in time order and do not overlap.
 */
struct budget_window {
	uint64_t open_ns, close_ns; /* CLOCK_MONOTONIC; close UINT64_MAX: still open (full capture) */
	double weight;
};

struct budget_windows {
	struct budget_window *w;
	size_t cap, head, n;
};

int budget_windows_init(struct budget_windows *ws, size_t cap);
void budget_windows_free(struct budget_windows *ws);
void budget_windows_add(struct budget_windows *ws, uint64_t open_ns, uint64_t close_ns, double weight);
/* Move the close of the newest window (stop, or leaving full capture). */
void budget_windows_close(struct budget_windows *ws, uint64_t close_ns);
/* Weight of an event stamped ts (the BPF side stamps it just after its gate check, so a window
 * counts up to slack_ns past its close); fallback when no known window holds it. */
double budget_windows_weight(const struct budget_windows *ws, uint64_t ts, uint64_t slack_ns, double fallback);

#endif
