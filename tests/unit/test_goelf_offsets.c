// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Module offsets tables (golang.org/x/net, google.golang.org/grpc) in src/goelf/offsets.c: Go module
 * version order (pseudo-versions), exact matches, nearest-version choice, GOPATH builds by Go era,
 * and the spb.Status generator check on the testbed kube-apiserver and Debian's etcd (an absent binary
 * is a skip, or a failure where it must exist: realbin.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "goelf/goelf.h"
#include "goelf/offsets.h"
#include "realbin.h"

static const char XNET[] = "golang.org/x/net", GRPC[] = "google.golang.org/grpc";
static const char PSEUDO2020[] = "v0.0.0-20201110031124-69a78807bb2b";

static void test_semver_order(void **s)
{
	/* ascending; every pair must compare accordingly */
	static const char *const asc[] = {
		"garbage",
		"v0.0.0-20190101000000-aaaaaaaaaaaa",
		"v0.0.0-20201110031124-69a78807bb2b",
		"v0.0.0-20210520170846-37e1c6afe023",
		"v0.0.0", /* a pseudo-version precedes its base */
		"v0.1.0",
		"v0.7.0",
		"v0.7.1-0.20230101000000-abcdefabcdef", /* pseudo after v0.7.0 */
		"v0.7.1",
		"v0.27.0", /* numeric, not lexical: 27 > 7 */
		"v0.62.0",
		"v1.0.0-alpha",
		"v1.0.0-alpha.1",
		"v1.0.0-rc.2",
		"v1.0.0-rc.10", /* numeric identifiers compare as numbers */
		"v1.0.0",
		"v1.27.1",
		"v1.64.0",
		"v2.0.0+incompatible",
	};
	size_t n = sizeof(asc) / sizeof(asc[0]);

	(void)s;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = goff_semver_cmp(asc[i], asc[j]), want = i < j ? -1 : i > j ? 1 : 0;

			if ((c > 0) - (c < 0) != want)
				fail_msg("cmp(%s, %s) = %d, want %d", asc[i], asc[j], c, want);
		}
	/* build metadata is ignored */
	assert_int_equal(goff_semver_cmp("v1.64.0+meta", "v1.64.0"), 0);
}

static size_t table(const char *lib, const char **v, size_t max)
{
	size_t n = goff_module_table(lib, v, max);

	assert_true(n >= 2);
	assert_true(n <= max);
	for (size_t i = 1; i < n; i++)
		if (goff_semver_cmp(v[i - 1], v[i]) >= 0)
			fail_msg("%s table not sorted: %s before %s", lib, v[i - 1], v[i]);
	return n;
}

static bool has(const char *const *v, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], want))
			return true;
	return false;
}

static void expect(const char *lib, const char *version, int go_minor, const char *want, bool want_exact)
{
	bool exact = !want_exact;
	const char *got = goff_module_pick(lib, version, go_minor, &exact);

	assert_non_null(got);
	if (strcmp(got, want) || exact != want_exact)
		fail_msg("%s %s (go1.%d): got %s%s, want %s%s", lib, version ? version : "(GOPATH)", go_minor, got,
			 exact ? " (exact)" : "", want, want_exact ? " (exact)" : "");
}

static void test_exact(void **s)
{
	const char *v[32];

	(void)s;
	for (int l = 0; l < 2; l++) {
		const char *lib = l ? GRPC : XNET;
		size_t n = table(lib, v, 32);

		for (size_t i = 0; i < n; i++)
			expect(lib, v[i], 19, v[i], true);
	}
}

