// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Synthetic check of the aggregations (aggregate.h, etcd_agg.h) on a varied stream, the counterpart of
 * the replay corpus (one key): many keys of every field (long, cut, grouped and core resources,
 * non-resource paths with queries, IPv4/IPv6/odd clients, unknown users and APF levels, verbs from
 * methods), bursts of one key between random ones, small tables (evictions, cell overflow), late and
 * ongoing records, odd weights, statuses and latencies, linked and unlinked etcd calls, in-flight
 * snapshots; in the second run three groupings counted, the others enabled halfway. Bytes after each string's NUL are garbage, as in records. Deterministic (fixed seed).
 *
 *   agg_synth [-o FILE] [-n RECORDS]   -o: the query results at every step (tests/bench/agg_dump.h),
 *                                      to compare two builds byte for byte
 *   valgrind --tool=callgrind --toggle-collect=agg_add_rows --toggle-collect=etcd_agg_add \
 *            --toggle-collect=etcd_agg_request build/bench/agg_synth      (Ir / records)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_dump.h"
#include "aggregate/aggregate.h"
#include "aggregate/etcd_agg.h"

#define BASE_NS 1764460800000000000ULL
#define SEC 1000000000ULL

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t rn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* Skewed pick in [0, n): small values far more often. */
static uint32_t skew(uint32_t n)
{
	uint32_t a = rn(n), b = rn(n), c = rn(n);

	a = a < b ? a : b;
	return a < c ? a : c;
}

/* s into a field of cap bytes: the bytes after the NUL are garbage; a string of cap bytes or more fills
 * the field without a NUL */
static void put(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < cap; i++)
		dst[i] = (char)(0x21 + rn(90));
	if (n >= cap) {
		memcpy(dst, s, cap);
		return;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void long_str(char *buf, size_t n, char c, uint32_t salt)
{
	memset(buf, c, n);
	buf[n] = '\0';
	buf[0] = (char)('a' + salt % 26);
}

static void make_record(struct request_record *r, uint64_t id, uint64_t now_ns)
{
	static const char *const verbs[] = { "get", "list", "watch", "create", "update", "patch", "delete", "" };
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "Get" };
	static const char *const groups[] = { "", "", "apps", "batch", "coordination.k8s.io", "rbac.authorization.k8s.io" };
	static const char *const resources[] = { "pods", "configmaps", "leases", "deployments", "secrets", "events", "" };
	static const char *const subs[] = { "", "", "", "status", "log", "scale" };
	static const char *const paths[] = { "/healthz", "/metrics?x=1", "/version", "/openapi/v2?timeout=32s", "/livez",
					     "/apis", "" };
	static const int statuses[] = { 200, 200, 200, 201, 404, 409, 429, 500, 503, 0, 99, 600, 301, 101 };
	static const double factors[] = { 1, 1, 1, 2.5, 0.001, 0, -1, NAN, 1e9 };
	char buf[600];
	uint32_t k = skew(400);

	memset(r, 0x5a, sizeof(*r));
	r->id = id;
	r->latency_ns = rn(10) == 0 ? rn(2000) : rn(10) == 0 ? (uint64_t)rn(100) * SEC : (uint64_t)rn(50000000) + 1000;
	r->start_ns = now_ns - r->latency_ns - (rn(20) == 0 ? (uint64_t)rn(60) * SEC : rn(SEC / 2));
	r->bytes_in = -1;
	r->bytes_out = rn(8) == 0 ? -1 : (int64_t)rn(1 << 20);
	r->sample_factor = factors[rn(sizeof(factors) / sizeof(*factors))];
	r->has_etcd_cost = rn(2);
	r->etcd_calls = rn(3);
	r->etcd_resp_bytes = rn(100000);
	r->etcd_kvs = rn(100);
	r->status = statuses[rn(sizeof(statuses) / sizeof(*statuses))];
	r->ongoing = rn(50) == 0;
	r->has_user = rn(5) != 0;
	r->ri.is_resource_request = k % 7 != 0;
	put(r->ri.verb, sizeof(r->ri.verb), verbs[k % 8]);
	put(r->method, sizeof(r->method), methods[k % 7]);
	put(r->ri.group, sizeof(r->ri.group), groups[k % 6]);
	if (k % 37 == 5) {
		long_str(buf, 200, 'r', k);
		put(r->ri.resource, sizeof(r->ri.resource), buf);
		put(r->ri.group, sizeof(r->ri.group), buf);
	} else {
		put(r->ri.resource, sizeof(r->ri.resource), resources[k % 7]);
	}
	put(r->ri.subresource, sizeof(r->ri.subresource), subs[k / 3 % 6]);
	snprintf(buf, sizeof(buf), k % 11 ? "ns-%u" : "", k % 23);
	put(r->ri.namespace_, sizeof(r->ri.namespace_), buf);
	if (k % 53 == 7)
		long_str(buf, 560, '/', k);
	else
		snprintf(buf, sizeof(buf), "%s", paths[k % 7]);
	put(r->path, sizeof(r->path), buf);
	if (k % 61 == 3)
		long_str(buf, 300, 'u', k);
	else
		snprintf(buf, sizeof(buf), "agent-%u/v1.%u (linux/amd64) kubernetes/%08x", k % 97, k % 5, k * 2654435761u);
	put(r->user_agent, sizeof(r->user_agent), buf);
	switch (k % 6) {
	case 0: snprintf(buf, sizeof(buf), "10.0.%u.%u:%u", k % 3, k % 13, 30000 + rn(1000)); break;
	case 1: snprintf(buf, sizeof(buf), "[fd00::%x]:%u", k % 9, 30000 + rn(1000)); break;
	case 2: snprintf(buf, sizeof(buf), "fd00::%x", k % 9); break;
	case 3: snprintf(buf, sizeof(buf), "[fd00::%x", k % 9); break;
	case 4: snprintf(buf, sizeof(buf), "host-%u", k % 4); break;
	default: snprintf(buf, sizeof(buf), "127.0.0.1:%u", 40000 + rn(100)); break;
	}
	put(r->client, sizeof(r->client), buf);
	if (k % 71 == 1)
		long_str(buf, 130, 's', k);
	else
		snprintf(buf, sizeof(buf), "system:serviceaccount:ns-%u:sa-%u", k % 17, k % 29);
	put(r->user, sizeof(r->user), buf);
	snprintf(buf, sizeof(buf), k % 4 ? "level-%u" : "", k % 5);
	put(r->apf.priority_level, sizeof(r->apf.priority_level), buf);
	snprintf(buf, sizeof(buf), k % 8 ? "uid-%u" : "", k % 3);
	put(r->apf.priority_level_uid, sizeof(r->apf.priority_level_uid), buf);
}

