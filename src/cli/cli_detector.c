// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli/cli_detector.h"

#include <string.h>

#include "cli/cli.h"

void cli_detector_usage(FILE *out)
{
	fprintf(out,
		"  --method stream|offline  stream (default): each point judged on earlier points only, one\n"
		"                        alert per event (what a live monitor sees); offline: seasonal\n"
		"                        decomposition of the whole finished series (retrospective)\n"
		"  --threshold X         stream: -log10 of the tail probability that starts an event (default %g);\n"
		"                        offline: Tukey fence widths (default %g)\n"
		"  --season auto|N|0     period in points: detect, fixed, or none (default auto)\n"
		"  --trend avg|linefit|none  offline trend (default avg)\n"
		"  --percentiles LO,HI   offline Tukey fence percentiles (default 10,90)\n",
		DC_THRESHOLD_STREAM, DC_THRESHOLD_OFFLINE);
}

void cli_detector_live_usage(FILE *out, int col)
{
	fprintf(out,
		"  %-*s anomaly detector (the request rate, per second): -log10 of the tail\n"
		"  %-*s probability that starts an event (default %g; higher: fewer events)\n"
		"  %-*s period of the request rate in seconds: detect (default), N, or none\n",
		col - 3, "--threshold X", col - 3, "", DC_THRESHOLD_STREAM, col - 3, "--season auto|N|0");
}

const char *cli_detector_method_name(const struct dc_params *p)
{
	return p->method == DC_METHOD_OFFLINE ? "offline" : "stream";
}

int cli_detector_opt(const char *cmd, int c, const char *arg, struct dc_params *p, bool *handled)
{
	long lv;

	*handled = true;
	switch (c) {
	case CLI_DET_METHOD:
		if (!strcmp(arg, "stream"))
			p->method = DC_METHOD_STREAM;
		else if (!strcmp(arg, "offline"))
			p->method = DC_METHOD_OFFLINE;
		else
			return cli_usage_error(cmd, "--method: expected stream or offline, got '%s'", arg);
		return 0;
	case CLI_DET_THRESHOLD:
		if (!cli_parse_double(arg, &p->threshold) || !(p->threshold > 0) || p->threshold > 1e300)
			return cli_usage_error(cmd, "--threshold: expected a positive number, got '%s'", arg);
		return 0;
	case CLI_DET_SEASON:
		if (!strcmp(arg, "auto"))
			p->season = DC_SEASON_AUTO;
		else if (cli_parse_long(arg, 0, 10000000, &lv) && lv != 1)
			p->season = (int)lv;
		else
			return cli_usage_error(cmd, "--season: expected auto, 0 or a period >= 2, got '%s'", arg);
		return 0;
	case CLI_DET_TREND:
		if (!strcmp(arg, "avg"))
			p->trend = DC_TREND_AVG;
		else if (!strcmp(arg, "linefit"))
			p->trend = DC_TREND_LINEFIT;
		else if (!strcmp(arg, "none"))
			p->trend = DC_TREND_NONE;
		else
			return cli_usage_error(cmd, "--trend: expected avg, linefit or none, got '%s'", arg);
		return 0;
	case CLI_DET_PCT: {
		char buf[64], *comma;

		snprintf(buf, sizeof(buf), "%s", arg);
		comma = strchr(buf, ',');
		if (!comma)
			return cli_usage_error(cmd, "--percentiles: expected LO,HI");
		*comma = '\0';
		if (!cli_parse_double(buf, &p->pct_lo) || !cli_parse_double(comma + 1, &p->pct_hi) || p->pct_lo < 0 ||
		    p->pct_hi > 100 || p->pct_lo >= p->pct_hi)
			return cli_usage_error(cmd, "--percentiles: expected 0 <= LO < HI <= 100");
		return 0;
	}
	}
	*handled = false;
	return 0;
}
