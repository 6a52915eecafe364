// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "analysis/drilldown.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dd_params_default(struct dd_params *p)
{
	p->max_depth = 0;
	p->max_causes = 5;
	p->min_ep = 1e-4;
	p->dev_threshold = 0;
	p->counts = false;
}

int dd_table_init(struct dd_table *t, size_t ndims, char *const *names)
{
	memset(t, 0, sizeof(*t));
	if (ndims == 0 || ndims > DD_MAX_DIMS)
		return -1;
	t->ndims = ndims;
	t->dim_names = calloc(ndims, sizeof(char *));
	t->vals = calloc(ndims, sizeof(struct strmap));
	if (!t->dim_names || !t->vals)
		return -1;
	for (size_t d = 0; d < ndims; d++) {
		t->dim_names[d] = strdup(names[d]);
		if (!t->dim_names[d])
			return -1;
		strmap_init(&t->vals[d]);
	}
	strmap_init(&t->leafkeys);
	return 0;
}

void dd_table_free(struct dd_table *t)
{
	for (size_t d = 0; d < t->ndims; d++) {
		if (t->dim_names)
			free(t->dim_names[d]);
		if (t->vals)
			strmap_free(&t->vals[d]);
	}
	free(t->dim_names);
	free(t->vals);
	strmap_free(&t->leafkeys);
	free(t->codes);
	free(t->real);
	free(t->pred);
	memset(t, 0, sizeof(*t));
}

const char *dd_value(const struct dd_table *t, int dim, uint32_t code)
{
	return t->vals[dim].strs[code];
}

long dd_table_add(struct dd_table *t, const char *const *vals, const size_t *lens, double real, double pred)
{
	uint32_t key[DD_MAX_DIMS];
	long id;

	for (size_t d = 0; d < t->ndims; d++) {
		long c = strmap_intern(&t->vals[d], vals[d], lens ? lens[d] : strlen(vals[d]));

		if (c < 0)
			return -1;
		key[d] = (uint32_t)c;
	}
	id = strmap_intern(&t->leafkeys, (const char *)key, t->ndims * sizeof(uint32_t));
	if (id < 0)
		return -1;
	if ((size_t)id < t->n) {
		t->real[id] += real;
		t->pred[id] += pred;
		t->merged++;
		return id;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		uint32_t *c = realloc(t->codes, nc * t->ndims * sizeof(*c));
		double *r, *p;

		if (!c)
			return -1;
		t->codes = c;
		r = realloc(t->real, nc * sizeof(*r));
		if (!r)
			return -1;
		t->real = r;
		p = realloc(t->pred, nc * sizeof(*p));
		if (!p)
			return -1;
		t->pred = p;
		t->cap = nc;
	}
	memcpy(t->codes + t->n * t->ndims, key, t->ndims * sizeof(uint32_t));
	t->real[t->n] = real;
	t->pred[t->n] = pred;
	return (long)t->n++;
}

struct wv {
	double v, w;
};

static int cmp_wv(const void *a, const void *b)
{
	double x = ((const struct wv *)a)->v, y = ((const struct wv *)b)->v;

	return (x > y) - (x < y);
}

/* weighted median of |ds| over the selected leaves (side: 0 all, +1 positive, -1 negative) */
static double wmedian_abs(const double *ds, const double *mass, size_t n, int side, struct wv *buf, size_t *cnt)
{
	size_t m = 0;
	double tot = 0, acc = 0;

	for (size_t i = 0; i < n; i++) {
		if (mass[i] <= 0)
			continue;
		if ((side > 0 && ds[i] <= 0) || (side < 0 && ds[i] >= 0))
			continue;
		buf[m].v = fabs(ds[i]);
		buf[m].w = mass[i];
		tot += mass[i];
		m++;
	}
	*cnt = m;
	if (m == 0)
		return NAN;
	qsort(buf, m, sizeof(*buf), cmp_wv);
	for (size_t i = 0; i < m; i++) {
		acc += buf[i].w;
		if (acc >= tot / 2)
			return buf[i].v;
	}
	return buf[m - 1].v;
}

struct elem {
	uint32_t rep;
	double mass, mass_abn[2], dev_abn[2], maxds[2];
	double mass_thin[2], dev_thin[2]; /* leaves that deviate but are each too small to be
					    * significant (a thin flood's leaves) */
	double pred_thin;                  /* their forecast */
	double real, pred;                 /* net sums over the element's non-empty leaves */
	uint32_t count, nabn[2], nthin[2];
};

