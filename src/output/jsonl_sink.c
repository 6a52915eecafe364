// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/jsonl_sink.h"

#include "assemble/record_json.h"
#include "output/anomaly_out.h"

void jsonl_sink_init(struct jsonl_sink *j, FILE *out)
{
	j->out = out;
	jw_init(&j->w, out, false);
	j->requests = j->etcd_records = j->stats_records = j->conn_records = j->anomaly_records = 0;
}

static void on_request(void *ctx, const struct request_record *r)
{
	struct jsonl_sink *j = ctx;

	record_json_request(&j->w, r);
	fputc('\n', j->out);
	j->requests++;
}

static void on_etcd(void *ctx, const struct etcd_record *r)
{
	struct jsonl_sink *j = ctx;

	record_json_etcd(&j->w, r);
	fputc('\n', j->out);
	j->etcd_records++;
}

static void on_conn(void *ctx, const struct conn_record *r)
{
	struct jsonl_sink *j = ctx;

	if (r->event != REC_CONN_OPEN && r->event != REC_CONN_CLOSE)
		return;
	record_json_conn(&j->w, r);
	fputc('\n', j->out);
	j->conn_records++;
}

struct pipeline_sink jsonl_sink_iface(struct jsonl_sink *j)
{
	return (struct pipeline_sink){ .name = "jsonl", .request = on_request, .etcd = on_etcd, .conn = on_conn, .ctx = j };
}

void jsonl_sink_stats(struct jsonl_sink *j, const struct record_stats *s)
{
	record_json_stats(&j->w, s);
	fputc('\n', j->out);
	j->stats_records++;
}

void jsonl_sink_anomaly(struct jsonl_sink *j, const struct anomaly_record *r)
{
	anomaly_json(&j->w, r);
	fputc('\n', j->out);
	j->anomaly_records++;
}

void jsonl_sink_set_out(struct jsonl_sink *j, FILE *out)
{
	jw_flush(&j->w);
	j->out = out;
	j->w.out = out;
}
