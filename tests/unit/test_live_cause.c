// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The live cause of an anomaly (aggregate/live_cause.h) on an aggregate fed with records. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aggregate/aggregate.h"
#include "aggregate/live_cause.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S)

static void add(struct agg *a, const char *ua, const char *verb, const char *res, uint64_t step, int i)
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
	agg_add(a, &r);
}

/* 30 steps of background: three agents, a few requests each per step */
static void background(struct agg *a, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s < to; s++) {
		agg_advance(a, T0 + s * S);
		for (int i = 0; i < 6; i++)
			add(a, "kubelet/v1.30", "get", "nodes", s, i);
		for (int i = 0; i < 4; i++)
			add(a, "kube-controller-manager/v1.30", "update", "coordination.k8s.io/leases", s, i);
		for (int i = 0; i < 3; i++)
			add(a, "kube-scheduler/v1.30", "list", "pods", s, i);
	}
}

static struct agg *mk(uint32_t max_keys)
{
	struct agg_params p;
	struct agg *a;

	agg_params_for_window(&p, 2);
	p.max_keys = max_keys;
	p.detector_window = 0;
	a = agg_new(&p, T0);
	assert_non_null(a);
	return a;
}

static void test_one_agent_flood(void **st)
{
	struct agg *a = mk(4096);
	struct live_cause c;
	char line[512];

	background(a, 0, 30);
	for (uint64_t s = 30; s < 33; s++) {
		agg_advance(a, T0 + s * S);
		for (int i = 0; i < 6; i++)
			add(a, "kubelet/v1.30", "get", "nodes", s, i);
		for (int i = 0; i < 4; i++)
			add(a, "kube-controller-manager/v1.30", "update", "coordination.k8s.io/leases", s, i);
		for (int i = 0; i < 3; i++)
			add(a, "kube-scheduler/v1.30", "list", "pods", s, i);
		for (int i = 0; i < 200; i++)
			add(a, "telemetry-agent/7.1", "get", "coordination.k8s.io/leases", s, i);
	}
	agg_advance(a, T0 + 33 * S);
	assert_int_equal(live_cause_compute(a, agg_step_of(a, T0 + 30 * S), 13, &c), 0);
	assert_true(c.valid);
	assert_int_equal(c.direction, 1);
	live_cause_format(&c, T0 + 30 * S, line, sizeof(line));
	printf("  %s\n", line);
	assert_non_null(strstr(c.attrs, "user_agent=telemetry-agent/7.1"));
	assert_true(c.share > 0.95);
	assert_true(fabs(c.real - 3 * 213) < 1e-6);
	agg_free(a);
}

static void test_thin_flood_many_agents(void **st)
{
	/* 64 rows per table, 5,000 distinct agents: most have no row; their (verb, resource) shows */
	struct agg *a = mk(64);
	struct live_cause c;
	char line[512], ua[64];

	background(a, 0, 30);
	for (uint64_t s = 30; s < 32; s++) {
		agg_advance(a, T0 + s * S);
		for (int i = 0; i < 6; i++)
			add(a, "kubelet/v1.30", "get", "nodes", s, i);
		for (int i = 0; i < 2500; i++) {
			snprintf(ua, sizeof(ua), "pod-agent-%d/v1", (int)(s - 30) * 2500 + i);
			add(a, ua, "get", "configmaps", s, i);
		}
	}
	agg_advance(a, T0 + 32 * S);
	assert_int_equal(live_cause_compute(a, agg_step_of(a, T0 + 30 * S), 13, &c), 0);
	live_cause_format(&c, T0 + 30 * S, line, sizeof(line));
	printf("  %s\n", line);
	assert_true(c.valid);
	/* only `get` touches configmaps here: resource=configmaps is that leaf set's shortest name */
	assert_non_null(strstr(c.attrs, "resource=configmaps"));
	assert_null(strstr(c.attrs, "pod-agent"));
	assert_true(c.share > 0.9);
	agg_free(a);
}

static void test_no_baseline_or_event(void **st)
{
	struct agg *a = mk(4096);
	struct live_cause c;

	background(a, 0, 5);
	agg_advance(a, T0 + 5 * S);
	/* the event has no completed step yet */
	assert_int_equal(live_cause_compute(a, agg_step_of(a, T0 + 5 * S), 13, &c), -1);
	assert_false(c.valid);
	/* no step before the event is kept */
	assert_int_equal(live_cause_compute(a, agg_step_of(a, T0), 13, &c), -1);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_agent_flood),
		cmocka_unit_test(test_thin_flood_many_agents),
		cmocka_unit_test(test_no_baseline_or_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
