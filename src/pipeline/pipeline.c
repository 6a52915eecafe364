// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "pipeline/pipeline.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/apf_join.h"
#include "assemble/kp_contract.h"
#include "resolve/procnet.h"
#include "util/hash.h"

#define DEFAULT_LINK_HOLD_NS 2000000000ULL
#define DEFAULT_CONN_GRACE_NS 10000000000ULL

/* One apiserver process: its own assemblers (pointers, goroutines and contexts of two processes are
 * unrelated and may be equal). */
struct lane {
	bool used;
	uint32_t pid;
	struct pipeline *p;
	struct assembler *as;
	struct etcd_assembler *es; /* NULL without etcd */
	struct apf_join *apf;      /* APF rejections -> their requests */
};

struct defer_ctx {
	uint64_t ctx; /* 0: free */
	uint64_t start, end;
	uint32_t lane;
};
#define DCTX_CAP (PIPELINE_DEFER_CAP * 2)

struct pipeline {
	struct pipeline_opts o;
	struct lane lanes[PIPELINE_MAX_SOURCES];
	struct lane *last;        /* the lane of the previous event (events come in runs) */
	struct conntrack *ct;     /* shared: peers are distinct connections whichever process serves them */
	struct pipeline_sink sinks[PIPELINE_MAX_SINKS];
	size_t nsinks;
	bool want_started;        /* a sink has request_started */
	double sample_factor;
	asm_weight_fn weigh;
	void *weigh_ctx;
	uint64_t next_id;         /* request ids, unique across lanes */
	struct request_record scratch; /* a started request, for the request_started sinks */
	struct pipeline_stats st;
	/* counters of lanes that are gone, and the sums handed out */
	struct asm_stats as_gone, as_sum;
	struct etcd_asm_stats es_gone, es_sum;
	struct apf_join_stats apf_gone, apf_sum;
	struct etcd_watch_res watch[ETCD_WATCH_RES_MAX];
	size_t nwatch;
	/* finished requests held until the rings were read once more (pipeline_rings_read): a FIFO ring of
	 * their end events (~200 bytes each, written and read in order) and their starts' assembler handles;
	 * the record is made when it is delivered, where it stays in cache (a record is ~2.8 KB) */
	struct kp_req_end *defer_end;
	int32_t *defer_h;    /* asm_end_take's handle */
	uint8_t *defer_lane; /* index in lanes[] */
	size_t defer_head, defer_n;
	/* the held ends' contexts and spans, for the etcd join (request_ctx_known): open addressing, linear
	 * probing; a bit per home slot, clear only when that slot is empty, answers most lookups */
	struct defer_ctx *dctx;
	uint64_t dctx_bits[DCTX_CAP / 64];
};

/* ---- assemblers -> join -> sinks ---- */

static void deliver_etcd(const struct etcd_record *r, void *ctx)
{
	struct lane *l = ctx;
	struct pipeline *p = l->p;

	/* r->apiserver_pid: the lane's (etcd_asm_set_apiserver_pid) */
	p->st.etcd_records++;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].etcd)
			p->sinks[i].etcd(p->sinks[i].ctx, r);
}

/* Join and deliver j (the assembler's record, which the joins complete in place). */
static void deliver_now(struct lane *l, struct request_record *j)
{
	struct pipeline *p = l->p;

	/* join: what its etcd calls cost (the calls held for it: all of them once the rings were read) */
	if (l->es && !j->ongoing) {
		struct etcd_cost c;

		etcd_asm_request_cost(l->es, j->link_ctx, j->start_mono_ns, j->start_mono_ns + j->latency_ns, &c);
		j->has_etcd_cost = true;
		j->etcd_calls = c.calls;
		j->etcd_resp_bytes = c.resp_bytes;
		j->etcd_kvs = c.kvs;
	}
	/* ids unique across apiservers; the apiserver */
	j->id = p->next_id++;
	j->apiserver_pid = l->pid;
	/* join: the APF rejection that answered it (names, reason) */
	if (!j->ongoing)
		apf_join_request_end(l->apf, j);
	/* join: the connection's local port (which listener the client reached) */
	if (!j->local_port && j->client[0])
		j->local_port = ct_local_port(p->ct, j->client);
	p->st.requests++;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].request)
			p->sinks[i].request(p->sinks[i].ctx, j);
	/* join: etcd calls held for this request are linked and delivered now, after their request */
	if (l->es && !j->ongoing)
		etcd_asm_request_done(l->es, j->link_ctx, j->start_mono_ns, j->start_mono_ns + j->latency_ns, j->id);
}

