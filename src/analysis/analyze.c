// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "analysis/analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AZ_MAX_POINTS 20000000

int az_init(struct analyzer *a, int64_t step_ns, size_t ndims, char *const *dims)
{
	memset(a, 0, sizeof(*a));
	if (step_ns <= 0 || ndims == 0 || ndims > DD_MAX_DIMS)
		return -1;
	a->step_ns = step_ns;
	a->ndims = ndims;
	for (size_t d = 0; d < ndims; d++)
		if (!(a->dim_names[d] = strdup(dims[d])))
			return -1;
	strmap_init(&a->keys);
	a->min_ts = INT64_MAX;
	a->max_ts = INT64_MIN;
	return 0;
}

void az_free(struct analyzer *a)
{
	for (size_t d = 0; d < a->ndims; d++)
		free(a->dim_names[d]);
	for (size_t i = 0; i < a->keys.n; i++) {
		free(a->cells[i].bucket);
		free(a->cells[i].val);
	}
	free(a->cells);
	free(a->keybuf);
	strmap_free(&a->keys);
	memset(a, 0, sizeof(*a));
}

static inline int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int az_add(struct analyzer *a, int64_t ts, double w, const char *const *vals, const size_t *lens)
{
	size_t kl = 0;
	long id;
	struct az_cells *c;
	int64_t b = floordiv(ts, a->step_ns);

	for (size_t d = 0; d < a->ndims; d++)
		kl += lens[d] + 1;
	if (kl > a->keycap) {
		char *k = realloc(a->keybuf, kl * 2);

		if (!k)
			return -1;
		a->keybuf = k;
		a->keycap = kl * 2;
	}
	kl = 0;
	for (size_t d = 0; d < a->ndims; d++) {
		memcpy(a->keybuf + kl, vals[d], lens[d]);
		kl += lens[d];
		if (d + 1 < a->ndims)
			a->keybuf[kl++] = '\x1f';
	}
	id = strmap_intern(&a->keys, a->keybuf, kl);
	if (id < 0)
		return -1;
	if ((size_t)id >= a->ncells_cap) {
		size_t nc = a->ncells_cap ? a->ncells_cap * 2 : 1024;
		struct az_cells *cc = realloc(a->cells, nc * sizeof(*cc));

		if (!cc)
			return -1;
		memset(cc + a->ncells_cap, 0, (nc - a->ncells_cap) * sizeof(*cc));
		a->cells = cc;
		a->ncells_cap = nc;
	}
	c = &a->cells[id];
	if (c->n > 0 && c->bucket[c->n - 1] == b) {
		c->val[c->n - 1] += w;
	} else {
		if (c->n == c->cap) {
			uint32_t nc = c->cap ? c->cap * 2 : 4;
			int64_t *bb = realloc(c->bucket, nc * sizeof(*bb));
			double *vv;

			if (!bb)
				return -1;
			c->bucket = bb;
			vv = realloc(c->val, nc * sizeof(*vv));
			if (!vv)
				return -1;
			c->val = vv;
			c->cap = nc;
		}
		if (c->n > 0 && c->bucket[c->n - 1] > b)
			c->unsorted = true;
		c->bucket[c->n] = b;
		c->val[c->n] = w;
		c->n++;
	}
	if (ts < a->min_ts)
		a->min_ts = ts;
	if (ts > a->max_ts)
		a->max_ts = ts;
	a->events++;
	return 0;
}

struct bv {
	int64_t b;
	double v;
};

static int cmp_bv(const void *x, const void *y)
{
	int64_t a = ((const struct bv *)x)->b, b = ((const struct bv *)y)->b;

	return (a > b) - (a < b);
}

static int sort_cells(struct az_cells *c)
{
	struct bv *t;
	uint32_t m = 0;

	if (!c->unsorted)
		return 0;
	t = malloc(c->n * sizeof(*t));
	if (!t)
		return -1;
	for (uint32_t i = 0; i < c->n; i++) {
		t[i].b = c->bucket[i];
		t[i].v = c->val[i];
	}
	qsort(t, c->n, sizeof(*t), cmp_bv);
	for (uint32_t i = 0; i < c->n; i++) {
		if (m > 0 && c->bucket[m - 1] == t[i].b) {
			c->val[m - 1] += t[i].v;
		} else {
			c->bucket[m] = t[i].b;
			c->val[m] = t[i].v;
			m++;
		}
	}
	c->n = m;
	c->unsorted = false;
	free(t);
	return 0;
}

