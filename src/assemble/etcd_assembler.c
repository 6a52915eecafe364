// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/etcd_assembler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "assemble/record_json.h"
#include "etcd/etcd_key.h"
#include "util/hash.h"
#include "util/strbuf.h"

#define PENDING_CAP 4096  /* unary calls in flight (by goroutine) */
#define HOLD_CAP 8192     /* finished calls waiting for their request (power of two) */
#define POOL_CAP (PENDING_CAP + HOLD_CAP) /* call records: in flight or held */
#define RECENT_CAP 8192   /* finished requests remembered for linking (power of two) */
#define STREAM_CAP 4096   /* client streams tracked */
#define TAKEN_MAX 64      /* calls one request's cost walk remembers for its delivery */
#define CHAIN KP_CTX_CHAIN_MAX
_Static_assert(CHAIN < 32, "call_info.indexed: a bit per chain entry");
#define NBUCKETS (HOLD_CAP * 4)
/* remembered contexts above requests' (the server's, connections'): sets of two, by a multiplicative hash
 * (Go's contexts are 16-byte aligned and allocated close together: the address bits alone collide) */
#define ANCESTOR_SETS 256
#define ANCESTOR_SET_BITS 8
_Static_assert(ANCESTOR_SETS == 1 << ANCESTOR_SET_BITS, "ANCESTOR_SETS: a power of two");
_Static_assert(NBUCKETS <= 65536 && NBUCKETS % (RECENT_CAP * 2) == 0, "hb[] holds a bucket index; the recent index is its low bits");
/* node k * NODE_STRIDE + slot is chain[k] of calls[slot]: the calls in use are the low slots (freed slots
 * are reused first), so their nodes for one chain position, the one that is indexed, share cache lines.
 * A power of two: no division (the nodes of slots >= POOL_CAP are never used, nor their pages touched). */
#define NODE_STRIDE_BITS 14
#define NODE_STRIDE (1 << NODE_STRIDE_BITS)
_Static_assert(POOL_CAP <= NODE_STRIDE && (size_t)NODE_STRIDE * CHAIN <= INT32_MAX, "a node holds a slot and k");
#define NODE(slot, k) ((int32_t)((k) << NODE_STRIDE_BITS | (slot)))
#define NODE_SLOT(node) ((int32_t)((node) & (NODE_STRIDE - 1)))
#define NODE_K(node) ((int)((node) >> NODE_STRIDE_BITS))

/* What a call keeps between its start and its end, and while it waits for its request: the decoded
 * fields (a record) and the context chain. Never the request message's bytes. A call keeps its slot in
 * the pool from start to delivery (held calls are not copied); free slots are reused last-in first-out,
 * so the records in use stay few and cached however large the bounds are. */
struct call_info {
	uint64_t unused; /* places chain[15] at a line's start */
	uint64_t chain[CHAIN];
	/* with the chain's outer entries (where a request's context is: 15 levels above a call's in the
	 * apiserver, the index's chain[15]), in one line: what the end's walk, the join's matching, the
	 * request's cost and the delivery read of a call, but its record */
	uint64_t start_mono;
	uint64_t held_seq; /* its entry in the held ring while held, 0 otherwise */
	uint32_t indexed;  /* while held: bit k set when chain[k] is in the index */
	uint8_t nctx;
	struct etcd_record rec __attribute__((aligned(64))); /* its fixed fields in one line */
} __attribute__((aligned(64))); /* whole cache lines: a call's first lines are its own */
_Static_assert(offsetof(struct call_info, chain[15]) % 64 == 0 &&
		       offsetof(struct call_info, nctx) / 64 == offsetof(struct call_info, chain[15]) / 64,
	       "a call's times and index bits share a line with its chain's outer entries");

struct pending_call {
	uint64_t g;   /* 0 = free */
	int32_t slot; /* in calls[] */
};

/* The held calls in the order they ended: the ring holds references only (16 B an entry). */
struct held_call {
	uint64_t seq; /* 0 = delivered */
	int32_t slot; /* in calls[] */
};

struct recent_req {
	uint64_t ctx; /* 0 = free */
	uint64_t start, end, id;
};

