/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What `kapimon top` shows of an aggregate query, as pure functions (unit-tested without root):
 * the groupings it offers (--by, key b) with the columns each shows, the row filter (--filter, key /)
 * and the reverse order (--reverse, key r). The screen, the batch text and the JSON snapshots all
 * go through top_view_apply(), so they show the same rows.
 */
#ifndef KAPIMON_TOP_VIEW_H
#define KAPIMON_TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "aggregate/aggregate.h"

#define TOP_MAX_COLS 4
#define TOP_FILTER_LEN 128

/* One grouping: an aggregate table (its name, agg_table_name(), is the --by value) and the key
 * columns shown for it, in order: header on the screen and JSON field name. */
struct top_grouping {
	enum agg_table table;
	size_t ncols;
	struct {
		const char *header; /* "USER-AGENT" */
		const char *json;   /* "user_agent" */
		size_t off;         /* offsetof(struct agg_key, the field): a const char * */
	} cols[TOP_MAX_COLS];
};

/* The groupings in the order key b cycles through them. */
extern const struct top_grouping top_groupings[];
extern const size_t top_ngroupings;

/* The aggregate tables `top` counts while it shows grouping `by` (index in top_groupings): that one,
 * what the live cause drills into (LIVE_CAUSE_TABLES) and the total (agg_params.tables). */
uint32_t top_view_tables(size_t by);

/* Index in top_groupings of the grouping named `name` (agg_table_name), -1 when none. */
int top_grouping_find(const char *name);
/* "all, agent, ..." (the --by values, for usage and errors). */
const char *top_grouping_names(void);

/* The key's values of grouping g's columns, in the order of g->cols (the "(other)" row's are
 * "(other)" then ""). Returns g->ncols. */
size_t top_key_values(const struct top_grouping *g, const struct agg_row *r, const char *out[TOP_MAX_COLS]);

/* True when filter is empty or one of the row's shown key values contains it (case-sensitive
 * substring). */
bool top_row_matches(const struct top_grouping *g, const struct agg_row *r, const char *filter);

/* Keep the rows[0..n) that match filter (order kept), then reverse them when reverse is set (the
 * query sorts descending: reversed, the smallest come first). Returns the rows kept. */
size_t top_view_apply(const struct top_grouping *g, struct agg_row *rows, size_t n, const char *filter,
		      bool reverse);

#endif