static void deliver_conn(const struct conn_record *r, void *ctx)
{
	struct pipeline *p = ctx;

	p->st.conn_records++;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].conn)
			p->sinks[i].conn(p->sinks[i].ctx, r);
}

static void dctx_add(struct pipeline *p, uint64_t ctx, uint64_t start, uint64_t end, uint32_t lane)
{
	size_t mask = DCTX_CAP - 1, i = hash_mix64(ctx) & mask;

	p->dctx_bits[i / 64] |= 1ULL << (i % 64);
	while (p->dctx[i].ctx) /* never full: at most PIPELINE_DEFER_CAP entries */
		i = (i + 1) & mask;
	p->dctx[i] = (struct defer_ctx){ ctx, start, end, lane };
}

static void dctx_remove(struct pipeline *p, uint64_t ctx, uint32_t lane, uint64_t end)
{
	size_t mask = DCTX_CAP - 1, i = hash_mix64(ctx) & mask, j;

	while (p->dctx[i].ctx && !(p->dctx[i].ctx == ctx && p->dctx[i].lane == lane && p->dctx[i].end == end))
		i = (i + 1) & mask;
	if (!p->dctx[i].ctx)
		return;
	p->dctx[i].ctx = 0;
	for (j = i;;) { /* backward shift: no hole between an entry and its home */
		size_t home;

		j = (j + 1) & mask;
		if (!p->dctx[j].ctx)
			break;
		home = hash_mix64(p->dctx[j].ctx) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			p->dctx[i] = p->dctx[j];
			p->dctx[j].ctx = 0;
			i = j;
		}
	}
}

/* The etcd join's question (etcd_request_ctx_fn): is v the context of a request of this lane, ended
 * and held here, or in flight, that spans a call starting at start? */
static bool request_ctx_known(void *ctx, uint64_t v, uint64_t start)
{
	struct lane *l = ctx;
	struct pipeline *p = l->p;
	size_t mask = DCTX_CAP - 1, i = hash_mix64(v) & mask;

	if (p->dctx && p->dctx_bits[i / 64] >> (i % 64) & 1) {
		if (!p->dctx[i].ctx)
			p->dctx_bits[i / 64] &= ~(1ULL << (i % 64));
		for (; p->dctx[i].ctx; i = (i + 1) & mask) /* the lane compared by address: no division */
			if (p->dctx[i].ctx == v && &p->lanes[p->dctx[i].lane] == l && p->dctx[i].start <= start &&
			    start <= p->dctx[i].end)
				return true;
	}
	return asm_ctx_in_flight(l->as, v, start);
}

/* Deliver the held requests, oldest first. */
static void release_deferred(struct pipeline *p, size_t keep)
{
	while (p->defer_n > keep) {
		size_t i = p->defer_head;

		p->defer_head = (p->defer_head + 1) % PIPELINE_DEFER_CAP;
		p->defer_n--;
		if (p->defer_end[i].ctx)
			dctx_remove(p, p->defer_end[i].ctx, p->defer_lane[i], p->defer_end[i].hdr.ts_ns);
		asm_end_emit(p->lanes[p->defer_lane[i]].as, p->defer_h[i], &p->defer_end[i]);
	}
	/* empty: start again at the front, so the few entries a read pass holds stay in the same,
	 * cached lines instead of walking through all PIPELINE_DEFER_CAP (~400 KB) */
	if (!p->defer_n)
		p->defer_head = 0;
}

