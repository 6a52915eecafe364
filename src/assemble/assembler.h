/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Event -> record assembly: pairs request-start and request-end events by their key
 * (connection + stream for h2, *response for h1), fills Kubernetes RequestInfo and hands finished
 * records to a callback. Pure logic: events arrive as plain structs (include/kapimon/events.h);
 * nothing here touches BPF.
 */
#ifndef KAPIMON_ASSEMBLER_H
#define KAPIMON_ASSEMBLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "kapimon/events.h"

struct assembler;

typedef void (*record_cb)(const struct request_record *r, void *ctx);
/* A finished record: the assembler's own, valid until the callback returns; the callback may complete
 * it in place (the pipeline's joins) instead of copying ~2.8 KB. */
typedef void (*asm_emit_cb)(struct request_record *r, void *ctx);

struct asm_stats {
	uint64_t started;       /* start events accepted */
	uint64_t finished;      /* records emitted on end */
	uint64_t unmatched_end; /* end without start (request began before attach, or start lost) */
	uint64_t replaced;      /* a start for a key that was still pending (lost end): old one dropped */
	uint64_t full;          /* start dropped because max_pending requests were in flight */
	uint64_t ongoing;       /* records emitted as ongoing at flush */
	uint64_t expired;       /* pending requests dropped because their connection had closed (end lost) */
	uint64_t authn_started; /* starts taken after the apiserver's authentication (keyed by context) */
	uint64_t authn_no_recv_ts; /* ... whose received timestamp was missing or implausible: probe time used */
};

/* mono_to_wall_ns: add to a CLOCK_MONOTONIC timestamp to get wall-clock ns since the epoch. */
struct assembler *asm_new(size_t max_pending, int64_t mono_to_wall_ns, asm_emit_cb cb, void *ctx);
void asm_free(struct assembler *a);

/* A request started. Returns a handle to the start as kept (valid until the request's end is taken, as
 * asm_end_take's), or -1 when it is not tracked (max_pending requests in flight: it will produce no
 * record). */
int32_t asm_start(struct assembler *a, const struct kp_req_start *ev);
/* Fill r, a record buffer filled request after request (request_fill_kept), with what the start that
 * handle h holds knows (an authn start's time: when the request arrived). */
void asm_fill_started(const struct assembler *a, int32_t h, struct request_record *r);
void asm_end(struct assembler *a, const struct kp_req_end *ev);
/* asm_end in two steps, for a caller that holds the end back (until the request's etcd calls are in):
 * asm_end_take finds the request's start and takes it out of the table, so its key can be used again at
 * once; it returns a handle and the request's start time (CLOCK_MONOTONIC) in *start_mono, or -1 when
 * no start matches (counted: unmatched_end). asm_end_emit emits the record and releases the handle
 * (asm_free frees handles never emitted). */
int32_t asm_end_take(struct assembler *a, const struct kp_req_end *ev, uint64_t *start_mono);
void asm_end_emit(struct assembler *a, int32_t h, const struct kp_req_end *ev);
/* Whether a request in flight started after authentication with context ctx (authn starts are keyed
 * by it) no later than t. */
bool asm_ctx_in_flight(const struct assembler *a, uint64_t ctx, uint64_t t);
/* Emit every pending request as "ongoing" (latency so far at now_mono_ns) and forget them. */
void asm_flush_ongoing(struct assembler *a, uint64_t now_mono_ns);
size_t asm_pending(const struct assembler *a);
/* Drop pending requests whose client connection closed (ct: by the peer address the start carries)
 * after they started and at least grace_ns before now_mono_ns: their end was lost (ring buffer full),
 * so they would stay "in flight" forever. No record is emitted (the abandon callback is called);
 * counted in asm_stats.expired.
 * Returns the number dropped. Call from a timer, not per event (it scans the table). */
struct conntrack;
size_t asm_expire_closed(struct assembler *a, const struct conntrack *ct, uint64_t now_mono_ns, uint64_t grace_ns);
/* Call fn for every pending request (started, not ended) with a record of what its start knows (valid
 * until fn returns, as the emit callback's): the in-flight snapshot of `top`. */
void asm_foreach_pending(const struct assembler *a, asm_emit_cb fn, void *ctx);
const struct asm_stats *asm_get_stats(const struct assembler *a);
/* Called (with the same ctx as the record callback) for a pending request that will produce no record:
 * a new start on its key replaced it (its end was lost). Optional. */
void asm_set_abandon_cb(struct assembler *a, record_cb cb);
/* Sampling factor stamped on records (budget mode); default 1. */
void asm_set_sample_factor(struct assembler *a, double f);
/* Budget mode: the weight of a record is fn(ctx, its start's CLOCK_MONOTONIC stamp) instead. */
typedef double (*asm_weight_fn)(void *ctx, uint64_t start_mono_ns);
void asm_set_weigher(struct assembler *a, asm_weight_fn fn, void *ctx);

#endif
