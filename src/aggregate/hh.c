// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/hh.h"

#include <math.h>
#include <stdlib.h>

#define RESCALE_AT 1e100 /* rescale scores when the forward-decay unit grows past this */


struct hh *hh_new(uint32_t cap, double decay_steps, uint64_t start_step)
{
	struct hh *h;
	uint32_t slots = 1;

	if (cap < 1 || cap > (1u << 24) || !(decay_steps >= 1) || !isfinite(decay_steps))
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	while (slots < 2 * cap)
		slots <<= 1;
	h->cap = cap;
	h->mask = slots - 1;
	h->hash = calloc(cap, sizeof(*h->hash));
	h->score = calloc(cap, sizeof(*h->score));
	h->err = calloc(cap, sizeof(*h->err));
	h->gen = calloc(cap, sizeof(*h->gen));
	h->born = calloc(cap, sizeof(*h->born));
	h->heap = calloc(cap, sizeof(*h->heap));
	h->pos = calloc(cap, sizeof(*h->pos));
	h->index = calloc(slots, sizeof(*h->index));
	if (!h->hash || !h->score || !h->err || !h->gen || !h->born || !h->heap || !h->pos || !h->index) {
		hh_free(h);
		return NULL;
	}
	h->lng = 1.0 / decay_steps;
	h->landmark = h->step = start_step;
	h->mult = 1.0;
	return h;
}

void hh_free(struct hh *h)
{
	if (!h)
		return;
	free(h->hash);
	free(h->score);
	free(h->err);
	free(h->gen);
	free(h->born);
	free(h->heap);
	free(h->pos);
	free(h->index);
	free(h);
}

void hh_set_step(struct hh *h, uint64_t step)
{
	if (step <= h->step)
		return;
	h->step = step;
	h->mult = exp((double)(step - h->landmark) * h->lng);
	if (h->mult > RESCALE_AT || !isfinite(h->mult)) {
		/* a common factor: the heap order stays */
		for (uint32_t i = 0; i < h->n; i++) {
			h->score[i] /= h->mult;
			h->err[i] /= h->mult;
		}
		h->landmark = step;
		h->mult = 1.0;
	}
}

/* ---- heap ----------------------------------------------------------------------------------------- */

static void heap_set(struct hh *h, uint32_t i, uint32_t row)
{
	h->heap[i] = row;
	h->pos[row] = i;
}

static void sift_down(struct hh *h, uint32_t i)
{
	uint32_t row = h->heap[i];
	double s = h->score[row];

	for (;;) {
		uint32_t l = 2 * i + 1, m;

		if (l >= h->n)
			break;
		m = l + 1 < h->n && h->score[h->heap[l + 1]] < h->score[h->heap[l]] ? l + 1 : l;
		if (h->score[h->heap[m]] >= s)
			break;
		heap_set(h, i, h->heap[m]);
		i = m;
	}
	heap_set(h, i, row);
}

static void sift_up(struct hh *h, uint32_t i)
{
	uint32_t row = h->heap[i];
	double s = h->score[row];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (h->score[h->heap[p]] <= s)
			break;
		heap_set(h, i, h->heap[p]);
		i = p;
	}
	heap_set(h, i, row);
}

/* ---- index ---------------------------------------------------------------------------------------- */

uint32_t hh_find(const struct hh *h, uint64_t hash, hh_eq_fn eq, void *ctx)
{
	uint32_t i = (uint32_t)hash & h->mask;

	for (;;) {
		uint32_t v = h->index[i];

		if (!v)
			return HH_NONE;
		if (h->hash[v - 1] == hash && eq(ctx, v - 1))
			return v - 1;
		i = (i + 1) & h->mask;
	}
}

static void index_insert(struct hh *h, uint32_t row)
{
	uint32_t i = (uint32_t)h->hash[row] & h->mask;

	while (h->index[i])
		i = (i + 1) & h->mask;
	h->index[i] = row + 1;
}

/* Remove row from the index (backward-shift deletion keeps probe chains intact). */
static void index_remove(struct hh *h, uint32_t row)
{
	uint32_t i = (uint32_t)h->hash[row] & h->mask, j;

	while (h->index[i] != row + 1)
		i = (i + 1) & h->mask;
	h->index[i] = 0;
	for (j = i;;) {
		uint32_t v, home;

		j = (j + 1) & h->mask;
		v = h->index[j];
		if (!v)
			break;
		home = (uint32_t)h->hash[v - 1] & h->mask;
		/* v may move to the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & h->mask) >= ((j - i) & h->mask)) {
			h->index[i] = v;
			h->index[j] = 0;
			i = j;
		}
	}
}

/* ---- updates -------------------------------------------------------------------------------------- */

void hh_sift_down_(struct hh *h, uint32_t i)
{
	sift_down(h, i);
}

uint32_t hh_admit(struct hh *h, uint64_t hash, double w, bool may_evict, bool *evicted)
{
	uint32_t row;

	if (evicted)
		*evicted = false;
	if (h->n < h->cap) {
		row = h->n++;
		h->hash[row] = hash;
		h->score[row] = w * h->mult;
		h->err[row] = 0;
		h->gen[row]++;
		h->born[row] = h->step;
		index_insert(h, row);
		heap_set(h, h->n - 1, row);
		sift_up(h, h->n - 1);
		return row;
	}
	if (!may_evict)
		return HH_NONE;
	row = h->heap[0];
	index_remove(h, row);
	h->err[row] = h->score[row];
	h->score[row] += w * h->mult;
	h->hash[row] = hash;
	h->gen[row] = h->gen[row] + 1 ? h->gen[row] + 1 : 1;
	h->born[row] = h->step;
	index_insert(h, row);
	sift_down(h, 0);
	h->evictions++;
	if (evicted)
		*evicted = true;
	return row;
}

/* ---- queries -------------------------------------------------------------------------------------- */

uint32_t hh_size(const struct hh *h) { return h->n; }
uint32_t hh_cap(const struct hh *h) { return h->cap; }
uint64_t hh_evictions(const struct hh *h) { return h->evictions; }
uint32_t hh_gen(const struct hh *h, uint32_t row) { return h->gen[row]; }
uint64_t hh_born(const struct hh *h, uint32_t row) { return h->born[row]; }

/* units -> weight as of step s: divide by g^(s - landmark) */
static double unit_at(const struct hh *h, uint64_t s)
{
	return exp(-((double)s - (double)h->landmark) * h->lng);
}

double hh_score(const struct hh *h, uint32_t row, uint64_t at)
{
	return h->score[row] * unit_at(h, at);
}

double hh_err(const struct hh *h, uint32_t row, uint64_t first)
{
	if (h->born[row] < first)
		return 0;
	return h->err[row] * unit_at(h, first);
}

double hh_min_score(const struct hh *h)
{
	return h->n < h->cap ? 0 : hh_score(h, h->heap[0], h->step);
}

double hh_threshold(const struct hh *h, uint64_t first)
{
	if (h->n < h->cap)
		return 0;
	return h->score[h->heap[0]] * unit_at(h, first);
}
