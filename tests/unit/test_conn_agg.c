// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Connections per client / etcd endpoint (aggregate/conn_agg.c): counts, the open gauge, the bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "aggregate/conn_agg.h"

static struct conn_record rec(enum rec_conn_event ev, enum rec_conn_dir dir, const char *group, uint32_t gopen,
			      uint64_t total)
{
	struct conn_record r;

	memset(&r, 0, sizeof(r));
	r.ts_ns = 1000000000ULL;
	r.event = ev;
	r.dir = dir;
	snprintf(r.group, sizeof(r.group), "%s", group);
	r.group_open = gopen;
	r.open_total = total;
	r.bytes_in = r.bytes_out = r.retransmits = -1;
	return r;
}

static const struct conn_agg_row *find(const struct conn_agg_row *rows, size_t n, enum rec_conn_dir dir,
				       const char *g)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].dir == dir && !strcmp(rows[i].group, g))
			return &rows[i];
	return NULL;
}

static void test_counts(void **state)
{
	struct conn_agg *a = conn_agg_new(8);
	struct conn_agg_row rows[10];
	struct conn_record r;
	const struct conn_agg_row *x;
	size_t n;

	r = rec(REC_CONN_OPEN, REC_CONN_CLIENT, "10.0.0.2", 1, 1);
	conn_agg_add(a, &r);
	r = rec(REC_CONN_OPEN, REC_CONN_CLIENT, "10.0.0.2", 2, 2);
	r.retrans_delta = 1; /* a SYN-ACK retransmit */
	conn_agg_add(a, &r);
	r = rec(REC_CONN_RETRANS, REC_CONN_CLIENT, "10.0.0.2", 2, 2);
	r.retrans_delta = 3;
	conn_agg_add(a, &r);
	r = rec(REC_CONN_RESET, REC_CONN_CLIENT, "10.0.0.2", 2, 2);
	r.resets_delta = 1;
	r.reset_sent = true;
	conn_agg_add(a, &r);
	r = rec(REC_CONN_CLOSE, REC_CONN_CLIENT, "10.0.0.2", 1, 1);
	r.duration_ns = 2000;
	r.bytes_in = 10;
	r.bytes_out = 20;
	conn_agg_add(a, &r);
	r = rec(REC_CONN_OPEN, REC_CONN_ETCD, "10.0.0.9:2379", 1, 1);
	r.seeded = true; /* opened before kapimon: open, not "opened" */
	conn_agg_add(a, &r);
	n = conn_agg_rows(a, rows, 10);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].dir, REC_CONN_CLIENT); /* clients first */
	x = find(rows, n, REC_CONN_CLIENT, "10.0.0.2");
	assert_non_null(x);
	assert_int_equal(x->opened, 2);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->open, 1);
	assert_int_equal(x->retrans, 4);
	assert_int_equal(x->resets_sent, 1);
	assert_int_equal(x->resets_received, 0);
	assert_int_equal(x->bytes_in, 10);
	assert_int_equal(x->bytes_out, 20);
	assert_int_equal(x->lifetimes, 1);
	assert_int_equal(x->lifetime_ns, 2000);
	assert_int_equal(x->w_opened, 2);
	x = find(rows, n, REC_CONN_ETCD, "10.0.0.9:2379");
	assert_non_null(x);
	assert_int_equal(x->opened, 0);
	assert_int_equal(x->open, 1);
	/* a new window */
	conn_agg_window_reset(a);
	n = conn_agg_rows(a, rows, 10);
	x = find(rows, n, REC_CONN_CLIENT, "10.0.0.2");
	assert_int_equal(x->w_opened, 0);
	assert_int_equal(x->opened, 2);
	conn_agg_free(a);
}

/* More clients than rows: the lightest go to "(other)", sums stay exact, the open gauge too. */
static void test_bounded(void **state)
{
	struct conn_agg *a = conn_agg_new(4);
	struct conn_agg_row rows[6];
	uint64_t opened = 0, open = 0, total_open = 0;
	size_t n;
	char g[32];

	/* one busy client (its connections stay open), then 20 clients with one connection each */
	for (uint32_t i = 1; i <= 30; i++) {
		struct conn_record r = rec(REC_CONN_OPEN, REC_CONN_CLIENT, "10.0.0.100", i, ++total_open);

		conn_agg_add(a, &r);
	}
	for (int c = 0; c < 20; c++) {
		struct conn_record r;

		snprintf(g, sizeof(g), "10.0.1.%d", c);
		r = rec(REC_CONN_OPEN, REC_CONN_CLIENT, g, 1, ++total_open);
		conn_agg_add(a, &r);
	}
	n = conn_agg_rows(a, rows, 6);
	assert_true(n <= 5); /* 4 rows and the "(other)" row */
	assert_true(conn_agg_evictions(a) > 0);
	assert_non_null(find(rows, n, REC_CONN_CLIENT, "10.0.0.100")); /* the heavy hitter keeps its row */
	for (size_t i = 0; i < n; i++) {
		opened += rows[i].opened;
		open += rows[i].open;
	}
	assert_int_equal(opened, 50);
	assert_int_equal(open, 50);
	assert_true(rows[n - 1].other);
	conn_agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests_name("conn_agg", tests, NULL, NULL);
}
