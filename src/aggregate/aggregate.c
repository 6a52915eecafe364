// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/aggregate.h"

#include <math.h>
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "aggregate/field_same.h"
#include "aggregate/hh.h"
#include "util/hash.h"
#include "util/strbuf.h"

/* The cumulative buckets' bounds, in ns: one list for the seconds exported and the ns compared
 * (n / 1e9 is the double nearest to the decimal, as the literal 0.001 etc. would be). */
#define AGG_LE_NS(X) X(1000000) X(2500000) X(5000000) X(10000000) X(25000000) X(50000000) X(100000000) \
	X(250000000) X(500000000) X(1000000000) X(2500000000) X(5000000000) X(10000000000) X(30000000000) X(60000000000)
#define LE_SECONDS(n) n / 1e9,
#define LE_NS(n) n##ULL,
const double agg_le_seconds[AGG_NLE] = { AGG_LE_NS(LE_SECONDS) };
static const uint64_t le_ns[AGG_NLE + 1] = { AGG_LE_NS(LE_NS) UINT64_MAX }; /* [AGG_NLE]: no latency is above */

/* The cumulative bucket of a latency: the first bound >= it. In integer ns: for ns < 2^53,
 * (double)ns / 1e9 <= bound exactly when ns <= the bound's ns (each bound has at most 9 decimals). */
static unsigned le_index_ns(uint64_t ns)
{
	for (unsigned i = 0; i < AGG_NLE; i++)
		if (ns <= le_ns[i])
			return i;
	return AGG_NLE;
}

#define AGG_IDLE_WEIGHT 0.01 /* decayed weight of an idle key: 1 request ~ 4.6 time constants ago */
#define AGG_INFLIGHT_WEIGHT 0.1 /* heavy-hitter weight of a key admitted for in-flight requests only */
#define WEIGHT_SCALE 256.0 /* histogram cells hold weights in 1/256 units (exact sums) */

/* One step of one row. The step is stored + 1 so that 0 means "never written" (lazy reset). */
enum slot_value { SV_REQ, SV_4XX, SV_429, SV_5XX, SV_BYTES, SV_EBYTES, SV_EKVS, SV__N };
struct agg_slot {
	uint32_t step1;
	float v[SV__N]; /* requests, 4xx (429 excluded), 429, 5xx, response bytes; etcd response bytes and
			 * key-values of the requests' linked calls */
};

/* Four floats of a slot += inc, and two (lane by lane: the sums of scalar additions, bit for bit).
 * The slot's parts are added by loads and stores that do not overlap: a load that overlaps part of
 * the store before it waits for that store (no store-to-load forwarding). */
typedef float agg_v4f __attribute__((vector_size(16)));
typedef int32_t agg_v4i __attribute__((vector_size(16)));
typedef float agg_v2f __attribute__((vector_size(8)));
typedef double agg_v2d __attribute__((vector_size(16)));
static inline void slot_add4(float *v, agg_v4f inc)
{
	agg_v4f x;

	memcpy(&x, v, sizeof(x));
	x += inc;
	memcpy(v, &x, sizeof(x));
}

static inline void slot_add2(float *v, agg_v2f inc)
{
	agg_v2f x;

	memcpy(&x, v, sizeof(x));
	x += inc;
	memcpy(v, &x, sizeof(x));
}

/* Two doubles += inc (the cumulative totals, lane by lane as scalar additions) */
static inline void cum_add2(double *v, agg_v2d inc)
{
	agg_v2d x;

	memcpy(&x, v, sizeof(x));
	x += inc;
	memcpy(v, &x, sizeof(x));
}

/* The lanes of a slot's v[SV_REQ .. SV_5XX] a record of each status class adds its weight to (all bits
 * set: the weight; none: + 0) */
static const agg_v4i class_lanes[AGG__NCLASS] = {
	[AGG_C_1XX] = { -1, 0, 0, 0 }, [AGG_C_2XX] = { -1, 0, 0, 0 },  [AGG_C_3XX] = { -1, 0, 0, 0 },
	[AGG_C_4XX] = { -1, -1, 0, 0 }, [AGG_C_429] = { -1, 0, -1, 0 }, [AGG_C_5XX] = { -1, 0, 0, -1 },
	[AGG_C_UNKNOWN] = { -1, 0, 0, 0 },
};

struct agg_entry {
	struct agg_key key; /* into this entry's key bytes (tab->key_off) for the table's fields, else "" */
	uint64_t hash;
	bool other;
	uint32_t gen; /* the row's generation (hh_gen) while it holds this key; 0 for "(other)" and the total */
	int64_t inflight; /* snapshot: agg_inflight_clear() + agg_inflight() per pending request */
	struct agg_cum cum;
	struct agg_slot ring[]; /* wsteps (the steps queries cover), then, in the tables with a history
				 * (tab->hist_off), struct agg_hist */
};

/* Requests per step over all nsteps, in the rows the live cause and the detector read (AGG_BY_KEY,
 * AGG_BY_VERB_RESOURCE, the total): 4 B a step instead of a 32 B slot. req[s % nsteps] holds step s
 * for s in (last - nsteps, last], last = last1 - 1 (steps are zeroed as `last` moves past them). */
struct agg_hist {
	uint32_t last1; /* newest step written + 1, 0 = none */
	float req[];    /* nsteps */
};

/* The tables that keep a history (see struct agg_hist). */
#define AGG_HIST_TABLES (1u << AGG_BY_KEY | 1u << AGG_BY_VERB_RESOURCE | 1u << AGG_TOTAL)

/* A grouping: entries[0] is "(other)" (keys that lost their row), entries[1 + r] holds the key of
 * heavy-hitter row r. The total table has no hh and one entry, [1]. */
struct agg_tab {
	uint64_t start_ns; /* wall time it was enabled: it counts the records that end from then on */
	char *entries;     /* cap entries of `stride` bytes: struct agg_entry, its ring, its key bytes */
	size_t stride;
	uint32_t key_off;  /* offset of an entry's key bytes: the table's fields in KF_* order */
	uint32_t hist_off; /* offset of an entry's struct agg_hist, 0 = none */
	uint32_t cap;      /* max_keys + 1 */
	struct hh *hh;
};

/* Query scratch, shared by the tables (one query at a time), max_keys + 1 rows. */
struct agg_scratch {
	uint64_t *hist;    /* rows of LH_NBUCKETS, touched lazily */
	uint32_t *row_of;  /* entry -> hist row + 1 */
	uint32_t *touched; /* entries with a hist row */
	uint16_t *lo, *hi; /* per hist row: the buckets outside [lo, hi] are 0 */
	struct agg_row *rows;
};

/* Latency cells of one step: packed (table, entry, row generation, bucket) -> weight. A cell of an
 * older generation of a row (the row got a new key since) belongs to "(other)". */
struct agg_cells {
	uint64_t step1;    /* step + 1 these cells belong to, 0 = none */
	uint32_t used;     /* cells of the step (of the total's too: they count against cells_per_step) */
	uint32_t npos;     /* cells in key/w */
	uint64_t *key;     /* cell_key(); 0 = empty */
	uint32_t *w;       /* weight units */
	uint32_t *pos;     /* the used slots of key/w, in insertion order (queries and the reset visit only
			    * these, not the whole table; pages are resident only as far as cells are used) */
	struct lh_cells total; /* the total's cells, dense by bucket: its one row needs no hashing */
};

#define CK_BUCKET_BITS 9  /* LH_NBUCKETS = 322 */
#define CK_ENTRY_BITS 21  /* max_keys <= 2^20 */
#define CK_TABLE_BITS 4  /* AGG__NTABLES <= 16 */
#define CK_GEN_SHIFT (1 + CK_BUCKET_BITS + CK_ENTRY_BITS + CK_TABLE_BITS)
#define CK_GEN_MASK ((1u << (64 - CK_GEN_SHIFT)) - 1) /* the generation's low bits: the rest of the key */
_Static_assert(AGG__NTABLES <= 1 << CK_TABLE_BITS, "cell key: too many tables");

static inline uint64_t cell_key(uint32_t t, uint32_t idx, uint32_t gen, unsigned bucket)
{
	return 1 | (uint64_t)bucket << 1 | (uint64_t)idx << (1 + CK_BUCKET_BITS) |
	       (uint64_t)t << (1 + CK_BUCKET_BITS + CK_ENTRY_BITS) | (uint64_t)(gen & CK_GEN_MASK) << CK_GEN_SHIFT;
}

/* The fields of a key (key_fields below). */
enum key_field { KF_UA, KF_VERB, KF_RESOURCE, KF_SUBRESOURCE, KF_CLIENT, KF_NAMESPACE, KF_USER, KF_PRIORITY_LEVEL, KF__N };
#define KF(f) (1u << (f))

