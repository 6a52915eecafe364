// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/requestinfo.h"

#include "util/hash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/path_sanitize.h"
#include "util/strbuf.h"
#include "util/swar.h"

struct seg {
	const char *p;
	size_t len;
};

#define MAX_SEGS 12 /* the rules look at most 10 segments deep; the count is kept beyond that */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Go's url unescape: "%XX" -> byte; a '%' without two hex digits is an error. In query mode '+' is a
 * space. dst must hold len bytes. Returns the decoded length or -1. */
static long unescape(const char *s, size_t len, char *dst, bool query)
{
	size_t o = 0;

	if (!memchr(s, '%', len) && (!query || !memchr(s, '+', len))) {
		memcpy(dst, s, len); /* nothing to decode: the usual path */
		return (long)len;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= len)
				return -1;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			dst[o++] = (char)(h << 4 | l);
			i += 2;
		} else if (c == '+' && query) {
			dst[o++] = ' ';
		} else {
			dst[o++] = (char)c;
		}
	}
	return (long)o;
}

/* Copy a field; a NUL byte (from %00) is written as "%00" so the C string keeps everything. */
static void put_field(char *dst, size_t cap, const char *src, size_t len, bool *truncated)
{
	size_t o = 0;

	if (len < cap && !memchr(src, 0, len)) {
		memcpy(dst, src, len);
		dst[len] = 0;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		size_t need = src[i] ? 1 : 3;

		if (o + need > cap - 1) {
			*truncated = true;
			break;
		}
		if (src[i]) {
			dst[o++] = src[i];
		} else {
			memcpy(dst + o, "%00", 3);
			o += 3;
		}
	}
	dst[o] = 0;
}

static bool seg_eq(const struct seg *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->len == n && memcmp(s->p, lit, n) == 0;
}

static void set_verb(struct k8s_request_info *ri, const char *v)
{
	put_field(ri->verb, sizeof(ri->verb), v, strlen(v), &ri->truncated);
}

