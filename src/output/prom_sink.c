// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/prom_sink.h"

#include <stdlib.h>
#include <string.h>

#include "aggregate/conn_agg.h"
#include "aggregate/hh.h"
#include "analysis/strmap.h"
#include "assemble/kp_contract.h"
#include "output/prometheus.h"

/* kube-apiserver 1.20's apiserver_request_duration_seconds buckets (docs/metrics.md). */
static const double req_buckets[] = { 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8,
				      0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9,
				      10, 15, 20, 25, 30, 40, 50, 60 };
/* etcd round trips: 0.5 ms (a local range) .. 10 s (a stuck commit); docs/metrics.md. */
static const double etcd_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				       0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
/* key-values one Range returned: a GET (1) .. a LIST of every object of a big resource */
static const double range_keys_buckets[] = { 0, 1, 10, 100, 500, 1000, 5000, 10000, 50000, 100000 };
#define NBUCKETS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* grpc-go's codes.Code names (google.golang.org/grpc/codes), index = code. */
static const char *const grpc_code_names[] = {
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
	"PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
};

const char *prom_grpc_code_name(int32_t code)
{
	if (code == -1)
		return "";
	if (code < 0 || code >= (int32_t)NBUCKETS(grpc_code_names))
		return NULL;
	return grpc_code_names[code];
}

#define OTHER "other"
#define CLIENT_NLAB 4 /* kapimon_requests_by_client_total: user_agent, verb, resource, user */

/*
 * A label set: the values NUL-separated ("get\0\0pods\0\0200"), nlab of them. Record fields are bounded
 * (record.h), so the largest set (requests: verb, group, resource, a non-resource path, code) fits.
 */
#define PKEY_LEN 832
struct pkey {
	uint64_t hash;
	uint16_t len;
	char s[PKEY_LEN];
};

static void key_pack(struct pkey *k, const char *const *vals, uint32_t n)
{
	size_t off = 0;

	/* a value that does not fit is cut, keeping room for every value's NUL (the set stays n values) */
	for (uint32_t i = 0; i < n; i++) {
		for (const char *v = vals[i]; *v && off + (n - i) < sizeof(k->s); v++)
			k->s[off++] = *v;
		k->s[off++] = 0;
	}
	k->len = (uint16_t)off;
	k->hash = strmap_hash(k->s, off);
}

static bool key_eq(const struct pkey *a, const struct pkey *b)
{
	return a->hash == b->hash && a->len == b->len && !memcmp(a->s, b->s, a->len);
}

/* The next label value of a packed key (advance *p past it). */
static const char *key_next(const char **p)
{
	const char *v = *p;

	*p += strlen(v) + 1;
	return v;
}

/* A family's table: cap rows with their own label set, and one overflow row (every label "other"). */
struct ptab {
	const char *family;
	uint32_t cap, n, nslots;
	uint32_t nb;            /* histogram buckets (finite), 0 for a counter */
	const double *le;
	uint32_t *slots;        /* row + 1, 0 empty */
	struct pkey *keys;
	double *val;            /* cap + 1: weighted count; [cap] is the overflow row */
	double *sum;            /* cap + 1 (histograms) */
	double *bkt;            /* (cap + 1) * (nb + 1): per-bucket weight, [nb] above the last bound */
	uint64_t overflowed;    /* records added to the overflow row because the table was full */
	bool other_used;        /* the overflow row has weight (also: records whose labels are all "other") */
	struct pkey other;      /* the overflow row's label set */
};

static int ptab_init(struct ptab *t, const char *family, uint32_t nlab, uint32_t cap, const double *le,
		     uint32_t nb)
{
	const char *const others[] = { OTHER, OTHER, OTHER, OTHER, OTHER };

	memset(t, 0, sizeof(*t));
	key_pack(&t->other, others, nlab);
	t->family = family;
	t->cap = cap;
	t->le = le;
	t->nb = nb;
	t->nslots = 2;
	while (t->nslots < 2 * (uint64_t)cap)
		t->nslots <<= 1;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	t->keys = calloc(cap ? cap : 1, sizeof(*t->keys));
	t->val = calloc(cap + 1, sizeof(*t->val));
	if (le) {
		t->sum = calloc(cap + 1, sizeof(*t->sum));
		t->bkt = calloc((size_t)(cap + 1) * (nb + 1), sizeof(*t->bkt));
	}
	return t->slots && t->keys && t->val && (!le || (t->sum && t->bkt)) ? 0 : -1;
}

