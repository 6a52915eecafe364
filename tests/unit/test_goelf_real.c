// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * goelf on real stripped Go binaries: esbuild from npm (Go 1.19-1.26, scripts/fetch-esbuild.sh), the
 * testbed kube-apiserver 1.20.2 and Debian's /usr/bin/etcd. Each binary that is absent is skipped
 * with a message saying how to get it.
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

static const struct {
	const char *version, *go;
} esb[] = {
	{ "0.15.18", "go1.19.3" }, { "0.17.19", "go1.20.4" }, { "0.23.1", "go1.22.5" },
	{ "0.24.2", "go1.23.1" },  { "0.28.2", "go1.26.5" },
};

static const char *cache(void)
{
	const char *c = getenv("KAPIMON_CACHE");
	return c ? c : "/var/cache/kapimon";
}

static struct go_binary *open_or_skip(const char *path, const char *how)
{
	struct go_binary *b = NULL;
	char err[512];

	if (access(path, R_OK)) {
		fprintf(stderr, "SKIP %s: not present (%s)\n", path, how);
		return NULL;
	}
	if (gobin_open(path, &b, err, sizeof(err)))
		fail_msg("gobin_open: %s", err);
	return b;
}

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

static void test_esbuild(void **s)
{
	static const char *fns[] = { "net/http.(*http2serverConn).processHeaders",
				     "net/http.(*http2responseWriter).handlerDone", "crypto/tls.(*Conn).Read",
				     "net/http.(*conn).readRequest", "net/http.(*response).finishRequest", "main.main" };
	int tested = 0;

	(void)s;
	for (size_t i = 0; i < sizeof(esb) / sizeof(esb[0]); i++) {
		char path[512];
		struct go_binary *b;

		snprintf(path, sizeof(path), "%s/esbuild/%s/esbuild", cache(), esb[i].version);
		b = open_or_skip(path, "run scripts/fetch-esbuild.sh");
		if (!b)
			continue;
		assert_non_null(gobin_go_version(b));
		assert_string_equal(gobin_go_version(b), esb[i].go);
		assert_string_equal(gobin_main_module(b), "github.com/evanw/esbuild");
		assert_true(gobin_is_stripped(b));
		for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++)
			must_resolve(b, fns[k]);
		/* the bundled-h2 and h1 targets resolve as groups */
		struct resolved_target res[PT__COUNT];
		goelf_resolve_all(b, res);
		assert_true(goelf_group_ok(res, "h2-bundled"));
		assert_true(goelf_group_ok(res, "http1"));
		assert_false(goelf_group_ok(res, "grpc")); /* esbuild has no grpc */
		gobin_close(b);
		tested++;
	}
	fprintf(stderr, "esbuild binaries tested: %d of %zu\n", tested, sizeof(esb) / sizeof(esb[0]));
}

static void check_testbed(const char *path, const char *how, bool want_grpc)
{
	struct go_binary *b = open_or_skip(path, how);
	struct resolved_target res[PT__COUNT];
	struct go_offsets o;

	if (!b)
		return;
	int ok = goelf_resolve_all(b, res);
	for (size_t i = 0; i < PT__COUNT; i++) {
		bool is_grpc = res[i].target->group == PG_GRPC;
		if ((!is_grpc || want_grpc) && !res[i].ok)
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
	snprintf(p, sizeof(p), "%s/kube-apiserver-1.20.2", cache());
	check_testbed(p, "built by scripts/build-apiserver.sh", true);
}

static void test_etcd(void **s)
{
	(void)s;
	check_testbed("/usr/bin/etcd", "apt-get install etcd-server", false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esbuild),
		cmocka_unit_test(test_apiserver),
		cmocka_unit_test(test_etcd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
