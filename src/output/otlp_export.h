/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * OTLP/HTTP trace exporter: a sink that turns request and etcd records into spans (otlp_encode.h) and
 * POSTs them, batched, as application/x-protobuf to URL/v1/traces from its own thread.
 *
 * The caller's side (otlp_exporter_add_*) never waits for the network: it samples, encodes the span
 * into a stack buffer and appends it to a bounded queue under a lock that the sender holds only to
 * copy a batch out. When the queue is full the span is dropped and counted. The sender batches by
 * size and age, retries 429/502/503/504 and connection failures with exponential backoff and jitter
 * (Retry-After honoured), and counts everything (struct otlp_exporter_stats, for metrics).
 *
 * Wiring: create one exporter per apiserver (the resource names its pid and version), call
 * otlp_exporter_add_request for every finished request record and otlp_exporter_add_etcd for every
 * etcd record, read otlp_exporter_stats for metrics, and otlp_exporter_close at shutdown.
 * Thread-safe: add/stats/flush may be called from any thread.
 */
#ifndef KAPIMON_OUTPUT_OTLP_EXPORT_H
#define KAPIMON_OUTPUT_OTLP_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "output/otlp_encode.h"

struct otlp_exporter;

struct otlp_exporter_config {
	const char *url;               /* "http://host[:port][/base]"; "/v1/traces" is appended */
	struct otlp_resource resource; /* strings are copied; host_name NULL → gethostname() */
	uint32_t sample_per_million;   /* traces kept per million (1,000,000 = all) */
	uint32_t queue_spans;          /* queue bound in spans */
	size_t queue_bytes;            /* queue bound in bytes of encoded spans */
	uint32_t batch_spans;          /* send when this many spans wait ... */
	uint32_t batch_delay_ms;       /* ... or the oldest waiting span is this old */
	uint32_t timeout_ms;           /* connect / send / receive timeout of one attempt */
	uint32_t max_attempts;         /* attempts per batch, the first included */
	uint32_t backoff_initial_ms;   /* first retry delay (before jitter) */
	uint32_t backoff_max_ms;       /* cap of the retry delay */
	uint32_t retry_after_max_ms;   /* cap of a server's Retry-After */
	uint64_t seed;                 /* id seed; 0 → random (getrandom) */
};

/* Counters since otlp_exporter_new (spans unless named otherwise). Every span handed to add_* ends in
 * exactly one of: sampled_out, skipped, encode_errors, dropped, or queued; every queued span in sent,
 * rejected or failed (or is still in the queue / in flight). */
struct otlp_exporter_stats {
	uint64_t queued;        /* accepted into the queue */
	uint64_t sent;          /* accepted by the receiver */
	uint64_t dropped;       /* queue full: never sent */
	uint64_t failed;        /* not delivered: retries used up, a non-retryable status, or the shutdown deadline */
	uint64_t rejected;      /* the receiver's partial_success.rejected_spans */
	uint64_t sampled_out;   /* not kept by the sampling ratio */
	uint64_t skipped;       /* etcd stream messages (not round trips: no span) */
	uint64_t encode_errors; /* could not be encoded (never expected) */
	uint64_t export_errors; /* failed HTTP attempts (connection errors and non-2xx statuses) */
	uint64_t retries;       /* attempts after the first */
	uint64_t batches;       /* successful POSTs */
	uint64_t queue_len;     /* spans waiting now */
	uint64_t queue_capacity;
	int last_status;        /* HTTP status of the last attempt; -1 connection error, 0 none yet */
};

void otlp_exporter_config_default(struct otlp_exporter_config *c);
/* NULL with a message in err on a bad URL or configuration, or when the thread cannot start. */
struct otlp_exporter *otlp_exporter_new(const struct otlp_exporter_config *cfg, char *err, size_t errcap);
/* Returns 0 when queued, 1 when not kept (sampling; etcd stream message), -1 when dropped. */
int otlp_exporter_add_request(struct otlp_exporter *ex, const struct request_record *r);
int otlp_exporter_add_etcd(struct otlp_exporter *ex, const struct etcd_record *e);
void otlp_exporter_stats(struct otlp_exporter *ex, struct otlp_exporter_stats *s);
/* Send what is queued now without waiting for a full batch; wait until it was sent or failed, at most
 * timeout_ms. Returns 0, or -1 on timeout. */
int otlp_exporter_flush(struct otlp_exporter *ex, uint32_t timeout_ms);
/* Stop: try to send what is queued for at most flush_timeout_ms (retries included), count the rest as
 * failed, join the thread, free. final (may be NULL) receives the last counters. */
void otlp_exporter_close(struct otlp_exporter *ex, uint32_t flush_timeout_ms, struct otlp_exporter_stats *final);

#endif
