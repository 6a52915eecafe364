// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The audit-log sink (src/output/audit_sink.c): records fed through its pipeline callback, the lines
 * read back as text and checked field by field against the kube-apiserver's audit Event shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "output/audit_sink.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S + 123456789ULL) /* 2023-11-14T22:13:20.123456789Z */

static struct request_record req(void)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	r.id = 42;
	r.start_ns = T0;
	r.latency_ns = 2500000; /* 2.5 ms */
	r.status = 200;
	r.sample_factor = 1.0;
	strcpy(r.method, "GET");
	strcpy(r.path, "/api/v1/namespaces/default/pods/web-1");
	strcpy(r.user_agent, "kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19");
	strcpy(r.client, "127.0.0.1:51234");
	r.ri.is_resource_request = true;
	strcpy(r.ri.verb, "get");
	strcpy(r.ri.api_prefix, "api");
	strcpy(r.ri.version, "v1");
	strcpy(r.ri.resource, "pods");
	strcpy(r.ri.namespace_, "default");
	strcpy(r.ri.name, "web-1");
	return r;
}

/* Feed records through the sink; return what it wrote (malloc'd). */
static char *run(const struct request_record *rs, size_t n, struct audit_sink *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct pipeline_sink s;

	assert_non_null(f);
	audit_sink_init(a, f, 0x1234);
	s = audit_sink_iface(a);
	for (size_t i = 0; i < n; i++)
		s.request(s.ctx, &rs[i]);
	jw_flush(&a->w);
	fclose(f);
	return buf;
}

static void test_resource_get(void **state)
{
	struct request_record r = req();
	struct audit_sink a;
	char *out = run(&r, 1, &a), id[AUDIT_ID_LEN], want[1024];

	(void)state;
	audit_id(0x1234, 42, id);
	snprintf(want, sizeof(want),
		 "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"%s\","
		 "\"stage\":\"ResponseComplete\",\"requestURI\":\"/api/v1/namespaces/default/pods/web-1\",\"verb\":\"get\","
		 "\"sourceIPs\":[\"127.0.0.1\"],\"userAgent\":\"kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19\","
		 "\"objectRef\":{\"resource\":\"pods\",\"namespace\":\"default\",\"name\":\"web-1\",\"apiVersion\":\"v1\"},"
		 "\"responseStatus\":{\"metadata\":{},\"code\":200},"
		 "\"requestReceivedTimestamp\":\"2023-11-14T22:13:20.123456Z\","
		 "\"stageTimestamp\":\"2023-11-14T22:13:20.125956Z\"}\n",
		 id);
	assert_string_equal(out, want);
	assert_int_equal(a.events, 1);
	/* no user (not known for this record), no annotations */
	assert_null(strstr(out, "\"user\""));
	assert_null(strstr(out, "annotations"));
	free(out);
}

/* An authenticated request: user.username and user.groups as the audit log has them (no uid, no extra). */
static void test_user(void **state)
{
	struct request_record r = req();
	struct audit_sink a;
	char *out;

	(void)state;
	r.has_user = true;
	strcpy(r.user, "system:serviceaccount:default:sa\"");
	r.ngroups = 2;
	strcpy(r.groups[0], "system:serviceaccounts");
	strcpy(r.groups[1], "system:authenticated");
	out = run(&r, 1, &a);
	assert_non_null(strstr(out, "\"verb\":\"get\",\"user\":{\"username\":\"system:serviceaccount:default:sa\\\"\","
				    "\"groups\":[\"system:serviceaccounts\",\"system:authenticated\"]},\"sourceIPs\""));
	free(out);
}

static void test_group_subresource_v6(void **state)
{
	struct request_record r = req();
	struct audit_sink a;
	char *out;

	(void)state;
	strcpy(r.path, "/apis/apps/v1/namespaces/ns/deployments/d/scale");
	strcpy(r.ri.api_prefix, "apis");
	strcpy(r.ri.group, "apps");
	strcpy(r.ri.resource, "deployments");
	strcpy(r.ri.subresource, "scale");
	strcpy(r.ri.namespace_, "ns");
	strcpy(r.ri.name, "d");
	strcpy(r.ri.verb, "patch");
	strcpy(r.client, "[::1]:40000");
	r.status = 404;
	out = run(&r, 1, &a);
	assert_non_null(strstr(out, "\"objectRef\":{\"resource\":\"deployments\",\"namespace\":\"ns\",\"name\":\"d\","
				    "\"apiGroup\":\"apps\",\"apiVersion\":\"v1\",\"subresource\":\"scale\"}"));
	assert_non_null(strstr(out, "\"sourceIPs\":[\"::1\"]"));
	assert_non_null(strstr(out, "\"verb\":\"patch\""));
	assert_non_null(strstr(out, "\"responseStatus\":{\"metadata\":{},\"code\":404}"));
	free(out);
}