void az_result_free(struct az_result *r)
{
	free(r->global);
	dc_result_free(&r->dc);
	for (size_t i = 0; i < r->nanoms; i++)
		free(r->anoms[i].causes);
	free(r->anoms);
	dd_table_free(&r->table);
	memset(r, 0, sizeof(*r));
}

static int cmp_abs_score(const void *x, const void *y)
{
	double a = fabs(((const struct dc_interval *)x)->score), b = fabs(((const struct dc_interval *)y)->score);

	return (a < b) - (a > b);
}

static int cmp_start(const void *x, const void *y)
{
	size_t a = ((const struct dc_interval *)x)->start, b = ((const struct dc_interval *)y)->start;

	return (a > b) - (a < b);
}

static int cmp_anom_start(const void *x, const void *y)
{
	int64_t a = ((const struct az_anomaly *)x)->start_ns, b = ((const struct az_anomaly *)y)->start_ns;

	return (a > b) - (a < b);
}

int az_run(struct analyzer *a, const struct dc_params *dp, const struct dd_params *ddp, size_t max_drill,
	   struct az_result *r, char *err, size_t errcap)
{
	int64_t b0, b1;
	size_t np, ns = a->keys.n;
	struct dc_interval *iv = NULL;
	long niv;
	int32_t *which = NULL;
	double *real = NULL, *rate = NULL;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if (a->events == 0) {
		snprintf(err, errcap, "no events");
		return -1;
	}
	b0 = floordiv(a->min_ts, a->step_ns);
	b1 = floordiv(a->max_ts, a->step_ns);
	if (b1 - b0 + 1 > AZ_MAX_POINTS) {
		snprintf(err, errcap, "the data spans %lld steps (max %d): use a larger --step", (long long)(b1 - b0 + 1),
			 AZ_MAX_POINTS);
		return -1;
	}
	np = (size_t)(b1 - b0 + 1);
	r->npoints = np;
	r->nseries = ns;
	r->t0_ns = b0 * a->step_ns;
	r->global = calloc(np, sizeof(double));
	which = malloc(np * sizeof(*which));
	if (!r->global || !which)
		goto oom;
	for (size_t s = 0; s < ns; s++) {
		struct az_cells *c = &a->cells[s];

		if (sort_cells(c))
			goto oom;
		for (uint32_t i = 0; i < c->n; i++)
			r->global[c->bucket[i] - b0] += c->val[i];
	}
	/* partial first/last steps would look like dips: treat them as missing */
	if (np >= 4) {
		double cov0 = (double)((b0 + 1) * a->step_ns - a->min_ts) / (double)a->step_ns;
		double cov1 = (double)(a->max_ts - b1 * a->step_ns + 1) / (double)a->step_ns;

		if (cov0 < 0.9) {
			r->global[0] = NAN;
			r->partial_edges++;
		}
		if (cov1 < 0.9) {
			r->global[np - 1] = NAN;
			r->partial_edges++;
		}
	}
	if (dc_run(r->global, np, dp, &r->dc)) {
		snprintf(err, errcap, "decomposition failed (no complete step)");
		goto out;
	}
	niv = dc_intervals(r->dc.event, r->dc.score, np, 1, &iv);
	if (niv < 0)
		goto oom;
	r->nanoms = (size_t)niv;
	if (niv == 0) {
		ret = 0;
		goto out;
	}
	r->anoms = calloc((size_t)niv, sizeof(*r->anoms));
	if (!r->anoms)
		goto oom;
	/* drill the strongest max_drill intervals, report in time order */
	qsort(iv, (size_t)niv, sizeof(*iv), cmp_abs_score);
	r->ndrilled = (size_t)niv < max_drill ? (size_t)niv : max_drill;
	qsort(iv, r->ndrilled, sizeof(*iv), cmp_start);
	qsort(iv + r->ndrilled, (size_t)niv - r->ndrilled, sizeof(*iv), cmp_start);

