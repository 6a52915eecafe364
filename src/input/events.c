// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "input/events.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "input/csv.h"
#include "input/json.h"
#include "input/timeparse.h"

const char *ev_format_name(enum ev_format f)
{
	switch (f) {
	case EV_FLOWS: return "flows";
	case EV_AUDIT: return "audit";
	case EV_CSV: return "csv";
	default: return "auto";
	}
}

struct loader {
	const struct ev_opts *o;
	struct ev_stats *st;
	ev_cb cb;
	void *ctx;
	struct json_doc doc;
	char (*vals)[EV_VAL_LEN];
	const char *vp[EV_MAX_DIMS];
	size_t lens[EV_MAX_DIMS];
};

static void note_bad(struct ev_stats *st, size_t line, const char *fmt, ...)
{
	va_list ap;

	st->bad++;
	if (st->first_bad_line)
		return;
	st->first_bad_line = line;
	va_start(ap, fmt);
	vsnprintf(st->first_bad_msg, sizeof(st->first_bad_msg), fmt, ap);
	va_end(ap);
}

/* Text of a scalar token into buf: strings unescaped, numbers/booleans verbatim. false when absent/null. */
static bool tok_text(struct loader *L, int tok, char *buf, size_t *len)
{
	const struct json_tok *t;

	if (tok < 0)
		return false;
	t = &L->doc.toks[tok];
	switch (t->type) {
	case JSON_STRING: {
		long l = json_str(&L->doc, tok, buf, EV_VAL_LEN);

		if (l >= EV_VAL_LEN) {
			L->st->truncated++;
			l = EV_VAL_LEN - 1;
		}
		*len = (size_t)l;
		return true;
	}
	case JSON_NUMBER:
	case JSON_TRUE:
	case JSON_FALSE: {
		size_t l = t->len < EV_VAL_LEN - 1 ? t->len : EV_VAL_LEN - 1;

		memcpy(buf, L->doc.src + t->start, l);
		buf[l] = '\0';
		*len = l;
		return true;
	}
	default:
		return false;
	}
}

static bool tok_is(struct loader *L, int tok, const char *s)
{
	size_t len;
	const char *r = json_raw_str(&L->doc, tok, &len);

	if (r)
		return len == strlen(s) && !memcmp(r, s, len);
	if (tok >= 0 && L->doc.toks[tok].type == JSON_STRING) {
		char tmp[64];
		long l = json_str(&L->doc, tok, tmp, sizeof(tmp));

		return l == (long)strlen(s) && !strcmp(tmp, s);
	}
	return false;
}

static bool tok_time(struct loader *L, int tok, int64_t *ns)
{
	char buf[64];
	size_t len;
	const struct json_tok *t;

	if (tok < 0)
		return false;
	t = &L->doc.toks[tok];
	if (t->type != JSON_STRING && t->type != JSON_NUMBER)
		return false;
	if (t->len >= sizeof(buf))
		return false;
	if (!tok_text(L, tok, buf, &len))
		return false;
	return time_parse_any(buf, len, ns);
}

/* audit field for a dimension name */
static int audit_dim(struct loader *L, const char *dim)
{
	const struct json_doc *d = &L->doc;
	int ref;

	if (!strcmp(dim, "user_agent") || !strcmp(dim, "userAgent"))
		return json_obj_get(d, 0, "userAgent");
	if (!strcmp(dim, "status") || !strcmp(dim, "code")) {
		int rs = json_obj_get(d, 0, "responseStatus");

		return json_obj_get(d, rs, "code");
	}
	if (!strcmp(dim, "client") || !strcmp(dim, "source_ip")) {
		int ips = json_obj_get(d, 0, "sourceIPs");

		if (ips >= 0 && d->toks[ips].type == JSON_ARRAY && d->toks[ips].count > 0)
			return ips + 1;
		return -1;
	}
	if (!strcmp(dim, "user") || !strcmp(dim, "username")) {
		int u = json_obj_get(d, 0, "user");

		return json_obj_get(d, u, "username");
	}
	if (!strcmp(dim, "path"))
		return json_obj_get(d, 0, "requestURI");
	ref = json_obj_get(d, 0, "objectRef");
	if (!strcmp(dim, "resource") || !strcmp(dim, "namespace") || !strcmp(dim, "name") ||
	    !strcmp(dim, "subresource"))
		return json_obj_get(d, ref, dim);
	if (!strcmp(dim, "group"))
		return json_obj_get(d, ref, "apiGroup");
	if (!strcmp(dim, "version"))
		return json_obj_get(d, ref, "apiVersion");
	return json_obj_get(d, 0, dim);
}

