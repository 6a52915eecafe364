/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Choose the struct offsets the BPF programs get for one binary. */
#ifndef KAPIMON_OFFSETS_SELECT_H
#define KAPIMON_OFFSETS_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include "goelf/goelf.h"
#include "kapimon/go_offsets.h"

struct kapimon_offsets {
	struct kp_h2_offsets h2[2]; /* [0] x/net/http2, [1] net/http bundled */
	bool h2_ok[2];
	struct kp_http1_offsets h1;
	bool h1_ok;
	struct kp_grpc_offsets grpc;
	bool grpc_ok;
	char source[160]; /* where the offsets came from, per group ("h2-xnet measured, ...") */
	/* per group ([0] h2 x/net, [1] h2 bundled, [2] http1, [3] grpc = enum goff_group):
	 * unverified: the nearest measured row, not one measured for this binary: capture validates it on
	 * the first events (src/assemble/offsets_check.h); basis: why ("" when measured or DWARF) */
	bool unverified[4];
	char basis[4][320];
	const char *group_source[4]; /* goff_source_name(): "dwarf", "measured", "nearest (unverified)", NULL */
};

/* Returns 0, or -1 with the reason in err when no usable HTTP server offsets are known for this binary
 * (the other fields are still filled). Prints nothing (but a warning under KAPIMON_TEST_OFFSETS).
 * Test only: the environment variable KAPIMON_TEST_OFFSETS="GROUP@ROW[,GROUP@ROW...]" (e.g.
 * "h2-xnet@v0.62.0,grpc@v1.81.1") forces table rows that do not belong to the binary, marked unverified,
 * so tests can prove that wrong offsets are caught (docs/go-introspection.md). */
int kapimon_offsets_select(const struct go_binary *b, struct kapimon_offsets *o, char *err, size_t errlen);

#endif