static void ptab_free(struct ptab *t)
{
	free(t->slots);
	free(t->keys);
	free(t->val);
	free(t->sum);
	free(t->bkt);
}

/* Row of key k, added when absent and there is room; t->cap (the overflow row) otherwise. */
static uint32_t ptab_row(struct ptab *t, const struct pkey *k, bool *added)
{
	uint32_t mask = t->nslots - 1, i = (uint32_t)k->hash & mask;

	*added = false;
	for (;; i = (i + 1) & mask) {
		uint32_t r = t->slots[i];

		if (!r)
			break;
		if (key_eq(&t->keys[r - 1], k))
			return r - 1;
	}
	if (t->n >= t->cap)
		return t->cap;
	t->keys[t->n] = *k;
	t->slots[i] = ++t->n;
	*added = true;
	return t->n - 1;
}

static void ptab_add(struct ptab *t, const struct pkey *k, double w, double seconds)
{
	bool added;
	/* a record whose labels are all "other" shares the overflow row: the same label set is one series */
	uint32_t row = key_eq(k, &t->other) ? t->cap : ptab_row(t, k, &added);

	if (row == t->cap) {
		t->overflowed += !key_eq(k, &t->other);
		t->other_used = true;
	}
	t->val[row] += w;
	if (t->le) {
		uint32_t b = 0;

		while (b < t->nb && !(seconds <= t->le[b]))
			b++;
		t->bkt[(size_t)row * (t->nb + 1) + b] += w;
		t->sum[row] += w * seconds;
	}
}

struct prom_sink {
	struct ptab req, dur, client_other, etcd, etcd_dur, etcd_bytes, etcd_keys;
	struct ptab apf;           /* kapimon_requests_by_priority_level_total */
	uint32_t nonres_max, nonres_n;
	struct ptab nonres;        /* the non-resource paths given their own subresource value (counts unused) */
	struct hh *hh;             /* (user_agent, verb, resource) keys: which own a client row */
	uint32_t client_cap;
	struct pkey *client_keys;  /* per hh row */
	double *client_val;        /* per hh row: weight since the key took the row */
	uint64_t client_evictions;
	const struct pkey *probe;  /* hh_find's key under comparison */
	uint64_t step;
	struct conn_agg *conns;    /* connections per client IP / etcd endpoint (bounded: aggregate/conn_agg.h) */
	struct conn_agg_row *conn_rows; /* render scratch: cap + 2 */
};

static uint32_t cap_or(uint32_t v, uint32_t dflt)
{
	return v ? v : dflt;
}

struct prom_sink *prom_sink_new(const struct prom_sink_opts *o)
{
	static const struct prom_sink_opts none;
	struct prom_sink *s;
	int err = 0;

