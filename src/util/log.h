/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Logging macros shared by every part of kapimon (retsnoop style). */
#ifndef KAPIMON_LOG_H
#define KAPIMON_LOG_H

#include <stdbool.h>
#include <stdio.h>

extern int kp_verbosity; /* 0 quiet, 1 info (default), 2 debug */

/* One error path for everything the user sees (bpftool's p_err). */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
