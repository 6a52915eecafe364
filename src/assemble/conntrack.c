// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/conntrack.h"

#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

#define PEER_MAX 64

struct ct_entry {
	bool used;
	bool open;
	uint16_t local_port;
	uint64_t closed_at;
	char peer[PEER_MAX];
};

struct conntrack {
	struct ct_entry *e;
	size_t cap; /* power of two, >= 2 x max */
	size_t count, max;
	size_t nclosed;         /* entries closed and not yet expired */
	uint64_t oldest_closed; /* no closed entry has an earlier closed_at (0: none / unknown) */
	struct ct_stats st;
};

struct conntrack *ct_new(size_t max_conns)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));
	size_t cap = 16;

	if (!ct)
		return NULL;
	ct->max = max_conns ? max_conns : 16384;
	while (cap < ct->max * 2)
		cap <<= 1;
	ct->cap = cap;
	ct->e = calloc(cap, sizeof(*ct->e));
	if (!ct->e) {
		free(ct);
		return NULL;
	}
	return ct;
}

void ct_free(struct conntrack *ct)
{
	if (!ct)
		return;
	free(ct->e);
	free(ct);
}

static size_t find(const struct conntrack *ct, const char *peer, bool *found)
{
	size_t mask = ct->cap - 1, i = hash_str(peer) & mask;

	while (ct->e[i].used) {
		if (!strcmp(ct->e[i].peer, peer)) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

static void remove_at(struct conntrack *ct, size_t i)
{
	size_t mask = ct->cap - 1, j = i;

	ct->e[i].used = false;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!ct->e[j].used)
			break;
		home = hash_str(ct->e[j].peer) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			ct->e[i] = ct->e[j];
			ct->e[j].used = false;
			i = j;
		}
	}
	ct->count--;
}

void ct_open(struct conntrack *ct, const char *peer, uint16_t local_port, uint64_t ts, bool seeded)
{
	bool found;
	size_t i;

	(void)ts;
	if (strlen(peer) >= PEER_MAX)
		return;
	i = find(ct, peer, &found);
	if (!found) {
		if (ct->count >= ct->max) {
			ct->st.full++;
			return;
		}
		ct->count++;
		ct->e[i].used = true;
		strcpy(ct->e[i].peer, peer);
	} else if (ct->e[i].open) {
		ct->st.active--; /* reopened without a close we saw */
	} else {
		ct->nclosed--; /* reopened after a close */
	}
	ct->e[i].open = true;
	ct->e[i].local_port = local_port;
	ct->e[i].closed_at = 0;
	ct->st.active++;
	if (seeded)
		ct->st.seeded++;
	else
		ct->st.opened++;
}

void ct_close(struct conntrack *ct, const char *peer, uint64_t ts)
{
	bool found;
	size_t i = find(ct, peer, &found);

	ct->st.closed++;
	if (!found || !ct->e[i].open)
		return;
	ct->e[i].open = false;
	ct->e[i].closed_at = ts ? ts : 1;
	ct->st.active--;
	if (!ct->nclosed++ || ct->e[i].closed_at < ct->oldest_closed)
		ct->oldest_closed = ct->e[i].closed_at;
}

uint16_t ct_local_port(const struct conntrack *ct, const char *peer)
{
	bool found;
	size_t i = find(ct, peer, &found);

	return found ? ct->e[i].local_port : 0;
}

bool ct_closed_since(const struct conntrack *ct, const char *peer, uint64_t since, uint64_t now, uint64_t grace_ns)
{
	bool found;
	size_t i = find(ct, peer, &found);

	if (!found || ct->e[i].open)
		return false;
	return ct->e[i].closed_at > since && ct->e[i].closed_at + grace_ns <= now;
}

void ct_expire(struct conntrack *ct, uint64_t now, uint64_t grace_ns)
{
	uint64_t oldest = 0;

	/* a scan of the whole table (MBs) only when some closed entry is due */
	if (!ct->nclosed || ct->oldest_closed + grace_ns >= now)
		return;
	for (size_t i = 0; i < ct->cap;) {
		struct ct_entry *e = &ct->e[i];

		if (e->used && !e->open && e->closed_at + grace_ns < now) {
			remove_at(ct, i); /* an entry may have moved into i: look at i again */
			ct->nclosed--;
			continue;
		}
		if (e->used && !e->open && (!oldest || e->closed_at < oldest))
			oldest = e->closed_at;
		i++;
	}
	ct->oldest_closed = oldest;
}

const struct ct_stats *ct_get_stats(const struct conntrack *ct)
{
	return &ct->st;
}