	if (!o)
		o = &none;
	const uint32_t caps[] = { o->req_rows, o->dur_rows, o->nonres_paths, o->client_rows,
				  o->client_other_rows, o->etcd_rows, o->etcd_dur_rows, o->conn_rows, o->apf_rows };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (caps[i] > (1u << 24))
			return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	err |= ptab_init(&s->req, "kapimon_requests_total", 5, cap_or(o->req_rows, PROM_SINK_REQ_ROWS), NULL, 0);
	err |= ptab_init(&s->dur, "kapimon_request_duration_seconds", 3, cap_or(o->dur_rows, PROM_SINK_DUR_ROWS),
			 req_buckets, NBUCKETS(req_buckets));
	err |= ptab_init(&s->nonres, "nonresource_paths", 1, cap_or(o->nonres_paths, PROM_SINK_NONRES_PATHS), NULL, 0);
	err |= ptab_init(&s->client_other, "kapimon_requests_by_client_total", CLIENT_NLAB,
			 cap_or(o->client_other_rows, PROM_SINK_CLIENT_OTHER_ROWS), NULL, 0);
	err |= ptab_init(&s->etcd, "kapimon_etcd_requests_total", 3, cap_or(o->etcd_rows, PROM_SINK_ETCD_ROWS), NULL, 0);
	err |= ptab_init(&s->etcd_dur, "kapimon_etcd_request_duration_seconds", 2,
			 cap_or(o->etcd_dur_rows, PROM_SINK_ETCD_DUR_ROWS), etcd_buckets, NBUCKETS(etcd_buckets));
	err |= ptab_init(&s->etcd_bytes, "kapimon_etcd_response_bytes_total", 2,
			 cap_or(o->etcd_dur_rows, PROM_SINK_ETCD_DUR_ROWS), NULL, 0);
	err |= ptab_init(&s->etcd_keys, "kapimon_etcd_range_keys", 1, cap_or(o->etcd_dur_rows, PROM_SINK_ETCD_DUR_ROWS),
			 range_keys_buckets, NBUCKETS(range_keys_buckets));
	err |= ptab_init(&s->apf, "kapimon_requests_by_priority_level_total", 3,
			 cap_or(o->apf_rows, PROM_SINK_APF_ROWS), NULL, 0);
	s->client_cap = cap_or(o->client_rows, PROM_SINK_CLIENT_ROWS);
	s->hh = hh_new(s->client_cap, PROM_SINK_HH_DECAY_STEPS, 0);
	s->client_keys = calloc(s->client_cap, sizeof(*s->client_keys));
	s->client_val = calloc(s->client_cap, sizeof(*s->client_val));
	s->conns = conn_agg_new(cap_or(o->conn_rows, PROM_SINK_CONN_ROWS));
	s->conn_rows = s->conns ? calloc(conn_agg_cap(s->conns) + 2, sizeof(*s->conn_rows)) : NULL;
	if (err || !s->hh || !s->client_keys || !s->client_val || !s->conn_rows) {
		prom_sink_free(s);
		return NULL;
	}
	return s;
}

void prom_sink_free(struct prom_sink *s)
{
	if (!s)
		return;
	ptab_free(&s->req);
	ptab_free(&s->dur);
	ptab_free(&s->nonres);
	ptab_free(&s->client_other);
	ptab_free(&s->etcd);
	ptab_free(&s->etcd_dur);
	ptab_free(&s->etcd_bytes);
	ptab_free(&s->etcd_keys);
	ptab_free(&s->apf);
	hh_free(s->hh);
	free(s->client_keys);
	free(s->client_val);
	conn_agg_free(s->conns);
	free(s->conn_rows);
	free(s);
}

static bool client_eq(void *ctx, uint32_t row)
{
	struct prom_sink *s = ctx;

	return key_eq(&s->client_keys[row], s->probe);
}

/* Add to the user_agent="other", user="other" row of (verb, resource). */
static void client_other_add(struct prom_sink *s, const char *verb, const char *resource, double w)
{
	const char *vals[] = { OTHER, verb, resource, OTHER };
	struct pkey k;

	key_pack(&k, vals, CLIENT_NLAB);
	ptab_add(&s->client_other, &k, w, 0);
}

static void client_add(struct prom_sink *s, const struct request_record *r, double w)
{
	/* the user: "" when unknown (failed authentication; requests seen by the generic starts) */
	const char *vals[] = { r->user_agent, r->ri.verb, r->ri.resource, r->has_user ? r->user : "" };
	struct pkey k;
	uint32_t row;
	bool evicted = false;
	uint64_t step = (r->start_ns + r->latency_ns) / PROM_SINK_HH_STEP_NS;

	if (step > s->step) {
		s->step = step;
		hh_set_step(s->hh, step);
	}
	if (!strcmp(r->user_agent, OTHER)) { /* would be the same series as the "other" row */
		client_other_add(s, r->ri.verb, r->ri.resource, w);
		return;
	}
	key_pack(&k, vals, CLIENT_NLAB);
	s->probe = &k;
	row = hh_find(s->hh, k.hash, client_eq, s);
	s->probe = NULL;
	if (row != HH_NONE) {
		hh_hit(s->hh, row, w);
		s->client_val[row] += w;
		return;
	}
	row = hh_admit(s->hh, k.hash, w, true, &evicted);
	if (row == HH_NONE) { /* cannot happen with may_evict; keep the count anyway */
		client_other_add(s, r->ri.verb, r->ri.resource, w);
		return;
	}
	if (evicted) {
		const char *p = s->client_keys[row].s;
		const char *verb, *resource;

		key_next(&p);
		verb = key_next(&p);
		resource = key_next(&p);
		client_other_add(s, verb, resource, s->client_val[row]);
		s->client_evictions++;
	}
	s->client_keys[row] = k;
	s->client_val[row] = w;
}

