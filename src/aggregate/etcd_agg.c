// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/etcd_agg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/field_same.h"
#include "aggregate/loghist.h"
#include "util/hash.h"
#include "util/strbuf.h"

#define WEIGHT_SCALE 256.0 /* latency cells hold weights in 1/256 units (exact sums), as aggregate.c */

/* One step of one (op, resource) row; step stored + 1 so that 0 means "never written". */
enum eslot_value { EV_CALLS, EV_ERRORS, EV_REQ_BYTES, EV_LINKED, EV__N };
struct eslot {
	uint32_t step1;
	float v[EV__N]; /* calls, errors, request bytes, linked calls */
};

/* A slot's values += inc, as one vector addition (lane by lane: the sums of scalar additions, bit for bit;
 * a value a call does not add to gets + 0, which leaves it as it is: the sums are never -0) */
typedef float eslot_v4f __attribute__((vector_size(16)));
static inline void eslot_add(struct eslot *sl, eslot_v4f inc)
{
	eslot_v4f x;

	memcpy(&x, sl->v, sizeof(x));
	x += inc;
	memcpy(sl->v, &x, sizeof(x));
}

struct eentry {
	struct etcd_agg_key key;
	uint64_t hash;
	bool other;
	struct eslot *ring; /* nsteps */
};

/* One step of one request row's linked calls. */
struct lslot {
	uint32_t step1;
	float calls;
};

/* Latency cells of one step: packed (row * LH_NBUCKETS + bucket) + 1 -> weight units. */
struct ecells {
	uint64_t step1;
	uint32_t used;  /* cells of the step (of the total's too: they count against cells_per_step) */
	uint32_t npos;  /* cells in key/w */
	uint32_t *key, *w;
	uint32_t *pos; /* the used slots, in insertion order (as aggregate.c's cells) */
	struct lh_cells total; /* the total row's cells, dense by bucket (no hashing) */
};

struct recent_req {
	uint64_t id; /* 0 = free */
	uint64_t end_ns;
};

struct etcd_agg {
	struct etcd_agg_params p;
	uint64_t start_ns, cur, floor; /* newest step; oldest step that was not reported */
	/* (op, resource) rows: entries[0] "(other)", entries[1 .. n) keys, entries[cap] the total */
	struct eentry *entries;
	struct eslot *slots; /* (cap + 1) * nsteps */
	uint32_t cap, n;
	uint32_t *index; /* open addressing: entry index + 1, 0 = empty */
	uint32_t index_mask;
	struct ecells *cells; /* nsteps */
	uint32_t cells_mask;
	/* linked calls per request row: [table][row][step % nsteps] */
	struct lslot *links;
	/* requests by id (ring indexed by id & (recent - 1)) */
	struct recent_req *recent;
	uint32_t *recent_rows; /* recent * link_tables */
	/* query scratch */
	uint64_t *hist;     /* (cap + 1) rows of LH_NBUCKETS, touched lazily */
	uint32_t *row_of;   /* entry -> hist row + 1 */
	uint32_t *touched;
	uint16_t *lo, *hi;  /* per hist row: the buckets outside [lo, hi] are 0 */
	struct etcd_agg_row *rows;
	struct etcd_agg_stats st;
	/* the previous record's op, resource and group fields (as the record held them: bytes after a NUL
	 * are anything) and the entry of their key: runs of one key skip the key and the hash probe */
	char prev_op[sizeof(((struct etcd_record *)0)->op)];
	char prev_res[sizeof(((struct etcd_record *)0)->resource)];
	char prev_group[sizeof(((struct etcd_record *)0)->group)];
	uint32_t prev_idx;
	bool prev_valid;
	/* the link slots of the last attribution (step index lk_sidx, request rows lk_rows): a request with
	 * the same rows in the same step (a run of one key) reuses them, no address computed */
	uint32_t lk_sidx;   /* UINT32_MAX: none */
	uint32_t lk_n;
	uint32_t lk_rows[ETCD_AGG_MAX_LINK_TABLES];
	struct lslot *lk_slot[ETCD_AGG_MAX_LINK_TABLES];
};

void etcd_agg_params_default(struct etcd_agg_params *p)
{
	p->step_ns = 1000000000ULL;
	p->nsteps = 60;
	p->max_keys = 1024;
	p->cells_per_step = 4096;
	p->link_tables = AGG__NTABLES;
	p->link_rows = 4096 + 1;
	p->recent = 16384;
}

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