struct etcd_assembler {
	int64_t mono_to_wall;
	uint32_t apiserver_pid; /* stamped on every record */
	uint64_t hold_ns;
	double sample_factor;
	double (*weigh)(void *ctx, uint64_t start_mono_ns);
	void *weigh_ctx;
	etcd_record_cb cb;
	void *cb_ctx;
	etcd_request_ctx_fn request_ctx;
	void *request_ctx_ctx;

	struct pending_call *pending; /* open addressing by g, linear probing */
	size_t npending;
	struct call_info *calls;      /* POOL_CAP calls in flight or held (pages touched only when used) */
	void *calls_mem;              /* calls' allocation (calls is its first 64-byte boundary) */
	int32_t *free_calls;          /* stack of freed slots in calls[] */
	size_t nfree;
	size_t nfresh;                /* slots [nfresh, POOL_CAP) were never used: taken after the freed ones */

	/* held calls: a FIFO ring; chain pointers indexed in a chained hash of nodes */
	struct held_call *held;
	uint64_t head_seq, tail_seq; /* seqs [tail, head) are in the ring (some may be emitted) */
	int32_t *bucket;             /* NBUCKETS heads: first node + 1, 0 = empty (zeroed memory is empty) */
	int32_t *node_next;          /* NODE_STRIDE * CHAIN, by NODE(slot, k) */
	int32_t *node_prev;          /* the node before, or -1 - bucket for a chain's first node: unlinking is
	                              * O(1) (the root contexts every call shares have chains as long as the
	                              * held calls are many) */
	/* the held calls the last etcd_asm_request_cost found, for etcd_asm_request_done */
	uint64_t taken_ctx, taken_start, taken_end;
	int32_t taken[TAKEN_MAX];
	uint64_t taken_seq[TAKEN_MAX];
	size_t ntaken;
	bool taken_valid;

	struct recent_req *recent; /* ring of finished requests, indexed by a small hash */
	uint64_t recent_seq;
	uint64_t recent_tail;   /* oldest seq that may still be remembered (expiry scans from here) */
	int32_t *recent_bucket; /* RECENT_CAP * 2 heads into recent[] (in bucket's allocation), chained by
	                         * recent_next: entry + 1, 0 = none */
	int32_t *recent_next;
	/* one bit per head of bucket / recent_bucket, clear only when the head is empty (set on insert, cleared
	 * when a lookup finds the head empty): most lookups miss (a call usually ends before its request), and
	 * the bits (6 KB) stay cached where the heads (192 KB) cost a cache miss per lookup. The heads are
	 * one zeroed allocation, large enough for fresh pages: no setting up (~200,000 instructions a lane),
	 * pages touched as used; an index + 1 costs an instruction where it is read or written */
	uint64_t *bucket_bits, *recent_bits;

	uint64_t ancestors[ANCESTOR_SETS][2]; /* contexts seen above a request's in a chain (ancestor_set) */

	uint64_t *streams; /* open addressing set of stream pointers (allocated at the first stream) */

	struct etcd_watch_res watch_res[ETCD_WATCH_RES_MAX];
	size_t nwatch_res;

	struct etcd_asm_stats st;
};

