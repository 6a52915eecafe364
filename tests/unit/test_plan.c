// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The probe plan on real stripped Go binaries: the testbed kube-apiserver 1.20.2
 * (scripts/build-apiserver.sh), Debian's /usr/bin/etcd and esbuild (scripts/fetch-esbuild.sh). A binary
 * that is absent is a cmocka skip (never a pass). Checks the groups, sites, variants, options and
 * that every site is exactly what the resolver finds for its target.
 */
#include <errno.h>
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
#include "goelf/resolve.h"
#include "output/json_writer.h"
#include "plan/plan.h"

static struct plan pl; /* ~20 KB */

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
		skip();
	}
	if (gobin_open(path, &b, err, sizeof(err)))
		fail_msg("gobin_open %s: %s", path, err);
	return b;
}

/* Every site of the plan is a site the resolver gives for its target; starts/variants as documented. */
static void check_sites(const struct go_binary *b, const struct plan *p)
{
	static struct resolved_target r;
	uint32_t covered = 0;

	for (int k = 0; k < PG__COUNT; k++) {
		/* the plan's order: k8s-authn first (it decides the HTTP groups' starts) */
		int g = k == 0 ? PG_AUTHN : k <= PG_AUTHN ? k - 1 : k;
		const struct plan_group *pg = &p->groups[g];

		if (!pg->ok) {
			assert_int_equal(pg->nsites, 0);
			assert_true(pg->missing[0] != '\0');
			continue;
		}
		assert_true(pg->nsites > 0);
		assert_int_equal(pg->first_site, covered);
		covered += pg->nsites;
		for (uint32_t i = pg->first_site; i < pg->first_site + pg->nsites; i++) {
			const struct plan_site *s = &p->sites[i];
			bool found = false;

			assert_int_equal(s->group, g);
			assert_int_equal(probe_targets[s->target].group, g);
			assert_int_equal(goelf_resolve_target(b, &probe_targets[s->target], &r), 0);
			for (size_t k = 0; k < r.nsites; k++)
				found |= r.site_off[k] == s->off && r.site_vaddr[k] == s->vaddr;
			assert_true(found);
			assert_int_equal(s->cheap, r.cheap);
			/* the program is the one for the target and the alternative that matched */
			assert_int_equal(s->prog, plan_target_prog(s->target, r.alt));
			assert_int_equal(s->alt, r.alt);
			assert_int_not_equal(s->prog, PLAN_PROG_NONE);
			assert_int_equal(s->starts, s->prog == PLAN_PROG_H2X_HEADERS || s->prog == PLAN_PROG_H2B_HEADERS ||
							    s->prog == PLAN_PROG_H1_SERVE_CALL ||
							    s->prog == PLAN_PROG_H1_READ_REQUEST_RET ||
							    s->prog == PLAN_PROG_GRPC_WRITE_HTTP2CLIENT ||
							    s->prog == PLAN_PROG_GRPC_WRITE_CLIENTSTREAM ||
							    s->prog == PLAN_PROG_AUTHN_OK || s->prog == PLAN_PROG_AUTHN_FAIL);
			/* authn starts replace the HTTP servers' generic starts */
			if (p->authn_starts)
				assert_false(s->prog == PLAN_PROG_H2X_HEADERS || s->prog == PLAN_PROG_H2B_HEADERS ||
					     s->prog == PLAN_PROG_H1_SERVE_CALL || s->prog == PLAN_PROG_H1_READ_REQUEST_RET);
			if (g == PG_H2X || g == PG_H2B)
				assert_int_equal(s->prog, g == PG_H2B ? (s->starts ? PLAN_PROG_H2B_HEADERS : PLAN_PROG_H2B_DONE)
								      : (s->starts ? PLAN_PROG_H2X_HEADERS : PLAN_PROG_H2X_DONE));
		}
	}
	assert_int_equal(covered, p->nsites); /* groups' sites are contiguous and cover the plan */
}

static void check_summary(const struct plan *p, const char *want_sub)
{
	char line[1024];
	char n[32];

	plan_summary(p, line, sizeof(line));
	snprintf(n, sizeof(n), ": %u uprobes (", p->nsites);
	if (!strstr(line, n) || !strstr(line, want_sub))
		fail_msg("summary '%s' lacks '%s' or '%s'", line, n, want_sub);
}

/* A binary with every group (apiserver, etcd: both embed an HTTP/2 server and the etcd grpc client; apf
 * and the authentication filters: the apiserver only). */
