/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Numbers for screens and lines, without printf's cost (~1,000-2,000 instructions a conversion; top's
 * refresh formats ~50 a second): the same bytes as snprintf's, always. Pure.
 */
#ifndef KAPIMON_UTIL_NUMFMT_H
#define KAPIMON_UTIL_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

/* snprintf(buf, cap, "%.*f", decimals, v), byte for byte (the exact binary value rounded to nearest,
 * ties to even, as glibc does); returns the length snprintf would return. The common case (finite,
 * not negative, below 2^52 / 10^decimals, decimals <= 3) is done here; others go to snprintf. */
size_t fmt_fixed(char *buf, size_t cap, double v, unsigned decimals);
/* snprintf(buf, cap, "%llu", v) */
size_t fmt_u64(char *buf, size_t cap, uint64_t v);

#endif