/* Choices between measured entries: the expectations name versions that must be in the tables. */
static void test_nearest(void **s)
{
	const char *x[32], *g[32];
	size_t nx = table(XNET, x, 32), ng = table(GRPC, g, 32);

	(void)s;
	assert_true(has(x, nx, PSEUDO2020) && has(x, nx, "v0.7.0") && has(x, nx, "v0.27.0") && has(x, nx, "v0.62.0"));
	assert_true(has(g, ng, "v1.27.1") && has(g, ng, "v1.33.3") && has(g, ng, "v1.64.0") && has(g, ng, "v1.81.1"));

	expect(XNET, "v0.30.0", 22, "v0.27.0", false);  /* 3 minors above v0.27.0, 32 below v0.62.0 */
	expect(XNET, "v0.50.0", 22, "v0.62.0", false);  /* 23 vs 12 */
	expect(XNET, "v0.44.0", 22, "v0.27.0", false);  /* 17 vs 18 */
	expect(XNET, "v0.45.0", 22, "v0.62.0", false);  /* 18 vs 17 */
	expect(XNET, "v0.90.0", 22, "v0.62.0", false);  /* newer than every entry */
	expect(XNET, "v0.8.0", 22, "v0.7.0", false);
	expect(XNET, "v0.7.1", 22, "v0.7.0", false);
	expect(XNET, "v0.27.1-0.20240801000000-abcdefabcdef", 22, "v0.27.0", false);
	expect(GRPC, "v1.58.3", 22, "v1.64.0", false);
	expect(GRPC, "v1.70.0", 22, "v1.64.0", false);
	expect(GRPC, "v1.75.0", 22, "v1.81.1", false);
	expect(GRPC, "v1.40.0", 22, "v1.33.3", false);
	expect(GRPC, "v1.29.1", 22, "v1.27.1", false);
	expect(GRPC, "v1.20.0", 22, "v1.27.1", false); /* older than every entry */
	expect(GRPC, "v1.27.0", 22, "v1.27.1", false);
	expect(GRPC, "v1.99.0", 22, "v1.81.1", false);
	/* equidistant: the older entry */
	expect(XNET, "v0.17.0", 22, "v0.7.0", false); /* 10 vs 10 */
}

static void test_pseudo(void **s)
{
	(void)s;
	/* a later pseudo-version of v0.0.0 sorts between the 2020 entry and v0.7.0 and is nearest the former */
	expect(XNET, "v0.0.0-20210520170846-37e1c6afe023", 22, PSEUDO2020, false);
	/* an earlier one precedes every entry: the first (the 2020 pseudo-version) */
	expect(XNET, "v0.0.0-20190101000000-aaaaaaaaaaaa", 22, PSEUDO2020, false);
	/* a pseudo-version of v0.1.0's successor is nearest v0.0.0 ... v0.7.0 by distance */
	expect(XNET, "v0.1.1-0.20221001000000-abcdefabcdef", 22, PSEUDO2020, false);
	expect(XNET, "v0.6.1-0.20230201000000-abcdefabcdef", 22, "v0.7.0", false);
	expect(XNET, PSEUDO2020, 22, PSEUDO2020, true);
	/* invalid versions are not matched exactly and do not crash */
	expect(XNET, "latest", 22, PSEUDO2020, false);
}

/* GOPATH builds: no module version; the Go version's era decides. */
static void test_gopath_era(void **s)
{
	(void)s;
	expect(XNET, NULL, 19, PSEUDO2020, false); /* today's behaviour: kube-apiserver 1.20.2, Go 1.19 */
	expect(XNET, NULL, 15, PSEUDO2020, false); /* older than every era (k8s 1.20's own Go 1.15) */
	expect(XNET, NULL, -1, PSEUDO2020, false); /* Go version unknown */
	expect(XNET, NULL, 21, "v0.7.0", false);   /* newer than the 1.19 era: its newest entry */
	expect(XNET, NULL, 24, "v0.27.0", false);
	expect(XNET, NULL, 26, "v0.62.0", false);
	expect(XNET, NULL, 30, "v0.62.0", false);
	expect(GRPC, NULL, 19, "v1.27.1", false);
	expect(GRPC, NULL, 23, "v1.33.3", false);
	expect(GRPC, NULL, 25, "v1.64.0", false);
}

/* spb.Status.Code follows the binary's genproto generator. Independent measurements: Debian's etcd
 * (golang/protobuf v1 genproto) reads Code at offset 0 in its (*Status).Code machine code
 * (docs/go-introspection.md); kube-apiserver 1.20.2's genproto (DWARF of the same vendor tree) at 40. */
