// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/apf_join.h"

#include <stdlib.h>
#include <string.h>

/* An AddReject waiting for its tooManyRequests (same goroutine). */
struct reject {
	uint64_t g, ts;
	struct rec_apf apf;
	uint8_t truncated; /* KP_TRUNC_APF_* */
	bool used;
};

/* A 429 waiting for its request's end. */
struct pending {
	uint64_t ts;
	uint8_t nctx;
	uint64_t chain[KP_CTX_CHAIN_MAX];
	struct rec_apf apf; /* names and reason; empty when unpaired */
	uint8_t truncated;
};

struct apf_join {
	uint64_t hold_ns;
	struct reject rej[APF_MAX_GOROUTINES];
	struct pending *pend; /* FIFO ring of APF_MAX_PENDING */
	size_t head, n;
	struct apf_join_stats st;
};

static void copy_str(char *dst, size_t cap, const char *src, size_t len, size_t src_cap)
{
	if (len > src_cap)
		len = src_cap;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

struct apf_join *apf_join_new(uint64_t hold_ns)
{
	struct apf_join *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->pend = calloc(APF_MAX_PENDING, sizeof(*j->pend));
	if (!j->pend) {
		free(j);
		return NULL;
	}
	j->hold_ns = hold_ns;
	return j;
}

void apf_join_free(struct apf_join *j)
{
	if (!j)
		return;
	free(j->pend);
	free(j);
}

#define PROBES 8

static size_t g_home(uint64_t g)
{
	return (size_t)(((g >> 3) * 0x9e3779b97f4a7c15ULL) >> 40) & (APF_MAX_GOROUTINES - 1);
}

void apf_join_reject(struct apf_join *j, const struct kp_apf_reject *ev)
{
	struct reject *slot = NULL;
	size_t home = g_home(ev->hdr.goid_g);

	j->st.rejects++;
	/* the goroutine's own slot, else a free one, else the oldest of its probe run */
	for (size_t k = 0; k < PROBES; k++) {
		struct reject *r = &j->rej[(home + k) & (APF_MAX_GOROUTINES - 1)];

		if (r->used && r->g == ev->hdr.goid_g) {
			slot = r;
			break;
		}
		if (!slot || (slot->used && (!r->used || r->ts < slot->ts)))
			slot = r;
	}
	if (slot->used && slot->g != ev->hdr.goid_g)
		j->st.dropped_full++;
	memset(slot, 0, sizeof(*slot));
	slot->used = true;
	slot->g = ev->hdr.goid_g;
	slot->ts = ev->hdr.ts_ns;
	copy_str(slot->apf.priority_level, sizeof(slot->apf.priority_level), ev->pl, ev->pl_len, sizeof(ev->pl));
	copy_str(slot->apf.flow_schema, sizeof(slot->apf.flow_schema), ev->fs, ev->fs_len, sizeof(ev->fs));
	copy_str(slot->apf.reject_reason, sizeof(slot->apf.reject_reason), ev->reason, ev->reason_len,
		 sizeof(ev->reason));
	slot->truncated = ev->truncated & (KP_TRUNC_APF_PL | KP_TRUNC_APF_FS);
}

void apf_join_too_many(struct apf_join *j, const struct kp_apf_too_many *ev)
{
	struct pending *p;

	j->st.too_many++;
	if (j->n == APF_MAX_PENDING) { /* full: the oldest goes */
		j->head = (j->head + 1) % APF_MAX_PENDING;
		j->n--;
		j->st.dropped_full++;
	}
	p = &j->pend[(j->head + j->n) % APF_MAX_PENDING];
	memset(p, 0, sizeof(*p));
	p->ts = ev->hdr.ts_ns;
	p->nctx = ev->nctx < KP_CTX_CHAIN_MAX ? ev->nctx : KP_CTX_CHAIN_MAX;
	memcpy(p->chain, ev->ctx_chain, p->nctx * sizeof(p->chain[0]));
	j->n++;
	for (size_t k = 0; k < PROBES; k++) {
		struct reject *r = &j->rej[(g_home(ev->hdr.goid_g) + k) & (APF_MAX_GOROUTINES - 1)];

		/* AddReject ran just before, on this goroutine (a goroutine handles one request at a time) */
		if (r->used && r->g == ev->hdr.goid_g && r->ts <= ev->hdr.ts_ns && ev->hdr.ts_ns - r->ts < j->hold_ns) {
			p->apf = r->apf;
			p->truncated = r->truncated;
			r->used = false;
			return;
		}
	}
	j->st.unpaired++;
}

bool apf_join_request_end(struct apf_join *j, struct request_record *r)
{
	struct rec_apf *out = &r->apf;
	uint64_t ctx = r->link_ctx;

	if (!ctx || !j->n)
		return false;
	for (size_t k = 0; k < j->n; k++) {
		struct pending *p = &j->pend[(j->head + k) % APF_MAX_PENDING];

		for (uint8_t c = 0; c < p->nctx; c++) {
			if (p->chain[c] != ctx)
				continue;
			memcpy(out->priority_level, p->apf.priority_level, sizeof(out->priority_level));
			memcpy(out->flow_schema, p->apf.flow_schema, sizeof(out->flow_schema));
			memcpy(out->reject_reason, p->apf.reject_reason, sizeof(out->reject_reason));
			r->truncated |= (p->truncated & KP_TRUNC_APF_PL ? REC_TRUNC_PRIORITY_LEVEL : 0) |
					(p->truncated & KP_TRUNC_APF_FS ? REC_TRUNC_FLOW_SCHEMA : 0);
			/* remove: move the oldest into its place (order only matters for expiry, by ts) */
			*p = j->pend[j->head];
			j->head = (j->head + 1) % APF_MAX_PENDING;
			j->n--;
			j->st.attributed++;
			return true;
		}
	}
	return false;
}

void apf_join_tick(struct apf_join *j, uint64_t now_mono)
{
	/* the ring is in arrival order except for moved entries: expire from the head while old */
	while (j->n && now_mono > j->pend[j->head].ts && now_mono - j->pend[j->head].ts > j->hold_ns) {
		j->head = (j->head + 1) % APF_MAX_PENDING;
		j->n--;
		j->st.expired++;
	}
	for (int i = 0; i < APF_MAX_GOROUTINES; i++)
		if (j->rej[i].used && now_mono > j->rej[i].ts && now_mono - j->rej[i].ts > j->hold_ns)
			j->rej[i].used = false;
}

const struct apf_join_stats *apf_join_get_stats(const struct apf_join *j)
{
	return &j->st;
}