struct etcd_assembler *etcd_asm_new(int64_t mono_to_wall_ns, uint64_t hold_ns, etcd_record_cb cb, void *ctx)
{
	struct etcd_assembler *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->mono_to_wall = mono_to_wall_ns;
	a->hold_ns = hold_ns ? hold_ns : 2000000000ULL;
	a->sample_factor = 1.0;
	a->cb = cb;
	a->cb_ctx = ctx;
	a->head_seq = a->tail_seq = 1;
	a->pending = calloc(PENDING_CAP * 2, sizeof(*a->pending));
	a->calls_mem = calloc(1, POOL_CAP * sizeof(*a->calls) + 63);
	a->calls = a->calls_mem ? (void *)(((uintptr_t)a->calls_mem + 63) & ~(uintptr_t)63) : NULL;
	a->free_calls = malloc(POOL_CAP * sizeof(*a->free_calls));
	a->held = calloc(HOLD_CAP, sizeof(*a->held));
	a->bucket = calloc(NBUCKETS + RECENT_CAP * 2, sizeof(*a->bucket));
	a->node_next = malloc((size_t)NODE_STRIDE * CHAIN * sizeof(*a->node_next));
	a->node_prev = malloc((size_t)NODE_STRIDE * CHAIN * sizeof(*a->node_prev));
	a->recent = calloc(RECENT_CAP, sizeof(*a->recent));
	a->recent_bucket = a->bucket ? a->bucket + NBUCKETS : NULL;
	a->recent_next = malloc(RECENT_CAP * sizeof(*a->recent_next));
	a->bucket_bits = calloc(NBUCKETS / 64, sizeof(*a->bucket_bits));
	a->recent_bits = calloc(RECENT_CAP * 2 / 64, sizeof(*a->recent_bits));
	if (!a->pending || !a->calls || !a->free_calls || !a->held || !a->bucket || !a->node_next || !a->node_prev || !a->recent || !a->recent_bucket ||
	    !a->recent_next || !a->bucket_bits || !a->recent_bits) {
		etcd_asm_free(a);
		return NULL;
	}
	return a;
}

void etcd_asm_free(struct etcd_assembler *a)
{
	if (!a)
		return;
	free(a->pending);
	free(a->calls_mem);
	free(a->free_calls);
	free(a->held);
	free(a->bucket);
	free(a->node_next);
	free(a->node_prev);
	free(a->recent);
	free(a->recent_next);
	free(a->streams);
	free(a->bucket_bits);
	free(a->recent_bits);
	free(a);
}

void etcd_asm_set_weigher(struct etcd_assembler *a, double (*fn)(void *ctx, uint64_t start_mono_ns), void *ctx)
{
	a->weigh = fn;
	a->weigh_ctx = ctx;
}

void etcd_asm_set_request_ctx_fn(struct etcd_assembler *a, etcd_request_ctx_fn fn, void *ctx)
{
	a->request_ctx = fn;
	a->request_ctx_ctx = ctx;
}

void etcd_asm_set_apiserver_pid(struct etcd_assembler *a, uint32_t pid)
{
	a->apiserver_pid = pid;
}

void etcd_asm_set_sample_factor(struct etcd_assembler *a, double f)
{
	a->sample_factor = f > 0 ? f : 1.0;
}

const struct etcd_asm_stats *etcd_asm_get_stats(const struct etcd_assembler *a)
{
	return &a->st;
}

/* ---- pending unary calls, by goroutine ---- */

static struct pending_call *pending_find(struct etcd_assembler *a, uint64_t g, bool *found)
{
	size_t mask = PENDING_CAP * 2 - 1, i = hash_mix64(g) & mask;

	while (a->pending[i].g) {
		if (a->pending[i].g == g) {
			*found = true;
			return &a->pending[i];
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return &a->pending[i];
}

/* Remove p from the table; its call slot stays in use (held) or is freed. */
static void pending_remove(struct etcd_assembler *a, struct pending_call *p, bool free_slot)
{
	size_t mask = PENDING_CAP * 2 - 1, i = (size_t)(p - a->pending), j = i;

	if (free_slot)
		a->free_calls[a->nfree++] = p->slot;
	p->g = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!a->pending[j].g)
			break;
		home = hash_mix64(a->pending[j].g) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			a->pending[i] = a->pending[j];
			a->pending[j].g = 0;
			i = j;
		}
	}
	a->npending--;
}

/* ---- streams ---- */

static bool stream_seen(struct etcd_assembler *a, uint64_t s)
{
	size_t mask = STREAM_CAP * 2 - 1, i = hash_mix64(s) & mask, n = 0;

	/* 64 KB that most runs (top, record of a unary workload) never need */
	if (!a->streams && !(a->streams = calloc(STREAM_CAP * 2, sizeof(*a->streams)))) {
		a->st.streams_opened++; /* no memory to tell streams apart: each message counts as one */
		return false;
	}
	while (a->streams[i]) {
		if (a->streams[i] == s)
			return true;
		i = (i + 1) & mask;
		if (++n > STREAM_CAP)
			return true; /* full: stop counting new streams rather than loop */
	}
	if (a->st.streams_opened < STREAM_CAP)
		a->streams[i] = s;
	a->st.streams_opened++;
	return false;
}

