/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Budget mode driver: runs the duty cycle of src/sampling/budget.h on a live capture. Each cycle:
 * all probes attached for on = duty x period, then only the end probes for a short drain (so
 * requests that began while attached still end), then nothing until the period is over.
 */
#ifndef KAPIMON_SAMPLER_H
#define KAPIMON_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/capture.h"
#include "sampling/budget.h"

struct sampler {
	struct capture *cap;
	pid_t pid;
	struct budget_ctl b;
	uint64_t drain_ns;
	uint64_t attach_ns;    /* how long attaching all probes took last time (started that much early) */
	uint64_t phase_start;  /* mono ns */
	uint64_t window_hits0; /* probe hits at the start of the attached window */
	uint64_t window_cpu0;  /* target CPU ns at the start of the attached window */
	double factor;         /* sample factor of the current/last attached window */
	bool enabled;
};

/* budget <= 0 disables sampling (full capture, factor 1). hit_cost_ns <= 0: calibrate. */
int sampler_init(struct sampler *s, struct capture *cap, pid_t pid, double budget, double hit_cost_ns,
		 uint64_t period_ns);
/* Advance the cycle; call from the poll loop. Returns true when the sample factor changed. */
bool sampler_tick(struct sampler *s, uint64_t now_mono);
double sampler_factor(const struct sampler *s);
/* Poll timeout that wakes the loop at the next phase change (at most max_ms). */
int sampler_timeout_ms(const struct sampler *s, uint64_t now, int max_ms);
/* CPU time (ns) used so far by a process, from /proc/<pid>/stat; 0 if unreadable. */
uint64_t proc_cpu_ns(pid_t pid);

#endif