/* A request ended: with etcd capture its end is held back (release_deferred), else it goes now. */
static void feed_end(struct pipeline *p, struct lane *l, const struct kp_req_end *ev)
{
	uint64_t start;
	size_t i;
	int32_t h;

	if (!l->es || !p->defer_end) {
		asm_end(l->as, ev);
		return;
	}
	if ((h = asm_end_take(l->as, ev, &start)) < 0)
		return;
	if (p->defer_n == PIPELINE_DEFER_CAP) {
		p->st.cost_early++;
		release_deferred(p, PIPELINE_DEFER_CAP - 1);
	}
	i = (p->defer_head + p->defer_n++) % PIPELINE_DEFER_CAP;
	p->defer_end[i] = *ev;
	p->defer_h[i] = h;
	p->defer_lane[i] = (uint8_t)(l - p->lanes);
	if (ev->ctx)
		dctx_add(p, ev->ctx, start, ev->hdr.ts_ns, p->defer_lane[i]);
	p->st.cost_deferred++;
}

static void deliver_request(struct request_record *r, void *ctx)
{
	deliver_now(ctx, r);
}

void pipeline_rings_read(struct pipeline *p)
{
	release_deferred(p, 0);
}

static void deliver_abandoned(const struct request_record *r, void *ctx)
{
	struct lane *l = ctx;
	struct pipeline *p = l->p;

	p->st.abandoned++;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].request_abandoned)
			p->sinks[i].request_abandoned(p->sinks[i].ctx, r);
}

/* Only when a sink wants it (the caller checks want_started): filling a record costs what classifying
 * the request does. Out of line: feed stays a small frame for every event. */
static __attribute__((noinline)) void deliver_started(struct pipeline *p, struct lane *l, int32_t h)
{
	asm_fill_started(l->as, h, &p->scratch);
	p->scratch.apiserver_pid = l->pid;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].request_started)
			p->sinks[i].request_started(p->sinks[i].ctx, &p->scratch);
}

/* Counters are structs of uint64_t only: summed as arrays. */
static void add_counters(uint64_t *dst, const uint64_t *src, size_t bytes)
{
	for (size_t i = 0; i < bytes / sizeof(uint64_t); i++)
		dst[i] += src[i];
}
_Static_assert(sizeof(struct asm_stats) % sizeof(uint64_t) == 0, "asm_stats: uint64_t counters only");
_Static_assert(sizeof(struct etcd_asm_stats) % sizeof(uint64_t) == 0, "etcd_asm_stats: uint64_t counters only");
_Static_assert(sizeof(struct apf_join_stats) % sizeof(uint64_t) == 0, "apf_join_stats: uint64_t counters only");

static void lane_free(struct pipeline *p, struct lane *l)
{
	if (l->as)
		add_counters((uint64_t *)&p->as_gone, (const uint64_t *)asm_get_stats(l->as), sizeof(p->as_gone));
	if (l->es)
		add_counters((uint64_t *)&p->es_gone, (const uint64_t *)etcd_asm_get_stats(l->es), sizeof(p->es_gone));
	add_counters((uint64_t *)&p->apf_gone, (const uint64_t *)apf_join_get_stats(l->apf), sizeof(p->apf_gone));
	asm_free(l->as);
	etcd_asm_free(l->es);
	apf_join_free(l->apf);
	if (p->last == l)
		p->last = NULL;
	memset(l, 0, sizeof(*l));
}

/* The lane of an apiserver process, made on its first event; NULL when PIPELINE_MAX_SOURCES are in use.
 * (feed takes the previous event's lane without a call.) */
