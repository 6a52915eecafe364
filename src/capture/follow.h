/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Follow the apiservers: discovered and retired by polling /proc.
 *
 *   pid > 0     exactly that process (the old --pid behaviour: its uprobes filter on its pid;
 *               follow_target_gone() tells the caller when it exited)
 *   pid == 0    every process whose executable is named exe_name (default kube-apiserver, matched as
 *               doctor_exe_matches does), also in other mount and PID namespaces (the binary is read
 *               and probed through /proc/PID/exe). One capture per binary file, its uprobes on the file
 *               for every process that runs it: a restart or a second process of the same binary is
 *               captured from its first instruction and only needs to be noticed (follow_check, 4 times a
 *               second). A new binary is planned and loaded on a worker thread (0.5-3 s here) while the
 *               caller keeps polling. Finding none is not an error: kapimon waits.
 *
 * Every ring buffer of every capture is polled through one epoll set. When a process exits, what it left
 * in the rings is delivered and on_gone is called; a capture no followed process uses any more is kept
 * for a restart (10 min), then closed on a background thread (detaching waits for RCU grace periods).
 */
#ifndef KAPIMON_FOLLOW_H
#define KAPIMON_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "assemble/stats.h"
#include "capture/capture.h"

struct follow;

struct follow_opts {
	pid_t pid;            /* > 0: only this process */
	const char *exe_name; /* pid == 0: executables to follow (NULL: "kube-apiserver") */
	struct capture_opts co; /* per capture (its pid is set per process) */
	/* an apiserver exited: its events are all delivered (called before its capture is closed) */
	void (*on_gone)(void *ctx, pid_t pid);
	void *ctx;
};

#define FOLLOW_MAX 16

/* With pid > 0: attaches or fails (negative errno, explained with p_err). With pid == 0: attaches to
 * every one running now (failures are warnings) and returns 0 even when none runs. */
int follow_open(struct follow **out, const struct follow_opts *o);
/* From now on, print "kapimon: attached: <description><note>" on stderr for every attach (first for
 * those attached already) and a line for every exit. note may be NULL. */
void follow_announce(struct follow *f, const char *note);
/* Wait up to timeout_ms for events on any capture and consume them; returns events or negative errno. */
int follow_poll(struct follow *f, int timeout_ms);
int follow_drain(struct follow *f);
/* Notice exits, attach to new processes (pid == 0). now: CLOCK_MONOTONIC ns; does the /proc scan at most
 * every 250 ms; adopts what the attach worker finished at once. Returns attaches plus exits seen. */
int follow_check(struct follow *f, uint64_t now_mono);
/* pid > 0 mode: that process exited. */
bool follow_target_gone(const struct follow *f);
bool follow_following(const struct follow *f);

size_t follow_count(const struct follow *f);
struct capture *follow_capture(const struct follow *f, size_t i);
pid_t follow_pid(const struct follow *f, size_t i);
/* BPF counters summed over every capture, those already closed included. */
void follow_read_stats(struct follow *f, struct capture_stats *st);
/* "pid N go1.19.8: 9 uprobes (...)", "2 apiservers: pid A ...; pid B ...", or "no kube-apiserver
 * attached (waiting)". Valid until the next follow call. */
const char *follow_describe(struct follow *f);
/* The "apiservers" part of the stats record. */
void follow_fill_stats(const struct follow *f, struct record_stats *s);
uint64_t follow_attaches(const struct follow *f);
uint64_t follow_exits(const struct follow *f);
void follow_close(struct follow *f);

#endif
