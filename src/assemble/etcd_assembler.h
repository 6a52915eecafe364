/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gRPC events -> etcd records. Pairs a unary call's request message (transport Write) with its
 * return (Invoke RET) by goroutine, decodes the protobuf request (op, key, range_end, limit...) from the
 * value-free prefix the probe copied, as it arrives (an in-flight call keeps only the decoded fields),
 * derives the Kubernetes resource from the key, and links the call to the apiserver request whose
 * context the call's context derives from:
 *   - every call carries its context chain (the context objects from the call up to the root);
 *   - every finished request carries its own context object (HTTP/2 stream ctx, HTTP/1 Request.ctx);
 *   - a call is linked to request R when R's context is in the call's chain and the call started
 *     within R's lifetime. Calls wait up to hold_ns for their request to end; requests are
 *     remembered for hold_ns after they end (events arrive on two ring buffers, in either order).
 * Messages on streams (Watch, LeaseKeepAlive) are accounted per stream, not as calls.
 * Pure logic: nothing here touches BPF.
 */
#ifndef KAPIMON_ETCD_ASSEMBLER_H
#define KAPIMON_ETCD_ASSEMBLER_H

#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "etcd/etcd_request.h"
#include "kapimon/events.h"

struct etcd_assembler;

typedef void (*etcd_record_cb)(const struct etcd_record *r, void *ctx);

struct etcd_asm_stats {
	uint64_t calls;            /* unary calls completed (start + end paired) */
	uint64_t linked;           /* calls linked to an apiserver request */
	uint64_t unlinked;         /* calls emitted without a parent request */
	uint64_t unmatched_end;    /* Invoke returns without a request message (call began before attach) */
	uint64_t retried;          /* request messages replaced by a later one on the same goroutine */
	uint64_t pending_full;     /* starts dropped: too many calls in flight */
	uint64_t hold_full;        /* calls emitted early because the link hold queue was full */
	uint64_t streams_opened;   /* distinct client streams seen (Watch, LeaseKeepAlive, ...) */
	uint64_t stream_messages;  /* request messages sent on streams */
	uint64_t watches_created;  /* WatchCreateRequests sent */
	uint64_t watch_responses;  /* WatchResponses with events received by the client */
	uint64_t watch_events;     /* events in them */
	uint64_t watch_keys_truncated; /* responses whose first key was cut (KP_TRUNC_WATCH_KEY) */
	uint64_t stopped_at_value; /* request copies that stopped before a value field (KP_TRUNC_GRPC_AT_VALUE) */
	uint64_t copy_gave_up;     /* request copies the probe's walk cut short (KP_TRUNC_GRPC_GAVE_UP) */
	uint64_t no_resp_size;     /* successful unary calls whose response size was not read */
	uint64_t range_no_kvs;     /* successful Range calls whose key-values returned were not read */
	uint64_t held_narrow;      /* held calls indexed under their request's context only (request known) */
	struct etcd_decode_counters decode;
};

struct etcd_assembler *etcd_asm_new(int64_t mono_to_wall_ns, uint64_t hold_ns, etcd_record_cb cb, void *ctx);
void etcd_asm_free(struct etcd_assembler *a);
/* The apiserver process whose calls these are, stamped on every record (0 by default: unknown). */
void etcd_asm_set_apiserver_pid(struct etcd_assembler *a, uint32_t pid);

/*
 * Optional: whether v is the context of a request the caller knows (in flight, or ended and not yet
 * delivered) that started no later than start_mono and, if it ended, not before start_mono: the
 * request a call with that context in its chain belongs to. A held call is then indexed under that
 * context alone instead of its whole chain: the chain's other contexts (the server's, the connection's,
 * the handler's own) are never a request's, and indexing 20 of them per call is most of the join's
 * cost. The chain is asked from its outermost context in, up to the first known one. A call none of
 * whose contexts is known is indexed whole, as without fn.
 */
typedef bool (*etcd_request_ctx_fn)(void *ctx, uint64_t v, uint64_t start_mono);
void etcd_asm_set_request_ctx_fn(struct etcd_assembler *a, etcd_request_ctx_fn fn, void *ctx);

void etcd_asm_start(struct etcd_assembler *a, const struct kp_grpc_start *ev);
void etcd_asm_end(struct etcd_assembler *a, const struct kp_grpc_end *ev);
/* An apiserver request finished: ctx is its context object; times are CLOCK_MONOTONIC ns. */
void etcd_asm_request_done(struct etcd_assembler *a, uint64_t ctx, uint64_t start_mono, uint64_t end_mono,
			   uint64_t request_id);
/* What the request (ctx, lifetime as for etcd_asm_request_done) cost in etcd so far: the sums over the
 * calls held for it (call it just before etcd_asm_request_done, which emits them). Calls that end after
 * their request was done are not in it. */
struct etcd_cost {
	uint64_t calls, resp_bytes, kvs;
};
void etcd_asm_request_cost(struct etcd_assembler *a, uint64_t ctx, uint64_t start_mono, uint64_t end_mono,
			   struct etcd_cost *out);
/* What etcd returned for one call, from its end event, into its record (pure; exposed for tests). */
void etcd_end_to_record(const struct kp_grpc_end *ev, struct etcd_record *rec);
/* Events received on watch streams, counted per resource (from each response's first key). */
void etcd_asm_watch_resp(struct etcd_assembler *a, const struct kp_watch_resp *ev);
#define ETCD_WATCH_RES_MAX 64
struct etcd_watch_res {
	char resource[REC_FIELD_LEN]; /* "configmaps", "leases.coordination.k8s.io"; "(other)" when full */
	uint64_t events;
};
/* Per-resource watch event counts; returns the number of entries. */
size_t etcd_asm_watch_by_resource(const struct etcd_assembler *a, const struct etcd_watch_res **out);

/* Emit calls that waited hold_ns without a parent; forget old requests. */
void etcd_asm_tick(struct etcd_assembler *a, uint64_t now_mono);
/* Emit everything held (end of recording). */
void etcd_asm_flush(struct etcd_assembler *a);
const struct etcd_asm_stats *etcd_asm_get_stats(const struct etcd_assembler *a);
void etcd_asm_set_sample_factor(struct etcd_assembler *a, double f);
/* Budget mode: weight = fn(ctx, the call's start CLOCK_MONOTONIC stamp) (see asm_set_weigher). */
void etcd_asm_set_weigher(struct etcd_assembler *a, double (*fn)(void *ctx, uint64_t start_mono_ns), void *ctx);

#endif
