/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Prometheus sink of `kapimon agent --metrics`: a pipeline sink that keeps cumulative counters and
 * histograms of the records it is fed, and renders them with kapimon's health (passed in by the caller)
 * in the text exposition format 0.0.4, into memory for metrics_http_publish. Families, labels, buckets
 * and bounds: docs/metrics.md.
 *
 * Counts are weighted by the records' sample_factor (fractional in budget mode). Requests still running
 * (r->ongoing, from pipeline_flush) and etcd stream messages (r->stream) are not counted.
 *
 * Memory is bounded: every family has a fixed-capacity table allocated in prom_sink_new; a record whose
 * label set does not fit is added to the family's overflow row (every label "other") and counted in
 * kapimon_metrics_overflow_total{family}. The user_agent label of kapimon_requests_by_client_total is
 * bounded by a heavy-hitter summary (aggregate/hh.h) of (user_agent, verb, resource) keys: the heaviest
 * keys (decayed weight) keep their own series, the rest are added to user_agent="other" rows per
 * (verb, resource); an evicted key's count moves to its "other" row, so sums over user_agent are exact.
 *
 * Pure logic, no clock reads (the heavy-hitter clock is the records' end time). Not thread-safe: feed
 * and render on the pipeline's thread, then hand the text to the HTTP thread (metrics_http_publish
 * copies it).
 */
#ifndef KAPIMON_OUTPUT_PROM_SINK_H
#define KAPIMON_OUTPUT_PROM_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kapimon/events.h"
#include "pipeline/pipeline.h"

/* Capacities (rows with their own label set, per family); 0 in prom_sink_opts means these. */
#define PROM_SINK_REQ_ROWS 2048        /* kapimon_requests_total */
#define PROM_SINK_DUR_ROWS 512         /* kapimon_request_duration_seconds */
#define PROM_SINK_NONRES_PATHS 64      /* distinct non-resource paths (subresource label); more: "other" */
#define PROM_SINK_CLIENT_ROWS 256      /* kapimon_requests_by_client_total, heavy-hitter keys */
#define PROM_SINK_CLIENT_OTHER_ROWS 256 /* its user_agent="other" rows, per (verb, resource) */
#define PROM_SINK_ETCD_ROWS 512        /* kapimon_etcd_requests_total */
#define PROM_SINK_ETCD_DUR_ROWS 256    /* kapimon_etcd_request_duration_seconds; also kapimon_etcd_response_bytes_total
					 * and kapimon_etcd_range_keys (its resource rows) */
#define PROM_SINK_CONN_ROWS 256        /* kapimon_client_connection* / kapimon_etcd_connection*: groups (client
					* IPs, etcd endpoints) with their own series (aggregate/conn_agg.h) */
#define PROM_SINK_APF_ROWS 256         /* kapimon_requests_by_priority_level_total */
/* The heavy-hitter clock: steps of 10 s of record end time, weights decay with a time constant of 1 h. */
#define PROM_SINK_HH_STEP_NS 10000000000ULL
#define PROM_SINK_HH_DECAY_STEPS 360.0

struct prom_sink_opts {
	uint32_t req_rows, dur_rows, nonres_paths, client_rows, client_other_rows, etcd_rows, etcd_dur_rows;
	uint32_t conn_rows;
	uint32_t apf_rows; /* appended */
};

/* kapimon's own health, known to the caller (the agent) rather than to the records. */
#define PROM_SINK_MAX_OFFSET_GROUPS 8
struct prom_sink_health {
	uint64_t ringbuf_drops;          /* events lost because a ring buffer was full */
	const uint64_t *probe_hits;      /* KP_PROBE__COUNT counters (enum kp_probe); NULL: family left out */
	uint32_t apiservers_attached;
	uint32_t noffsets;               /* entries below (at most PROM_SINK_MAX_OFFSET_GROUPS) */
	const char *offsets_group[PROM_SINK_MAX_OFFSET_GROUPS];  /* probe group, e.g. "h2" */
	const char *offsets_source[PROM_SINK_MAX_OFFSET_GROUPS]; /* plan_group.offsets_source */
	double cpu_seconds;              /* kapimon's user + system CPU time; < 0: family left out */
	double budget_duty;              /* budget mode's duty (0..1); < 0: not in budget mode, left out */
};

struct prom_sink;

/* o may be NULL (defaults). NULL on OOM or a capacity above 2^24. */
struct prom_sink *prom_sink_new(const struct prom_sink_opts *o);
void prom_sink_free(struct prom_sink *s);
/* The sink interface to attach with pipeline_add_sink (ctx = s). */
struct pipeline_sink prom_sink_iface(struct prom_sink *s);

/* The same as the iface callbacks (for feeding records read from elsewhere). */
void prom_sink_request(struct prom_sink *s, const struct request_record *r);
void prom_sink_etcd(struct prom_sink *s, const struct etcd_record *r);
void prom_sink_conn(struct prom_sink *s, const struct conn_record *r);

/* Render every family (h may be NULL: health families left out). Returns 0 or -1 on a write error. */
int prom_sink_render(const struct prom_sink *s, const struct prom_sink_health *h, FILE *out);
/* The same into a malloc'ed, NUL-terminated buffer (*buf, *len) to free(); 0 or -1 (OOM). */
int prom_sink_render_mem(const struct prom_sink *s, const struct prom_sink_health *h, char **buf, size_t *len);

/* gRPC status code name as grpc-go spells it ("OK", "Unavailable"); "" for -1 (unknown); NULL out of range. */
const char *prom_grpc_code_name(int32_t code);

#endif