static __attribute__((noinline)) struct lane *lane_find(struct pipeline *p, uint32_t pid)
{
	struct lane *free_lane = NULL;

	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++) {
		struct lane *l = &p->lanes[i];

		if (l->used && l->pid == pid)
			return p->last = l;
		if (!l->used && !free_lane)
			free_lane = l;
	}
	if (!free_lane)
		return NULL;
	free_lane->p = p;
	free_lane->pid = pid;
	free_lane->as = asm_new(p->o.max_pending, p->o.mono_to_wall_ns, deliver_request, free_lane);
	if (p->o.etcd)
		free_lane->es = etcd_asm_new(p->o.mono_to_wall_ns, p->o.etcd_link_hold_ns, deliver_etcd, free_lane);
	if (free_lane->es) {
		etcd_asm_set_apiserver_pid(free_lane->es, pid);
		etcd_asm_set_request_ctx_fn(free_lane->es, request_ctx_known, free_lane);
	}
	free_lane->apf = apf_join_new(p->o.etcd_link_hold_ns);
	if (!free_lane->as || (p->o.etcd && !free_lane->es) || !free_lane->apf) {
		asm_free(free_lane->as);
		etcd_asm_free(free_lane->es);
		apf_join_free(free_lane->apf);
		memset(free_lane, 0, sizeof(*free_lane));
		return NULL;
	}
	free_lane->used = true;
	asm_set_abandon_cb(free_lane->as, deliver_abandoned);
	asm_set_sample_factor(free_lane->as, p->sample_factor);
	if (free_lane->es)
		etcd_asm_set_sample_factor(free_lane->es, p->sample_factor);
	if (p->weigh) {
		asm_set_weigher(free_lane->as, p->weigh, p->weigh_ctx);
		if (free_lane->es)
			etcd_asm_set_weigher(free_lane->es, p->weigh, p->weigh_ctx);
	}
	return p->last = free_lane;
}

struct pipeline *pipeline_new(const struct pipeline_opts *o)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->o = *o;
	if (!p->o.etcd_link_hold_ns)
		p->o.etcd_link_hold_ns = DEFAULT_LINK_HOLD_NS;
	if (!p->o.conn_grace_ns)
		p->o.conn_grace_ns = DEFAULT_CONN_GRACE_NS;
	p->sample_factor = 1.0;
	p->next_id = 1;
	p->ct = ct_new(0);
	if (p->o.etcd) {
		p->defer_end = malloc(PIPELINE_DEFER_CAP * sizeof(*p->defer_end));
		p->defer_h = malloc(PIPELINE_DEFER_CAP * sizeof(*p->defer_h));
		p->defer_lane = malloc(PIPELINE_DEFER_CAP * sizeof(*p->defer_lane));
		p->dctx = calloc(DCTX_CAP, sizeof(*p->dctx));
	}
	if (!p->ct || (p->o.etcd && (!p->defer_end || !p->defer_h || !p->defer_lane || !p->dctx))) {
		pipeline_free(p);
		return NULL;
	}
	ct_set_emit(p->ct, deliver_conn, p, p->o.mono_to_wall_ns);
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++)
		if (p->lanes[i].used)
			lane_free(p, &p->lanes[i]);
	ct_free(p->ct);
	free(p->defer_end);
	free(p->defer_h);
	free(p->defer_lane);
	free(p->dctx);
	free(p);
}

int pipeline_add_sink(struct pipeline *p, const struct pipeline_sink *s)
{
	if (p->nsinks >= PIPELINE_MAX_SINKS)
		return -ENOSPC;
	p->sinks[p->nsinks++] = *s;
	p->want_started |= s->request_started != NULL;
	return 0;
}

/* Connection events recorded before the socket counters were added end at `sk`: zero the rest. */
#define KP_CONN_EVENT_V1_SIZE offsetof(struct kp_conn_event, sk)

/* Out of line (its copy would give feed, which every event goes through, a frame). */
static __attribute__((noinline)) void feed_conn_v1(struct pipeline *p, const void *event, size_t size)
{
	struct kp_conn_event ev;

	memset(&ev, 0, sizeof(ev));
	memcpy(&ev, event, size);
	ct_feed(p->ct, &ev);
}

