// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/assembler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/conntrack.h"
#include "assemble/go_time.h"
#include "assemble/request_fill.h"
#include "util/hash.h"

/* A pending request: its start as kept (its strings packed: a typical request's pending uses the first
 * 3 of its cache lines). Pooled, reused last-freed-first: a request usually ends within the same read
 * pass as it started, so the few starts in flight stay in cache, wherever their keys hash; the index
 * below holds 16-byte entries only. A freed pending's path is cleared (it may carry a secret). */
struct pending {
	uint64_t probe_ns; /* when the start probe ran (budget mode's gate): an authn start's k.ts_ns is
			    * earlier, when the request arrived */
	struct req_start_kept k;
} __attribute__((aligned(64)));

struct entry {
	uint64_t conn;
	uint32_t stream_id;
	int32_t slot; /* in the pool */
};

#define POOL_CHUNK 256 /* pendings per allocation: pointers to kept starts stay valid */

struct assembler {
	struct entry *tab; /* open addressing, linear probing, backward-shift deletion */
	uint64_t *occ;     /* bit i: tab[i] is used */
	size_t cap;        /* power of two, >= 64 */
	size_t count;
	size_t ngeneric;   /* entries keyed by (conn, stream id), not by context (KP_SID_CTX) */
	size_t max_pending;
	struct pending **chunks; /* the pool: nchunks * POOL_CHUNK pendings */
	size_t nchunks;
	int32_t *free_slots; /* a stack: the last freed is reused first */
	size_t nfree;
	int64_t mono_to_wall;
	double sample_factor;
	asm_weight_fn weigh;
	void *weigh_ctx;
	asm_emit_cb cb;
	record_cb abandon_cb;
	void *cb_ctx;
	uint64_t next_id;
	struct asm_stats st;
	/* the record emit fills and hands out, one request after another (request_fill_start_reused) */
	struct request_record rec;
};

static inline struct pending *pend(const struct assembler *a, int32_t slot)
{
	return &a->chunks[(uint32_t)slot / POOL_CHUNK][(uint32_t)slot % POOL_CHUNK]; /* slot >= 0 */
}

static inline void occ_set(struct assembler *a, size_t i, bool used)
{
	if (used)
		a->occ[i / 64] |= 1ULL << (i % 64);
	else
		a->occ[i / 64] &= ~(1ULL << (i % 64));
}

static inline bool occ_get(const struct assembler *a, size_t i)
{
	return a->occ[i / 64] >> (i % 64) & 1;
}

/* The first used entry at or after i, or cap. */
static size_t next_used(const struct assembler *a, size_t i)
{
	while (i < a->cap) {
		uint64_t w = a->occ[i / 64] >> (i % 64);

		if (w)
			return i + (size_t)__builtin_ctzll(w);
		i = (i / 64 + 1) * 64;
	}
	return a->cap;
}

/* A free pool slot (the pool grows by a chunk when none is left), or -1 when out of memory. */
static int32_t slot_take(struct assembler *a)
{
	if (!a->nfree) {
		struct pending **nc = realloc(a->chunks, (a->nchunks + 1) * sizeof(*nc));
		int32_t *nf;

		if (!nc)
			return -1;
		a->chunks = nc;
		nf = realloc(a->free_slots, (a->nchunks + 1) * POOL_CHUNK * sizeof(*nf));
		if (!nf)
			return -1;
		a->free_slots = nf;
		nc[a->nchunks] = aligned_alloc(_Alignof(struct pending), POOL_CHUNK * sizeof(struct pending));
		if (!nc[a->nchunks])
			return -1;
		for (int32_t k = POOL_CHUNK - 1; k >= 0; k--)
			a->free_slots[a->nfree++] = (int32_t)(a->nchunks * POOL_CHUNK) + k;
		a->nchunks++;
	}
	return a->free_slots[--a->nfree];
}

