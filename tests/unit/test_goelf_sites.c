// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Probe-site placement on real stripped Go binaries: entry probes go on the function's stack-check
 * JBE (which the kernel emulates), call-site probes on E8 CALLs of the callee. Uses Debian's etcd
 * (Go 1.19) and the testbed kube-apiserver from the cache (realbin.h: absent is a skip, or a failure
 * where the binary must exist).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "goelf/goelf.h"
#include "goelf/resolve.h"
#include "realbin.h"

/* The byte(s) at vaddr: a JBE (76 rel8 or 0f 86 rel32) right after a CMP. */
static void assert_jbe(const struct go_binary *b, uint64_t va)
{
	uint8_t op[2] = { 0 };

	assert_true(gobin_read_vaddr(b, va, op, 2));
	assert_true(op[0] == 0x76 || (op[0] == 0x0f && op[1] == 0x86));
}

static void check_entry_sites(const char *path, const char *how, const char *const *funcs, size_t n)
{
	struct go_binary *b = realbin_open(path, how);

	for (size_t i = 0; i < n; i++) {
		const struct go_func *f = gobin_find_func(b, funcs[i]);
		bool cheap = false;
		uint64_t va;

		assert_non_null(f);
		va = gobin_entry_probe_vaddr(b, f, &cheap);
		assert_true(cheap);
		assert_true(va > f->entry && va < f->entry + 16); /* just past the CMP (and a LEA) */
		assert_jbe(b, va);
	}
	gobin_close(b);
}

static void test_entry_sites_etcd(void **state)
{
	char p[512];
	static const char *const funcs[] = {
		"net/http.(*response).finishRequest",
		"net/http.(*http2serverConn).processHeaders",
		"net/http.(*http2responseWriter).handlerDone",
		"google.golang.org/grpc.(*clientStream).finish",
	};

	check_entry_sites(realbin_etcd(p, sizeof(p)), REALBIN_ETCD_HOW, funcs, sizeof(funcs) / sizeof(funcs[0]));
}

static void test_entry_sites_apiserver(void **state)
{
	char p[512];
	static const char *const funcs[] = {
		"golang.org/x/net/http2.(*serverConn).processHeaders",
		"golang.org/x/net/http2.(*responseWriter).handlerDone",
		"google.golang.org/grpc/internal/transport.(*http2Client).Write",
		"google.golang.org/grpc.(*clientStream).finish",
		"go.etcd.io/etcd/clientv3.(*watchGrpcStream).dispatchEvent",
	};

	check_entry_sites(realbin_apiserver(p, sizeof(p)), REALBIN_APISERVER_HOW, funcs,
			  sizeof(funcs) / sizeof(funcs[0]));
}

static void test_call_sites(void **state)
{
	char p[512];
	struct go_binary *b = realbin_open(realbin_etcd(p, sizeof(p)), REALBIN_ETCD_HOW);
	const struct go_func *serve, *callee;
	uint64_t sites[8];
	int n;

	serve = gobin_find_func(b, "net/http.(*conn).serve");
	callee = gobin_find_func(b, "net/http.serverHandler.ServeHTTP");
	assert_non_null(serve);
	assert_non_null(callee);
	n = gobin_call_sites(b, serve, callee->entry, sites, 8);
	assert_true(n >= 1 && n <= 8);
	for (int i = 0; i < n; i++) {
		uint8_t op[5];
		int32_t rel;

		assert_true(sites[i] >= serve->entry && sites[i] < serve->end);
		assert_true(gobin_read_vaddr(b, sites[i], op, 5));
		assert_int_equal(op[0], 0xe8);
		memcpy(&rel, op + 1, 4);
		assert_true(sites[i] + 5 + (int64_t)rel == callee->entry);
	}
	/* no calls of a function that serve does not call */
	assert_int_equal(gobin_call_sites(b, serve, serve->entry + 1, sites, 8), 0);
	gobin_close(b);
}

/* The resolver picks the cheap sites for every target of the etcd binary's groups. */
static void test_resolver_sites(void **state)
{
	char p[512];
	struct go_binary *b = realbin_open(realbin_etcd(p, sizeof(p)), REALBIN_ETCD_HOW);
	struct resolved_target r;

	assert_int_equal(goelf_resolve_target(b, &probe_targets[PT_H1_SERVE_CALL], &r), 0);
	assert_true(r.cheap);
	assert_true(r.nsites >= 1);
	assert_int_equal(goelf_resolve_target(b, &probe_targets[PT_H1_FINISH_REQUEST], &r), 0);
	assert_true(r.cheap);
	assert_int_equal(r.nsites, 1);
	assert_true(r.site_vaddr[0] != r.entry_vaddr);
	assert_int_equal(goelf_resolve_target(b, &probe_targets[PT_H1_READ_REQUEST], &r), 0);
	assert_false(r.cheap); /* the RET fallback */
	gobin_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_sites_etcd),
		cmocka_unit_test(test_entry_sites_apiserver),
		cmocka_unit_test(test_call_sites),
		cmocka_unit_test(test_resolver_sites),
	};
	return cmocka_run_group_tests_name("goelf_sites", tests, NULL, NULL);
}