static void check_full(const char *path, const char *how, bool apiserver)
{
	struct go_binary *b = open_or_skip(path, how);

	assert_int_equal(plan_build(b, &(struct plan_opts){ 0 }, &pl), 0);
	assert_true(pl.ok);
	for (int g = 0; g < PG__COUNT; g++)
		if (!pl.groups[g].ok && ((g != PG_APF && g != PG_AUTHN) || apiserver))
			fail_msg("%s: group %s: %s", path, probe_group_name(g), pl.groups[g].missing);
	/* served requests' APF classification from the response headers: the offsets are measured for both */
	assert_true(pl.apf_served_ok);
	assert_string_equal(pl.apf_served, "h2-xnet, h2-bundled, http1");
	if (!apiserver)
		assert_false(pl.groups[PG_APF].ok);
	assert_int_equal(pl.authn_starts, apiserver);
	if (apiserver) {
		uint32_t generic;

		/* two start sites (success, failure) instead of three generic ones */
		assert_int_equal(pl.groups[PG_AUTHN].nsites, 2);
		assert_int_not_equal(pl.authn.hash_req_key, 0);
		assert_int_not_equal(pl.authn.hash_recv_ts_key, 0);
		assert_int_not_equal(pl.authn.hash_user_type, 0);
		check_summary(&pl, ", starts after authn");
		generic = pl.nsites;
		/* without authn starts: the generic ones come back */
		assert_int_equal(plan_build(b, &(struct plan_opts){ .no_authn = true }, &pl), 0);
		assert_false(pl.authn_starts);
		assert_false(pl.groups[PG_AUTHN].ok);
		assert_int_equal(pl.nsites, generic - 2 + 3);
		check_sites(b, &pl);
		assert_int_equal(plan_build(b, &(struct plan_opts){ 0 }, &pl), 0);
	} else {
		assert_non_null(strstr(pl.groups[PG_AUTHN].missing, "function not found"));
	}
	/* one site per entry target; h1 start at the ServeHTTP call sites (not the RET fallback) */
	assert_false(pl.groups[PG_H1].fallback);
	for (uint32_t i = 0; i < pl.nsites; i++)
		assert_int_not_equal(pl.sites[i].prog, PLAN_PROG_H1_READ_REQUEST_RET);
	assert_int_equal(pl.expensive, 0);
	check_sites(b, &pl);
	check_summary(&pl, "etcd grpc offsets");
	assert_null(strstr(pl.error, "no HTTP"));

	/* --no-etcd: grpc and the watch group are off, the rest unchanged */
	{
		uint32_t all = pl.nsites, etcd = pl.groups[PG_GRPC].nsites + pl.groups[PG_ETCD_WATCH].nsites +
						pl.groups[PG_ETCD_RANGE].nsites;

		/* etcd's cost: one RangeResponse.Unmarshal site, and the response size from grpc's parser */
		assert_int_equal(pl.groups[PG_ETCD_RANGE].nsites, 1);

		assert_int_equal(plan_build(b, &(struct plan_opts){ .no_etcd = true }, &pl), 0);
		assert_false(pl.groups[PG_GRPC].wanted);
		assert_false(pl.groups[PG_GRPC].ok);
		assert_false(pl.groups[PG_ETCD_WATCH].ok);
		assert_false(pl.groups[PG_ETCD_RANGE].ok);
		assert_string_equal(pl.groups[PG_GRPC].missing, "off (--no-etcd)");
		assert_int_equal(pl.nsites, all - etcd);
		check_sites(b, &pl);
		check_summary(&pl, ", no etcd)");
	}
	/* --no-h2: only h1 serves requests; authn starts (both protocols) are off */
	assert_int_equal(plan_build(b, &(struct plan_opts){ .no_h2 = true }, &pl), 0);
	assert_false(pl.authn_starts);
	assert_string_equal(pl.groups[PG_AUTHN].missing, "off (--no-h2)");
	assert_false(pl.groups[PG_H2X].ok);
	assert_false(pl.groups[PG_H2B].ok);
	assert_true(pl.groups[PG_H1].ok);
	check_sites(b, &pl);
	/* nothing left to serve requests: an error, not an empty plan */
	assert_int_equal(plan_build(b, &(struct plan_opts){ .no_h2 = true, .no_h1 = true }, &pl), -ENOENT);
	assert_false(pl.ok);
	assert_non_null(strstr(pl.error, "no HTTP server probe group"));
	gobin_close(b);
}

static void test_apiserver(void **state)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/kube-apiserver-1.20.2", cache());
	check_full(path, "run scripts/build-apiserver.sh", true);
}