void prom_sink_request(struct prom_sink *s, const struct request_record *r)
{
	const struct k8s_request_info *ri = &r->ri;
	char code[16] = "";
	const char *sub = ri->subresource;
	double w = r->sample_factor > 0 ? r->sample_factor : 1.0;
	double seconds = (double)r->latency_ns / 1e9;
	struct pkey k;
	char path[REC_PATH_LEN];

	if (r->ongoing)
		return;
	if (r->status > 0)
		snprintf(code, sizeof(code), "%d", r->status);
	if (!ri->is_resource_request) {
		/* the apiserver's convention: resource "", the path (without query) as subresource */
		const char *q = strchr(r->path, '?');
		size_t l = q ? (size_t)(q - r->path) : strlen(r->path);
		bool added;

		snprintf(path, sizeof(path), "%.*s", (int)l, r->path);
		sub = path;
		key_pack(&k, (const char *const[]){ path }, 1);
		if (ptab_row(&s->nonres, &k, &added) == s->nonres.cap)
			sub = OTHER;
	}
	key_pack(&k, (const char *const[]){ ri->verb, ri->group, ri->resource, sub, code }, 5);
	ptab_add(&s->req, &k, w, 0);
	key_pack(&k, (const char *const[]){ ri->verb, ri->group, ri->resource }, 3);
	ptab_add(&s->dur, &k, w, seconds);
	client_add(s, r, w);
	/* API Priority and Fairness: only requests it classified (served: UIDs, names when known; rejected:
	 * names) */
	if (r->apf.priority_level[0] || r->apf.priority_level_uid[0] || r->apf.flow_schema[0] ||
	    r->apf.flow_schema_uid[0]) {
		key_pack(&k,
			 (const char *const[]){ REC_APF_LABEL(r->apf.priority_level, r->apf.priority_level_uid),
						REC_APF_LABEL(r->apf.flow_schema, r->apf.flow_schema_uid), code },
			 3);
		ptab_add(&s->apf, &k, w, 0);
	}
}

void prom_sink_etcd(struct prom_sink *s, const struct etcd_record *r)
{
	char num[16];
	const char *code = prom_grpc_code_name(r->grpc_status);
	double w = r->sample_factor > 0 ? r->sample_factor : 1.0;
	struct pkey k;

	if (r->stream)
		return;
	if (!code) {
		snprintf(num, sizeof(num), "%d", r->grpc_status);
		code = num;
	}
	key_pack(&k, (const char *const[]){ r->op, r->resource, code }, 3);
	ptab_add(&s->etcd, &k, w, 0);
	key_pack(&k, (const char *const[]){ r->op, r->resource }, 2);
	ptab_add(&s->etcd_dur, &k, w, (double)r->latency_ns / 1e9);
	/* what etcd returned: bytes of every call with a known size, key-values of every Range */
	if (r->resp_size >= 0)
		ptab_add(&s->etcd_bytes, &k, w * (double)r->resp_size, 0);
	if (r->kvs >= 0) {
		key_pack(&k, (const char *const[]){ r->resource }, 1);
		ptab_add(&s->etcd_keys, &k, w, (double)r->kvs);
	}
}

static void on_request(void *ctx, const struct request_record *r)
{
	prom_sink_request(ctx, r);
}

static void on_etcd(void *ctx, const struct etcd_record *r)
{
	prom_sink_etcd(ctx, r);
}

void prom_sink_conn(struct prom_sink *s, const struct conn_record *r)
{
	conn_agg_add(s->conns, r);
}

static void on_conn(void *ctx, const struct conn_record *r)
{
	prom_sink_conn(ctx, r);
}

struct pipeline_sink prom_sink_iface(struct prom_sink *s)
{
	return (struct pipeline_sink){ .name = "prometheus", .request = on_request, .etcd = on_etcd, .conn = on_conn,
				       .ctx = s };
}

