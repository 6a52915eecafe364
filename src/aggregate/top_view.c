// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon top's groupings, row filter and reverse order: aggregate/top_view.h. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "aggregate/top_view.h"
#include "aggregate/live_cause.h"

/* Columns per table: the one table of groupings (names come from agg_table_name). */
#define COL(h, f) { h, #f, offsetof(struct agg_key, f) }
const struct top_grouping top_groupings[] = {
	{ AGG_BY_KEY, 4, { COL("USER-AGENT", user_agent), COL("VERB", verb), COL("RESOURCE", resource),
			   COL("SUBRESOURCE", subresource) } },
	{ AGG_BY_AGENT, 1, { COL("USER-AGENT", user_agent) } },
	{ AGG_BY_VERB_RESOURCE, 2, { COL("VERB", verb), COL("RESOURCE", resource) } },
	{ AGG_BY_RESOURCE, 1, { COL("RESOURCE", resource) } },
	{ AGG_BY_NAMESPACE, 1, { { "NAMESPACE", "namespace", offsetof(struct agg_key, namespace_) } } },
	{ AGG_BY_CLIENT, 1, { COL("CLIENT", client) } },
	{ AGG_BY_USER, 1, { COL("USER", user) } },
	{ AGG_BY_PRIORITY_LEVEL, 1, { COL("PRIORITY-LEVEL", priority_level) } },
};
const size_t top_ngroupings = sizeof(top_groupings) / sizeof(top_groupings[0]);

uint32_t top_view_tables(size_t by)
{
	uint32_t m = LIVE_CAUSE_TABLES | AGG_TABLE_BIT(AGG_TOTAL);

	if (by < top_ngroupings)
		m |= AGG_TABLE_BIT(top_groupings[by].table);
	return m;
}

int top_grouping_find(const char *name)
{
	for (size_t i = 0; i < top_ngroupings; i++)
		if (!strcmp(name, agg_table_name(top_groupings[i].table)))
			return (int)i;
	return -1;
}

const char *top_grouping_names(void)
{
	static char buf[128];

	if (!buf[0])
		for (size_t i = 0, n = 0; i < top_ngroupings && n < sizeof(buf); i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "",
					      agg_table_name(top_groupings[i].table));
	return buf;
}

size_t top_key_values(const struct top_grouping *g, const struct agg_row *r, const char *out[TOP_MAX_COLS])
{
	for (size_t i = 0; i < g->ncols; i++)
		out[i] = r->other ? (i ? "" : "(other)") : r->key ? *(const char *const *)((const char *)r->key + g->cols[i].off) : "";
	return g->ncols;
}

bool top_row_matches(const struct top_grouping *g, const struct agg_row *r, const char *filter)
{
	const char *v[TOP_MAX_COLS];
	size_t n;

	if (!filter || !filter[0])
		return true;
	n = top_key_values(g, r, v);
	for (size_t i = 0; i < n; i++)
		if (strstr(v[i], filter))
			return true;
	return false;
}

size_t top_view_apply(const struct top_grouping *g, struct agg_row *rows, size_t n, const char *filter,
		      bool reverse)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (top_row_matches(g, &rows[i], filter))
			rows[k++] = rows[i];
	if (reverse)
		for (size_t i = 0; i < k / 2; i++) {
			struct agg_row tmp = rows[i];

			rows[i] = rows[k - 1 - i];
			rows[k - 1 - i] = tmp;
		}
	return k;
}