/* The previous record's key: the record fields each key field is made of, as the record held them
 * (bytes after a NUL are whatever the record had), and the row it was counted in per table. A record
 * whose fields of a table are all the previous record's goes to the same row, without building its
 * key, a hash probe or a key comparison per table, as long as that row still holds the key (its
 * generation is unchanged). Runs of records with one key (a flood, a controller's burst) cost one
 * comparison of each record field, 16 bytes at a time (key_same_prev). */
struct agg_prev {
	char ua[REC_UA_LEN], verb[REC_VERB_LEN], method[REC_METHOD_LEN];
	char group[REC_FIELD_LEN], resource[REC_FIELD_LEN], sub[REC_FIELD_LEN], ns[REC_FIELD_LEN];
	char path[REC_PATH_LEN], client[REC_ADDR_LEN], user[REC_USER_LEN];
	char pl[REC_APF_NAME_LEN], pl_uid[REC_APF_UID_LEN];
	char client_ip[REC_ADDR_LEN]; /* the key's client (the IP), client_len bytes */
	uint32_t client_len;
	bool res_mode, has_user;       /* a resource request with a resource; the user is known */
	uint32_t row[AGG__NTABLES], gen[AGG__NTABLES];
	uint64_t cbase[AGG__NTABLES];  /* cell_key(table, row, gen, 0) of row[] */
	uint32_t chome[AGG__NTABLES];  /* row_home(cbase[]) */
	struct agg_entry *entry[AGG__NTABLES]; /* the entry of row[] */
	uint32_t valid; /* tables whose row[], gen[], cbase[], chome[] and entry[] are set */
};

struct agg {
	struct agg_params p;
	uint32_t tables; /* enabled groupings (agg_enable_tables) */
	uint32_t need;   /* the key fields (KF bits) of the enabled groupings: the ones key_same_prev compares */
	uint64_t start_max; /* the latest start_ns of the enabled groupings: records that end from then on
			     * count in all of them */
	uint8_t le_of[LH_NBUCKETS]; /* latency bucket -> the cumulative bucket of its smallest latency */
	uint32_t wsteps; /* nsteps - cause_steps: the steps of the slots, cells and queries */
	struct agg_prev prev;
	uint16_t tables_of[1u << KF__N]; /* fields (KF bits) -> the tables whose fields are all among them */
	uint64_t start_ns, start_step, cur;
	/* the previous record's end step and its ring indexes: records of one step skip the divisions */
	uint64_t memo_lo, memo_hi, memo_step; /* end times [memo_lo, memo_hi) are in step memo_step */
	uint32_t memo_ring_i, memo_hist_i;
	struct agg_tab tab[AGG__NTABLES];
	struct agg_scratch q;
	struct agg_cells *cells; /* wsteps */
	uint32_t cells_mask;
	struct agg_stats st;
	agg_evict_fn evict_fn;
	void *evict_ctx;
	struct online_detector det;
	bool has_det;
	uint64_t fed_step; /* next step to feed to the detector */
	struct online_result last_res;
	uint64_t last_res_step;
	uint64_t event_step; /* agg_anomaly_event_step */
};

static const char *const class_names[AGG__NCLASS] = { "1xx", "2xx", "3xx", "4xx", "429", "5xx", "unknown" };
static const char *const table_names[AGG__NTABLES] = { "all", "agent", "client", "verb-resource", "resource",
								"namespace", "user", "priority-level", "total" };
static const char *const sort_names[AGG__NSORT] = { "rate", "errors", "p99", "bytes", "etcd-bytes", "etcd-keys" };

const char *agg_class_name(enum agg_class c) { return c < AGG__NCLASS ? class_names[c] : "unknown"; }
const char *agg_table_name(enum agg_table t) { return t < AGG__NTABLES ? table_names[t] : "?"; }
const char *agg_sort_name(enum agg_sort s) { return s < AGG__NSORT ? sort_names[s] : "?"; }

enum agg_class agg_status_class(int32_t status)
{
	if (status == 429)
		return AGG_C_429;
	if (status >= 100 && status < 600)
		return (enum agg_class)(AGG_C_1XX + status / 100 - 1 + (status >= 500 ? 1 : 0));
	return AGG_C_UNKNOWN;
}

void agg_params_default(struct agg_params *p)
{
	p->step_ns = 1000000000ULL;
	p->nsteps = 60;
	p->max_keys = 4096;
	p->cells_per_step = 12288;
	p->detector_window = 120;
	p->detector_threshold = 0;
	p->detector_season = DC_SEASON_AUTO;
	p->decay_steps = 5;
	p->cause_steps = 0;
	p->tables = AGG_ALL_TABLES;
}

void agg_params_for_window(struct agg_params *p, uint32_t window)
{
	agg_params_default(p);
	if (window < 1)
		window = 1;
	p->nsteps = window + 2 + AGG_CAUSE_STEPS;
	p->cause_steps = AGG_CAUSE_STEPS;
	p->decay_steps = window > p->decay_steps ? window : p->decay_steps;
}

static inline struct agg_entry *entry_at(const struct agg_tab *t, uint32_t i)
{
	return (struct agg_entry *)(t->entries + (size_t)i * t->stride);
}

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* ---- keys ---------------------------------------------------------------------------------------- */

/* The fields of a key, in one list: the hash of each is computed once per record (tables combine the
 * fields they group by), and a table stores only its own. */
static const struct {
	size_t text_off, key_off, cap; /* in struct agg_key_text, in struct agg_key, field capacity */
} key_fields[KF__N] = {
#define KFD(f) { offsetof(struct agg_key_text, f), offsetof(struct agg_key, f), sizeof(((struct agg_key_text *)0)->f) }
	[KF_UA] = KFD(user_agent), [KF_VERB] = KFD(verb), [KF_RESOURCE] = KFD(resource),
	[KF_SUBRESOURCE] = KFD(subresource), [KF_CLIENT] = KFD(client), [KF_NAMESPACE] = KFD(namespace_),
	[KF_USER] = KFD(user), [KF_PRIORITY_LEVEL] = KFD(priority_level),
#undef KFD
};
/* The fields each table groups by (and stores). */
static const uint32_t table_fields[AGG__NTABLES] = {
	[AGG_BY_KEY] = KF(KF_UA) | KF(KF_VERB) | KF(KF_RESOURCE) | KF(KF_SUBRESOURCE),
	[AGG_BY_AGENT] = KF(KF_UA),
	[AGG_BY_CLIENT] = KF(KF_CLIENT),
	[AGG_BY_VERB_RESOURCE] = KF(KF_VERB) | KF(KF_RESOURCE),
	[AGG_BY_RESOURCE] = KF(KF_RESOURCE),
	[AGG_BY_NAMESPACE] = KF(KF_NAMESPACE),
	[AGG_BY_USER] = KF(KF_USER),
	[AGG_BY_PRIORITY_LEVEL] = KF(KF_PRIORITY_LEVEL),
	[AGG_TOTAL] = 0,
};

/* A record's key fields as views (no copy): each field's bytes, length (as stored: capped to the
 * field's capacity - 1) and hash, computed once per record; tables combine the hashes of their fields
 * and compare the bytes of their fields only. Two fields that are not plain bytes of the record (a
 * resource with its group, a verb from the method) are built in the view's own buffers. */
struct key_view {
	const char *p[KF__N];
	uint32_t len[KF__N];
	uint64_t h[KF__N];  /* valid for the fields of hashed (key_view_hash: only the tables that probe) */
	uint32_t hashed;
	char verb[REC_VERB_LEN];
	char resource[AGG_RESOURCE_LEN];
};

static inline char *text_field(struct agg_key_text *k, int f)
{
	return (char *)k + key_fields[f].text_off;
}

static inline const char **key_field(struct agg_key *k, int f)
{
	return (const char **)((char *)k + key_fields[f].key_off);
}

/* Length of a string of at most max bytes, as stored in a field of cap bytes. */
static inline uint32_t field_len(const char *s, size_t max, size_t cap)
{
	size_t n = strnlen(s, max < cap - 1 ? max : cap - 1);

	return (uint32_t)n;
}

static inline void view_set(struct key_view *kv, int f, const char *p, size_t n)
{
	if (n >= key_fields[f].cap)
		n = key_fields[f].cap - 1;
	kv->p[f] = p;
	kv->len[f] = (uint32_t)n;
}

/* The key's client of a record (*p, *n bytes, as stored: capped to the field's capacity - 1): "ip:port"
 * or "[v6]:port" -> ip. */
