// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * goelf on real stripped Go binaries: esbuild from npm (Go 1.19-1.26, scripts/fetch-esbuild.sh), the
 * testbed kube-apiserver 1.20.2 and Debian's etcd 3.4 (unpacked into the cache by scripts/fetch-etcd.sh).
 * One test per binary; an absent binary is a skip, or a failure where it must exist (realbin.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "goelf/goelf.h"
#include "goelf/offsets.h"
#include "goelf/resolve.h"
#include "realbin.h"

static const struct esb {
	const char *test, *version, *go;
} esb[] = {
	{ "test_esbuild_0.15.18", "0.15.18", "go1.19.3" }, { "test_esbuild_0.17.19", "0.17.19", "go1.20.4" },
	{ "test_esbuild_0.23.1", "0.23.1", "go1.22.5" },   { "test_esbuild_0.24.2", "0.24.2", "go1.23.1" },
	{ "test_esbuild_0.28.2", "0.28.2", "go1.26.5" },
};

/* The function must exist, be non-empty and have RET sites in its body. */
static void must_resolve(struct go_binary *b, const char *name)
{
	const struct go_func *f = gobin_find_func(b, name);
	uint64_t r[64], off;
	int n;

	if (!f)
		fail_msg("%s: %s not found", gobin_path(b), name);
	assert_true(f->end > f->entry);
	assert_true(gobin_vaddr_to_offset(b, f->entry, &off));
	n = gobin_ret_sites(b, f, r, 64);
	if (n < 1)
		fail_msg("%s: %s has no RET sites (%d)", gobin_path(b), name, n);
	for (int i = 0; i < n && i < 64; i++) {
		unsigned char c;
		assert_true(r[i] >= f->entry && r[i] < f->end);
		assert_true(gobin_read_vaddr(b, r[i], &c, 1));
		assert_true(c == 0xc3 || c == 0xc2); /* RET / RET imm16 */
	}
}

/* state: the esbuild version (esb[]) */
static void test_esbuild(void **s)
{
	static const char *fns[] = { "net/http.(*http2serverConn).processHeaders",
				     "net/http.(*http2responseWriter).handlerDone", "crypto/tls.(*Conn).Read",
				     "net/http.(*conn).readRequest", "net/http.(*response).finishRequest", "main.main" };
	const struct esb *e = *s;
	struct resolved_target res[PT__COUNT];
	char path[512];
	struct go_binary *b = realbin_open(realbin_esbuild(e->version, path, sizeof(path)), REALBIN_ESBUILD_HOW);

	assert_non_null(gobin_go_version(b));
	assert_string_equal(gobin_go_version(b), e->go);
	assert_string_equal(gobin_main_module(b), "github.com/evanw/esbuild");
	assert_true(gobin_is_stripped(b));
	for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++)
		must_resolve(b, fns[k]);
	/* the bundled-h2 and h1 targets resolve as groups */
	goelf_resolve_all(b, res);
	assert_true(goelf_group_ok(res, "h2-bundled"));
	assert_true(goelf_group_ok(res, "http1"));
	assert_false(goelf_group_ok(res, "grpc")); /* esbuild has no grpc */
	gobin_close(b);
}

static void check_testbed(const char *path, const char *how, bool want_grpc)
{
	struct go_binary *b = realbin_open(path, how);
	struct resolved_target res[PT__COUNT];
	struct go_offsets o;

	int ok = goelf_resolve_all(b, res);
	for (size_t i = 0; i < PT__COUNT; i++) {
		bool is_grpc = res[i].target->group == PG_GRPC;
		bool is_apf = res[i].target->group == PG_APF; /* kube-apiserver only */
		/* the apiserver's authentication filters: only in kube-apiserver */
		bool is_authn = res[i].target->group == PG_AUTHN;
		if ((!is_grpc || want_grpc) && (!is_apf || want_grpc) && (!is_authn || strstr(path, "apiserver")) &&
		    !res[i].ok)
			fail_msg("%s: %s (%s) unresolved: %s", path, res[i].target->func, probe_group_name(res[i].target->group),
				 res[i].reason);
		if (res[i].ok && (res[i].target->where & PROBE_RETURNS))
			assert_true(res[i].nrets >= 1);
	}
	fprintf(stderr, "%s: %d of %d targets resolved\n", path, ok, PT__COUNT);
	assert_int_equal(go_offsets_fill(b, 0, &o), 0);
	assert_int_equal(o.info[GOFF_H1].known, o.info[GOFF_H1].total);
	/* the report runs on it (text to /dev/null) */
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	goelf_report_binary(NULL, devnull, b);
	fclose(devnull);
	gobin_close(b);
}

static void test_apiserver(void **s)
{
	char p[512];

	(void)s;
	check_testbed(realbin_apiserver(p, sizeof(p)), REALBIN_APISERVER_HOW, true);
}

static void test_etcd(void **s)
{
	char p[512];

	(void)s;
	check_testbed(realbin_etcd(p, sizeof(p)), REALBIN_ETCD_HOW, false);
}

/* one test per esbuild version, named after it (so a skip or failure says which) */
#define ESB(i) { .name = esb[i].test, .test_func = test_esbuild, .initial_state = (void *)&esb[i] }

int main(void)
{
	const struct CMUnitTest tests[] = {
		ESB(0), ESB(1), ESB(2), ESB(3), ESB(4), cmocka_unit_test(test_apiserver), cmocka_unit_test(test_etcd),
	};

	_Static_assert(sizeof(esb) / sizeof(esb[0]) == 5, "one ESB() per esb[] entry");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
