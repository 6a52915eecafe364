// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon drilldown — root-cause localisation on a leaf table (CSV). Method: src/analysis/drilldown.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/drilldown.h"
#include "analysis/report.h"
#include "cli/cli.h"
#include "input/csv.h"
#include "output/json_writer.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon drilldown --csv FILE [--dims a,b,c] [--real COL] [--predict COL] [OPTIONS]\n\n"
		"Find the dimension combinations that explain the deviation between real and predicted values\n"
		"in a leaf table (one CSV row per combination of dimension values).\n\n"
		"  --csv FILE         leaf table with a header row ('-' for stdin)\n"
		"  --dims a,b,c       dimension columns (default: every column but real/predict)\n"
		"  --real COL         column of real values (default: real)\n"
		"  --predict COL      column of forecast values (default: predict)\n"
		"  --max-depth N      deepest combination searched (default: all dims when <= 5, else 3)\n"
		"  --max-causes N     most root causes reported (default 5)\n"
		"  --dev-threshold X  |2(v-f)/(v+f)| above which a leaf is abnormal (default: estimated)\n"
		"  --counts           values are event counts: Poisson significance for leaves and causes, and\n"
		"                     deviations spread thinly over many leaves count for what they share\n"
		"  -j, --json         JSON: {\"root_causes\":[{\"attrs\":{..},\"statistics\":{..}}],...}\n"
		"  -h, --help         this help\n");
}

static double parse_num(const char *s, bool *ok)
{
	char *end;
	double v;

	*ok = false;
	if (csv_is_missing(s))
		return NAN;
	errno = 0;
	v = strtod(s, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == s || *end || !isfinite(v))
		return NAN;
	*ok = true;
	return v;
}