/* ---- rendering ---- */

static void header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* {a="x",b="y"  (no closing brace) from a packed key, or every label "other" when k is NULL. */
static void labels_open(FILE *out, const char *const *names, uint32_t n, const struct pkey *k)
{
	const char *p = k ? k->s : NULL;

	for (uint32_t i = 0; i < n; i++) {
		fprintf(out, "%c%s=", i ? ',' : '{', names[i]);
		prom_write_label_value(out, p ? key_next(&p) : OTHER);
	}
}

static void sample(FILE *out, const char *name, const char *suffix, const char *const *names, uint32_t n,
		   const struct pkey *k, const char *le, double v)
{
	fputs(name, out);
	fputs(suffix, out);
	labels_open(out, names, n, k);
	if (le)
		fprintf(out, "%sle=\"%s\"", n ? "," : "{", le);
	if (n || le)
		fputc('}', out);
	fputc(' ', out);
	prom_write_value(out, v);
	fputc('\n', out);
}

static void render_row(FILE *out, const struct ptab *t, const char *const *names, uint32_t n, uint32_t row)
{
	const struct pkey *k = row < t->cap ? &t->keys[row] : NULL;

	if (!t->le) {
		sample(out, t->family, "", names, n, k, NULL, t->val[row]);
		return;
	}
	const double *b = &t->bkt[(size_t)row * (t->nb + 1)];
	double cum = 0;
	char le[32];

	for (uint32_t i = 0; i < t->nb; i++) {
		cum += b[i];
		snprintf(le, sizeof(le), "%g", t->le[i]);
		sample(out, t->family, "_bucket", names, n, k, le, cum);
	}
	cum += b[t->nb];
	sample(out, t->family, "_bucket", names, n, k, "+Inf", cum);
	sample(out, t->family, "_sum", names, n, k, NULL, t->sum[row]);
	sample(out, t->family, "_count", names, n, k, NULL, t->val[row]);
}

static void render_table(FILE *out, const struct ptab *t, const char *const *names, uint32_t n)
{
	for (uint32_t row = 0; row < t->n; row++)
		render_row(out, t, names, n, row);
	if (t->other_used)
		render_row(out, t, names, n, t->cap);
}

/* The connection families of one direction: kapimon_client_connection* {client} or kapimon_etcd_connection*
 * {endpoint}; the "(other)" row as "other". */
static void render_conns(FILE *out, const struct conn_agg_row *rows, size_t n, enum rec_conn_dir dir)
{
	static const struct {
		const char *suffix, *type, *help;
		int field; /* below */
	} fams[] = {
		{ "connections_opened_total", "counter", "TCP connections opened (ESTABLISHED), seen by the kernel's tracepoints.", 0 },
		{ "connections_closed_total", "counter", "TCP connections closed.", 1 },
		{ "connections_open", "gauge", "TCP connections open now.", 2 },
		{ "connection_retransmits_total", "counter", "TCP segments the apiserver retransmitted on these connections.", 3 },
		{ "connection_resets_total", "counter", "TCP resets sent and received on these connections.", 4 },
		{ "connection_bytes_total", "counter",
		  "Bytes of closed connections: in = received from the peer, out = sent and acknowledged.", 5 },
		{ "connection_lifetime_seconds", "summary", "Lifetime of closed connections opened while kapimon ran.", 6 },
	};
	const bool client = dir == REC_CONN_CLIENT;
	const char *const lab[] = { client ? "client" : "endpoint", "direction" };
	char name[96];

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		char help[256];

		snprintf(name, sizeof(name), "kapimon_%s_%s", client ? "client" : "etcd", fams[f].suffix);
		snprintf(help, sizeof(help), "%s %s", fams[f].help,
			 client ? "Per client IP (heavy hitters; the rest as \"other\")." : "The apiserver's connections to etcd, per endpoint.");
		header(out, name, fams[f].type, help);
		for (size_t i = 0; i < n; i++) {
			const struct conn_agg_row *r = &rows[i];
			const char *g = r->other ? OTHER : r->group;
			struct pkey k;

			if (r->dir != dir)
				continue;
			switch (fams[f].field) {
			case 0: case 1: case 2: case 3:
				key_pack(&k, &g, 1);
				sample(out, name, "", lab, 1, &k, NULL,
				       (double)(fams[f].field == 0 ? r->opened : fams[f].field == 1 ? r->closed :
						fams[f].field == 2 ? r->open : r->retrans));
				break;
			case 4: case 5:
				key_pack(&k, (const char *const[]){ g, fams[f].field == 4 ? "sent" : "in" }, 2);
				sample(out, name, "", lab, 2, &k, NULL, (double)(fams[f].field == 4 ? r->resets_sent : r->bytes_in));
				key_pack(&k, (const char *const[]){ g, fams[f].field == 4 ? "received" : "out" }, 2);
				sample(out, name, "", lab, 2, &k, NULL,
				       (double)(fams[f].field == 4 ? r->resets_received : r->bytes_out));
				break;
			case 6:
				key_pack(&k, &g, 1);
				sample(out, name, "_sum", lab, 1, &k, NULL, (double)r->lifetime_ns / 1e9);
				sample(out, name, "_count", lab, 1, &k, NULL, (double)r->lifetimes);
				break;
			}
		}
	}
}