static void test_cluster_list_only_present_fields(void **state)
{
	struct request_record r = req();
	struct audit_sink a;
	char *out;

	(void)state;
	strcpy(r.path, "/api/v1/namespaces?limit=500");
	strcpy(r.ri.verb, "list");
	strcpy(r.ri.resource, "namespaces");
	r.ri.namespace_[0] = r.ri.name[0] = '\0';
	out = run(&r, 1, &a);
	assert_non_null(strstr(out, "\"objectRef\":{\"resource\":\"namespaces\",\"apiVersion\":\"v1\"}"));
	assert_non_null(strstr(out, "\"requestURI\":\"/api/v1/namespaces?limit=500\""));
	free(out);
}

static void test_non_resource(void **state)
{
	struct request_record r = req();
	struct audit_sink a;
	char *out;

	(void)state;
	strcpy(r.method, "GET");
	strcpy(r.path, "/readyz");
	memset(&r.ri, 0, sizeof(r.ri));
	strcpy(r.ri.verb, "get"); /* lowercase HTTP method, as the apiserver */
	out = run(&r, 1, &a);
	assert_null(strstr(out, "objectRef"));
	assert_non_null(strstr(out, "\"requestURI\":\"/readyz\",\"verb\":\"get\""));
	free(out);
}

static void test_hostile_strings_escaped(void **state)
{
	struct request_record r = req();
	struct audit_sink a;
	char *out;

	(void)state;
	strcpy(r.user_agent, "evil\"},\"user\":{\"username\":\"admin\"}\n\x01\\");
	strcpy(r.path, "/api/v1/pods?x=\"\r\n{\x7f");
	strcpy(r.ri.name, "a\"b");
	r.user_agent[40] = '\0';
	out = run(&r, 1, &a);
	/* exactly one line, and the injected key did not appear as a key */
	assert_non_null(strchr(out, '\n'));
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
	assert_null(strstr(out, ",\"user\":{"));
	assert_non_null(strstr(out, "\"userAgent\":\"evil\\\"},\\\"user\\\":{\\\"username\\\":\\\"admin\\\"}\\n\\u0001\\\\\""));
	assert_non_null(strstr(out, "\"requestURI\":\"/api/v1/pods?x=\\\"\\r\\n{\\u007f\""));
	assert_non_null(strstr(out, "\"name\":\"a\\\"b\""));
	free(out);
}

static void test_invalid_utf8_escaped(void **state)
{
	struct request_record r = req();
	struct audit_sink a;
	char *out;

	(void)state;
	strcpy(r.user_agent, "ua-\xff\xfe-end");
	out = run(&r, 1, &a);
	assert_non_null(strstr(out, "\"userAgent\":\"ua-\\ufffd\\ufffd-end\""));
	free(out);
}

static void test_ongoing_skipped(void **state)
{
	struct request_record rs[3] = { req(), req(), req() };
	struct audit_sink a;
	char *out;

	(void)state;
	rs[1].ongoing = true;
	rs[1].id = 43;
	rs[1].latency_ns = 0;
	rs[2].id = 44;
	out = run(rs, 3, &a);
	assert_int_equal(a.events, 2);
	assert_int_equal(a.skipped_ongoing, 1);
	{
		int lines = 0;

		for (char *p = out; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 2);
	}
	free(out);
}

static void test_audit_id(void **state)
{
	char a[AUDIT_ID_LEN], b[AUDIT_ID_LEN], c[AUDIT_ID_LEN];

	(void)state;
	audit_id(1, 7, a);
	audit_id(1, 7, b);
	audit_id(2, 7, c);
	assert_string_equal(a, b);        /* derived: the same request, the same id */
	assert_string_not_equal(a, c);    /* another run (seed) gives another id */
	audit_id(1, 8, c);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(a[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", a[i]));
	}
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
}

static void test_micro_ts(void **state)
{
	char t[40];

	(void)state;
	audit_micro_ts(0, t, sizeof(t));
	assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
	audit_micro_ts(1700000000ULL * S + 999999999ULL, t, sizeof(t)); /* truncated, never rounded up */
	assert_string_equal(t, "2023-11-14T22:13:20.999999Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_get),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_group_subresource_v6),
		cmocka_unit_test(test_cluster_list_only_present_fields),
		cmocka_unit_test(test_non_resource),
		cmocka_unit_test(test_hostile_strings_escaped),
		cmocka_unit_test(test_invalid_utf8_escaped),
		cmocka_unit_test(test_ongoing_skipped),
		cmocka_unit_test(test_audit_id),
		cmocka_unit_test(test_micro_ts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
