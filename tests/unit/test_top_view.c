// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon top's groupings, filter and reverse order (aggregate/top_view.h), on a real aggregate. */
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
#include "aggregate/top_view.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S)

static void add(struct agg *a, const char *ua, const char *verb, const char *res, const char *ns, const char *client,
		int n)
{
	for (int i = 0; i < n; i++) {
		struct request_record r;

		memset(&r, 0, sizeof(r));
		snprintf(r.user_agent, sizeof(r.user_agent), "%s", ua);
		snprintf(r.ri.verb, sizeof(r.ri.verb), "%s", verb);
		snprintf(r.ri.resource, sizeof(r.ri.resource), "%s", res);
		snprintf(r.ri.namespace_, sizeof(r.ri.namespace_), "%s", ns);
		snprintf(r.method, sizeof(r.method), "GET");
		snprintf(r.client, sizeof(r.client), "%s:%d", client, 40000 + i);
		/* users: by the client address; 10.0.0.3 is not authenticated */
		r.has_user = strcmp(client, "10.0.0.3") != 0;
		snprintf(r.user, sizeof(r.user), "%s", r.has_user ? (client[7] == '1' ? "alice" : "system:node:n1") : "");
		r.ri.is_resource_request = true;
		r.status = 200;
		r.latency_ns = 1000000;
		r.start_ns = T0 + 1 * S + (uint64_t)i * 1000000ULL;
		r.sample_factor = 1.0;
		agg_add(a, &r);
	}
}

/* 3 workloads with distinct rates: 30, 20, 10 requests in step 1; queried at step 2 */
static struct agg *mk(void)
{
	struct agg_params p;
	struct agg *a;

	agg_params_for_window(&p, 1);
	p.detector_window = 0;
	a = agg_new(&p, T0);
	assert_non_null(a);
	agg_advance(a, T0 + 1 * S);
	add(a, "flood/1.0", "list", "configmaps", "team-a", "10.0.0.1", 30);
	add(a, "kubelet/v1.20", "get", "pods", "team-b", "10.0.0.2", 20);
	add(a, "ctrl/2", "list", "configmaps", "team-b", "10.0.0.3", 10);
	agg_advance(a, T0 + 2 * S);
	return a;
}

static const struct top_grouping *grp(const char *name)
{
	int i = top_grouping_find(name);

	assert_true(i >= 0);
	assert_int_equal(agg_table_name(top_groupings[i].table)[0], name[0]);
	return &top_groupings[i];
}

static size_t q(struct agg *a, const struct top_grouping *g, struct agg_row *rows, const char *filter, bool rev)
{
	size_t n = agg_query(a, g->table, 1, AGG_SORT_RATE, rows, 64, NULL);

	return top_view_apply(g, rows, n, filter, rev);
}

static void test_grouping_table(void **state)
{
	(void)state;
	/* every --by value names a distinct table; unknown names are refused */
	for (size_t i = 0; i < top_ngroupings; i++) {
		assert_int_equal(top_grouping_find(agg_table_name(top_groupings[i].table)), (int)i);
		assert_true(top_groupings[i].ncols >= 1 && top_groupings[i].ncols <= TOP_MAX_COLS);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(top_groupings[i].table, top_groupings[j].table);
	}
	assert_int_equal(top_grouping_find("verb-resource") >= 0, 1);
	assert_int_equal(top_grouping_find("namespace") >= 0, 1);
	assert_int_equal(top_grouping_find("bogus"), -1);
	assert_int_equal(top_grouping_find(""), -1);
	assert_non_null(strstr(top_grouping_names(), "namespace"));
}

static void test_namespace_and_resource(void **state)
{
	struct agg *a = mk();
	struct agg_row rows[64];
	const char *v[TOP_MAX_COLS];
	size_t n;

	(void)state;
	n = q(a, grp("namespace"), rows, "", false);
	assert_int_equal(n, 2);
	top_key_values(grp("namespace"), &rows[0], v);
	assert_string_equal(v[0], "team-a"); /* 30 > 20 + 10 */
	assert_true(fabs((rows[0].req) - (30)) < 1e-9);
	top_key_values(grp("namespace"), &rows[1], v);
	assert_string_equal(v[0], "team-b");
	assert_true(fabs((rows[1].req) - (30)) < 1e-9);

	n = q(a, grp("resource"), rows, "", false);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].key->resource, "configmaps");
	assert_true(fabs((rows[0].req) - (40)) < 1e-9);
	assert_string_equal(rows[0].key->verb, ""); /* resource only */

	n = q(a, grp("verb-resource"), rows, "", false);
	assert_int_equal(n, 2);
	assert_int_equal(top_key_values(grp("verb-resource"), &rows[0], v), 2);
	assert_string_equal(v[0], "list");
	assert_string_equal(v[1], "configmaps");
	agg_free(a);
}