/* Minimum size per event type (index enum kp_event_type); 0: unknown type. */
static const size_t min_size[] = {
	/* request ends recorded before the APF fields were appended are read with those fields empty */
	[KP_EV_REQ_START] = sizeof(struct kp_req_start), [KP_EV_REQ_END] = offsetof(struct kp_req_end, pl_uid_len),
	[KP_EV_GRPC_START] = sizeof(struct kp_grpc_start), [KP_EV_GRPC_END] = sizeof(struct kp_grpc_end),
	[KP_EV_CONN] = KP_CONN_EVENT_V1_SIZE, [KP_EV_WATCH_RESP] = sizeof(struct kp_watch_resp),
	[KP_EV_APF_REJECT] = sizeof(struct kp_apf_reject), [KP_EV_APF_TOO_MANY] = sizeof(struct kp_apf_too_many),
	[KP_EV_APF_OBJECT] = sizeof(struct kp_apf_object),
};

/*
 * Every event goes through pipeline_feed: its common path makes no call after which it still needs a
 * value (each handler is called last), so it needs no saved registers and no frame. What would need one
 * is out of line: a start (its record for request_started), an event of another lane than the previous
 * event's (the lane search), the layouts of recorded corpora, bad events.
 */
static inline __attribute__((always_inline)) int feed(struct pipeline *p, const void *event, size_t size);

/* A call end of the layout before the response fields (recorded corpora): no response known. */
static __attribute__((noinline)) int feed_grpc_end_v1(struct pipeline *p, const void *event)
{
	struct kp_grpc_end ge;

	memset(&ge, 0, sizeof(ge));
	memcpy(&ge, event, offsetof(struct kp_grpc_end, resp_size));
	return feed(p, &ge, sizeof(ge));
}

static __attribute__((noinline)) int feed_bad(struct pipeline *p, const void *event, size_t size)
{
	const struct kp_event_hdr *h = event;

	if (event && size >= offsetof(struct kp_grpc_end, resp_size) && size < sizeof(struct kp_grpc_end) &&
	    h->type == KP_EV_GRPC_END)
		return feed_grpc_end_v1(p, event);
	p->st.bad_events++;
	return -EINVAL;
}

int pipeline_feed(struct pipeline *p, const void *event, size_t size)
{
	const struct kp_event_hdr *h = event;

	p->st.events++;
	if (__builtin_expect(!event || size < sizeof(*h) || h->type >= sizeof(min_size) / sizeof(min_size[0]) ||
			     !min_size[h->type] || size < min_size[h->type], 0))
		return feed_bad(p, event, size);
	return feed(p, event, size);
}

/* An end event of the layout before the APF fields: those read as empty. */
static __attribute__((noinline)) void feed_end_v1(struct pipeline *p, struct lane *l, const void *event, size_t size)
{
	struct kp_req_end e = { 0 };

	memcpy(&e, event, size);
	feed_end(p, l, &e);
}

static __attribute__((noinline)) int feed_start(struct pipeline *p, struct lane *l, const struct kp_req_start *ev)
{
	int32_t h = asm_start(l->as, ev);

	if (h >= 0 && p->want_started) /* as kept: an authn start's time is when the request arrived */
		deliver_started(p, l, h);
	return 0;
}

/* event: of a known type other than KP_EV_CONN, at least min_size bytes; l: its lane */
static inline __attribute__((always_inline)) int feed_lane(struct pipeline *p, struct lane *l, const void *event,
							   size_t size)
{
	switch (((const struct kp_event_hdr *)event)->type) {
	case KP_EV_REQ_START:
		return feed_start(p, l, event);
	case KP_EV_REQ_END:
		if (size < sizeof(struct kp_req_end)) /* an older, shorter end event (raw event files) */
			feed_end_v1(p, l, event, size);
		else
			feed_end(p, l, event);
		break;
	case KP_EV_GRPC_START:
		if (l->es)
			etcd_asm_start(l->es, event);
		break;
	case KP_EV_GRPC_END:
		if (l->es)
			etcd_asm_end(l->es, event);
		break;
	case KP_EV_WATCH_RESP:
		if (l->es)
			etcd_asm_watch_resp(l->es, event);
		break;
	case KP_EV_APF_REJECT:
		apf_join_reject(l->apf, event);
		break;
	case KP_EV_APF_TOO_MANY:
		apf_join_too_many(l->apf, event);
		break;
	case KP_EV_APF_OBJECT:
		apf_join_object(l->apf, event);
		break;
	}
	return 0;
}

