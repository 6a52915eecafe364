// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The Prometheus sink (src/output/prom_sink.c): records fed through its pipeline callbacks, then the
 * rendered text read back sample by sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "assemble/kp_contract.h"
#include "assemble/record_json.h"
#include "output/prom_sink.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S)

static struct request_record req(const char *verb, const char *group, const char *resource, const char *sub,
				 int status, double seconds, const char *ua)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	r.start_ns = T0;
	r.latency_ns = (uint64_t)(seconds * 1e9 + 0.5);
	r.status = status;
	r.sample_factor = 1.0;
	r.ri.is_resource_request = true;
	snprintf(r.ri.verb, sizeof(r.ri.verb), "%s", verb);
	snprintf(r.ri.group, sizeof(r.ri.group), "%s", group);
	snprintf(r.ri.resource, sizeof(r.ri.resource), "%s", resource);
	snprintf(r.ri.subresource, sizeof(r.ri.subresource), "%s", sub);
	snprintf(r.user_agent, sizeof(r.user_agent), "%s", ua);
	snprintf(r.path, sizeof(r.path), "/api/v1/%s", resource);
	return r;
}

static struct etcd_record ecall(const char *op, const char *resource, int32_t status, double seconds)
{
	struct etcd_record e;

	etcd_record_init(&e); /* resp_size, kvs unknown */
	e.start_ns = T0;
	e.latency_ns = (uint64_t)(seconds * 1e9 + 0.5);
	e.grpc_status = status;
	e.sample_factor = 1.0;
	e.limit = -1;
	snprintf(e.op, sizeof(e.op), "%s", op);
	snprintf(e.resource, sizeof(e.resource), "%s", resource);
	return e;
}

static char *render(const struct prom_sink *s, const struct prom_sink_health *h)
{
	char *buf;
	size_t len;

	assert_int_equal(prom_sink_render_mem(s, h, &buf, &len), 0);
	assert_int_equal(strlen(buf), len);
	return buf;
}

/* The value of the sample whose name+labels are exactly `series`; -1 when absent (values are >= 0). */
static double value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, series, n) && l[n] == ' ')
			return strtod(l + n + 1, NULL);
		if (!strchr(l, '\n'))
			break;
	}
	return -1;
}

/* Sum of the samples of a metric name (exact name, any labels). */
static double sum_of(const char *text, const char *name)
{
	size_t n = strlen(name);
	double sum = 0;

	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, name, n) && (l[n] == '{' || l[n] == ' ')) {
			const char *v = l + strcspn(l, "\n");

			while (v > l && v[-1] != ' ')
				v--;
			sum += strtod(v, NULL);
		}
		if (!strchr(l, '\n'))
			break;
	}
	return sum;
}

static void feed(struct prom_sink *s, const struct request_record *r)
{
	struct pipeline_sink ps = prom_sink_iface(s);

	ps.request(ps.ctx, r);
}

static void test_counts(void **state)
{
	struct prom_sink *s = prom_sink_new(NULL);
	struct request_record r;
	char *t;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 3; i++) {
		r = req("list", "", "pods", "", 200, 0.01, "kubectl/v1.20.2");
		feed(s, &r);
	}
	r = req("get", "apps", "deployments", "status", 404, 0.02, "kubectl/v1.20.2");
	feed(s, &r);
	r = req("watch", "", "pods", "", 200, 3, "kubelet");
	r.sample_factor = 2.5; /* budget mode: one seen stands for 2.5 */
	feed(s, &r);
	r = req("get", "", "pods", "", 0, 0.5, "kubelet");
	r.ongoing = true; /* still running at flush: not counted */
	feed(s, &r);
	t = render(s, NULL);
	assert_true(value(t, "kapimon_requests_total{verb=\"list\",group=\"\",resource=\"pods\",subresource=\"\",code=\"200\"}") == 3);
	assert_true(value(t, "kapimon_requests_total{verb=\"get\",group=\"apps\",resource=\"deployments\",subresource=\"status\",code=\"404\"}") == 1);
	assert_true(value(t, "kapimon_requests_total{verb=\"watch\",group=\"\",resource=\"pods\",subresource=\"\",code=\"200\"}") == 2.5);
	assert_true(value(t, "kapimon_requests_total{verb=\"get\",group=\"\",resource=\"pods\",subresource=\"\",code=\"\"}") < 0);
	assert_true(sum_of(t, "kapimon_requests_total") == 6.5);
	assert_true(sum_of(t, "kapimon_requests_by_client_total") == 6.5);
	assert_true(value(t, "kapimon_requests_by_client_total{user_agent=\"kubectl/v1.20.2\",verb=\"list\",resource=\"pods\",user=\"\"}") == 3);
	assert_true(sum_of(t, "kapimon_metrics_overflow_total") == 0);
	/* no health struct: no health families */
	assert_null(strstr(t, "kapimon_ringbuf_drops_total"));
	free(t);
	prom_sink_free(s);
}

