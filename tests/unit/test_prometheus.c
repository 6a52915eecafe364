// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prometheus text exposition: escaping, names, values, and a full render checked line by line by a
 * small parser of the format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "output/prometheus.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S)

static char *cap_label(const char *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	prom_write_label_value(f, in);
	fclose(f);
	return buf;
}

static char *cap_value(double v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	prom_write_value(f, v);
	fclose(f);
	return buf;
}

static void test_escaping(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "", "\"\"" },
		{ "a\\b", "\"a\\\\b\"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "two\nlines", "\"two\\nlines\"" },
		{ "tab\tstays", "\"tab\tstays\"" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"" },
		/* invalid UTF-8: lone continuation, overlong, surrogate, truncated at the end */
		{ "a\x80z", "\"a\xef\xbf\xbdz\"" },
		{ "\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ "\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ "x\xe2\x82", "\"x\xef\xbf\xbd\xef\xbf\xbd\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = cap_label(cases[i].in);

		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

static void test_names_and_values(void **state)
{
	char *s;

	assert_true(prom_valid_metric_name("kapimon_apiserver_requests_total"));
	assert_true(prom_valid_metric_name("a:b_c9"));
	assert_false(prom_valid_metric_name("9abc"));
	assert_false(prom_valid_metric_name("a-b"));
	assert_false(prom_valid_metric_name(""));
	assert_true(prom_valid_label_name("user_agent"));
	assert_false(prom_valid_label_name("__name__"));
	assert_false(prom_valid_label_name("a:b"));
	assert_false(prom_valid_label_name("1a"));
	s = cap_value(42);
	assert_string_equal(s, "42");
	free(s);
	s = cap_value(0.25);
	assert_string_equal(s, "0.25");
	free(s);
	s = cap_value(INFINITY);
	assert_string_equal(s, "+Inf");
	free(s);
	s = cap_value(NAN);
	assert_string_equal(s, "NaN");
	free(s);
	s = cap_value(1.0 / 3);
	assert_true(fabs(strtod(s, NULL) - 1.0 / 3) < 1e-16);
	free(s);
}

/* --- a parser of the text format, strict enough to reject what Prometheus rejects -------------- */

struct sample {
	char name[128];
	char labels[2048]; /* unescaped "k=v," pairs */
	double value;
};

/* Parse one sample line; returns 0 or -1. */
static int parse_sample(const char *line, struct sample *s)
{
	const char *p = line;
	size_t n = 0, ln = 0;
	char *end;

	memset(s, 0, sizeof(*s));
	while (*p && *p != '{' && *p != ' ')
		s->name[n++] = *p++;
	if (!prom_valid_metric_name(s->name))
		return -1;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			char lname[64];
			size_t k = 0;

			while (*p && *p != '=')
				lname[k++] = *p++;
			lname[k] = 0;
			if (!prom_valid_label_name(lname) || *p++ != '=' || *p++ != '"')
				return -1;
			ln += (size_t)snprintf(s->labels + ln, sizeof(s->labels) - ln, "%s=", lname);
			while (*p != '"') {
				if (!*p || *p == '\n')
					return -1;
				if (*p == '\\') {
					p++;
					if (*p == 'n')
						s->labels[ln++] = '\n';
					else if (*p == '\\' || *p == '"')
						s->labels[ln++] = *p;
					else
						return -1;
					p++;
				} else {
					s->labels[ln++] = *p++;
				}
			}
			p++;
			s->labels[ln++] = ',';
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	if (*p++ != ' ')
		return -1;
	if (!strcmp(p, "+Inf"))
		s->value = INFINITY;
	else if (!strcmp(p, "NaN"))
		s->value = NAN;
	else {
		s->value = strtod(p, &end);
		if (end == p || *end)
			return -1;
	}
	return 0;
}

static struct request_record mk(const char *ua, const char *verb, const char *res, int status, uint64_t lat)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.user_agent, sizeof(r.user_agent), "%s", ua);
	snprintf(r.ri.verb, sizeof(r.ri.verb), "%s", verb);
	snprintf(r.ri.resource, sizeof(r.ri.resource), "%s", res);
	r.ri.is_resource_request = true;
	r.status = status;
	r.latency_ns = lat;
	r.start_ns = T0 + 1000;
	r.bytes_out = 10;
	r.sample_factor = 1;
	return r;
}

static char *render_all(struct agg *a, const struct prom_health *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(prom_render(f, a, h), 0);
	fclose(f);
	return buf;
}

static const char *evil_ua = "evil \"agent\"\\\nv1 \xff";

static struct agg *fill(void)
{
	struct agg *a = agg_new(NULL, T0);