static inline uint64_t leaf_hash(const uint32_t *codes, const int *dims, int k)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (int j = 0; j < k; j++) {
		h ^= codes[dims[j]] + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
		h *= 0xff51afd7ed558ccdULL;
	}
	return h ^ (h >> 33);
}

static inline bool same_elem(const uint32_t *a, const uint32_t *b, const int *dims, int k)
{
	for (int j = 0; j < k; j++)
		if (a[dims[j]] != b[dims[j]])
			return false;
	return true;
}

long dd_run(const struct dd_table *t, const struct dd_params *pp, struct dd_cause **out, struct dd_summary *sum)
{
	struct dd_params p = *pp;
	size_t n = t->n, D = t->ndims;
	double *mass = NULL, *ds = NULL, *dev = NULL;
	int8_t *sign = NULL;
	bool *active = NULL, *thin = NULL;
	struct wv *wbuf = NULL;
	struct elem *el = NULL;
	uint32_t *slots = NULL;
	int (*cub)[DD_MAX_DIMS] = NULL;
	int *cubk = NULL;
	size_t ncub = 0, nslots = 1;
	struct dd_cause *causes = NULL;
	long ncauses = 0;
	double A0 = 0, z_thin = 3;

	*out = NULL;
	memset(sum, 0, sizeof(*sum));
	if (n == 0)
		return 0;
	if (p.max_depth <= 0)
		p.max_depth = D <= 5 ? (int)D : 3;
	if ((size_t)p.max_depth > D)
		p.max_depth = (int)D;
	if (p.max_causes <= 0)
		p.max_causes = 5;

	mass = malloc(n * sizeof(*mass));
	ds = malloc(n * sizeof(*ds));
	dev = malloc(n * sizeof(*dev));
	sign = calloc(n, sizeof(*sign));
	active = malloc(n * sizeof(*active));
	thin = calloc(n, sizeof(*thin));
	wbuf = malloc(n * sizeof(*wbuf));
	el = malloc(n * sizeof(*el));
	while (nslots < 2 * n)
		nslots <<= 1;
	slots = malloc(nslots * sizeof(*slots));
	causes = calloc((size_t)p.max_causes, sizeof(*causes));
	if (!mass || !ds || !dev || !sign || !active || !thin || !wbuf || !el || !slots || !causes)
		goto oom;

	/* cuboids: every subset of dimensions of size 1..max_depth, shallow first */
	for (int k = 1; k <= p.max_depth; k++) {
		int idx[DD_MAX_DIMS];

		for (int j = 0; j < k; j++)
			idx[j] = j;
		for (;;) {
			int (*nc)[DD_MAX_DIMS] = realloc(cub, (ncub + 1) * sizeof(*cub));
			int *nk = realloc(cubk, (ncub + 1) * sizeof(*cubk));

			if (nc)
				cub = nc;
			if (nk)
				cubk = nk;
			if (!nc || !nk)
				goto oom;
			memcpy(cub[ncub], idx, sizeof(idx));
			cubk[ncub] = k;
			ncub++;
			if (ncub > 20000)
				break;
			int j = k - 1;

			while (j >= 0 && idx[j] == (int)D - k + j)
				j--;
			if (j < 0)
				break;
			idx[j]++;
			for (int l = j + 1; l < k; l++)
				idx[l] = idx[l - 1] + 1;
		}
	}

	/* 1. leaf deviation scores and the noise threshold */
	for (size_t i = 0; i < n; i++) {
		double v = t->real[i], f = t->pred[i];

		if (!isfinite(v) || !isfinite(f)) {
			mass[i] = 0;
			ds[i] = 0;
		} else {
			mass[i] = (fabs(v) + fabs(f)) / 2;
			ds[i] = mass[i] > 0 ? (v - f) / mass[i] : 0;
		}
		sum->real += isfinite(v) ? v : 0;
		sum->pred += isfinite(f) ? f : 0;
	}
	double thr = p.dev_threshold;

	if (thr <= 0) {
		size_t c_all, c_pos, c_neg;
		double s_all = wmedian_abs(ds, mass, n, 0, wbuf, &c_all);
		double s_pos = wmedian_abs(ds, mass, n, 1, wbuf, &c_pos);
		double s_neg = wmedian_abs(ds, mass, n, -1, wbuf, &c_neg);
		double s = isfinite(s_all) ? s_all : 0;

		if (c_pos >= 5 && s_pos < s)
			s = s_pos;
		if (c_neg >= 5 && s_neg < s)
			s = s_neg;
		thr = 3 * 1.4826 * s;
		if (thr < 0.02)
			thr = 0.02;
		if (thr > 1.0)
			thr = 1.0;
	}
	sum->threshold = thr;
	for (size_t i = 0; i < n; i++) {
		double v = t->real[i], f = t->pred[i];

		/* leaves with nothing real and nothing expected are no evidence either way */
		active[i] = mass[i] > 0;
		dev[i] = 0;
		if (!active[i] || v == f)
			continue;
		/* counts: a leaf that is not significant on its own (beyond the threshold and 3 Poisson
		 * sigmas) is "thin": its direction counts where its element's net deviation is significant */
		if (p.counts && (fabs(ds[i]) <= thr || fabs(v - f) <= 3 * sqrt(fabs(f) + 1))) {
			sign[i] = ds[i] > 0 ? 1 : -1;
			dev[i] = fabs(v - f);
			A0 += dev[i];
			thin[i] = true;
			sum->thin++;
			continue;
		}
		if (fabs(ds[i]) <= thr)
			continue;
		sign[i] = ds[i] > 0 ? 1 : -1;
		dev[i] = fabs(v - f);
		A0 += dev[i];
		sum->abnormal++;
		sum->abnormal_dev += dev[i];
	}

	/* 2./3. greedy search */
	{
		/* elements tested ~ leaves x cuboids: a one-sided normal quantile at 1% / that many */
		double m = (double)n * (double)ncub;

		z_thin = fmax(3, sqrt(2 * log(fmax(m, 2) / 0.01)));
	}
	while (A0 > 0 && ncauses < p.max_causes) {
		double A = 0;
		double best = 0, best_r = 0;
		size_t best_cub = 0;
		uint32_t best_rep = 0;
		int best_s = 0;

		for (size_t i = 0; i < n; i++)
			if (active[i])
				A += dev[i];
		if (A <= A0 * p.min_ep)
			break;
		for (size_t c = 0; c < ncub; c++) {
			const int *dims = cub[c];
			int k = cubk[c];
			size_t ne = 0;

			memset(slots, 0, nslots * sizeof(*slots));
			for (size_t i = 0; i < n; i++) {
				if (!active[i])
					continue;
				const uint32_t *codes = t->codes + i * D;
				size_t h = leaf_hash(codes, dims, k) & (nslots - 1);
				struct elem *e;

				for (;;) {
					uint32_t s = slots[h];

					if (!s) {
						slots[h] = (uint32_t)ne + 1;
						e = &el[ne++];
						memset(e, 0, sizeof(*e));
						e->rep = (uint32_t)i;
						break;
					}
					e = &el[s - 1];
					if (same_elem(t->codes + (size_t)e->rep * D, codes, dims, k))
						break;
					h = (h + 1) & (nslots - 1);
				}
				e->mass += mass[i] + 1e-12;
				e->count++;
				e->real += t->real[i];
				e->pred += t->pred[i];
				if (sign[i] && thin[i]) {
					int si = sign[i] > 0 ? 0 : 1;

					e->mass_thin[si] += mass[i] + 1e-12;
					e->dev_thin[si] += dev[i];
					e->pred_thin += fabs(t->pred[i]);
					e->nthin[si]++;
				} else if (sign[i]) {
					int si = sign[i] > 0 ? 0 : 1;

					e->mass_abn[si] += mass[i] + 1e-12;
					e->dev_abn[si] += dev[i];
					e->nabn[si]++;
					if (fabs(ds[i]) > e->maxds[si])
						e->maxds[si] = fabs(ds[i]);
				}
			}
			for (size_t e = 0; e < ne; e++) {
				for (int si = 0; si < 2; si++) {
					struct elem *x = &el[e];
					double s_net = (si == 0 ? 1 : -1) * (x->real - x->pred);
					double dv = x->dev_abn[si], ma = x->mass_abn[si];
					uint32_t na = x->nabn[si];

					/* a deviation spread thinly over many leaves counts where the thin
					 * leaves' net deviation, and the element's, are significant that way
					 * (nets, so that noise cancels; z_thin allows for the many elements
					 * tested) */
					if (x->dev_thin[si] - x->dev_thin[!si] > z_thin * sqrt(x->pred_thin + 1) &&
					    s_net > z_thin * sqrt(fabs(x->pred) + 1)) {
						/* only the net of the thin leaves (noise moves them both ways):
						 * their mass and count scaled by how one-sided they are */
						double both = x->dev_thin[si] + x->dev_thin[!si];
						double net = x->dev_thin[si] - x->dev_thin[!si], share = net / both;

						dv += net;
						ma += share * (x->mass_thin[si] + x->mass_thin[!si]);
						na += (uint32_t)(share * (double)(x->nthin[si] + x->nthin[!si]));
						if (na < 2)
							na = 2; /* many small leaves: not a lone-leaf cause */
					}
					if (dv <= 0)
						continue;
					double P = ma / x->mass;
					double R = dv / A;

					/* significance: a root cause is mostly abnormal (by mass and by
					 * non-empty leaves), and a lone abnormal leaf must be far beyond the
					 * noise (5 sigma, the threshold being 3; for counts also 5 Poisson
					 * sigmas) */
					if (3 * ma < 2 * x->mass || 3 * na < 2 * x->count)
						continue;
					/* counts: the element as a whole must deviate significantly that way */
					if (p.counts && s_net <= z_thin * sqrt(fabs(x->pred) + 1))
						continue;
					if (na < 2 && (x->maxds[si] < thr * 5 / 3 ||
						       (p.counts && fabs(x->real - x->pred) < 5 * sqrt(fabs(x->pred) + 1))))
						continue;
					/* the tiny depth term only breaks exact ties (two names for one leaf set):
					 * a more specific element that leaves out normal leaves wins on purity */
					double sc = R * P * P * P * (1 - 1e-6 * k);

					if (sc > best) {
						best = sc;
						best_r = dv / A0;
						best_cub = c;
						best_rep = el[e].rep;
						best_s = si == 0 ? 1 : -1;
					}
				}
			}
		}
		if (best <= 0 || best_r < p.min_ep)
			break;

		struct dd_cause *cz = &causes[ncauses++];
		const uint32_t *rc = t->codes + (size_t)best_rep * D;

		cz->depth = cubk[best_cub];
		for (int j = 0; j < cz->depth; j++) {
			cz->dims[j] = cub[best_cub][j];
			cz->codes[j] = rc[cub[best_cub][j]];
		}
		cz->score = best;
		cz->direction = best_s;
		for (size_t i = 0; i < n; i++) {
			const uint32_t *codes = t->codes + i * D;

			if (!same_elem(codes, rc, cz->dims, cz->depth))
				continue;
			active[i] = false;
			cz->real += isfinite(t->real[i]) ? t->real[i] : 0;
			cz->pred += isfinite(t->pred[i]) ? t->pred[i] : 0;
			cz->support++;
		}
		double mx = fmax(fabs(cz->real), fabs(cz->pred));

		cz->relative_ratio = mx > 0 ? (cz->real - cz->pred) / mx : 0;
		cz->relative_unexpected_difference = A0 > 0 ? (cz->real - cz->pred) / A0 : 0;
	}
	/* what the causes left: significant deviation (abnormal leaves) not inside any cause */
	{
		double left = 0;

		for (size_t i = 0; i < n; i++)
			if (active[i] && sign[i] && !thin[i])
				left += dev[i];
		sum->unexplained = sum->abnormal_dev > 0 ? left / sum->abnormal_dev : 0;
		sum->max_depth = p.max_depth;
	}
	free(mass);
	free(ds);
	free(dev);
	free(sign);
	free(active);
	free(thin);
	free(wbuf);
	free(el);
	free(slots);
	free(cub);
	free(cubk);
	if (ncauses == 0) {
		free(causes);
		causes = NULL;
	}
	*out = causes;
	return ncauses;
oom:
	free(mass);
	free(ds);
	free(dev);
	free(sign);
	free(active);
	free(thin);
	free(wbuf);
	free(el);
	free(slots);
	free(cub);
	free(cubk);
	free(causes);
	return -1;
}
