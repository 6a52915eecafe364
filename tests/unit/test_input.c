// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* JSON reader, CSV reader, timestamps, event loaders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "input/csv.h"
#include "input/events.h"
#include "input/json.h"
#include "input/timeparse.h"

static void test_json_basic(void **state)
{
	const char *s = "{\"a\": [1, -2.5e3, true, null], \"b\": {\"c\": \"x\\\"y\\u00e9\\ud83d\\ude00\"}, \"d\": 0}";
	struct json_doc d = { 0 };
	struct json_error e;
	char buf[64];
	double v;

	assert_int_equal(json_parse(&d, s, strlen(s), &e), 0);
	int a = json_obj_get(&d, 0, "a");
	assert_true(a > 0);
	assert_int_equal(d.toks[a].type, JSON_ARRAY);
	assert_int_equal(d.toks[a].count, 4);
	assert_true(json_num(&d, a + 2, &v));
	assert_true(v == -2500.0);
	int b = json_obj_get(&d, 0, "b");
	int cc = json_obj_get(&d, b, "c");
	assert_int_equal(json_str(&d, cc, buf, sizeof(buf)), 1 + 1 + 1 + 2 + 4);
	assert_string_equal(buf, "x\"y\xc3\xa9\xf0\x9f\x98\x80");
	int dd = json_obj_get(&d, 0, "d");
	assert_true(json_num(&d, dd, &v));
	assert_true(v == 0);
	assert_int_equal(json_obj_get(&d, 0, "zz"), -1);
	assert_int_equal(json_obj_get(&d, a, "x"), -1); /* not an object */
	/* truncation keeps a NUL and reports the full length */
	assert_int_equal(json_str(&d, cc, buf, 3), 9);
	assert_string_equal(buf, "x\"");
	json_doc_free(&d);
}

static void expect_error(const char *s, size_t line, size_t col, const char *needle)
{
	struct json_doc d = { 0 };
	struct json_error e;

	assert_int_equal(json_parse(&d, s, strlen(s), &e), -1);
	if (line && (e.line != line || e.col != col))
		fail_msg("error for '%s' at %zu:%zu, expected %zu:%zu (%s)", s, e.line, e.col, line, col, e.msg);
	if (!strstr(e.msg, needle))
		fail_msg("error for '%s' is '%s', expected '%s'", s, e.msg, needle);
	json_doc_free(&d);
}

static void test_json_errors(void **state)
{
	expect_error("", 1, 1, "unexpected end");
	expect_error("{\"a\":1,}", 1, 8, "expected a string key");
	expect_error("{\"a\" 1}", 1, 6, "expected ':'");
	expect_error("[1,2", 1, 5, "end of input");
	expect_error("{\n  \"a\": tru}", 2, 8, "invalid literal");
	expect_error("\"abc", 1, 1, "unterminated string");
	expect_error("\"a\\x\"", 1, 4, "invalid escape");
	expect_error("\"a\\u12\"", 1, 4, "invalid \\u");
	expect_error("\"a\tb\"", 1, 3, "control character");
	expect_error("01", 1, 2, "trailing");
	expect_error("-", 1, 2, "expected a value");
	expect_error("1.", 1, 3, "decimal point");
	expect_error("1e+", 1, 4, "exponent");
	expect_error("{} x", 1, 4, "trailing");
	/* nesting limit, no recursion */
	char deep[JSON_MAX_DEPTH + 10];

	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	expect_error(deep, 0, 0, "nesting");
}

static void test_json_skip_subtrees(void **state)
{
	const char *s = "{\"x\":{\"y\":[{\"z\":1},[2,[3]]]},\"k\":\"v\",\"e\":{},\"f\":[]}";
	struct json_doc d = { 0 };
	struct json_error e;
	size_t len;

	assert_int_equal(json_parse(&d, s, strlen(s), &e), 0);
	int k = json_obj_get(&d, 0, "k");
	const char *raw = json_raw_str(&d, k, &len);
	assert_non_null(raw);
	assert_int_equal(len, 1);
	assert_int_equal(raw[0], 'v');
	assert_int_equal(d.toks[json_obj_get(&d, 0, "e")].count, 0);
	assert_int_equal(d.toks[json_obj_get(&d, 0, "f")].type, JSON_ARRAY);
	assert_int_equal(d.toks[0].next, d.ntoks);
	json_doc_free(&d);
}

