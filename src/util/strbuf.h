/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bounded string copies for per-event paths (snprintf("%s") costs ~1,000 instructions a call). */
#ifndef KAPIMON_STRBUF_H
#define KAPIMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* memcpy(dst, src, n) for short strings of distinct buffers, inline: 16 bytes at a time, the last 1..16
 * by overlapping moves; reads and writes [0, n) only. (A variable-size memcpy is a library call or, for
 * a bounded size, an inline rep movs: dozens of instructions for a 20-byte string.) */
static inline void mem_copy_short(char *dst, const char *src, size_t n)
{
	if (n >= 16) {
		for (size_t i = 0; i + 16 < n; i += 16)
			memcpy(dst + i, src + i, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		uint64_t x, y;

		memcpy(&x, src, 8);
		memcpy(&y, src + n - 8, 8);
		memcpy(dst, &x, 8);
		memcpy(dst + n - 8, &y, 8);
	} else if (n >= 4) {
		uint32_t x, y;

		memcpy(&x, src, 4);
		memcpy(&y, src + n - 4, 4);
		memcpy(dst, &x, 4);
		memcpy(dst + n - 4, &y, 4);
	} else if (n) {
		char x = src[0], y = src[n / 2], z = src[n - 1];

		dst[0] = x;
		dst[n / 2] = y;
		dst[n - 1] = z;
	}
}

/* memset(dst, 0, n), inline up to 64 bytes (overlapping 16-byte stores; a library call beyond). */
static inline void mem_clear_short(char *dst, size_t n)
{
	static const char zero[16];

	if (n > 64) {
		memset(dst, 0, n);
	} else if (n >= 16) {
		memcpy(dst, zero, 16);
		memcpy(dst + n - 16, zero, 16);
		if (n > 32) {
			memcpy(dst + 16, zero, 16);
			memcpy(dst + n - 32, zero, 16);
		}
	} else {
		mem_copy_short(dst, zero, n);
	}
}

/* memcmp(a, b, n) == 0 for short keys, inline: 8 bytes at a time, the last 1..8 by overlapping
 * reads (both hold n bytes); no library call on per-event paths. */
static inline bool mem_eq_short(const char *a, const char *b, size_t n)
{
	uint64_t x, y;

#if defined(__SSE2__)
	if (n >= 16) { /* 16 bytes at a time, the last 16 overlapping */
		__m128i d = _mm_setzero_si128();

		for (size_t i = 0; i + 16 < n; i += 16)
			d = _mm_or_si128(d, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(a + i)),
							  _mm_loadu_si128((const __m128i *)(const void *)(b + i))));
		d = _mm_or_si128(d, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(a + n - 16)),
						  _mm_loadu_si128((const __m128i *)(const void *)(b + n - 16))));
		return _mm_movemask_epi8(_mm_cmpeq_epi8(d, _mm_setzero_si128())) == 0xffff;
	}
#endif
	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y)
				return false;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return x == y;
	}
	if (n >= 4) {
		uint32_t p, q, r, t;

		memcpy(&p, a, 4);
		memcpy(&q, b, 4);
		memcpy(&r, a + n - 4, 4);
		memcpy(&t, b + n - 4, 4);
		return p == q && r == t;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

#endif
