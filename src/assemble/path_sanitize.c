// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/path_sanitize.h"

#include <stdlib.h>
#include <string.h>

#include "util/swar.h"

static const char *const secret_substrings[] = {
	"token", "password", "passwd", "secret", "credential", "apikey", "api_key", "api-key",
	"signature", "session", "jwt", "auth",
};
static const char *const secret_names[] = { "key", "sig", "code", "pwd" };

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

static bool contains_ci(const char *h, size_t hl, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= hl; i++) {
		size_t j;

		for (j = 0; j < n; j++) {
			char c = h[i + j];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != needle[j])
				break;
		}
		if (j == n)
			return true;
	}
	return false;
}

bool path_param_is_secret(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(secret_substrings) / sizeof(secret_substrings[0]); i++)
		if (contains_ci(name, len, secret_substrings[i]))
			return true;
	for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++)
		if (len == strlen(secret_names[i]) && contains_ci(name, len, secret_names[i]))
			return true;
	return false;
}

/* Decode a raw query key for matching: %XX (also invalid ones kept literally) and '+' -> ' '.
 * Any byte that is not a name character is dropped so "acc%65ss_token" and "access%5Ftoken" match. */
static bool raw_key_is_secret(const char *k, size_t len)
{
	char buf[128];
	size_t o = 0;

	for (size_t i = 0; i < len && o < sizeof(buf); i++) {
		unsigned char c = (unsigned char)k[i];
		int h, l;

		if (c == '%' && i + 2 < len && (h = hexval((unsigned char)k[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)k[i + 2])) >= 0) {
			c = (unsigned char)(h << 4 | l);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		buf[o++] = (char)c;
	}
	/* a very long name is checked on its decoded prefix and on its raw form */
	return path_param_is_secret(buf, o) || path_param_is_secret(k, len);
}

struct sink {
	char *p;
	size_t len, cap;
};

static void put(struct sink *s, const char *b, size_t n)
{
	if (s->len + n > s->cap)
		return; /* cannot happen: cap is sized for the worst case */
	memcpy(s->p + s->len, b, n);
	s->len += n;
}

static unsigned put_escaped(struct sink *s, const char *b, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned flags = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c < 0x20 || c == 0x7f || c == ' ') {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			put(s, e, 3);
			flags |= PS_ENCODED;
		} else {
			put(s, (const char *)&c, 1);
		}
	}
	return flags;
}

/* in[0..len) holds nothing put_escaped changes (bytes <= 0x20, 0x7f) */
static bool all_plain(const char *in, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x = swar_load(in + i);

		if (swar_less(x, 0x21) | swar_eq(x, 0x7f))
			return false;
	}
	for (; i < len; i++)
		if ((unsigned char)in[i] <= 0x20 || in[i] == 0x7f)
			return false;
	return true;
}

unsigned path_sanitize(const char *in, size_t len, char *out, size_t cap)
{
	const char *q = in ? memchr(in, '?', len) : NULL;
	size_t plen = q ? (size_t)(q - in) : len, mlen = strlen(PS_TRUNC_MARKER);
	struct sink s;
	unsigned flags = 0;
	char local[4096];

	if (!cap)
		return 0;
	if (!in)
		len = plen = 0;
	/* the common case, twice per request: a path without query that needs no change and fits */
	if (!q && len < cap && all_plain(in, len)) {
		if (len)
			memcpy(out, in, len);
		out[len] = 0;
		return 0;
	}
	/* worst case: every byte escaped (x3), every empty value redacted */
	s.cap = 3 * len + (len + 1) * sizeof(PS_REDACTED_VALUE) + 1;
	s.p = s.cap <= sizeof(local) ? local : malloc(s.cap);
	s.len = 0;
	if (!s.p) {
		out[0] = 0;
		return PS_TRUNCATED;
	}
	flags |= put_escaped(&s, in, plen);
	if (q) {
		size_t pos = plen + 1;

		put(&s, "?", 1);
		while (pos <= len) {
			const char *pair = in + pos, *eq;
			size_t n = 0;

			/* '&' and ';' both separate (old servers split on ';'; treating it as one only redacts more) */
			while (pos + n < len && pair[n] != '&' && pair[n] != ';')
				n++;
			eq = memchr(pair, '=', n);
			if (eq && raw_key_is_secret(pair, (size_t)(eq - pair))) {
				flags |= put_escaped(&s, pair, (size_t)(eq - pair) + 1);
				if (!((size_t)(pair + n - eq - 1) == strlen(PS_REDACTED_VALUE) &&
				      !memcmp(eq + 1, PS_REDACTED_VALUE, strlen(PS_REDACTED_VALUE))))
					flags |= PS_REDACTED;
				put(&s, PS_REDACTED_VALUE, strlen(PS_REDACTED_VALUE));
			} else {
				flags |= put_escaped(&s, pair, n);
			}
			pos += n;
			if (pos < len)
				put(&s, pair + n, 1); /* the separator */
			pos++;
		}
	}
	if (s.len <= cap - 1) {
		memcpy(out, s.p, s.len);
		out[s.len] = 0;
	} else if (cap - 1 < mlen) {
		memcpy(out, s.p, cap - 1);
		out[cap - 1] = 0;
		flags |= PS_TRUNCATED;
	} else {
		size_t keep = cap - 1 - mlen;

		/* do not split a UTF-8 sequence or a %XX escape */
		while (keep > 0 && ((unsigned char)s.p[keep] & 0xc0) == 0x80)
			keep--;
		if (keep >= 1 && s.p[keep - 1] == '%')
			keep -= 1;
		else if (keep >= 2 && s.p[keep - 2] == '%')
			keep -= 2;
		/* never keep a partial "secret=REDACTED": drop that pair's fragment (a later pass would redact
		 * the marker away, and the output would not be stable) */
		if (q && keep > plen) {
			size_t ps = keep;
			const char *e;

			while (ps > plen + 1 && s.p[ps - 1] != '&' && s.p[ps - 1] != ';')
				ps--;
			e = memchr(s.p + ps, '=', keep - ps);
			if (e && raw_key_is_secret(s.p + ps, (size_t)(e - (s.p + ps))))
				keep = ps;
		}
		memcpy(out, s.p, keep);
		memcpy(out + keep, PS_TRUNC_MARKER, mlen + 1);
		flags |= PS_TRUNCATED;
	}
	if (s.p != local)
		free(s.p);
	return flags;
}
