/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Timestamps: RFC 3339 / ISO 8601 ("2026-11-21T15:04:05.123456789Z", "+02:00" offsets, a space instead
 * of 'T', date only) and Unix epoch numbers (seconds; ms/us/ns recognised by magnitude). */
#ifndef KAPIMON_INPUT_TIMEPARSE_H
#define KAPIMON_INPUT_TIMEPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse s[0..len) into ns since the Unix epoch (UTC). */
bool time_parse_rfc3339(const char *s, size_t len, int64_t *ns);
/* RFC 3339 first, then a plain number (epoch). */
bool time_parse_any(const char *s, size_t len, int64_t *ns);
/* Format ns since the epoch as RFC 3339 UTC with the given number of fractional digits (0..9). */
void time_format_rfc3339(int64_t ns, int frac_digits, char *buf, size_t cap);

#endif