static void make_etcd(struct etcd_record *e, uint64_t last_id, uint64_t now_ns)
{
	static const char *const ops[] = { "range", "range", "txn", "put", "delete", "lease_grant", "" };
	static const char *const res[] = { "pods", "configmaps", "leases", "deployments", "", "events" };
	static const char *const groups[] = { "", "", "apps", "coordination.k8s.io" };
	uint32_t k = skew(60);
	char buf[300];

	memset(e, 0x5a, sizeof(*e));
	e->latency_ns = rn(10) == 0 ? rn(2000) : (uint64_t)rn(20000000) + 1000;
	e->start_ns = now_ns - e->latency_ns - (rn(30) == 0 ? (uint64_t)rn(5) * SEC : rn(SEC / 4));
	e->req_size = rn(5) == 0 ? -1 : (int64_t)rn(5000);
	e->request_id = rn(4) == 0 ? 0 : rn(10) == 0 ? last_id + 100000 : last_id - rn(last_id < 300 ? (uint32_t)last_id + 1 : 300);
	e->sample_factor = rn(10) ? 1 : 3.5;
	e->grpc_status = rn(20) == 0 ? (int32_t)rn(15) - 1 : 0;
	e->stream = rn(40) == 0;
	put(e->op, sizeof(e->op), k % 43 == 1 ? "a-very-long-operation-name-over-24" : ops[k % 7]);
	if (k % 29 == 2) {
		long_str(buf, 140, 'g', k);
		put(e->resource, sizeof(e->resource), buf);
		put(e->group, sizeof(e->group), buf);
	} else {
		snprintf(buf, sizeof(buf), "%s%s", res[k % 6], k > 30 ? "x" : "");
		put(e->resource, sizeof(e->resource), buf);
		put(e->group, sizeof(e->group), groups[k % 4]);
	}
}

struct synth {
	struct agg *a;
	struct etcd_agg *ea;
	struct request_record *pending; /* in flight, for the snapshots */
	uint32_t npending;
};