int prom_sink_render(const struct prom_sink *s, const struct prom_sink_health *h, FILE *out)
{
	static const char *const req_l[] = { "verb", "group", "resource", "subresource", "code" };
	static const char *const dur_l[] = { "verb", "group", "resource" };
	static const char *const client_l[] = { "user_agent", "verb", "resource", "user" };
	static const char *const etcd_l[] = { "op", "resource", "code" };
	static const char *const etcd_dur_l[] = { "op", "resource" };
	static const char *const etcd_keys_l[] = { "resource" };
	static const char *const fam_l[] = { "family" };
	static const char *const apf_l[] = { "priority_level", "flow_schema", "code" };

	header(out, "kapimon_requests_total", "counter",
	       "Apiserver requests finished, by verb, API group, resource, subresource and HTTP status code, "
	       "as kapimon saw them (weighted by the sampling factor).");
	render_table(out, &s->req, req_l, 5);

	header(out, "kapimon_request_duration_seconds", "histogram",
	       "Apiserver request latency in seconds, from the request's first byte to its end, "
	       "by verb, API group and resource.");
	render_table(out, &s->dur, dur_l, 3);

	header(out, "kapimon_requests_by_client_total", "counter",
	       "Apiserver requests finished, by user agent, verb, resource and authenticated user; "
	       "(user agent, verb, resource, user) series outside the heavy hitters are counted as user agent "
	       "and user \"other\".");
	for (uint32_t row = 0; row < hh_cap(s->hh); row++) {
		if (!hh_gen(s->hh, row))
			continue;
		sample(out, "kapimon_requests_by_client_total", "", client_l, CLIENT_NLAB, &s->client_keys[row], NULL,
		       s->client_val[row]);
	}
	render_table(out, &s->client_other, client_l, CLIENT_NLAB);

	header(out, "kapimon_requests_by_priority_level_total", "counter",
	       "Apiserver requests API Priority and Fairness classified, by priority level, flow schema (names; "
	       "the UID when the name is not known) and HTTP status code (429: rejected by APF).");
	render_table(out, &s->apf, apf_l, 3);

	header(out, "kapimon_etcd_requests_total", "counter",
	       "etcd calls (unary gRPC) the apiserver finished, by operation, resource and gRPC status code.");
	render_table(out, &s->etcd, etcd_l, 3);

	header(out, "kapimon_etcd_request_duration_seconds", "histogram",
	       "etcd call latency in seconds as the apiserver's gRPC client sees it, by operation and resource.");
	render_table(out, &s->etcd_dur, etcd_dur_l, 2);

	header(out, "kapimon_etcd_response_bytes_total", "counter",
	       "Bytes of the response messages etcd returned to the apiserver's calls, by operation and resource.");
	render_table(out, &s->etcd_bytes, etcd_dur_l, 2);

	header(out, "kapimon_etcd_range_keys", "histogram",
	       "Key-values etcd returned per Range call (a LIST's cost), by resource.");
	render_table(out, &s->etcd_keys, etcd_keys_l, 1);

	header(out, "kapimon_metrics_overflow_total", "counter",
	       "Records counted in a family's overflow row (every label \"other\") because its table was full.");
	const struct ptab *tabs[] = { &s->req, &s->dur, &s->client_other, &s->etcd, &s->etcd_dur, &s->etcd_bytes,
				      &s->etcd_keys, &s->apf };
	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
		struct pkey k;

		key_pack(&k, &tabs[i]->family, 1);
		sample(out, "kapimon_metrics_overflow_total", "", fam_l, 1, &k, NULL, (double)tabs[i]->overflowed);
	}
	header(out, "kapimon_client_evictions_total", "counter",
	       "(user_agent, verb, resource, user) series of kapimon_requests_by_client_total folded into \"other\" "
	       "to make room for a heavier one.");
	sample(out, "kapimon_client_evictions_total", "", NULL, 0, NULL, NULL, (double)s->client_evictions);

	{
		size_t n = conn_agg_rows(s->conns, s->conn_rows, conn_agg_cap(s->conns) + 2);

		if (n > conn_agg_cap(s->conns) + 2)
			n = conn_agg_cap(s->conns) + 2;
		render_conns(out, s->conn_rows, n, REC_CONN_CLIENT);
		render_conns(out, s->conn_rows, n, REC_CONN_ETCD);
		header(out, "kapimon_connection_groups_evicted_total", "counter",
		       "Client IPs / etcd endpoints whose connection series were folded into \"other\" to make room "
		       "for a busier one.");
		sample(out, "kapimon_connection_groups_evicted_total", "", NULL, 0, NULL, NULL,
		       (double)conn_agg_evictions(s->conns));
	}

	if (h) {
		header(out, "kapimon_ringbuf_drops_total", "counter",
		       "Events lost because a BPF ring buffer was full.");
		sample(out, "kapimon_ringbuf_drops_total", "", NULL, 0, NULL, NULL, (double)h->ringbuf_drops);
		if (h->probe_hits) {
			static const char *const probe_l[] = { "probe" };

			header(out, "kapimon_probe_hits_total", "counter", "Hits of each kapimon probe.");
			for (int i = 0; i < KP_PROBE__COUNT; i++) {
				const char *name = kp_probe_name(i);
				struct pkey k;

				key_pack(&k, &name, 1);
				sample(out, "kapimon_probe_hits_total", "", probe_l, 1, &k, NULL,
				       (double)h->probe_hits[i]);
			}
		}
		header(out, "kapimon_attached_apiservers", "gauge", "Apiserver processes kapimon is attached to.");
		sample(out, "kapimon_attached_apiservers", "", NULL, 0, NULL, NULL, (double)h->apiservers_attached);
		if (h->noffsets) {
			static const char *const off_l[] = { "group", "source" };

			header(out, "kapimon_offsets_source_info", "gauge",
			       "Where the Go struct offsets of each probe group come from (value 1).");
			for (uint32_t i = 0; i < h->noffsets && i < PROM_SINK_MAX_OFFSET_GROUPS; i++) {
				struct pkey k;
				const char *src = h->offsets_source[i] ? h->offsets_source[i] : "none";

				key_pack(&k, (const char *const[]){ h->offsets_group[i] ? h->offsets_group[i] : "", src }, 2);
				sample(out, "kapimon_offsets_source_info", "", off_l, 2, &k, NULL, 1);
			}
		}
		if (h->cpu_seconds >= 0) {
			header(out, "process_cpu_seconds_total", "counter",
			       "Total user and system CPU time spent in seconds.");
			sample(out, "process_cpu_seconds_total", "", NULL, 0, NULL, NULL, h->cpu_seconds);
		}
		if (h->budget_duty >= 0) {
			header(out, "kapimon_budget_duty_ratio", "gauge",
			       "Budget mode: share of time the per-request probes are attached (0..1).");
			sample(out, "kapimon_budget_duty_ratio", "", NULL, 0, NULL, NULL, h->budget_duty);
		}
	}
	fflush(out);
	return ferror(out) ? -1 : 0;
}

int prom_sink_render_mem(const struct prom_sink *s, const struct prom_sink_health *h, char **buf, size_t *len)
{
	FILE *f;
	int rc;

	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (!f)
		return -1;
	rc = prom_sink_render(s, h, f);
	if (fclose(f))
		rc = -1;
	if (rc) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return rc;
}