static inline void slot_put(struct assembler *a, int32_t slot)
{
	req_start_forget(&pend(a, slot)->k);
	a->free_slots[a->nfree++] = slot;
}

static uint64_t hash_key(uint64_t conn, uint32_t sid)
{
	return hash_mix64(conn ^ ((uint64_t)sid * 0x9e3779b97f4a7c15ULL));
}

struct assembler *asm_new(size_t max_pending, int64_t mono_to_wall_ns, asm_emit_cb cb, void *ctx)
{
	struct assembler *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cap = 1024;
	a->tab = calloc(a->cap, sizeof(*a->tab));
	a->occ = calloc(a->cap / 64, sizeof(*a->occ));
	if (!a->tab || !a->occ) {
		free(a->tab);
		free(a->occ);
		free(a);
		return NULL;
	}
	a->max_pending = max_pending ? max_pending : 65536;
	a->mono_to_wall = mono_to_wall_ns;
	a->sample_factor = 1.0;
	a->cb = cb;
	a->cb_ctx = ctx;
	a->next_id = 1;
	return a;
}

void asm_free(struct assembler *a)
{
	if (!a)
		return;
	for (size_t i = next_used(a, 0); i < a->cap; i = next_used(a, i + 1))
		req_start_forget(&pend(a, a->tab[i].slot)->k);
	free(a->tab);
	free(a->occ);
	for (size_t i = 0; i < a->nchunks; i++)
		free(a->chunks[i]);
	free(a->chunks);
	free(a->free_slots);
	free(a);
}

void asm_set_abandon_cb(struct assembler *a, record_cb cb)
{
	a->abandon_cb = cb;
}

/* A pending request that will produce no record: tell the abandon callback (rare: no hot path). */
static void abandon(struct assembler *a, const struct req_start_kept *k)
{
	struct request_record r;

	if (!a->abandon_cb)
		return;
	memset(&r, 0, sizeof(r));
	request_fill_kept(&r, k, a->mono_to_wall);
	a->abandon_cb(&r, a->cb_ctx);
}

void asm_set_sample_factor(struct assembler *a, double f)
{
	a->sample_factor = f > 0 ? f : 1.0;
}

void asm_set_weigher(struct assembler *a, asm_weight_fn fn, void *ctx)
{
	a->weigh = fn;
	a->weigh_ctx = ctx;
}