static int read_all_csv(const char *text, char out[][8][32], size_t *nf, size_t maxrec, struct csv_error *ce)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct csv_reader r;
	int rc, n = 0;

	csv_init(&r, f, ',');
	while ((rc = csv_next(&r, ce)) > 0 && (size_t)n < maxrec) {
		nf[n] = r.nfields;
		for (size_t i = 0; i < r.nfields && i < 8; i++)
			snprintf(out[n][i], 32, "%s", r.fields[i]);
		n++;
	}
	csv_free(&r);
	fclose(f);
	return rc < 0 ? -1 : n;
}

static void test_csv_rfc4180(void **state)
{
	char out[8][8][32];
	size_t nf[8];
	struct csv_error ce;
	int n = read_all_csv("\xef\xbb\xbft,v\r\n\"a,b\",\"x\"\"y\"\r\n\n\"multi\nline\",\r\n,3", out, nf, 8, &ce);

	assert_int_equal(n, 4);
	assert_string_equal(out[0][0], "t");
	assert_string_equal(out[1][0], "a,b");
	assert_string_equal(out[1][1], "x\"y");
	assert_string_equal(out[2][0], "multi\nline");
	assert_int_equal(nf[2], 2);
	assert_string_equal(out[2][1], "");
	assert_int_equal(nf[3], 2);
	assert_string_equal(out[3][1], "3");
}

static void test_csv_errors(void **state)
{
	char out[8][8][32];
	size_t nf[8];
	struct csv_error ce;

	assert_int_equal(read_all_csv("a,b\n\"open,1\n2,3\n", out, nf, 8, &ce), -1);
	assert_int_equal(ce.line, 2);
	assert_non_null(strstr(ce.msg, "unterminated"));
	assert_int_equal(read_all_csv("a,b\n\"x\"y,1\n", out, nf, 8, &ce), -1);
	assert_int_equal(ce.line, 2);
	assert_int_equal(ce.col, 4);
	assert_non_null(strstr(ce.msg, "after closing quote"));
	assert_int_equal(read_all_csv("a,b\n1\0002\n", out, nf, 8, &ce), 2); /* strlen stops at the NUL */
	assert_true(csv_is_missing(" NA"));
	assert_true(csv_is_missing(""));
	assert_false(csv_is_missing("0"));
}

static void test_csv_nul_byte(void **state)
{
	static const char data[] = "a,b\n1,\0002\n";
	FILE *f = fmemopen((void *)data, sizeof(data) - 1, "r");
	struct csv_reader r;
	struct csv_error ce;

	csv_init(&r, f, ',');
	assert_int_equal(csv_next(&r, &ce), 1);
	assert_int_equal(csv_next(&r, &ce), -1);
	assert_non_null(strstr(ce.msg, "NUL"));
	assert_int_equal(ce.line, 2);
	assert_int_equal(ce.col, 3);
	csv_free(&r);
	fclose(f);
}

