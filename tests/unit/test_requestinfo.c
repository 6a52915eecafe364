// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* RequestInfo rules: every case states the full expected RequestInfo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/path_sanitize.h"
#include "assemble/requestinfo.h"

struct ri_case {
	const char *method, *target;
	int rc;
	bool res;
	const char *verb, *prefix, *group, *version, *resource, *sub, *ns, *name;
};

#define R(m, t, verb, pfx, grp, ver, res, sub, ns, name) { m, t, KRI_OK, true, verb, pfx, grp, ver, res, sub, ns, name }
#define NR(m, t, verb) { m, t, KRI_OK, false, verb, "", "", "", "", "", "", "" }

static const struct ri_case cases[] = {
	/* non-resource paths: lowercase method, nothing else */
	NR("GET", "/healthz", "get"),
	NR("GET", "/healthz/etcd", "get"),
	NR("GET", "/livez?verbose", "get"),
	NR("GET", "/version", "get"),
	NR("GET", "/", "get"),
	NR("GET", "", "get"),
	NR("GET", "/api", "get"),
	NR("GET", "/api/v1", "get"),
	NR("GET", "/apis", "get"),
	NR("GET", "/apis/apps", "get"),
	NR("GET", "/apis/apps/v1", "get"),
	NR("GET", "/openapi/v2", "get"),
	NR("GET", "/openapi/v3/apis/apps/v1", "get"),
	NR("GET", "/metrics", "get"),
	NR("POST", "/metrics", "post"),
	NR("OPTIONS", "/healthz", "options"),
	NR("get", "/healthz", "get"),
	NR("GET", "/foo/v1/pods", "get"),
	NR("GET", "/api/", "get"),
	NR("GET", "//api//", "get"),
	/* core group: list/get/create/update/patch/delete/deletecollection */
	R("GET", "/api/v1/pods", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/namespaces/default/pods", "list", "api", "", "v1", "pods", "", "default", ""),
	R("GET", "/api/v1/namespaces/default/pods/web-0", "get", "api", "", "v1", "pods", "", "default", "web-0"),
	R("HEAD", "/api/v1/namespaces/default/pods/web-0", "get", "api", "", "v1", "pods", "", "default", "web-0"),
	R("POST", "/api/v1/namespaces/default/pods", "create", "api", "", "v1", "pods", "", "default", ""),
	R("PUT", "/api/v1/namespaces/default/pods/web-0", "update", "api", "", "v1", "pods", "", "default", "web-0"),
	R("PATCH", "/api/v1/namespaces/default/pods/web-0", "patch", "api", "", "v1", "pods", "", "default", "web-0"),
	R("DELETE", "/api/v1/namespaces/default/pods/web-0", "delete", "api", "", "v1", "pods", "", "default", "web-0"),
	R("DELETE", "/api/v1/namespaces/default/pods", "deletecollection", "api", "", "v1", "pods", "", "default", ""),
	R("DELETE", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dx", "deletecollection", "api", "", "v1", "pods", "", "default", ""),
	R("OPTIONS", "/api/v1/pods", "", "api", "", "v1", "pods", "", "", ""),
	R("CONNECT", "/api/v1/namespaces/ns/pods/p/exec", "", "api", "", "v1", "pods", "exec", "ns", "p"),
	R("get", "/api/v1/pods", "", "api", "", "v1", "pods", "", "", ""), /* method match is case-sensitive */
	/* subresources and extra parts */
	R("GET", "/api/v1/namespaces/default/pods/web-0/log", "get", "api", "", "v1", "pods", "log", "default", "web-0"),
	R("PUT", "/api/v1/namespaces/default/pods/web-0/status", "update", "api", "", "v1", "pods", "status", "default", "web-0"),
	R("POST", "/api/v1/namespaces/default/pods/web-0/eviction", "create", "api", "", "v1", "pods", "eviction", "default", "web-0"),
	R("GET", "/api/v1/namespaces/default/pods/web-0/proxy/metrics/x", "get", "api", "", "v1", "pods", "proxy", "default", "web-0"),
	R("GET", "/api/v1/namespaces/default/services/https:svc:443/proxy/", "get", "api", "", "v1", "services", "proxy", "default", "https:svc:443"),
	R("GET", "/api/v1/nodes/n1/proxy/stats/summary", "get", "api", "", "v1", "nodes", "proxy", "", "n1"),
	/* namespaces as a resource */
	R("GET", "/api/v1/namespaces", "list", "api", "", "v1", "namespaces", "", "", ""),
	R("GET", "/api/v1/namespaces/kube-system", "get", "api", "", "v1", "namespaces", "", "kube-system", "kube-system"),
	R("DELETE", "/api/v1/namespaces/kube-system", "delete", "api", "", "v1", "namespaces", "", "kube-system", "kube-system"),
	R("PUT", "/api/v1/namespaces/ns1/status", "update", "api", "", "v1", "namespaces", "status", "ns1", "ns1"),
	R("PUT", "/api/v1/namespaces/ns1/finalize", "update", "api", "", "v1", "namespaces", "finalize", "ns1", "ns1"),
	R("GET", "/api/v1/namespaces/ns1/configmaps", "list", "api", "", "v1", "configmaps", "", "ns1", ""),
	/* named groups */
	R("GET", "/apis/apps/v1/deployments", "list", "apis", "apps", "v1", "deployments", "", "", ""),
	R("GET", "/apis/apps/v1/namespaces/default/deployments/web", "get", "apis", "apps", "v1", "deployments", "", "default", "web"),
	R("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", "update", "apis", "apps", "v1", "deployments", "scale", "default", "web"),
	R("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler", "get", "apis", "coordination.k8s.io", "v1", "leases", "", "kube-system", "kube-scheduler"),
	R("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1", "update", "apis", "coordination.k8s.io", "v1", "leases", "", "kube-node-lease", "node-1"),
	R("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "create", "apis", "authorization.k8s.io", "v1", "subjectaccessreviews", "", "", ""),
	R("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com", "get", "apis", "apiextensions.k8s.io", "v1", "customresourcedefinitions", "", "", "foos.example.com"),
	R("GET", "/apis/example.com/v1alpha1/namespaces/a/foos/b/c/d", "get", "apis", "example.com", "v1alpha1", "foos", "c", "a", "b"),
	/* watch: query forms and the legacy /watch/ prefix */
	R("GET", "/api/v1/pods?watch=1", "watch", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=true", "watch", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=yes", "watch", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=", "watch", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch", "watch", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=0", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=false", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=FALSE", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=fal%C5%BFe", "list", "api", "", "v1", "pods", "", "", ""), /* EqualFold: U+017F ~ s */
	R("GET", "/api/v1/pods?watch=false&watch=true", "list", "api", "", "v1", "pods", "", "", ""), /* first value */
	R("GET", "/api/v1/pods?watch=0;x=1&watch=1", "watch", "api", "", "v1", "pods", "", "", ""), /* ';' pair dropped */
	R("GET", "/api/v1/pods?wat%63h=1", "watch", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?watch=%zz&watch=1", "watch", "api", "", "v1", "pods", "", "", ""), /* bad escape: pair dropped */
	R("GET", "/api/v1/namespaces/default/pods?resourceVersion=100&watch=true&labelSelector=app%3Dweb", "watch", "api", "", "v1", "pods", "", "default", ""),
	R("GET", "/api/v1/pods/p1?watch=1", "get", "api", "", "v1", "pods", "", "", "p1"), /* named: stays get */
	R("GET", "/api/v1/watch/pods", "watch", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/watch/namespaces/default/pods", "watch", "api", "", "v1", "pods", "", "default", ""),
	R("GET", "/api/v1/watch/namespaces/default/pods/web-0", "watch", "api", "", "v1", "pods", "", "default", "web-0"),
	R("GET", "/apis/apps/v1/watch/namespaces/default/deployments", "watch", "apis", "apps", "v1", "deployments", "", "default", ""),
	R("GET", "/api/v1/watch/namespaces", "watch", "api", "", "v1", "namespaces", "", "", ""),
	R("GET", "/api/v1/watch/namespaces/ns1", "watch", "api", "", "v1", "namespaces", "", "ns1", "ns1"),
	/* fieldSelector=metadata.name=<n>: single-object list/watch gets the name */
	R("GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0&watch=1", "watch", "api", "", "v1", "pods", "", "default", "web-0"),
	R("GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D%3Dweb-0", "list", "api", "", "v1", "pods", "", "default", "web-0"),
	R("GET", "/api/v1/pods?fieldSelector=metadata.name!%3Dweb-0", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1,metadata.name%3Dp", "list", "api", "", "v1", "pods", "", "", "p"),
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Db,metadata.name%3Da", "list", "api", "", "v1", "pods", "", "", "a"), /* sorted */
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3D%3Db,metadata.name%3Da", "list", "api", "", "v1", "pods", "", "", "b"),
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Da%5C%2Cb", "list", "api", "", "v1", "pods", "", "", "a,b"), /* escaped comma */
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3D..", "list", "api", "", "v1", "pods", "", "", ""), /* invalid segment */
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Da%25b", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Da%5Cx", "list", "api", "", "v1", "pods", "", "", ""), /* bad escape */
	R("GET", "/api/v1/pods?fieldSelector=garbage&watch=1", "watch", "api", "", "v1", "pods", "", "", ""), /* parse error */
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Dp&limit=abc", "list", "api", "", "v1", "pods", "", "", ""), /* decode error */
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Dp&limit=500&timeoutSeconds=-3", "list", "api", "", "v1", "pods", "", "", "p"),
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Dp&timeoutSeconds=99999999999999999999", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods?fieldSelector=metadata.name%3Dp&watch=fal%C5%BFe&limit=x", "watch", "api", "", "v1", "pods", "", "", ""), /* fallback uses ToLower */
	/* proxy special verb: no subresource */
	R("GET", "/api/v1/proxy/namespaces/default/pods/web-0/metrics", "proxy", "api", "", "v1", "pods", "", "default", "web-0"),
	R("POST", "/api/v1/proxy/nodes/n1/stats", "proxy", "api", "", "v1", "nodes", "", "", "n1"),
	R("GET", "/api/v1/proxy/pods", "proxy", "api", "", "v1", "pods", "", "", ""),
	/* percent-decoding of the path (before splitting, as Go's URL.Path) */
	R("GET", "/api/v1/namespaces/de%66ault/pods/a%20b", "get", "api", "", "v1", "pods", "", "default", "a b"),
	R("GET", "/api/v1/namespaces/a%2Fb/pods", "get", "api", "", "v1", "b", "", "a", "pods"),
	R("GET", "/api%2Fv1/pods", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/pods/a+b", "get", "api", "", "v1", "pods", "", "", "a+b"),
	R("GET", "/api/v1/pods/x%00y", "get", "api", "", "v1", "pods", "", "", "x%00y"),
	/* empty and odd segments are kept as Go's strings.Split keeps them */
	R("GET", "/api/v1//pods", "get", "api", "", "v1", "", "", "", "pods"),
	R("GET", "/api/v1/pods/", "list", "api", "", "v1", "pods", "", "", ""),
	R("GET", "/api/v1/namespaces/", "list", "api", "", "v1", "namespaces", "", "", ""),
	R("GET", "/api/v1/pods/../secrets", "get", "api", "", "v1", "pods", "secrets", "", ".."), /* no path cleaning */
	/* absolute-form targets */
	R("GET", "https://10.0.0.1:6443/api/v1/pods?watch=1", "watch", "api", "", "v1", "pods", "", "", ""),
	NR("GET", "http://host", "get"),
	/* errors */
	{ "GET", "/api/v1/watch", KRI_ESPECIALVERB, true, "get", "api", "", "v1", "", "", "", "" },
	{ "GET", "/apis/apps/v1/proxy", KRI_ESPECIALVERB, true, "get", "apis", "apps", "v1", "", "", "", "" },
	{ "GET", "/api/v1/pods/%zz", KRI_EBADURL, false, "get", "", "", "", "", "", "", "" },
	{ "GET", "/api/v1/pods/%4", KRI_EBADURL, false, "get", "", "", "", "", "", "", "" },
	{ "GET", "/api/v1/pods/a\x01", KRI_EBADURL, false, "get", "", "", "", "", "", "", "" },
	{ "GET", "/api/v1/pods\x7f", KRI_EBADURL, false, "get", "", "", "", "", "", "", "" },
};

static void test_table(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ri_case *c = &cases[i];
		struct k8s_request_info ri;
		int rc = k8s_request_info_parse(c->method, c->target, strlen(c->target), &ri);
		bool ok = rc == c->rc && ri.is_resource_request == c->res && !strcmp(ri.verb, c->verb) &&
			  !strcmp(ri.api_prefix, c->prefix) && !strcmp(ri.group, c->group) &&
			  !strcmp(ri.version, c->version) && !strcmp(ri.resource, c->resource) &&
			  !strcmp(ri.subresource, c->sub) && !strcmp(ri.namespace_, c->ns) && !strcmp(ri.name, c->name);

		if (!ok) {
			failures++;
			print_error("case %zu %s %s: rc=%d res=%d verb=%s prefix=%s group=%s version=%s resource=%s "
				    "sub=%s ns=%s name=%s\n", i, c->method, c->target, rc, ri.is_resource_request, ri.verb,
				    ri.api_prefix, ri.group, ri.version, ri.resource, ri.subresource, ri.namespace_, ri.name);
		}
	}
	print_message("%zu requestinfo cases\n", sizeof(cases) / sizeof(cases[0]));
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 60);
	assert_int_equal(failures, 0);
}

static void test_not_nul_terminated(void **state)
{
	/* the length bounds the input: the trailing bytes are not part of the target */
	static const char buf[] = "/api/v1/namespaces/ns/pods/p1/logXXXX";
	struct k8s_request_info ri;

	assert_int_equal(k8s_request_info_parse("GET", buf, sizeof(buf) - 1 - 4, &ri), KRI_OK);
	assert_string_equal(ri.subresource, "log");
	assert_int_equal(k8s_request_info_parse("GET", buf, 21, &ri), KRI_OK); /* "/api/v1/namespaces/ns" */
	assert_string_equal(ri.resource, "namespaces");
	assert_string_equal(ri.name, "ns");
}

static void test_null_and_long(void **state)
{
	struct k8s_request_info ri;
	char *big = malloc(100000);
	size_t n;

	assert_int_equal(k8s_request_info_parse(NULL, NULL, 0, &ri), KRI_OK);
	assert_string_equal(ri.verb, "");
	assert_false(ri.is_resource_request);

	/* a 200-byte name is cut to the field and flagged */
	n = (size_t)sprintf(big, "/api/v1/namespaces/ns/pods/");
	memset(big + n, 'a', 200);
	big[n + 200] = 0;
	assert_int_equal(k8s_request_info_parse("GET", big, strlen(big), &ri), KRI_OK);
	assert_int_equal(strlen(ri.name), REC_FIELD_LEN - 1);
	assert_true(ri.truncated);

	/* many segments and a huge query do not matter */
	n = 0;
	n += (size_t)sprintf(big, "/apis/g/v1/namespaces/n/r/x/s");
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(big + n, "/z");
	n += (size_t)sprintf(big + n, "?");
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(big + n, "watch=%d&", i % 2);
	assert_int_equal(k8s_request_info_parse("GET", big, n, &ri), KRI_OK);
	assert_string_equal(ri.resource, "r");
	assert_string_equal(ri.subresource, "s");
	assert_false(ri.truncated);
	free(big);
}

static void test_classify(void **state)
{
	struct request_record r;

	memset(&r, 0, sizeof(r));
	strcpy(r.method, "GET");
	request_classify(&r, "/api/v1/namespaces/default/secrets?watch=1&access_token=abc123",
			 strlen("/api/v1/namespaces/default/secrets?watch=1&access_token=abc123"));
	assert_string_equal(r.ri.verb, "watch");
	assert_string_equal(r.ri.resource, "secrets");
	assert_string_equal(r.path, "/api/v1/namespaces/default/secrets?watch=1&access_token=REDACTED");
	assert_null(strstr(r.path, "abc123"));
}

/* request_classify remembers classifications by (method, target): every answer equals a fresh parse,
 * whatever was classified before (same target with another method, targets that share a prefix, a
 * target too long to be remembered, 32 slots cycled several times). */
static void test_classify_remembered(void **state)
{
	static const char *const methods[] = { "GET", "DELETE", "PATCH", "POST" };
	static const char *const targets[] = {
		"/api/v1/namespaces/default/pods",
		"/api/v1/namespaces/default/pods/web-1",
		"/api/v1/namespaces/default/pods?watch=1&token=s3cret",
		"/apis/apps/v1/namespaces/kube-system/deployments/coredns/status",
		"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1",
		"/healthz",
		"/api/v1/nodes?fieldSelector=metadata.name%3Dnode-1",
		"",
	};
	char longpath[700];

	memset(longpath, 'x', sizeof(longpath) - 1);
	memcpy(longpath, "/api/v1/namespaces/", 19);
	longpath[sizeof(longpath) - 1] = '\0';
	for (int round = 0; round < 40; round++)
		for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]) + 1; t++) {
			const char *target = t < sizeof(targets) / sizeof(targets[0]) ? targets[t] : longpath;
			const char *method = methods[(round + t) % 4];
			struct request_record r, want;

			memset(&r, 0, sizeof(r));
			memset(&want, 0, sizeof(want));
			strcpy(r.method, method);
			strcpy(want.method, method);
			request_classify(&r, target, strlen(target));
			k8s_request_info_parse(method, target, strlen(target), &want.ri);
			path_sanitize(target, strlen(target), want.path, sizeof(want.path));
			assert_string_equal(r.ri.verb, want.ri.verb);
			assert_int_equal(r.ri.is_resource_request, want.ri.is_resource_request);
			assert_string_equal(r.ri.api_prefix, want.ri.api_prefix);
			assert_string_equal(r.ri.group, want.ri.group);
			assert_string_equal(r.ri.version, want.ri.version);
			assert_string_equal(r.ri.resource, want.ri.resource);
			assert_string_equal(r.ri.subresource, want.ri.subresource);
			assert_string_equal(r.ri.namespace_, want.ri.namespace_);
			assert_string_equal(r.ri.name, want.ri.name);
			assert_int_equal(r.ri.truncated, want.ri.truncated);
			assert_string_equal(r.path, want.path);
		}
}


