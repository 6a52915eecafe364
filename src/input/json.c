// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "input/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const struct json_doc *d, struct json_error *err, size_t pos, const char *fmt, ...)
{
	va_list ap;
	size_t line = 1, col = 1;

	if (!err)
		return -1;
	if (pos > d->src_len)
		pos = d->src_len;
	for (size_t i = 0; i < pos; i++) {
		if (d->src[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	err->line = line;
	err->col = col;
	err->offset = pos;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int push(struct json_doc *d, uint8_t type, size_t start)
{
	if (d->ntoks == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 64;
		struct json_tok *t = realloc(d->toks, nc * sizeof(*t));

		if (!t)
			return -1;
		d->toks = t;
		d->cap = nc;
	}
	struct json_tok *t = &d->toks[d->ntoks];

	t->type = type;
	t->escaped = false;
	t->start = (uint32_t)start;
	t->len = 0;
	t->next = (uint32_t)d->ntoks + 1;
	t->count = 0;
	return (int)d->ntoks++;
}

static inline int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char describe_buf[16];
static const char *describe(const char *s, size_t len, size_t i)
{
	unsigned char c;

	if (i >= len)
		return "end of input";
	c = (unsigned char)s[i];
	if (c >= 0x20 && c < 0x7f)
		snprintf(describe_buf, sizeof(describe_buf), "'%c'", c);
	else
		snprintf(describe_buf, sizeof(describe_buf), "byte 0x%02x", c);
	return describe_buf;
}

#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

int json_parse(struct json_doc *d, const char *s, size_t len, struct json_error *err)
{
	uint32_t stack[JSON_MAX_DEPTH];
	int sp = 0, t;
	size_t i = 0;
	bool key_mode = false;

	d->src = s;
	d->src_len = len;
	d->ntoks = 0;
	if (len >= UINT32_MAX)
		return fail(d, err, 0, "input too large (%zu bytes)", len);

parse_value:
	while (i < len && WS(s[i]))
		i++;
	if (i >= len)
		return fail(d, err, i, "unexpected end of input, expected a value");
	switch (s[i]) {
	case '{':
	case '[': {
		bool obj = s[i] == '{';

		if (sp >= JSON_MAX_DEPTH)
			return fail(d, err, i, "nesting deeper than %d", JSON_MAX_DEPTH);
		if ((t = push(d, obj ? JSON_OBJECT : JSON_ARRAY, i)) < 0)
			return fail(d, err, i, "out of memory");
		stack[sp++] = (uint32_t)t;
		i++;
		while (i < len && WS(s[i]))
			i++;
		if (i < len && s[i] == (obj ? '}' : ']')) {
			i++;
			d->toks[t].len = (uint32_t)(i - d->toks[t].start);
			d->toks[t].next = (uint32_t)d->ntoks;
			sp--;
			goto after_value;
		}
		if (obj)
			goto parse_key;
		goto parse_value;
	}
	case '"':
		key_mode = false;
		goto parse_string;
	case 't':
	case 'f':
	case 'n': {
		const char *lit = s[i] == 't' ? "true" : s[i] == 'f' ? "false" : "null";
		size_t l = strlen(lit);

		if (len - i < l || memcmp(s + i, lit, l))
			return fail(d, err, i, "invalid literal (expected '%s')", lit);
		if ((t = push(d, s[i] == 't' ? JSON_TRUE : s[i] == 'f' ? JSON_FALSE : JSON_NULL, i)) < 0)
			return fail(d, err, i, "out of memory");
		d->toks[t].len = (uint32_t)l;
		i += l;
		goto after_value;
	}
	default: {
		size_t st = i;

		if (s[i] == '-')
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return fail(d, err, i, "unexpected %s, expected a value", describe(s, len, i));
		if (s[i] == '0') {
			i++;
		} else {
			while (i < len && s[i] >= '0' && s[i] <= '9')
				i++;
		}
		if (i < len && s[i] == '.') {
			i++;
			if (i >= len || s[i] < '0' || s[i] > '9')
				return fail(d, err, i, "digit expected after decimal point");
			while (i < len && s[i] >= '0' && s[i] <= '9')
				i++;
		}
		if (i < len && (s[i] == 'e' || s[i] == 'E')) {
			i++;
			if (i < len && (s[i] == '+' || s[i] == '-'))
				i++;
			if (i >= len || s[i] < '0' || s[i] > '9')
				return fail(d, err, i, "digit expected in exponent");
			while (i < len && s[i] >= '0' && s[i] <= '9')
				i++;
		}
		if ((t = push(d, JSON_NUMBER, st)) < 0)
			return fail(d, err, st, "out of memory");
		d->toks[t].len = (uint32_t)(i - st);
		goto after_value;
	}
	}

parse_key:
	while (i < len && WS(s[i]))
		i++;
	if (i >= len || s[i] != '"')
		return fail(d, err, i, "unexpected %s, expected a string key", describe(s, len, i));
	key_mode = true; /* after a key comes ':' */
parse_string: {
	size_t st = ++i;
	bool esc = false;

	for (;;) {
		if (i >= len)
			return fail(d, err, st - 1, "unterminated string");
		unsigned char c = (unsigned char)s[i];

		if (c == '"')
			break;
		if (c == '\\') {
			esc = true;
			i++;
			if (i >= len)
				return fail(d, err, i, "unterminated string");
			switch (s[i]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				i++;
				break;
			case 'u':
				if (len - i < 5 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0 || hexval(s[i + 3]) < 0 ||
				    hexval(s[i + 4]) < 0)
					return fail(d, err, i, "invalid \\u escape");
				i += 5;
				break;
			default:
				return fail(d, err, i, "invalid escape: %s after a backslash", describe(s, len, i));
			}
			continue;
		}
		if (c < 0x20)
			return fail(d, err, i, "control character 0x%02x in string", c);
		i++;
	}
	if ((t = push(d, JSON_STRING, st)) < 0)
		return fail(d, err, st, "out of memory");
	d->toks[t].len = (uint32_t)(i - st);
	d->toks[t].escaped = esc;
	i++; /* closing quote */
	if (key_mode) {
		while (i < len && WS(s[i]))
			i++;
		if (i >= len || s[i] != ':')
			return fail(d, err, i, "unexpected %s, expected ':' after key", describe(s, len, i));
		i++;
		goto parse_value;
	}
	goto after_value;
}

after_value:
	if (sp == 0) {
		while (i < len && WS(s[i]))
			i++;
		if (i != len)
			return fail(d, err, i, "trailing %s after the JSON value", describe(s, len, i));
		return 0;
	}
	{
		uint32_t parent = stack[sp - 1];
		bool obj = d->toks[parent].type == JSON_OBJECT;

		d->toks[parent].count++;
		while (i < len && WS(s[i]))
			i++;
		if (i >= len)
			return fail(d, err, i, "unexpected end of input inside %s", obj ? "an object" : "an array");
		if (s[i] == ',') {
			i++;
			if (obj)
				goto parse_key;
			goto parse_value;
		}
		if (s[i] == (obj ? '}' : ']')) {
			i++;
			d->toks[parent].len = (uint32_t)(i - d->toks[parent].start);
			d->toks[parent].next = (uint32_t)d->ntoks;
			sp--;
			goto after_value;
		}
		return fail(d, err, i, "unexpected %s, expected ',' or '%c'", describe(s, len, i), obj ? '}' : ']');
	}
}

void json_doc_free(struct json_doc *d)
{
	free(d->toks);
	d->toks = NULL;
	d->ntoks = d->cap = 0;
}

static size_t put_utf8(char *buf, size_t cap, size_t o, uint32_t cp)
{
	char tmp[4];
	size_t n;

	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | (cp >> 18));
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (size_t k = 0; k < n; k++)
		if (o + k + 1 < cap)
			buf[o + k] = tmp[k];
	return n;
}

static uint32_t hex4(const char *p)
{
	return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

long json_str(const struct json_doc *d, int tok, char *buf, size_t cap)
{
	const struct json_tok *t;
	const char *s;
	size_t o = 0;

	if (tok < 0 || (size_t)tok >= d->ntoks || d->toks[tok].type != JSON_STRING)
		return -1;
	t = &d->toks[tok];
	s = d->src + t->start;
	for (size_t i = 0; i < t->len; i++) {
		char c = s[i];

		if (c != '\\') {
			if (o + 1 < cap)
				buf[o] = c;
			o++;
			continue;
		}
		c = s[++i];
		switch (c) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u': {
			uint32_t cp = hex4(s + i + 1);

			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (i + 6 < t->len && s[i + 1] == '\\' && s[i + 2] == 'u') {
					uint32_t lo = hex4(s + i + 3);

					if (lo >= 0xdc00 && lo < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						i += 6;
					} else {
						cp = 0xfffd;
					}
				} else {
					cp = 0xfffd;
				}
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				cp = 0xfffd;
			}
			o += put_utf8(buf, cap, o, cp);
			continue;
		}
		default: break; /* " \ / */
		}
		if (o + 1 < cap)
			buf[o] = c;
		o++;
	}
	if (cap)
		buf[o < cap ? o : cap - 1] = '\0';
	return (long)o;
}

const char *json_raw_str(const struct json_doc *d, int tok, size_t *len)
{
	if (tok < 0 || (size_t)tok >= d->ntoks || d->toks[tok].type != JSON_STRING || d->toks[tok].escaped)
		return NULL;
	*len = d->toks[tok].len;
	return d->src + d->toks[tok].start;
}

bool json_num(const struct json_doc *d, int tok, double *out)
{
	char tmp[64];
	char *end;
	const struct json_tok *t;

	if (tok < 0 || (size_t)tok >= d->ntoks)
		return false;
	t = &d->toks[tok];
	if ((t->type != JSON_NUMBER && t->type != JSON_STRING) || t->len == 0 || t->len >= sizeof(tmp) || t->escaped)
		return false;
	memcpy(tmp, d->src + t->start, t->len);
	tmp[t->len] = '\0';
	*out = strtod(tmp, &end);
	return *end == '\0' && end != tmp;
}

int json_obj_get(const struct json_doc *d, int obj, const char *key)
{
	size_t kl = strlen(key);
	uint32_t k;

	if (obj < 0 || (size_t)obj >= d->ntoks || d->toks[obj].type != JSON_OBJECT)
		return -1;
	k = (uint32_t)obj + 1;
	for (uint32_t m = 0; m < d->toks[obj].count; m++) {
		const struct json_tok *kt = &d->toks[k];

		if (!kt->escaped) {
			if (kt->len == kl && !memcmp(d->src + kt->start, key, kl))
				return (int)k + 1;
		} else {
			char tmp[256];
			long l = json_str(d, (int)k, tmp, sizeof(tmp));

			if (l == (long)kl && !memcmp(tmp, key, kl))
				return (int)k + 1;
		}
		k = d->toks[k + 1].next;
	}
	return -1;
}
