// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "pipeline/pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/procnet.h"

#define DEFAULT_LINK_HOLD_NS 2000000000ULL
#define DEFAULT_CONN_GRACE_NS 10000000000ULL

struct pipeline {
	struct pipeline_opts o;
	struct assembler *as;
	struct etcd_assembler *es; /* NULL without etcd */
	struct conntrack *ct;
	struct pipeline_sink sinks[PIPELINE_MAX_SINKS];
	size_t nsinks;
	struct request_record scratch; /* the joined record being delivered */
	struct pipeline_stats st;
};

const char *const pipeline_probe_names[KP_PROBE__COUNT] = {
	[KP_PROBE_H2_HEADERS] = "h2_process_headers", [KP_PROBE_H2_DONE] = "h2_handler_done",
	[KP_PROBE_H1_START] = "h1_request_start", [KP_PROBE_H1_DONE] = "h1_finish_request",
	[KP_PROBE_GRPC_WRITE] = "grpc_transport_write", [KP_PROBE_GRPC_FINISH] = "grpc_call_finish",
	[KP_PROBE_CALIBRATE] = "calibrate", [KP_PROBE_WATCH_RESP] = "etcd_watch_dispatch",
};

/* ---- assemblers -> join -> sinks ---- */

static void deliver_etcd(const struct etcd_record *r, void *ctx)
{
	struct pipeline *p = ctx;

	p->st.etcd_records++;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].etcd)
			p->sinks[i].etcd(p->sinks[i].ctx, r);
}

static void deliver_request(const struct request_record *r, void *ctx)
{
	struct pipeline *p = ctx;
	struct request_record *j = &p->scratch;

	/* join: the connection's local port (which listener the client reached) */
	*j = *r;
	if (!j->local_port && j->client[0])
		j->local_port = ct_local_port(p->ct, j->client);
	p->st.requests++;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].request)
			p->sinks[i].request(p->sinks[i].ctx, j);
	/* join: etcd calls held for this request are linked and delivered now, after their request */
	if (p->es && !j->ongoing)
		etcd_asm_request_done(p->es, j->link_ctx, j->start_mono_ns, j->start_mono_ns + j->latency_ns, j->id);
}

static void deliver_abandoned(const struct request_record *r, void *ctx)
{
	struct pipeline *p = ctx;

	p->st.abandoned++;
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].request_abandoned)
			p->sinks[i].request_abandoned(p->sinks[i].ctx, r);
}

static void deliver_started(struct pipeline *p, const struct request_record *r)
{
	for (size_t i = 0; i < p->nsinks; i++)
		if (p->sinks[i].request_started)
			p->sinks[i].request_started(p->sinks[i].ctx, r);
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
	p->as = asm_new(o->max_pending, o->mono_to_wall_ns, deliver_request, p);
	p->ct = ct_new(0);
	if (o->etcd)
		p->es = etcd_asm_new(o->mono_to_wall_ns, p->o.etcd_link_hold_ns, deliver_etcd, p);
	if (!p->as || !p->ct || (o->etcd && !p->es)) {
		pipeline_free(p);
		return NULL;
	}
	asm_set_abandon_cb(p->as, deliver_abandoned);
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	asm_free(p->as);
	etcd_asm_free(p->es);
	ct_free(p->ct);
	free(p);
}

int pipeline_add_sink(struct pipeline *p, const struct pipeline_sink *s)
{
	if (p->nsinks >= PIPELINE_MAX_SINKS)
		return -ENOSPC;
	p->sinks[p->nsinks++] = *s;
	return 0;
}

static void feed_conn(struct pipeline *p, const struct kp_conn_event *ev)
{
	char peer[80];

	procnet_format_addr(ev->family, ev->peer_addr, ev->peer_port, peer, sizeof(peer));
	if (ev->established)
		ct_open(p->ct, peer, ev->local_port, ev->hdr.ts_ns, ev->established == KP_CONN_SEEDED);
	else
		ct_close(p->ct, peer, ev->hdr.ts_ns);
}

/* Minimum size per event type (index enum kp_event_type); 0: unknown type. */
static const size_t min_size[] = {
	[KP_EV_REQ_START] = sizeof(struct kp_req_start), [KP_EV_REQ_END] = sizeof(struct kp_req_end),
	[KP_EV_GRPC_START] = sizeof(struct kp_grpc_start), [KP_EV_GRPC_END] = sizeof(struct kp_grpc_end),
	[KP_EV_CONN] = sizeof(struct kp_conn_event), [KP_EV_WATCH_RESP] = sizeof(struct kp_watch_resp),
};

int pipeline_feed(struct pipeline *p, const void *event, size_t size)
{
	const struct kp_event_hdr *h = event;

	p->st.events++;
	if (!event || size < sizeof(*h) || h->type >= sizeof(min_size) / sizeof(min_size[0]) ||
	    !min_size[h->type] || size < min_size[h->type]) {
		p->st.bad_events++;
		return -EINVAL;
	}
	switch (h->type) {
	case KP_EV_REQ_START: {
		const struct request_record *r = asm_start(p->as, event);

		if (r)
			deliver_started(p, r);
		break;
	}
	case KP_EV_REQ_END:
		asm_end(p->as, event);
		break;
	case KP_EV_GRPC_START:
		if (p->es)
			etcd_asm_start(p->es, event);
		break;
	case KP_EV_GRPC_END:
		if (p->es)
			etcd_asm_end(p->es, event);
		break;
	case KP_EV_WATCH_RESP:
		if (p->es)
			etcd_asm_watch_resp(p->es, event);
		break;
	case KP_EV_CONN:
		feed_conn(p, event);
		break;
	}
	return 0;
}