	assert_non_null(a);
	for (int i = 0; i < 7; i++) {
		struct request_record r = mk("kubectl/v1.20.2", "list", "pods", 200, 3000000); /* 3 ms */
		agg_add(a, &r);
	}
	for (int i = 0; i < 3; i++) {
		struct request_record r = mk(evil_ua, "list", "pods", 429, 200000000); /* 200 ms */
		agg_add(a, &r);
	}
	{
		struct request_record r = mk(evil_ua, "list", "pods", 503, 2000000000); /* 2 s */
		r.sample_factor = 2.5;
		agg_add(a, &r);
		agg_inflight(a, &r, +1);
	}
	return a;
}

static void test_render_parses(void **state)
{
	struct agg *a = fill();
	struct prom_health h = { .ringbuf_drops = 5, .hits_per_request = 2.0, .nprobes = 2,
				 .probe_names = { "h2_headers", NULL }, .probe_hits = { 11, 22 } };
	char *out = render_all(a, &h), *save = NULL, *line;
	int nsamples = 0, found_evil_429 = 0, found_kubectl = 0, found_503 = 0, nbuckets = 0;
	double last_bucket = -1, inf_bucket = -1, count = -1, sum = -1;
	char declared[64][96];
	int ndeclared = 0;

	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sample s;

		if (line[0] == '#') {
			char kind[8], name[96], type[16];

			assert_int_equal(sscanf(line, "# %7s %95s", kind, name), 2);
			assert_true(!strcmp(kind, "HELP") || !strcmp(kind, "TYPE"));
			assert_true(prom_valid_metric_name(name));
			if (!strcmp(kind, "TYPE")) {
				assert_int_equal(sscanf(line, "# TYPE %*s %15s", type), 1);
				assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") || !strcmp(type, "histogram"));
				/* every family is declared once */
				for (int i = 0; i < ndeclared; i++)
					assert_string_not_equal(declared[i], name);
				snprintf(declared[ndeclared++], sizeof(declared[0]), "%s", name);
			}
			continue;
		}
		assert_int_equal(parse_sample(line, &s), 0);
		/* a sample belongs to the family declared last */
		assert_true(ndeclared > 0 && !strncmp(s.name, declared[ndeclared - 1], strlen(declared[ndeclared - 1])));
		nsamples++;
		if (!strcmp(s.name, "kapimon_apiserver_requests_total")) {
			if (strstr(s.labels, "user_agent=evil \"agent\"\\\nv1 \xef\xbf\xbd,") && strstr(s.labels, "code_class=429,"))
				found_evil_429 = s.value == 3;
			if (strstr(s.labels, "code_class=5xx,"))
				found_503 = s.value == 2.5;
			if (strstr(s.labels, "user_agent=kubectl/v1.20.2,verb=list,resource=pods,subresource=,code_class=2xx,"))
				found_kubectl = s.value == 7;
		}
		if (!strcmp(s.name, "kapimon_apiserver_request_duration_seconds_bucket")) {
			assert_true(strstr(s.labels, "verb=list,resource=pods,le=") != NULL);
			assert_true(s.value >= last_bucket); /* cumulative */
			last_bucket = s.value;
			nbuckets++;
			if (strstr(s.labels, "le=+Inf,"))
				inf_bucket = s.value;
			if (strstr(s.labels, "le=0.005,"))
				assert_true(s.value == 7); /* the 3 ms ones */
			if (strstr(s.labels, "le=1,"))
				assert_true(s.value == 10);
		}
		if (!strcmp(s.name, "kapimon_apiserver_request_duration_seconds_count"))
			count = s.value;
		if (!strcmp(s.name, "kapimon_apiserver_request_duration_seconds_sum"))
			sum = s.value;
		if (!strcmp(s.name, "kapimon_ringbuf_drops_total"))
			assert_true(s.value == 5);
		if (!strcmp(s.name, "kapimon_probe_hits_total") && strstr(s.labels, "probe=probe1,"))
			assert_true(s.value == 22);
		if (!strcmp(s.name, "kapimon_apiserver_inflight_requests"))
			assert_true(s.value == 1);
	}
	assert_true(found_evil_429);
	assert_true(found_kubectl);
	assert_true(found_503);
	assert_int_equal(nbuckets, AGG_NLE + 1);
	assert_true(inf_bucket == 12.5 && count == 12.5);
	assert_true(fabs(sum - (7 * 0.003 + 3 * 0.2 + 2.5 * 2)) < 1e-9);
	assert_true(nsamples > 20);
	free(out);
	agg_free(a);
}

