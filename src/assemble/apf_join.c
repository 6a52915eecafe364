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

/* A learned object: UID -> name (open addressing, never deleted: UIDs are unique). */
struct object {
	char uid[REC_APF_UID_LEN];
	char name[REC_APF_NAME_LEN];
};

struct apf_join {
	uint64_t hold_ns;
	struct object *obj[2]; /* [enum kp_apf_kind], APF_MAX_OBJECTS each */
	uint32_t nobj[2];
	struct reject rej[APF_MAX_GOROUTINES];
	uint32_t nrej; /* rej[] slots used: the tick's scan (1024 slots, 450 KB) only when some wait */
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
	j->obj[0] = calloc(APF_MAX_OBJECTS, sizeof(struct object));
	j->obj[1] = calloc(APF_MAX_OBJECTS, sizeof(struct object));
	if (!j->pend || !j->obj[0] || !j->obj[1]) {
		apf_join_free(j);
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
	free(j->obj[0]);
	free(j->obj[1]);
	free(j);
}

static size_t uid_home(const char *uid)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *uid; uid++)
		h = (h ^ (unsigned char)*uid) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29)) & (APF_MAX_OBJECTS - 1);
}

/* The slot of uid in kind's table: its own, else the free one where it would go; NULL when full. */
static struct object *obj_slot(struct apf_join *j, int kind, const char *uid)
{
	size_t home = uid_home(uid);

	for (size_t k = 0; k < APF_MAX_OBJECTS; k++) {
		struct object *o = &j->obj[kind][(home + k) & (APF_MAX_OBJECTS - 1)];

		if (!o->uid[0] || !strcmp(o->uid, uid))
			return o;
	}
	return NULL;
}

void apf_join_object(struct apf_join *j, const struct kp_apf_object *ev)
{
	char uid[REC_APF_UID_LEN];
	struct object *o;
	int kind = ev->kind == KP_APF_FLOW_SCHEMA;

	copy_str(uid, sizeof(uid), ev->uid, ev->uid_len, sizeof(ev->uid));
	if (!uid[0] || !ev->name_len)
		return;
	o = obj_slot(j, kind, uid);
	if (!o) {
		j->st.dropped_full++;
		return;
	}
	if (!o->uid[0]) {
		memcpy(o->uid, uid, sizeof(o->uid));
		j->nobj[kind]++;
		j->st.objects++;
	}
	copy_str(o->name, sizeof(o->name), ev->name, ev->name_len, sizeof(ev->name));
}

/* name of uid (kind), or NULL */
static const char *obj_name(struct apf_join *j, int kind, const char *uid)
{
	struct object *o;

	if (!uid[0] || !j->nobj[kind])
		return NULL;
	o = obj_slot(j, kind, uid);
	return o && o->uid[0] ? o->name : NULL;
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
	if (!slot->used)
		j->nrej++;
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
			j->nrej--;
			return;
		}
	}
	j->st.unpaired++;
}

bool apf_join_request_end(struct apf_join *j, struct request_record *r)
{
	struct rec_apf *out = &r->apf;
	uint64_t ctx = r->link_ctx;
	const char *pl, *fs;

	if (!(j->nobj[KP_APF_PRIORITY_LEVEL] | j->nobj[KP_APF_FLOW_SCHEMA] | j->n)) /* nothing to join: the usual case */
		return false;
	pl = obj_name(j, KP_APF_PRIORITY_LEVEL, out->priority_level_uid);
	fs = obj_name(j, KP_APF_FLOW_SCHEMA, out->flow_schema_uid);

	if (pl && !out->priority_level[0])
		memcpy(out->priority_level, pl, sizeof(out->priority_level));
	if (fs && !out->flow_schema[0])
		memcpy(out->flow_schema, fs, sizeof(out->flow_schema));
	j->st.named += pl || fs;
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
	for (int i = 0; j->nrej && i < APF_MAX_GOROUTINES; i++)
		if (j->rej[i].used && now_mono > j->rej[i].ts && now_mono - j->rej[i].ts > j->hold_ns) {
			j->rej[i].used = false;
			j->nrej--;
		}
}

const struct apf_join_stats *apf_join_get_stats(const struct apf_join *j)
{
	return &j->st;
}