/* Decode a start event's message (the value-free prefix the probe copied) into rec. */
static void decode_into(struct etcd_assembler *a, const struct kp_grpc_start *ev, const struct etcd_method *m,
			struct etcd_record *rec)
{
	size_t mlen = ev->method_len < KP_GRPC_METHOD_MAX ? ev->method_len : KP_GRPC_METHOD_MAX;
	size_t plen = ev->payload_copied < KP_GRPC_PAYLOAD_MAX ? ev->payload_copied : KP_GRPC_PAYLOAD_MAX;
	bool cut = (ev->truncated & KP_TRUNC_GRPC_PAYLOAD) || plen < ev->payload_len;
	enum etcd_op op;

	etcd_record_init_fast(rec);
	rec->apiserver_pid = a->apiserver_pid;
	if (ev->truncated & KP_TRUNC_GRPC_AT_VALUE)
		a->st.stopped_at_value++;
	if (ev->truncated & KP_TRUNC_GRPC_GAVE_UP)
		a->st.copy_gave_up++;
	etcd_decode_to_record(m, ev->method, mlen, ev->payload, plen, cut, rec, &op, &a->st.decode);
	rec->start_ns = (uint64_t)((int64_t)ev->hdr.ts_ns + a->mono_to_wall);
	rec->req_size = ev->payload_len;
	if (ev->truncated & KP_TRUNC_GRPC_METHOD)
		rec->truncated |= REC_TRUNC_METHOD;
	rec->sample_factor = a->weigh ? a->weigh(a->weigh_ctx, ev->hdr.ts_ns) : a->sample_factor;
	if (op == ETCD_OP_WATCH)
		a->st.watches_created++;
}

void etcd_asm_start(struct etcd_assembler *a, const struct kp_grpc_start *ev)
{
	size_t mlen = ev->method_len < KP_GRPC_METHOD_MAX ? ev->method_len : KP_GRPC_METHOD_MAX;
	const struct etcd_method *m = etcd_method_find(ev->method, mlen);
	struct pending_call *p;
	struct call_info *c;
	bool found;

	if (m && m->stream) {
		struct etcd_record rec;

		stream_seen(a, ev->stream);
		a->st.stream_messages++;
		etcd_record_init(&rec); /* on the stack: no stale bytes behind the keys' NULs */
		decode_into(a, ev, m, &rec);
		rec.stream = true;
		rec.latency_ns = 0;
		a->cb(&rec, a->cb_ctx);
		return;
	}
	p = pending_find(a, ev->hdr.goid_g, &found);
	if (found) {
		a->st.retried++;
	} else {
		if (a->npending >= PENDING_CAP || (!a->nfree && a->nfresh == POOL_CAP)) {
			a->st.pending_full++;
			return;
		}
		a->npending++;
		p->g = ev->hdr.goid_g;
		/* the last freed slot (cached), else one never used */
		p->slot = a->nfree ? a->free_calls[--a->nfree] : (int32_t)a->nfresh++;
	}
	c = &a->calls[p->slot];
	c->start_mono = ev->hdr.ts_ns;
	c->nctx = ev->nctx < CHAIN ? ev->nctx : CHAIN;
	/* the whole array, a fixed-size copy: entries from nctx on are never read */
	_Static_assert(sizeof(c->chain) == sizeof(ev->ctx_chain), "call_info.chain holds an event's chain");
	memcpy(c->chain, ev->ctx_chain, sizeof(c->chain));
	decode_into(a, ev, m, &c->rec);
}

/* ---- held calls and their chain index ---- */

static inline size_t bucket_of_hash(uint64_t h)
{
	return h & (NBUCKETS - 1);
}

static size_t bucket_of(uint64_t ptr)
{
	return bucket_of_hash(hash_mix64(ptr));
}

static inline void bit_set(uint64_t *bits, size_t i)
{
	bits[i / 64] |= 1ULL << (i % 64);
}

