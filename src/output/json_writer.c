// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void jw_init(struct json_writer *w, FILE *out, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->pretty = pretty;
	w->first[0] = true;
}

static void indent(struct json_writer *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Called before every value or key. */
static void sep(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		fputc(',', w->out);
	w->first[w->depth] = false;
	if (w->depth > 0)
		indent(w);
}

static void open(struct json_writer *w, char c)
{
	sep(w);
	fputc(c, w->out);
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
	fputc(c, w->out);
	if (w->depth == 0) {
		/* a finished top-level value: the next one starts fresh (JSON lines) */
		w->first[0] = true;
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

void json_write_escaped(FILE *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	fputc('"', out);
	while (i < n) {
		unsigned char c = s[i];
		size_t l;

		switch (c) {
		case '"': fputs("\\\"", out); i++; continue;
		case '\\': fputs("\\\\", out); i++; continue;
		case '\n': fputs("\\n", out); i++; continue;
		case '\r': fputs("\\r", out); i++; continue;
		case '\t': fputs("\\t", out); i++; continue;
		case '\b': fputs("\\b", out); i++; continue;
		case '\f': fputs("\\f", out); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			i++;
			continue;
		}
		l = utf8_seq_len(s + i, n - i);
		if (l == 0) {
			fputs("\\ufffd", out);
			i++;
			continue;
		}
		fwrite(s + i, 1, l, out);
		i += l;
	}
	fputc('"', out);
}

void jw_key(struct json_writer *w, const char *key)
{
	sep(w);
	json_write_escaped(w->out, key, strlen(key));
	fputc(':', w->out);
	if (w->pretty)
		fputc(' ', w->out);
	w->after_key = true;
}

void jw_strn(struct json_writer *w, const char *s, size_t len)
{
	sep(w);
	json_write_escaped(w->out, s ? s : "", s ? len : 0);
}

void jw_str(struct json_writer *w, const char *s)
{
	jw_strn(w, s, s ? strlen(s) : 0);
}

void jw_int(struct json_writer *w, int64_t v)
{
	sep(w);
	fprintf(w->out, "%" PRId64, v);
}

void jw_uint(struct json_writer *w, uint64_t v)
{
	sep(w);
	fprintf(w->out, "%" PRIu64, v);
}

void jw_double(struct json_writer *w, double v)
{
	sep(w);
	if (!isfinite(v)) {
		fputs("null", w->out);
		return;
	}
	if (v == (double)(int64_t)v && fabs(v) < 1e15)
		fprintf(w->out, "%" PRId64, (int64_t)v);
	else
		fprintf(w->out, "%.10g", v);
}

void jw_bool(struct json_writer *w, bool v)
{
	sep(w);
	fputs(v ? "true" : "false", w->out);
}

void jw_null(struct json_writer *w)
{
	sep(w);
	fputs("null", w->out);
}

void jw_kv_str(struct json_writer *w, const char *k, const char *v) { jw_key(w, k); jw_str(w, v); }
void jw_kv_strn(struct json_writer *w, const char *k, const char *v, size_t len) { jw_key(w, k); jw_strn(w, v, len); }
void jw_kv_int(struct json_writer *w, const char *k, int64_t v) { jw_key(w, k); jw_int(w, v); }
void jw_kv_uint(struct json_writer *w, const char *k, uint64_t v) { jw_key(w, k); jw_uint(w, v); }
void jw_kv_double(struct json_writer *w, const char *k, double v) { jw_key(w, k); jw_double(w, v); }
void jw_kv_bool(struct json_writer *w, const char *k, bool v) { jw_key(w, k); jw_bool(w, v); }