static void test_user(void **state)
{
	struct agg *a = mk();
	struct agg_row rows[64];
	const char *v[TOP_MAX_COLS];
	size_t n;

	(void)state;
	n = q(a, grp("user"), rows, "", false);
	assert_int_equal(n, 3);
	assert_int_equal(top_key_values(grp("user"), &rows[0], v), 1);
	assert_string_equal(v[0], "alice");
	assert_true(fabs(rows[0].req - 30) < 1e-9);
	top_key_values(grp("user"), &rows[1], v);
	assert_string_equal(v[0], "system:node:n1");
	assert_true(fabs(rows[1].req - 20) < 1e-9);
	top_key_values(grp("user"), &rows[2], v);
	assert_string_equal(v[0], ""); /* not authenticated */
	assert_string_equal(rows[0].key->user_agent, ""); /* user only */
	n = q(a, grp("user"), rows, "node", false);
	assert_int_equal(n, 1);
	assert_non_null(strstr(top_grouping_names(), "user"));
	agg_free(a);
}

/* --by priority-level: the APF priority level's name, else its UID (served requests), "" unknown */
static void test_priority_level(void **state)
{
	struct agg *a = mk();
	struct agg_row rows[64];
	const char *v[TOP_MAX_COLS];
	struct request_record r;
	size_t n;

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(r.ri.verb, sizeof(r.ri.verb), "list");
	r.status = 429;
	r.latency_ns = 1000000;
	r.sample_factor = 1.0;
	snprintf(r.apf.priority_level, sizeof(r.apf.priority_level), "workload-low");
	snprintf(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), "uid-ignored-when-named");
	agg_advance(a, T0 + 3 * S);
	for (int i = 0; i < 40; i++) {
		r.start_ns = T0 + 3 * S + (uint64_t)i * 1000;
		agg_add(a, &r);
	}
	memset(r.apf.priority_level, 0, sizeof(r.apf.priority_level));
	snprintf(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), "cdd47590-uid");
	r.status = 200;
	for (int i = 0; i < 5; i++)
		agg_add(a, &r);
	agg_advance(a, T0 + 4 * S);
	n = q(a, grp("priority-level"), rows, "", false);
	assert_int_equal(top_key_values(grp("priority-level"), &rows[0], v), 1);
	assert_string_equal(grp("priority-level")->cols[0].json, "priority_level");
	assert_true(n >= 2);
	top_key_values(grp("priority-level"), &rows[0], v);
	assert_string_equal(v[0], "workload-low");
	assert_true(fabs(rows[0].e429 - 40) < 1e-9);
	top_key_values(grp("priority-level"), &rows[1], v);
	assert_string_equal(v[0], "cdd47590-uid");
	assert_true(fabs(rows[1].req - 5) < 1e-9);
	agg_free(a);
}

static void test_filter(void **state)
{
	struct agg *a = mk();
	struct agg_row rows[64];
	size_t n;

	(void)state;
	/* matches any shown column: the user agent ... */
	n = q(a, grp("all"), rows, "kubelet", false);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].key->user_agent, "kubelet/v1.20");
	/* ... or the resource (two rows, order kept) */
	n = q(a, grp("all"), rows, "configmaps", false);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].key->user_agent, "flood/1.0");
	assert_string_equal(rows[1].key->user_agent, "ctrl/2");
	/* a column the grouping does not show does not match: clients are not in "agent" rows */
	n = q(a, grp("agent"), rows, "10.0.0", false);
	assert_int_equal(n, 0);
	n = q(a, grp("client"), rows, "10.0.0.3", false);
	assert_int_equal(n, 1);
	/* case-sensitive substring; empty = everything */
	assert_int_equal(q(a, grp("all"), rows, "KUBELET", false), 0);
	assert_int_equal(q(a, grp("all"), rows, "", false), 3);
	assert_int_equal(q(a, grp("all"), rows, NULL, false), 3);
	agg_free(a);
}

static void test_other_row(void **state)
{
	const struct top_grouping *g = grp("all");
	struct agg_row r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.other = true;
	assert_true(top_row_matches(g, &r, "(other)"));
	assert_true(top_row_matches(g, &r, "other"));
	assert_false(top_row_matches(g, &r, "kubelet"));
}

static void test_reverse(void **state)
{
	struct agg *a = mk();
	struct agg_row rows[64], fwd[64];
	size_t n, m;

	(void)state;
	n = q(a, grp("agent"), fwd, "", false);
	m = q(a, grp("agent"), rows, "", true);
	assert_int_equal(n, 3);
	assert_int_equal(m, 3);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(rows[i].key->user_agent, fwd[n - 1 - i].key->user_agent);
	assert_true(rows[0].rate < rows[1].rate && rows[1].rate < rows[2].rate);
	/* filter then reverse */
	m = q(a, grp("all"), rows, "configmaps", true);
	assert_int_equal(m, 2);
	assert_string_equal(rows[0].key->user_agent, "ctrl/2");
	assert_string_equal(rows[1].key->user_agent, "flood/1.0");
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouping_table),
		cmocka_unit_test(test_namespace_and_resource),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_priority_level),
		cmocka_unit_test(test_other_row),
		cmocka_unit_test(test_reverse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
