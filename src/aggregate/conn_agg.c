// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/conn_agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/hh.h"
#include "util/hash.h"

#define STEP_NS 10000000000ULL /* the heavy-hitter clock: 10 s of record time ... */
#define DECAY_STEPS 360.0      /* ... weights decay with a time constant of 1 h */

struct conn_agg {
	struct hh *hh;
	uint32_t cap;
	struct conn_agg_row *rows;  /* per hh row */
	struct conn_agg_row other[2]; /* per direction */
	uint64_t open_total[2];     /* per direction, after the last event */
	uint64_t evictions;
	const char *probe;          /* hh_find's key under comparison */
	enum rec_conn_dir probe_dir;
};

struct conn_agg *conn_agg_new(uint32_t cap)
{
	struct conn_agg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cap = cap ? cap : CONN_AGG_ROWS;
	a->hh = hh_new(a->cap, DECAY_STEPS, 0);
	a->rows = a->hh ? calloc(a->cap, sizeof(*a->rows)) : NULL;
	if (!a->rows) {
		conn_agg_free(a);
		return NULL;
	}
	for (int d = 0; d < 2; d++) {
		snprintf(a->other[d].group, sizeof(a->other[d].group), "(other)");
		a->other[d].dir = (enum rec_conn_dir)d;
		a->other[d].other = true;
	}
	return a;
}

void conn_agg_free(struct conn_agg *a)
{
	if (!a)
		return;
	hh_free(a->hh);
	free(a->rows);
	free(a);
}

static bool row_eq(void *ctx, uint32_t row)
{
	struct conn_agg *a = ctx;

	return a->rows[row].dir == a->probe_dir && !strcmp(a->rows[row].group, a->probe);
}

/* Add the counters of src to dst (not the open gauge). */
static void fold(struct conn_agg_row *dst, const struct conn_agg_row *src)
{
	dst->opened += src->opened;
	dst->closed += src->closed;
	dst->retrans += src->retrans;
	dst->resets_sent += src->resets_sent;
	dst->resets_received += src->resets_received;
	dst->bytes_in += src->bytes_in;
	dst->bytes_out += src->bytes_out;
	dst->lifetime_ns += src->lifetime_ns;
	dst->lifetimes += src->lifetimes;
	dst->w_opened += src->w_opened;
	dst->w_closed += src->w_closed;
	dst->w_retrans += src->w_retrans;
	dst->w_resets += src->w_resets;
}

/* The row of r's group: tracked (admitted now if need be, evicting the lightest group into "(other)"). */
static struct conn_agg_row *row_of(struct conn_agg *a, const struct conn_record *r)
{
	uint64_t h = hash_mix64(hash_str(r->group) ^ (uint64_t)r->dir);
	uint32_t row;
	bool evicted = false;

	a->probe = r->group;
	a->probe_dir = r->dir;
	hh_set_step(a->hh, r->ts_ns / STEP_NS);
	row = hh_find(a->hh, h, row_eq, a);
	if (row != HH_NONE) {
		hh_hit(a->hh, row, 1);
		return &a->rows[row];
	}
	row = hh_admit(a->hh, h, 1, true, &evicted);
	if (row == HH_NONE)
		return &a->other[r->dir];
	if (evicted) {
		fold(&a->other[a->rows[row].dir], &a->rows[row]);
		a->evictions++;
	}
	memset(&a->rows[row], 0, sizeof(a->rows[row]));
	snprintf(a->rows[row].group, sizeof(a->rows[row].group), "%s", r->group);
	a->rows[row].dir = r->dir;
	return &a->rows[row];
}

void conn_agg_add(struct conn_agg *a, const struct conn_record *r)
{
	struct conn_agg_row *w;
	int d = r->dir == REC_CONN_ETCD;

	if (r->event == REC_CONN_RETRANS && !r->retrans_delta)
		return;
	w = row_of(a, r);
	a->open_total[d] = r->open_total;
	if (!w->other)
		w->open = r->group_open;
	switch (r->event) {
	case REC_CONN_OPEN:
		if (!r->seeded) {
			w->opened++;
			w->w_opened++;
		}
		break;
	case REC_CONN_CLOSE:
		w->closed++;
		w->w_closed++;
		if (r->bytes_in > 0)
			w->bytes_in += (uint64_t)r->bytes_in;
		if (r->bytes_out > 0)
			w->bytes_out += (uint64_t)r->bytes_out;
		if (r->duration_ns) {
			w->lifetime_ns += r->duration_ns;
			w->lifetimes++;
		}
		break;
	case REC_CONN_RESET:
		w->resets_sent += r->reset_sent;
		w->resets_received += !r->reset_sent;
		w->w_resets++;
		break;
	default:
		break;
	}
	w->retrans += r->retrans_delta;
	w->w_retrans += r->retrans_delta;
}

static bool has_counts(const struct conn_agg_row *r)
{
	return r->open || r->opened || r->closed || r->retrans || r->resets_sent || r->resets_received;
}

static int cmp_rows(const void *x, const void *y)
{
	const struct conn_agg_row *a = x, *b = y;

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->other != b->other)
		return a->other ? 1 : -1;
	if (a->open != b->open)
		return a->open > b->open ? -1 : 1;
	if (a->opened != b->opened)
		return a->opened > b->opened ? -1 : 1;
	return strcmp(a->group, b->group);
}

size_t conn_agg_rows(const struct conn_agg *a, struct conn_agg_row *out, size_t max)
{
	size_t n = 0, stored = 0;
	uint64_t tracked_open[2] = { 0, 0 };

	/* rows are admitted in order (hh_admit): the first hh_size() are the ones ever used */
	for (uint32_t i = 0; i < hh_size(a->hh); i++) {
		if (!hh_gen(a->hh, i))
			continue;
		tracked_open[a->rows[i].dir == REC_CONN_ETCD] += a->rows[i].open;
		if (!has_counts(&a->rows[i]))
			continue;
		if (stored < max)
			out[stored++] = a->rows[i];
		n++;
	}
	for (int d = 0; d < 2; d++) {
		struct conn_agg_row o = a->other[d];

		o.open = a->open_total[d] > tracked_open[d] ? (uint32_t)(a->open_total[d] - tracked_open[d]) : 0;
		if (!has_counts(&o))
			continue;
		if (stored < max)
			out[stored++] = o;
		n++;
	}
	qsort(out, stored, sizeof(*out), cmp_rows);
	return n;
}

void conn_agg_window_reset(struct conn_agg *a)
{
	for (uint32_t i = 0; i < hh_size(a->hh); i++) /* the rows ever used (not 256 x 176 B each time) */
		a->rows[i].w_opened = a->rows[i].w_closed = a->rows[i].w_retrans = a->rows[i].w_resets = 0;
	for (int d = 0; d < 2; d++)
		a->other[d].w_opened = a->other[d].w_closed = a->other[d].w_retrans = a->other[d].w_resets = 0;
}

uint64_t conn_agg_evictions(const struct conn_agg *a)
{
	return a->evictions;
}

uint32_t conn_agg_cap(const struct conn_agg *a)
{
	return a->cap;
}