void etcd_agg_free(struct etcd_agg *e)
{
	if (!e)
		return;
	free(e->entries);
	free(e->slots);
	free(e->index);
	if (e->cells) {
		for (uint32_t i = 0; i < e->p.nsteps; i++) {
			free(e->cells[i].key);
			free(e->cells[i].w);
			free(e->cells[i].pos);
			free(e->cells[i].total.w);
		}
		free(e->cells);
	}
	free(e->links);
	free(e->recent);
	free(e->recent_rows);
	free(e->hist);
	free(e->row_of);
	free(e->touched);
	free(e->lo); /* and hi */
	free(e->rows);
	free(e);
}

struct etcd_agg *etcd_agg_new(const struct etcd_agg_params *p, uint64_t start_ns)
{
	struct etcd_agg *e = calloc(1, sizeof(*e));
	uint32_t ncells;

	if (!e)
		return NULL;
	lh_init();
	if (p)
		e->p = *p;
	else
		etcd_agg_params_default(&e->p);
	p = &e->p;
	if (!p->step_ns || p->nsteps < 1 || p->nsteps > 100000 || p->max_keys < 1 || p->max_keys > (1u << 20) ||
	    p->cells_per_step < 1 || p->cells_per_step > (1u << 24) || p->link_tables > ETCD_AGG_MAX_LINK_TABLES ||
	    p->link_rows > (1u << 22) || !p->recent || (p->recent & (p->recent - 1)) || p->recent > (1u << 24))
		goto fail;
	e->cap = p->max_keys + 1;
	e->entries = calloc((size_t)e->cap + 1, sizeof(*e->entries));
	e->slots = calloc(((size_t)e->cap + 1) * p->nsteps, sizeof(*e->slots));
	e->index_mask = pow2_at_least((uint64_t)e->cap * 2) - 1;
	e->index = calloc((size_t)e->index_mask + 1, sizeof(*e->index));
	ncells = pow2_at_least(((uint64_t)p->cells_per_step * 4 + 2) / 3); /* load <= 3/4 */
	e->cells_mask = ncells - 1;
	e->cells = calloc(p->nsteps, sizeof(*e->cells));
	e->links = calloc((size_t)p->link_tables * p->link_rows * p->nsteps + 1, sizeof(*e->links));
	e->recent = calloc(p->recent, sizeof(*e->recent));
	e->recent_rows = calloc((size_t)p->recent * p->link_tables + 1, sizeof(*e->recent_rows));
	e->hist = calloc(((size_t)e->cap + 1) * LH_NBUCKETS, sizeof(*e->hist));
	e->row_of = calloc((size_t)e->cap + 1, sizeof(*e->row_of));
	e->touched = calloc((size_t)e->cap + 1, sizeof(*e->touched));
	e->lo = calloc(2 * ((size_t)e->cap + 1), sizeof(*e->lo));
	e->hi = e->lo ? e->lo + e->cap + 1 : NULL;
	e->rows = calloc((size_t)e->cap, sizeof(*e->rows));
	if (!e->entries || !e->slots || !e->index || !e->cells || !e->links || !e->recent || !e->recent_rows ||
	    !e->hist || !e->row_of || !e->touched || !e->lo || !e->rows)
		goto fail;
	for (uint32_t i = 0; i < p->nsteps; i++) {
		e->cells[i].key = calloc(ncells, sizeof(uint32_t));
		e->cells[i].w = calloc(ncells, sizeof(uint32_t));
		e->cells[i].pos = calloc(p->cells_per_step, sizeof(uint32_t));
		e->cells[i].total.w = calloc(LH_NBUCKETS, sizeof(uint32_t));
		e->cells[i].total.lo = LH_NBUCKETS;
		if (!e->cells[i].key || !e->cells[i].w || !e->cells[i].pos || !e->cells[i].total.w)
			goto fail;
	}
	for (uint32_t i = 0; i <= e->cap; i++)
		e->entries[i].ring = &e->slots[(size_t)i * p->nsteps];
	e->entries[0].other = true;
	strcpy(e->entries[0].key.op, "(other)");
	strcpy(e->entries[0].key.resource, "(other)");
	e->n = 1;
	e->lk_sidx = UINT32_MAX;
	e->start_ns = start_ns;
	e->cur = e->floor = start_ns / p->step_ns;
	return e;
fail:
	etcd_agg_free(e);
	return NULL;
}

