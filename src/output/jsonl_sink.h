/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The JSON-lines sink: every record the pipeline delivers (request, etcd, conn opens and closes) as one line of
 * docs/records.md, plus the periodic {"kind":"stats"} line. Used by `record` (and `agent --flows`).
 */
#ifndef KAPIMON_JSONL_SINK_H
#define KAPIMON_JSONL_SINK_H

#include <stdint.h>
#include <stdio.h>

#include "aggregate/live_anomaly.h"
#include "assemble/stats.h"
#include "output/json_writer.h"
#include "pipeline/pipeline.h"

struct jsonl_sink {
	FILE *out;
	struct json_writer w;
	uint64_t requests, etcd_records, stats_records; /* lines written */
	uint64_t conn_records, anomaly_records;
};

void jsonl_sink_init(struct jsonl_sink *j, FILE *out);
/* The sink interface to attach with pipeline_add_sink (ctx = j). */
struct pipeline_sink jsonl_sink_iface(struct jsonl_sink *j);
void jsonl_sink_stats(struct jsonl_sink *j, const struct record_stats *s);
/* A {"kind":"anomaly"} line (output/anomaly_out.h). */
void jsonl_sink_anomaly(struct jsonl_sink *j, const struct anomaly_record *r);
/* Write to another file from now on (a rotated or reopened one); counters are kept. */
void jsonl_sink_set_out(struct jsonl_sink *j, FILE *out);

#endif
