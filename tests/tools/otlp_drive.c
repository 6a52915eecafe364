// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test driver of the OTLP exporter (tests/cli/test_otlp_export.sh): feeds synthetic request and etcd
 * records to a real exporter and writes the same records, as kapimon's JSON lines, to a manifest so
 * the test can compare what an independent receiver decoded with what was sent.
 *
 *   otlp_drive URL MANIFEST [--pid N] [--version V] [--seed N] [--sample PER_MILLION] [--queue N]
 *              [--batch N] [--delay-ms N] [--attempts N] [--backoff-ms N] [--backoff-max-ms N]
 *              [--timeout-ms N]
 *
 * Commands on stdin, one JSON line answered on stdout for each:
 *   gen N K U    N requests with K linked etcd calls each (nested in the request's time), then U
 *                unlinked etcd calls; etcd records are added before their request, as captured
 *   flush MS     otlp_exporter_flush
 *   stats        the counters
 *   close MS     otlp_exporter_close, the final counters, exit
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assemble/record_json.h"
#include "output/json_writer.h"
#include "output/otlp_export.h"

static FILE *manifest;
static uint64_t next_id = 1, next_t;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void write_manifest_request(const struct request_record *r)
{
	struct json_writer w;

	jw_init(&w, manifest, false);
	record_json_request(&w, r);
	fputc('\n', manifest);
}

static void write_manifest_etcd(const struct etcd_record *e)
{
	struct json_writer w;

	jw_init(&w, manifest, false);
	record_json_etcd(&w, e);
	fputc('\n', manifest);
}

static const char *const verbs[] = { "get", "list", "create", "update", "patch", "delete", "watch" };
static const char *const methods[] = { "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "GET" };

static void make_request(uint64_t i, struct request_record *r)
{
	unsigned v = (unsigned)(i % 7);

	request_record_init(r);
	r->id = next_id++;
	r->start_ns = next_t;
	r->latency_ns = 2000000 + (i % 13) * 100000;
	next_t += 3000000;
	r->proto = i % 3 ? REC_PROTO_H2 : REC_PROTO_H1;
	r->status = i % 17 == 5 ? 503 : i % 11 == 3 ? 404 : 200;
	r->bytes_in = v >= 2 && v <= 4 ? 300 : 0;
	r->bytes_out = (int64_t)(100 + i);
	r->local_port = 6443;
	snprintf(r->user_agent, sizeof(r->user_agent), "kube-controller-manager/v1.20.2 test-%llu%s",
		 (unsigned long long)i, i % 19 == 7 ? " \xff\xfe" : "");
	if (i % 23 == 4)
		snprintf(r->client, sizeof(r->client), "[fd00::%llx]:%u", (unsigned long long)i, 40000 + (unsigned)(i % 1000));
	else
		snprintf(r->client, sizeof(r->client), "10.0.%u.%u:%u", (unsigned)(i / 250 % 250), (unsigned)(i % 250),
			 30000 + (unsigned)(i % 1000));
	if (i % 29 == 9) { /* non-resource */
		strcpy(r->method, "GET");
		strcpy(r->path, "/healthz?verbose=1");
		strcpy(r->ri.verb, "get");
		return;
	}
	strcpy(r->method, methods[v]);
	r->ri.is_resource_request = true;
	strcpy(r->ri.verb, verbs[v]);
	if (i % 2) {
		strcpy(r->ri.api_prefix, "apis");
		strcpy(r->ri.group, "apps");
		strcpy(r->ri.version, "v1");
		strcpy(r->ri.resource, "deployments");
		if (i % 10 == 1)
			strcpy(r->ri.subresource, "status");
	} else {
		strcpy(r->ri.api_prefix, "api");
		strcpy(r->ri.version, "v1");
		strcpy(r->ri.resource, "pods");
	}
	snprintf(r->ri.namespace_, sizeof(r->ri.namespace_), "ns-%llu", (unsigned long long)(i % 5));
	if (v != 1 && v != 2 && v != 6)
		snprintf(r->ri.name, sizeof(r->ri.name), "obj-%llu", (unsigned long long)i);
	snprintf(r->path, sizeof(r->path), "/%s/%s%s%s/namespaces/%s/%s%s%s%s%s?timeout=30s&token=hunter2", r->ri.api_prefix,
		 r->ri.group, r->ri.group[0] ? "/" : "", r->ri.version, r->ri.namespace_, r->ri.resource,
		 r->ri.name[0] ? "/" : "", r->ri.name, r->ri.subresource[0] ? "/" : "", r->ri.subresource);
}

static void make_etcd(uint64_t request_id, uint64_t start, uint64_t lat, unsigned k, const struct request_record *r,
		      struct etcd_record *e)
{
	static const char *const ops[] = { "range", "txn", "range", "delete_range" };
	static const char *const rpc[] = { "/etcdserverpb.KV/Range", "/etcdserverpb.KV/Txn", "/etcdserverpb.KV/Range",
					   "/etcdserverpb.KV/DeleteRange" };

	etcd_record_init(e);
	e->start_ns = start;
	e->latency_ns = lat;
	strcpy(e->op, ops[k % 4]);
	strcpy(e->method, rpc[k % 4]);
	if (r && r->ri.resource[0]) {
		snprintf(e->key, sizeof(e->key), "/registry/%s/%s/%s", r->ri.resource, r->ri.namespace_,
			 r->ri.name[0] ? r->ri.name : "");
		snprintf(e->resource, sizeof(e->resource), "%s", r->ri.resource);
		snprintf(e->group, sizeof(e->group), "%s", r->ri.group);
	} else {
		snprintf(e->key, sizeof(e->key), "/registry/leases/kube-system/lease-%u", k);
		strcpy(e->resource, "leases");
		strcpy(e->group, "coordination.k8s.io");
	}
	e->grpc_status = k % 9 == 8 ? 14 : 0;
	e->resp_size = 100;
	e->req_size = 50;
	e->request_id = request_id;
}

static void gen(struct otlp_exporter *ex, uint64_t n, unsigned k, unsigned u)
{
	uint64_t added = 0, ok = 0, dropped = 0, kept_out = 0, max_us = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct request_record r;
		uint64_t t0;
		int rc;

		make_request(next_id, &r);
		for (unsigned j = 0; j < k; j++) {
			struct etcd_record e;
			/* inside the request: k slots of latency/(k+1) each */
			uint64_t slot = r.latency_ns / (k + 1);

			make_etcd(r.id, r.start_ns + slot * j + slot / 4, slot / 2, j, &r, &e);
			write_manifest_etcd(&e);
			t0 = mono_us();
			rc = otlp_exporter_add_etcd(ex, &e);
			t0 = mono_us() - t0;
			max_us = t0 > max_us ? t0 : max_us;
			added++;
			ok += rc == 0;
			dropped += rc < 0;
			kept_out += rc > 0;
		}
		write_manifest_request(&r);
		t0 = mono_us();
		rc = otlp_exporter_add_request(ex, &r);
		t0 = mono_us() - t0;
		max_us = t0 > max_us ? t0 : max_us;
		added++;
		ok += rc == 0;
		dropped += rc < 0;
		kept_out += rc > 0;
	}
	for (unsigned j = 0; j < u; j++) {
		struct etcd_record e;

		make_etcd(0, next_t, 500000, j, NULL, &e);
		next_t += 1000000;
		write_manifest_etcd(&e);
		uint64_t t0 = mono_us();
		int rc = otlp_exporter_add_etcd(ex, &e);

		t0 = mono_us() - t0;
		max_us = t0 > max_us ? t0 : max_us;
		added++;
		ok += rc == 0;
		dropped += rc < 0;
		kept_out += rc > 0;
	}
	fflush(manifest);
	printf("{\"added\":%llu,\"queued\":%llu,\"dropped\":%llu,\"not_kept\":%llu,\"max_add_us\":%llu}\n",
	       (unsigned long long)added, (unsigned long long)ok, (unsigned long long)dropped,
	       (unsigned long long)kept_out, (unsigned long long)max_us);
}

static void print_stats(const struct otlp_exporter_stats *s)
{
	printf("{\"queued\":%llu,\"sent\":%llu,\"dropped\":%llu,\"failed\":%llu,\"rejected\":%llu,"
	       "\"sampled_out\":%llu,\"skipped\":%llu,\"encode_errors\":%llu,\"export_errors\":%llu,"
	       "\"retries\":%llu,\"batches\":%llu,\"queue_len\":%llu,\"queue_capacity\":%llu,\"last_status\":%d}\n",
	       (unsigned long long)s->queued, (unsigned long long)s->sent, (unsigned long long)s->dropped,
	       (unsigned long long)s->failed, (unsigned long long)s->rejected, (unsigned long long)s->sampled_out,
	       (unsigned long long)s->skipped, (unsigned long long)s->encode_errors,
	       (unsigned long long)s->export_errors, (unsigned long long)s->retries, (unsigned long long)s->batches,
	       (unsigned long long)s->queue_len, (unsigned long long)s->queue_capacity, s->last_status);
}

int main(int argc, char **argv)
{
	struct otlp_exporter_config cfg;
	struct otlp_exporter *ex;
	struct otlp_exporter_stats st;
	char err[256], line[256];

	if (argc < 3) {
		fprintf(stderr, "usage: otlp_drive URL MANIFEST [options]\n");
		return 2;
	}
	otlp_exporter_config_default(&cfg);
	cfg.url = argv[1];
	cfg.resource.host_name = "testhost";
	cfg.resource.scope_version = "test";
	for (int i = 3; i + 1 < argc; i += 2) {
		const char *o = argv[i];
		unsigned long long v = strtoull(argv[i + 1], NULL, 10);

		if (!strcmp(o, "--pid"))
			cfg.resource.pid = (int64_t)v;
		else if (!strcmp(o, "--version"))
			cfg.resource.service_version = argv[i + 1];
		else if (!strcmp(o, "--seed"))
			cfg.seed = v;
		else if (!strcmp(o, "--sample"))
			cfg.sample_per_million = (uint32_t)v;
		else if (!strcmp(o, "--queue"))
			cfg.queue_spans = (uint32_t)v;
		else if (!strcmp(o, "--batch"))
			cfg.batch_spans = (uint32_t)v;
		else if (!strcmp(o, "--delay-ms"))
			cfg.batch_delay_ms = (uint32_t)v;
		else if (!strcmp(o, "--attempts"))
			cfg.max_attempts = (uint32_t)v;
		else if (!strcmp(o, "--backoff-ms"))
			cfg.backoff_initial_ms = (uint32_t)v;
		else if (!strcmp(o, "--backoff-max-ms"))
			cfg.backoff_max_ms = (uint32_t)v;
		else if (!strcmp(o, "--timeout-ms"))
			cfg.timeout_ms = (uint32_t)v;
		else {
			fprintf(stderr, "otlp_drive: unknown option %s\n", o);
			return 2;
		}
	}
	manifest = fopen(argv[2], "a");
	if (!manifest) {
		perror(argv[2]);
		return 1;
	}
	ex = otlp_exporter_new(&cfg, err, sizeof(err));
	if (!ex) {
		printf("{\"error\":\"%s\"}\n", err);
		return 1;
	}
	next_t = 1795000000000000000ULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long a = 0, b = 0, c = 0;

		if (sscanf(line, "gen %llu %llu %llu", &a, &b, &c) == 3) {
			gen(ex, a, (unsigned)b, (unsigned)c);
		} else if (sscanf(line, "flush %llu", &a) == 1) {
			int rc = otlp_exporter_flush(ex, (uint32_t)a);

			printf("{\"flush\":%d}\n", rc);
		} else if (!strncmp(line, "stats", 5)) {
			otlp_exporter_stats(ex, &st);
			print_stats(&st);
		} else if (sscanf(line, "close %llu", &a) == 1) {
			uint64_t t0 = mono_us();

			otlp_exporter_close(ex, (uint32_t)a, &st);
			fprintf(stdout, "{\"close_ms\":%llu}\n", (unsigned long long)(mono_us() - t0) / 1000);
			print_stats(&st);
			fclose(manifest);
			return 0;
		} else {
			printf("{\"error\":\"unknown command\"}\n");
		}
	}
	otlp_exporter_close(ex, 0, NULL);
	fclose(manifest);
	return 0;
}
