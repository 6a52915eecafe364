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
	bool no_conns; /* no TCP state tracepoint (no local ports, no connection counts) */
	/* attach the uprobes to the binary for every process that runs it (pid is the one it was found
	 * in: its binary is read and planned, its ports tracked): a restart is captured from its first
	 * instruction; without it, only pid is probed */
	bool any_process;
	/* bytes of each request and etcd ring buffer (a power of two >= 1 MiB), 0: the BPF objects' 8 MiB.
	 * A ring counts twice in RSS (the reader maps its data twice, for wrap-around reads). */
	uint32_t ring_bytes;
	/* every ring-buffer event, unchecked (src/pipeline checks type and size); connections found in
	 * /proc at attach arrive as KP_EV_CONN events with established = KP_CONN_SEEDED */
	void (*on_event)(void *ctx, const void *data, size_t size);
	void *ctx;
};

struct capture_stats {
	uint64_t hits[KP_PROBE__COUNT];
	uint64_t counters[KP_CNT__COUNT];
	uint64_t events;      /* events consumed by userspace */
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
/* An epoll fd that is readable when a ring buffer has data (to wait on several captures at once). */
int capture_epoll_fd(const struct capture *c);
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
/* The probe plan this capture executes (src/plan/plan.h). */
struct plan;
const struct plan *capture_plan(const struct capture *c);
pid_t capture_pid(const struct capture *c);
/* pid runs the very binary this capture was planned for (same file: device, inode, size, mtime). */
bool capture_same_binary(const struct capture *c, pid_t pid);
/* any_process captures: pid (running the same binary: a restart, or a second apiserver) is probed
 * already; track its listening ports and connections from now on (read at the next
 * capture_conn_refresh) and describe it. -ESTALE when pid runs another binary. */
int capture_track_pid(struct capture *c, pid_t pid);
/* The description without its leading "pid N ". */
const char *capture_describe_probes(const struct capture *c);
/* Look for the process's listening ports (and seed its connections) when none was found yet (attached
 * before it listened) or after capture_track_pid. Reads /proc/PID/net/tcp: ~100 ms with a thousand
 * sockets. */
void capture_conn_refresh(struct capture *c);
/* Where events go from now on (a capture opened on another thread hands over to the polling one). */
void capture_set_event_cb(struct capture *c, void (*on_event)(void *ctx, const void *data, size_t size), void *ctx);

#endif
