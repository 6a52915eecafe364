// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "etcd/etcd_key.h"

struct key_case {
	const char *key, *range_end; /* range_end NULL: a single key */
	int rc;
	const char *gr; /* resource string (resource.group) */
	const char *ns, *name;
	bool known, prefix;
};

static const struct key_case cases[] = {
	{ "/registry/pods/default/web-0", NULL, 0, "pods", "default", "web-0", true, false },
	{ "/registry/pods/", "/registry/pods0", 0, "pods", "", "", true, true },
	{ "/registry/pods/default/", "/registry/pods/default0", 0, "pods", "default", "", true, true },
	{ "/registry/pods/default", NULL, 0, "pods", "default", "", true, false },
	{ "/registry/pods", "/registry/pods0", 0, "pods", "", "", true, false }, /* not its prefix end */
	{ "/registry/deployments/default/web", NULL, 0, "deployments.apps", "default", "web", true, false },
	{ "/registry/replicasets/kube-system/coredns-5d78c9869d", NULL, 0, "replicasets.apps", "kube-system", "coredns-5d78c9869d", true, false },
	{ "/registry/controllerrevisions/default/web-7f", NULL, 0, "controllerrevisions.apps", "default", "web-7f", true, false },
	{ "/registry/services/specs/default/kubernetes", NULL, 0, "services", "default", "kubernetes", true, false },
	{ "/registry/services/endpoints/default/kubernetes", NULL, 0, "endpoints", "default", "kubernetes", true, false },
	{ "/registry/services/specs/", "/registry/services/specs0", 0, "services", "", "", true, true },
	{ "/registry/minions/node-1", NULL, 0, "nodes", "", "node-1", true, false },
	{ "/registry/minions/", "/registry/minions0", 0, "nodes", "", "", true, true },
	{ "/registry/controllers/default/rc1", NULL, 0, "replicationcontrollers", "default", "rc1", true, false },
	{ "/registry/ingress/default/web", NULL, 0, "ingresses.networking.k8s.io", "default", "web", true, false },
	{ "/registry/podsecuritypolicy/restricted", NULL, 0, "podsecuritypolicies.policy", "", "restricted", true, false },
	{ "/registry/leases/kube-node-lease/node-1", NULL, 0, "leases.coordination.k8s.io", "kube-node-lease", "node-1", true, false },
	{ "/registry/events/default/web.17a", NULL, 0, "events", "default", "web.17a", true, false },
	{ "/registry/serviceaccounts/default/default", NULL, 0, "serviceaccounts", "default", "default", true, false },
	{ "/registry/namespaces/kube-system", NULL, 0, "namespaces", "", "kube-system", true, false },
	{ "/registry/clusterroles/admin", NULL, 0, "clusterroles.rbac.authorization.k8s.io", "", "admin", true, false },
	{ "/registry/rolebindings/ns/rb", NULL, 0, "rolebindings.rbac.authorization.k8s.io", "ns", "rb", true, false },
	{ "/registry/masterleases/10.0.0.1", NULL, 0, "masterleases", "", "10.0.0.1", true, false },
	{ "/registry/ranges/serviceips", NULL, 0, "ranges", "", "serviceips", true, false },
	{ "/registry/ranges/servicenodeports", NULL, 0, "ranges", "", "servicenodeports", true, false },
	{ "/registry/flowschemas/exempt", NULL, 0, "flowschemas.flowcontrol.apiserver.k8s.io", "", "exempt", true, false },
	{ "/registry/apiregistration.k8s.io/apiservices/v1.apps", NULL, 0, "apiservices.apiregistration.k8s.io", "", "v1.apps", true, false },
	{ "/registry/apiextensions.k8s.io/customresourcedefinitions/foos.example.com", NULL, 0, "customresourcedefinitions.apiextensions.k8s.io", "", "foos.example.com", true, false },
	/* custom resources: <group>/<plural>/[ns/]name, scope unknown */
	{ "/registry/example.com/foos/default/foo1", NULL, 0, "foos.example.com", "default", "foo1", false, false },
	{ "/registry/example.com/clusterfoos/foo1", NULL, 0, "clusterfoos.example.com", "", "foo1", false, false },
	{ "/registry/example.com/foos/default/", "/registry/example.com/foos/default0", 0, "foos.example.com", "default", "", false, true },
	{ "/registry/example.com/foos/", "/registry/example.com/foos0", 0, "foos.example.com", "", "", false, true },
	{ "/registry/cert-manager.io/certificates/ns/c", NULL, 0, "certificates.cert-manager.io", "ns", "c", false, false },
	/* unknown built-in-looking prefixes: resource only */
	{ "/registry/widgets/ns/w", NULL, 0, "widgets", "ns", "w", false, false },
	{ "/registry/health", NULL, 0, "health", "", "", false, false },
	/* extra segments go to the name whole */
	{ "/registry/pods/ns/a/b", NULL, 0, "pods", "ns", "a/b", true, false },
	/* outside the storage prefix */
	{ "compact_rev_key", NULL, -1, "", "", "", false, false },
	{ "/registry", NULL, -1, "", "", "", false, false },
	{ "/registry/", NULL, -1, "", "", "", false, false },
	{ "/registryx/pods/a", NULL, -1, "", "", "", false, false },
	{ "/other/pods/a/b", NULL, -1, "", "", "", false, false },
	{ "", NULL, -1, "", "", "", false, false },
};