/* The first entry of chain b, -1 when empty; a bit found set over an empty head is cleared. */
static inline int32_t head_of(const int32_t *heads, uint64_t *bits, size_t b)
{
	if (!(bits[b / 64] & 1ULL << (b % 64)))
		return -1;
	if (!heads[b])
		bits[b / 64] &= ~(1ULL << (b % 64));
	return heads[b] - 1;
}

/* Take calls[slot]'s chain out of the index. */
static void held_unindex(struct etcd_assembler *a, int32_t slot)
{
	const struct call_info *c = &a->calls[slot];

	for (uint32_t m = c->indexed; m; m &= m - 1) {
		int k = __builtin_ctz(m);
		int32_t node = NODE(slot, k), next = a->node_next[node], prev = a->node_prev[node];

		if (prev >= 0)
			a->node_next[prev] = next;
		else
			a->bucket[-1 - prev] = next + 1;
		if (next >= 0)
			a->node_prev[next] = prev;
	}
}

/* Deliver the held call in ring entry ri (if not delivered yet) and free its slot. */
static void emit_held(struct etcd_assembler *a, size_t ri, uint64_t request_id)
{
	struct held_call *h = &a->held[ri];
	struct call_info *c;

	if (!h->seq)
		return;
	c = &a->calls[h->slot];
	held_unindex(a, h->slot);
	c->rec.request_id = request_id;
	if (request_id)
		a->st.linked++;
	else
		a->st.unlinked++;
	a->cb(&c->rec, a->cb_ctx);
	h->seq = 0;
	c->held_seq = 0;
	a->free_calls[a->nfree++] = h->slot;
}

/* Emit from the tail: everything older than cutoff (or everything when cutoff == UINT64_MAX). */
static void drain_tail(struct etcd_assembler *a, uint64_t cutoff)
{
	while (a->tail_seq < a->head_seq) {
		size_t ri = a->tail_seq & (HOLD_CAP - 1);
		const struct held_call *h = &a->held[ri];

		if (h->seq == a->tail_seq && a->calls[h->slot].start_mono + a->hold_ns > cutoff && cutoff != UINT64_MAX)
			break;
		if (h->seq == a->tail_seq)
			emit_held(a, ri, 0);
		a->tail_seq++;
	}
}

/* calls[slot] ended before its request: hold it (the slot now belongs to the held ring), indexed under
 * chain[k] for each bit k of indexed, in bucket hb[k]. */
static void hold(struct etcd_assembler *a, int32_t slot, uint32_t indexed, const uint16_t *hb)
{
	struct call_info *c = &a->calls[slot];
	struct held_call *h;

	if (a->head_seq - a->tail_seq >= HOLD_CAP) {
		size_t old = a->tail_seq & (HOLD_CAP - 1);

		if (a->held[old].seq)
			a->st.hold_full++;
		emit_held(a, old, 0);
		a->tail_seq++;
	}
	h = &a->held[a->head_seq & (HOLD_CAP - 1)];
	h->seq = a->head_seq++;
	h->slot = slot;
	c->held_seq = h->seq;
	c->indexed = indexed;
	for (uint32_t m = indexed; m; m &= m - 1) {
		int k = __builtin_ctz(m);
		int32_t node = NODE(slot, k);
		size_t b = hb[k];
		int32_t head = a->bucket[b] - 1;

		a->node_next[node] = head;
		a->node_prev[node] = -1 - (int32_t)b;
		if (head >= 0)
			a->node_prev[head] = node;
		a->bucket[b] = node + 1;
		bit_set(a->bucket_bits, b);
	}
}

/* ---- recent requests ---- */

static inline size_t recent_bucket_of_hash(uint64_t h)
{
	return h & (RECENT_CAP * 2 - 1);
}

static size_t recent_bucket_of(uint64_t ctx)
{
	return recent_bucket_of_hash(hash_mix64(ctx));
}

static const struct recent_req *recent_find(struct etcd_assembler *a, size_t b, uint64_t ctx, uint64_t t)
{
	for (int32_t i = head_of(a->recent_bucket, a->recent_bits, b); i >= 0; i = a->recent_next[i] - 1) {
		const struct recent_req *r = &a->recent[i];

		if (r->ctx == ctx && r->start <= t && t <= r->end)
			return r;
	}
	return NULL;
}

