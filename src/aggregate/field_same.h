/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Is a record's string field the one a sink kept from the previous record? For the aggregations'
 * "same key as the previous record" checks: one pass over the record's bytes, 16 at a time (SSE2;
 * 8 at a time or bytewise elsewhere), no length computed, no copy unless the field changed.
 */
#ifndef KAPIMON_AGGREGATE_FIELD_SAME_H
#define KAPIMON_AGGREGATE_FIELD_SAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Whether the string a record holds in a field of `size` bytes (a multiple of 8, >= 16; up to its NUL,
 * or all size bytes) is the one held in prev, a field of the same size (bytes after a NUL may be
 * anything in both): 16 bytes at a time, the last chunk overlapping the one before when size is not a
 * multiple of 16. */
static inline bool field_same(const char *rec, const char *prev, size_t size)
{
#if defined(__SSE2__)
	/* the first 16 bytes apart (most fields end there): no loop state to set up */
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)rec);
	unsigned z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128()));
	unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)(const void *)prev)));

	if (z) { /* the bytes up to the record's NUL, the NUL included */
		unsigned m = z ^ (z - 1);

		return (eq & m) == m;
	}
	if (eq != 0xffff)
		return false;
	if (size <= 16)
		return true;
	for (size_t off = size < 32 ? size - 16 : 16;;) { /* the last chunk overlaps the one before */
		x = _mm_loadu_si128((const __m128i *)(const void *)(rec + off));
		z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128()));
		eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)(const void *)(prev + off))));
		if (z) {
			unsigned m = z ^ (z - 1);

			return (eq & m) == m;
		}
		if (eq != 0xffff)
			return false;
		off += 16;
		if (off >= size)
			return true;
		if (off + 16 > size)
			off = size - 16;
	}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (size_t off = 0; off < size; off += 8) {
		uint64_t x, y, z;

		memcpy(&x, rec + off, 8);
		memcpy(&y, prev + off, 8);
		z = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL; /* the lowest set bit: the first NUL */
		if (z)
			return !((x ^ y) & (z ^ (z - 1)));
		if (x != y)
			return false;
	}
	return true;
#else
	for (size_t i = 0; i < size; i++) {
		if (rec[i] != prev[i])
			return false;
		if (!rec[i])
			return true;
	}
	return true;
#endif
}

/* field_same(rec, prev, sizeof(prev)), and the record's field becomes prev's (all its bytes) when it is
 * not. prev: an array of the record field's size. */
#define SRC_SAME(prev, rec) (field_same((rec), (prev), sizeof(prev)) || (memcpy((prev), (rec), sizeof(prev)), false))

#endif