/* kapimon_requests_by_priority_level_total: APF-classified requests only, names else UIDs, bounded */
static void test_priority_level(void **state)
{
	struct prom_sink *s = prom_sink_new(&(struct prom_sink_opts){ .apf_rows = 2 });
	struct request_record r;
	char *t;

	(void)state;
	assert_non_null(s);
	r = req("list", "", "configmaps", "", 200, 0.01, "a");
	snprintf(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), "pl-uid");
	snprintf(r.apf.flow_schema_uid, sizeof(r.apf.flow_schema_uid), "fs-uid");
	feed(s, &r);
	feed(s, &r);
	r = req("list", "", "configmaps", "", 429, 0.01, "a");
	snprintf(r.apf.priority_level, sizeof(r.apf.priority_level), "workload-low");
	snprintf(r.apf.flow_schema, sizeof(r.apf.flow_schema), "service-accounts");
	snprintf(r.apf.reject_reason, sizeof(r.apf.reject_reason), "queue-full");
	feed(s, &r);
	r = req("watch", "", "pods", "", 200, 3, "a"); /* long-running: APF does not classify it */
	feed(s, &r);
	r = req("get", "", "pods", "", 200, 0.01, "a");
	snprintf(r.apf.priority_level, sizeof(r.apf.priority_level), "third");
	feed(s, &r); /* a third label set: the family's overflow row (2 rows) */
	t = render(s, NULL);
	assert_true(value(t, "kapimon_requests_by_priority_level_total{priority_level=\"pl-uid\",flow_schema=\"fs-uid\",code=\"200\"}") == 2);
	assert_true(value(t, "kapimon_requests_by_priority_level_total{priority_level=\"workload-low\",flow_schema=\"service-accounts\",code=\"429\"}") == 1);
	assert_true(sum_of(t, "kapimon_requests_by_priority_level_total") == 4);
	assert_true(value(t, "kapimon_metrics_overflow_total{family=\"kapimon_requests_by_priority_level_total\"}") == 1);
	free(t);
	prom_sink_free(s);
}

static void test_nonresource(void **state)
{
	struct prom_sink_opts o = { .nonres_paths = 2 };
	struct prom_sink *s = prom_sink_new(&o);
	const char *paths[] = { "/healthz", "/readyz?verbose=1", "/version", "/healthz" };
	char *t;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct request_record r = req("get", "", "", "", 200, 0.001, "probe");

		r.ri.is_resource_request = false;
		snprintf(r.path, sizeof(r.path), "%s", paths[i]);
		feed(s, &r);
	}
	t = render(s, NULL);
	/* the apiserver's convention: resource "", the path as subresource; the query is not part of it */
	assert_true(value(t, "kapimon_requests_total{verb=\"get\",group=\"\",resource=\"\",subresource=\"/healthz\",code=\"200\"}") == 2);
	assert_true(value(t, "kapimon_requests_total{verb=\"get\",group=\"\",resource=\"\",subresource=\"/readyz\",code=\"200\"}") == 1);
	/* a third distinct path is beyond the bound of 2 */
	assert_true(value(t, "kapimon_requests_total{verb=\"get\",group=\"\",resource=\"\",subresource=\"other\",code=\"200\"}") == 1);
	assert_null(strstr(t, "/version"));
	free(t);
	prom_sink_free(s);
}

