// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Aggregator: only the enabled groupings count (agg_params.tables, agg_enable_tables). A grouping
 * enabled later counts the records that end from then on, and its queries' rates are over the time
 * since; the total and the groupings counted from the start are not affected. top's table set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "aggregate/aggregate.h"
#include "aggregate/live_cause.h"
#include "aggregate/top_view.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S) /* step-aligned start */

static struct request_record mk(const char *ua, const char *user, uint64_t end_ns)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.user_agent, sizeof(r.user_agent), "%s", ua);
	snprintf(r.ri.verb, sizeof(r.ri.verb), "get");
	snprintf(r.ri.resource, sizeof(r.ri.resource), "pods");
	snprintf(r.method, sizeof(r.method), "GET");
	snprintf(r.client, sizeof(r.client), "127.0.0.1:40000");
	snprintf(r.user, sizeof(r.user), "%s", user);
	r.has_user = true;
	r.ri.is_resource_request = true;
	r.status = 200;
	r.latency_ns = 1000000;
	r.start_ns = end_ns - r.latency_ns;
	r.bytes_out = 100;
	r.sample_factor = 1.0;
	return r;
}

static struct agg *mkagg(uint32_t tables)
{
	struct agg_params p;
	struct agg *a;

	agg_params_default(&p);
	p.max_keys = 16;
	p.nsteps = 10;
	p.detector_window = 0;
	p.tables = tables;
	a = agg_new(&p, T0);
	assert_non_null(a);
	return a;
}

/* A table left out counts nothing and reports no row; the total always counts. */
static void test_disabled_counts_nothing(void **state)
{
	struct agg *a = mkagg(AGG_TABLE_BIT(AGG_BY_AGENT));
	struct request_record r = mk("kubectl", "alice", T0 + S / 2);
	uint32_t rows[AGG__NTABLES];
	struct agg_row out[4];

	(void)state;
	assert_true(agg_table_enabled(a, AGG_BY_AGENT));
	assert_true(agg_table_enabled(a, AGG_TOTAL)); /* forced */
	assert_false(agg_table_enabled(a, AGG_BY_USER));
	assert_true(agg_add_rows(a, &r, rows));
	assert_int_not_equal(rows[AGG_BY_AGENT], UINT32_MAX);
	assert_int_not_equal(rows[AGG_TOTAL], UINT32_MAX);
	assert_int_equal(rows[AGG_BY_USER], UINT32_MAX);
	assert_int_equal(rows[AGG_BY_KEY], UINT32_MAX);
	agg_advance(a, T0 + S);
	assert_int_equal(agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, out, 4, NULL), 1);
	assert_int_equal(agg_query(a, AGG_BY_USER, 1, AGG_SORT_RATE, out, 4, NULL), 0);
	assert_int_equal(agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, out, 4, NULL), 1);
	assert_true(out[0].req == 1.0);
	/* in flight: only enabled tables are touched */
	agg_inflight_clear(a);
	agg_inflight(a, &r, 1);
	assert_int_equal(agg_query(a, AGG_BY_USER, 1, AGG_SORT_RATE, out, 4, NULL), 0);
	agg_free(a);
}

/* Enabled at T0 + 2.5 s: the records that ended before are not in it (they are in the total), the
 * ones after are, and its rate is over the 0.5 s it has counted of the step, not the whole step. */
static void test_enabled_later(void **state)
{
	struct agg *a = mkagg(AGG_TABLE_BIT(AGG_BY_AGENT));
	struct agg_row out[4];
	double span, tspan;
	uint32_t rows[AGG__NTABLES];

	(void)state;
	for (int i = 0; i < 10; i++) {
		struct request_record r = mk("kubectl", "alice", T0 + 2 * S + (uint64_t)i * S / 20); /* 2.0 .. 2.45 s */

		agg_add(a, &r);
	}
	agg_enable_tables(a, AGG_TABLE_BIT(AGG_BY_USER), T0 + 2 * S + S / 2);
	assert_true(agg_table_enabled(a, AGG_BY_USER));
	{ /* delivered after the switch but ended before it: not counted by the new grouping */
		struct request_record r = mk("kubectl", "alice", T0 + 2 * S + S / 2 - 1);

		assert_true(agg_add_rows(a, &r, rows));
		assert_int_equal(rows[AGG_BY_USER], UINT32_MAX);
	}
	for (int i = 0; i < 4; i++) {
		struct request_record r = mk("kubectl", "alice", T0 + 2 * S + S / 2 + (uint64_t)i * S / 10); /* 2.5 .. 2.8 s */

		assert_true(agg_add_rows(a, &r, rows));
		assert_int_not_equal(rows[AGG_BY_USER], UINT32_MAX);
	}
	agg_advance(a, T0 + 3 * S);
	assert_int_equal(agg_query(a, AGG_BY_USER, 1, AGG_SORT_RATE, out, 4, &span), 1);
	assert_string_equal(out[0].key->user, "alice");
	assert_true(out[0].req == 4.0);
	assert_true(span == 0.5);
	assert_true(out[0].rate == 8.0);
	assert_int_equal(agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, out, 4, &tspan), 1);
	assert_true(out[0].req == 15.0);
	assert_true(tspan == 1.0);
	assert_int_equal(agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, out, 4, NULL), 1);
	assert_true(out[0].req == 15.0);
	/* enabling again changes nothing: the grouping keeps counting from its first enabling */
	agg_enable_tables(a, AGG_TABLE_BIT(AGG_BY_USER), T0 + 3 * S);
	assert_int_equal(agg_query(a, AGG_BY_USER, 2, AGG_SORT_RATE, out, 4, &span), 1);
	assert_true(out[0].req == 4.0);
	assert_true(span == 0.5);
	agg_free(a);
}

/* top counts its view's grouping, the live cause's and the total, not all nine. */
static void test_top_tables(void **state)
{
	(void)state;
	for (size_t by = 0; by < top_ngroupings; by++) {
		uint32_t m = top_view_tables(by);

		assert_true(m & AGG_TABLE_BIT(top_groupings[by].table));
		assert_int_equal(m & LIVE_CAUSE_TABLES, LIVE_CAUSE_TABLES);
		assert_true(m & AGG_TABLE_BIT(AGG_TOTAL));
		assert_true(__builtin_popcount(m) <= 4);
	}
}

/* tables 0: the total alone */
static void test_total_only(void **state)
{
	struct agg *a = mkagg(0);
	struct request_record r = mk("kubectl", "alice", T0 + S / 2);
	struct agg_row out[2];

	(void)state;
	for (int t = 0; t < AGG_TOTAL; t++)
		assert_false(agg_table_enabled(a, (enum agg_table)t));
	agg_add(a, &r);
	agg_advance(a, T0 + S);
	assert_int_equal(agg_query(a, AGG_TOTAL, 1, AGG_SORT_RATE, out, 2, NULL), 1);
	assert_int_equal(agg_query(a, AGG_BY_KEY, 1, AGG_SORT_RATE, out, 2, NULL), 0);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_counts_nothing),
		cmocka_unit_test(test_enabled_later),
		cmocka_unit_test(test_top_tables),
		cmocka_unit_test(test_total_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