static void test_etcd(void **state)
{
	check_full("/usr/bin/etcd", "apt-get install etcd-server", false);
}

/* esbuild: net/http's own HTTP/2 server and HTTP/1, no x/net server, no grpc. */
static void test_esbuild(void **state)
{
	static const char *const versions[] = { "0.15.18", "0.17.19", "0.23.1", "0.24.2", "0.28.2" };
	int tested = 0;

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		char path[512];
		struct go_binary *b = NULL;
		char err[512];

		snprintf(path, sizeof(path), "%s/esbuild/%s/esbuild", cache(), versions[i]);
		if (access(path, R_OK)) {
			fprintf(stderr, "esbuild %s: not present (scripts/fetch-esbuild.sh)\n", versions[i]);
			continue;
		}
		if (gobin_open(path, &b, err, sizeof(err)))
			fail_msg("gobin_open %s: %s", path, err);
		assert_int_equal(plan_build(b, &(struct plan_opts){ 0 }, &pl), 0);
		assert_true(pl.groups[PG_H2B].ok);
		assert_true(pl.groups[PG_H1].ok);
		assert_false(pl.groups[PG_H2X].ok);
		assert_non_null(strstr(pl.groups[PG_H2X].missing, "function not found"));
		assert_false(pl.groups[PG_GRPC].ok);
		assert_true(pl.groups[PG_GRPC].wanted);
		assert_string_equal(pl.groups[PG_ETCD_WATCH].missing, "needs group grpc");
		assert_string_equal(pl.groups[PG_ETCD_RANGE].missing, "needs group grpc");
		assert_non_null(strstr(pl.unresolved, "processHeaders"));
		check_sites(b, &pl);
		check_summary(&pl, "h2 net/http offsets");
		check_summary(&pl, ", no etcd)");
		gobin_close(b);
		tested++;
	}
	if (!tested) {
		fprintf(stderr, "SKIP esbuild: none present (scripts/fetch-esbuild.sh)\n");
		skip();
	}
}

/* The JSON form carries the same groups and sites. */
static void test_json(void **state)
{
	char path[512], *buf = NULL;
	size_t len = 0;
	struct go_binary *b;
	struct json_writer w;
	FILE *m;

	snprintf(path, sizeof(path), "%s/kube-apiserver-1.20.2", cache());
	if (access(path, R_OK))
		snprintf(path, sizeof(path), "/usr/bin/etcd");
	b = open_or_skip(path, "run scripts/build-apiserver.sh or apt-get install etcd-server");
	assert_int_equal(plan_build(b, &(struct plan_opts){ .no_etcd = true }, &pl), 0);
	m = open_memstream(&buf, &len);
	jw_init(&w, m, false);
	plan_json(&pl, &w);
	fclose(m);
	assert_non_null(strstr(buf, "\"ok\":true"));
	assert_non_null(strstr(buf, "\"grpc\":{\"state\":\"off\""));
	assert_non_null(strstr(buf, "\"http1\":{\"state\":\"attach\""));
	if (strstr(path, "apiserver")) { /* starts after authentication */
		assert_non_null(strstr(buf, "\"authn_starts\":true"));
		assert_non_null(strstr(buf, "\"program\":\"authn_ok\""));
		assert_non_null(strstr(buf, "\"program\":\"authn_fail\""));
		assert_null(strstr(buf, "\"program\":\"h1_serve_call\""));
	} else {
		assert_non_null(strstr(buf, "\"program\":\"h1_serve_call\""));
	}
	free(buf);
	gobin_close(b);
}

/* The etcd cost needs its own offsets: any of them unknown switches that part off (the group or the size). */
static void test_etcd_cost_offsets(void **state)
{
	struct kapimon_offsets o = { 0 };

	o.grpc.cs_attempt = 224;
	o.grpc.attempt_parser = 32;
	o.grpc.parser_header = 16;
	o.grpc.range_resp_kvs = 8;
	o.grpc.range_resp_more = 32;
	o.grpc.range_resp_count = 40;
	assert_true(plan_resp_size_ok(&o));
	assert_true(plan_range_offsets_ok(&o));
	o.grpc.parser_header = KP_OFF_UNKNOWN;
	assert_false(plan_resp_size_ok(&o));
	assert_true(plan_range_offsets_ok(&o));
	o.grpc.range_resp_more = KP_OFF_UNKNOWN;
	assert_false(plan_range_offsets_ok(&o));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_etcd_cost_offsets),
		cmocka_unit_test(test_apiserver),
		cmocka_unit_test(test_etcd),
		cmocka_unit_test(test_esbuild),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
