/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Outputs of the live anomaly detector (aggregate/live_anomaly.h) for `kapimon agent`:
 *   - the {"kind":"anomaly"} JSON line of an anomaly record (docs/records.md), written into the flows;
 *   - the kapimon_anomaly_* Prometheus families of the detector's state (docs/metrics.md): bounded, one
 *     series per metric judged, and at most one cause series (the current event's) per metric.
 * Pure logic.
 */
#ifndef KAPIMON_OUTPUT_ANOMALY_OUT_H
#define KAPIMON_OUTPUT_ANOMALY_OUT_H

#include <stdio.h>

#include "aggregate/live_anomaly.h"
#include "output/json_writer.h"

/* One {"kind":"anomaly",...} object (no newline). */
void anomaly_json(struct json_writer *w, const struct anomaly_record *r);
/* The kapimon_anomaly_* families (text exposition format 0.0.4). */
void anomaly_prom_render(const struct live_anomaly *la, FILE *out);

#endif