/* feed for an event of another lane than the previous event's */
static __attribute__((noinline)) int feed_other_lane(struct pipeline *p, const void *event, size_t size)
{
	struct lane *l = lane_find(p, ((const struct kp_event_hdr *)event)->tgid);

	if (!l) {
		p->st.no_lane++;
		return -ENOSPC;
	}
	return feed_lane(p, l, event, size);
}

/* event: of a known type, at least min_size bytes */
static inline __attribute__((always_inline)) int feed(struct pipeline *p, const void *event, size_t size)
{
	const struct kp_event_hdr *h = event;
	struct lane *l = p->last;

	if (h->type == KP_EV_CONN) { /* not from the apiserver's context: no lane */
		if (size >= sizeof(struct kp_conn_event))
			ct_feed(p->ct, event);
		else
			feed_conn_v1(p, event, size);
		return 0;
	}
	if (__builtin_expect(!l || l->pid != h->tgid, 0))
		return feed_other_lane(p, event, size);
	return feed_lane(p, l, event, size);
}

void pipeline_feed_cb(void *ctx, const void *event, size_t size)
{
	pipeline_feed(ctx, event, size);
}

void pipeline_tick(struct pipeline *p, uint64_t now_mono)
{
	release_deferred(p, 0);
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++) {
		if (!p->lanes[i].used)
			continue;
		if (p->lanes[i].es)
			etcd_asm_tick(p->lanes[i].es, now_mono);
		apf_join_tick(p->lanes[i].apf, now_mono);
		/* requests whose end was lost (ring buffer full) go once their connection closed */
		if (p->o.pending_closed_grace_ns)
			asm_expire_closed(p->lanes[i].as, p->ct, now_mono, p->o.pending_closed_grace_ns);
	}
	ct_expire(p->ct, now_mono, p->o.conn_grace_ns);
}

static void lane_flush(struct lane *l, uint64_t now_mono)
{
	release_deferred(l->p, 0);
	asm_flush_ongoing(l->as, now_mono);
	if (l->es)
		etcd_asm_flush(l->es);
}

void pipeline_flush(struct pipeline *p, uint64_t now_mono)
{
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++)
		if (p->lanes[i].used)
			lane_flush(&p->lanes[i], now_mono);
}

void pipeline_source_gone(struct pipeline *p, uint32_t pid, uint64_t now_mono)
{
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++) {
		struct lane *l = &p->lanes[i];

		if (!l->used || l->pid != pid)
			continue;
		lane_flush(l, now_mono);
		lane_free(p, l);
		p->st.sources_gone++;
	}
}

size_t pipeline_sources(const struct pipeline *p, uint32_t *pids, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++)
		if (p->lanes[i].used) {
			if (n < max)
				pids[n] = p->lanes[i].pid;
			n++;
		}
	return n;
}

void pipeline_set_sample_factor(struct pipeline *p, double f)
{
	p->sample_factor = f > 0 ? f : 1.0;
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++) {
		if (!p->lanes[i].used)
			continue;
		asm_set_sample_factor(p->lanes[i].as, f);
		if (p->lanes[i].es)
			etcd_asm_set_sample_factor(p->lanes[i].es, f);
	}
}

void pipeline_set_weigher(struct pipeline *p, asm_weight_fn fn, void *ctx)
{
	p->weigh = fn;
	p->weigh_ctx = ctx;
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++) {
		if (!p->lanes[i].used)
			continue;
		asm_set_weigher(p->lanes[i].as, fn, ctx);
		if (p->lanes[i].es)
			etcd_asm_set_weigher(p->lanes[i].es, fn, ctx);
	}
}