static void check_spb(const char *path, const char *how, const char *method, kp_off_t code, enum goff_source src,
		      const char *basis)
{
	struct go_binary *b = realbin_open(path, how);
	struct go_offsets o;

	assert_int_equal(go_offsets_fill(b, GOFF_NO_DWARF, &o), 0);
	assert_int_equal(o.info[GOFF_GRPC].source, src);
	if (!strstr(o.info[GOFF_GRPC].basis, basis))
		fail_msg("%s: grpc basis \"%s\" lacks \"%s\"", path, o.info[GOFF_GRPC].basis, basis);
	assert_non_null(strstr(o.info[GOFF_GRPC].basis, method));
	assert_int_equal(o.grpc.spb_status_code, code);
	gobin_close(b);
}

static void test_spb_generation_apiserver(void **s)
{
	char p[512];

	(void)s;
	/* a GOPATH build identified as kubernetes v1.20.2: its vendored grpc row is measured */
	check_spb(realbin_apiserver(p, sizeof(p)), REALBIN_APISERVER_HOW, "ProtoReflect", 40, GOFF_MEASURED,
		  "vendored: kubernetes v1.20.2");
}

static void test_spb_generation_etcd(void **s)
{
	char p[512];

	(void)s;
	/* Debian's etcd: GOPATH build of no known vendor set: nearest by Go era, unverified */
	check_spb(realbin_etcd(p, sizeof(p)), REALBIN_ETCD_HOW, "XXX_Unmarshal", 0, GOFF_NEAREST, "GOPATH build");
}

/* The testbed apiserver is a GOPATH build: no module versions in its buildinfo, but its "path" and the
 * release its -ldflags stamp identify kubernetes v1.20.2's vendor tree. */
static void test_vendored(void **s)
{
	static const char k8s[] =
		"path\tk8s.io/kubernetes/cmd/kube-apiserver\n"
		"build\t-compiler=gc\n"
		"build\t-ldflags=\"-s -w -X 'k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version.gitVersion=v1.20.2' "
		"-X 'k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitVersion=v1.20.2' -X 'x=y'\"\n"
		"build\tCGO_ENABLED=0\n";
	const char *facts = NULL;
	char buf[1024];

	(void)s;
	assert_string_equal(goff_vendored_version(k8s, XNET, &facts), PSEUDO2020);
	assert_non_null(facts);
	assert_non_null(strstr(facts, "kubernetes v1.20.2"));
	assert_string_equal(goff_vendored_version(k8s, GRPC, NULL), "v1.27.1");
	/* and those versions are measured rows */
	expect(XNET, goff_vendored_version(k8s, XNET, NULL), 19, PSEUDO2020, true);
	expect(GRPC, goff_vendored_version(k8s, GRPC, NULL), 19, "v1.27.1", true);
	assert_null(goff_vendored_version(k8s, "golang.org/x/text", NULL));
	/* another release, another program, a longer version, no stamp, no ldflags, NULL: unknown */
	snprintf(buf, sizeof(buf), "%s", k8s);
	memcpy(strstr(strstr(buf, "component-base"), "v1.20.2"), "v1.20.3", 7);
	assert_null(goff_vendored_version(buf, XNET, &facts));
	assert_null(facts);
	assert_null(goff_vendored_version("path\tgo.etcd.io/etcd\nbuild\t-ldflags=\"-X 'k8s.io/component-base/version."
					  "gitVersion=v1.20.2'\"\n", XNET, NULL));
	assert_null(goff_vendored_version("path\tk8s.io/kubernetes/cmd/kube-apiserver\nbuild\t-ldflags=\"-X 'k8s.io/"
					  "component-base/version.gitVersion=v1.20.21'\"\n", XNET, NULL));
	assert_null(goff_vendored_version("path\tk8s.io/kubernetes/cmd/kube-apiserver\nbuild\t-ldflags=\"-X 'k8s.io/"
					  "component-base/version.gitVersionX=v1.20.2'\"\n", XNET, NULL));
	assert_null(goff_vendored_version("path\tk8s.io/kubernetes/cmd/kube-apiserver\nbuild\t-compiler=gc\n", XNET, NULL));
	assert_null(goff_vendored_version("path\tk8s.io/kubernetes/cmd/kube-apiserver\n", XNET, NULL));
	assert_null(goff_vendored_version(NULL, XNET, NULL));
	assert_null(goff_vendored_version("", XNET, NULL));
}