const struct etcd_agg_stats *etcd_agg_get_stats(const struct etcd_agg *e)
{
	return &e->st;
}

/* ---- keys ---------------------------------------------------------------------------------------- */

/* An etcd record's (op, resource) as views: the op's bytes and the resource's ("group/resource" is
 * built in buf), each with its length as stored in struct etcd_agg_key. */
struct ekey_view {
	const char *op, *res;
	uint32_t op_len, res_len;
	char buf[AGG_RESOURCE_LEN];
};

static void key_view(const struct etcd_record *r, struct ekey_view *v)
{
	v->op = r->op;
	v->op_len = (uint32_t)strnlen(r->op, sizeof(r->op) < ETCD_AGG_OP_LEN - 1 ? sizeof(r->op) : ETCD_AGG_OP_LEN - 1);
	if (r->group[0] && r->resource[0]) {
		v->res = v->buf;
		v->res_len = (uint32_t)str_join(v->buf, sizeof(v->buf), r->group, sizeof(r->group), '/', r->resource,
						sizeof(r->resource));
	} else {
		v->res = r->resource;
		v->res_len = (uint32_t)strnlen(r->resource, sizeof(r->resource) < AGG_RESOURCE_LEN - 1 ? sizeof(r->resource)
												: AGG_RESOURCE_LEN - 1);
	}
}

static __attribute__((noinline)) uint32_t lookup_probe(struct etcd_agg *e, const struct ekey_view *k)
{
	uint64_t h = hash_mix64(hash_bytes(k->op, k->op_len, 1) ^ hash_bytes(k->res, k->res_len, 2));
	uint32_t i;
	struct eentry *en;

	h = h ? h : 1;
	i = (uint32_t)(h ^ h >> 29) & e->index_mask;
	for (;;) {
		uint32_t v = e->index[i];

		if (!v)
			break;
		en = &e->entries[v - 1];
		/* the stored strings end where the record's do, and hold the same bytes */
		if (en->hash == h && !en->key.op[k->op_len] && !en->key.resource[k->res_len] &&
		    mem_eq_short(en->key.op, k->op, k->op_len) && mem_eq_short(en->key.resource, k->res, k->res_len))
			return v - 1;
		i = (i + 1) & e->index_mask;
	}
	if (e->n >= e->cap) {
		e->st.overflow++;
		return 0;
	}
	en = &e->entries[e->n];
	memcpy(en->key.op, k->op, k->op_len);
	en->key.op[k->op_len] = '\0';
	memcpy(en->key.resource, k->res, k->res_len);
	en->key.resource[k->res_len] = '\0';
	en->hash = h;
	e->index[i] = e->n + 1;
	return e->n++;
}

/* Entry of a record's key: the previous record's when the key's fields are the same (an entry keeps
 * its key for good; a key counted in "(other)" stays there, counted as overflow again), else by the
 * hash index. */
static inline __attribute__((always_inline)) uint32_t lookup(struct etcd_agg *e, const struct etcd_record *r)
{
	struct ekey_view k;
	/* all three compared (and kept) every time: each SRC_SAME copies the field when it differs */
	bool same = SRC_SAME(e->prev_op, r->op);

	same = SRC_SAME(e->prev_res, r->resource) && same;
	same = SRC_SAME(e->prev_group, r->group) && same;
	if (same && e->prev_valid) {
		if (!e->prev_idx)
			e->st.overflow++;
		return e->prev_idx;
	}
	key_view(r, &k);
	e->prev_idx = lookup_probe(e, &k);
	e->prev_valid = true;
	return e->prev_idx;
}

/* ---- steps ---------------------------------------------------------------------------------------- */

void etcd_agg_advance(struct etcd_agg *e, uint64_t now_ns)
{
	uint64_t s = now_ns / e->p.step_ns;

	if (s > e->cur)
		e->cur = s;
	if (s > e->floor)
		e->floor = s;
}

/* The step a record or link of time ns is counted in; false when it is outside the kept steps. */
static bool step_for(struct etcd_agg *e, uint64_t ns, uint64_t *step)
{
	uint64_t s = ns / e->p.step_ns;

	if (s < e->floor) {
		s = e->floor;
		e->st.deferred++;
	}
	if (s > e->cur)
		e->cur = s;
	*step = s;
	if (s + e->p.nsteps <= e->cur) {
		e->st.late++;
		return false;
	}
	return true;
}

