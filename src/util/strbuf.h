/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bounded string copies for per-event paths (snprintf("%s") costs ~1,000 instructions a call). */
#ifndef KAPIMON_STRBUF_H
#define KAPIMON_STRBUF_H

#include <stddef.h>
#include <string.h>

/* Copy the C string src into dst (cap > 0 bytes), cut to cap - 1 bytes and NUL-terminated, as
 * snprintf(dst, cap, "%s", src) does. Returns the length written. */
static inline size_t str_copy(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (!cap)
		return 0;
	n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* As snprintf(dst, cap, "%.*s", (int)max, src): at most max bytes of src (which need not be
 * NUL-terminated within them). */
static inline size_t str_copyn(char *dst, size_t cap, const char *src, size_t max)
{
	size_t n;

	if (!cap)
		return 0;
	n = strnlen(src, max < cap - 1 ? max : cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* As snprintf(dst, cap, "%.*s%c%.*s", a, sep, b) with a and b bounded by amax and bmax. */
static inline size_t str_join(char *dst, size_t cap, const char *a, size_t amax, char sep, const char *b, size_t bmax)
{
	size_t n = str_copyn(dst, cap, a, amax);

	if (n + 1 < cap) {
		dst[n++] = sep;
		n += str_copyn(dst + n, cap - n, b, bmax);
	}
	return n;
}

#endif