static void test_table(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct key_case *c = &cases[i];
		struct etcd_key_info ki;
		char gr[256];
		int rc = etcd_key_parse((const uint8_t *)c->key, strlen(c->key), (const uint8_t *)c->range_end,
				       c->range_end ? strlen(c->range_end) : 0, NULL, &ki);

		etcd_key_resource_string(&ki, gr, sizeof(gr));
		if (rc != c->rc || strcmp(gr, c->gr) || strcmp(ki.namespace_, c->ns) || strcmp(ki.name, c->name) ||
		    ki.known != c->known || ki.is_prefix != c->prefix) {
			failures++;
			print_error("case %zu %s: rc=%d gr=%s ns=%s name=%s known=%d prefix=%d\n", i, c->key, rc, gr,
				    ki.namespace_, ki.name, ki.known, ki.is_prefix);
		}
	}
	assert_int_equal(failures, 0);
}

static void test_custom_prefix(void **state)
{
	struct etcd_key_info ki;
	const char *k = "/kubernetes.io/pods/default/p";

	assert_int_equal(etcd_key_parse((const uint8_t *)k, strlen(k), NULL, 0, "/kubernetes.io/", &ki), 0);
	assert_string_equal(ki.resource, "pods");
	assert_string_equal(ki.namespace_, "default");
	assert_string_equal(ki.name, "p");
	assert_int_equal(etcd_key_parse((const uint8_t *)k, strlen(k), NULL, 0, NULL, &ki), -1);
}

static void test_prefix_end(void **state)
{
	static const struct {
		const char *k, *e;
		size_t kl, el;
		bool want;
	} t[] = {
		{ "abc", "abd", 3, 3, true },
		{ "ab\xff", "ac", 3, 2, true },
		{ "ab\xff", "ab\xff\x01", 3, 4, false },
		{ "\xff\xff", "\0", 2, 1, true },
		{ "", "\0", 0, 1, true },
		{ "abc", "\0", 3, 1, false },
		{ "abc", "abc", 3, 3, false },
		{ "abc", "", 3, 0, false },
		{ "a/", "a0", 2, 2, true },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(etcd_range_is_prefix((const uint8_t *)t[i].k, t[i].kl, (const uint8_t *)t[i].e, t[i].el),
				 t[i].want);
}

static void test_binary_and_long(void **state)
{
	struct etcd_key_info ki;
	uint8_t k[600];
	size_t n = (size_t)sprintf((char *)k, "/registry/secrets/ns/");

	/* a NUL inside the name stops the C string there and is flagged */
	memcpy(k + n, "a\0b", 3);
	assert_int_equal(etcd_key_parse(k, n + 3, NULL, 0, NULL, &ki), 0);
	assert_string_equal(ki.name, "a");
	assert_true(ki.truncated);
	/* a long name is cut to the field */
	memset(k + n, 'x', 300);
	assert_int_equal(etcd_key_parse(k, n + 300, NULL, 0, NULL, &ki), 0);
	assert_int_equal(strlen(ki.name), REC_FIELD_LEN - 1);
	assert_true(ki.truncated);
	assert_int_equal(etcd_key_parse(NULL, 5, NULL, 0, NULL, &ki), -1);
	/* a tiny output buffer */
	{
		char b[4];

		etcd_key_parse((const uint8_t *)"/registry/deployments/a/b", 25, NULL, 0, NULL, &ki);
		assert_int_equal(etcd_key_resource_string(&ki, b, sizeof(b)), 3);
		assert_string_equal(b, "dep");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_custom_prefix),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_binary_and_long),
	};
	return cmocka_run_group_tests_name("etcd_key", tests, NULL, NULL);
}