static void client_view(const struct request_record *r, const char **p, size_t *n)
{
#if defined(__SSE2__)
	/* the same, from masks of the NULs, colons and ']' of the field, 16 bytes at a time */
	const char *c = r->client;
	uint64_t colon = 0, rb = 0, below;
	size_t len = sizeof(r->client);

	_Static_assert(sizeof(r->client) == 64, "client_view: masks of 64 bytes");
	for (size_t off = 0; off < sizeof(r->client); off += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(c + off));
		unsigned z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128()));

		colon |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(':'))) << off;
		rb |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(']'))) << off;
		if (z) {
			len = off + (size_t)__builtin_ctz(z);
			break;
		}
	}
	below = len == 64 ? ~0ULL : (1ULL << len) - 1; /* the string's bytes */
	colon &= below;
	rb &= below;
	*p = c;
	if (c[0] == '[') {
		if (rb) {
			*p = c + 1;
			len = (size_t)__builtin_ctzll(rb) - 1;
		}
	} else if (colon && !(colon & (colon - 1))) { /* exactly one colon: IPv4 or name with port */
		len = (size_t)__builtin_ctzll(colon);
	}
	*n = len < key_fields[KF_CLIENT].cap - 1 ? len : key_fields[KF_CLIENT].cap - 1;
#else
	const char *c = r->client, *end = c + strnlen(c, sizeof(r->client));

	if (*c == '[') {
		const char *rb = memchr(c, ']', end - c);

		if (rb) {
			c++;
			end = rb;
		}
	} else {
		const char *colon = memchr(c, ':', end - c);

		/* exactly one colon: IPv4 or name with port */
		if (colon && !memchr(colon + 1, ':', end - colon - 1))
			end = colon;
	}
	*p = c;
	*n = (size_t)(end - c) < key_fields[KF_CLIENT].cap - 1 ? (size_t)(end - c) : key_fields[KF_CLIENT].cap - 1;
#endif
}

/* The key of a record as views, with each field's hash. */
static void key_view_fill(const struct request_record *r, struct key_view *kv)
{
	const char *c;
	size_t cn;

	view_set(kv, KF_UA, r->user_agent, field_len(r->user_agent, sizeof(r->user_agent), REC_UA_LEN));
	if (r->ri.verb[0]) {
		view_set(kv, KF_VERB, r->ri.verb, field_len(r->ri.verb, sizeof(r->ri.verb), REC_VERB_LEN));
	} else {
		size_t n = field_len(r->method, sizeof(r->method), sizeof(kv->verb));

		for (size_t i = 0; i < n; i++)
			kv->verb[i] = (r->method[i] >= 'A' && r->method[i] <= 'Z') ? r->method[i] + 32 : r->method[i];
		kv->verb[n] = '\0';
		view_set(kv, KF_VERB, kv->verb, n);
	}
	if (r->ri.is_resource_request && r->ri.resource[0]) {
		if (r->ri.group[0])
			view_set(kv, KF_RESOURCE, kv->resource,
				 str_join(kv->resource, sizeof(kv->resource), r->ri.group, sizeof(r->ri.group), '/',
					  r->ri.resource, sizeof(r->ri.resource)));
		else
			view_set(kv, KF_RESOURCE, r->ri.resource,
				 field_len(r->ri.resource, sizeof(r->ri.resource), AGG_RESOURCE_LEN));
		view_set(kv, KF_SUBRESOURCE, r->ri.subresource,
			 field_len(r->ri.subresource, sizeof(r->ri.subresource), REC_FIELD_LEN));
		view_set(kv, KF_NAMESPACE, r->ri.namespace_, field_len(r->ri.namespace_, sizeof(r->ri.namespace_), REC_FIELD_LEN));
	} else {
		size_t n = strnlen(r->path, sizeof(r->path));
		const char *q = memchr(r->path, '?', n);

		view_set(kv, KF_RESOURCE, r->path, q ? (size_t)(q - r->path) : n);
		view_set(kv, KF_SUBRESOURCE, "", 0);
		view_set(kv, KF_NAMESPACE, "", 0);
	}
	client_view(r, &c, &cn);
	view_set(kv, KF_CLIENT, c, cn);
	if (r->has_user)
		view_set(kv, KF_USER, r->user, field_len(r->user, sizeof(r->user), REC_USER_LEN));
	else
		view_set(kv, KF_USER, "", 0);
	/* the name, else the UID, each read within its own field */
	if (r->apf.priority_level[0])
		view_set(kv, KF_PRIORITY_LEVEL, r->apf.priority_level,
			 field_len(r->apf.priority_level, sizeof(r->apf.priority_level), REC_APF_NAME_LEN));
	else
		view_set(kv, KF_PRIORITY_LEVEL, r->apf.priority_level_uid,
			 field_len(r->apf.priority_level_uid, sizeof(r->apf.priority_level_uid), REC_APF_NAME_LEN));
	kv->hashed = 0;
}

/* Hash the fields of mask not hashed yet. */
static inline void key_view_hash(struct key_view *kv, uint32_t mask)
{
	uint32_t todo = mask & ~kv->hashed;

	for (; todo; todo &= todo - 1) {
		int f = __builtin_ctz(todo);

		kv->h[f] = hash_bytes(kv->p[f], kv->len[f], (uint64_t)f);
	}
	kv->hashed |= mask;
}

void agg_key_from_record(const struct request_record *r, struct agg_key_text *k)
{
	struct key_view kv;

	memset(k, 0, sizeof(*k));
	key_view_fill(r, &kv);
	for (int f = 0; f < KF__N; f++)
		memcpy(text_field(k, f), kv.p[f], kv.len[f]);
}

static inline uint64_t rotl64(uint64_t v, int s)
{
	return v << s | v >> (64 - s);
}

/* A table's hash of a key: its fields' hashes combined (each field hash is already well mixed). */
static uint64_t key_hash(enum agg_table t, const struct key_view *kv)
{
	const uint64_t *f = kv->h;
	uint64_t h;

	switch (t) {
	case AGG_BY_KEY:
		h = f[KF_UA] ^ rotl64(f[KF_VERB], 13) ^ rotl64(f[KF_RESOURCE], 29) ^ rotl64(f[KF_SUBRESOURCE], 43);
		break;
	case AGG_BY_AGENT: h = f[KF_UA]; break;
	case AGG_BY_CLIENT: h = f[KF_CLIENT]; break;
	case AGG_BY_VERB_RESOURCE: h = f[KF_VERB] ^ rotl64(f[KF_RESOURCE], 29); break;
	case AGG_BY_RESOURCE: h = f[KF_RESOURCE]; break;
	case AGG_BY_NAMESPACE: h = f[KF_NAMESPACE]; break;
	case AGG_BY_USER: h = f[KF_USER]; break;
	case AGG_BY_PRIORITY_LEVEL: h = f[KF_PRIORITY_LEVEL]; break;
	default: h = 0; break;
	}
	h = hash_mix64(h + (uint64_t)t);
	return h ? h : 1;
}

_Static_assert(sizeof(((struct request_record *)0)->ri.verb) == REC_VERB_LEN &&
		       sizeof(((struct request_record *)0)->method) == REC_METHOD_LEN &&
		       sizeof(((struct request_record *)0)->ri.group) == REC_FIELD_LEN &&
		       sizeof(((struct request_record *)0)->path) == REC_PATH_LEN &&
		       sizeof(((struct request_record *)0)->client) == REC_ADDR_LEN &&
		       sizeof(((struct request_record *)0)->user_agent) == REC_UA_LEN &&
		       sizeof(((struct request_record *)0)->user) == REC_USER_LEN &&
		       sizeof(((struct rec_apf *)0)->priority_level) == REC_APF_NAME_LEN &&
		       sizeof(((struct rec_apf *)0)->priority_level_uid) == REC_APF_UID_LEN &&
		       REC_VERB_LEN % 8 == 0 && REC_METHOD_LEN % 8 == 0 && REC_FIELD_LEN % 8 == 0 &&
		       REC_PATH_LEN % 8 == 0 && REC_ADDR_LEN % 8 == 0 && REC_UA_LEN % 8 == 0 && REC_USER_LEN % 8 == 0 &&
		       REC_APF_NAME_LEN % 8 == 0 && REC_APF_UID_LEN % 8 == 0 && REC_METHOD_LEN >= 16,
	       "field_same: record fields of a multiple of 8 bytes, >= 16");

/* The key fields (KF bits) of record r that are the previous record's (a->prev), whose fields become
 * r's. Each key field is a function of the record fields compared for it (key_view_fill), and of which
 * ones are used: those choices (verb or method, resource or path, user or none, priority level name or
 * UID) are compared too, so a field is only "same" when the previous record used the same fields. */
