// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: JSON parser + accessors on arbitrary bytes, and the flows/audit loader on them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/events.h"
#include "input/json.h"

static int cb(void *ctx, int64_t ts, double w, const char *const *vals, const size_t *lens)
{
	size_t *n = ctx;

	for (int i = 0; i < 3; i++)
		*n += lens[i] ? (unsigned char)vals[i][lens[i] - 1] : 0;
	(void)ts;
	(void)w;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_doc d;
	struct json_error e;
	char buf[64];
	double v;

	if (json_parse(&d, (const char *)data, size, &e) == 0) {
		for (size_t i = 0; i < d.ntoks; i++) {
			json_str(&d, (int)i, buf, sizeof(buf));
			json_num(&d, (int)i, &v);
			if (d.toks[i].type == JSON_OBJECT) {
				json_obj_get(&d, (int)i, "kind");
				json_obj_get(&d, (int)i, "\xc3\xa9");
			}
			if (d.toks[i].next <= i || d.toks[i].next > d.ntoks)
				abort();
		}
	} else if (e.line == 0 || e.col == 0 || e.offset > size) {
		abort();
	}
	if (size > 0) {
		FILE *f = fmemopen((void *)data, size, "r");
		const struct ev_opts o = { .fmt = EV_AUTO, .ndims = 3, .dims = { "user_agent", "code", "resource" } };
		struct ev_stats st;
		char err[256];
		size_t n = 0;

		if (f) {
			ev_load(f, &o, cb, &n, &st, err, sizeof(err));
			fclose(f);
		}
	}
	return 0;
}
