// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon anomalies — decompose a CSV time series and flag anomalous points and intervals. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/decompose.h"
#include "analysis/report.h"
#include "cli/cli.h"
#include "cli/cli_detector.h"
#include "input/csv.h"
#include "input/timeparse.h"
#include "output/json_writer.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon anomalies --csv FILE [--time COL] [--value COL] [OPTIONS]\n\n"
		"Flag the anomalous points and intervals of one series. Rows with the same timestamp are one\n"
		"series point (their mean).\n\n"
		"  --csv FILE            CSV with a header row ('-' for stdin)\n"
		"  --time COL            time column (RFC 3339 or epoch seconds; default: time/timestamp/ts,\n"
		"                        else the row order)\n"
		"  --value COL           value column (default: the only other column)\n"
		"  --counts              the values are counts (stream: Poisson floor on the noise scale)\n"
		"  -j, --json            JSON: {\"points\":[..],\"intervals\":[..],...}\n"
		"  -h, --help            this help\n"
		"Detector options:\n");
	cli_detector_usage(out);
}

struct row {
	char *time;
	double value; /* NaN: missing */
	int64_t ts;
	size_t point; /* grid point */
};

static int cmp_row_ts(const void *a, const void *b)
{
	const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;

	if (x->ts != y->ts)
		return (x->ts > y->ts) - (x->ts < y->ts);
	return (x > y) - (x < y); /* stable: input order */
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int cmd_anomalies(int argc, char **argv)
{
	enum { O_CSV = 256, O_TIME, O_VALUE, O_COUNTS };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "csv", required_argument, NULL, O_CSV },
		{ "time", required_argument, NULL, O_TIME },
		{ "value", required_argument, NULL, O_VALUE },
		{ "counts", no_argument, NULL, O_COUNTS },
		CLI_DETECTOR_LONG,
		{ 0 },
	};
	const char *file = NULL, *time_col = NULL, *value_col = NULL;
	struct dc_params p;
	struct csv_reader r;
	struct csv_error ce;
	struct notes notes = { 0 };
	struct row *rows = NULL, **ord = NULL;
	size_t nrows = 0, cap = 0, nmiss = 0, nbad = 0, first_bad = 0, npts = 0;
	double *grid = NULL;
	size_t *first_row = NULL, *nrows_at = NULL;
	struct dc_result dr = { 0 };
	struct dc_interval *iv = NULL;
	long niv = 0;
	bool use_time = false;
	FILE *f = NULL;
	int c, rc, tcol = -1, vcol = -1, ret = 1;

	dc_params_default(&p);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case O_CSV: file = optarg; break;
		case O_TIME: time_col = optarg; break;
		case O_VALUE: value_col = optarg; break;
		case O_COUNTS: p.counts = true; break;
		default: {
			bool handled;
			int rc = cli_detector_opt("anomalies", c, optarg, &p, &handled);

			if (rc)
				return rc;
			if (!handled && !cli_common_opt(c))
				return cli_usage_error("anomalies", "invalid option");
		}
		}
	}
	if (optind < argc && !file)
		file = argv[optind++];
	if (optind < argc)
		return cli_usage_error("anomalies", "unexpected argument '%s'", argv[optind]);
	if (!file)
		return cli_usage_error("anomalies", "--csv FILE is required");
	f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		p_err("anomalies: cannot open %s: %s", file, strerror(errno));
		return 1;
	}
	csv_init(&r, f, ',');
	rc = csv_next(&r, &ce);
	if (rc <= 0) {
		if (rc < 0)
			p_err("anomalies: %s: line %zu column %zu: %s", file, ce.line, ce.col, ce.msg);
		else
			p_err("anomalies: %s: empty input (no header row)", file);
		goto out;
	}
	if (time_col) {
		if ((tcol = csv_find_col(r.fields, r.nfields, time_col)) < 0) {
			p_err("anomalies: %s: no column named '%s'", file, time_col);
			goto out;
		}
	} else {
		static const char *const names[] = { "time", "timestamp", "ts", "date", "datetime" };

		for (size_t i = 0; i < 5 && tcol < 0; i++)
			tcol = csv_find_col(r.fields, r.nfields, names[i]);
	}
	if (value_col) {
		if ((vcol = csv_find_col(r.fields, r.nfields, value_col)) < 0) {
			p_err("anomalies: %s: no column named '%s'", file, value_col);
			goto out;
		}
	} else {
		static const char *const names[] = { "value", "count", "y" };

		for (size_t i = 0; i < 3 && vcol < 0; i++)
			vcol = csv_find_col(r.fields, r.nfields, names[i]);
		if (vcol < 0 && r.nfields == 2 && tcol >= 0)
			vcol = 1 - tcol;
		if (vcol < 0 && r.nfields == 1 && tcol < 0)
			vcol = 0;
		if (vcol < 0) {
			p_err("anomalies: %s: which column holds the values? use --value COL", file);
			goto out;
		}
	}
	if (tcol < 0)
		notes_add(&notes, "no time column: using the row order as time");
	size_t hdr_cols = r.nfields;

	while ((rc = csv_next(&r, &ce)) > 0) {
		struct row *rw;
		const char *vs;
		char *end;

		if (r.nfields > hdr_cols) {
			p_err("anomalies: %s: line %zu has %zu fields, the header has %zu", file, r.rec_line, r.nfields,
			      hdr_cols);
			goto out;
		}
		if (nrows == cap) {
			size_t nc = cap ? cap * 2 : 1024;
			struct row *t = realloc(rows, nc * sizeof(*t));

			if (!t) {
				p_err("anomalies: out of memory");
				goto out;
			}
			rows = t;
			cap = nc;
		}
		rw = &rows[nrows];
		rw->time = strdup(tcol >= 0 && (size_t)tcol < r.nfields ? r.fields[tcol] : "");
		if (!rw->time) {
			p_err("anomalies: out of memory");
			goto out;
		}
		nrows++;
		vs = (size_t)vcol < r.nfields ? r.fields[vcol] : "";
		if (csv_is_missing(vs)) {
			rw->value = NAN;
			nmiss++;
		} else {
			rw->value = strtod(vs, &end);
			while (*end == ' ' || *end == '\t')
				end++;
			if (end == vs || *end || !isfinite(rw->value)) {
				rw->value = NAN;
				if (!nbad)
					first_bad = r.rec_line;
				nbad++;
			}
		}
		rw->ts = (int64_t)nrows - 1;
		if (tcol >= 0 && !time_parse_any(rw->time, strlen(rw->time), &rw->ts)) {
			p_err("anomalies: %s: line %zu: cannot parse time '%.64s' (RFC 3339 or epoch seconds expected)",
			      file, r.rec_line, rw->time);
			goto out;
		}
	}
	if (rc < 0) {
		p_err("anomalies: %s: line %zu column %zu: %s", file, ce.line, ce.col, ce.msg);
		goto out;
	}
	if (nrows == 0) {
		p_err("anomalies: %s: no data rows", file);
		goto out;
	}
	if (nmiss)
		notes_add(&notes, "%zu missing values: interpolated for the baseline, never flagged", nmiss);
	if (nbad)
		notes_add(&notes, "%zu non-numeric values (first at line %zu) treated as missing", nbad, first_bad);
	use_time = tcol >= 0;

	/* order by time, merge repeated timestamps, fill gaps on the regular grid */
	ord = malloc(nrows * sizeof(*ord));
	if (!ord)
		goto oom;
	for (size_t i = 0; i < nrows; i++)
		ord[i] = &rows[i];
	{
		bool sorted = true;

		for (size_t i = 1; i < nrows; i++)
			if (rows[i].ts < rows[i - 1].ts)
				sorted = false;
		if (!sorted) {
			qsort(ord, nrows, sizeof(*ord), cmp_row_ts);
			notes_add(&notes, "rows were not in time order: sorted by time");
		}
	}
	size_t nuniq = 0, ndup = 0;
	int64_t step = 1;

	for (size_t i = 0; i < nrows; i++) {
		if (i == 0 || ord[i]->ts != ord[i - 1]->ts)
			nuniq++;
		else
			ndup++;
	}
	if (ndup)
		notes_add(&notes, "%zu rows repeat an earlier timestamp: their values were averaged into one point (each row is still scored against that point's baseline)", ndup);
	if (use_time && nuniq > 2) {
		int64_t *d = malloc((nuniq - 1) * sizeof(*d));
		size_t m = 0;

		if (!d)
			goto oom;
		for (size_t i = 1; i < nrows; i++)
			if (ord[i]->ts != ord[i - 1]->ts)
				d[m++] = ord[i]->ts - ord[i - 1]->ts;
		qsort(d, m, sizeof(*d), cmp_i64);
		step = d[m / 2];
		free(d);
	}
	/* grid size with gap filling */
	size_t ngrid = 0, inserted = 0;
	bool fill = use_time && step > 0;

	if (fill) {
		__int128 total = 1;

		for (size_t i = 1; i < nrows; i++) {
			int64_t dt = ord[i]->ts - ord[i - 1]->ts;

			if (dt > step + step / 2)
				total += (__int128)((dt + step / 2) / step);
			else if (dt > 0)
				total++;
		}
		if (total > (__int128)(4 * nuniq + 10000)) {
			fill = false;
			notes_add(&notes, "time gaps too irregular to fill (a regular grid would need %.0f points for %zu timestamps): points are used in time order",
				  (double)total, nuniq);
		}
	}
	for (size_t i = 0; i < nrows; i++) {
		if (i > 0 && ord[i]->ts == ord[i - 1]->ts) {
			ord[i]->point = ngrid - 1;
			continue;
		}
		if (i > 0 && fill) {
			int64_t dt = ord[i]->ts - ord[i - 1]->ts;

			if (dt > step + step / 2) {
				size_t k = (size_t)((dt + step / 2) / step) - 1;

				ngrid += k;
				inserted += k;
			}
		}
		ord[i]->point = ngrid++;
	}
	if (inserted)
		notes_add(&notes, "%zu missing time steps (gaps longer than 1.5 x the step of %.6g s) inserted as missing points", inserted,
			  (double)step / 1e9);
	grid = malloc(ngrid * sizeof(*grid));
	first_row = malloc(ngrid * sizeof(*first_row));
	double *cnt = calloc(ngrid, sizeof(*cnt));

	if (!grid || !first_row || !cnt) {
		free(cnt);
		goto oom;
	}
	for (size_t g = 0; g < ngrid; g++) {
		grid[g] = NAN;
		first_row[g] = SIZE_MAX;
	}
	for (size_t i = 0; i < nrows; i++) {
		size_t g = ord[i]->point;

		if (first_row[g] == SIZE_MAX)
			first_row[g] = (size_t)(ord[i] - rows);
		if (isfinite(ord[i]->value)) {
			grid[g] = cnt[g] ? grid[g] + ord[i]->value : ord[i]->value;
			cnt[g]++;
		}
	}
	for (size_t g = 0; g < ngrid; g++)
		if (cnt[g] > 1)
			grid[g] /= cnt[g];
	nrows_at = calloc(ngrid, sizeof(*nrows_at));
	if (!nrows_at) {
		free(cnt);
		goto oom;
	}
	for (size_t i = 0; i < nrows; i++)
		nrows_at[ord[i]->point]++;
	free(cnt);
	npts = ngrid;
	if (dc_run(grid, npts, &p, &dr)) {
		p_err("anomalies: %s: no numeric value in column %s", file, value_col ? value_col : r.fields ? "value" : "?");
		goto out;
	}
	niv = dc_intervals(dr.event, dr.score, npts, 0, &iv);
	if (niv < 0)
		goto oom;
	notes_log(&notes, "anomalies");

	if (g_opts.json) {
		struct json_writer w;

		jw_init(&w, stdout, g_opts.pretty);
		jw_obj_begin(&w);
		jw_key(&w, "points");
		jw_arr_begin(&w);
		for (size_t g = 0; g < npts; g++) {
			if (first_row[g] == SIZE_MAX)
				continue; /* an inserted missing step */
			jw_obj_begin(&w);
			jw_kv_uint(&w, "index", g);
			jw_kv_uint(&w, "row", first_row[g]);
			if (nrows_at[g] > 1)
				jw_kv_uint(&w, "rows", nrows_at[g]);
			jw_kv_str(&w, "time", rows[first_row[g]].time);
			jw_kv_double(&w, "value", grid[g]);
			jw_kv_double(&w, "baseline", dr.baseline[g]);
			jw_kv_double(&w, "score", dr.score[g]);
			jw_kv_int(&w, "flag", dr.flag[g]);
			jw_kv_int(&w, "event", dr.event[g]);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_key(&w, "intervals");
		jw_arr_begin(&w);
		for (long k = 0; k < niv; k++) {
			size_t rs = first_row[iv[k].start], re = first_row[iv[k].end];

			jw_obj_begin(&w);
			jw_kv_str(&w, "start", rows[rs].time);
			jw_kv_str(&w, "end", rows[re].time);
			jw_kv_double(&w, "score", iv[k].score);
			jw_kv_uint(&w, "start_index", rs);
			jw_kv_uint(&w, "end_index", re);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_kv_int(&w, "period", dr.period);
		jw_kv_str(&w, "method", cli_detector_method_name(&p));
		jw_kv_str(&w, "trend", p.trend == DC_TREND_AVG ? "avg" : p.trend == DC_TREND_LINEFIT ? "linefit" : "none");
		jw_kv_double(&w, "threshold", dc_threshold(&p));
		jw_kv_uint(&w, "series_points", npts);
		notes_json(&w, &notes);
		jw_obj_end(&w);
		fputc('\n', stdout);
	} else {
		size_t nflag = 0;

		printf("%zu rows, %zu series points, method %s, period %d, threshold %.3g\n\n", nrows, npts,
		       cli_detector_method_name(&p), dr.period, dc_threshold(&p));
		printf("%-8s %-32s %14s %14s %10s %5s\n", "POINT", "TIME", "VALUE", "BASELINE", "SCORE", "FLAG");
		for (size_t g = 0; g < npts; g++) {
			if (!dr.flag[g] || first_row[g] == SIZE_MAX)
				continue;
			nflag++;
			printf("%-8zu %-32.32s %14.6g %14.6g %+10.3f %5d\n", g, rows[first_row[g]].time, grid[g], dr.baseline[g],
			       dr.score[g], dr.flag[g]);
		}
		if (!nflag)
			printf("(no anomalous point)\n");
		printf("\n%ld interval%s\n", niv, niv == 1 ? "" : "s");
		for (long k = 0; k < niv; k++)
			printf("  %s .. %s  score %+.3f\n", rows[first_row[iv[k].start]].time, rows[first_row[iv[k].end]].time,
			       iv[k].score);
	}
	ret = 0;
	goto out;
oom:
	p_err("anomalies: out of memory");
out:
	csv_free(&r);
	for (size_t i = 0; i < nrows; i++)
		free(rows[i].time);
	free(rows);
	free(ord);
	free(grid);
	free(first_row);
	free(nrows_at);
	free(iv);
	dc_result_free(&dr);
	notes_free(&notes);
	if (f && f != stdin)
		fclose(f);
	return ret;
}