const struct pipeline_stats *pipeline_get_stats(const struct pipeline *p)
{
	return &p->st;
}

const struct asm_stats *pipeline_asm_stats(const struct pipeline *p)
{
	struct pipeline *m = (struct pipeline *)p; /* the sum is a cache, not state */

	m->as_sum = p->as_gone;
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++)
		if (p->lanes[i].used)
			add_counters((uint64_t *)&m->as_sum, (const uint64_t *)asm_get_stats(p->lanes[i].as),
				     sizeof(m->as_sum));
	return &m->as_sum;
}

const struct etcd_asm_stats *pipeline_etcd_stats(const struct pipeline *p)
{
	struct pipeline *m = (struct pipeline *)p;

	if (!p->o.etcd)
		return NULL;
	m->es_sum = p->es_gone;
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++)
		if (p->lanes[i].used && p->lanes[i].es)
			add_counters((uint64_t *)&m->es_sum, (const uint64_t *)etcd_asm_get_stats(p->lanes[i].es),
				     sizeof(m->es_sum));
	return &m->es_sum;
}

/* Watch events per resource over the live lanes (a gone lane's counts leave with it). */
static size_t watch_by_resource(const struct pipeline *p, const struct etcd_watch_res **out)
{
	struct pipeline *m = (struct pipeline *)p;

	m->nwatch = 0;
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++) {
		const struct etcd_watch_res *wr;
		size_t nw;

		if (!p->lanes[i].used || !p->lanes[i].es)
			continue;
		nw = etcd_asm_watch_by_resource(p->lanes[i].es, &wr);
		for (size_t k = 0; k < nw; k++) {
			size_t j;

			for (j = 0; j < m->nwatch && strcmp(m->watch[j].resource, wr[k].resource); j++)
				;
			if (j == m->nwatch) {
				if (m->nwatch == ETCD_WATCH_RES_MAX)
					continue;
				m->watch[m->nwatch++] = wr[k];
			} else {
				m->watch[j].events += wr[k].events;
			}
		}
	}
	*out = m->watch;
	return m->nwatch;
}

const struct apf_join_stats *pipeline_apf_stats(const struct pipeline *p)
{
	struct pipeline *m = (struct pipeline *)p;

	m->apf_sum = p->apf_gone;
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++)
		if (p->lanes[i].used)
			add_counters((uint64_t *)&m->apf_sum, (const uint64_t *)apf_join_get_stats(p->lanes[i].apf),
				     sizeof(m->apf_sum));
	return &m->apf_sum;
}

const struct ct_stats *pipeline_conn_stats(const struct pipeline *p)
{
	return ct_get_stats(p->ct);
}

size_t pipeline_pending(const struct pipeline *p)
{
	size_t n = 0;

	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++)
		if (p->lanes[i].used)
			n += asm_pending(p->lanes[i].as);
	return n;
}

struct pending_walk {
	const struct pipeline *p;
	uint32_t pid;
	void (*fn)(const struct request_record *r, void *ctx);
	void *ctx;
};

static void pending_one(struct request_record *r, void *ctx)
{
	struct pending_walk *w = ctx;

	r->apiserver_pid = w->pid;
	w->fn(r, w->ctx);
}

void pipeline_foreach_pending(const struct pipeline *p, void (*fn)(const struct request_record *r, void *ctx),
			      void *ctx)
{
	for (int i = 0; i < PIPELINE_MAX_SOURCES; i++) {
		struct pending_walk w = { p, p->lanes[i].pid, fn, ctx };

		if (p->lanes[i].used)
			asm_foreach_pending(p->lanes[i].as, pending_one, &w);
	}
}

bool pipeline_has_etcd(const struct pipeline *p)
{
	return p->o.etcd;
}