/* The cells of step `step` (at index sidx = step % nsteps), emptied when they held an older step. */
static struct ecells *cells_for(struct etcd_agg *e, uint64_t step, uint32_t sidx)
{
	struct ecells *c = &e->cells[sidx];

	if (c->step1 != step + 1) {
		for (uint32_t j = 0; j < c->npos; j++)
			c->key[c->pos[j]] = 0;
		lh_cells_clear(&c->total);
		c->used = c->npos = 0;
		c->step1 = step + 1;
	}
	return c;
}

static void cell_add(struct etcd_agg *e, struct ecells *c, uint32_t row, unsigned bucket, uint32_t w)
{
	uint32_t key = row * LH_NBUCKETS + bucket + 1, i;

	/* a row's buckets in runs of 8 share a hashed base: its cells sit in a few cache lines */
	i = (((row * 64 + bucket / 8) * 0x9e3779b1u >> 7 & ~7u) | (bucket & 7)) & e->cells_mask;
	for (;;) {
		if (c->key[i] == key) {
			c->w[i] = c->w[i] + w < c->w[i] ? UINT32_MAX : c->w[i] + w;
			return;
		}
		if (!c->key[i])
			break;
		i = (i + 1) & e->cells_mask;
	}
	if (c->used >= e->p.cells_per_step) {
		e->st.cell_overflow++;
		return;
	}
	c->used++;
	c->key[i] = key;
	c->w[i] = w;
	c->pos[c->npos++] = i;
}

/* ---- input ---------------------------------------------------------------------------------------- */

void etcd_agg_request(struct etcd_agg *e, uint64_t request_id, uint64_t end_ns, const uint32_t *rows)
{
	size_t i = request_id & (e->p.recent - 1);
	uint32_t *dst;

	if (!request_id)
		return;
	e->recent[i].id = request_id;
	e->recent[i].end_ns = end_ns;
	dst = &e->recent_rows[i * e->p.link_tables];
	/* rows >= link_rows are skipped by attribute(); the request aggregation's tables (the usual case): a
	 * copy of known length */
	if (e->p.link_tables == AGG__NTABLES)
		memcpy(dst, rows, AGG__NTABLES * sizeof(*dst));
	else
		memcpy(dst, rows, e->p.link_tables * sizeof(*dst));
}

void etcd_agg_evict_hook(void *ctx, uint32_t table, uint32_t row)
{
	struct etcd_agg *e = ctx;
	struct lslot *from, *to;

	if (!e || table >= e->p.link_tables || row >= e->p.link_rows || !row)
		return;
	from = &e->links[((size_t)table * e->p.link_rows + row) * e->p.nsteps];
	to = &e->links[(size_t)table * e->p.link_rows * e->p.nsteps];
	for (uint32_t i = 0; i < e->p.nsteps; i++) {
		if (from[i].step1 && from[i].step1 >= to[i].step1) { /* an older step in `to` is stale */
			if (to[i].step1 != from[i].step1) {
				to[i].step1 = from[i].step1;
				to[i].calls = 0;
			}
			to[i].calls += from[i].calls;
		}
		from[i].step1 = 0;
		from[i].calls = 0;
	}
}

/* Whether rows[0 .. n) are lk_rows' (n = the request aggregation's tables: a comparison of known length). */
static inline bool link_rows_same(const struct etcd_agg *e, const uint32_t *rows, uint32_t n)
{
	return n == AGG__NTABLES ? !memcmp(rows, e->lk_rows, AGG__NTABLES * sizeof(*rows))
				 : !memcmp(rows, e->lk_rows, n * sizeof(*rows));
}

static void attribute(struct etcd_agg *e, uint64_t request_id, double w)
{
	size_t i = request_id & (e->p.recent - 1);
	uint64_t step;
	uint32_t sidx, step1, n = e->p.link_tables;
	const uint32_t *rows;
	float fw = (float)w;

	e->st.linked++;
	if (e->recent[i].id != request_id) {
		e->st.unattributed++;
		return;
	}
	e->st.attributed++;
	if (!step_for(e, e->recent[i].end_ns, &step))
		return;
	sidx = (uint32_t)(step % e->p.nsteps);
	step1 = (uint32_t)(step + 1);
	rows = &e->recent_rows[i * n];
	if (sidx != e->lk_sidx || !link_rows_same(e, rows, n)) {
		/* links[table][row][step % nsteps]: table t's step sidx of row 0, then rows nsteps apart; a row
		 * >= link_rows: none */
		struct lslot *base = &e->links[sidx];
		size_t tstride = (size_t)e->p.link_rows * e->p.nsteps;

		e->lk_n = 0;
		for (uint32_t t = 0; t < n; t++)
			if (rows[t] < e->p.link_rows)
				e->lk_slot[e->lk_n++] = base + t * tstride + (size_t)rows[t] * e->p.nsteps;
		memcpy(e->lk_rows, rows, n * sizeof(*rows));
		e->lk_sidx = sidx;
	}
	for (uint32_t k = 0; k < e->lk_n; k++) {
		struct lslot *sl = e->lk_slot[k];

		if (sl->step1 != step1) {
			sl->step1 = step1;
			sl->calls = 0;
		}
		sl->calls += fw;
	}
}