static void recent_remove(struct etcd_assembler *a, size_t i)
{
	int32_t *pp = &a->recent_bucket[recent_bucket_of(a->recent[i].ctx)];

	while (*pp && *pp != (int32_t)i + 1)
		pp = &a->recent_next[*pp - 1];
	if (*pp)
		*pp = a->recent_next[i];
	a->recent[i].ctx = 0;
}

/* !strcmp(rec->op, "range"), inline: op holds 24 bytes */
static inline bool op_is_range(const struct etcd_record *rec)
{
	_Static_assert(sizeof(rec->op) >= sizeof("range"), "op holds \"range\" and its NUL");
	return !memcmp(rec->op, "range", sizeof("range"));
}

void etcd_end_to_record(const struct kp_grpc_end *ev, struct etcd_record *rec)
{
	rec->grpc_status = ev->is_err ? (ev->code > 0 ? ev->code : -1) : 0;
	if (ev->is_err)
		return; /* no response message: nothing etcd returned is known */
	if (ev->flags & (KP_END_RESP_SIZE | KP_END_RANGE))
		rec->resp_size = ev->resp_size;
	/* a Range's own response; a Txn's nested ranges are in its resp_size only */
	if ((ev->flags & KP_END_RANGE) && op_is_range(rec)) {
		rec->kvs = ev->range_kvs;
		rec->count = ev->range_count >= 0 ? ev->range_count : -1;
		rec->more = ev->range_more != 0;
	}
}

static void add_cost(struct etcd_cost *c, const struct etcd_record *r)
{
	c->calls++;
	if (r->resp_size > 0)
		c->resp_bytes += (uint64_t)r->resp_size;
	if (r->kvs > 0)
		c->kvs += (uint64_t)r->kvs;
}

static bool held_in(const struct call_info *c, int k, uint64_t ctx, uint64_t start_mono, uint64_t end_mono)
{
	return c->chain[k] == ctx && c->start_mono >= start_mono && c->start_mono <= end_mono;
}

void etcd_asm_request_cost(struct etcd_assembler *a, uint64_t ctx, uint64_t start_mono, uint64_t end_mono,
			   struct etcd_cost *out)
{
	memset(out, 0, sizeof(*out));
	a->taken_valid = false;
	if (!ctx)
		return;
	a->taken_valid = true;
	a->taken_ctx = ctx;
	a->taken_start = start_mono;
	a->taken_end = end_mono;
	a->ntaken = 0;
	for (int32_t node = head_of(a->bucket, a->bucket_bits, bucket_of(ctx)); node >= 0; node = a->node_next[node]) {
		const struct call_info *c = &a->calls[NODE_SLOT(node)];

		if (!held_in(c, NODE_K(node), ctx, start_mono, end_mono))
			continue;
		add_cost(out, &c->rec);
		/* remembered for etcd_asm_request_done (by slot and ring entry: it checks they still match) */
		if (a->ntaken == TAKEN_MAX) {
			a->taken_valid = false;
			continue;
		}
		a->taken[a->ntaken] = NODE_SLOT(node);
		a->taken_seq[a->ntaken++] = c->held_seq;
	}
}

/* The set of ancestors[] a context belongs in. */
static inline uint64_t *ancestor_set(struct etcd_assembler *a, uint64_t v)
{
	return a->ancestors[(v * 0x9e3779b97f4a7c15ULL) >> (64 - ANCESTOR_SET_BITS)];
}

static inline bool ancestor_known(struct etcd_assembler *a, uint64_t v)
{
	const uint64_t *s = ancestor_set(a, v);

	return s[0] == v || s[1] == v;
}

/* Remember v (when it is not already): it goes first in its set, the older of the two is forgotten. */
static inline void ancestor_add(struct etcd_assembler *a, uint64_t v)
{
	uint64_t *s = ancestor_set(a, v);

	if (s[0] != v && s[1] != v) {
		s[1] = s[0];
		s[0] = v;
	}
}