int cmd_drilldown(int argc, char **argv)
{
	enum { O_CSV = 256, O_DIMS, O_REAL, O_PRED, O_DEPTH, O_CAUSES, O_THR, O_COUNTS };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "csv", required_argument, NULL, O_CSV },
		{ "dims", required_argument, NULL, O_DIMS },
		{ "real", required_argument, NULL, O_REAL },
		{ "predict", required_argument, NULL, O_PRED },
		{ "max-depth", required_argument, NULL, O_DEPTH },
		{ "counts", no_argument, NULL, O_COUNTS },
		{ "max-causes", required_argument, NULL, O_CAUSES },
		{ "dev-threshold", required_argument, NULL, O_THR },
		{ 0 },
	};
	const char *file = NULL, *dims_arg = NULL, *real_col = "real", *pred_col = "predict";
	struct dd_params p;
	struct csv_reader r;
	struct csv_error ce;
	struct dd_table t;
	struct notes notes = { 0 };
	char *dimbuf = NULL;
	char *dnames[DD_MAX_DIMS];
	int dcol[DD_MAX_DIMS], rcol, pcol;
	size_t nd = 0, rows = 0, skipped = 0, first_skip = 0;
	FILE *f = NULL;
	int c, rc, ret = 1;
	long v;

	dd_params_default(&p);
	memset(&t, 0, sizeof(t));
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case O_CSV: file = optarg; break;
		case O_DIMS: dims_arg = optarg; break;
		case O_REAL: real_col = optarg; break;
		case O_PRED: pred_col = optarg; break;
		case O_COUNTS: p.counts = true; break;
		case O_DEPTH:
			if (!cli_parse_long(optarg, 1, DD_MAX_DIMS, &v))
				return cli_usage_error("drilldown", "--max-depth: expected 1..%d, got '%s'", DD_MAX_DIMS, optarg);
			p.max_depth = (int)v;
			break;
		case O_CAUSES:
			if (!cli_parse_long(optarg, 1, 100, &v))
				return cli_usage_error("drilldown", "--max-causes: expected 1..100, got '%s'", optarg);
			p.max_causes = (int)v;
			break;
		case O_THR:
			if (!cli_parse_double(optarg, &p.dev_threshold) || p.dev_threshold <= 0 || p.dev_threshold > 2)
				return cli_usage_error("drilldown", "--dev-threshold: expected a number in (0, 2], got '%s'", optarg);
			break;
		default:
			if (!cli_common_opt(c))
				return cli_usage_error("drilldown", "invalid option");
		}
	}
	if (optind < argc && !file)
		file = argv[optind++];
	if (optind < argc)
		return cli_usage_error("drilldown", "unexpected argument '%s'", argv[optind]);
	if (!file)
		return cli_usage_error("drilldown", "--csv FILE is required");
	f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		p_err("drilldown: cannot open %s: %s", file, strerror(errno));
		return 1;
	}
	csv_init(&r, f, ',');
	rc = csv_next(&r, &ce);
	if (rc <= 0) {
		if (rc < 0)
			p_err("drilldown: %s: line %zu column %zu: %s", file, ce.line, ce.col, ce.msg);
		else
			p_err("drilldown: %s: empty input (no header row)", file);
		goto out;
	}
	rcol = csv_find_col(r.fields, r.nfields, real_col);
	pcol = csv_find_col(r.fields, r.nfields, pred_col);
	if (rcol < 0 || pcol < 0) {
		p_err("drilldown: %s: no column named '%s' (header has %zu columns; use --%s)", file,
		      rcol < 0 ? real_col : pred_col, r.nfields, rcol < 0 ? "real" : "predict");
		goto out;
	}
	if (dims_arg) {
		char *save = NULL, *tok;

		dimbuf = strdup(dims_arg);
		for (tok = strtok_r(dimbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (nd == DD_MAX_DIMS) {
				p_err("drilldown: at most %d dimensions", DD_MAX_DIMS);
				goto out;
			}
			dcol[nd] = csv_find_col(r.fields, r.nfields, tok);
			if (dcol[nd] < 0) {
				p_err("drilldown: %s: no column named '%s' for --dims", file, tok);
				goto out;
			}
			dnames[nd++] = tok;
		}
	} else {
		for (size_t i = 0; i < r.nfields && nd < DD_MAX_DIMS; i++) {
			if ((int)i == rcol || (int)i == pcol)
				continue;
			dcol[nd] = (int)i;
			nd++;
		}
		dimbuf = NULL;
	}
	if (nd == 0) {
		p_err("drilldown: no dimension columns");
		goto out;
	}
	{
		char *names[DD_MAX_DIMS];

		for (size_t d = 0; d < nd; d++)
			names[d] = dims_arg ? dnames[d] : r.fields[dcol[d]];
		if (dd_table_init(&t, nd, names)) {
			p_err("drilldown: out of memory");
			goto out;
		}
	}
	size_t hdr_cols = r.nfields;

	while ((rc = csv_next(&r, &ce)) > 0) {
		const char *vals[DD_MAX_DIMS];
		bool ok1, ok2;
		double rv, pv;

		if (r.nfields > hdr_cols) {
			p_err("drilldown: %s: line %zu has %zu fields, the header has %zu", file, r.rec_line, r.nfields,
			      hdr_cols);
			goto out;
		}
		rv = (size_t)rcol < r.nfields ? parse_num(r.fields[rcol], &ok1) : (ok1 = false, NAN);
		pv = (size_t)pcol < r.nfields ? parse_num(r.fields[pcol], &ok2) : (ok2 = false, NAN);
		if (!ok1 || !ok2) {
			if (!skipped)
				first_skip = r.rec_line;
			skipped++;
			continue;
		}
		for (size_t d = 0; d < nd; d++)
			vals[d] = (size_t)dcol[d] < r.nfields ? r.fields[dcol[d]] : "";
		if (dd_table_add(&t, vals, NULL, rv, pv) < 0) {
			p_err("drilldown: out of memory");
			goto out;
		}
		rows++;
	}
	if (rc < 0) {
		p_err("drilldown: %s: line %zu column %zu: %s", file, ce.line, ce.col, ce.msg);
		goto out;
	}
	if (skipped)
		notes_add(&notes, "skipped %zu rows with a missing or non-numeric %s/%s value (first at line %zu)", skipped,
			  real_col, pred_col, first_skip);
	if (t.merged)
		notes_add(&notes, "%zu rows repeated a combination of dimension values and were summed", t.merged);
	if (rows == 0) {
		p_err("drilldown: %s: no usable row", file);
		notes_log(&notes, "drilldown");
		goto out;
	}

	struct dd_cause *causes = NULL;
	struct dd_summary sum;
	long nc = dd_run(&t, &p, &causes, &sum);

	if (nc < 0) {
		p_err("drilldown: out of memory");
		goto out;
	}
	notes_dd_unexplained(&notes, &sum, t.ndims, "");
	notes_log(&notes, "drilldown");
	if (g_opts.json) {
		struct json_writer w;

		jw_init(&w, stdout, g_opts.pretty);
		jw_obj_begin(&w);
		causes_json(&w, &t, causes, nc);
		jw_key(&w, "summary");
		jw_obj_begin(&w);
		jw_kv_uint(&w, "leaves", t.n);
		jw_kv_uint(&w, "rows", rows);
		jw_kv_double(&w, "real", sum.real);
		jw_kv_double(&w, "predict", sum.pred);
		jw_kv_uint(&w, "abnormal_leaves", sum.abnormal);
		jw_kv_uint(&w, "thin_leaves", sum.thin);
		jw_kv_double(&w, "unexplained", sum.unexplained);
		jw_kv_int(&w, "max_depth", sum.max_depth);
		jw_kv_double(&w, "deviation_threshold", sum.threshold);
		jw_obj_end(&w);
		notes_json(&w, &notes);
		jw_obj_end(&w);
		fputc('\n', stdout);
	} else {
		printf("%zu leaves, real %.6g, predict %.6g, %zu abnormal (|ds| > %.3g)\n\n", t.n, sum.real, sum.pred,
		       sum.abnormal, sum.threshold);
		causes_text(stdout, &t, causes, nc, "");
	}
	free(causes);
	ret = 0;
out:
	csv_free(&r);
	dd_table_free(&t);
	notes_free(&notes);
	free(dimbuf);
	if (f && f != stdin)
		fclose(f);
	return ret;
}
