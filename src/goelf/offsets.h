/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Go struct field offsets for the BPF readers (include/kapimon/go_offsets.h), per binary.
 * Source per group, in order: DWARF (libdw, by struct type name) when the binary has it; else a
 * built-in table keyed by Go version (net/http, bundled http2) or module version (x/net, grpc);
 * else a documented fallback (nearest known layout). See docs/go-introspection.md.
 */
#ifndef KAPIMON_GOELF_OFFSETS_H
#define KAPIMON_GOELF_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>

#include "goelf/goelf.h"
#include "kapimon/go_offsets.h"
#include "resolve/probe_targets.h"

/* GOFF_MEASURED: a table row measured for exactly this version (Go: this minor series; modules: this
 * module version, from the buildinfo or a known vendor set); GOFF_NEAREST: the nearest measured row,
 * unverified: capture validates it on the first events (src/assemble/offsets_check.h). */
enum goff_source { GOFF_NONE = 0, GOFF_DWARF, GOFF_MEASURED, GOFF_NEAREST };

/* One offsets set per probe group that reads Go structs: the first four of enum probe_group. */
enum goff_group { GOFF_H2X = PG_H2X, GOFF_H2B = PG_H2B, GOFF_H1 = PG_H1, GOFF_GRPC = PG_GRPC, GOFF__NGROUPS };

struct goff_group_info {
	enum goff_source source;
	char basis[320];      /* e.g. "struct member offsets from DWARF", "go1.19", "go1.25 -> nearest known go1.24" */
	const char *provenance; /* where the table's facts come from (static string), NULL for DWARF */
	unsigned known, total; /* fields with a value / fields in the group */
};

struct go_offsets {
	struct kp_h2_offsets h2x;   /* golang.org/x/net/http2 */
	struct kp_h2_offsets h2b;   /* net/http bundled http2 */
	struct kp_http1_offsets h1; /* net/http HTTP/1 */
	struct kp_grpc_offsets grpc;
	struct goff_group_info info[GOFF__NGROUPS];
};

/* Fill every group (unknown fields = KP_OFF_UNKNOWN). flags: GOFF_NO_DWARF skips DWARF (tests
 * compare the table with DWARF). Returns 0, or negative errno when b is NULL. Never fails on
 * missing information: each group's info says what was used. */
#define GOFF_NO_DWARF 0x1u
int go_offsets_fill(const struct go_binary *b, unsigned flags, struct go_offsets *o);

const char *goff_source_name(enum goff_source s);
const char *goff_group_name(enum goff_group g); /* probe_group_name(): "h2-xnet", "h2-bundled", "http1", "grpc" */
int goff_group_from_name(const char *name, size_t len); /* the group, or -1 */

/* Field table for generic printing: name and pointer into o for each field of a group. */
struct goff_field {
	const char *name;
	kp_off_t *val;
};
size_t goff_fields(struct go_offsets *o, enum goff_group g, struct goff_field *out, size_t max);

/* Module offset tables (golang.org/x/net, google.golang.org/grpc), exported for tests.
 * goff_semver_cmp: Go module version precedence (SemVer 2.0: a pre-release or pseudo-version such as
 * v0.0.0-20201110031124-69a78807bb2b precedes its base release; pseudo-versions of one base sort by
 * date); <0, 0, >0. Invalid versions sort first.
 * goff_module_pick: the table version that lib ("golang.org/x/net" or "google.golang.org/grpc")
 * at version selects: exact match (*exact = true), else the nearest by major/minor/patch distance
 * between the known versions just below and above it (ties: the older); version NULL (GOPATH build)
 * -> by Go era (go_minor < 0 = unknown): see docs/go-introspection.md, "Module offsets table".
 * goff_module_table: the table's versions (ascending), returns how many there are. */
int goff_semver_cmp(const char *a, const char *b);
const char *goff_module_pick(const char *lib, const char *version, int go_minor, bool *exact);
size_t goff_module_table(const char *lib, const char **versions, size_t max);

/* GOPATH builds: the version of lib vendored by a known release build, recognised from the buildinfo
 * text (gobin_modinfo: "path" line and the release stamped by -ldflags -X), or NULL. *facts (may be
 * NULL) gets where the vendored versions come from. */
/* TEST ONLY (KAPIMON_TEST_OFFSETS, see docs/go-introspection.md): replace group g's offsets with the
 * table row of version (a module version for h2-xnet/grpc, "go1.N" for http1/h2-bundled) and mark the
 * group GOFF_NEAREST, to prove that wrong offsets are caught. Returns 0, -ENOENT (no such row), -EINVAL. */
int goff_force_row(struct go_offsets *o, enum goff_group g, const char *version);

const char *goff_vendored_version(const char *modinfo, const char *lib, const char **facts);

#endif
