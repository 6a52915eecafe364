// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The OTLP exporter's health families (src/output/otlp_metrics.c): sums over exporters, every sample
 * read back, the last-status gauge only with open exporters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "output/otlp_metrics.h"

static char *render(const struct otlp_metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(otlp_metrics_render(f, m), 0);
	fclose(f);
	return buf;
}

/* the value of the sample line "NAME VALUE" (NAME with its labels), or -1 when absent */
static long long sample(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static void test_sums_and_samples(void **state)
{
	struct otlp_metrics m = { 0 };
	struct otlp_exporter_stats a = { .queued = 10, .sent = 7, .dropped = 3, .failed = 2, .rejected = 1,
					 .sampled_out = 4, .skipped = 5, .encode_errors = 0, .export_errors = 6,
					 .retries = 5, .batches = 2, .queue_len = 0, .queue_capacity = 400,
					 .last_status = 503 };
	struct otlp_exporter_stats b = { .queued = 1, .sent = 1, .queue_len = 1, .queue_capacity = 400, .last_status = -1 };
	char *t;

	(void)state;
	otlp_metrics_add(&m, &a);
	otlp_metrics_add(&m, &b);
	m.no_exporter = 9;
	m.exporters = 2;
	t = render(&m);
	assert_int_equal(sample(t, "kapimon_otlp_spans_total{result=\"queued\"}"), 11);
	assert_int_equal(sample(t, "kapimon_otlp_spans_total{result=\"dropped\"}"), 3);
	assert_int_equal(sample(t, "kapimon_otlp_spans_total{result=\"sampled_out\"}"), 4);
	assert_int_equal(sample(t, "kapimon_otlp_spans_total{result=\"skipped\"}"), 5);
	assert_int_equal(sample(t, "kapimon_otlp_spans_total{result=\"encode_error\"}"), 0);
	assert_int_equal(sample(t, "kapimon_otlp_spans_total{result=\"no_exporter\"}"), 9);
	assert_int_equal(sample(t, "kapimon_otlp_exported_spans_total{result=\"sent\"}"), 8);
	assert_int_equal(sample(t, "kapimon_otlp_exported_spans_total{result=\"failed\"}"), 2);
	assert_int_equal(sample(t, "kapimon_otlp_exported_spans_total{result=\"rejected\"}"), 1);
	assert_int_equal(sample(t, "kapimon_otlp_export_errors_total"), 6);
	assert_int_equal(sample(t, "kapimon_otlp_retries_total"), 5);
	assert_int_equal(sample(t, "kapimon_otlp_batches_total"), 2);
	assert_int_equal(sample(t, "kapimon_otlp_queue_spans"), 1);
	assert_int_equal(sample(t, "kapimon_otlp_queue_capacity_spans"), 800);
	assert_int_equal(sample(t, "kapimon_otlp_last_http_status"), -1); /* the last exporter added */
	/* HELP and TYPE once per family, before its samples */
	assert_non_null(strstr(t, "# HELP kapimon_otlp_spans_total "));
	assert_non_null(strstr(t, "# TYPE kapimon_otlp_spans_total counter\nkapimon_otlp_spans_total{"));
	assert_non_null(strstr(t, "# TYPE kapimon_otlp_queue_spans gauge\nkapimon_otlp_queue_spans 1\n"));
	free(t);
}

static void test_no_exporter_yet(void **state)
{
	struct otlp_metrics m = { 0 };
	char *t;

	(void)state;
	t = render(&m);
	assert_int_equal(sample(t, "kapimon_otlp_spans_total{result=\"queued\"}"), 0);
	assert_int_equal(sample(t, "kapimon_otlp_queue_capacity_spans"), 0);
	assert_null(strstr(t, "kapimon_otlp_last_http_status"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sums_and_samples),
		cmocka_unit_test(test_no_exporter_yet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
