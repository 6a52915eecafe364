// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: CSV reader, timestamp parser and the drill-down / decomposition on whatever parses. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/decompose.h"
#include "analysis/drilldown.h"
#include "input/csv.h"
#include "input/timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f;
	struct csv_reader r;
	struct csv_error e;
	struct dd_table t;
	char *names[2] = { "a", "b" };
	double vals[256];
	size_t nv = 0;
	int rc;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	csv_init(&r, f, ',');
	if (dd_table_init(&t, 2, names))
		abort();
	while ((rc = csv_next(&r, &e)) > 0) {
		int64_t ns;
		const char *dv[2];
		double x, y;

		for (size_t i = 0; i < r.nfields; i++) {
			if (strlen(r.fields[i]) > size)
				abort();
			time_parse_any(r.fields[i], strlen(r.fields[i]), &ns);
		}
		x = r.nfields > 0 ? strtod(r.fields[0], NULL) : NAN;
		y = r.nfields > 1 ? strtod(r.fields[1], NULL) : NAN;
		if (nv < 256)
			vals[nv++] = x;
		dv[0] = r.nfields > 2 ? r.fields[2] : "";
		dv[1] = r.nfields > 3 ? r.fields[3] : "";
		if (t.n < 500 && dd_table_add(&t, dv, NULL, x, y) < 0)
			abort();
	}
	if (rc < 0 && (e.line == 0 || e.col == 0))
		abort();
	csv_free(&r);
	fclose(f);
	if (t.n > 0) {
		struct dd_params p;
		struct dd_cause *out;
		struct dd_summary s;

		dd_params_default(&p);
		if (dd_run(&t, &p, &out, &s) >= 0)
			free(out);
	}
	dd_table_free(&t);
	if (nv > 0) {
		struct dc_params p;
		struct dc_result res;

		dc_params_default(&p);
		if (dc_run(vals, nv, &p, &res) == 0)
			dc_result_free(&res);
	}
	return 0;
}
