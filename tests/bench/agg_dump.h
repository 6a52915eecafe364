/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Everything the aggregations answer, as text (floats in %a: exact), for comparing two builds byte
 * for byte: every table's query rows (k = 1 and the whole window), its cumulative totals and in-flight
 * counts, the untracked bounds and request histories, the stats; the etcd aggregation's rows, total,
 * linked calls per request row and stats. Used by tests/bench/replay.c (top -o) and agg_synth.c.
 */
#ifndef KAPIMON_BENCH_AGG_DUMP_H
#define KAPIMON_BENCH_AGG_DUMP_H

#include <stdio.h>
#include <stdlib.h>

#include "aggregate/aggregate.h"
#include "aggregate/etcd_agg.h"

static void agg_dump_key(FILE *f, const struct agg_key *k)
{
	fprintf(f, " [%s|%s|%s|%s|%s|%s|%s|%s]", k->user_agent, k->verb, k->resource, k->subresource, k->client,
		k->namespace_, k->user, k->priority_level);
}

static void agg_dump(FILE *f, struct agg *a, struct etcd_agg *ea, uint64_t label)
{
	const struct agg_params *p = agg_get_params(a);
	const struct agg_stats *st = agg_get_stats(a);
	size_t cap = (size_t)p->max_keys + 1;
	struct agg_row *rows = calloc(cap, sizeof(*rows));
	uint32_t ks[2] = { 1, p->nsteps - p->cause_steps };
	uint64_t cur = agg_current_step(a);

	if (!rows)
		return;
	fprintf(f, "== snapshot %llu step %llu oldest %llu\n", (unsigned long long)label, (unsigned long long)cur,
		(unsigned long long)agg_oldest_step(a));
	fprintf(f, "stats records %llu ongoing %llu late %llu cell_overflow %llu evicted", (unsigned long long)st->records,
		(unsigned long long)st->ongoing, (unsigned long long)st->late, (unsigned long long)st->cell_overflow);
	for (int t = 0; t < AGG__NTABLES; t++)
		fprintf(f, " %llu", (unsigned long long)st->evicted[t]);
	fprintf(f, "\n");
	for (uint64_t s = cur >= p->nsteps ? cur - p->nsteps : 0; s <= cur; s++)
		fprintf(f, "step %llu %a\n", (unsigned long long)s, agg_step_requests(a, s));
	for (int t = 0; t < AGG__NTABLES; t++) {
		size_t tn = agg_table_size(a, (enum agg_table)t);

		for (int ki = 0; ki < 2; ki++)
			for (int so = 0; so < AGG__NSORT; so++) {
				double span;
				size_t n = agg_query(a, (enum agg_table)t, ks[ki], (enum agg_sort)so, rows, cap, &span);

				fprintf(f, "query %s k %u sort %s: %zu rows span %a bound %a\n", agg_table_name((enum agg_table)t),
					ks[ki], agg_sort_name((enum agg_sort)so), n, span,
					agg_untracked_bound(a, (enum agg_table)t, ks[ki]));
				if (so && ki) /* the other sorts only order rows: compare their order in k = 1 */
					continue;
				for (size_t i = 0; i < n && i < cap; i++) {
					const struct agg_row *r = &rows[i];

					fprintf(f, " row %u%s", r->index, r->other ? " other" : "");
					agg_dump_key(f, r->key);
					if (so) {
						fprintf(f, "\n");
						continue;
					}
					fprintf(f, " req %a 4xx %a 429 %a 5xx %a bytes %a rate %a err %a brate %a eb %a ek %a "
						   "ebr %a ekr %a req_err %a rate_err %a since %llu p %a %a %a inflight %lld",
						r->req, r->e4xx, r->e429, r->e5xx, r->bytes, r->rate, r->err_pct, r->bytes_rate,
						r->etcd_bytes, r->etcd_kvs, r->etcd_bytes_rate, r->etcd_kvs_rate, r->req_err,
						r->rate_err, (unsigned long long)r->since_step, r->p50_ns, r->p90_ns, r->p99_ns,
						(long long)r->inflight);
					if (ea)
						fprintf(f, " linked %a", etcd_agg_linked(ea, (uint32_t)t, r->index, ks[ki]));
					fprintf(f, "\n");
				}
			}
		for (size_t i = 0; i < tn; i++) {
			const struct agg_cum *c;
			int64_t infl;
			bool other;
			const struct agg_key *k = agg_table_entry(a, (enum agg_table)t, i, &c, &infl, &other);

			if (!k)
				continue;
			fprintf(f, " entry %zu%s", i, other ? " other" : "");
			agg_dump_key(f, k);
			fprintf(f, " inflight %lld cum", (long long)infl);
			for (int j = 0; j < AGG__NCLASS; j++)
				fprintf(f, " %a", c->req[j]);
			fprintf(f, " %a %a %a %a le", c->bytes_out, c->etcd_bytes, c->etcd_kvs, c->latency_sum_s);
			for (int j = 0; j <= AGG_NLE; j++)
				fprintf(f, " %a", c->le[j]);
			fprintf(f, " hist");
			for (uint64_t s = cur >= p->nsteps ? cur - p->nsteps : 0; s <= cur; s++)
				fprintf(f, " %a", agg_entry_requests(a, (enum agg_table)t, i, s, s + 1));
			fprintf(f, "\n");
		}
	}
	free(rows);
	if (ea) {
		const struct etcd_agg_stats *es = etcd_agg_get_stats(ea);
		struct etcd_agg_row erows[1025], tot;

		for (uint32_t k = 1; k <= 2; k++) {
			double span;
			size_t n = etcd_agg_query(ea, k, erows, 1025, &tot, &span);

			fprintf(f, "etcd k %u: %zu rows span %a\n", k, n, span);
			for (size_t i = 0; i <= n && i < 1025; i++) {
				const struct etcd_agg_row *r = i < n ? &erows[i] : &tot;

				fprintf(f, " %s%s %s calls %a err %a rb %a linked %a rate %a errp %a rbr %a lr %a p %a %a %a\n",
					i < n ? "row" : "total", r->other ? " other" : "", r->key ? r->key->op : "-", r->calls,
					r->errors, r->req_bytes, r->linked, r->rate, r->err_pct, r->req_bytes_rate,
					r->linked_rate, r->p50_ns, r->p90_ns, r->p99_ns);
				if (r->key)
					fprintf(f, "  res %s\n", r->key->resource);
			}
		}
		fprintf(f, "etcd stats %llu %llu %llu %llu %llu %llu %llu %llu %llu\n", (unsigned long long)es->records,
			(unsigned long long)es->streams, (unsigned long long)es->deferred, (unsigned long long)es->late,
			(unsigned long long)es->overflow, (unsigned long long)es->cell_overflow,
			(unsigned long long)es->linked, (unsigned long long)es->attributed,
			(unsigned long long)es->unattributed);
	}
}

#endif