static void test_histogram(void **state)
{
	struct prom_sink *s = prom_sink_new(NULL);
	const double lat[] = { 0.01, 0.05, 0.07, 0.3, 2, 61, 100 };
	double prev = -1, sum = 0;
	char *t, *p;
	int nb = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		struct request_record r = req("list", "", "pods", "", 200, lat[i], "x");

		feed(s, &r);
		sum += lat[i];
	}
	t = render(s, NULL);
	/* buckets cumulative, non-decreasing, in order, ending at +Inf = _count */
	const char *pre = "kapimon_request_duration_seconds_bucket{verb=\"list\",group=\"\",resource=\"pods\",le=\"";
	for (p = strstr(t, pre); p; p = strstr(p + 1, pre)) {
		double v = strtod(strchr(p, '}') + 2, NULL);

		assert_true(v >= prev);
		prev = v;
		nb++;
	}
	assert_int_equal(nb, 38); /* 37 apiserver buckets + +Inf */
	assert_true(value(t, "kapimon_request_duration_seconds_bucket{verb=\"list\",group=\"\",resource=\"pods\",le=\"0.05\"}") == 2);
	assert_true(value(t, "kapimon_request_duration_seconds_bucket{verb=\"list\",group=\"\",resource=\"pods\",le=\"0.1\"}") == 3);
	assert_true(value(t, "kapimon_request_duration_seconds_bucket{verb=\"list\",group=\"\",resource=\"pods\",le=\"60\"}") == 5);
	assert_true(value(t, "kapimon_request_duration_seconds_bucket{verb=\"list\",group=\"\",resource=\"pods\",le=\"+Inf\"}") == 7);
	assert_true(value(t, "kapimon_request_duration_seconds_count{verb=\"list\",group=\"\",resource=\"pods\"}") == 7);
	assert_true(fabs(value(t, "kapimon_request_duration_seconds_sum{verb=\"list\",group=\"\",resource=\"pods\"}") - sum) < 1e-6);
	free(t);
	prom_sink_free(s);
}

static void test_overflow(void **state)
{
	struct prom_sink_opts o = { .req_rows = 4, .dur_rows = 2, .etcd_rows = 1, .etcd_dur_rows = 1 };
	struct prom_sink *s = prom_sink_new(&o);
	char res[32], *t;

	(void)state;
	for (int i = 0; i < 10; i++) {
		struct request_record r;

		snprintf(res, sizeof(res), "res%d", i);
		r = req("get", "", res, "", 200, 0.2, "x");
		feed(s, &r);
	}
	struct etcd_record e = ecall("range", "pods", 0, 0.001);
	prom_sink_etcd(s, &e);
	e = ecall("put", "pods", 0, 0.001);
	prom_sink_etcd(s, &e);
	t = render(s, NULL);
	assert_true(value(t, "kapimon_requests_total{verb=\"get\",group=\"\",resource=\"res3\",subresource=\"\",code=\"200\"}") == 1);
	assert_true(value(t, "kapimon_requests_total{verb=\"get\",group=\"\",resource=\"res4\",subresource=\"\",code=\"200\"}") < 0);
	assert_true(value(t, "kapimon_requests_total{verb=\"other\",group=\"other\",resource=\"other\",subresource=\"other\",code=\"other\"}") == 6);
	assert_true(sum_of(t, "kapimon_requests_total") == 10); /* nothing lost */
	assert_true(value(t, "kapimon_metrics_overflow_total{family=\"kapimon_requests_total\"}") == 6);
	assert_true(value(t, "kapimon_metrics_overflow_total{family=\"kapimon_request_duration_seconds\"}") == 8);
	assert_true(value(t, "kapimon_request_duration_seconds_count{verb=\"other\",group=\"other\",resource=\"other\"}") == 8);
	assert_true(value(t, "kapimon_etcd_requests_total{op=\"other\",resource=\"other\",code=\"other\"}") == 1);
	assert_true(value(t, "kapimon_metrics_overflow_total{family=\"kapimon_etcd_requests_total\"}") == 1);
	free(t);
	prom_sink_free(s);
}

/* Real label values equal to the overflow row's ("other") never make a second series with its labels. */
static int count_of(const char *text, const char *series)
{
	int n = 0;

	for (const char *p = strstr(text, series); p; p = strstr(p + 1, series))
		n++;
	return n;
}

