/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The real stripped Go binaries the goelf tests read, all cached under $KAPIMON_CACHE (default
 * /var/cache/kapimon) by scripts/fetch-test-binaries.sh: the testbed kube-apiserver 1.20.2
 * (scripts/build-apiserver.sh), Debian's etcd 3.4 (scripts/fetch-etcd.sh, unpacked, not installed)
 * and esbuild from npm (scripts/fetch-esbuild.sh).
 *
 * A binary that is absent is a cmocka skip (reported as SKIPPED by tests/run-unit.sh), except when it
 * must exist: with KAPIMON_REQUIRE_REAL_BINARIES=1 (set by `make test` after the fetch step succeeded)
 * or CI=true, absence is a failure.
 */
#ifndef KAPIMON_TESTS_REALBIN_H
#define KAPIMON_TESTS_REALBIN_H

#include <stddef.h>

struct go_binary;

const char *realbin_cache(void);
/* Paths (into buf, returned) */
const char *realbin_apiserver(char *buf, size_t n);
const char *realbin_etcd(char *buf, size_t n);
const char *realbin_esbuild(const char *version, char *buf, size_t n);
/* Open a Go binary for a test; absent: skip() or, when required, fail. Never returns NULL. */
struct go_binary *realbin_open(const char *path, const char *how);
/* The binary exists (readable); absent: skip() or, when required, fail. */
void realbin_require(const char *path, const char *how);

#define REALBIN_APISERVER_HOW "scripts/build-apiserver.sh (or make test)"
#define REALBIN_ETCD_HOW "scripts/fetch-etcd.sh (or make test)"
#define REALBIN_ESBUILD_HOW "scripts/fetch-esbuild.sh (or make test)"

#endif
