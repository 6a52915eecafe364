// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/prometheus.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (colon && c == ':')
		return true;
	return !first && c >= '0' && c <= '9';
}

bool prom_valid_metric_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0, true))
			return false;
	return true;
}

bool prom_valid_label_name(const char *s)
{
	if (!s || !*s || (s[0] == '_' && s[1] == '_'))
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0, false))
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid (overlong, surrogate, > U+10FFFF,
 * truncated). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

void prom_write_label_value(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p) {
		size_t n;

		switch (*p) {
		case '\\': fputs("\\\\", out); p++; continue;
		case '"': fputs("\\\"", out); p++; continue;
		case '\n': fputs("\\n", out); p++; continue;
		default: break;
		}
		n = utf8_len(p); /* a NUL inside a sequence makes it invalid, so we never read past the end */
		if (!n) {
			fputs("\xef\xbf\xbd", out);
			p++;
			continue;
		}
		fwrite(p, 1, n, out);
		p += n;
	}
	fputc('"', out);
}

void prom_write_value(FILE *out, double v)
{
	if (isnan(v))
		fputs("NaN", out);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", out);
	else if (v == nearbyint(v) && fabs(v) < 1e15)
		fprintf(out, "%.0f", v);
	else
		fprintf(out, "%.17g", v);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* {user_agent=..,verb=..,resource=..,subresource=.. (then more labels, caller closes) */
static void key_labels(FILE *out, const struct agg_key *k)
{
	fputs("{user_agent=", out);
	prom_write_label_value(out, k->user_agent);
	fputs(",verb=", out);
	prom_write_label_value(out, k->verb);
	fputs(",resource=", out);
	prom_write_label_value(out, k->resource);
	fputs(",subresource=", out);
	prom_write_label_value(out, k->subresource);
}

static void render_requests(FILE *out, const struct agg *a)
{
	size_t n = agg_table_size(a, AGG_BY_KEY);

	family(out, "kapimon_apiserver_requests_total", "counter",
	       "Requests the kube-apiserver finished, by user agent, verb, resource and status class "
	       "(429 is its own class), weighted by the sampling factor.");
	for (size_t i = 0; i < n; i++) {
		const struct agg_cum *cum;
		const struct agg_key *k = agg_table_entry(a, AGG_BY_KEY, i, &cum, NULL, NULL);

		for (int c = 0; c < AGG__NCLASS; c++) {
			if (cum->req[c] <= 0)
				continue;
			fputs("kapimon_apiserver_requests_total", out);
			key_labels(out, k);
			fprintf(out, ",code_class=\"%s\"} ", agg_class_name(c));
			prom_write_value(out, cum->req[c]);
			fputc('\n', out);
		}
	}
	family(out, "kapimon_apiserver_response_bytes_total", "counter",
	       "Response body bytes the kube-apiserver wrote, by user agent, verb and resource.");
	for (size_t i = 0; i < n; i++) {
		const struct agg_cum *cum;
		const struct agg_key *k = agg_table_entry(a, AGG_BY_KEY, i, &cum, NULL, NULL);
		double total = 0;

		for (int c = 0; c < AGG__NCLASS; c++)
			total += cum->req[c];
		if (total <= 0)
			continue;
		fputs("kapimon_apiserver_response_bytes_total", out);
		key_labels(out, k);
		fputs("} ", out);
		prom_write_value(out, cum->bytes_out);
		fputc('\n', out);
	}
	family(out, "kapimon_apiserver_inflight_requests", "gauge",
	       "Requests started and not yet finished, by user agent, verb and resource.");
	for (size_t i = 0; i < n; i++) {
		int64_t inflight;
		const struct agg_key *k = agg_table_entry(a, AGG_BY_KEY, i, NULL, &inflight, NULL);

		if (inflight <= 0)
			continue;
		fputs("kapimon_apiserver_inflight_requests", out);
		key_labels(out, k);
		fprintf(out, "} %lld\n", (long long)inflight);
	}
}

static void render_durations(FILE *out, const struct agg *a)
{
	size_t n = agg_table_size(a, AGG_BY_VERB_RESOURCE);
	static const char name[] = "kapimon_apiserver_request_duration_seconds";

	family(out, name, "histogram",
	       "Latency of finished kube-apiserver requests (headers to handler done), by verb and resource.");
	for (size_t i = 0; i < n; i++) {
		const struct agg_cum *cum;
		const struct agg_key *k = agg_table_entry(a, AGG_BY_VERB_RESOURCE, i, &cum, NULL, NULL);
		double cumul = 0, count = 0;

		for (int c = 0; c < AGG__NCLASS; c++)
			count += cum->req[c];
		if (count <= 0)
			continue;
		for (int b = 0; b <= AGG_NLE; b++) {
			cumul += cum->le[b];
			fprintf(out, "%s_bucket{verb=", name);
			prom_write_label_value(out, k->verb);
			fputs(",resource=", out);
			prom_write_label_value(out, k->resource);
			fputs(",le=\"", out);
			if (b < AGG_NLE)
				prom_write_value(out, agg_le_seconds[b]);
			else
				fputs("+Inf", out);
			fputs("\"} ", out);
			prom_write_value(out, cumul);
			fputc('\n', out);
		}
		fprintf(out, "%s_sum{verb=", name);
		prom_write_label_value(out, k->verb);
		fputs(",resource=", out);
		prom_write_label_value(out, k->resource);
		fputs("} ", out);
		prom_write_value(out, cum->latency_sum_s);
		fprintf(out, "\n%s_count{verb=", name);
		prom_write_label_value(out, k->verb);
		fputs(",resource=", out);
		prom_write_label_value(out, k->resource);
		fputs("} ", out);
		prom_write_value(out, cumul);
		fputc('\n', out);
	}
}

int prom_render(FILE *out, const struct agg *a, const struct prom_health *h)
{
	const struct agg_stats *st = agg_get_stats(a);

	render_requests(out, a);
	render_durations(out, a);
	if (h) {
		family(out, "kapimon_ringbuf_drops_total", "counter",
		       "Events kapimon lost because a BPF ring buffer was full.");
		fprintf(out, "kapimon_ringbuf_drops_total %llu\n", (unsigned long long)h->ringbuf_drops);
		family(out, "kapimon_uprobe_hits_per_request", "gauge",
		       "Uprobe hits on the request path per request seen (overhead indicator).");
		fputs("kapimon_uprobe_hits_per_request ", out);
		prom_write_value(out, h->hits_per_request);
		fputc('\n', out);
		if (h->nprobes) {
			family(out, "kapimon_probe_hits_total", "counter", "Hits of each kapimon uprobe.");
			for (uint32_t i = 0; i < h->nprobes && i < PROM_MAX_PROBES; i++) {
				char def[16];

				snprintf(def, sizeof(def), "probe%u", i);
				fputs("kapimon_probe_hits_total{probe=", out);
				prom_write_label_value(out, h->probe_names[i] ? h->probe_names[i] : def);
				fprintf(out, "} %llu\n", (unsigned long long)h->probe_hits[i]);
			}
		}
	}
	if (h && h->netcd && h->etcd) {
		static const char *const fam[3][2] = {
			{ "kapimon_etcd_calls_total", "etcd unary calls the apiserver made, by operation and resource." },
			{ "kapimon_etcd_call_errors_total", "etcd calls that returned a gRPC error." },
			{ "kapimon_etcd_call_seconds_total", "Time spent in etcd calls (transport write to finish)." },
		};

		for (int f = 0; f < 3; f++) {
			family(out, fam[f][0], "counter", fam[f][1]);
			for (uint32_t i = 0; i < h->netcd && i < PROM_MAX_ETCD; i++) {
				const struct prom_etcd_row *r = &h->etcd[i];

				fprintf(out, "%s{op=", fam[f][0]);
				prom_write_label_value(out, r->op);
				fputs(",resource=", out);
				prom_write_label_value(out, r->resource);
				fputs("} ", out);
				prom_write_value(out, f == 0 ? r->calls : f == 1 ? r->errors : r->seconds);
				fputc('\n', out);
			}
		}
	}
	family(out, "kapimon_aggregate_records_total", "counter", "Finished request records aggregated.");
	fprintf(out, "kapimon_aggregate_records_total %llu\n", (unsigned long long)st->records);
	family(out, "kapimon_aggregate_evicted_total", "counter",
	       "Keys that lost their row to a heavier key (bounded heavy-hitter tables); their counts continue "
	       "in the \"(other)\" series.");
	for (int t = 0; t < AGG_TOTAL; t++)
		fprintf(out, "kapimon_aggregate_evicted_total{table=\"%s\"} %llu\n", agg_table_name(t),
			(unsigned long long)st->evicted[t]);
	family(out, "kapimon_aggregate_quantile_overflow_total", "counter",
	       "Latency observations left out of live quantiles (per-step cell limit).");
	fprintf(out, "kapimon_aggregate_quantile_overflow_total %llu\n", (unsigned long long)st->cell_overflow);
	return ferror(out) ? -1 : 0;
}

int prom_write_file(const char *path, const struct agg *a, const struct prom_health *h)
{
	char tmp[4096];
	FILE *f;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	errno = 0;
	if (prom_render(f, a, h) || fflush(f) || fsync(fd))
		err = errno ? -errno : -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

void prom_etcd_add(struct prom_etcd_row *rows, uint32_t *n, uint32_t max, const char *op, const char *resource,
		   double weight, bool error, double seconds)
{
	uint32_t i;

	if (!max)
		return;
	for (i = 0; i < *n; i++)
		if (!strcmp(rows[i].op, op) && !strcmp(rows[i].resource, resource))
			break;
	if (i == *n) {
		if (*n < max) {
			(*n)++;
			snprintf(rows[i].op, sizeof(rows[i].op), "%s", op);
			snprintf(rows[i].resource, sizeof(rows[i].resource), "%s", resource);
		} else {
			i = max - 1;
			snprintf(rows[i].op, sizeof(rows[i].op), "(other)");
			snprintf(rows[i].resource, sizeof(rows[i].resource), "(other)");
		}
	}
	rows[i].calls += weight;
	if (error)
		rows[i].errors += weight;
	rows[i].seconds += seconds * weight;
}