static int json_line(struct loader *L, const char *line, size_t len, size_t lineno)
{
	struct json_error jerr;
	struct ev_stats *st = L->st;
	int64_t ts;
	double w = 1;
	bool missing = false;

	if (json_parse(&L->doc, line, len, &jerr)) {
		note_bad(st, lineno, "line %zu column %zu: %s", lineno, jerr.col, jerr.msg);
		return 0;
	}
	if (L->doc.toks[0].type != JSON_OBJECT) {
		note_bad(st, lineno, "line %zu: not a JSON object", lineno);
		return 0;
	}
	if (st->fmt == EV_AUTO) {
		int api = json_obj_get(&L->doc, 0, "apiVersion");
		size_t l;
		const char *a = json_raw_str(&L->doc, api, &l);

		if ((a && l >= 12 && !memcmp(a, "audit.k8s.io", 12)) || tok_is(L, json_obj_get(&L->doc, 0, "kind"), "Event"))
			st->fmt = EV_AUDIT;
		else
			st->fmt = EV_FLOWS;
	}
	if (st->fmt == EV_AUDIT) {
		int stage;

		if (!tok_is(L, json_obj_get(&L->doc, 0, "kind"), "Event")) {
			st->stage_skipped[3]++;
			return 0;
		}
		stage = json_obj_get(&L->doc, 0, "stage");
		if (!tok_is(L, stage, "ResponseComplete") && !tok_is(L, stage, "Panic")) {
			st->stage_skipped[tok_is(L, stage, "RequestReceived") ? 0 : tok_is(L, stage, "ResponseStarted") ? 1 : 2]++;
			return 0;
		}
		if (!tok_time(L, json_obj_get(&L->doc, 0, "requestReceivedTimestamp"), &ts) &&
		    !tok_time(L, json_obj_get(&L->doc, 0, "stageTimestamp"), &ts)) {
			st->bad_time++;
			return 0;
		}
		for (size_t d = 0; d < L->o->ndims; d++) {
			if (!tok_text(L, audit_dim(L, L->o->dims[d]), L->vals[d], &L->lens[d])) {
				L->vals[d][0] = '\0';
				L->lens[d] = 0;
				missing = true;
			}
		}
	} else {
		int kind = json_obj_get(&L->doc, 0, "kind"), sf;
		const char *want = L->o->kind ? L->o->kind : "request";

		if (kind >= 0 && !tok_is(L, kind, want)) {
			if (tok_is(L, kind, "etcd"))
				st->kind_etcd++;
			else if (tok_is(L, kind, "stats"))
				st->kind_stats++;
			else
				st->other_kind++;
			return 0;
		}
		if (!tok_time(L, json_obj_get(&L->doc, 0, "ts"), &ts)) {
			st->bad_time++;
			return 0;
		}
		sf = json_obj_get(&L->doc, 0, "sample_factor");
		if (sf >= 0 && (!json_num(&L->doc, sf, &w) || !isfinite(w) || w <= 0)) {
			st->bad_weight++;
			w = 1;
		}
		for (size_t d = 0; d < L->o->ndims; d++) {
			const char *dim = L->o->dims[d];

			if (!strcmp(dim, "code"))
				dim = "status";
			else if (!strcmp(dim, "userAgent"))
				dim = "user_agent";
			if (!tok_text(L, json_obj_get(&L->doc, 0, dim), L->vals[d], &L->lens[d])) {
				L->vals[d][0] = '\0';
				L->lens[d] = 0;
				missing = true;
			}
		}
	}
	if (missing)
		st->missing_dim++;
	st->used++;
	st->weight += w;
	return L->cb(L->ctx, ts, w, L->vp, L->lens);
}