/* Hash chain entry k (its bucket into hb[k]); when it is the context of a request already delivered, link
 * and deliver the call (true). */
static bool link_recent(struct etcd_assembler *a, struct pending_call *p, struct call_info *c, int k, uint16_t *hb)
{
	uint64_t h = hash_mix64(c->chain[k]); /* hashed once for both indexes */
	size_t rb = recent_bucket_of_hash(h);
	const struct recent_req *r;

	hb[k] = (uint16_t)bucket_of_hash(h);
	if (!(a->recent_bits[rb / 64] & 1ULL << (rb % 64)) || !(r = recent_find(a, rb, c->chain[k], c->start_mono)))
		return false;
	c->rec.request_id = r->id;
	a->st.linked++;
	a->cb(&c->rec, a->cb_ctx);
	pending_remove(a, p, true);
	return true;
}

void etcd_asm_end(struct etcd_assembler *a, const struct kp_grpc_end *ev)
{
	uint32_t skipped = 0, asked = 0; /* chain entries passed over as ancestors; asked and not known */
	uint16_t hb[CHAIN]; /* bucket_of(chain[k]), for the k looked at (hashed once, used twice) */
	struct pending_call *p;
	struct call_info *c;
	bool found;

	p = pending_find(a, ev->hdr.goid_g, &found);
	if (!found) {
		a->st.unmatched_end++;
		return;
	}
	c = &a->calls[p->slot];
	c->rec.latency_ns = ev->hdr.ts_ns > c->start_mono ? ev->hdr.ts_ns - c->start_mono : 0;
	etcd_end_to_record(ev, &c->rec);
	if (!ev->is_err && c->rec.resp_size < 0)
		a->st.no_resp_size++;
	if (!ev->is_err && c->rec.kvs < 0 && op_is_range(&c->rec))
		a->st.range_no_kvs++;
	a->st.calls++;
	/* From the outermost context in (the request's is below the server's and the connection's, a few,
	 * and above the handler's own, ~15): a request already delivered (events come on two rings) takes
	 * the call now; a request the caller knows takes it when it is delivered, the call indexed under
	 * that context alone; with neither, the call is indexed under its whole chain. Contexts seen above a
	 * request's (ancestors[]) are passed over: they are the server's and connections', never a
	 * request's, unless the memory was reused, and then the call is indexed whole with them. */
	for (int k = c->nctx - 1; k >= 0; k--) {
		if (ancestor_known(a, c->chain[k])) {
			skipped |= 1u << k;
			continue;
		}
		if (link_recent(a, p, c, k, hb))
			return;
		if (a->request_ctx && c->chain[k] && a->request_ctx(a->request_ctx_ctx, c->chain[k], c->start_mono)) {
			a->st.held_narrow++;
			/* the contexts above it that were asked (the others are remembered already) */
			for (uint32_t m = asked; m; m &= m - 1)
				ancestor_add(a, c->chain[__builtin_ctz(m)]);
			hold(a, p->slot, 1u << k, hb);
			pending_remove(a, p, false);
			return;
		}
		asked |= 1u << k;
	}
	for (uint32_t m = skipped; m; m &= m - 1)
		if (link_recent(a, p, c, __builtin_ctz(m), hb))
			return;
	hold(a, p->slot, (1u << c->nctx) - 1, hb);
	pending_remove(a, p, false);
}

