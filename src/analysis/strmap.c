// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "analysis/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const void *s, size_t len)
{
	const unsigned char *p = s;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	return h;
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->strs[i]);
	free(m->strs);
	free(m->lens);
	free(m->hashes);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static long lookup(const struct strmap *m, const char *s, size_t len, uint64_t h, size_t *slot)
{
	size_t mask = m->nslots - 1, i = h & mask;

	for (;;) {
		uint32_t v = m->slots[i];

		if (!v) {
			*slot = i;
			return -1;
		}
		v--;
		if (m->hashes[v] == h && m->lens[v] == len && !memcmp(m->strs[v], s, len))
			return v;
		i = (i + 1) & mask;
	}
}

static int grow(struct strmap *m)
{
	size_t ns = m->nslots ? m->nslots * 2 : 64;
	uint32_t *slots = calloc(ns, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t k = 0; k < m->n; k++) {
		size_t i = m->hashes[k] & (ns - 1);

		while (slots[i])
			i = (i + 1) & (ns - 1);
		slots[i] = (uint32_t)k + 1;
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = ns;
	return 0;
}

long strmap_find(const struct strmap *m, const char *s, size_t len)
{
	size_t slot;

	if (!m->nslots)
		return -1;
	return lookup(m, s, len, strmap_hash(s, len), &slot);
}

long strmap_intern(struct strmap *m, const char *s, size_t len)
{
	uint64_t h = strmap_hash(s, len);
	size_t slot;
	long id;

	if ((m->n + 1) * 2 > m->nslots && grow(m))
		return -1;
	id = lookup(m, s, len, h, &slot);
	if (id >= 0)
		return id;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		char **strs = realloc(m->strs, nc * sizeof(*strs));
		size_t *lens;
		uint64_t *hs;

		if (!strs)
			return -1;
		m->strs = strs;
		lens = realloc(m->lens, nc * sizeof(*lens));
		if (!lens)
			return -1;
		m->lens = lens;
		hs = realloc(m->hashes, nc * sizeof(*hs));
		if (!hs)
			return -1;
		m->hashes = hs;
		m->cap = nc;
	}
	char *c = malloc(len + 1);

	if (!c)
		return -1;
	memcpy(c, s, len);
	c[len] = '\0';
	m->strs[m->n] = c;
	m->lens[m->n] = len;
	m->hashes[m->n] = h;
	m->slots[slot] = (uint32_t)m->n + 1;
	return (long)m->n++;
}