/* The entry last found is tried first: a target next to one of the same length that differs in one
 * byte, or the same target with another method (same length, or the same first 8 bytes), is never
 * taken for it. */
static void test_classify_last_entry(void **state)
{
	static const struct {
		const char *method, *target;
	} seq[] = {
		{ "GET", "/api/v1/namespaces/aaaa/pods" },
		{ "GET", "/api/v1/namespaces/aaaa/pods" },
		{ "GET", "/api/v1/namespaces/aaab/pods" },
		{ "PUT", "/api/v1/namespaces/aaab/pods" },
		{ "GET", "/api/v1/namespaces/aaab/pods" },
		{ "DELETE", "/api/v1/namespaces/aaab/pods" },
		/* a non-resource target: the verb is the method, lowercased */
		{ "PROPFIND", "/version" },
		{ "PROPFINDX", "/version" },
		{ "PROPFINDY", "/version" },
		{ "PROPFINDYYYYYYY", "/version" },
		{ "PROPFINDYYYYYYZ", "/version" },
		{ "PROPFINDYYYYYY", "/version" },
		{ "GET", "/api/v1/namespaces/aaab/pods?watch=1" },
		{ "GET", "/api/v1/namespaces/aaab/pods?watch=0" },
		{ "GET", "/healthz" },
		{ "GET", "/healthy" },
		{ "GET", "/" },
		{ "GET", "" },
		{ "GET", "/" },
	};

	(void)state;
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
			struct request_record r, want;
			size_t len = strlen(seq[i].target);

			memset(&r, 0, sizeof(r));
			memset(&want, 0, sizeof(want));
			strcpy(r.method, seq[i].method);
			/* bytes after the method's NUL: anything (a reused record) */
			memset(r.method + strlen(seq[i].method) + 1, 'Z', sizeof(r.method) - strlen(seq[i].method) - 1);
			request_classify(&r, seq[i].target, len);
			k8s_request_info_parse(seq[i].method, seq[i].target, len, &want.ri);
			path_sanitize(seq[i].target, len, want.path, sizeof(want.path));
			assert_string_equal(r.ri.verb, want.ri.verb);
			assert_string_equal(r.ri.namespace_, want.ri.namespace_);
			assert_string_equal(r.ri.resource, want.ri.resource);
			assert_int_equal(r.ri.is_resource_request, want.ri.is_resource_request);
			assert_string_equal(r.path, want.path);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_null_and_long),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_classify_remembered),
		cmocka_unit_test(test_classify_last_entry),
	};
	return cmocka_run_group_tests_name("requestinfo", tests, NULL, NULL);
}
