/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The capture pipeline after the ring buffers: event -> assemble -> join -> sinks.
 *
 *   pipeline_feed(event)  any ring-buffer event (include/kapimon/events.h), checked for type and size
 *     -> assemble         request start/end -> request records (assemble/assembler.h);
 *                         gRPC start/end -> etcd records (assemble/etcd_assembler.h);
 *                         connection events -> connection table (assemble/conntrack.h) -> conn
 *                         records (opens, closes; retransmits and resets for sinks that count)
 *                         one set of assemblers per apiserver process (hdr.tgid): pointers,
 *                         goroutines and contexts of two processes are unrelated
 *     -> join             request <-> connection (local port), request <-> APF rejection (names and
 *                         reason of the 429 whose context chain holds the request's context), request <-> etcd calls (a finished
 *                         request is offered to the etcd assembler, which emits the calls it held
 *                         for it), apiserver pid (from the event header); request ids are unique
 *                         across apiservers
 *     -> sinks            every attached sink gets every finished record and in-flight change
 *
 * Order sinks can rely on: a request record is delivered before the etcd records linked to it that
 * had ended before it (they are held until the request is done); calls that end after their request
 * refer to a request already delivered. request_started precedes the request's record (or
 * request_abandoned); requests still running at pipeline_flush() are delivered with ongoing set.
 *
 * Pure logic: no BPF, no clock reads (callers pass times), so tests and the replay benchmark feed
 * recorded events through exactly the code `record` and `top` run. Not thread-safe.
 */
#ifndef KAPIMON_PIPELINE_H
#define KAPIMON_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/assembler.h"
#include "assemble/conntrack.h"
#include "assemble/etcd_assembler.h"
#include "assemble/record.h"
#include "assemble/stats.h"
#include "kapimon/events.h"

/*
 * A consumer of records: a struct of callbacks (any may be NULL) and their ctx. Records passed are
 * valid during the call only. Callbacks must not call back into the pipeline.
 */
struct pipeline_sink {
	const char *name;
	/* a finished request (or, from pipeline_flush, one still running: r->ongoing) */
	void (*request)(void *ctx, const struct request_record *r);
	/* a finished etcd call, or a message on an etcd stream (r->stream) */
	void (*etcd)(void *ctx, const struct etcd_record *r);
	/* in flight: a request started (the record as known at start: no id, status or latency) */
	void (*request_started)(void *ctx, const struct request_record *r);
	/* in flight: a started request that will produce no record (a new start replaced it: its end was lost) */
	void (*request_abandoned)(void *ctx, const struct request_record *r);
	/* a connection of the apiserver opened or closed, or retransmits/resets on one (r->event) */
	void (*conn)(void *ctx, const struct conn_record *r);
	void *ctx;
};

#define PIPELINE_MAX_SINKS 8
#define PIPELINE_MAX_SOURCES 16 /* apiserver processes assembled at once */

struct pipeline_opts {
	int64_t mono_to_wall_ns;  /* add to a CLOCK_MONOTONIC time (event timestamps) to get wall ns */
	bool etcd;                /* assemble etcd calls (gRPC events are counted and ignored otherwise) */
	uint64_t etcd_link_hold_ns; /* how long an etcd call waits for its request (0: 2 s) */
	uint64_t conn_grace_ns;   /* closed connections are remembered this long for late records (0: 10 s) */
	size_t max_pending;       /* requests in flight tracked (0: the assembler's default) */
	/* > 0: a request still pending this long after its connection closed has lost its end (ring buffer
	 * full): pipeline_tick drops it (request_abandoned, asm_stats.expired); 0: kept until flush */
	uint64_t pending_closed_grace_ns;
};

struct pipeline_stats {
	uint64_t events;          /* events fed */
	uint64_t bad_events;      /* events of unknown type or too short for their type */
	uint64_t requests;        /* request records delivered (finished and ongoing) */
	uint64_t etcd_records;    /* etcd records delivered */
	uint64_t abandoned;       /* requests abandoned (see pipeline_sink.request_abandoned) */
	uint64_t no_lane;         /* events dropped: PIPELINE_MAX_SOURCES apiservers already tracked */
	uint64_t sources_gone;    /* apiserver processes retired with pipeline_source_gone */
	uint64_t conn_records;    /* conn records delivered (open, close, retransmit, reset) */
	uint64_t cost_deferred;   /* finished requests held back until their etcd calls were in (below) */
	uint64_t cost_early;      /* ... delivered early because PIPELINE_DEFER_CAP were held */
};

struct pipeline;