static void set_method_verb(struct k8s_request_info *ri, const char *method)
{
	size_t n = method ? strlen(method) : 0, i;

	if (n > sizeof(ri->verb) - 1) {
		n = sizeof(ri->verb) - 1;
		ri->truncated = true;
	}
	for (i = 0; i < n; i++) {
		char c = method[i];

		ri->verb[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	ri->verb[i] = 0;
}

/* ---- query: Go's url.ParseQuery (pairs containing ';' are dropped, as since Go 1.17) ---- */

struct qvals {
	bool has_watch, has_fs, bad_int;
	char *watch;  /* first value of "watch" */
	long watch_len;
	char *fs;     /* first value of "fieldSelector" */
	long fs_len;
	bool have_timeout, have_limit;
};

/* Go strconv.ParseInt(s, 10, 64) succeeds? */
static bool parse_int64_ok(const char *s, size_t len)
{
	uint64_t v = 0, lim = (uint64_t)INT64_MAX;
	size_t i = 0;
	bool neg = false;

	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return false;
	if (neg)
		lim++;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (lim - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

static int scan_query(const char *q, size_t qlen, struct qvals *qv, char *buf)
{
	size_t pos = 0;
	char *b = buf; /* decoded keys and kept values, total <= qlen bytes */

	while (pos < qlen) {
		const char *pair = q + pos, *amp = memchr(pair, '&', qlen - pos), *eq;
		size_t plen = amp ? (size_t)(amp - pair) : qlen - pos;
		long klen, vlen;
		size_t rawk, rawv;
		char *key, *val;

		pos += plen + 1;
		if (plen == 0 || memchr(pair, ';', plen))
			continue;
		eq = memchr(pair, '=', plen);
		rawk = eq ? (size_t)(eq - pair) : plen;
		rawv = eq ? plen - rawk - 1 : 0;
		key = b;
		klen = unescape(pair, rawk, key, true);
		if (klen < 0)
			continue;
		val = key + klen;
		vlen = unescape(eq ? eq + 1 : "", rawv, val, true);
		if (vlen < 0)
			continue;
#define KEY_IS(lit) ((size_t)klen == sizeof(lit) - 1 && memcmp(key, lit, sizeof(lit) - 1) == 0)
		if (KEY_IS("watch") && !qv->has_watch) {
			qv->has_watch = true;
			qv->watch = val;
			qv->watch_len = vlen;
			b = val + vlen;
		} else if (KEY_IS("fieldSelector") && !qv->has_fs) {
			qv->has_fs = true;
			qv->fs = val;
			qv->fs_len = vlen;
			b = val + vlen;
		} else if ((KEY_IS("timeoutSeconds") && !qv->have_timeout) || (KEY_IS("limit") && !qv->have_limit)) {
			/* ListOptions decoding converts the first value with strconv.ParseInt */
			if (KEY_IS("limit"))
				qv->have_limit = true;
			else
				qv->have_timeout = true;
			if (!parse_int64_ok(val, (size_t)vlen))
				qv->bad_int = true;
		}
#undef KEY_IS
	}
	return 0;
}

/* Go's utf8 decode: length of a valid sequence at s, 0 when invalid (RuneError, width 1). */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* fields.UnescapeValue: "\\" "\," "\=" are escapes, any other escape, a lone trailing '\' or an unescaped
 * ',' / '=' is an error. When the value holds any of those characters Go rebuilds it rune by rune, so
 * invalid UTF-8 becomes U+FFFD. dst holds 3*len bytes. Returns the length or -1. */
static long fs_unescape(const char *s, size_t len, char *dst)
{
	size_t o = 0, i = 0;
	bool slash = false;

	if (!memchr(s, '\\', len) && !memchr(s, ',', len) && !memchr(s, '=', len)) {
		memcpy(dst, s, len);
		return (long)len;
	}
	while (i < len) {
		size_t w = utf8_valid((const unsigned char *)s + i, len - i);
		const char *r = s + i;
		bool bad = w == 0;

		if (bad)
			w = 1;
		i += w;
		if (slash) {
			if (w == 1 && (*r == '\\' || *r == ',' || *r == '='))
				dst[o++] = *r;
			else
				return -1;
			slash = false;
			continue;
		}
		if (w == 1 && *r == '\\') {
			slash = true;
		} else if (w == 1 && (*r == ',' || *r == '=')) {
			return -1;
		} else if (bad) {
			memcpy(dst + o, "\xef\xbf\xbd", 3);
			o += 3;
		} else {
			memcpy(dst + o, r, w);
			o += w;
		}
	}
	return slash ? -1 : (long)o;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al < bl ? -1 : al > bl ? 1 : 0);
}

/*
 * fields.ParseSelector + RequiresExactMatch("metadata.name"). Terms are split on unescaped ','; each
 * term is lhs op rhs with op the first "!=", "==" or "=" found. The terms are sorted, so among several
 * metadata.name terms the one whose raw text sorts first wins. Returns -1 on a parse error, 1 with
 * the name (in scratch) when found, 0 otherwise.
 */
static int fs_exact_name(const char *fs, size_t len, char *scratch, const char **name, size_t *name_len)
{
	const char *best = NULL;
	size_t best_len = 0, start = 0, i;
	bool slash = false;
	int found = 0;

	for (i = 0; i <= len; i++) {
		const char *t;
		size_t tl, j, oplen = 0, lhs_len = 0;
		long ul;
		bool eq_op = false;

		if (i < len) {
			if (slash) {
				slash = false;
				continue;
			}
			if (fs[i] == '\\') {
				slash = true;
				continue;
			}
			if (fs[i] != ',')
				continue;
		}
		t = fs + start;
		tl = i - start;
		start = i + 1;
		if (tl == 0)
			continue;
		for (j = 0; j < tl; j++) {
			if (j + 1 < tl && t[j] == '!' && t[j + 1] == '=') {
				oplen = 2;
				break;
			}
			if (j + 1 < tl && t[j] == '=' && t[j + 1] == '=') {
				oplen = 2;
				eq_op = true;
				break;
			}
			if (t[j] == '=') {
				oplen = 1;
				eq_op = true;
				break;
			}
		}
		if (!oplen)
			return -1;
		lhs_len = j;
		ul = fs_unescape(t + j + oplen, tl - j - oplen, scratch);
		if (ul < 0)
			return -1;
		if (eq_op && lhs_len == 13 && memcmp(t, "metadata.name", 13) == 0 &&
		    (!best || bytes_cmp(t, tl, best, best_len) < 0)) {
			best = t;
			best_len = tl;
			found = 1;
		}
	}
	if (found) {
		/* re-derive the winning term's value */
		size_t j = 13 + ((best_len > 14 && best[13] == '=' && best[14] == '=') ? 2 : 1);
		long ul = fs_unescape(best + j, best_len - j, scratch);

		if (ul < 0)
			return -1;
		*name = scratch;
		*name_len = (size_t)ul;
	}
	return found;
}

/* path.IsValidPathSegmentName: not "." or "..", no '/' or '%' */
static bool valid_segment_name(const char *s, size_t len)
{
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return !memchr(s, '/', len) && !memchr(s, '%', len);
}

static bool ascii_ieq(const char *a, size_t al, const char *lit)
{
	size_t n = strlen(lit);

	if (al != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* strings.EqualFold(v, "false"): ASCII folding plus U+017F (long s) which folds to 's' */
static bool fold_eq_false(const char *v, size_t len)
{
	char tmp[5];
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (o == 5)
			return false;
		if (i + 1 < len && (unsigned char)v[i] == 0xc5 && (unsigned char)v[i + 1] == 0xbf) {
			tmp[o++] = 's';
			i++;
		} else {
			tmp[o++] = v[i];
		}
	}
	return ascii_ieq(tmp, o, "false");
}

/* ---- the rules ---- */

int k8s_request_info_parse(const char *method, const char *target, size_t target_len, struct k8s_request_info *out)
{
	const char *path, *query = NULL, *end;
	size_t path_len, query_len = 0, nseg = 0, i, start, pl;
	struct seg segs[MAX_SEGS];
	struct seg *parts;
	size_t nparts;
	char *buf = NULL, local[2560]; /* enough for a KP_PATH_MAX target */
	long dlen;
	int rc = KRI_OK;

	memset(out, 0, sizeof(*out));
	set_method_verb(out, method);
	if (!target)
		target_len = 0;
	end = target + target_len;
	for (i = 0; i + 8 <= target_len; i += 8) {
		uint64_t x = swar_load(target + i);

		if (swar_less(x, 0x20) | swar_eq(x, 0x7f))
			break;
	}
	for (; i < target_len; i++) {
		unsigned char c = (unsigned char)target[i];

		if (c < 0x20 || c == 0x7f)
			return KRI_EBADURL; /* net/url: invalid control character in URL */
	}
	path = target;
	/* absolute-form: skip scheme://authority */
	if (target_len >= 7 && (ascii_ieq(target, 7, "http://") || (target_len >= 8 && ascii_ieq(target, 8, "https://")))) {
		const char *a = memchr(target, ':', target_len) + 3;

		path = a;
		while (path < end && *path != '/' && *path != '?')
			path++;
	}
	{
		const char *q = memchr(path, '?', (size_t)(end - path));

		path_len = q ? (size_t)(q - path) : (size_t)(end - path);
		if (q) {
			query = q + 1;
			query_len = (size_t)(end - query);
		}
	}

	buf = path_len + 4 * query_len + 4 <= sizeof(local) ? local : malloc(path_len + 4 * query_len + 4);
	if (!buf)
		return KRI_ENOMEM;
	dlen = unescape(path, path_len, buf, false);
	if (dlen < 0) {
		rc = KRI_EBADURL;
		goto done;
	}
	pl = (size_t)dlen;

	/* splitPath: trim '/' on both ends, split on '/' (inner empty parts stay) */
	{
		size_t a = 0, b = pl;

		while (a < b && buf[a] == '/')
			a++;
		while (b > a && buf[b - 1] == '/')
			b--;
		if (b > a) {
			for (start = a; start <= b;) {
				const char *sl = memchr(buf + start, '/', b - start);

				i = sl ? (size_t)(sl - buf) : b;
				if (nseg < MAX_SEGS) {
					segs[nseg].p = buf + start;
					segs[nseg].len = i - start;
				}
				nseg++;
				start = i + 1;
			}
		}
	}

	if (nseg < 3 || !(seg_eq(&segs[0], "api") || seg_eq(&segs[0], "apis")))
		goto done; /* non-resource */
	parts = segs + 1;
	nparts = nseg - 1;
	if (seg_eq(&segs[0], "apis")) {
		if (nparts < 3)
			goto done; /* /apis/{group}/{version}: discovery, non-resource */
	}
	put_field(out->api_prefix, sizeof(out->api_prefix), segs[0].p, segs[0].len, &out->truncated);
	if (seg_eq(&segs[0], "apis")) {
		put_field(out->group, sizeof(out->group), parts[0].p, parts[0].len, &out->truncated);
		parts++;
		nparts--;
	}
	out->is_resource_request = true;
	put_field(out->version, sizeof(out->version), parts[0].p, parts[0].len, &out->truncated);
	parts++;
	nparts--;

	if (seg_eq(&parts[0], "proxy") || seg_eq(&parts[0], "watch")) {
		if (nparts < 2) {
			rc = KRI_ESPECIALVERB;
			goto done;
		}
		put_field(out->verb, sizeof(out->verb), parts[0].p, parts[0].len, &out->truncated);
		parts++;
		nparts--;
	} else {
		const char *m = method ? method : "";

		if (!strcmp(m, "POST"))
			set_verb(out, "create");
		else if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
			set_verb(out, "get");
		else if (!strcmp(m, "PUT"))
			set_verb(out, "update");
		else if (!strcmp(m, "PATCH"))
			set_verb(out, "patch");
		else if (!strcmp(m, "DELETE"))
			set_verb(out, "delete");
		else
			set_verb(out, "");
	}

	if (seg_eq(&parts[0], "namespaces") && nparts > 1) {
		put_field(out->namespace_, sizeof(out->namespace_), parts[1].p, parts[1].len, &out->truncated);
		/* a namespace subresource (status, finalize) keeps "namespaces" as the resource */
		if (nparts > 2 && !seg_eq(&parts[2], "status") && !seg_eq(&parts[2], "finalize")) {
			parts += 2;
			nparts -= 2;
		}
	}
	/* parts: resource/name/subresource/... (only the first MAX_SEGS path segments are stored; the rules
	 * never look past segment 10) */
	if (nparts >= 3 && strcmp(out->verb, "proxy") != 0)
		put_field(out->subresource, sizeof(out->subresource), parts[2].p, parts[2].len, &out->truncated);
	if (nparts >= 2)
		put_field(out->name, sizeof(out->name), parts[1].p, parts[1].len, &out->truncated);
	if (nparts >= 1)
		put_field(out->resource, sizeof(out->resource), parts[0].p, parts[0].len, &out->truncated);

	if (!out->name[0] && !strcmp(out->verb, "get")) {
		struct qvals qv = { 0 };
		char *qbuf = buf + path_len;       /* query_len bytes: decoded keys/values */
		char *scratch = qbuf + query_len;  /* 3*query_len+4 bytes: unescaped selector value */
		bool watch = false, decode_err;
		const char *nm = NULL;
		size_t nml = 0;
		int found = 0;

		scan_query(query ? query : "", query_len, &qv, qbuf);
		decode_err = qv.bad_int;
		if (qv.has_fs) {
			found = fs_exact_name(qv.fs, (size_t)qv.fs_len, scratch, &nm, &nml);
			if (found < 0)
				decode_err = true;
		}
		if (qv.has_watch) {
			/* DecodeParameters: "0" or EqualFold "false" is false; the fallback after a decode error uses
			 * strings.ToLower(v) == "false" / "0" */
			bool is_false = (qv.watch_len == 1 && qv.watch[0] == '0') ||
					(decode_err ? ascii_ieq(qv.watch, (size_t)qv.watch_len, "false")
						    : fold_eq_false(qv.watch, (size_t)qv.watch_len));
			watch = !is_false;
		}
		set_verb(out, watch ? "watch" : "list");
		if (!decode_err && found > 0 && valid_segment_name(nm, nml))
			put_field(out->name, sizeof(out->name), nm, nml, &out->truncated);
	}
	if (!out->name[0] && !strcmp(out->verb, "delete"))
		set_verb(out, "deletecollection");
done:
	/* the decoded target (query values too, secrets among them) does not outlive the call */
	explicit_bzero(buf, path_len + 4 * query_len + 4);
	if (buf != local)
		free(buf);
	return rc;
}

const char *kri_strerror(int err)
{
	switch (err) {
	case KRI_OK: return "ok";
	case KRI_EBADURL: return "invalid URL (control byte or bad %-escape)";
	case KRI_ESPECIALVERB: return "unable to determine kind and namespace from url";
	case KRI_ENOMEM: return "out of memory";
	default: return "unknown error";
	}
}

/*
 * Classifications are remembered: clients repeat their request targets (a controller lists the same
 * collection, a kubelet renews its lease, a flood sends one request over and over), and parsing and
 * sanitising a target costs ~2,000 instructions where finding it here costs ~300 (replay). Direct-mapped
 * by the hash of (method, target), one small table per thread (the pipeline runs on one). A target whose query
 * carried a secret (path_sanitize redacted a value) is not remembered: the raw target is kept here, and
 * secrets must not outlive their request.
 */
#define RC_SLOTS 32
#define RC_RAW_MAX 512

/* the string fields of struct k8s_request_info after verb and api_prefix, each REC_FIELD_LEN bytes */
#define RC_NFIELDS 6
static const size_t rc_field_off[RC_NFIELDS] = {
	offsetof(struct k8s_request_info, group),       offsetof(struct k8s_request_info, version),
	offsetof(struct k8s_request_info, resource),    offsetof(struct k8s_request_info, subresource),
	offsetof(struct k8s_request_info, namespace_),  offsetof(struct k8s_request_info, name),
};
#define RC_SHORT 16 /* a field shorter than this is copied as RC_SHORT bytes (two moves) */

struct rc_entry {
	uint64_t h;              /* 0: empty */
	uint64_t mword;          /* the method's first 8 bytes, zero-padded */
	uint16_t raw_len, path_len;
	uint8_t mlen;
	bool short_fields;        /* every flen < RC_SHORT */
	uint8_t flen[RC_NFIELDS]; /* strlen of each rc_field_off field of ri */
	char method[REC_METHOD_LEN];
	char raw[RC_RAW_MAX];
	struct k8s_request_info ri; /* bytes after each string's NUL are zero */
	char path[REC_PATH_LEN];
};

static __thread struct rc_entry rc_cache[RC_SLOTS];
/* The entry last found or filled, tried before hashing: a client repeating one target, or a flood of
 * one request, is found by comparing the target once (a different target is told apart by its length
 * or first bytes). NULL or a filled entry. */
static __thread struct rc_entry *rc_last;

/* strnlen(m, 15) of a record's method (its 16 bytes hold a NUL): the first zero byte of two words (the
 * lowest byte swar_less flags is exact) */
static inline size_t method_strlen(const char *m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t z = swar_less(swar_load(m), 1);

	if (z)
		return (size_t)__builtin_ctzll(z) / 8;
	z = swar_less(swar_load(m + 8), 1);
	return z ? 8 + (size_t)__builtin_ctzll(z) / 8 : 15;
#else
	return strnlen(m, REC_METHOD_LEN - 1);
#endif
}

/* The method's first 8 bytes (NUL-terminated at mlen <= 15 in its 16-byte array), zero-padded. */
static inline uint64_t method_word(const char *m, size_t mlen)
{
	uint64_t w = swar_load(m);

	return mlen >= 8 ? w : w & ((1ULL << (8 * mlen)) - 1);
}

/* The remembered ri into r->ri: each string up to its NUL (the bytes after it in r are left as they
 * are, as in any record: strings are read up to their NUL). */
static void rc_copy_ri(struct k8s_request_info *dst, const struct rc_entry *e)
{
	dst->is_resource_request = e->ri.is_resource_request;
	dst->truncated = e->ri.truncated;
	memcpy(dst->verb, e->ri.verb, sizeof(dst->verb));
	memcpy(dst->api_prefix, e->ri.api_prefix, sizeof(dst->api_prefix));
	if (e->short_fields) { /* the usual case: six moves of RC_SHORT bytes, no test per field */
#pragma GCC unroll 6 /* RC_NFIELDS */
		for (int f = 0; f < RC_NFIELDS; f++)
			memcpy((char *)dst + rc_field_off[f], (const char *)&e->ri + rc_field_off[f], RC_SHORT);
		return;
	}
#pragma GCC unroll 6 /* RC_NFIELDS */
	for (int f = 0; f < RC_NFIELDS; f++) {
		char *d = (char *)dst + rc_field_off[f];
		const char *src = (const char *)&e->ri + rc_field_off[f];

		if (e->flen[f] < RC_SHORT)
			memcpy(d, src, RC_SHORT);
		else
			memcpy(d, src, (size_t)e->flen[f] + 1);
	}
}
_Static_assert(REC_FIELD_LEN >= RC_SHORT && REC_FIELD_LEN <= 256, "ri fields: lengths fit a byte");

/* e (filled) holds the classification of (method, raw)? */
static inline bool rc_holds(const struct rc_entry *e, const char *method, uint64_t mword, size_t mlen, const char *raw,
			    size_t len)
{
	return e->raw_len == len && e->mword == mword && e->mlen == mlen &&
	       (mlen <= 8 || mem_eq_short(e->method + 8, method + 8, mlen - 8)) && mem_eq_short(e->raw, raw, len);
}

/* Classify r's target the long way (parse, sanitise) and remember it in e (NULL: not to be remembered).
 * Out of line: the hit path of request_classify stays a small frame. */
static __attribute__((noinline)) void rc_miss(struct request_record *r, const char *raw_path, size_t len,
					      struct rc_entry *e, uint64_t h, uint64_t mword, size_t mlen)
{
	unsigned flags;

	k8s_request_info_parse(r->method, raw_path, len, &r->ri);
	flags = path_sanitize(raw_path, len, r->path, sizeof(r->path));
	if (e && !(flags & PS_REDACTED)) {
		e->h = h;
		e->mword = mword;
		e->mlen = (uint8_t)mlen;
		e->raw_len = (uint16_t)len;
		memcpy(e->raw, raw_path, len);
		memset(e->method, 0, sizeof(e->method));
		memcpy(e->method, r->method, mlen);
		memset(&e->ri, 0, sizeof(e->ri));
		e->ri.is_resource_request = r->ri.is_resource_request;
		e->ri.truncated = r->ri.truncated;
		memcpy(e->ri.verb, r->ri.verb, sizeof(e->ri.verb));
		memcpy(e->ri.api_prefix, r->ri.api_prefix, sizeof(e->ri.api_prefix));
		e->short_fields = true;
		for (int f = 0; f < RC_NFIELDS; f++) {
			const char *src = (const char *)&r->ri + rc_field_off[f];
			size_t n = strnlen(src, REC_FIELD_LEN - 1);

			e->flen[f] = (uint8_t)n;
			e->short_fields &= n < RC_SHORT;
			memcpy((char *)&e->ri + rc_field_off[f], src, n);
		}
		e->path_len = (uint16_t)strnlen(r->path, sizeof(r->path) - 1);
		memcpy(e->path, r->path, e->path_len);
		e->path[e->path_len] = '\0';
		rc_last = e;
	}
}

void request_classify(struct request_record *r, const char *raw_path, size_t len)
{
	size_t mlen = method_strlen(r->method);
	uint64_t mword = method_word(r->method, mlen), h;
	struct rc_entry *e;

	if (len >= RC_RAW_MAX) {
		rc_miss(r, raw_path, len, NULL, 0, mword, mlen);
		return;
	}
	e = rc_last;
	if (!e || !rc_holds(e, r->method, mword, mlen, raw_path, len)) {
		h = hash_bytes(raw_path, len, mword ^ mlen) | 1;
		e = &rc_cache[(h >> 32) % RC_SLOTS];
		if (e->h != h || !rc_holds(e, r->method, mword, mlen, raw_path, len)) {
			rc_miss(r, raw_path, len, e, h, mword, mlen);
			return;
		}
	}
	rc_last = e;
	rc_copy_ri(&r->ri, e);
	mem_copy_short(r->path, e->path, (size_t)e->path_len + 1);
}
