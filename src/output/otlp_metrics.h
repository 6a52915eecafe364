/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The OTLP exporter's health as Prometheus families (text exposition 0.0.4), for `agent --metrics`
 * (appended after prom_sink_render's families; docs/otlp.md "Counters"):
 *
 *   kapimon_otlp_spans_total{result}          counter  every span handed to the exporter, by what became
 *       of it on the capture side: queued, dropped (queue full), sampled_out, skipped (etcd stream
 *       messages), encode_error, no_exporter (no exporter for its apiserver)
 *   kapimon_otlp_exported_spans_total{result} counter  every queued span that left the queue: sent,
 *       failed (retries used up, non-retryable status, shutdown deadline), rejected (partial success)
 *   kapimon_otlp_export_errors_total          counter  failed HTTP attempts (connection errors, non-2xx)
 *   kapimon_otlp_retries_total                counter  attempts after a batch's first
 *   kapimon_otlp_batches_total                counter  successful POSTs
 *   kapimon_otlp_queue_spans                  gauge    spans waiting now
 *   kapimon_otlp_queue_capacity_spans         gauge    the queue's bound
 *   kapimon_otlp_last_http_status             gauge    status of the last attempt, -1 connection error,
 *                                                      0 none yet (left out without exporters)
 */
#ifndef KAPIMON_OUTPUT_OTLP_METRICS_H
#define KAPIMON_OUTPUT_OTLP_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "output/otlp_export.h"

/* Counters summed over an agent's exporters (one per apiserver) and those already closed. */
struct otlp_metrics {
	struct otlp_exporter_stats st; /* sums; last_status: the most recent exporter's */
	uint64_t no_exporter;          /* records of an apiserver without an exporter */
	uint32_t exporters;            /* exporters open now (0: last_status left out) */
};

/* Add one exporter's counters (queue_len and queue_capacity are summed too). */
void otlp_metrics_add(struct otlp_metrics *m, const struct otlp_exporter_stats *s);
/* Write the families above; returns 0 or -1 when writing failed. */
int otlp_metrics_render(FILE *out, const struct otlp_metrics *m);

#endif