static uint32_t key_same_prev(struct agg *a, const struct request_record *r)
{
	struct agg_prev *p = &a->prev;
	uint32_t same = 0;
	bool v, res_mode = r->ri.is_resource_request && r->ri.resource[0], mode_same = res_mode == p->res_mode;

	if (SRC_SAME(p->ua, r->user_agent))
		same |= KF(KF_UA);
	v = SRC_SAME(p->verb, r->ri.verb); /* when both are "", the previous record's verb was its method too */
	if (!r->ri.verb[0])
		v = SRC_SAME(p->method, r->method) && v;
	if (v)
		same |= KF(KF_VERB);
	p->res_mode = res_mode;
	if (res_mode) {
		bool g = SRC_SAME(p->group, r->ri.group), rs = SRC_SAME(p->resource, r->ri.resource);
		bool sb = SRC_SAME(p->sub, r->ri.subresource);
		bool ns = (a->need & KF(KF_NAMESPACE)) && SRC_SAME(p->ns, r->ri.namespace_);

		if (mode_same)
			same |= (g && rs ? KF(KF_RESOURCE) : 0) | (sb ? KF(KF_SUBRESOURCE) : 0) | (ns ? KF(KF_NAMESPACE) : 0);
	} else if (SRC_SAME(p->path, r->path) && mode_same) {
		same |= KF(KF_RESOURCE) | KF(KF_SUBRESOURCE) | KF(KF_NAMESPACE);
	} else if (mode_same) {
		same |= KF(KF_SUBRESOURCE) | KF(KF_NAMESPACE);
	}
	/* a field no enabled grouping has is neither compared nor kept: not "same" (the groupings that
	 * have it start without a previous row when they are enabled) */
	if (!(a->need & KF(KF_CLIENT))) {
	} else if (SRC_SAME(p->client, r->client)) {
		same |= KF(KF_CLIENT);
	} else {
		/* another port of the same IP is the same client */
		const char *c;
		size_t n;

		client_view(r, &c, &n);
		if (n == p->client_len && mem_eq_short(p->client_ip, c, n))
			same |= KF(KF_CLIENT);
		memcpy(p->client_ip, c, n);
		p->client_len = (uint32_t)n;
	}
	if (!(a->need & KF(KF_USER))) {
	} else if (r->has_user) {
		if (SRC_SAME(p->user, r->user) && p->has_user)
			same |= KF(KF_USER);
	} else if (!p->has_user) {
		same |= KF(KF_USER);
	}
	p->has_user = r->has_user;
	if (a->need & KF(KF_PRIORITY_LEVEL)) {
		v = SRC_SAME(p->pl, r->apf.priority_level);
		if (!r->apf.priority_level[0])
			v = SRC_SAME(p->pl_uid, r->apf.priority_level_uid) && v;
		if (v)
			same |= KF(KF_PRIORITY_LEVEL);
	}
	return same;
}

/* Whether a row's key (a, the fields of mask: its table's) is the record's (kv): the stored string
 * ends where the record's does, then the bytes. */
static inline bool key_eq(uint32_t mask, const struct agg_key *a, const struct key_view *kv)
{
	for (; mask; mask &= mask - 1) {
		int f = __builtin_ctz(mask);
		const char *st = *key_field((struct agg_key *)a, f);
		uint32_t n = kv->len[f];

		if (st[n] || !mem_eq_short(st, kv->p[f], n))
			return false;
	}
	return true;
}

static inline char *entry_key_bytes(const struct agg_tab *tb, struct agg_entry *e)
{
	return (char *)e + tb->key_off;
}

/* Point entry e's key at its own key bytes (the fields of mask, in KF_* order, each of its capacity)
 * and at "" for the other fields. */
static void key_bind(const struct agg_tab *tb, uint32_t mask, struct agg_entry *e)
{
	char *p = entry_key_bytes(tb, e);

	for (int f = 0; f < KF__N; f++)
		if (mask & KF(f)) {
			*key_field(&e->key, f) = p;
			p += key_fields[f].cap;
		} else {
			*key_field(&e->key, f) = "";
		}
}

/* Bytes of an entry's key (the fields of mask). */
static size_t key_size(uint32_t mask)
{
	size_t n = 0;

	for (int f = 0; f < KF__N; f++)
		if (mask & KF(f))
			n += key_fields[f].cap;
	return n;
}

/* Copy the fields of mask (the table's) into entry e's key bytes: only the strings' bytes. Runs when a
 * key gets a row, not per record. */
static void key_store(const struct agg_tab *tb, uint32_t mask, struct agg_entry *e, const struct key_view *kv)
{
	if (!e->key.user_agent)
		key_bind(tb, mask, e);
	for (; mask; mask &= mask - 1) {
		int f = __builtin_ctz(mask);
		char *dst = (char *)*key_field(&e->key, f);

		memcpy(dst, kv->p[f], kv->len[f]);
		dst[kv->len[f]] = '\0';
	}
}

/* ---- rows ----------------------------------------------------------------------------------------- */

static inline struct agg_entry *hh_entry(const struct agg_tab *tb, uint32_t row)
{
	return entry_at(tb, row + 1);
}

struct eq_ctx {
	const struct agg_tab *tb;
	uint32_t mask;
	const struct key_view *kv;
};

static bool row_eq(void *ctx, uint32_t row)
{
	const struct eq_ctx *c = ctx;

	return key_eq(c->mask, &hh_entry(c->tb, row)->key, c->kv);
}

static inline bool step_in_window(const struct agg *a, uint64_t s)
{
	return s <= a->cur && s + a->p.nsteps > a->cur;
}

/* In the steps of the slots and cells (the last wsteps). */
static inline bool step_in_slots(const struct agg *a, uint64_t s)
{
	return s <= a->cur && s + a->wsteps > a->cur;
}

static inline struct agg_hist *hist_of(const struct agg_tab *tb, struct agg_entry *e)
{
	return (struct agg_hist *)((char *)e + tb->hist_off);
}

/* Add v to step s of a history (s in the window, s > last - nsteps). */
static inline void hist_add_at(uint32_t nsteps, struct agg_hist *h, uint64_t s, uint32_t s_mod, float v);

static inline void hist_add(uint32_t nsteps, struct agg_hist *h, uint64_t s, float v)
{
	hist_add_at(nsteps, h, s, (uint32_t)(s % nsteps), v);
}

/* hist_add, with s % nsteps given. */
static inline void hist_add_at(uint32_t nsteps, struct agg_hist *h, uint64_t s, uint32_t s_mod, float v)
{
	if (h->last1 < s + 1) {
		uint64_t from = h->last1; /* steps last + 1 .. s are zeroed */

		if (!h->last1 || s + 1 - h->last1 >= nsteps)
			memset(h->req, 0, nsteps * sizeof(float));
		else
			for (uint64_t z = from; z <= s; z++)
				h->req[z % nsteps] = 0;
		h->last1 = (uint32_t)(s + 1);
	}
	h->req[s_mod] += v;
}

/* Step s of a history, 0 when not held. */
static inline float hist_get(uint32_t nsteps, const struct agg_hist *h, uint64_t s)
{
	if (!h->last1 || s + 1 > h->last1 || s + nsteps < h->last1)
		return 0;
	return h->req[s % nsteps];
}

static inline struct agg_slot *slot_for(struct agg_entry *e, uint32_t nsteps, uint64_t step)
{
	struct agg_slot *sl = &e->ring[step % nsteps];

	if (sl->step1 != (uint32_t)(step + 1)) {
		memset(sl, 0, sizeof(*sl));
		sl->step1 = (uint32_t)(step + 1);
	}
	return sl;
}

/* Entry e of table t loses its key: its counts of the window, cumulative totals and in-flight
 * requests move to "(other)" (its latency cells do so by their generation), so totals are kept. */
static void fold_into_other(struct agg *a, enum agg_table t, uint32_t idx, struct agg_entry *e)
{
	const struct agg_tab *tb = &a->tab[t];
	struct agg_entry *o = entry_at(tb, 0);

	for (uint32_t i = 0; i < a->wsteps; i++) {
		const struct agg_slot *sl = &e->ring[i];
		struct agg_slot *os;

		if (!sl->step1 || !step_in_slots(a, sl->step1 - 1))
			continue;
		os = slot_for(o, a->wsteps, sl->step1 - 1);
		for (int v = 0; v < SV__N; v++)
			os->v[v] += sl->v[v];
	}
	for (int c = 0; c < AGG__NCLASS; c++)
		o->cum.req[c] += e->cum.req[c];
	o->cum.bytes_out += e->cum.bytes_out;
	o->cum.etcd_bytes += e->cum.etcd_bytes;
	o->cum.etcd_kvs += e->cum.etcd_kvs;
	o->cum.latency_sum_s += e->cum.latency_sum_s;
	for (int b = 0; b <= AGG_NLE; b++)
		o->cum.le[b] += e->cum.le[b];
	o->inflight += e->inflight;
	if (tb->hist_off) {
		struct agg_hist *h = hist_of(tb, e), *oh = hist_of(tb, o);

		if (h->last1) {
			/* the steps it holds that are still in the window: (max(last, cur) - nsteps, last] */
			uint64_t last = h->last1 - 1, top = last > a->cur ? last : a->cur;
			uint64_t s = top + 1 >= a->p.nsteps ? top + 1 - a->p.nsteps : 0;
			uint32_t i = (uint32_t)(s % a->p.nsteps);

			for (; s <= last; s++) {
				if (h->req[i] != 0)
					hist_add(a->p.nsteps, oh, s, h->req[i]);
				if (++i == a->p.nsteps)
					i = 0;
			}
		}
		memset(h, 0, sizeof(*h) + a->p.nsteps * sizeof(float));
	}
	memset(&e->cum, 0, sizeof(e->cum));
	memset(e->ring, 0, (size_t)a->wsteps * sizeof(struct agg_slot));
	e->inflight = 0;
	a->st.evicted[t]++;
	if (a->evict_fn)
		a->evict_fn(a->evict_ctx, t, idx);
}