/* The measured calls are agg_add_rows, etcd_agg_request, etcd_agg_add (callgrind --toggle-collect). */
static void run(struct synth *s, long nrec, FILE *dump, uint32_t max_keys, uint32_t cells, uint32_t window, uint32_t tables)
{
	struct agg_params ap;
	struct etcd_agg_params ep;
	struct request_record *r = malloc(sizeof(*r)), *burst = malloc(sizeof(*burst));
	struct etcd_record *er = malloc(sizeof(*er));
	uint64_t now = BASE_NS + SEC / 3, next_step = BASE_NS + SEC, snaps = 0;
	long left_burst = 0;

	agg_params_for_window(&ap, window);
	ap.max_keys = max_keys;
	ap.cells_per_step = cells;
	ap.tables = tables;
	s->a = agg_new(&ap, BASE_NS + SEC / 3);
	etcd_agg_params_default(&ep);
	ep.nsteps = window + 1;
	ep.max_keys = max_keys / 2;
	ep.cells_per_step = cells;
	ep.link_rows = max_keys + 1;
	ep.recent = 256;
	s->ea = etcd_agg_new(&ep, BASE_NS + SEC / 3);
	s->pending = calloc(64, sizeof(*s->pending));
	if (!s->a || !s->ea || !r || !burst || !er || !s->pending)
		exit(1);
	agg_set_evict_hook(s->a, etcd_agg_evict_hook, s->ea);
	for (long i = 1; i <= nrec; i++) {
		uint32_t rows[AGG__NTABLES];

		now += rn(2 * SEC / 1000) + 1; /* ~1000 records a second */
		if (i == nrec / 2) /* the groupings not counted so far, from now on (top's key b) */
			agg_enable_tables(s->a, AGG_ALL_TABLES, now);
		if (now >= next_step) {
			agg_advance(s->a, now);
			etcd_agg_advance(s->ea, now);
			agg_update_anomaly(s->a, NULL, NULL);
			agg_inflight_clear(s->a);
			for (uint32_t j = 0; j < s->npending; j++)
				agg_inflight(s->a, &s->pending[j], 1);
			if (dump)
				agg_dump(dump, s->a, s->ea, snaps);
			snaps++;
			s->npending = 0;
			next_step += SEC;
		}
		if (left_burst > 0) {
			/* a run of one key: only the times and numbers change */
			left_burst--;
			burst->id = (uint64_t)i;
			burst->latency_ns = (uint64_t)rn(30000000) + 1000;
			burst->start_ns = now - burst->latency_ns;
			burst->status = rn(30) ? 200 : 503;
			burst->bytes_out = rn(100000);
			memcpy(r, burst, sizeof(*r));
		} else {
			make_record(r, (uint64_t)i, now);
			if (rn(40) == 0) {
				left_burst = rn(400);
				memcpy(burst, r, sizeof(*r));
				burst->ongoing = false;
			}
		}
		if (r->ongoing && s->npending < 64)
			memcpy(&s->pending[s->npending++], r, sizeof(*r));
		if (agg_add_rows(s->a, r, rows))
			etcd_agg_request(s->ea, r->id, r->start_ns + r->latency_ns, rows);
		for (uint32_t j = rn(3); j; j--) {
			make_etcd(er, (uint64_t)i, now);
			etcd_agg_add(s->ea, er);
		}
	}
	if (dump)
		agg_dump(dump, s->a, s->ea, snaps);
	agg_free(s->a);
	etcd_agg_free(s->ea);
	free(s->pending);
	free(r);
	free(burst);
	free(er);
}

int main(int argc, char **argv)
{
	FILE *dump = NULL;
	long n = 60000;
	struct synth s = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			dump = fopen(argv[++i], "w");
			if (!dump) {
				perror(argv[i]);
				return 1;
			}
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: agg_synth [-o FILE] [-n RECORDS]\n");
			return 2;
		}
	}
	/* small tables: evictions, cell overflow, "(other)"; then top's sizes */
	run(&s, n, dump, 48, 600, 3, AGG_ALL_TABLES);
	run(&s, n, dump, 4096, 12288, 1, AGG_TABLE_BIT(AGG_BY_KEY) | AGG_TABLE_BIT(AGG_BY_VERB_RESOURCE) | AGG_TABLE_BIT(AGG_BY_CLIENT));
	printf("agg_synth: 2 x %ld records\n", n);
	if (dump)
		fclose(dump);
	return 0;
}
