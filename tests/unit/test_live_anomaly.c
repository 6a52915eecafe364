// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The live anomaly detector shared by top and the agent (aggregate/live_anomaly.h) in its sink form,
 * fed synthetic request records as the pipeline delivers them, refreshed once a step as the agent does;
 * and its outputs (output/anomaly_out.h): the flows line and the Prometheus families. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aggregate/live_anomaly.h"
#include "output/anomaly_out.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S)
#define FLOOD_UA "flood-agent/1.0 (one client)"

static uint64_t rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void feed(struct pipeline_sink *sk, const char *ua, const char *verb, const char *res, uint64_t step, int i)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.user_agent, sizeof(r.user_agent), "%s", ua);
	snprintf(r.ri.verb, sizeof(r.ri.verb), "%s", verb);
	snprintf(r.ri.resource, sizeof(r.ri.resource), "%s", res);
	snprintf(r.method, sizeof(r.method), "GET");
	snprintf(r.client, sizeof(r.client), "127.0.0.1:%d", 40000 + i % 1000);
	r.ri.is_resource_request = true;
	r.status = 200;
	r.latency_ns = 1000000;
	r.start_ns = T0 + step * S + (uint64_t)(i % 1000) * 900000ULL;
	r.sample_factor = 1.0;
	sk->request(sk->ctx, &r);
}

/* the steady clients: three agents at a few requests a second each, with noise */
static void steady(struct pipeline_sink *sk, uint64_t s)
{
	int n1 = 6 + (int)rnd(5), n2 = 3 + (int)rnd(4), n3 = 2 + (int)rnd(3);

	for (int i = 0; i < n1; i++)
		feed(sk, "kubelet/v1.30", "get", "nodes", s, i);
	for (int i = 0; i < n2; i++)
		feed(sk, "kube-controller-manager/v1.30", "update", "coordination.k8s.io/leases", s, i);
	for (int i = 0; i < n3; i++)
		feed(sk, "kube-scheduler/v1.30", "list", "pods", s, i);
}

struct run {
	struct live_anomaly *la;
	struct pipeline_sink sk;
	struct anomaly_record rec[64];
	size_t nrec;
	uint64_t step;
};

static void run_init(struct run *r)
{
	struct agg_params ap;
	struct dc_params dp;

	memset(r, 0, sizeof(*r));
	agg_params_for_window(&ap, 1); /* the agent's parameters */
	dc_params_default(&dp);
	assert_int_equal(live_anomaly_params(&ap, &dp), 0);
	r->la = live_anomaly_sink_new(&ap, T0);
	assert_non_null(r->la);
	r->sk = live_anomaly_sink_iface(r->la);
}

/* the step's records, then the refresh just after the step ends (as the agent) */
static void run_step(struct run *r, int flood)
{
	struct anomaly_record ev[LA_MAX_RECORDS];
	size_t n;

	steady(&r->sk, r->step);
	for (int i = 0; i < flood; i++)
		feed(&r->sk, FLOOD_UA, "list", "configmaps", r->step, i);
	r->step++;
	n = live_anomaly_sink_refresh(r->la, T0 + r->step * S + 50000000ULL, ev);
	assert_true(n <= LA_MAX_RECORDS);
	for (size_t i = 0; i < n; i++) {
		char line[640];

		anomaly_record_format(&ev[i], line, sizeof(line));
		printf("  step %llu %s: %s\n", (unsigned long long)r->step - 1, anomaly_phase_name(ev[i].phase), line);
		assert_true(r->nrec < 64);
		r->rec[r->nrec++] = ev[i];
	}
}

static size_t count(const struct run *r, enum la_phase ph)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nrec; i++)
		n += r->rec[i].phase == ph;
	return n;
}

static bool names_flood(const struct anomaly_record *e)
{
	for (size_t i = 0; i < e->cause.nattrs; i++)
		if (!strcmp(e->cause.names[i], "user_agent"))
			return !strcmp(e->cause.values[i], FLOOD_UA);
	return false;
}

static char *render(const struct live_anomaly *la)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	anomaly_prom_render(la, f);
	fclose(f);
	return buf;
}

/* a steady baseline: never an event, whatever its noise (300 steps, the detector warm after 30) */
static void test_steady_no_event(void **st)
{
	struct run r;
	char *m;

	(void)st;
	run_init(&r);
	for (int s = 0; s < 300; s++)
		run_step(&r, 0);
	assert_int_equal(r.nrec, 0);
	assert_int_equal(r.la->events_total, 0);
	assert_false(r.la->active);
	assert_int_not_equal(r.la->view.state, AL_LEARNING);
	m = render(r.la);
	assert_non_null(strstr(m, "kapimon_anomaly_active{metric=\"requests\"} 0\n"));
	assert_non_null(strstr(m, "kapimon_anomaly_detector_ready{metric=\"requests\"} 1\n"));
	assert_non_null(strstr(m, "kapimon_anomalies_total{metric=\"requests\"} 0\n"));
	assert_null(strstr(m, "kapimon_anomaly_cause_info{"));
	free(m);
	live_anomaly_sink_free(r.la);
}

/* a flood from one user agent after a steady baseline: exactly one event, its cause is that agent, it
 * ends after the flood; `flood_steps` beyond the detector's relearn (12) makes it an episode */
