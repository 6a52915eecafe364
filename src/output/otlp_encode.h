/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * OTLP trace encoding (pure: no I/O, no allocation). Turns records into OpenTelemetry spans in the
 * binary protobuf wire format of opentelemetry-proto (collector/trace/v1 ExportTraceServiceRequest →
 * trace/v1 ResourceSpans → resource/v1 Resource + ScopeSpans → Span; common/v1 KeyValue/AnyValue).
 *
 *   one SERVER span per apiserver request (struct request_record)
 *   one CLIENT span per etcd round trip (struct etcd_record; stream messages are not round trips)
 *
 * A linked etcd call (request_id != 0) gets its request's trace id and the request's span as parent.
 * Ids are derived from kapimon's request id (etcd calls: a per-exporter sequence number) and a per-run
 * seed, so they are never all-zero and need no table: an etcd call can be encoded before its request
 * has ended. Attribute names and the span shape are documented in docs/otlp.md.
 *
 * Strings are written as valid UTF-8 (invalid bytes become U+FFFD, as in the JSON writer); the path is
 * sanitised again (query credentials → REDACTED); etcd values and headers other than User-Agent never
 * reach a span (records do not carry them).
 */
#ifndef KAPIMON_OUTPUT_OTLP_ENCODE_H
#define KAPIMON_OUTPUT_OTLP_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"

/* Upper bound of one encoded span (ScopeSpans.spans tag + length + Span): every string of a record is
 * bounded (REC_*_LEN), each may grow 3x by U+FFFD replacement. */
#define OTLP_SPAN_MAX 16384
/* Upper bound of what otlp_encode_export adds around the spans (resource strings are cut to
 * OTLP_RES_STR_MAX bytes). */
#define OTLP_RES_STR_MAX 256
#define OTLP_EXPORT_OVERHEAD 4096

enum otlp_span_kind { OTLP_KIND_SERVER = 2, OTLP_KIND_CLIENT = 3 };

/* Per-run id keys, derived from one 64-bit seed. */
struct otlp_ids {
	uint64_t k[6];
};

struct otlp_resource {
	const char *service_name;    /* "kube-apiserver" when NULL */
	const char *service_version; /* apiserver version, omitted when NULL/"" */
	const char *host_name;       /* omitted when NULL/"" */
	int64_t pid;                 /* apiserver pid, omitted when <= 0 */
	const char *scope_version;   /* kapimon version (InstrumentationScope.version), omitted when NULL/"" */
};

void otlp_ids_init(struct otlp_ids *ids, uint64_t seed);
/* Trace id (16 bytes) and span id (8 bytes) of the request with kapimon id request_id. */
void otlp_request_ids(const struct otlp_ids *ids, uint64_t request_id, uint8_t trace_id[16], uint8_t span_id[8]);
/* Ids of the etcd call with sequence number seq: linked (request_id != 0) calls share the request's
 * trace and have its span as parent (*has_parent true); others start a trace of their own. */
void otlp_etcd_ids(const struct otlp_ids *ids, uint64_t request_id, uint64_t seq, uint8_t trace_id[16],
		   uint8_t span_id[8], uint8_t parent_span_id[8], bool *has_parent);
/* The 64 low bits of a trace id, as used by the sampling decision (otlp_sampled). */
uint64_t otlp_trace_key(const uint8_t trace_id[16]);

/*
 * Encode one span as a ScopeSpans.spans field (tag, length, Span) into buf. end_ns_if_ongoing is the
 * end time used when r->ongoing (the moment the recording stopped). Returns the bytes written, or 0
 * when cap is too small (OTLP_SPAN_MAX always suffices) or (etcd) the record is a stream message.
 */
size_t otlp_encode_request_span(const struct otlp_ids *ids, const struct request_record *r,
				uint64_t end_ns_if_ongoing, uint8_t *buf, size_t cap);
size_t otlp_encode_etcd_span(const struct otlp_ids *ids, const struct etcd_record *e, uint64_t seq,
			     uint8_t *buf, size_t cap);

/* Wrap spans (a concatenation of the fields above) into an ExportTraceServiceRequest with one
 * ResourceSpans and one ScopeSpans (scope "kapimon"). Returns the bytes written, 0 when cap is too
 * small (spans_len + OTLP_EXPORT_OVERHEAD always suffices). */
size_t otlp_encode_export(const struct otlp_resource *res, const uint8_t *spans, size_t spans_len,
			  uint8_t *out, size_t cap);

/* Read an ExportTraceServiceResponse: *rejected = partial_success.rejected_spans (0 when absent),
 * msg = partial_success.error_message (cut, NUL-terminated; "" when absent). An empty body is a full
 * success. Returns 0, or -1 when the body is not a valid message. */
int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected, char *msg, size_t msgcap);

#endif