static void test_other_collision(void **state)
{
	struct prom_sink_opts o = { .dur_rows = 1, .client_rows = 2 };
	struct prom_sink *s = prom_sink_new(&o);
	struct request_record r;
	char *t;

	(void)state;
	r = req("other", "other", "other", "", 200, 0.2, "other"); /* labels as the overflow rows spell them */
	r.sample_factor = 5;
	feed(s, &r);
	r = req("list", "", "pods", "", 200, 0.2, "kubectl"); /* the duration table (1 row) is full after this */
	feed(s, &r);
	r = req("other", "", "other", "", 200, 0.2, "a");
	feed(s, &r);
	r = req("other", "", "other", "", 200, 0.2, "b"); /* the client summary (2 rows) evicts */
	feed(s, &r);
	t = render(s, NULL);
	assert_int_equal(count_of(t, "kapimon_request_duration_seconds_count{verb=\"other\",group=\"other\",resource=\"other\"}"), 1);
	assert_true(value(t, "kapimon_request_duration_seconds_count{verb=\"other\",group=\"other\",resource=\"other\"}") == 7);
	assert_true(value(t, "kapimon_metrics_overflow_total{family=\"kapimon_request_duration_seconds\"}") == 2);
	assert_int_equal(count_of(t, "kapimon_requests_by_client_total{user_agent=\"other\",verb=\"other\",resource=\"other\",user=\"other\"}"), 1);
	assert_true(sum_of(t, "kapimon_requests_by_client_total") == 8);
	free(t);
	prom_sink_free(s);
}

static void test_clients_bounded(void **state)
{
	struct prom_sink_opts o = { .client_rows = 2 };
	struct prom_sink *s = prom_sink_new(&o);
	char ua[32], *t;
	int n = 0;

	(void)state;
	for (int i = 0; i < 20; i++) {
		struct request_record r = req("list", "", "pods", "", 200, 0.01, "heavy-a");

		feed(s, &r);
		r = req("get", "", "nodes", "", 200, 0.01, "heavy-b");
		feed(s, &r);
		n += 2;
	}
	for (int i = 0; i < 5; i++) { /* light ones each evict the lighter of the rows, then are evicted */
		struct request_record r;

		snprintf(ua, sizeof(ua), "light-%d", i);
		r = req("list", "", "pods", "", 200, 0.01, ua);
		feed(s, &r);
		n++;
	}
	t = render(s, NULL);
	/* at most 2 (user_agent, verb, resource) series of their own, plus "other" rows */
	int own = 0;
	for (const char *p = strstr(t, "kapimon_requests_by_client_total{user_agent=\""); p;
	     p = strstr(p + 1, "kapimon_requests_by_client_total{user_agent=\""))
		if (strncmp(p + strlen("kapimon_requests_by_client_total{user_agent=\""), "other\"", 6))
			own++;
	assert_true(own <= 2);
	/* the sum over user agents is exact: evicted counts moved to "other" */
	assert_true(sum_of(t, "kapimon_requests_by_client_total") == n);
	assert_true(sum_of(t, "kapimon_requests_total") == n);
	/* every light key was either kept or folded into other{list,pods}: the heavy-a row survived */
	assert_true(value(t, "kapimon_requests_by_client_total{user_agent=\"other\",verb=\"list\",resource=\"pods\",user=\"other\"}") >= 4);
	assert_true(value(t, "kapimon_client_evictions_total") >= 4);
	free(t);
	prom_sink_free(s);
}

static void test_hostile_user_agent(void **state)
{
	struct prom_sink *s = prom_sink_new(NULL);
	struct request_record r = req("get", "", "pods", "", 200, 0.01, "evil\"} 1\nkapimon_fake 2\\\x80");
	char *t;

	(void)state;
	feed(s, &r);
	t = render(s, NULL);
	assert_non_null(strstr(t, "kapimon_requests_by_client_total{user_agent=\"evil\\\"} 1\\nkapimon_fake 2\\\\\xef\xbf\xbd\",verb=\"get\",resource=\"pods\",user=\"\"} 1\n"));
	/* no line starts with the injected name */
	assert_null(strstr(t, "\nkapimon_fake"));
	free(t);
	prom_sink_free(s);
}