	for (size_t p = 0; p < np; p++)
		which[p] = isfinite(r->global[p]) ? -1 : -2;
	for (size_t k = 0; k < (size_t)niv; k++)
		for (size_t p = iv[k].start; p <= iv[k].end; p++)
			which[p] = k < r->ndrilled ? (int32_t)k : -3;
	/* normal rate of the whole and of every series */
	size_t nnorm = 0;
	double gnorm = 0, bnorm = 0;

	for (size_t p = 0; p < np; p++)
		if (which[p] == -1) {
			nnorm++;
			gnorm += r->global[p];
			bnorm += r->dc.baseline[p];
		}
	rate = calloc(ns, sizeof(*rate));
	real = calloc(ns * (r->ndrilled ? r->ndrilled : 1), sizeof(*real));
	if (!rate || !real)
		goto oom;
	for (size_t s = 0; s < ns; s++) {
		struct az_cells *c = &a->cells[s];

		for (uint32_t i = 0; i < c->n; i++) {
			int32_t k = which[c->bucket[i] - b0];

			if (k == -1)
				rate[s] += c->val[i];
			else if (k >= 0)
				real[(size_t)k * ns + s] += c->val[i];
		}
	}
	/* leaf table: one leaf per series */
	if (dd_table_init(&r->table, a->ndims, a->dim_names))
		goto oom;
	for (size_t s = 0; s < ns; s++) {
		const char *vals[DD_MAX_DIMS];
		size_t lens[DD_MAX_DIMS];
		const char *k = a->keys.strs[s], *e = k + a->keys.lens[s];

		for (size_t d = 0; d < a->ndims; d++) {
			const char *sep = d + 1 < a->ndims ? memchr(k, '\x1f', (size_t)(e - k)) : NULL;

			vals[d] = k;
			lens[d] = sep ? (size_t)(sep - k) : (size_t)(e - k);
			k = sep ? sep + 1 : e;
		}
		if (dd_table_add(&r->table, vals, lens, 0, 0) < 0)
			goto oom;
	}
	for (size_t k = 0; k < r->ndrilled; k++) {
		struct az_anomaly *an = &r->anoms[k];
		double base = 0, tot = 0;

		for (size_t p = iv[k].start; p <= iv[k].end; p++) {
			base += r->dc.baseline[p];
			tot += isfinite(r->global[p]) ? r->global[p] : 0;
		}
		/* leaf forecast: its share of the normal traffic, scaled to the baseline of the interval */
		for (size_t s = 0; s < ns; s++) {
			r->table.real[s] = real[k * ns + s];
			if (nnorm > 0 && gnorm > 0)
				r->table.pred[s] = rate[s] / gnorm * (base > 0 ? base : 0);
			else
				r->table.pred[s] = nnorm > 0 ? rate[s] / (double)nnorm * (double)(iv[k].end - iv[k].start + 1) : 0;
		}
		an->ncauses = dd_run(&r->table, ddp, &an->causes, &an->dd);
		if (an->ncauses < 0)
			goto oom;
		an->real = tot;
		an->expected = base;
		an->drilled = true;
	}
	for (size_t k = 0; k < (size_t)niv; k++) {
		struct az_anomaly *an = &r->anoms[k];

		an->start_idx = iv[k].start;
		an->end_idx = iv[k].end;
		an->start_ns = r->t0_ns + (int64_t)iv[k].start * a->step_ns;
		an->end_ns = r->t0_ns + (int64_t)(iv[k].end + 1) * a->step_ns;
		an->score = iv[k].score;
		if (k >= r->ndrilled) {
			for (size_t p = iv[k].start; p <= iv[k].end; p++) {
				an->expected += r->dc.baseline[p];
				an->real += isfinite(r->global[p]) ? r->global[p] : 0;
			}
		}
	}
	(void)bnorm;
	qsort(r->anoms, r->nanoms, sizeof(*r->anoms), cmp_anom_start);
	ret = 0;
	goto out;
oom:
	snprintf(err, errcap, "out of memory");
out:
	free(iv);
	free(which);
	free(real);
	free(rate);
	if (ret)
		az_result_free(r);
	return ret;
}
