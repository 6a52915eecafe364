// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test driver of the Prometheus sink (tests/cli/test_prom_sink.sh): feeds synthetic records through
 * the sink's pipeline callbacks and prints the rendered exposition (with every health family) on
 * stdout, for a format checker (promtool, or tests/cli/prom_check.py).
 *
 *   prom_sink_dump [--small]   --small: tiny tables, so every family also has its overflow row
 *
 * The records: resource and non-resource requests of several verbs, codes and latencies (0 to 100 s),
 * hostile user agents (quotes, backslashes, newlines, invalid UTF-8), sampled records (fractional
 * weights), ongoing requests, etcd calls with every gRPC status and unknown ones, stream messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/kp_contract.h"
#include "output/prom_sink.h"

static void set(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s);
}

int main(int argc, char **argv)
{
	static const char *const verbs[] = { "get", "list", "watch", "create", "update", "patch", "delete",
					     "deletecollection" };
	static const char *const uas[] = { "kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19",
					   "kube-scheduler/v1.20.2", "evil\"} 1\n# TYPE x counter\nx_total 5",
					   "back\\slash", "bad utf8 \xff\xfe\x80", "caf\xc3\xa9", "", "other" };
	static const char *const res[][2] = { { "", "pods" }, { "", "nodes" }, { "apps", "deployments" },
					      { "coordination.k8s.io", "leases" }, { "", "events" } };
	static const char *const nonres[] = { "/healthz", "/readyz?verbose", "/version", "/openapi/v2",
					      "/weird\"path\\\n" };
	static const int codes[] = { 200, 201, 404, 409, 429, 500, 0 };
	static const char *const pls[][2] = { { "workload-low", "" }, { "", "cdd47590-6639-4f81-ae93-cd3845744465" },
					      { "evil\"} 1\npl", "" }, { "", "" } };
	struct prom_sink_opts small = { 3, 2, 2, 2, 2, 3, 2, 2, 2 };
	bool tiny = argc > 1 && !strcmp(argv[1], "--small");
	struct prom_sink *s = prom_sink_new(tiny ? &small : NULL);
	struct pipeline_sink ps;
	uint64_t hits[KP_PROBE__COUNT];
	struct prom_sink_health h = {
		.ringbuf_drops = 3, .probe_hits = hits, .apiservers_attached = 1, .noffsets = 2,
		.offsets_group = { "h2", "etcd" }, .offsets_source = { "dwarf", "nearest (unverified)" },
		.cpu_seconds = 12.5, .budget_duty = 0.4,
	};
	unsigned seed = 1;

	if (!s) {
		fprintf(stderr, "prom_sink_new failed\n");
		return 1;
	}
	ps = prom_sink_iface(s);
	for (int i = 0; i < KP_PROBE__COUNT; i++)
		hits[i] = 1000u * (unsigned)i;
	for (int i = 0; i < 600; i++) {
		struct request_record r;

		memset(&r, 0, sizeof(r));
		seed = seed * 1103515245u + 12345u;
		r.start_ns = 1700000000000000000ULL + (uint64_t)i * 50000000ULL;
		r.latency_ns = (uint64_t)(seed % 1000) * (seed % 7 == 0 ? 100000000ULL : 1000000ULL);
		r.status = codes[seed / 7 % (sizeof(codes) / sizeof(codes[0]))];
		r.sample_factor = i % 5 == 0 ? 2.5 : 1.0;
		r.ongoing = i % 97 == 0;
		set(r.user_agent, sizeof(r.user_agent), uas[seed / 11 % (sizeof(uas) / sizeof(uas[0]))]);
		if (i % 9 == 0) {
			r.ri.is_resource_request = false;
			set(r.ri.verb, sizeof(r.ri.verb), i % 2 ? "get" : "post");
			set(r.path, sizeof(r.path), nonres[seed / 13 % (sizeof(nonres) / sizeof(nonres[0]))]);
		} else {
			const char *const *rs = res[seed / 13 % (sizeof(res) / sizeof(res[0]))];

			r.ri.is_resource_request = true;
			set(r.ri.verb, sizeof(r.ri.verb), verbs[seed / 17 % (sizeof(verbs) / sizeof(verbs[0]))]);
			set(r.ri.group, sizeof(r.ri.group), rs[0]);
			set(r.ri.resource, sizeof(r.ri.resource), rs[1]);
			set(r.ri.subresource, sizeof(r.ri.subresource), i % 10 == 1 ? "status" : "");
			snprintf(r.path, sizeof(r.path), "/api/v1/%s", rs[1]);
		}
		if (i % 50 == 3) { /* every label "other", as the overflow rows spell them */
			set(r.ri.verb, sizeof(r.ri.verb), "other");
			set(r.ri.group, sizeof(r.ri.group), "other");
			set(r.ri.resource, sizeof(r.ri.resource), "other");
		}
		{ /* API Priority and Fairness: names, UIDs, hostile names, unclassified */
			const char *const *pl = pls[seed / 19 % (sizeof(pls) / sizeof(pls[0]))];

			set(r.apf.priority_level, sizeof(r.apf.priority_level), pl[0]);
			set(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), pl[1]);
			set(r.apf.flow_schema, sizeof(r.apf.flow_schema), pl[0][0] ? "service-accounts" : "");
			set(r.apf.flow_schema_uid, sizeof(r.apf.flow_schema_uid), pl[1][0] ? "54fe1c2b" : "");
		}
		ps.request(ps.ctx, &r);
	}
	for (int i = 0; i < 300; i++) {
		static const char *const ops[] = { "range", "put", "txn", "delete", "lease_grant", "watch" };
		struct etcd_record e;

		memset(&e, 0, sizeof(e));
		seed = seed * 1103515245u + 12345u;
		e.start_ns = 1700000000000000000ULL + (uint64_t)i * 1000000ULL;
		e.latency_ns = (uint64_t)(seed % 20000) * 1000ULL;
		e.grpc_status = (int32_t)(seed / 7 % 19) - 1; /* -1 (unknown) .. 17 (no name) */
		e.sample_factor = 1.0;
		e.stream = i % 31 == 0;
		set(e.op, sizeof(e.op), ops[seed / 11 % (sizeof(ops) / sizeof(ops[0]))]);
		set(e.resource, sizeof(e.resource), res[seed / 13 % (sizeof(res) / sizeof(res[0]))][1]);
		e.resp_size = i % 7 ? (int64_t)(seed % 100000) : -1;
		e.kvs = !strcmp(e.op, "range") ? (int64_t)(seed / 17 % 20000) : -1;
		ps.etcd(ps.ctx, &e);
	}
	/* connections: 12 clients (IPv4 and IPv6), opens, retransmits, resets, closes; two etcd endpoints */
	for (int i = 0; i < 120; i++) {
		struct conn_record c;

		memset(&c, 0, sizeof(c));
		c.ts_ns = 1764489600000000000ULL + (uint64_t)i * 1000000000ULL;
		c.dir = i % 10 == 9 ? REC_CONN_ETCD : REC_CONN_CLIENT;
		if (c.dir == REC_CONN_ETCD)
			snprintf(c.group, sizeof(c.group), "%s", i % 20 == 9 ? "127.0.0.1:2379" : "[::1]:2379");
		else
			snprintf(c.group, sizeof(c.group), i % 3 ? "10.0.%d.%d" : "fd00::%d:%d", i % 4, i % 12);
		c.event = (enum rec_conn_event)(1 + i % 4);
		c.group_open = (uint32_t)(i % 5);
		c.open_total = 40;
		c.retrans_delta = c.event == REC_CONN_RETRANS ? 2 : 0;
		c.reset_sent = i % 2;
		c.resets_delta = c.event == REC_CONN_RESET;
		c.duration_ns = c.event == REC_CONN_CLOSE ? 1000000ULL * (uint64_t)i : 0;
		c.bytes_in = c.bytes_out = c.event == REC_CONN_CLOSE ? 100 * i : -1;
		ps.conn(ps.ctx, &c);
	}
	if (prom_sink_render(s, &h, stdout)) {
		fprintf(stderr, "render failed\n");
		return 1;
	}
	prom_sink_free(s);
	return 0;
}