double pipeline_hits_per_request(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT])
{
	const struct asm_stats *as = pipeline_asm_stats(p);
	uint64_t seen = as->finished + as->unmatched_end;

	if (!seen)
		return 0;
	return (double)kp_request_path_hits(hits) / (double)seen;
}

double pipeline_etcd_hits_per_call(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT])
{
	const struct etcd_asm_stats *es = pipeline_etcd_stats(p);
	uint64_t msgs;

	if (!es)
		return 0;
	msgs = es->calls + es->stream_messages + es->unmatched_end;
	return msgs ? (double)(hits[KP_PROBE_GRPC_WRITE] + hits[KP_PROBE_GRPC_FINISH] + hits[KP_PROBE_RANGE_RESP]) /
			      (double)msgs : 0;
}

void pipeline_fill_stats(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT],
			 const uint64_t counters[KP_CNT__COUNT], uint64_t now_wall, struct record_stats *s)
{
	const struct asm_stats *as = pipeline_asm_stats(p);
	const struct ct_stats *c = ct_get_stats(p->ct);

	memset(s, 0, sizeof(*s));
	s->ts_ns = now_wall;
	s->records = p->st.requests;
	s->etcd_records = p->st.etcd_records;
	kp_stats_fill(s, hits, counters); /* every BPF counter and probe hit count, by name */
	s->bad_events = p->st.bad_events;
	s->unmatched_ends = as->unmatched_end;
	s->pending = pipeline_pending(p);
	s->hits_per_request = pipeline_hits_per_request(p, hits);
	s->authn_starts = as->authn_started;
	s->authn_no_recv_ts += as->authn_no_recv_ts;
	if (p->o.etcd) {
		const struct etcd_asm_stats *es = pipeline_etcd_stats(p);
		const struct etcd_watch_res *wr;
		size_t nw = watch_by_resource(p, &wr);

		s->decode_errors = es->decode.errors;
		s->has_etcd = true;
		s->etcd_calls = es->calls;
		s->etcd_linked = es->linked;
		s->etcd_streams = es->streams_opened;
		s->etcd_stream_msgs = es->stream_messages;
		s->etcd_stopped_at_value = es->stopped_at_value;
		s->etcd_copy_gave_up = es->copy_gave_up;
		s->etcd_no_resp_size = es->no_resp_size;
		s->etcd_range_no_kvs = es->range_no_kvs;
		s->etcd_held_narrow = es->held_narrow;
		s->etcd_cost_early = p->st.cost_early;
		s->etcd_watch_responses = es->watch_responses;
		s->etcd_watch_events = es->watch_events;
		s->etcd_watch_keys_truncated = es->watch_keys_truncated;
		s->n_watch_res = nw < 64 ? nw : 64;
		for (size_t i = 0; i < s->n_watch_res; i++) {
			s->watch_res_names[i] = wr[i].resource;
			s->watch_res_events[i] = wr[i].events;
		}
		s->etcd_hits_per_call = pipeline_etcd_hits_per_call(p, hits);
	}
	{
		const struct apf_join_stats *a = pipeline_apf_stats(p);

		s->has_apf = a->rejects || a->too_many || a->objects;
		s->apf_rejects = a->rejects;
		s->apf_too_many = a->too_many;
		s->apf_attributed = a->attributed;
		s->apf_unpaired = a->unpaired;
		s->apf_expired = a->expired;
		s->apf_objects = a->objects;
		s->apf_named = a->named;
	}
	s->has_conns = true;
	s->conns_opened = c->opened;
	s->conns_closed = c->closed;
	s->conns_active = c->active;
	s->conns_seeded = c->seeded;
	s->conns_etcd_opened = c->etcd_opened;
	s->conns_etcd_closed = c->etcd_closed;
	s->conns_etcd_active = c->etcd_active;
	s->conns_retransmits = c->retransmits;
	s->conns_resets_sent = c->resets_sent;
	s->conns_resets_received = c->resets_received;
	s->conns_untracked = c->full;
}