static void test_time(void **state)
{
	int64_t ns;
	char buf[64];

	assert_true(time_parse_rfc3339("1970-01-01T00:00:00Z", 20, &ns));
	assert_int_equal(ns, 0);
	assert_true(time_parse_any("2026-11-21T15:04:05.123456789Z", 30, &ns));
	time_format_rfc3339(ns, 9, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-21T15:04:05.123456789Z");
	assert_true(time_parse_any("2026-11-21T17:04:05+02:00", 25, &ns));
	time_format_rfc3339(ns, 0, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-21T15:04:05Z");
	assert_true(time_parse_any("2000-02-29 12:00", 16, &ns));
	assert_int_equal(ns / 1000000000, 951825600);
	assert_true(time_parse_any("951825600", 9, &ns));
	assert_int_equal(ns, 951825600LL * 1000000000LL);
	assert_true(time_parse_any("951825600123", 12, &ns)); /* ms */
	assert_int_equal(ns, 951825600123LL * 1000000LL);
	assert_false(time_parse_any("2001-02-30T00:00:00Z", 20, &ns));
	assert_false(time_parse_any("yesterday", 9, &ns));
	assert_false(time_parse_any("2026-11-21T25:00:00Z", 20, &ns));
	time_format_rfc3339(-1, 3, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

struct collect {
	size_t n;
	double w;
	char last[3][64];
	int64_t last_ts;
};

static int collect_cb(void *ctx, int64_t ts, double w, const char *const *vals, const size_t *lens)
{
	struct collect *c = ctx;

	c->n++;
	c->w += w;
	c->last_ts = ts;
	for (int i = 0; i < 3; i++)
		snprintf(c->last[i], sizeof(c->last[i]), "%.*s", (int)lens[i], vals[i]);
	return 0;
}

static void test_events_flows(void **state)
{
	const char *data =
		"{\"kind\":\"request\",\"ts\":\"2026-11-21T15:04:05Z\",\"verb\":\"list\",\"resource\":\"pods\",\"user_agent\":\"k\\/1\",\"status\":200}\n"
		"{\"kind\":\"etcd\",\"ts\":\"2026-11-21T15:04:05Z\",\"op\":\"range\"}\n"
		"{\"kind\":\"stats\"}\n"
		"not json\n"
		"\n"
		"{\"kind\":\"request\",\"ts\":\"2026-11-21T15:04:06Z\",\"verb\":\"get\",\"resource\":\"leases\",\"status\":404,\"sample_factor\":4}\n"
		"{\"kind\":\"request\",\"verb\":\"get\"}\n";
	FILE *f = fmemopen((void *)data, strlen(data), "r");
	const struct ev_opts o = { .fmt = EV_AUTO, .ndims = 3, .dims = { "verb", "code", "user_agent" } };
	struct ev_stats st;
	struct collect c = { 0 };
	char err[128];

	assert_int_equal(ev_load(f, &o, collect_cb, &c, &st, err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(st.fmt, EV_FLOWS);
	assert_int_equal(c.n, 2);
	assert_true(c.w == 5.0);
	assert_int_equal(st.kind_etcd, 1);
	assert_int_equal(st.kind_stats, 1);
	assert_int_equal(st.bad, 1);
	assert_int_equal(st.first_bad_line, 4);
	assert_int_equal(st.bad_time, 1);
	assert_int_equal(st.blank, 1);
	assert_int_equal(st.missing_dim, 1);
	assert_string_equal(c.last[0], "get");
	assert_string_equal(c.last[1], "404");
	assert_string_equal(c.last[2], "");
}

static void test_events_audit(void **state)
{
	const char *data =
		"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"stage\":\"RequestReceived\",\"verb\":\"get\",\"requestReceivedTimestamp\":\"2026-11-21T15:04:05.000001Z\"}\n"
		"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"stage\":\"ResponseComplete\",\"verb\":\"get\",\"userAgent\":\"kubelet\","
		"\"objectRef\":{\"resource\":\"pods\",\"apiGroup\":\"\"},\"responseStatus\":{\"code\":200},\"requestReceivedTimestamp\":\"2026-11-21T15:04:05.000001Z\"}\n"
		"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"stage\":\"ResponseStarted\",\"verb\":\"watch\"}\n"
		"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"stage\":\"Panic\",\"verb\":\"list\",\"userAgent\":\"x\",\"objectRef\":{\"resource\":\"nodes\"},\"stageTimestamp\":\"2026-11-21T15:04:07Z\"}\n";
	FILE *f = fmemopen((void *)data, strlen(data), "r");
	const struct ev_opts o = { .fmt = EV_AUTO, .ndims = 3, .dims = { "user_agent", "verb", "resource" } };
	struct ev_stats st;
	struct collect c = { 0 };
	char err[128];

	assert_int_equal(ev_load(f, &o, collect_cb, &c, &st, err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(st.fmt, EV_AUDIT);
	assert_int_equal(c.n, 2);
	assert_int_equal(st.stage_skipped[0], 1);
	assert_int_equal(st.stage_skipped[1], 1);
	assert_string_equal(c.last[0], "x");
	assert_string_equal(c.last[2], "nodes");
}

static void test_events_errors(void **state)
{
	const char *data = "t,verb\nnot-a-time,get\n";
	FILE *f = fmemopen((void *)data, strlen(data), "r");
	const struct ev_opts o = { .fmt = EV_AUTO, .ndims = 1, .dims = { "verb" } };
	struct ev_stats st;
	struct collect c = { 0 };
	char err[128];

	assert_int_equal(ev_load(f, &o, collect_cb, &c, &st, err, sizeof(err)), -1);
	fclose(f);
	assert_non_null(strstr(err, "time column"));
	data = "{\"kind\":\"request\"\n{{{\n";
	f = fmemopen((void *)data, strlen(data), "r");
	assert_int_equal(ev_load(f, &o, collect_cb, &c, &st, err, sizeof(err)), -1);
	fclose(f);
	assert_non_null(strstr(err, "no usable record"));
	assert_non_null(strstr(err, "line 1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_basic),	  cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_json_skip_subtrees), cmocka_unit_test(test_csv_rfc4180),
		cmocka_unit_test(test_csv_errors),	  cmocka_unit_test(test_csv_nul_byte),
		cmocka_unit_test(test_time),		  cmocka_unit_test(test_events_flows),
		cmocka_unit_test(test_events_audit),	  cmocka_unit_test(test_events_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
