/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small hash functions for the open-addressing tables of the assemblers. */
#ifndef KAPIMON_HASH_H
#define KAPIMON_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* MurmurHash3's 64-bit finalizer: spreads pointer-like keys over all bits. */
static inline uint64_t hash_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* SplitMix64: advance *state and return the next value of the sequence (seeding, cheap jitter). */
static inline uint64_t hash_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* n bytes, 8 at a time (not byte-at-a-time like FNV): strings whose length is known. */
static inline uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p, *end = s + n;
	uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL), w;

	for (; end - s > 8; s += 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	/* the last 1..8 bytes (the length is in the seed: overlapping reads are fine) */
	if (n >= 8) {
		memcpy(&w, end - 8, 8);
	} else if (n >= 4) {
		uint32_t lo, hi;

		memcpy(&lo, s, 4);
		memcpy(&hi, end - 4, 4);
		w = (uint64_t)hi << 32 | lo;
	} else {
		w = n ? (uint64_t)s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16 : 0;
	}
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return hash_mix64(h);
}

/* FNV-1a over a NUL-terminated string. */
static inline uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

#endif
