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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_escapes),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_json_lines),
	};
	return cmocka_run_group_tests_name("json_writer", tests, NULL, NULL);
}