/* The series use the heavy-hitter rows: at most max_keys + 1 user agents, evicted keys' counts go on
 * in "(other)", the sum over the family is the number of requests. */
static void test_render_bounded_keys(void **state)
{
	struct agg_params p;
	struct agg *a;
	char *out, *save = NULL, *line, ua[32];
	double sum = 0, other = -1, evicted = -1;
	int series = 0;

	agg_params_default(&p);
	p.max_keys = 2;
	p.detector_window = 0;
	a = agg_new(&p, T0);
	assert_non_null(a);
	/* agent-0 .. agent-4, agent-i sends i + 1 requests: agents 3 and 4 keep rows, 0..2 (6) are evicted */
	for (int i = 0; i < 5; i++) {
		snprintf(ua, sizeof(ua), "agent-%d", i);
		for (int j = 0; j <= i; j++) {
			struct request_record r = mk(ua, "get", "pods", 200, 1000000);
			agg_add(a, &r);
		}
	}
	out = render_all(a, NULL);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sample s;

		if (line[0] == '#')
			continue;
		assert_int_equal(parse_sample(line, &s), 0);
		if (!strcmp(s.name, "kapimon_apiserver_requests_total")) {
			series++;
			sum += s.value;
			if (strstr(s.labels, "user_agent=(other),"))
				other = s.value;
		}
		if (!strcmp(s.name, "kapimon_aggregate_evicted_total") && strstr(s.labels, "table=agent,"))
			evicted = s.value;
	}
	assert_int_equal(series, 3); /* agent-3, agent-4, (other) */
	assert_true(sum == 15);
	assert_true(other == 6);
	assert_true(evicted == 3);
	free(out);
	agg_free(a);
}

static void test_atomic_file(void **state)
{
	char dir[] = "/tmp/kapimon-prom-XXXXXX", path[256], tmp[300];
	struct agg *a = fill();
	struct stat st;
	FILE *f;
	char line[256];
	int has = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kapimon.prom", dir);
	assert_int_equal(prom_write_file(path, a, NULL), 0);
	assert_int_equal(prom_write_file(path, a, NULL), 0); /* replaces */
	assert_int_equal(stat(path, &st), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	assert_int_not_equal(stat(tmp, &st), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		has |= !strncmp(line, "kapimon_aggregate_records_total 11\n", 35);
	fclose(f);
	assert_true(has);
	/* a directory that does not exist: an error, nothing left behind */
	snprintf(path, sizeof(path), "%s/nope/x.prom", dir);
	assert_true(prom_write_file(path, a, NULL) < 0);
	snprintf(path, sizeof(path), "%s/kapimon.prom", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	agg_free(a);
}

static void test_etcd_counters(void **state)
{
	struct agg *a = agg_new(NULL, T0);
	struct prom_etcd_row rows[3];
	struct prom_health h = { 0 };
	uint32_t n = 0;
	char *out;

	memset(rows, 0, sizeof(rows));
	prom_etcd_add(rows, &n, 3, "range", "configmaps", 1, false, 0.002);
	prom_etcd_add(rows, &n, 3, "range", "configmaps", 4, true, 0.001); /* sample factor 4 */
	prom_etcd_add(rows, &n, 3, "txn", "leases.coordination.k8s.io", 1, false, 0.003);
	prom_etcd_add(rows, &n, 3, "range", "secrets", 1, false, 0.001);
	prom_etcd_add(rows, &n, 3, "put", "x\"y", 1, false, 0.001); /* full: into (other) */
	assert_int_equal(n, 3);
	assert_true(rows[0].calls == 5 && rows[0].errors == 4);
	assert_string_equal(rows[2].op, "(other)");
	h.netcd = n;
	h.etcd = rows;
	out = render_all(a, &h);
	assert_non_null(strstr(out, "# TYPE kapimon_etcd_calls_total counter"));
	assert_non_null(strstr(out, "kapimon_etcd_calls_total{op=\"range\",resource=\"configmaps\"} 5\n"));
	assert_non_null(strstr(out, "kapimon_etcd_call_errors_total{op=\"range\",resource=\"configmaps\"} 4\n"));
	assert_non_null(strstr(out, "kapimon_etcd_calls_total{op=\"txn\",resource=\"leases.coordination.k8s.io\"} 1\n"));
	assert_non_null(strstr(out, "kapimon_etcd_calls_total{op=\"(other)\",resource=\"(other)\"} 2\n"));
	free(out);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_names_and_values),
		cmocka_unit_test(test_render_parses),
		cmocka_unit_test(test_render_bounded_keys),
		cmocka_unit_test(test_atomic_file),
		cmocka_unit_test(test_etcd_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
