// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/path_sanitize.h"

struct ps_case {
	const char *in, *out;
	unsigned flags;
};

static const struct ps_case cases[] = {
	{ "/api/v1/pods", "/api/v1/pods", 0 },
	{ "/api/v1/pods?watch=1&labelSelector=app%3Dweb", "/api/v1/pods?watch=1&labelSelector=app%3Dweb", 0 },
	{ "/x?access_token=abc", "/x?access_token=REDACTED", PS_REDACTED },
	{ "/x?ACCESS_TOKEN=abc&b=1", "/x?ACCESS_TOKEN=REDACTED&b=1", PS_REDACTED },
	{ "/x?token=abc", "/x?token=REDACTED", PS_REDACTED },
	{ "/x?id_token=a&refresh_token=b", "/x?id_token=REDACTED&refresh_token=REDACTED", PS_REDACTED },
	{ "/x?userPassword=hunter2", "/x?userPassword=REDACTED", PS_REDACTED },
	{ "/x?client_secret=s", "/x?client_secret=REDACTED", PS_REDACTED },
	{ "/x?MySecretThing=s", "/x?MySecretThing=REDACTED", PS_REDACTED },
	{ "/x?api_key=k&apikey=k&key=k", "/x?api_key=REDACTED&apikey=REDACTED&key=REDACTED", PS_REDACTED },
	{ "/x?acc%65ss_token=abc", "/x?acc%65ss_token=REDACTED", PS_REDACTED }, /* escaped name */
	{ "/x?pass%77ord=abc", "/x?pass%77ord=REDACTED", PS_REDACTED },
	{ "/x?token+x=abc", "/x?token+x=REDACTED", PS_REDACTED },
	{ "/x?a=1;token=abc", "/x?a=1;token=REDACTED", PS_REDACTED }, /* ';' separator */
	{ "/x?token=", "/x?token=REDACTED", PS_REDACTED },
	{ "/x?token", "/x?token", 0 },                   /* no value */
	{ "/x?token=REDACTED", "/x?token=REDACTED", 0 }, /* already sanitised */
	{ "/x?monkey=banana&keys=2", "/x?monkey=banana&keys=2", 0 }, /* "key" only as a whole name */
	{ "/x?continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", "/x?continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", 0 },
	{ "/x?a=b=c&token=a=b", "/x?a=b=c&token=REDACTED", PS_REDACTED },
	{ "/x?", "/x?", 0 },
	{ "/x?&&", "/x?&&", 0 },
	{ "/a b", "/a%20b", PS_ENCODED },
	{ "/a\r\nX-Injected: 1", "/a%0D%0AX-Injected:%201", PS_ENCODED },
	{ "/a\x7f?q=\x01", "/a%7F?q=%01", PS_ENCODED },
	{ "/a?token=x\x01y", "/a?token=REDACTED", PS_REDACTED },
	{ "/caf\xc3\xa9", "/caf\xc3\xa9", 0 }, /* UTF-8 is left to the JSON writer */
	{ "/path/token=abc", "/path/token=abc", 0 }, /* only the query is inspected */
};

static void test_table(void **state)
{
	char out[256], again[256];
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned f = path_sanitize(cases[i].in, strlen(cases[i].in), out, sizeof(out));

		if (strcmp(out, cases[i].out) || f != cases[i].flags) {
			failures++;
			print_error("case %zu: got '%s' flags %u\n", i, out, f);
		}
		/* idempotent */
		path_sanitize(out, strlen(out), again, sizeof(again));
		if (strcmp(out, again)) {
			failures++;
			print_error("case %zu: not idempotent '%s' -> '%s'\n", i, out, again);
		}
	}
	assert_int_equal(failures, 0);
}

static void test_secret_names(void **state)
{
	static const char *yes[] = { "token", "X-Amz-Signature", "sessionid", "jwt", "Authorization", "credentials", "sig", "code", "pwd" };
	static const char *no[] = { "watch", "labelSelector", "fieldSelector", "resourceVersion", "limit", "continue", "timeoutSeconds", "dryRun", "fieldManager", "propagationPolicy" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(path_param_is_secret(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(path_param_is_secret(no[i], strlen(no[i])));
}

static void test_truncation(void **state)
{
	char in[600], out[64], again[64];
	unsigned f;

	memset(in, 'a', sizeof(in));
	in[0] = '/';
	f = path_sanitize(in, sizeof(in), out, sizeof(out));
	assert_true(f & PS_TRUNCATED);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + strlen(out) - strlen(PS_TRUNC_MARKER), PS_TRUNC_MARKER);

	/* the cut never keeps a partial UTF-8 sequence: 2-byte é repeated */
	for (size_t i = 1; i + 1 < sizeof(in); i += 2) {
		in[i] = '\xc3';
		in[i + 1] = '\xa9';
	}
	path_sanitize(in, 599, out, sizeof(out));
	{
		size_t body = strlen(out) - strlen(PS_TRUNC_MARKER);

		assert_true(body % 2 == 1); /* "/" + whole pairs */
		assert_true((unsigned char)out[body - 1] == 0xa9);
	}

	/* escapes are not split; a redacted pair cut short is dropped, and the result is stable */
	{
		const char *p = "/x?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1&token=secretsecretsecret&bbbbbbbbbbbbbbbbbbbbbbbb=2";
		f = path_sanitize(p, strlen(p), out, sizeof(out));
		assert_true(f & PS_TRUNCATED);
		assert_true(f & PS_REDACTED);
		assert_null(strstr(out, "secret"));
		assert_null(strstr(out, "token=")); /* cut inside token=REDACTED: the fragment went */
		path_sanitize(out, strlen(out), again, sizeof(again));
		assert_string_equal(out, again);
	}
	{
		char ctl[40];

		memset(ctl, '\x01', sizeof(ctl));
		ctl[0] = '/';
		path_sanitize(ctl, sizeof(ctl), out, 30);
		/* "/" then whole "%01" triples, then the marker */
		assert_int_equal((strlen(out) - strlen(PS_TRUNC_MARKER) - 1) % 3, 0);
	}
	/* tiny buffers */
	f = path_sanitize("/abcdef", 7, out, 4);
	assert_string_equal(out, "/ab");
	assert_true(f & PS_TRUNCATED);
	f = path_sanitize("/abcdef", 7, out, 1);
	assert_string_equal(out, "");
	assert_int_equal(path_sanitize("/abc", 4, out, 0), 0);
	path_sanitize(NULL, 5, out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_secret_names),
		cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests_name("path_sanitize", tests, NULL, NULL);
}
