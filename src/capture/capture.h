/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Live capture from one Go HTTP server process (the kube-apiserver): resolves probe targets in its
 * binary, loads the BPF programs with the right struct offsets, attaches uprobes (entry and RET
 * sites, never uretprobes), and delivers ring-buffer events to callbacks.
 */
#ifndef KAPIMON_CAPTURE_H
#define KAPIMON_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kapimon/events.h"

struct capture;

struct capture_opts {
	pid_t pid;
	bool no_h1;
	bool no_h2;
	bool no_etcd;
	void (*on_req_start)(const struct kp_req_start *ev, void *ctx);
	void (*on_req_end)(const struct kp_req_end *ev, void *ctx);
	void (*on_grpc_start)(const struct kp_grpc_start *ev, void *ctx);
	void (*on_grpc_end)(const struct kp_grpc_end *ev, void *ctx);
	void (*on_watch_resp)(const struct kp_watch_resp *ev, void *ctx);
	/* connection established/closed; seeded: found in /proc at attach (opened before kapimon) */
	void (*on_conn)(const struct kp_conn_event *ev, bool seeded, void *ctx);
	/* optional: every ring-buffer event as consumed, before the callbacks above (raw dumps) */
	void (*on_raw)(const void *data, size_t size, void *ctx);
	void *ctx;
};

struct capture_stats {
	uint64_t hits[KP_PROBE__COUNT];
	uint64_t counters[KP_CNT__COUNT];
	uint64_t events;      /* events consumed by userspace */
	uint64_t bad_events;  /* events of unexpected size/type */
};

enum capture_phase {
	CAPTURE_NONE = 0, /* nothing attached */
	CAPTURE_ENDS = 1, /* only the probes that end requests/calls (draining before a pause) */
	CAPTURE_ALL = 2,
};

/* Resolve, load and attach. Returns 0 or a negative errno; errors are explained with p_err. */
int capture_open(struct capture **out, const struct capture_opts *o);
/* Poll the ring buffers; returns events consumed or negative errno (-EINTR is not an error). */
int capture_poll(struct capture *c, int timeout_ms);
/* Consume whatever is buffered without waiting. */
int capture_drain(struct capture *c);
void capture_read_stats(struct capture *c, struct capture_stats *st);
/* Number of attached uprobe links and a one-line description for the "attached" message. */
int capture_nlinks(const struct capture *c);
const char *capture_describe(const struct capture *c);
/* Attach or detach probe sets (budget mode's duty cycle). Blocking for attach; detach is handed
 * to background threads (each uprobe unregistration waits ~100 ms for an RCU grace period). */
int capture_set_phase(struct capture *c, enum capture_phase ph);
enum capture_phase capture_get_phase(const struct capture *c);
/* Budget gate (bpf/kp_common.h): request starts, etcd call starts and watch responses are written
 * only while open_ns <= bpf_ktime_get_ns() < close_ns. Default [0, UINT64_MAX): everything. */
void capture_set_gate(struct capture *c, uint64_t open_ns, uint64_t close_ns);
/* Budget mode: have the kernel account the BPF programs' run time (BPF_ENABLE_STATS, held until
 * capture_close; host-wide while held: every BPF program on the host then reads the clock twice
 * per run). Negative errno when not permitted. */
int capture_enable_runtime_stats(struct capture *c);
/* Run time (ns) of kapimon's uprobe programs so far (0 without runtime stats). */
uint64_t capture_uprobe_runtime_ns(struct capture *c);
/* CLOCK_MONOTONIC ns at which the background detaches finished (0 while some are running). */
uint64_t capture_detach_done_ns(struct capture *c);
/* Measure the cost of one uprobe hit on this machine (ns), with an empty probe on kapimon itself:
 * thread CPU time after a warm-up, median of several rounds. */
int capture_calibrate(struct capture *c, double *hit_ns);
void capture_close(struct capture *c);

#endif
