/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small hash functions for the open-addressing tables of the assemblers. */
#ifndef KAPIMON_HASH_H
#define KAPIMON_HASH_H

#include <stdint.h>

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