/*
 * Entry index of key k in table t with weight w added to its heavy-hitter score. A new key takes a
 * free row or the row of the smallest score (may_evict), or, without may_evict and no free row,
 * counts in "(other)" (index 0). The total table has one entry, 1.
 */
static uint32_t lookup(struct agg *a, enum agg_table t, struct key_view *kv, double w, bool may_evict,
		       bool *evicted_out)
{
	struct agg_tab *tb = &a->tab[t];
	struct eq_ctx ec = { tb, table_fields[t], kv };
	uint64_t h;
	uint32_t row;
	bool evicted;
	struct agg_entry *e;

	if (t == AGG_TOTAL)
		return 1;
	key_view_hash(kv, table_fields[t]);
	h = key_hash(t, kv);
	row = hh_find(tb->hh, h, row_eq, &ec);
	if (row != HH_NONE) {
		if (w > 0)
			hh_hit(tb->hh, row, w);
		return row + 1;
	}
	/* a key without requests (only in flight) takes a row only from an idle key */
	if (!may_evict && hh_min_score(tb->hh) < AGG_IDLE_WEIGHT)
		may_evict = true;
	/* an in-flight-only key enters with a small weight that stays above the idle level for
	 * decay_steps * ln(10) steps: other in-flight-only keys take idle rows, not this one */
	row = hh_admit(tb->hh, h, w > 0 ? w : AGG_INFLIGHT_WEIGHT, may_evict, &evicted);
	if (row == HH_NONE)
		return 0;
	if (evicted_out)
		*evicted_out = evicted;
	e = hh_entry(tb, row);
	if (evicted)
		fold_into_other(a, t, row + 1, e);
	key_store(tb, table_fields[t], e, kv);
	e->hash = h;
	e->gen = hh_gen(tb->hh, row);
	return row + 1;
}

/* ---- lifecycle ------------------------------------------------------------------------------------ */

uint64_t agg_step_of(const struct agg *a, uint64_t ns)
{
	return ns / a->p.step_ns;
}

uint64_t agg_current_step(const struct agg *a)
{
	return a->cur;
}

const struct agg_params *agg_get_params(const struct agg *a)
{
	return &a->p;
}

const struct agg_stats *agg_get_stats(const struct agg *a)
{
	return &a->st;
}

void agg_set_evict_hook(struct agg *a, agg_evict_fn fn, void *ctx)
{
	a->evict_fn = fn;
	a->evict_ctx = ctx;
}

static int tab_init(struct agg_tab *tb, enum agg_table t, const struct agg_params *p, uint64_t step)
{
	struct agg_entry *o;

	size_t off = sizeof(struct agg_entry) + (size_t)(p->nsteps - p->cause_steps) * sizeof(struct agg_slot);

	tb->cap = t == AGG_TOTAL ? 2 : p->max_keys + 1;
	tb->hist_off = 0;
	if (AGG_HIST_TABLES >> t & 1) {
		tb->hist_off = (uint32_t)off;
		off += sizeof(struct agg_hist) + (size_t)p->nsteps * sizeof(float);
	}
	tb->key_off = (uint32_t)off;
	tb->stride = (tb->key_off + key_size(table_fields[t]) + 7) & ~(size_t)7;
	tb->entries = calloc(tb->cap, tb->stride);
	if (!tb->entries)
		return -1;
	if (t != AGG_TOTAL) {
		tb->hh = hh_new(p->max_keys, p->decay_steps, step);
		if (!tb->hh)
			return -1;
	}
	/* index 0: "(other)" */
	o = entry_at(tb, 0);
	o->other = true;
	o->key = (struct agg_key){ "(other)", "(other)", "(other)", "", "(other)", "", "(other)", "" };
	if (t == AGG_TOTAL)
		key_bind(tb, 0, entry_at(tb, 1));
	return 0;
}

static void tab_free(struct agg_tab *tb)
{
	free(tb->entries);
	hh_free(tb->hh);
}

void agg_free(struct agg *a)
{
	if (!a)
		return;
	for (int t = 0; t < AGG__NTABLES; t++)
		tab_free(&a->tab[t]);
	free(a->q.hist);
	free(a->q.row_of);
	free(a->q.touched);
	free(a->q.lo); /* and hi */
	free(a->q.rows);
	if (a->cells) {
		for (uint32_t i = 0; i < a->wsteps; i++) {
			free(a->cells[i].key);
			free(a->cells[i].w);
			free(a->cells[i].pos);
			free(a->cells[i].total.w);
		}
		free(a->cells);
	}
	if (a->has_det)
		online_free(&a->det);
	free(a);
}

struct agg *agg_new(const struct agg_params *p, uint64_t start_ns)
{
	struct agg *a;
	uint32_t ncells;

	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	lh_init();
	if (p)
		a->p = *p;
	else
		agg_params_default(&a->p);
	if (!a->p.step_ns || a->p.nsteps < 1 || a->p.nsteps > 100000 || a->p.max_keys < 1 ||
	    a->p.max_keys > (1u << 20) || a->p.cells_per_step < 1 || a->p.cells_per_step > (1u << 24) ||
	    a->p.decay_steps < 1 || a->p.decay_steps > 1000000 || a->p.cause_steps >= a->p.nsteps)
		goto fail;
	a->wsteps = a->p.nsteps - a->p.cause_steps;
	for (unsigned b = 0; b < LH_NBUCKETS; b++)
		a->le_of[b] = (uint8_t)le_index_ns(b ? lh_ns_thr_[b] : 0);
	for (uint32_t m = 0; m < 1u << KF__N; m++)
		for (int t = 0; t < AGG_TOTAL; t++)
			if (!(table_fields[t] & ~m))
				a->tables_of[m] |= (uint16_t)(1u << t);
	a->start_ns = start_ns;
	a->tables = (a->p.tables & AGG_ALL_TABLES) | AGG_TABLE_BIT(AGG_TOTAL);
	for (int t = 0; t < AGG__NTABLES; t++)
		if (a->tables >> t & 1)
			a->need |= table_fields[t];
	a->start_step = a->cur = agg_step_of(a, start_ns);
	for (int t = 0; t < AGG__NTABLES; t++) {
		if (tab_init(&a->tab[t], (enum agg_table)t, &a->p, a->cur))
			goto fail;
		a->tab[t].start_ns = start_ns;
	}
	a->start_max = start_ns;
	a->q.hist = calloc((size_t)(a->p.max_keys + 1) * LH_NBUCKETS, sizeof(uint64_t));
	a->q.row_of = calloc(a->p.max_keys + 1, sizeof(uint32_t));
	a->q.touched = calloc(a->p.max_keys + 1, sizeof(uint32_t));
	a->q.lo = calloc(2 * ((size_t)a->p.max_keys + 1), sizeof(uint16_t));
	a->q.hi = a->q.lo ? a->q.lo + a->p.max_keys + 1 : NULL;
	a->q.rows = calloc(a->p.max_keys + 1, sizeof(struct agg_row));
	if (!a->q.hist || !a->q.row_of || !a->q.touched || !a->q.lo || !a->q.rows)
		goto fail;
	ncells = pow2_at_least(((uint64_t)a->p.cells_per_step * 4 + 2) / 3); /* load <= 3/4 */
	a->cells_mask = ncells - 1;
	a->cells = calloc(a->wsteps, sizeof(*a->cells));
	if (!a->cells)
		goto fail;
	for (uint32_t i = 0; i < a->wsteps; i++) {
		a->cells[i].key = calloc(ncells, sizeof(uint64_t));
		a->cells[i].w = calloc(ncells, sizeof(uint32_t));
		a->cells[i].pos = calloc(a->p.cells_per_step, sizeof(uint32_t));
		a->cells[i].total.w = calloc(LH_NBUCKETS, sizeof(uint32_t));
		a->cells[i].total.lo = LH_NBUCKETS;
		if (!a->cells[i].key || !a->cells[i].w || !a->cells[i].pos || !a->cells[i].total.w)
			goto fail;
	}
	if (a->p.detector_window) {
		struct dc_params dp;

		dc_params_default(&dp);
		dp.counts = true; /* request counts: the Poisson floor of the noise scale */
		dp.threshold = a->p.detector_threshold;
		dp.season = a->p.detector_season;
		if (online_init(&a->det, a->p.detector_window, &dp))
			goto fail;
		a->has_det = true;
		a->event_step = UINT64_MAX;
	}
	/* a step only partly observed is not fed to the detector */
	a->fed_step = a->start_step + (start_ns % a->p.step_ns ? 1 : 0);
	return a;
fail:
	agg_free(a);
	return NULL;
}

