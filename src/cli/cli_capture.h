/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Pieces every live-capture subcommand (record, top) shares: finding the kube-apiserver, clocks,
 * SIGINT/SIGTERM handling, probe names and the uprobe-hits-per-request figure.
 */
#ifndef KAPIMON_CLI_CAPTURE_H
#define KAPIMON_CLI_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "assemble/assembler.h"
#include "assemble/kp_contract.h"
#include "capture/capture.h"

/* Set by the SIGINT/SIGTERM handler of cli_signals_install(). */
extern volatile sig_atomic_t cli_exiting;

/* *pid > 0 is kept; otherwise the only running kube-apiserver is taken. Returns 0, or 1 after
 * explaining with p_err (none, or several running). */
int cli_find_apiserver(long *pid);
/* SIGINT/SIGTERM set cli_exiting; with second_forces_exit a second one _exit(130)s at once (the
 * kernel detaches our probes with our fds). */
void cli_signals_install(bool second_forces_exit);
uint64_t cli_now_ns(clockid_t id);
/* Add to a CLOCK_MONOTONIC time to get ns since the epoch. */
int64_t cli_mono_to_wall(void);
/* Request-path probe hits per request the assembler saw (finished + unmatched ends); 0 when none. */
double cli_hits_per_request(const struct capture_stats *cs, const struct asm_stats *as);

#endif
