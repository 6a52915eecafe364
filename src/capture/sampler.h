/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Budget mode driver: runs the cycle of src/sampling/budget.h on a live capture.
 *
 *   full capture   all probes attached, gate open: weight 1; re-measured every period
 *   cycling        per cycle [C, C + cycle): attach every probe (request, etcd) shortly before C;
 *                  once attached, set the BPF gate to the window [C, C + window) (later than C only
 *                  when attaching ran late); keep everything attached for a drain after the window
 *                  (requests that began in it still end); detach everything (in the background);
 *                  nothing is attached until the next cycle.
 *
 * Each record's weight is cycle / window of the window its start fell in, looked up by the start
 * event's timestamp: exact, whatever the attach/detach latency or when the event is read.
 * The cost is measured, not planned: every hit on every probe (inside the window or not, counted by
 * the BPF side) x the calibrated hit cost, against the apiserver's CPU time.
 */
#ifndef KAPIMON_SAMPLER_H
#define KAPIMON_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/capture.h"
#include "sampling/budget.h"

enum sampler_state { SM_FULL, SM_WINDOW, SM_OFF };

struct sampler {
	struct capture *cap;
	pid_t pid;
	struct budget_ctl b;
	struct budget_windows ws;
	enum sampler_state state;
	uint64_t cycle_start;  /* C (mono ns) of the current cycle */
	uint64_t cycle_ns;     /* its length */
	uint64_t open_ns, close_ns; /* its gate window */
	bool window_read;      /* hits_window taken */
	uint64_t attach_ns;    /* how long attaching took last time, not waiting for a detach (the next
				* attach starts that much earlier) */
	uint64_t detach_start; /* mono ns: the window's probes were handed to the background detach */
	uint64_t hits_detach;  /* probe hits then */
	uint64_t hits0, cpu0, prog0; /* probe hits, target CPU, programs' run time at the start of the
				      * cycle's accounting */
	bool prog_time;        /* the programs' run time is measured */
	uint64_t hits_open, hits_window;
	uint64_t span_start;   /* mono ns: the weighted records stand for the traffic from here */
	uint64_t span_end;     /* set by sampler_stop */
	uint64_t late_opens;   /* windows opened after their cycle began (attach ran late) */
	double attach_ms_max, detach_ms_max; /* slowest attach / background detach seen */
	double factor;         /* weight of the current/last window */
	bool enabled;
};

/* budget <= 0 disables sampling (full capture, factor 1). hit_cost_ns <= 0: calibrate. */
int sampler_init(struct sampler *s, struct capture *cap, pid_t pid, double budget, double hit_cost_ns,
		 uint64_t period_ns);
/* Advance the cycle; call from the poll loop. Returns true when a window opened. */
bool sampler_tick(struct sampler *s, uint64_t now_mono);
/* Weight of the current/last window (what the stats show). */
double sampler_factor(const struct sampler *s);
/* Weight of an event whose start was stamped start_mono (a weigher for the assemblers; ctx is the
 * sampler). */
double sampler_weight(void *ctx, uint64_t start_mono);
/* Stop sampling at now: closes an open window there; the span the weights stand for ends at
 * span_end (mono; the end of the last window's cycle, pro rata for a window cut short). */
void sampler_stop(struct sampler *s, uint64_t now_mono);
/* Poll timeout that wakes the loop at the next phase change (at most max_ms). */
int sampler_timeout_ms(const struct sampler *s, uint64_t now, int max_ms);
void sampler_free(struct sampler *s);
struct record_stats;
/* The budget fields of a stats record (nothing when sampling is off). */
void sampler_fill_stats(const struct sampler *s, struct record_stats *st);
/* CPU time (ns) used so far by a process, from /proc/<pid>/stat; 0 if unreadable. */
uint64_t proc_cpu_ns(pid_t pid);

#endif
