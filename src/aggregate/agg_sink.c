// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/agg_sink.h"

#include <stdio.h>

void agg_sink_init(struct agg_sink *s, struct agg *agg, struct etcd_agg *ea)
{
	*s = (struct agg_sink){ .agg = agg, .ea = ea };
}

void agg_sink_keep_prom_etcd(struct agg_sink *s, struct prom_etcd_row *rows, uint32_t max)
{
	s->prom_etcd = rows;
	s->prom_etcd_max = max;
	s->nprom_etcd = 0;
}

static void on_request(void *ctx, const struct request_record *r)
{
	struct agg_sink *s = ctx;
	uint32_t rows[AGG__NTABLES];

	if (!agg_add_rows(s->agg, r, rows))
		return; /* still running when capture stopped */
	/* the pipeline delivers a request before the etcd calls held for it: announce its rows first */
	if (s->ea)
		etcd_agg_request(s->ea, r->id, r->start_ns + r->latency_ns, rows);
}

static void on_etcd(void *ctx, const struct etcd_record *r)
{
	struct agg_sink *s = ctx;

	if (s->ea)
		etcd_agg_add(s->ea, r);
	if (s->prom_etcd && !r->stream) {
		char res[2 * REC_FIELD_LEN + 2];

		snprintf(res, sizeof(res), "%s%s%s", r->resource, r->group[0] ? "." : "", r->group);
		prom_etcd_add(s->prom_etcd, &s->nprom_etcd, s->prom_etcd_max, r->op, res,
			      r->sample_factor > 0 ? r->sample_factor : 1, r->grpc_status > 0, (double)r->latency_ns / 1e9);
	}
}

void agg_sink_keep_conns(struct agg_sink *s, struct conn_agg *ca)
{
	s->ca = ca;
}

static void on_conn(void *ctx, const struct conn_record *r)
{
	struct agg_sink *s = ctx;

	if (s->ca)
		conn_agg_add(s->ca, r);
}

struct pipeline_sink agg_sink_iface(struct agg_sink *s)
{
	return (struct pipeline_sink){ .name = "aggregate", .request = on_request, .etcd = on_etcd, .conn = on_conn,
				       .ctx = s };
}

static void add_pending(const struct request_record *r, void *ctx)
{
	agg_inflight(((struct agg_sink *)ctx)->agg, r, +1);
}

void agg_sink_inflight_snapshot(struct agg_sink *s, const struct pipeline *p)
{
	agg_inflight_clear(s->agg);
	pipeline_foreach_pending(p, add_pending, s);
}
