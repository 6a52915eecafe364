/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The aggregate sink: records from the pipeline into the live aggregation (aggregate/aggregate.h)
 * and, optionally, etcd calls into the etcd aggregation (aggregate/etcd_agg.h, with the request rows
 * each linked call belongs to) and cumulative etcd rows for the Prometheus file. In-flight counts are
 * a snapshot of the pipeline's pending requests (agg_sink_inflight_snapshot, at each refresh: a lost
 * end or a replaced start can never leave a count behind). Used by `top` (screen, batch, JSON,
 * Prometheus textfile).
 */
#ifndef KAPIMON_AGG_SINK_H
#define KAPIMON_AGG_SINK_H

#include <stdint.h>

#include "aggregate/aggregate.h"
#include "aggregate/conn_agg.h"
#include "aggregate/etcd_agg.h"
#include "output/prometheus.h"
#include "pipeline/pipeline.h"

struct agg_sink {
	struct agg *agg;
	struct etcd_agg *ea;              /* NULL: etcd calls are not aggregated */
	struct prom_etcd_row *prom_etcd;  /* NULL: no cumulative etcd rows */
	uint32_t nprom_etcd, prom_etcd_max;
	struct conn_agg *ca;              /* NULL: connections are not aggregated */
};

/* ea may be NULL. */
void agg_sink_init(struct agg_sink *s, struct agg *agg, struct etcd_agg *ea);
/* Also keep cumulative etcd calls per (op, resource) in rows[max] (for prom_write_file). */
void agg_sink_keep_prom_etcd(struct agg_sink *s, struct prom_etcd_row *rows, uint32_t max);
/* Also aggregate connections per client / etcd endpoint into ca. */
void agg_sink_keep_conns(struct agg_sink *s, struct conn_agg *ca);
/* The sink interface to attach with pipeline_add_sink (ctx = s). */
struct pipeline_sink agg_sink_iface(struct agg_sink *s);
/* In flight per row := the requests pending in p now. */
void agg_sink_inflight_snapshot(struct agg_sink *s, const struct pipeline *p);

#endif
