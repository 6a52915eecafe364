/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus text exposition (format 0.0.4) of the live aggregate, for node-exporter's textfile
 * collector (`kapimon top --prometheus-file PATH`): no timestamps, one HELP/TYPE block per family.
 * Label values are escaped as the format requires (backslash, double quote, line feed) and bytes
 * that are not valid UTF-8 (user agents come off the wire) are replaced by U+FFFD.
 *
 * Families (counts are weighted by the records' sampling factor, so they may be fractional):
 *   kapimon_apiserver_requests_total{user_agent,verb,resource,subresource,code_class}  counter
 *       code_class: 1xx 2xx 3xx 4xx 429 5xx unknown (429 is not included in 4xx)
 *   kapimon_apiserver_response_bytes_total{user_agent,verb,resource,subresource}        counter
 *   kapimon_apiserver_inflight_requests{user_agent,verb,resource,subresource}           gauge
 *   kapimon_apiserver_request_duration_seconds{verb,resource}                            histogram
 *   kapimon_etcd_calls_total{op,resource}, kapimon_etcd_call_errors_total{op,resource},
 *   kapimon_etcd_call_seconds_total{op,resource}                                          counters
 *   kapimon_ringbuf_drops_total, kapimon_probe_hits_total{probe}, kapimon_uprobe_hits_per_request,
 *   kapimon_aggregate_records_total, kapimon_aggregate_overflow_total{table},
 *   kapimon_aggregate_quantile_overflow_total
 * Rows that did not fit the aggregate's tables appear with the label values "(other)".
 */
#ifndef KAPIMON_OUTPUT_PROMETHEUS_H
#define KAPIMON_OUTPUT_PROMETHEUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "aggregate/aggregate.h"

/* The groupings the request families are written from (agg_params.tables must count them). */
#define PROM_TABLES (AGG_TABLE_BIT(AGG_BY_KEY) | AGG_TABLE_BIT(AGG_BY_VERB_RESOURCE))

#define PROM_MAX_PROBES 16
#define PROM_MAX_ETCD 128

/* Cumulative etcd calls per (op, resource), weighted by sample_factor. */
struct prom_etcd_row {
	char op[24];
	char resource[128];
	double calls, errors, seconds;
};

/* kapimon's own health, from the capture (all optional: nprobes 0 leaves the probe family out). */
struct prom_health {
	uint64_t ringbuf_drops;
	double hits_per_request;
	uint32_t nprobes;
	const char *probe_names[PROM_MAX_PROBES];
	uint64_t probe_hits[PROM_MAX_PROBES];
	/* etcd (optional: netcd 0 leaves the etcd families out) */
	uint32_t netcd;
	const struct prom_etcd_row *etcd;
};

/* Add one etcd call to a cumulative table (rows, *n of at most max; a full table adds to an
 * "(other)" row in its last slot). */
void prom_etcd_add(struct prom_etcd_row *rows, uint32_t *n, uint32_t max, const char *op, const char *resource,
		   double weight, bool error, double seconds);

/* Metric name: [a-zA-Z_:][a-zA-Z0-9_:]*; label name: [a-zA-Z_][a-zA-Z0-9_]* not starting with "__". */
bool prom_valid_metric_name(const char *s);
bool prom_valid_label_name(const char *s);
/* Write s as a quoted, escaped label value. */
void prom_write_label_value(FILE *out, const char *s);
/* Write a sample value: integers without exponent, NaN, +Inf, -Inf, else %.17g. */
void prom_write_value(FILE *out, double v);

/* Render everything; returns 0 or -1 when writing failed. */
int prom_render(FILE *out, const struct agg *a, const struct prom_health *h);
/* Render into PATH atomically: write PATH.tmp.<pid> in the same directory, fsync, rename.
 * Returns 0 or -errno. */
int prom_write_file(const char *path, const struct agg *a, const struct prom_health *h);

#endif