/* The user label: one series per (user agent, verb, resource, user); untrusted user names escaped. */
static void test_user_label(void **state)
{
	struct prom_sink *s = prom_sink_new(NULL);
	struct request_record r = req("list", "", "pods", "", 200, 0.01, "kubectl");
	char *t;

	(void)state;
	r.has_user = true;
	snprintf(r.user, sizeof(r.user), "alice");
	feed(s, &r);
	feed(s, &r);
	snprintf(r.user, sizeof(r.user), "system:serviceaccount:ns:\"x\"\n");
	feed(s, &r);
	r.has_user = false; /* failed authentication */
	r.status = 401;
	feed(s, &r);
	t = render(s, NULL);
	assert_true(value(t, "kapimon_requests_by_client_total{user_agent=\"kubectl\",verb=\"list\",resource=\"pods\",user=\"alice\"}") == 2);
	assert_true(value(t, "kapimon_requests_by_client_total{user_agent=\"kubectl\",verb=\"list\",resource=\"pods\",user=\"system:serviceaccount:ns:\\\"x\\\"\\n\"}") == 1);
	assert_true(value(t, "kapimon_requests_by_client_total{user_agent=\"kubectl\",verb=\"list\",resource=\"pods\",user=\"\"}") == 1);
	assert_true(sum_of(t, "kapimon_requests_by_client_total") == 4);
	free(t);
	prom_sink_free(s);
}

static void test_etcd(void **state)
{
	struct prom_sink *s = prom_sink_new(NULL);
	struct etcd_record e;
	char *t;

	(void)state;
	e = ecall("range", "pods", 0, 0.0007);
	e.resp_size = 300; /* a GET */
	e.kvs = 1;
	prom_sink_etcd(s, &e);
	e = ecall("range", "pods", 0, 0.003);
	e.resp_size = 700000; /* a LIST, counted twice */
	e.kvs = 2000;
	e.sample_factor = 2;
	prom_sink_etcd(s, &e);
	e = ecall("txn", "leases", 14, 0.5);
	prom_sink_etcd(s, &e);
	e = ecall("txn", "leases", 0, 0.002);
	e.resp_size = 40; /* a Txn: bytes, no key-values */
	prom_sink_etcd(s, &e);
	e = ecall("put", "events", -1, 0.001);
	prom_sink_etcd(s, &e);
	e = ecall("put", "events", 99, 0.001);
	prom_sink_etcd(s, &e);
	e = ecall("watch", "pods", 0, 0.001);
	e.stream = true; /* stream messages are not calls */
	prom_sink_etcd(s, &e);
	t = render(s, NULL);
	assert_true(value(t, "kapimon_etcd_requests_total{op=\"range\",resource=\"pods\",code=\"OK\"}") == 3);
	assert_true(value(t, "kapimon_etcd_response_bytes_total{op=\"range\",resource=\"pods\"}") == 300 + 2 * 700000);
	assert_true(value(t, "kapimon_etcd_response_bytes_total{op=\"txn\",resource=\"leases\"}") == 40);
	assert_true(value(t, "kapimon_etcd_range_keys_bucket{resource=\"pods\",le=\"1\"}") == 1);
	assert_true(value(t, "kapimon_etcd_range_keys_bucket{resource=\"pods\",le=\"1000\"}") == 1);
	assert_true(value(t, "kapimon_etcd_range_keys_bucket{resource=\"pods\",le=\"5000\"}") == 3);
	assert_true(value(t, "kapimon_etcd_range_keys_sum{resource=\"pods\"}") == 1 + 2 * 2000);
	assert_true(value(t, "kapimon_etcd_range_keys_count{resource=\"pods\"}") == 3);
	assert_null(strstr(t, "kapimon_etcd_range_keys_count{resource=\"leases\"}"));
	assert_true(value(t, "kapimon_etcd_requests_total{op=\"txn\",resource=\"leases\",code=\"Unavailable\"}") == 1);
	assert_true(value(t, "kapimon_etcd_requests_total{op=\"put\",resource=\"events\",code=\"\"}") == 1);
	assert_true(value(t, "kapimon_etcd_requests_total{op=\"put\",resource=\"events\",code=\"99\"}") == 1);
	assert_null(strstr(t, "op=\"watch\""));
	assert_true(value(t, "kapimon_etcd_request_duration_seconds_bucket{op=\"range\",resource=\"pods\",le=\"0.001\"}") == 1);
	assert_true(value(t, "kapimon_etcd_request_duration_seconds_bucket{op=\"range\",resource=\"pods\",le=\"0.005\"}") == 3);
	assert_true(value(t, "kapimon_etcd_request_duration_seconds_count{op=\"range\",resource=\"pods\"}") == 3);
	assert_string_equal(prom_grpc_code_name(4), "DeadlineExceeded");
	assert_string_equal(prom_grpc_code_name(16), "Unauthenticated");
	assert_null(prom_grpc_code_name(17));
	free(t);
	prom_sink_free(s);
}