void pipeline_feed_cb(void *ctx, const void *event, size_t size)
{
	pipeline_feed(ctx, event, size);
}

void pipeline_tick(struct pipeline *p, uint64_t now_mono)
{
	if (p->es)
		etcd_asm_tick(p->es, now_mono);
	ct_expire(p->ct, now_mono, p->o.conn_grace_ns);
}

void pipeline_flush(struct pipeline *p, uint64_t now_mono)
{
	asm_flush_ongoing(p->as, now_mono);
	if (p->es)
		etcd_asm_flush(p->es);
}

void pipeline_set_sample_factor(struct pipeline *p, double f)
{
	asm_set_sample_factor(p->as, f);
	if (p->es)
		etcd_asm_set_sample_factor(p->es, f);
}

const struct pipeline_stats *pipeline_get_stats(const struct pipeline *p)
{
	return &p->st;
}

const struct asm_stats *pipeline_asm_stats(const struct pipeline *p)
{
	return asm_get_stats(p->as);
}

const struct etcd_asm_stats *pipeline_etcd_stats(const struct pipeline *p)
{
	return p->es ? etcd_asm_get_stats(p->es) : NULL;
}

const struct ct_stats *pipeline_conn_stats(const struct pipeline *p)
{
	return ct_get_stats(p->ct);
}

size_t pipeline_pending(const struct pipeline *p)
{
	return asm_pending(p->as);
}

bool pipeline_has_etcd(const struct pipeline *p)
{
	return p->es != NULL;
}

double pipeline_hits_per_request(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT])
{
	const struct asm_stats *as = asm_get_stats(p->as);
	uint64_t seen = as->finished + as->unmatched_end;

	if (!seen)
		return 0;
	return (double)(hits[KP_PROBE_H2_HEADERS] + hits[KP_PROBE_H2_DONE] + hits[KP_PROBE_H1_START] +
			hits[KP_PROBE_H1_DONE]) / (double)seen;
}

double pipeline_etcd_hits_per_call(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT])
{
	const struct etcd_asm_stats *es;
	uint64_t msgs;

	if (!p->es)
		return 0;
	es = etcd_asm_get_stats(p->es);
	msgs = es->calls + es->stream_messages + es->unmatched_end;
	return msgs ? (double)(hits[KP_PROBE_GRPC_WRITE] + hits[KP_PROBE_GRPC_FINISH]) / (double)msgs : 0;
}

void pipeline_fill_stats(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT],
			 const uint64_t counters[KP_CNT__COUNT], uint64_t now_wall, struct record_stats *s)
{
	const struct asm_stats *as = asm_get_stats(p->as);
	const struct ct_stats *c = ct_get_stats(p->ct);

	memset(s, 0, sizeof(*s));
	s->ts_ns = now_wall;
	s->records = p->st.requests;
	s->etcd_records = p->st.etcd_records;
	s->ringbuf_drops = counters[KP_CNT_RB_DROP];
	s->read_errors = counters[KP_CNT_READ_FAIL];
	s->bad_events = p->st.bad_events;
	s->unmatched_ends = as->unmatched_end;
	s->pending = asm_pending(p->as);
	s->nprobes = KP_PROBE__COUNT < RECORD_STATS_MAX_PROBES ? KP_PROBE__COUNT : RECORD_STATS_MAX_PROBES;
	for (uint32_t i = 0; i < s->nprobes; i++) {
		s->probe_hits[i] = hits[i];
		s->probe_names[i] = pipeline_probe_names[i];
	}
	s->hits_per_request = pipeline_hits_per_request(p, hits);
	if (p->es) {
		const struct etcd_asm_stats *es = etcd_asm_get_stats(p->es);
		const struct etcd_watch_res *wr;
		size_t nw = etcd_asm_watch_by_resource(p->es, &wr);

		s->decode_errors = es->decode.errors;
		s->has_etcd = true;
		s->etcd_calls = es->calls;
		s->etcd_linked = es->linked;
		s->etcd_streams = es->streams_opened;
		s->etcd_stream_msgs = es->stream_messages;
		s->etcd_watch_responses = es->watch_responses;
		s->etcd_watch_events = es->watch_events;
		s->n_watch_res = nw < 64 ? nw : 64;
		for (size_t i = 0; i < s->n_watch_res; i++) {
			s->watch_res_names[i] = wr[i].resource;
			s->watch_res_events[i] = wr[i].events;
		}
		s->etcd_hits_per_call = pipeline_etcd_hits_per_call(p, hits);
	}
	s->has_conns = true;
	s->conns_opened = c->opened;
	s->conns_closed = c->closed;
	s->conns_active = c->active;
	s->conns_seeded = c->seeded;
}
