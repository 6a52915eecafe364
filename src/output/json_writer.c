// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/json_writer.h"

#include <math.h>
#include <string.h>

#include "util/swar.h"

void jw_init(struct json_writer *w, FILE *out, bool pretty)
{
	/* not the buffer: 4 KiB of memset per writer for nothing */
	w->out = out;
	w->depth = 0;
	w->pretty = pretty;
	memset(w->first, 0, sizeof(w->first));
	w->first[0] = true;
	w->after_key = false;
	w->len = 0;
}

void jw_flush(struct json_writer *w)
{
	if (w->len) {
		fwrite(w->buf, 1, w->len, w->out);
		w->len = 0;
	}
}

static inline void put(struct json_writer *w, const void *s, size_t n)
{
	if (w->len + n > sizeof(w->buf)) {
		jw_flush(w);
		if (n > sizeof(w->buf)) {
			fwrite(s, 1, n, w->out);
			return;
		}
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static inline void put_c(struct json_writer *w, char c)
{
	if (w->len == sizeof(w->buf))
		jw_flush(w);
	w->buf[w->len++] = c;
}

#define PUT_LIT(w, lit) put(w, lit, sizeof(lit) - 1)

/* A top-level value is complete: hand it to the FILE. */
static inline void end_value(struct json_writer *w)
{
	if (w->depth == 0)
		jw_flush(w);
}

static void indent(struct json_writer *w)
{
	if (!w->pretty)
		return;
	put_c(w, '\n');
	for (int i = 0; i < w->depth; i++)
		PUT_LIT(w, "  ");
}

/* Called before every value or key. */
static inline __attribute__((always_inline)) void sep(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		put_c(w, ',');
	w->first[w->depth] = false;
	if (w->depth > 0)
		indent(w);
}

static void open(struct json_writer *w, char c)
{
	sep(w);
	put_c(w, c);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct json_writer *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth > 0)
		w->depth--;
	if (!empty)
		indent(w);
	put_c(w, c);
	if (w->depth == 0) {
		/* a finished top-level value: the next one starts fresh (JSON lines) */
		w->first[0] = true;
		jw_flush(w);
	}
}

void jw_obj_begin(struct json_writer *w) { open(w, '{'); }
void jw_obj_end(struct json_writer *w) { close_(w, '}'); }
void jw_arr_begin(struct json_writer *w) { open(w, '['); }
void jw_arr_end(struct json_writer *w) { close_(w, ']'); }

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Bytes that cannot be copied as they are: control bytes, '"', '\\', DEL and all non-ASCII (checked
 * as UTF-8). */
static const bool needs_escape[256] = {
	[0x00 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f ... 0xff] = true,
};

/* Any byte of x that needs_escape[]? */
static inline bool word_needs_escape(uint64_t x)
{
	return (swar_less(x, 0x20) | swar_eq(x, '"') | swar_eq(x, '\\') | swar_eq(x, 0x7f) | swar_high(x)) != 0;
}

/* Length of the prefix of s that is copied as it is. */
static inline size_t plain_prefix(const unsigned char *s, size_t n)
{
	size_t j = 0;

	for (; j + 8 <= n; j += 8)
		if (word_needs_escape(swar_load(s + j)))
			break;
	while (j < n && !needs_escape[s[j]])
		j++;
	return j;
}

/* Room for n more bytes (n <= JW_BUF_SIZE); returns where they go. */
static inline char *reserve(struct json_writer *w, size_t n)
{
	if (w->len + n > sizeof(w->buf))
		jw_flush(w);
	return w->buf + w->len;
}

/* '"' s '"' and then `after` (0 = nothing) when s needs no escape and fits; false otherwise. Scans and
 * copies in one pass, a word at a time (a record's ~30 short strings: no call per string); on false
 * nothing is written (bytes past w->len are not output). */
static inline bool put_plain(struct json_writer *w, const unsigned char *s, size_t n, char after)
{
	char *p;
	size_t j = 0;

	if (n > sizeof(w->buf) / 4)
		return false;
	p = reserve(w, n + 3) + 1;
	for (; j + 8 <= n; j += 8) {
		uint64_t x = swar_load(s + j);

		if (word_needs_escape(x))
			return false;
		memcpy(p + j, &x, 8);
	}
	for (; j < n; j++) {
		if (needs_escape[s[j]])
			return false;
		p[j] = (char)s[j];
	}
	p[-1] = '"';
	p += n;
	*p++ = '"';
	if (after)
		*p++ = after;
	w->len = (size_t)(p - w->buf);
	return true;
}

static void escape(struct json_writer *w, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	if (put_plain(w, s, n, 0))
		return; /* the common case: nothing to escape */
	put_c(w, '"');
	while (i < n) {
		size_t j = i, l;
		unsigned char c;

		j += plain_prefix(s + j, n - j);
		if (j > i) {
			put(w, s + i, j - i);
			i = j;
			if (i == n)
				break;
		}
		c = s[i];
		switch (c) {
		case '"': PUT_LIT(w, "\\\""); i++; continue;
		case '\\': PUT_LIT(w, "\\\\"); i++; continue;
		case '\n': PUT_LIT(w, "\\n"); i++; continue;
		case '\r': PUT_LIT(w, "\\r"); i++; continue;
		case '\t': PUT_LIT(w, "\\t"); i++; continue;
		case '\b': PUT_LIT(w, "\\b"); i++; continue;
		case '\f': PUT_LIT(w, "\\f"); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			put(w, u, sizeof(u));
			i++;
			continue;
		}
		l = utf8_seq_len(s + i, n - i);
		if (l == 0) {
			PUT_LIT(w, "\\ufffd");
			i++;
			continue;
		}
		put(w, s + i, l);
		i += l;
	}
	put_c(w, '"');
}

void json_write_escaped(FILE *out, const char *str, size_t n)
{
	struct json_writer w;

	w.out = out;
	w.len = 0;
	escape(&w, (const unsigned char *)str, n);
	jw_flush(&w);
}

void jw_key(struct json_writer *w, const char *key)
{
	size_t n = strlen(key);

	sep(w);
	if (!w->pretty && put_plain(w, (const unsigned char *)key, n, ':')) {
		w->after_key = true;
		return;
	}
	escape(w, (const unsigned char *)key, n);
	put_c(w, ':');
	if (w->pretty)
		put_c(w, ' ');
	w->after_key = true;
}

void jw_strn(struct json_writer *w, const char *s, size_t len)
{
	sep(w);
	escape(w, (const unsigned char *)(s ? s : ""), s ? len : 0);
	end_value(w);
}

void jw_strn_noscan(struct json_writer *w, const char *s, size_t len)
{
	char *p;

	sep(w);
	if (len > sizeof(w->buf) / 4) {
		escape(w, (const unsigned char *)s, len);
	} else {
		p = reserve(w, len + 2);
		*p++ = '"';
		memcpy(p, s, len);
		p[len] = '"';
		w->len += len + 2;
	}
	end_value(w);
}

void jw_str(struct json_writer *w, const char *s)
{
	jw_strn(w, s, s ? strlen(s) : 0);
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				     "8081828384858687888990919293949596979899";

/* Digits right to left into a scratch, then a fixed-size copy into the buffer (reserved for it; only
 * the digits count): one division loop, no length pass, no call. */
static void put_u64(struct json_writer *w, uint64_t v)
{
	char t[40], *e = t + 20, *b = e;
	char *p = reserve(w, 20);

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		*--b = digit_pairs[d + 1];
		*--b = digit_pairs[d];
	}
	if (v >= 10) {
		*--b = digit_pairs[v * 2 + 1];
		*--b = digit_pairs[v * 2];
	} else {
		*--b = (char)('0' + v);
	}
	memcpy(p, b, 20); /* t[20..39]: read past the digits, never written out */
	w->len += (size_t)(e - b);
}

static void put_i64(struct json_writer *w, int64_t v)
{
	if (v < 0) {
		put_c(w, '-');
		put_u64(w, -(uint64_t)v);
	} else {
		put_u64(w, (uint64_t)v);
	}
}

void jw_int(struct json_writer *w, int64_t v)
{
	sep(w);
	put_i64(w, v);
	end_value(w);
}

void jw_uint(struct json_writer *w, uint64_t v)
{
	sep(w);
	put_u64(w, v);
	end_value(w);
}

void jw_double(struct json_writer *w, double v)
{
	sep(w);
	if (!isfinite(v)) {
		PUT_LIT(w, "null");
	} else if (v == (double)(int64_t)v && fabs(v) < 1e15) {
		put_i64(w, (int64_t)v);
	} else {
		char t[32];
		int n = snprintf(t, sizeof(t), "%.10g", v);

		put(w, t, n > 0 && n < (int)sizeof(t) ? (size_t)n : 0);
	}
	end_value(w);
}

void jw_bool(struct json_writer *w, bool v)
{
	sep(w);
	if (v)
		PUT_LIT(w, "true");
	else
		PUT_LIT(w, "false");
	end_value(w);
}

void jw_null(struct json_writer *w)
{
	sep(w);
	PUT_LIT(w, "null");
	end_value(w);
}

void jw_kv_str(struct json_writer *w, const char *k, const char *v) { jw_key(w, k); jw_str(w, v); }
void jw_kv_strn(struct json_writer *w, const char *k, const char *v, size_t len) { jw_key(w, k); jw_strn(w, v, len); }
void jw_kv_int(struct json_writer *w, const char *k, int64_t v) { jw_key(w, k); jw_int(w, v); }
void jw_kv_uint(struct json_writer *w, const char *k, uint64_t v) { jw_key(w, k); jw_uint(w, v); }
void jw_kv_double(struct json_writer *w, const char *k, double v) { jw_key(w, k); jw_double(w, v); }
void jw_kv_bool(struct json_writer *w, const char *k, bool v) { jw_key(w, k); jw_bool(w, v); }