void etcd_agg_add(struct etcd_agg *e, const struct etcd_record *r)
{
	double w = 1.0;
	float fw = 1.0f;
	uint32_t wunits = (uint32_t)WEIGHT_SCALE;
	struct ecells *cells;
	uint32_t sidx;
	unsigned bucket = lh_bucket_ns_built(r->latency_ns); /* etcd_agg_new built its tables */
	bool err = r->grpc_status != 0;
	float bytes;

	/* unsampled records (weight 1) skip the weight's conversions */
	if (r->sample_factor != 1.0 && r->sample_factor > 0 && isfinite(r->sample_factor)) {
		double wu;

		w = r->sample_factor;
		fw = (float)w;
		wu = nearbyint(w * WEIGHT_SCALE);
		wunits = wu < 1 ? 1 : wu > UINT32_MAX ? UINT32_MAX : (uint32_t)wu;
	}
	bytes = r->req_size > 0 ? (float)((double)r->req_size * w) : 0;
	uint64_t step;
	uint32_t idx;
	eslot_v4f inc;

	if (r->stream) {
		e->st.streams++;
		return;
	}
	e->st.records++;
	if (r->request_id)
		attribute(e, r->request_id, w);
	if (!step_for(e, r->start_ns + r->latency_ns, &step))
		return;
	idx = lookup(e, r);
	sidx = (uint32_t)(step % e->p.nsteps);
	cells = cells_for(e, step, sidx);
	inc = (eslot_v4f){ fw, err ? fw : 0, bytes, r->request_id ? fw : 0 };
	for (int pass = 0; pass < 2; pass++) {
		uint32_t row = pass ? e->cap : idx; /* the total lives after the keys */
		struct eslot *sl = &e->slots[(size_t)row * e->p.nsteps + sidx]; /* entries[row].ring[sidx], without
										  * reading the entry */

		if (sl->step1 != (uint32_t)(step + 1))
			*sl = (struct eslot){ .step1 = (uint32_t)(step + 1) };
		eslot_add(sl, inc);
		if (!pass)
			cell_add(e, cells, row, bucket, wunits);
		else if (!lh_cells_add(&cells->total, bucket, wunits, &cells->used, e->p.cells_per_step))
			e->st.cell_overflow++;
	}
}

/* ---- queries -------------------------------------------------------------------------------------- */

static void window(const struct etcd_agg *e, uint32_t k, uint64_t *first, double *span)
{
	uint64_t span_start, span_end;

	if (k < 1)
		k = 1;
	if (k > e->p.nsteps)
		k = e->p.nsteps;
	*first = e->cur >= k ? e->cur - k : 0;
	span_start = *first * e->p.step_ns;
	span_end = e->cur * e->p.step_ns;
	if (span_start < e->start_ns)
		span_start = e->start_ns;
	*span = span_end > span_start ? (double)(span_end - span_start) / 1e9 : 0;
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct etcd_agg_row *a = pa, *b = pb;
	int c;

	if (a->calls != b->calls)
		return a->calls > b->calls ? -1 : 1;
	if ((c = strcmp(a->key->op, b->key->op)))
		return c;
	return strcmp(a->key->resource, b->key->resource);
}

