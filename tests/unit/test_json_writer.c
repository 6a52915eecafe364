// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "output/json_writer.h"

static char *render(void (*fn)(struct json_writer *w))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer w;

	jw_init(&w, f, false);
	fn(&w);
	fclose(f);
	return buf;
}

static void obj(struct json_writer *w)
{
	jw_obj_begin(w);
	jw_kv_str(w, "a", "x\"y\\z\n\x01\x7f");
	jw_kv_int(w, "b", -3);
	jw_key(w, "c");
	jw_arr_begin(w);
	jw_uint(w, 1);
	jw_double(w, 0.5);
	jw_double(w, 0.0 / 0.0);
	jw_arr_end(w);
	jw_key(w, "d");
	jw_obj_begin(w);
	jw_obj_end(w);
	jw_obj_end(w);
}

static void test_nesting_and_escapes(void **state)
{
	char *s = render(obj);

	assert_string_equal(s, "{\"a\":\"x\\\"y\\\\z\\n\\u0001\\u007f\",\"b\":-3,\"c\":[1,0.5,null],\"d\":{}}");
	free(s);
}

static void bad_utf8(struct json_writer *w)
{
	/* overlong, truncated, surrogate, valid 2- and 4-byte */
	static const char in[] = "\xc0\xaf|\xe2\x82|\xed\xa0\x80|\xc3\xa9|\xf0\x9f\x98\x80|\0";

	jw_strn(w, in, sizeof(in) - 1);
}

static void test_invalid_utf8_replaced(void **state)
{
	char *s = render(bad_utf8);

	assert_string_equal(s, "\"\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\xc3\xa9|\xf0\x9f\x98\x80|\\u0000\"");
	free(s);
}

static void two_lines(struct json_writer *w)
{
	jw_obj_begin(w);
	jw_kv_bool(w, "x", true);
	jw_obj_end(w);
	fputc('\n', w->out);
	jw_obj_begin(w);
	jw_kv_bool(w, "y", false);
	jw_obj_end(w);
}

static void test_json_lines(void **state)
{
	char *s = render(two_lines);

	assert_string_equal(s, "{\"x\":true}\n{\"y\":false}");
	free(s);
}

/* The byte-at-a-time escaper the writer had before its word-at-a-time scan: the reference. */
static size_t ref_utf8_len(const unsigned char *s, size_t n)
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
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void ref_escape(FILE *out, const unsigned char *s, size_t n)
{
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
		l = ref_utf8_len(s + i, n - i);
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

/* Random strings (special bytes at every offset of the 8-byte words, lengths across the buffer
 * size) escape exactly as the reference does, as values and as keys. */
static void test_escape_matches_reference(void **state)
{
	static const unsigned char alphabet[] = { 'a', 'Z', '0', ' ', '/', '"', '\\', '\n', 0x01, 0x1f, 0x7f, 0x00,
						  0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0xc0 };
	static unsigned char in[9000];
	unsigned seed = 1;

	for (int iter = 0; iter < 3000; iter++) {
		size_t n = iter < 2000 ? (size_t)(iter % 40) : (size_t)(rand_r(&seed) % sizeof(in));
		char *a = NULL, *b = NULL;
		size_t al = 0, bl = 0;
		FILE *fa = open_memstream(&a, &al), *fb = open_memstream(&b, &bl);
		struct json_writer w;

		for (size_t i = 0; i < n; i++)
			in[i] = rand_r(&seed) % 4 ? (unsigned char)('a' + rand_r(&seed) % 26)
						  : alphabet[rand_r(&seed) % sizeof(alphabet)];
		jw_init(&w, fa, false);
		jw_strn(&w, (const char *)in, n);
		json_write_escaped(fa, (const char *)in, n);
		fclose(fa);
		ref_escape(fb, in, n);
		ref_escape(fb, in, n);
		fclose(fb);
		assert_int_equal(al, bl);
		assert_memory_equal(a, b, al);
		free(a);
		free(b);
	}
}

/* Integers of every length (each power of ten and its neighbours) print as printf prints them. */
static void test_integers_every_length(void **state)
{
	uint64_t p10 = 1;

	for (int k = 0; k <= 20; k++) {
		uint64_t vals[3] = { p10 - 1, p10, p10 + 1 };

		for (int i = 0; i < 3; i++) {
			char *a = NULL, want[64];
			size_t al = 0;
			FILE *f = open_memstream(&a, &al);
			struct json_writer w;

			jw_init(&w, f, false);
			jw_arr_begin(&w);
			jw_uint(&w, vals[i]);
			jw_int(&w, -(int64_t)(vals[i] >> 1));
			jw_arr_end(&w);
			fclose(f);
			snprintf(want, sizeof(want), "[%llu,%lld]", (unsigned long long)vals[i], -(long long)(vals[i] >> 1));
			assert_string_equal(a, want);
			free(a);
		}
		p10 = k < 19 ? p10 * 10 : UINT64_MAX;
	}
}

static void literal_keys(struct json_writer *w)
{
	jw_obj_begin(w);
	JW_KEY(w, "a");
	jw_int(w, 1);
	JW_KEY(w, "latency_ns");
	jw_uint(w, UINT64_MAX);
	jw_key(w, "q\"k");
	jw_int(w, INT64_MIN);
	JW_KEY(w, "d");
	jw_double(w, -0.25);
	JW_KEY(w, "e");
	jw_double(w, 1e300);
	jw_obj_end(w);
}

static void test_literal_keys_and_numbers(void **state)
{
	char *s = render(literal_keys);

	assert_string_equal(s, "{\"a\":1,\"latency_ns\":18446744073709551615,\"q\\\"k\":-9223372036854775808,"
			       "\"d\":-0.25,\"e\":1e+300}");
	free(s);
}

/* Records longer than the writer's buffer come out whole and in order. */
static void big(struct json_writer *w)
{
	static char v[3000];

	memset(v, 'x', sizeof(v));
	jw_arr_begin(w);
	for (int i = 0; i < 5; i++)
		jw_strn(w, v, sizeof(v));
	jw_arr_end(w);
}

static void test_longer_than_buffer(void **state)
{
	char *s = render(big);
	size_t n = strlen(s);

	assert_int_equal(n, 2 + 5 * 3002 + 4);
	assert_int_equal(s[0], '[');
	assert_int_equal(s[n - 1], ']');
	assert_int_equal(strspn(s + 2, "x"), 3000);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_matches_reference),
		cmocka_unit_test(test_integers_every_length),
		cmocka_unit_test(test_literal_keys_and_numbers),
		cmocka_unit_test(test_longer_than_buffer),
		cmocka_unit_test(test_nesting_and_escapes),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_json_lines),
	};
	return cmocka_run_group_tests_name("json_writer", tests, NULL, NULL);
}