void etcd_asm_request_done(struct etcd_assembler *a, uint64_t ctx, uint64_t start_mono, uint64_t end_mono,
			   uint64_t request_id)
{
	size_t i, b;

	if (!ctx)
		return;
	/* held calls under this request: those etcd_asm_request_cost just found, or a walk of the index */
	if (a->taken_valid && a->taken_ctx == ctx && a->taken_start == start_mono && a->taken_end == end_mono) {
		for (size_t t = 0; t < a->ntaken; t++) {
			const struct call_info *c = &a->calls[a->taken[t]];
			size_t ri = a->taken_seq[t] & (HOLD_CAP - 1);

			if (c->held_seq == a->taken_seq[t] && a->held[ri].seq == a->taken_seq[t])
				emit_held(a, ri, request_id);
		}
	} else {
		for (int32_t node = head_of(a->bucket, a->bucket_bits, bucket_of(ctx)); node >= 0;) {
			const struct call_info *c = &a->calls[NODE_SLOT(node)];

			if (held_in(c, NODE_K(node), ctx, start_mono, end_mono)) {
				emit_held(a, c->held_seq & (HOLD_CAP - 1), request_id);
				/* the list changed under us: restart from the head */
				node = a->bucket[bucket_of(ctx)] - 1;
				continue;
			}
			node = a->node_next[node];
		}
	}
	a->taken_valid = false;
	/* remember the request for calls whose end arrives later (the ring's next slots are cold: fetch
	 * them ahead) */
	__builtin_prefetch(&a->recent[(a->recent_seq + 4) & (RECENT_CAP - 1)], 1);
	__builtin_prefetch(&a->recent_next[(a->recent_seq + 16) & (RECENT_CAP - 1)], 1);
	i = a->recent_seq++ & (RECENT_CAP - 1);
	if (a->recent_seq - a->recent_tail > RECENT_CAP)
		a->recent_tail = a->recent_seq - RECENT_CAP;
	if (a->recent[i].ctx)
		recent_remove(a, i);
	a->recent[i] = (struct recent_req){ ctx, start_mono, end_mono, request_id };
	b = recent_bucket_of(ctx);
	a->recent_next[i] = a->recent_bucket[b];
	a->recent_bucket[b] = (int32_t)i + 1;
	bit_set(a->recent_bits, b);
}

void etcd_asm_tick(struct etcd_assembler *a, uint64_t now_mono)
{
	drain_tail(a, now_mono);
	/* requests are remembered in the order they ended: forget from the oldest, stop at the first
	 * still within its hold (not a scan of the whole ring ten times a second) */
	for (; a->recent_tail < a->recent_seq; a->recent_tail++) {
		size_t i = a->recent_tail & (RECENT_CAP - 1);

		if (a->recent[i].ctx && a->recent[i].end + a->hold_ns >= now_mono)
			break;
		if (a->recent[i].ctx)
			recent_remove(a, i);
	}
}

void etcd_asm_flush(struct etcd_assembler *a)
{
	drain_tail(a, UINT64_MAX);
}

void etcd_asm_watch_resp(struct etcd_assembler *a, const struct kp_watch_resp *ev)
{
	struct etcd_key_info ki;
	char res[REC_FIELD_LEN] = "(unknown)";
	size_t klen = ev->key_len < KP_WATCH_KEY_MAX ? ev->key_len : KP_WATCH_KEY_MAX, i;

	a->st.watch_responses++;
	a->st.watch_events += ev->nevents;
	if (ev->truncated & KP_TRUNC_WATCH_KEY)
		a->st.watch_keys_truncated++; /* the resource still comes from the key's prefix */
	if (klen && etcd_key_parse((const uint8_t *)ev->key, klen, NULL, 0, NULL, &ki) == 0 && ki.resource[0])
		etcd_key_resource_string(&ki, res, sizeof(res));
	for (i = 0; i < a->nwatch_res; i++)
		if (!strcmp(a->watch_res[i].resource, res))
			break;
	if (i == a->nwatch_res) {
		if (a->nwatch_res == ETCD_WATCH_RES_MAX)
			i = ETCD_WATCH_RES_MAX - 1; /* the last slot collects the rest */
		else
			a->nwatch_res++;
		if (i == ETCD_WATCH_RES_MAX - 1 && a->watch_res[i].resource[0] && strcmp(a->watch_res[i].resource, res))
			snprintf(a->watch_res[i].resource, sizeof(a->watch_res[i].resource), "(other)");
		else
			snprintf(a->watch_res[i].resource, sizeof(a->watch_res[i].resource), "%s", res);
	}
	a->watch_res[i].events += ev->nevents;
}

size_t etcd_asm_watch_by_resource(const struct etcd_assembler *a, const struct etcd_watch_res **out)
{
	*out = a->watch_res;
	return a->nwatch_res;
}