/* ---- steps ---------------------------------------------------------------------------------------- */

/* The cells of step `step` (ring_i: step % wsteps), emptied when they held an older step. */
static struct agg_cells *cells_for(struct agg *a, uint64_t step, uint32_t ring_i)
{
	struct agg_cells *c = &a->cells[ring_i];

	if (c->step1 != step + 1) {
		for (uint32_t i = 0; i < c->npos; i++)
			c->key[c->pos[i]] = 0;
		lh_cells_clear(&c->total);
		c->used = c->npos = 0;
		c->step1 = step + 1;
	}
	return c;
}

static void set_cur(struct agg *a, uint64_t s)
{
	if (s <= a->cur)
		return;
	a->cur = s;
	for (int t = 0; t < AGG_TOTAL; t++)
		hh_set_step(a->tab[t].hh, s);
}

void agg_advance(struct agg *a, uint64_t now_ns)
{
	set_cur(a, agg_step_of(a, now_ns));
}

/* Home slot of a cell: a row's latency buckets in runs of 8 share a base, so the cells one row uses in a
 * step (its latencies cluster) sit in a few cache lines, not one line per bucket. The base is the row's
 * hashed part (row_home: once per row, kept with the previous record's row) xor the run's (run_home:
 * once per record), and the bucket's low 3 bits pick the slot in the run. Where a cell sits changes no
 * result (queries visit the cells in the order they were added), only how far a probe goes. */
static inline uint32_t row_home(uint64_t cbase)
{
	return (uint32_t)((cbase * 0x9e3779b97f4a7c15ULL) >> 32) & ~7u;
}

static inline uint32_t run_home(unsigned bucket)
{
	return ((uint32_t)(((uint64_t)(bucket >> 3) + 1) * 0xc2b2ae3d27d4eb4fULL >> 32) & ~7u) | (bucket & 7);
}

static inline __attribute__((always_inline)) void cell_add(struct agg *a, struct agg_cells *c, uint64_t key, uint32_t home,
							  uint32_t w)
{
	uint32_t i = home;

	for (;;) {
		if (c->key[i] == key) {
			c->w[i] = c->w[i] + w < c->w[i] ? UINT32_MAX : c->w[i] + w;
			return;
		}
		if (!c->key[i])
			break;
		i = (i + 1) & a->cells_mask;
	}
	if (c->used >= a->p.cells_per_step) {
		a->st.cell_overflow++;
		return;
	}
	c->used++;
	c->key[i] = key;
	c->w[i] = w;
	c->pos[c->npos++] = i;
}

/* Generation of entry idx of table t (0 for "(other)" and the total). */
static inline uint32_t entry_gen(const struct agg *a, int t, uint32_t idx)
{
	return t == AGG_TOTAL || !idx ? 0 : hh_gen(a->tab[t].hh, idx - 1);
}

void agg_add(struct agg *a, const struct request_record *r)
{
	agg_add_rows(a, r, NULL);
}

/* A record as agg_add_rows counts it in each table: its increments, converted once. */
struct add_rec {
	const struct request_record *r;
	struct key_view kv; /* built only when a table needs a lookup (have_kv) */
	bool have_kv, in_window, in_slots;
	enum agg_class cls;
	unsigned le, bucket;
	uint32_t same_tab, ring_i, hist_i, step1, wunits;
	double w;
	agg_v2d cum_b, cum_k; /* cum.bytes_out, etcd_bytes += cum_b; cum.etcd_kvs, latency_sum_s += cum_k */
	float fw;
	/* the slot increments: v[SV_REQ .. SV_5XX] += inc_lo (+ 0 leaves a sum as it is: the sums are never
	 * -0), v[SV_BYTES], v[SV_EBYTES] += inc_bytes, v[SV_EKVS] += fekvs */
	agg_v4f inc_lo;
	agg_v2f inc_bytes;
	float fekvs;
	uint64_t step, kbucket; /* the bucket's bits of a cell key */
	uint32_t rhome;         /* run_home(bucket): the bucket's part of its cells' home slots */
	struct agg_cells *cells;
	uint32_t *rows;
};

/* Count record c in table t (a constant where it is inlined: one copy per table). */
static inline __attribute__((always_inline)) void add_to_table(struct agg *a, struct add_rec *c, const int t)
{
	struct agg_tab *tb = &a->tab[t];
	uint32_t idx;
	uint64_t cbase; /* the cell key of the record's latency without its bucket */
	uint32_t chome; /* row_home(cbase) */
	struct agg_entry *e;

	if (t == AGG_TOTAL) {
		idx = 1;
		e = entry_at(tb, idx);
		cbase = cell_key((uint32_t)t, idx, 0, 0);
		chome = row_home(cbase);
	} else if ((c->same_tab >> t & 1) && (e = a->prev.entry[t])->gen == a->prev.gen[t]) {
		/* the previous record's key of this table, still in its row: lookup's hit without the probe */
		idx = a->prev.row[t];
		hh_hit(tb->hh, idx - 1, c->w);
		cbase = a->prev.cbase[t];
		chome = a->prev.chome[t];
	} else {
		bool evicted = false;

		if (!c->have_kv) {
			key_view_fill(c->r, &c->kv);
			c->have_kv = true;
		}
		idx = lookup(a, (enum agg_table)t, &c->kv, c->w, true, &evicted);
		e = entry_at(tb, idx);
		a->prev.row[t] = idx;
		a->prev.entry[t] = e;
		a->prev.gen[t] = e->gen;
		a->prev.cbase[t] = cell_key((uint32_t)t, idx, e->gen, 0);
		a->prev.chome[t] = row_home(a->prev.cbase[t]);
		if (idx) /* always: may_evict finds a row */
			a->prev.valid |= 1u << t;
		/* A key that just took a row by eviction is most likely one of a long tail (a cardinality
		 * burst): its first latency goes to the "(other)" cells, so that the tail does not
		 * fill the step's cells with rows that are gone a moment later. */
		cbase = evicted ? cell_key((uint32_t)t, 0, 0, 0) : a->prev.cbase[t];
		chome = row_home(cbase);
	}

	c->rows[t] = idx;
	e->cum.req[c->cls] += c->w;
	_Static_assert(offsetof(struct agg_cum, etcd_bytes) == offsetof(struct agg_cum, bytes_out) + 8 &&
			       offsetof(struct agg_cum, latency_sum_s) == offsetof(struct agg_cum, etcd_kvs) + 8,
		       "agg_cum: pairs of totals added as one vector");
	cum_add2(&e->cum.bytes_out, c->cum_b);
	cum_add2(&e->cum.etcd_kvs, c->cum_k);
	e->cum.le[c->le] += c->w;
	if ((AGG_HIST_TABLES >> t & 1) && c->in_window)
		hist_add_at(a->p.nsteps, hist_of(tb, e), c->step, c->hist_i, c->fw);
	if (c->in_slots) {
		struct agg_slot *sl = &e->ring[c->ring_i];

		if (sl->step1 != c->step1)
			*sl = (struct agg_slot){ .step1 = c->step1 };
		slot_add4(&sl->v[SV_REQ], c->inc_lo);
		slot_add2(&sl->v[SV_BYTES], c->inc_bytes);
		sl->v[SV_EKVS] += c->fekvs;
		if (t == AGG_TOTAL) {
			if (!lh_cells_add(&c->cells->total, c->bucket, c->wunits, &c->cells->used, a->p.cells_per_step))
				a->st.cell_overflow++;
		} else {
			cell_add(a, c->cells, cbase | c->kbucket, (chome ^ c->rhome) & a->cells_mask, c->wunits);
		}
	}
}