/* Inlined: twice per request, a call each time was a tenth of its cost. */
static inline __attribute__((always_inline)) size_t find(const struct assembler *a, uint64_t conn, uint32_t sid,
							 bool *found)
{
	size_t mask = a->cap - 1, i = hash_key(conn, sid) & mask;

	/* the occupancy bits (cap / 8 bytes, cached) first: a new request's home entry is usually free */
	while (occ_get(a, i)) {
		if (a->tab[i].conn == conn && a->tab[i].stream_id == sid) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

/* Inlined: once per request; its next entry is usually free, and a call was half its cost. */
static inline __attribute__((always_inline)) void remove_at(struct assembler *a, size_t i)
{
	size_t mask = a->cap - 1, j = i;

	a->ngeneric -= a->tab[i].stream_id != KP_SID_CTX;
	occ_set(a, i, false);
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!occ_get(a, j))
			break;
		home = hash_key(a->tab[j].conn, a->tab[j].stream_id) & mask;
		/* j may move to the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			a->tab[i] = a->tab[j];
			occ_set(a, i, true);
			occ_set(a, j, false);
			i = j;
		}
	}
	a->count--;
}

static bool grow(struct assembler *a)
{
	size_t old_cap = a->cap;
	struct entry *old = a->tab, *n = calloc(old_cap * 2, sizeof(*n));
	uint64_t *old_occ = a->occ, *nocc = calloc(old_cap * 2 / 64, sizeof(*nocc));

	if (!n || !nocc) {
		free(n);
		free(nocc);
		return false;
	}
	a->tab = n;
	a->occ = nocc;
	a->cap = old_cap * 2;
	a->count = 0;
	for (size_t i = 0; i < old_cap; i++) {
		bool found;
		size_t j;

		if (!(old_occ[i / 64] >> (i % 64) & 1))
			continue;
		j = find(a, old[i].conn, old[i].stream_id, &found);
		a->tab[j] = old[i];
		occ_set(a, j, true);
		a->count++;
	}
	free(old);
	free(old_occ);
	return true;
}

/* The start time of an authn start: when the apiserver received the request (the timestamp its
 * outermost filter stored), on the CLOCK_MONOTONIC scale; the probe's own time when it is missing or
 * implausible (not before the probe, at most ASM_AUTHN_MAX_DELAY_NS earlier). */
#define ASM_AUTHN_MAX_DELAY_NS (60ULL * 1000000000ULL)
#define ASM_AUTHN_CLOCK_SLACK_NS (5LL * 1000000LL)
static uint64_t authn_start_mono(struct assembler *a, const struct kp_req_start *ev)
{
	uint64_t wall;
	int64_t mono;

	if (!ev->recv_found || !go_time_unix_ns(ev->recv_wall, ev->recv_ext, &wall)) {
		a->st.authn_no_recv_ts++;
		return ev->hdr.ts_ns;
	}
	mono = (int64_t)wall - a->mono_to_wall;
	if (mono > (int64_t)ev->hdr.ts_ns + ASM_AUTHN_CLOCK_SLACK_NS || mono < 0 ||
	    (uint64_t)mono + ASM_AUTHN_MAX_DELAY_NS < ev->hdr.ts_ns) {
		a->st.authn_no_recv_ts++;
		return ev->hdr.ts_ns;
	}
	/* a received time a little after the probe: the two clocks' offset was measured with an error */
	return (uint64_t)mono < ev->hdr.ts_ns ? (uint64_t)mono : ev->hdr.ts_ns;
}

int32_t asm_start(struct assembler *a, const struct kp_req_start *ev)
{
	struct pending *p;
	int32_t slot;
	bool found;
	size_t i;

	if (a->count + 1 > a->cap / 2 && !grow(a)) {
		a->st.full++;
		return -1;
	}
	i = find(a, ev->conn, ev->stream_id, &found);
	if (found) {
		a->st.replaced++;
		slot = a->tab[i].slot;
		p = pend(a, slot);
		abandon(a, &p->k);
		req_start_forget(&p->k);
	} else {
		if (a->count >= a->max_pending || (slot = slot_take(a)) < 0) {
			a->st.full++;
			return -1;
		}
		a->count++;
		a->ngeneric += ev->stream_id != KP_SID_CTX;
		occ_set(a, i, true);
		a->tab[i].conn = ev->conn;
		a->tab[i].stream_id = ev->stream_id;
		a->tab[i].slot = slot;
		p = pend(a, slot);
	}
	req_start_keep(&p->k, ev);
	p->probe_ns = ev->hdr.ts_ns;
	if (ev->authn) {
		p->k.ts_ns = authn_start_mono(a, ev);
		a->st.authn_started++;
	}
	a->st.started++;
	return slot;
}

void asm_fill_started(const struct assembler *a, int32_t h, struct request_record *r)
{
	request_fill_kept(r, &pend(a, h)->k, a->mono_to_wall);
}

/* Fill the record of pending p and hand it out (e: its end; NULL while ongoing). Inlined into both
 * callers: a call less per request. */
static inline __attribute__((always_inline)) void emit(struct assembler *a, const struct pending *p,
						      const struct kp_req_end *e, uint64_t end_mono, bool ongoing)
{
	struct request_record *r = &a->rec;

	request_fill_kept(r, &p->k, a->mono_to_wall);
	r->id = a->next_id++;
	/* the weight of the gate window the start probe ran in (the gate decided at the probe) */
	r->sample_factor = a->weigh ? a->weigh(a->weigh_ctx, p->probe_ns) : a->sample_factor;
	r->latency_ns = end_mono > p->k.ts_ns ? end_mono - p->k.ts_ns : 0;
	r->ongoing = ongoing;
	if (e)
		request_fill_end(r, e);
	a->cb(r, a->cb_ctx);
}

int32_t asm_end_take(struct assembler *a, const struct kp_req_end *ev, uint64_t *start_mono)
{
	bool found = false;
	size_t i = 0;
	int32_t slot;

	/* (conn, stream id) first; none is pending when every start came after authentication */
	if (a->ngeneric || ev->stream_id == KP_SID_CTX)
		i = find(a, ev->conn, ev->stream_id, &found);
	if (!found && ev->ctx && a->st.authn_started) /* started after authentication: keyed by its context */
		i = find(a, ev->ctx, KP_SID_CTX, &found);
	if (!found) {
		a->st.unmatched_end++;
		return -1;
	}
	slot = a->tab[i].slot;
	remove_at(a, i);
	*start_mono = pend(a, slot)->k.ts_ns;
	return slot;
}

void asm_end_emit(struct assembler *a, int32_t h, const struct kp_req_end *ev)
{
	const struct pending *p = pend(a, h);

	a->st.finished++;
	emit(a, p, ev, ev->hdr.ts_ns, false);
	slot_put(a, h);
}

bool asm_ctx_in_flight(const struct assembler *a, uint64_t ctx, uint64_t t)
{
	bool found;
	size_t i;

	if (!a->st.authn_started)
		return false;
	i = find(a, ctx, KP_SID_CTX, &found);
	return found && pend(a, a->tab[i].slot)->k.ts_ns <= t;
}

void asm_end(struct assembler *a, const struct kp_req_end *ev)
{
	uint64_t start;
	int32_t h = asm_end_take(a, ev, &start);

	if (h >= 0)
		asm_end_emit(a, h, ev);
}

void asm_flush_ongoing(struct assembler *a, uint64_t now_mono_ns)
{
	for (size_t i = next_used(a, 0); i < a->cap; i = next_used(a, i + 1)) {
		const struct pending *p = pend(a, a->tab[i].slot);

		a->st.ongoing++;
		emit(a, p, NULL, now_mono_ns, true);
		occ_set(a, i, false);
		slot_put(a, a->tab[i].slot);
	}
	a->count = 0;
	a->ngeneric = 0;
}

size_t asm_pending(const struct assembler *a)
{
	return a->count;
}

size_t asm_expire_closed(struct assembler *a, const struct conntrack *ct, uint64_t now_mono_ns, uint64_t grace_ns)
{
	size_t n = 0;

	for (size_t i = next_used(a, 0); i < a->cap; i = next_used(a, i)) {
		int32_t slot = a->tab[i].slot;
		const struct req_start_kept *k = &pend(a, slot)->k;
		char peer[KP_ADDR_MAX + 1];
		size_t len = k->addr_len;

		memcpy(peer, req_start_kept_addr(k), len);
		peer[len] = '\0';
		if (len && ct_closed_since(ct, peer, k->ts_ns, now_mono_ns, grace_ns)) {
			abandon(a, k);
			remove_at(a, i); /* an entry may have moved into i: look at i again */
			slot_put(a, slot);
			a->st.expired++;
			n++;
			continue;
		}
		i++;
	}
	return n;
}

void asm_foreach_pending(const struct assembler *a, asm_emit_cb fn, void *ctx)
{
	struct request_record r;

	if (!a->count)
		return;
	memset(&r, 0, sizeof(r)); /* zeroed once, then filled pending after pending */
	for (size_t i = next_used(a, 0); i < a->cap; i = next_used(a, i + 1)) {
		request_fill_kept(&r, &pend(a, a->tab[i].slot)->k, a->mono_to_wall);
		fn(&r, ctx);
	}
}

const struct asm_stats *asm_get_stats(const struct assembler *a)
{
	return &a->st;
}
