// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Real Go binaries for the goelf tests: paths, and skip-or-fail when one is absent (realbin.h). */
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
#include "realbin.h"

const char *realbin_cache(void)
{
	const char *c = getenv("KAPIMON_CACHE");

	return c && *c ? c : "/var/cache/kapimon";
}

const char *realbin_apiserver(char *buf, size_t n)
{
	snprintf(buf, n, "%s/kube-apiserver-1.20.2", realbin_cache());
	return buf;
}

const char *realbin_etcd(char *buf, size_t n)
{
	snprintf(buf, n, "%s/etcd/usr/bin/etcd", realbin_cache());
	return buf;
}

const char *realbin_esbuild(const char *version, char *buf, size_t n)
{
	snprintf(buf, n, "%s/esbuild/%s/esbuild", realbin_cache(), version);
	return buf;
}

static int env_is(const char *name, const char *want)
{
	const char *v = getenv(name);

	return v && !strcmp(v, want);
}

void realbin_require(const char *path, const char *how)
{
	if (!access(path, R_OK))
		return;
	if (env_is("KAPIMON_REQUIRE_REAL_BINARIES", "1") || env_is("CI", "true"))
		fail_msg("%s is absent but required (KAPIMON_REQUIRE_REAL_BINARIES=1 or CI=true): get it with %s", path,
			 how);
	/* tests/run-unit.sh prints these lines with the skipped tests */
	fprintf(stderr, "realbin: SKIP %s is absent (get it with %s)\n", path, how);
	skip();
}

struct go_binary *realbin_open(const char *path, const char *how)
{
	struct go_binary *b = NULL;
	char err[512];

	realbin_require(path, how);
	if (gobin_open(path, &b, err, sizeof(err)))
		fail_msg("gobin_open %s: %s", path, err);
	return b;
}