bool agg_add_rows(struct agg *a, const struct request_record *r, uint32_t *rows)
{
	struct add_rec c;
	uint32_t no_rows[AGG__NTABLES], count;
	double wu, bytes, ebytes, ekvs;
	uint64_t end_ns = r->start_ns + r->latency_ns;

	if (r->ongoing) {
		a->st.ongoing++;
		return false;
	}
	c.r = r;
	c.have_kv = false;
	c.rows = rows ? rows : no_rows;
	if (r->sample_factor == 1.0) { /* unsampled (the usual case): the weight's conversions are known */
		c.w = 1.0;
		c.wunits = (uint32_t)WEIGHT_SCALE;
	} else {
		c.w = r->sample_factor > 0 && isfinite(r->sample_factor) ? r->sample_factor : 1.0;
		wu = c.w == 1.0 ? WEIGHT_SCALE : nearbyint(c.w * WEIGHT_SCALE);
		c.wunits = wu < 1 ? 1 : wu > UINT32_MAX ? UINT32_MAX : (uint32_t)wu;
	}
	bytes = r->bytes_out > 0 ? (double)r->bytes_out * c.w : 0;
	ebytes = r->has_etcd_cost ? (double)r->etcd_resp_bytes * c.w : 0;
	ekvs = r->has_etcd_cost ? (double)r->etcd_kvs * c.w : 0;
	c.cum_b = (agg_v2d){ bytes, ebytes };
	c.cum_k = (agg_v2d){ ekvs, c.w * (double)r->latency_ns / 1e9 };
	c.cls = (uint32_t)(r->status - 200) < 100 ? AGG_C_2XX : agg_status_class(r->status);
	c.bucket = lh_bucket_ns_built(r->latency_ns); /* agg_new built its tables */
	/* the cumulative bucket: the one of the latency bucket's smallest value, or the next one (a latency
	 * bucket spans a factor < 1.08, the bounds at least 1.2 apart: one bound at most falls in it) */
	c.le = a->le_of[c.bucket];
	c.le += r->latency_ns > le_ns[c.le];
	c.fw = (float)c.w;
	c.inc_lo = (agg_v4f)((agg_v4i)(agg_v4f){ c.fw, c.fw, c.fw, c.fw } & class_lanes[c.cls]);
	c.inc_bytes = (agg_v2f){ (float)bytes, (float)ebytes };
	c.fekvs = (float)ekvs;
	c.kbucket = (uint64_t)c.bucket << 1;
	c.rhome = run_home(c.bucket);
	if (end_ns - a->memo_lo >= a->memo_hi - a->memo_lo) {
		uint64_t step = agg_step_of(a, end_ns);

		a->memo_step = step;
		a->memo_lo = step * a->p.step_ns;
		a->memo_hi = a->memo_lo + a->p.step_ns; /* the test above holds modulo 2^64 */
		a->memo_ring_i = (uint32_t)(step % a->wsteps);
		a->memo_hist_i = (uint32_t)(step % a->p.nsteps);
	}
	c.step = a->memo_step;
	c.ring_i = a->memo_ring_i;
	c.hist_i = a->memo_hist_i;
	c.step1 = (uint32_t)(c.step + 1);
	a->st.records++;
	set_cur(a, c.step);
	c.in_window = step_in_window(a, c.step);
	c.in_slots = step_in_slots(a, c.step);
	c.cells = c.in_slots ? cells_for(a, c.step, c.ring_i) : NULL;
	if (!c.in_window)
		a->st.late++;
	/* the groupings that count it: the enabled ones, but those enabled after it ended */
	count = a->tables;
	if (end_ns < a->start_max)
		for (int t = 0; t < AGG__NTABLES; t++)
			if (end_ns < a->tab[t].start_ns)
				count &= ~AGG_TABLE_BIT(t);
	memset(c.rows, 0xff, AGG__NTABLES * sizeof(*c.rows)); /* UINT32_MAX: not counted */
	/* prev.row[t] of a table that does not count this record is not its row: the next one may not use it */
	a->prev.valid &= count;
	/* the tables whose key is the previous record's */
	c.same_tab = a->prev.valid & a->tables_of[key_same_prev(a, r)];
	/* total first: it keeps its histogram cells even when a step's cell table runs full */
	_Static_assert(AGG__NTABLES == 9, "agg_add_rows: one add_to_table per table");
#define ADD_TO(t) do { if (count & AGG_TABLE_BIT(t)) add_to_table(a, &c, t); } while (0)
	ADD_TO(AGG_TOTAL);
	/* the groupings top does not count by default: one test for those in a row */
	if (count & (AGG_TABLE_BIT(AGG_BY_PRIORITY_LEVEL) | AGG_TABLE_BIT(AGG_BY_USER) | AGG_TABLE_BIT(AGG_BY_NAMESPACE) |
		     AGG_TABLE_BIT(AGG_BY_RESOURCE))) {
		ADD_TO(AGG_BY_PRIORITY_LEVEL);
		ADD_TO(AGG_BY_USER);
		ADD_TO(AGG_BY_NAMESPACE);
		ADD_TO(AGG_BY_RESOURCE);
	}
	ADD_TO(AGG_BY_VERB_RESOURCE);
	if (count & (AGG_TABLE_BIT(AGG_BY_CLIENT) | AGG_TABLE_BIT(AGG_BY_AGENT))) {
		ADD_TO(AGG_BY_CLIENT);
		ADD_TO(AGG_BY_AGENT);
	}
	ADD_TO(AGG_BY_KEY);
#undef ADD_TO
	return true;
}

void agg_enable_tables(struct agg *a, uint32_t mask, uint64_t now_ns)
{
	uint32_t add = mask & AGG_ALL_TABLES & ~a->tables;

	for (; add; add &= add - 1) {
		int t = __builtin_ctz(add);

		a->tab[t].start_ns = now_ns > a->start_ns ? now_ns : a->start_ns;
		if (a->tab[t].start_ns > a->start_max)
			a->start_max = a->tab[t].start_ns;
		a->tables |= AGG_TABLE_BIT(t);
		a->need |= table_fields[t];
		a->prev.valid &= ~AGG_TABLE_BIT(t); /* (never set: it counted nothing) */
	}
}

bool agg_table_enabled(const struct agg *a, enum agg_table t)
{
	return (unsigned)t < AGG__NTABLES && (a->tables >> t & 1);
}

void agg_inflight_clear(struct agg *a)
{
	for (int t = 0; t < AGG__NTABLES; t++) {
		struct agg_tab *tb = &a->tab[t];
		uint32_t n = t == AGG_TOTAL ? 2 : hh_size(tb->hh) + 1;

		for (uint32_t i = 0; i < n; i++)
			entry_at(tb, i)->inflight = 0;
	}
}

void agg_inflight(struct agg *a, const struct request_record *r, int delta)
{
	struct key_view kv;

	key_view_fill(r, &kv);
	for (int t = 0; t < AGG__NTABLES; t++) {
		if (!(a->tables >> t & 1))
			continue;
		/* a row only for in-flight requests never evicts a counted key: a free row or "(other)" */
		struct agg_entry *e = entry_at(&a->tab[t], lookup(a, (enum agg_table)t, &kv, 0, false, NULL));

		e->inflight += delta;
		if (e->inflight < 0)
			e->inflight = 0;
	}
}

double agg_step_requests(const struct agg *a, uint64_t step)
{
	const struct agg_tab *tb = &a->tab[AGG_TOTAL];

	if (!step_in_window(a, step))
		return 0;
	return hist_get(a->p.nsteps, hist_of(tb, entry_at(tb, 1)), step);
}

int agg_update_anomaly(struct agg *a, struct online_result *out, uint64_t *out_step)
{
	int fed = 0;
	double step_s = (double)a->p.step_ns / 1e9;

	if (a->has_det) {
		if (a->cur > a->fed_step + a->p.detector_window)
			a->fed_step = a->cur - a->p.detector_window;
		for (; a->fed_step < a->cur; a->fed_step++) {
			double v = step_in_window(a, a->fed_step) ? agg_step_requests(a, a->fed_step) / step_s : NAN;

			if (online_feed(&a->det, v, &a->last_res))
				break;
			a->last_res_step = a->fed_step;
			/* the detector counts the values it was fed; steps map to them one to one from here back
			 * to the event's start (a skip of unfed steps happens only outside an event's life) */
			a->event_step = a->last_res.event ? a->fed_step - (a->det.fed - 1 - a->last_res.event_start) : UINT64_MAX;
			fed++;
		}
	}
	if (out)
		*out = a->last_res;
	if (out_step)
		*out_step = a->last_res_step;
	return fed;
}

/* ---- queries -------------------------------------------------------------------------------------- */

static double sort_value(const struct agg_row *r, enum agg_sort s)
{
	switch (s) {
	case AGG_SORT_ERRORS: return r->e4xx + r->e429 + r->e5xx;
	case AGG_SORT_P99: return isnan(r->p99_ns) ? -1 : r->p99_ns;
	case AGG_SORT_BYTES: return r->bytes;
	case AGG_SORT_ETCD_BYTES: return r->etcd_bytes;
	case AGG_SORT_ETCD_KEYS: return r->etcd_kvs;
	default: return r->req;
	}
}

static int key_cmp(const struct agg_key *a, const struct agg_key *b)
{
	int c;

	if ((c = strcmp(a->user_agent, b->user_agent)))
		return c;
	if ((c = strcmp(a->verb, b->verb)))
		return c;
	if ((c = strcmp(a->resource, b->resource)))
		return c;
	if ((c = strcmp(a->subresource, b->subresource)))
		return c;
	if ((c = strcmp(a->user, b->user)))
		return c;
	return strcmp(a->client, b->client);
}