static void test_health(void **state)
{
	struct prom_sink *s = prom_sink_new(NULL);
	uint64_t hits[KP_PROBE__COUNT];
	struct prom_sink_health h = {
		.ringbuf_drops = 7, .probe_hits = hits, .apiservers_attached = 2, .noffsets = 2,
		.offsets_group = { "h2", "etcd" }, .offsets_source = { "dwarf", NULL },
		.cpu_seconds = 1.25, .budget_duty = -1,
	};
	char series[160], *t;

	(void)state;
	for (int i = 0; i < KP_PROBE__COUNT; i++)
		hits[i] = 100 + i;
	t = render(s, &h);
	assert_true(value(t, "kapimon_ringbuf_drops_total") == 7);
	for (int i = 0; i < KP_PROBE__COUNT; i++) {
		snprintf(series, sizeof(series), "kapimon_probe_hits_total{probe=\"%s\"}", kp_probe_name(i));
		assert_true(value(t, series) == 100 + i);
	}
	assert_true(value(t, "kapimon_attached_apiservers") == 2);
	assert_true(value(t, "kapimon_offsets_source_info{group=\"h2\",source=\"dwarf\"}") == 1);
	assert_true(value(t, "kapimon_offsets_source_info{group=\"etcd\",source=\"none\"}") == 1);
	assert_true(value(t, "process_cpu_seconds_total") == 1.25);
	assert_null(strstr(t, "kapimon_budget_duty_ratio")); /* not in budget mode */
	free(t);
	h.budget_duty = 0.25;
	t = render(s, &h);
	assert_true(value(t, "kapimon_budget_duty_ratio") == 0.25);
	free(t);
	prom_sink_free(s);
}

/* Every family: one HELP then one TYPE line, then only its own samples; no family twice. */
static void test_format_blocks(void **state)
{
	struct prom_sink *s = prom_sink_new(NULL);
	uint64_t hits[KP_PROBE__COUNT] = { 0 };
	struct prom_sink_health h = { .probe_hits = hits, .cpu_seconds = 0, .budget_duty = 0.5 };
	struct request_record r = req("get", "", "pods", "", 200, 0.01, "x");
	struct etcd_record e = ecall("range", "pods", 0, 0.001);
	char *t, *line, *save = NULL, fam[128] = "", seen[4096] = " ";
	int helps = 0;

	(void)state;
	feed(s, &r);
	prom_sink_etcd(s, &e);
	t = render(s, &h);
	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], key[140];

		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%127s", fam);
			snprintf(key, sizeof(key), " %s ", fam);
			assert_null(strstr(seen, key));
			strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
			helps++;
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(strncmp(line + 7, fam, strlen(fam)), 0);
			continue;
		}
		sscanf(line, "%127[^{ ]", name);
		assert_int_equal(strncmp(name, fam, strlen(fam)), 0);
	}
	assert_true(helps >= 12);
	free(t);
	prom_sink_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_priority_level),
		cmocka_unit_test(test_nonresource),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_other_collision),
		cmocka_unit_test(test_clients_bounded),
		cmocka_unit_test(test_hostile_user_agent),
		cmocka_unit_test(test_user_label),
		cmocka_unit_test(test_etcd),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_format_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
