/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Logging macros shared by every part of kapimon (retsnoop style). */
#ifndef KAPIMON_LOG_H
#define KAPIMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <bpf/libbpf.h>

/* 0 quiet (-q), 1 info (default), 2 debug and libbpf info (-v), 3 also libbpf debug: program loads,
 * relocations, verifier logs (-v -v) */
extern int kp_verbosity;

/* One more -v: 1 -> 2 -> 3 (-q then -v gives 2). */
void kp_verbose_more(void);
/* libbpf's print callback (libbpf_set_print): warnings always, info from -v, debug from -v -v. */
int kp_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);

/* One error path for everything the user sees (bpftool's p_err). */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
