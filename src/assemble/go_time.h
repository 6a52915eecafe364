/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Go's time.Time {wall uint64; ext int64; loc *Location} as read from a Go process's memory. */
#ifndef KAPIMON_GO_TIME_H
#define KAPIMON_GO_TIME_H

#include <stdbool.h>
#include <stdint.h>

/* Wall-clock ns since the Unix epoch of a time.Time (both encodings: with a monotonic reading, the
 * seconds since 1885 are in wall's bits 33-62; without, ext holds the seconds since year 1).
 * false when the time is before 1970 or after 2554 (not a time.Now() of a running program). */
bool go_time_unix_ns(uint64_t wall, int64_t ext, uint64_t *unix_ns);

#endif
