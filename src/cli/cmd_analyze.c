// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon analyze — flows / audit log / CSV -> global series -> anomalous intervals -> root causes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analyze.h"
#include "analysis/report.h"
#include "cli/cli.h"
#include "cli/cli_detector.h"
#include "input/events.h"
#include "input/timeparse.h"
#include "output/json_writer.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon analyze FILE [--input flows|audit|csv] [--dims a,b,c] [--step SECONDS] [OPTIONS]\n\n"
		"Build the request series per step, find anomalous intervals in the total and drill each one\n"
		"down to the dimension combinations that explain it.\n\n"
		"  FILE                  kapimon record output (JSON lines), an audit.k8s.io/v1 audit log, or a\n"
		"                        CSV ('-' for stdin)\n"
		"  --input FMT           flows, audit or csv (default: detected from the first line)\n"
		"  --dims LIST           dimensions (default user_agent,verb,resource); flows/audit know\n"
		"                        user_agent verb resource group version namespace name subresource\n"
		"                        client status|code method path user (audit) and any top-level field\n"
		"  --step SECONDS        series step (default 60; fractions allowed)\n"
		"  --kind KIND           flows: record kind to count (default request)\n"
		"  --time COL            CSV: time column (default time/timestamp/ts)\n"
		"  --value COL           CSV: weight column (default: 1 per row)\n"
		"  --max-drill N         drill down the N strongest intervals (default 20)\n"
		"  --max-causes N        root causes per interval (default 5)\n"
		"  --max-depth N         deepest dimension combination searched (default: all dims when <= 5,\n"
		"                        else 3)\n"
		"  -j, --json            JSON: {\"anomalies\":[{\"start\",\"end\",\"score\",\"root_causes\"}],...}\n"
		"  -h, --help            this help\n"
		"Detector options:\n");
	cli_detector_usage(out);
}

static int on_event(void *ctx, int64_t ts, double w, const char *const *vals, const size_t *lens)
{
	return az_add(ctx, ts, w, vals, lens);
}

