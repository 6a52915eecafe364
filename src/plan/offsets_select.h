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
	char source[160]; /* where the offsets came from (dwarf / table / fallback) */
	/* per group ([0] h2 x/net, [1] h2 bundled, [2] http1, [3] grpc): why a fallback was used, "" if not */
	char fallback[4][192];
	const char *group_source[4]; /* "dwarf", "table", "fallback" or NULL, per group as above */
};

/* Returns 0, or -1 with the reason in err when no usable HTTP server offsets are known for this binary
 * (the other fields are still filled). Pure: prints nothing. */
int kapimon_offsets_select(const struct go_binary *b, struct kapimon_offsets *o, char *err, size_t errlen);

#endif