static void fill_row(struct etcd_agg *e, uint32_t i, uint64_t first, double span, struct etcd_agg_row *r)
{
	const struct eentry *en = &e->entries[i];

	memset(r, 0, sizeof(*r));
	for (uint64_t s = first; s < e->cur; s++) {
		const struct eslot *sl = &en->ring[s % e->p.nsteps];

		if (sl->step1 != (uint32_t)(s + 1))
			continue;
		r->calls += sl->v[EV_CALLS];
		r->errors += sl->v[EV_ERRORS];
		r->req_bytes += sl->v[EV_REQ_BYTES];
		r->linked += sl->v[EV_LINKED];
	}
	r->key = i == e->cap ? NULL : &en->key;
	r->other = en->other;
	r->rate = span > 0 ? r->calls / span : 0;
	r->linked_rate = span > 0 ? r->linked / span : 0;
	r->req_bytes_rate = span > 0 ? r->req_bytes / span : 0;
	r->err_pct = r->calls > 0 ? r->errors / r->calls * 100 : 0;
	r->p50_ns = r->p90_ns = r->p99_ns = NAN;
	if (e->row_of[i]) {
		uint32_t hr = e->row_of[i] - 1;
		static const double qs[3] = { 0.50, 0.90, 0.99 };
		double v[3];

		lh_quantiles_in(&e->hist[(size_t)hr * LH_NBUCKETS], e->lo[hr], e->hi[hr], qs, v, 3);
		r->p50_ns = v[0];
		r->p90_ns = v[1];
		r->p99_ns = v[2];
	}
}

size_t etcd_agg_query(struct etcd_agg *e, uint32_t k, struct etcd_agg_row *rows, size_t max_rows,
		      struct etcd_agg_row *total, double *span_s)
{
	uint64_t first;
	uint32_t ntouched = 0;
	size_t nrows = 0;
	double span;

	window(e, k, &first, &span);
	if (span_s)
		*span_s = span;
	/* latency cells of the span -> per-row dense histograms */
	for (uint64_t s = first; s < e->cur; s++) {
		const struct ecells *c = &e->cells[s % e->p.nsteps];

		if (c->step1 != s + 1)
			continue;
		if (c->total.lo <= c->total.hi) { /* the total's cells: the dense array */
			if (!e->row_of[e->cap]) {
				e->touched[ntouched] = e->cap;
				e->lo[ntouched] = LH_NBUCKETS - 1;
				e->hi[ntouched] = 0;
				e->row_of[e->cap] = ++ntouched;
			}
			lh_cells_merge(&c->total, &e->hist[(size_t)(e->row_of[e->cap] - 1) * LH_NBUCKETS],
				       &e->lo[e->row_of[e->cap] - 1], &e->hi[e->row_of[e->cap] - 1]);
		}
		for (uint32_t j = 0; j < c->npos; j++) {
			uint32_t i = c->pos[j], key = c->key[i] - 1, row, hr;
			uint16_t bucket;

			row = key / LH_NBUCKETS;
			bucket = (uint16_t)(key % LH_NBUCKETS);
			if (!e->row_of[row]) {
				e->touched[ntouched] = row;
				e->lo[ntouched] = e->hi[ntouched] = bucket;
				e->row_of[row] = ++ntouched;
			}
			hr = e->row_of[row] - 1;
			e->hist[(size_t)hr * LH_NBUCKETS + bucket] += c->w[i];
			if (bucket < e->lo[hr])
				e->lo[hr] = bucket;
			if (bucket > e->hi[hr])
				e->hi[hr] = bucket;
		}
	}
	for (uint32_t i = 0; i < e->n; i++) {
		fill_row(e, i, first, span, &e->rows[nrows]);
		if (e->rows[nrows].calls > 0)
			nrows++;
	}
	if (total)
		fill_row(e, e->cap, first, span, total);
	for (uint32_t i = 0; i < ntouched; i++) {
		memset(&e->hist[(size_t)i * LH_NBUCKETS + e->lo[i]], 0, (e->hi[i] - e->lo[i] + 1u) * sizeof(uint64_t));
		e->row_of[e->touched[i]] = 0;
	}
	qsort(e->rows, nrows, sizeof(*e->rows), row_cmp);
	if (rows)
		memcpy(rows, e->rows, (nrows < max_rows ? nrows : max_rows) * sizeof(*rows));
	return nrows;
}

double etcd_agg_linked(const struct etcd_agg *e, uint32_t table, uint32_t row, uint32_t k)
{
	uint64_t first;
	double span, sum = 0;

	if (table >= e->p.link_tables || row >= e->p.link_rows)
		return 0;
	window(e, k, &first, &span);
	for (uint64_t s = first; s < e->cur; s++) {
		const struct lslot *sl = &e->links[((size_t)table * e->p.link_rows + row) * e->p.nsteps + s % e->p.nsteps];

		if (sl->step1 == (uint32_t)(s + 1))
			sum += sl->calls;
	}
	return sum;
}
