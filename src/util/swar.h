/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Word-at-a-time byte tests (8 bytes per step) for the scans of per-event paths: "does this word
 * hold a byte below n / equal to b?". Exact on existence: a nonzero result means some byte matched.
 */
#ifndef KAPIMON_SWAR_H
#define KAPIMON_SWAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

/* high bit set in each byte of x that is below n (n <= 128), 0 when none */
static inline uint64_t swar_less(uint64_t x, unsigned n)
{
	return (x - n * SWAR_ONES) & ~x & SWAR_HIGHS;
}

/* nonzero when some byte of x equals b */
static inline uint64_t swar_eq(uint64_t x, unsigned char b)
{
	uint64_t v = x ^ (b * SWAR_ONES);

	return (v - SWAR_ONES) & ~v & SWAR_HIGHS;
}

/* nonzero when some byte of x is >= 0x80 */
static inline uint64_t swar_high(uint64_t x)
{
	return x & SWAR_HIGHS;
}

/* 8 bytes at p (any alignment) */
static inline uint64_t swar_load(const void *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return x;
}

/* Up to 7 bytes at p, padded with `pad` bytes (pick one the test does not match). */
static inline uint64_t swar_load_tail(const void *p, size_t n, unsigned char pad)
{
	uint64_t x = pad * SWAR_ONES;

	memcpy(&x, p, n < 8 ? n : 8);
	return x;
}

#endif