int cmd_analyze(int argc, char **argv)
{
	enum { O_INPUT = 256, O_DIMS, O_STEP, O_KIND, O_TIME, O_VALUE, O_DRILL, O_DEPTH, O_CAUSES };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "input", required_argument, NULL, O_INPUT },
		{ "dims", required_argument, NULL, O_DIMS },
		{ "step", required_argument, NULL, O_STEP },
		{ "kind", required_argument, NULL, O_KIND },
		{ "time", required_argument, NULL, O_TIME },
		{ "value", required_argument, NULL, O_VALUE },
		CLI_DETECTOR_LONG,
		{ "max-drill", required_argument, NULL, O_DRILL },
		{ "max-depth", required_argument, NULL, O_DEPTH },
		{ "max-causes", required_argument, NULL, O_CAUSES },
		{ 0 },
	};
	struct ev_opts eo = { .fmt = EV_AUTO };
	struct ev_stats st;
	struct dc_params dp;
	struct dd_params ddp;
	struct analyzer az;
	struct az_result res;
	struct notes notes = { 0 };
	const char *file = NULL, *dims_arg = "user_agent,verb,resource";
	char *dimbuf = NULL, err[256];
	double step = 60;
	long lv, max_drill = 20;
	bool az_ok = false, res_ok = false;
	FILE *f = NULL;
	int c, ret = 1;

	dc_params_default(&dp);
	dp.counts = true; /* requests per step */
	dd_params_default(&ddp);
	ddp.counts = true;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case O_INPUT:
			if (!strcmp(optarg, "flows"))
				eo.fmt = EV_FLOWS;
			else if (!strcmp(optarg, "audit"))
				eo.fmt = EV_AUDIT;
			else if (!strcmp(optarg, "csv"))
				eo.fmt = EV_CSV;
			else
				return cli_usage_error("analyze", "--input: expected flows, audit or csv, got '%s'", optarg);
			break;
		case O_DIMS: dims_arg = optarg; break;
		case O_STEP:
			if (!cli_parse_double(optarg, &step) || step < 1e-6 || step > 1e9)
				return cli_usage_error("analyze", "--step: expected seconds > 0, got '%s'", optarg);
			break;
		case O_KIND: eo.kind = optarg; break;
		case O_TIME: eo.time_col = optarg; break;
		case O_VALUE: eo.value_col = optarg; break;
		case O_DRILL:
			if (!cli_parse_long(optarg, 0, 100000, &max_drill))
				return cli_usage_error("analyze", "--max-drill: expected 0..100000, got '%s'", optarg);
			break;
		case O_DEPTH:
			if (!cli_parse_long(optarg, 1, DD_MAX_DIMS, &lv))
				return cli_usage_error("analyze", "--max-depth: expected 1..%d, got '%s'", DD_MAX_DIMS, optarg);
			ddp.max_depth = (int)lv;
			break;
		case O_CAUSES:
			if (!cli_parse_long(optarg, 1, 100, &lv))
				return cli_usage_error("analyze", "--max-causes: expected 1..100, got '%s'", optarg);
			ddp.max_causes = (int)lv;
			break;
		default: {
			bool handled;
			int rc = cli_detector_opt("analyze", c, optarg, &dp, &handled);

			if (rc)
				return rc;
			if (!handled && !cli_common_opt(c))
				return cli_usage_error("analyze", "invalid option");
		}
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return cli_usage_error("analyze", "unexpected argument '%s'", argv[optind]);
	if (!file)
		return cli_usage_error("analyze", "FILE is required");
	dimbuf = strdup(dims_arg);
	if (!dimbuf)
		return 1;
	{
		char *save = NULL;

		for (char *t = strtok_r(dimbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (eo.ndims == EV_MAX_DIMS || eo.ndims == DD_MAX_DIMS) {
				free(dimbuf);
				return cli_usage_error("analyze", "--dims: at most %d dimensions", DD_MAX_DIMS);
			}
			eo.dims[eo.ndims++] = t;
		}
	}
	if (eo.ndims == 0) {
		free(dimbuf);
		return cli_usage_error("analyze", "--dims: at least one dimension");
	}
	f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		p_err("analyze: cannot open %s: %s", file, strerror(errno));
		free(dimbuf);
		return 1;
	}
	if (az_init(&az, (int64_t)llround(step * 1e9), eo.ndims, (char *const *)eo.dims)) {
		p_err("analyze: out of memory");
		goto out;
	}
	az_ok = true;
	if (ev_load(f, &eo, on_event, &az, &st, err, sizeof(err))) {
		p_err("analyze: %s: %s", file, err);
		goto out;
	}
	notes_add(&notes, "input %s: %zu lines, %zu records used (total weight %.6g)", ev_format_name(st.fmt), st.lines,
		  st.used, st.weight);
	if (st.kind_etcd || st.kind_stats || st.other_kind)
		notes_add(&notes, "ignored records of other kinds: %zu etcd, %zu stats, %zu other", st.kind_etcd,
			  st.kind_stats, st.other_kind);
	if (st.stage_skipped[0] || st.stage_skipped[1] || st.stage_skipped[2])
		notes_add(&notes, "audit: skipped %zu RequestReceived, %zu ResponseStarted and %zu other-stage lines (each request counted once, at ResponseComplete or Panic)",
			  st.stage_skipped[0], st.stage_skipped[1], st.stage_skipped[2]);
	if (st.stage_skipped[3])
		notes_add(&notes, "audit: skipped %zu lines that are not audit Events", st.stage_skipped[3]);
	if (st.bad)
		notes_add(&notes, "skipped %zu unparsable lines (first: %s)", st.bad, st.first_bad_msg);
	if (st.bad_time)
		notes_add(&notes, "skipped %zu records without a usable timestamp", st.bad_time);
	if (st.bad_weight)
		notes_add(&notes, "%zu records had an unusable weight (%s)", st.bad_weight,
			  st.fmt == EV_CSV ? "rows skipped" : "sample_factor ignored, weight 1");
	if (st.missing_dim)
		notes_add(&notes, "%zu records lack some dimension (counted with an empty value)", st.missing_dim);
	if (st.truncated)
		notes_add(&notes, "%zu dimension values longer than %d bytes were truncated", st.truncated, EV_VAL_LEN - 1);
	if (az_run(&az, &dp, &ddp, (size_t)max_drill, &res, err, sizeof(err))) {
		p_err("analyze: %s", err);
		notes_log(&notes, "analyze");
		goto out;
	}
	res_ok = true;
	if (res.partial_edges)
		notes_add(&notes, "%zu partial edge step%s (recording started or stopped inside it) treated as missing",
			  res.partial_edges, res.partial_edges > 1 ? "s" : "");
	if (res.nanoms > res.ndrilled)
		notes_add(&notes, "%zu anomalous intervals; drill-down ran on the %zu strongest (--max-drill)", res.nanoms,
			  res.ndrilled);
	for (size_t k = 0; k < res.nanoms; k++) {
		char what[48];

		if (!res.anoms[k].drilled)
			continue;
		snprintf(what, sizeof(what), "anomaly %zu: ", k + 1);
		notes_dd_unexplained(&notes, &res.anoms[k].dd, az.ndims, what);
	}
	notes_log(&notes, "analyze");

	if (g_opts.json) {
		struct json_writer w;
		char tb[64];

		jw_init(&w, stdout, g_opts.pretty);
		jw_obj_begin(&w);
		jw_key(&w, "anomalies");
		jw_arr_begin(&w);
		for (size_t k = 0; k < res.nanoms; k++) {
			struct az_anomaly *an = &res.anoms[k];

			jw_obj_begin(&w);
			time_format_rfc3339(an->start_ns, an->start_ns % 1000000000 ? 3 : 0, tb, sizeof(tb));
			jw_kv_str(&w, "start", tb);
			time_format_rfc3339(an->end_ns, an->end_ns % 1000000000 ? 3 : 0, tb, sizeof(tb));
			jw_kv_str(&w, "end", tb);
			jw_kv_double(&w, "score", an->score);
			jw_kv_double(&w, "real", an->real);
			jw_kv_double(&w, "expected", an->expected);
			jw_kv_bool(&w, "drilled", an->drilled);
			causes_json(&w, &res.table, an->causes, an->drilled ? an->ncauses : 0);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_key(&w, "summary");
		jw_obj_begin(&w);
		jw_kv_str(&w, "input", ev_format_name(st.fmt));
		jw_kv_uint(&w, "records", st.used);
		jw_kv_double(&w, "weight", st.weight);
		jw_kv_uint(&w, "series", res.nseries);
		jw_kv_uint(&w, "points", res.npoints);
		jw_kv_double(&w, "step", step);
		jw_kv_int(&w, "period", res.dc.period);
		jw_kv_str(&w, "method", cli_detector_method_name(&dp));
		jw_kv_double(&w, "threshold", dc_threshold(&dp));
		time_format_rfc3339(res.t0_ns, 0, tb, sizeof(tb));
		jw_kv_str(&w, "first_step", tb);
		jw_obj_end(&w);
		notes_json(&w, &notes);
		jw_obj_end(&w);
		fputc('\n', stdout);
	} else {
		char t1[64], t2[64];

		time_format_rfc3339(res.t0_ns, 0, t1, sizeof(t1));
		printf("%zu records (%s), %zu series, %zu steps of %gs from %s, period %d steps\n", st.used,
		       ev_format_name(st.fmt), res.nseries, res.npoints, step, t1, res.dc.period);
		printf("%zu anomalous interval%s\n", res.nanoms, res.nanoms == 1 ? "" : "s");
		for (size_t k = 0; k < res.nanoms; k++) {
			struct az_anomaly *an = &res.anoms[k];

			time_format_rfc3339(an->start_ns, 3, t1, sizeof(t1));
			time_format_rfc3339(an->end_ns, 3, t2, sizeof(t2));
			printf("\n%s .. %s  score %+.3f  real %.6g  expected %.6g\n", t1, t2, an->score, an->real,
			       an->expected);
			if (an->drilled)
				causes_text(stdout, &res.table, an->causes, an->ncauses, "  ");
		}
	}
	ret = 0;
out:
	if (res_ok)
		az_result_free(&res);
	if (az_ok)
		az_free(&az);
	notes_free(&notes);
	free(dimbuf);
	if (f && f != stdin)
		fclose(f);
	return ret;
}