/* NULL on OOM. */
struct pipeline *pipeline_new(const struct pipeline_opts *o);
void pipeline_free(struct pipeline *p);
/* Attach a sink (copied). Returns 0, or -ENOSPC when PIPELINE_MAX_SINKS are attached. */
int pipeline_add_sink(struct pipeline *p, const struct pipeline_sink *s);

/* One ring-buffer event of any type. Returns 0, or -EINVAL for an event of unknown type or too short
 * for its type (counted in bad_events, otherwise ignored). */
int pipeline_feed(struct pipeline *p, const void *event, size_t size);
/* The same as a callback (e.g. capture_opts.on_event): ctx is the pipeline. */
void pipeline_feed_cb(void *ctx, const void *event, size_t size);

/* Housekeeping on a timer (a few times a second, not per event): etcd calls whose link hold expired
 * are delivered unlinked, requests whose connection closed pending_closed_grace_ns ago are dropped,
 * closed connections are forgotten after their grace. now: CLOCK_MONOTONIC ns. */
void pipeline_tick(struct pipeline *p, uint64_t now_mono);
/*
 * With etcd capture a finished request is held back (at most PIPELINE_DEFER_CAP, then the oldest goes
 * early: pipeline_stats.cost_early) until every ring has been read once more, so the etcd calls it
 * made are in and its record carries their sums (etcd_calls, etcd_resp_bytes, etcd_kvs). A call ends
 * before its request, but on another ring buffer, and a read pass takes the rings one after the
 * other: call this after each pass over all rings (after follow_poll / capture_poll); pipeline_tick,
 * pipeline_flush and pipeline_source_gone deliver the held requests too.
 */
#define PIPELINE_DEFER_CAP 2048
void pipeline_rings_read(struct pipeline *p);
/* End of capture: requests still running are delivered as ongoing (latency so far at now_mono), every
 * held etcd call is delivered. */
void pipeline_flush(struct pipeline *p, uint64_t now_mono);
/* An apiserver process exited: its requests still running are delivered as ongoing, its held etcd
 * calls are delivered, its assemblers are freed (counters are kept in the totals). */
void pipeline_source_gone(struct pipeline *p, uint32_t pid, uint64_t now_mono);
/* The apiserver pids with events so far (and not gone); returns how many (may exceed max). */
size_t pipeline_sources(const struct pipeline *p, uint32_t *pids, size_t max);
/* Sample factor stamped on records from now on; 1 by default. */
void pipeline_set_sample_factor(struct pipeline *p, double f);
/* Budget mode: a record's weight is fn(ctx, its start's CLOCK_MONOTONIC stamp) instead. */
void pipeline_set_weigher(struct pipeline *p, asm_weight_fn fn, void *ctx);

const struct pipeline_stats *pipeline_get_stats(const struct pipeline *p);
/* Counters summed over every apiserver (gone ones included); valid until the next call. */
const struct asm_stats *pipeline_asm_stats(const struct pipeline *p);
/* NULL without etcd. */
const struct etcd_asm_stats *pipeline_etcd_stats(const struct pipeline *p);
const struct ct_stats *pipeline_conn_stats(const struct pipeline *p);
struct apf_join_stats;
/* APF rejections and 429s seen and attributed, summed over every apiserver (assemble/apf_join.h). */
const struct apf_join_stats *pipeline_apf_stats(const struct pipeline *p);
/* Requests started and not yet ended. */
size_t pipeline_pending(const struct pipeline *p);
/* Call fn for every one of them, with its record as known at start (in-flight snapshots). */
void pipeline_foreach_pending(const struct pipeline *p, void (*fn)(const struct request_record *r, void *ctx),
			      void *ctx);
bool pipeline_has_etcd(const struct pipeline *p);

/* Request-path probe hits per request the assembler saw (finished + unmatched ends); 0 when none.
 * hits: the BPF per-probe hit counters (index enum kp_probe). */
double pipeline_hits_per_request(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT]);
/* gRPC probe hits per etcd message (calls + stream messages + unmatched ends); 0 when none or no etcd. */
double pipeline_etcd_hits_per_call(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT]);

/* The {"kind":"stats"} record from the pipeline's counters and the BPF counters (hits, counters:
 * index enum kp_probe / enum kp_counter). Budget fields and the apiservers attached are left 0 (the caller
 * knows the sampler and what is attached). */
void pipeline_fill_stats(const struct pipeline *p, const uint64_t hits[KP_PROBE__COUNT],
			 const uint64_t counters[KP_CNT__COUNT], uint64_t now_wall, struct record_stats *s);

#endif