static int load_csv(struct loader *L, FILE *f, char *err, size_t errcap)
{
	struct csv_reader r;
	struct csv_error ce;
	struct ev_stats *st = L->st;
	int tcol = -1, vcol = -1, dcol[EV_MAX_DIMS];
	size_t ncols;
	int rc;

	csv_init(&r, f, ',');
	rc = csv_next(&r, &ce);
	if (rc <= 0) {
		if (rc < 0)
			snprintf(err, errcap, "CSV header, line %zu column %zu: %s", ce.line, ce.col, ce.msg);
		else
			snprintf(err, errcap, "empty input: no CSV header");
		csv_free(&r);
		return -1;
	}
	ncols = r.nfields;
	if (L->o->time_col) {
		tcol = csv_find_col(r.fields, ncols, L->o->time_col);
	} else {
		static const char *const names[] = { "time", "timestamp", "ts", "requestReceivedTimestamp", "date" };

		for (size_t i = 0; i < 5 && tcol < 0; i++)
			tcol = csv_find_col(r.fields, ncols, names[i]);
	}
	if (tcol < 0) {
		snprintf(err, errcap, "CSV: no time column%s%s (use --time)", L->o->time_col ? " named " : "",
			 L->o->time_col ? L->o->time_col : "");
		csv_free(&r);
		return -1;
	}
	if (L->o->value_col && (vcol = csv_find_col(r.fields, ncols, L->o->value_col)) < 0) {
		snprintf(err, errcap, "CSV: no value column named %s", L->o->value_col);
		csv_free(&r);
		return -1;
	}
	for (size_t d = 0; d < L->o->ndims; d++) {
		dcol[d] = csv_find_col(r.fields, ncols, L->o->dims[d]);
		if (dcol[d] < 0) {
			snprintf(err, errcap, "CSV: no column named %s for --dims", L->o->dims[d]);
			csv_free(&r);
			return -1;
		}
	}
	while ((rc = csv_next(&r, &ce)) > 0) {
		int64_t ts;
		double w = 1;
		bool missing = false;

		st->lines++;
		if (r.nfields > ncols) {
			note_bad(st, r.rec_line, "line %zu: %zu fields, header has %zu", r.rec_line, r.nfields, ncols);
			continue;
		}
		if ((size_t)tcol >= r.nfields || !time_parse_any(r.fields[tcol], strlen(r.fields[tcol]), &ts)) {
			st->bad_time++;
			if (!st->first_bad_line) {
				st->first_bad_line = r.rec_line;
				snprintf(st->first_bad_msg, sizeof(st->first_bad_msg), "line %zu: bad time", r.rec_line);
			}
			continue;
		}
		if (vcol >= 0) {
			char *end;

			if ((size_t)vcol >= r.nfields || csv_is_missing(r.fields[vcol])) {
				st->bad_weight++;
				continue;
			}
			errno = 0;
			w = strtod(r.fields[vcol], &end);
			if (*end || end == r.fields[vcol] || !isfinite(w)) {
				note_bad(st, r.rec_line, "line %zu: value '%.40s' is not a number", r.rec_line, r.fields[vcol]);
				continue;
			}
		}
		for (size_t d = 0; d < L->o->ndims; d++) {
			const char *v = (size_t)dcol[d] < r.nfields ? r.fields[dcol[d]] : "";
			size_t l = strlen(v);

			if (l >= EV_VAL_LEN) {
				l = EV_VAL_LEN - 1;
				st->truncated++;
			}
			memcpy(L->vals[d], v, l);
			L->vals[d][l] = '\0';
			L->lens[d] = l;
			if (!l)
				missing = true;
		}
		if (missing)
			st->missing_dim++;
		st->used++;
		st->weight += w;
		if (L->cb(L->ctx, ts, w, L->vp, L->lens)) {
			snprintf(err, errcap, "out of memory");
			csv_free(&r);
			return -1;
		}
	}
	if (rc < 0) {
		snprintf(err, errcap, "CSV line %zu column %zu: %s", ce.line, ce.col, ce.msg);
		csv_free(&r);
		return -1;
	}
	csv_free(&r);
	return 0;
}

int ev_load(FILE *f, const struct ev_opts *o, ev_cb cb, void *ctx, struct ev_stats *st, char *err, size_t errcap)
{
	struct loader L = { .o = o, .st = st, .cb = cb, .ctx = ctx };
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int ret = -1;

	memset(st, 0, sizeof(*st));
	err[0] = '\0';
	if (o->ndims > EV_MAX_DIMS) {
		snprintf(err, errcap, "at most %d dimensions", EV_MAX_DIMS);
		return -1;
	}
	L.vals = malloc(EV_MAX_DIMS * sizeof(*L.vals));
	if (!L.vals) {
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	for (size_t d = 0; d < EV_MAX_DIMS; d++)
		L.vp[d] = L.vals[d];
	st->fmt = o->fmt;
	if (o->fmt == EV_AUTO) {
		int c;

		do
			c = getc(f);
		while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
		if (c == EOF) {
			snprintf(err, errcap, "empty input");
			goto out;
		}
		ungetc(c, f);
		if (c != '{')
			st->fmt = EV_CSV;
	}
	if (st->fmt == EV_CSV) {
		ret = load_csv(&L, f, err, errcap);
		goto check;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;

		lineno++;
		st->lines++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
			len--;
		if (len == 0) {
			st->blank++;
			continue;
		}
		if (json_line(&L, line, len, lineno)) {
			snprintf(err, errcap, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errcap, "read error: %s", strerror(errno));
		goto out;
	}
	if (st->fmt == EV_AUTO)
		st->fmt = EV_FLOWS;
	ret = 0;
check:
	if (ret == 0 && st->used == 0) {
		if (st->first_bad_line)
			snprintf(err, errcap, "no usable record (%zu unparsable; first: %s)", st->bad, st->first_bad_msg);
		else
			snprintf(err, errcap, "no usable record in %zu lines", st->lines);
		ret = -1;
	}
out:
	free(line);
	free(L.vals);
	json_doc_free(&L.doc);
	return ret;
}