/* A Go binary (the stripped test program test_goelf builds) whose Go version cannot be read: the build
 * info magic and every "go1." string wiped in a private copy. Returns NULL (and skips) when absent. */
static struct go_binary *open_versionless(void **buf)
{
	const char *c = getenv("KAPIMON_CACHE");
	char path[512], err[256];
	struct go_binary *b = NULL;
	FILE *f;
	long n;
	char *d;

	snprintf(path, sizeof(path), "%s/goelf-test/bin-stripped", c && *c ? c : "/var/cache/kapimon");
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "test_goelf_offsets: %s absent (built by test_goelf)\n", path);
		return NULL;
	}
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	d = malloc((size_t)n);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (long i = 0; i + 14 <= n; i++) {
		if (!memcmp(d + i, "\xff Go buildinf:", 14))
			memset(d + i, 'x', 14);
		else if (!memcmp(d + i, "go1.", 4))
			memcpy(d + i, "xx1.", 4);
	}
	assert_int_equal(gobin_open_mem(d, (size_t)n, 0, &b, err, sizeof(err)), 0);
	*buf = d;
	return b;
}

/* No Go version: every table group is "nearest (unverified)" and deterministic. Under valgrind this once
 * read an uninitialised Go minor in fill_go_table (map_kind at random). */
static void test_unknown_go_version(void **s)
{
	void *buf = NULL;
	struct go_binary *b = open_versionless(&buf);
	struct go_offsets o;
	int maj, min, pat;

	if (!b)
		skip();
	assert_false(gobin_go_version_num(b, &maj, &min, &pat));
	assert_int_equal(go_offsets_fill(b, GOFF_NO_DWARF, &o), 0);
	for (int g = 0; g < GOFF__NGROUPS; g++)
		assert_int_equal(o.info[g].source, GOFF_NEAREST);
	assert_non_null(strstr(o.info[GOFF_H1].basis, "unknown Go version"));
	assert_int_equal(o.h1.map_kind, 0);
	assert_int_equal(o.h1._pad, 0);
	gobin_close(b);
	free(buf);
}

/* The test-only override (KAPIMON_TEST_OFFSETS) replaces a group by a named row, marked unverified. */
static void test_force_row(void **s)
{
	void *buf = NULL;
	struct go_binary *b = open_versionless(&buf);
	struct go_offsets o;

	if (!b)
		skip();
	assert_int_equal(go_offsets_fill(b, GOFF_NO_DWARF, &o), 0);
	assert_int_equal(goff_force_row(&o, GOFF_H2X, "v0.62.0"), 0);
	assert_int_equal(o.h2x.stream_ctx, 40); /* the v0.62.0 row */
	assert_int_equal(o.info[GOFF_H2X].source, GOFF_NEAREST);
	assert_non_null(strstr(o.info[GOFF_H2X].basis, "TEST ONLY"));
	assert_int_equal(goff_force_row(&o, GOFF_GRPC, "v1.81.1"), 0);
	assert_int_equal(o.grpc.stream_method, 16);
	assert_int_equal(goff_force_row(&o, GOFF_H1, "go1.27"), 0);
	assert_int_equal(o.h1.response_status, 128);
	assert_int_equal(goff_force_row(&o, GOFF_H2X, "v9.9.9"), -ENOENT);
	assert_int_equal(goff_force_row(&o, GOFF_H1, "go1.2x"), -EINVAL);
	assert_int_equal(goff_force_row(&o, GOFF_H1, "v0.62.0"), -EINVAL);
	assert_int_equal(goff_group_from_name("grpc", 4), GOFF_GRPC);
	assert_int_equal(goff_group_from_name("h2-xnet@v1", 7), GOFF_H2X);
	assert_int_equal(goff_group_from_name("h2", 2), -1);
	gobin_close(b);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semver_order), cmocka_unit_test(test_exact),
		cmocka_unit_test(test_nearest),	     cmocka_unit_test(test_pseudo),
		cmocka_unit_test(test_gopath_era),   cmocka_unit_test(test_spb_generation_apiserver),
		cmocka_unit_test(test_spb_generation_etcd),
		cmocka_unit_test(test_vendored),     cmocka_unit_test(test_unknown_go_version),
		cmocka_unit_test(test_force_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