static int row_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct agg_row *a = pa, *b = pb;
	enum agg_sort s = *(const enum agg_sort *)ctx;
	double va = sort_value(a, s), vb = sort_value(b, s);

	if (va != vb)
		return va > vb ? -1 : 1;
	if (a->req != b->req)
		return a->req > b->req ? -1 : 1;
	return key_cmp(a->key, b->key);
}

/* Entries of table t in use: "(other)" and the rows, or the total. */
static uint32_t tab_used(const struct agg *a, enum agg_table t)
{
	return t == AGG_TOTAL ? 2 : hh_size(a->tab[t].hh) + 1;
}

size_t agg_query(struct agg *a, enum agg_table t, uint32_t k, enum agg_sort sort, struct agg_row *rows,
		 size_t max_rows, double *span_s)
{
	struct agg_tab *tb = &a->tab[t];
	struct agg_scratch *q = &a->q;
	uint64_t first, span_start, span_end;
	uint32_t ntouched = 0, n = tab_used(a, t);
	size_t nrows = 0;
	double span;

	if (k < 1)
		k = 1;
	if (k > a->wsteps)
		k = a->wsteps;
	first = a->cur >= k ? a->cur - k : 0;
	span_start = first * a->p.step_ns;
	span_end = a->cur * a->p.step_ns;
	if (span_start < tb->start_ns) /* the aggregation's start, or the grouping's */
		span_start = tb->start_ns;
	span = span_end > span_start ? (double)(span_end - span_start) / 1e9 : 0;
	if (span_s)
		*span_s = span;

	/* latency cells of the span -> per-row dense histograms; cells of a row's earlier key -> "(other)" */
	for (uint64_t s = first; s < a->cur; s++) {
		struct agg_cells *c = &a->cells[s % a->wsteps];

		if (c->step1 != s + 1)
			continue;
		if (t == AGG_TOTAL) { /* its cells: the dense array */
			if (c->total.lo > c->total.hi)
				continue;
			if (!q->row_of[1]) {
				q->touched[ntouched] = 1;
				q->lo[ntouched] = LH_NBUCKETS - 1;
				q->hi[ntouched] = 0;
				q->row_of[1] = ++ntouched;
			}
			lh_cells_merge(&c->total, &q->hist[(size_t)(q->row_of[1] - 1) * LH_NBUCKETS], &q->lo[q->row_of[1] - 1],
				       &q->hi[q->row_of[1] - 1]);
			continue;
		}
		for (uint32_t j = 0; j < c->npos; j++) {
			uint32_t i = c->pos[j];
			uint64_t key = c->key[i];
			uint32_t idx, row;
			unsigned bucket;

			if ((uint32_t)(key >> (1 + CK_BUCKET_BITS + CK_ENTRY_BITS) & ((1u << CK_TABLE_BITS) - 1)) != (uint32_t)t)
				continue;
			bucket = (unsigned)(key >> 1 & ((1u << CK_BUCKET_BITS) - 1));
			idx = (uint32_t)(key >> (1 + CK_BUCKET_BITS) & ((1u << CK_ENTRY_BITS) - 1));
			if (idx >= n || (uint32_t)(key >> CK_GEN_SHIFT) != (entry_gen(a, t, idx) & CK_GEN_MASK))
				idx = 0;
			if (!q->row_of[idx]) {
				q->touched[ntouched] = idx;
				q->lo[ntouched] = q->hi[ntouched] = (uint16_t)bucket;
				q->row_of[idx] = ++ntouched;
			}
			row = q->row_of[idx] - 1;
			q->hist[(size_t)row * LH_NBUCKETS + bucket] += c->w[i];
			if (bucket < q->lo[row])
				q->lo[row] = (uint16_t)bucket;
			if (bucket > q->hi[row])
				q->hi[row] = (uint16_t)bucket;
		}
	}

	for (uint32_t i = 0; i < n; i++) {
		struct agg_entry *e = entry_at(tb, i);
		struct agg_row *r = &q->rows[nrows];

		if (t == AGG_TOTAL && i == 0)
			continue;
		memset(r, 0, sizeof(*r));
		for (uint64_t s = first; s < a->cur; s++) {
			const struct agg_slot *sl = &e->ring[s % a->wsteps];

			if (sl->step1 != (uint32_t)(s + 1))
				continue;
			r->req += sl->v[SV_REQ];
			r->e4xx += sl->v[SV_4XX];
			r->e429 += sl->v[SV_429];
			r->e5xx += sl->v[SV_5XX];
			r->bytes += sl->v[SV_BYTES];
			r->etcd_bytes += sl->v[SV_EBYTES];
			r->etcd_kvs += sl->v[SV_EKVS];
		}
		r->inflight = e->inflight;
		if (r->req <= 0 && r->inflight <= 0 && !(t == AGG_TOTAL))
			continue;
		r->key = &e->key;
		r->other = e->other;
		r->index = i;
		if (t != AGG_TOTAL && i > 0) {
			r->req_err = hh_err(tb->hh, i - 1, first);
			r->since_step = hh_born(tb->hh, i - 1);
		}
		r->rate = span > 0 ? r->req / span : 0;
		r->rate_err = span > 0 ? r->req_err / span : 0;
		r->bytes_rate = span > 0 ? r->bytes / span : 0;
		r->etcd_bytes_rate = span > 0 ? r->etcd_bytes / span : 0;
		r->etcd_kvs_rate = span > 0 ? r->etcd_kvs / span : 0;
		r->err_pct = r->req > 0 ? (r->e4xx + r->e429 + r->e5xx) / r->req * 100 : 0;
		r->p50_ns = r->p90_ns = r->p99_ns = NAN;
		if (q->row_of[i]) {
			uint32_t hr = q->row_of[i] - 1;
			static const double qs[3] = { 0.50, 0.90, 0.99 };
			double v[3];

			lh_quantiles_in(&q->hist[(size_t)hr * LH_NBUCKETS], q->lo[hr], q->hi[hr], qs, v, 3);
			r->p50_ns = v[0];
			r->p90_ns = v[1];
			r->p99_ns = v[2];
		}
		nrows++;
	}
	/* reset the scratch rows we touched */
	for (uint32_t i = 0; i < ntouched; i++) {
		memset(&q->hist[(size_t)i * LH_NBUCKETS + q->lo[i]], 0, (q->hi[i] - q->lo[i] + 1u) * sizeof(uint64_t));
		q->row_of[q->touched[i]] = 0;
	}
	qsort_r(q->rows, nrows, sizeof(*q->rows), row_cmp, &sort);
	if (rows)
		memcpy(rows, q->rows, (nrows < max_rows ? nrows : max_rows) * sizeof(*rows));
	return nrows;
}

double agg_untracked_bound(const struct agg *a, enum agg_table t, uint32_t k)
{
	uint64_t first;

	if (t >= AGG_TOTAL)
		return 0;
	if (k < 1)
		k = 1;
	if (k > a->wsteps)
		k = a->wsteps;
	first = a->cur >= k ? a->cur - k : 0;
	return hh_threshold(a->tab[t].hh, first);
}

size_t agg_table_size(const struct agg *a, enum agg_table t)
{
	return t == AGG_TOTAL ? 1 : tab_used(a, t);
}

const struct agg_key *agg_table_entry(const struct agg *a, enum agg_table t, size_t i, const struct agg_cum **cum,
				      int64_t *inflight, bool *other)
{
	const struct agg_tab *tb = &a->tab[t];
	const struct agg_entry *e;

	if (t == AGG_TOTAL)
		i = 1;
	if (i >= tab_used(a, t))
		return NULL;
	e = entry_at(tb, (uint32_t)i);
	if (cum)
		*cum = &e->cum;
	if (inflight)
		*inflight = e->inflight;
	if (other)
		*other = e->other;
	return &e->key;
}

uint64_t agg_oldest_step(const struct agg *a)
{
	uint64_t o = a->cur + 1 > a->p.nsteps ? a->cur + 1 - a->p.nsteps : 0, s0 = agg_step_of(a, a->start_ns);

	return o > s0 ? o : s0;
}

double agg_entry_requests(const struct agg *a, enum agg_table t, size_t i, uint64_t first, uint64_t end)
{
	const struct agg_tab *tb = &a->tab[t];
	double sum = 0;

	if (i >= tab_used(a, t))
		return 0;
	if (first < agg_oldest_step(a))
		first = agg_oldest_step(a);
	for (uint64_t s = first; s < end && s <= a->cur; s++) {
		struct agg_entry *e = entry_at(tb, (uint32_t)i);

		if (tb->hist_off) {
			sum += hist_get(a->p.nsteps, hist_of(tb, e), s);
		} else {
			const struct agg_slot *sl = &e->ring[s % a->wsteps];

			if (sl->step1 == (uint32_t)(s + 1))
				sum += sl->v[SV_REQ];
		}
	}
	return sum;
}

uint64_t agg_anomaly_event_step(const struct agg *a)
{
	return a->has_det ? a->event_step : UINT64_MAX;
}