static void flood_case(int flood_steps)
{
	struct run r;
	uint64_t f0 = 90, f1 = f0 + (uint64_t)flood_steps;
	const struct anomaly_record *start = NULL, *end = NULL, *named = NULL;
	char *m = NULL;

	run_init(&r);
	while (r.step < f0)
		run_step(&r, 0);
	assert_int_equal(r.nrec, 0); /* nothing on the baseline */
	while (r.step < f1) {
		run_step(&r, 300);
		if (r.step == f0 + 3) { /* during the flood: the metrics say so */
			m = render(r.la);
			printf("%s", m);
			assert_non_null(strstr(m, "kapimon_anomaly_active{metric=\"requests\"} 1\n"));
			assert_non_null(strstr(m, "kapimon_anomalies_total{metric=\"requests\"} 1\n"));
			assert_non_null(strstr(m, "kapimon_anomaly_cause_info{metric=\"requests\",direction=\"high\","
						  "user_agent=\"" FLOOD_UA "\""));
			free(m);
		}
	}
	for (int s = 0; s < 60; s++)
		run_step(&r, 0);
	assert_int_equal(count(&r, LA_START), 1);
	assert_int_equal(count(&r, LA_END), 1);
	assert_true(count(&r, LA_CAUSE) <= 1);
	for (size_t i = 0; i < r.nrec; i++) {
		const struct anomaly_record *e = &r.rec[i];

		assert_int_equal(e->seq, 1);
		assert_string_equal(e->metric, "requests");
		assert_int_equal(e->direction, 1);
		if (e->phase == LA_START)
			start = e;
		if (e->phase == LA_END)
			end = e;
		if (!named && e->cause.valid)
			named = e;
	}
	assert_true(start < end);
	/* it starts at the flood's first step (or the one after) and is reported one step later */
	assert_true(start->start_ns >= T0 + f0 * S && start->start_ns <= T0 + (f0 + 1) * S);
	assert_true(start->ts_ns <= T0 + (f0 + 2) * S + S / 10);
	assert_true(start->observed > 250 && start->expected < 30);
	assert_true(start->score > 4);
	/* named at once: the start line carries the cause */
	assert_ptr_equal(named, start);
	assert_true(names_flood(start));
	assert_true(start->cause.share > 0.9);
	assert_true(names_flood(end));
	/* it ends after the flood, within the detector's quiet steps */
	assert_true(end->end_ns >= T0 + f1 * S && end->end_ns <= T0 + (f1 + 6) * S);
	assert_true(end->ts_ns <= T0 + (f1 + 8) * S);
	assert_false(r.la->active);
	assert_int_equal(r.la->events_total, 1);
	m = render(r.la);
	assert_non_null(strstr(m, "kapimon_anomaly_active{metric=\"requests\"} 0\n"));
	assert_null(strstr(m, "kapimon_anomaly_cause_info{"));
	free(m);
	live_anomaly_sink_free(r.la);
}

static void test_flood_short(void **st)
{
	(void)st;
	flood_case(6);
}

static void test_flood_long(void **st)
{
	(void)st;
	flood_case(40); /* the detector re-learns the level after 12 steps: still one event, until it stops */
}

/* the flows line: valid JSON with the documented fields; untrusted bytes escaped */
static void test_json_line(void **st)
{
	struct anomaly_record e;
	struct json_writer w;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)st;
	memset(&e, 0, sizeof(e));
	e.phase = LA_END;
	e.metric = LA_METRIC;
	e.seq = 3;
	e.ts_ns = T0 + 100 * S;
	e.start_ns = T0 + 40 * S;
	e.end_ns = T0 + 95 * S;
	e.direction = 1;
	e.observed = 916;
	e.expected = 9;
	e.score = 99;
	e.cause.valid = true;
	e.cause.seconds = 55;
	e.cause.real = 916 * 55.0;
	e.cause.expected = 9 * 55.0;
	e.cause.cause_real = 900 * 55.0;
	e.cause.share = 0.99;
	e.cause.direction = 1;
	e.cause.nattrs = 1;
	strcpy(e.cause.names[0], "user_agent");
	strcpy(e.cause.values[0], "evil\"\n\x1b[31m");
	strcpy(e.cause.attrs, "user_agent=evil\"??[31m");
	jw_init(&w, f, false);
	anomaly_json(&w, &e);
	fclose(f);
	printf("  %s\n", buf);
	assert_null(strchr(buf, '\n'));
	assert_null(strchr(buf, 0x1b));
	assert_non_null(strstr(buf, "{\"kind\":\"anomaly\",\"ts\":\"2023-11-14T22:15:00.000000000Z\",\"phase\":\"end\",\"seq\":3,"
				    "\"metric\":\"requests\",\"direction\":\"high\",\"start\":\"2023-11-14T22:14:00.000000000Z\","
				    "\"end\":\"2023-11-14T22:14:55.000000000Z\",\"duration_s\":55,"));
	assert_non_null(strstr(buf, "\"cause\":{\"found\":true,\"attrs\":{\"user_agent\":\"evil\\\"\\n\\u001b[31m\"},\"share\":0.99"));
	assert_non_null(strstr(buf, "\"line\":\"anomaly since 22:14:00 until 22:14:55 (55 s): requests +907/s (916 vs 9 expected) -- cause: user_agent=evil\\\"??[31m (99% of the excess)\""));
	free(buf);
}

static void test_params(void **st)
{
	struct agg_params ap;
	struct dc_params dp;

	(void)st;
	agg_params_for_window(&ap, 1);
	dc_params_default(&dp);
	dp.season = 60;
	dp.threshold = 6;
	assert_int_equal(live_anomaly_params(&ap, &dp), 0);
	assert_int_equal(ap.detector_window, 240); /* four cycles of history */
	assert_true(ap.detector_threshold == 6);
	dp.season = LA_MAX_SEASON + 1;
	assert_int_equal(live_anomaly_params(&ap, &dp), -1);
	ap.detector_window = 0; /* no detector: no sink */
	assert_null(live_anomaly_sink_new(&ap, T0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_no_event),
		cmocka_unit_test(test_flood_short),
		cmocka_unit_test(test_flood_long),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
