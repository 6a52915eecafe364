/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* String interning: byte strings -> dense ids 0..n-1 (open addressing, FNV-1a). Owns copies. */
#ifndef KAPIMON_ANALYSIS_STRMAP_H
#define KAPIMON_ANALYSIS_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap {
	uint32_t *slots; /* id + 1, 0 = empty */
	size_t nslots;
	char **strs;
	size_t *lens;
	uint64_t *hashes;
	size_t n, cap;
};

void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
/* Id of s (len bytes), adding it when absent; -1 when out of memory. */
long strmap_intern(struct strmap *m, const char *s, size_t len);
/* Id of s or -1. */
long strmap_find(const struct strmap *m, const char *s, size_t len);
uint64_t strmap_hash(const void *s, size_t len);

#endif
