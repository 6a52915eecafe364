/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The anomaly-detector options shared by `anomalies` and `analyze` (one parser, one help text), and
 * their live subset shared by `top` and `agent` (the stream method: --threshold and --season). */
#ifndef KAPIMON_CLI_DETECTOR_H
#define KAPIMON_CLI_DETECTOR_H

#include <stdbool.h>
#include <stdio.h>

#include "analysis/decompose.h"

enum { CLI_DET_METHOD = 1000, CLI_DET_THRESHOLD, CLI_DET_SEASON, CLI_DET_TREND, CLI_DET_PCT };

#define CLI_DETECTOR_LONG                                                                   \
	{ "method", required_argument, NULL, CLI_DET_METHOD },                              \
		{ "threshold", required_argument, NULL, CLI_DET_THRESHOLD },                \
		{ "season", required_argument, NULL, CLI_DET_SEASON },                      \
		{ "trend", required_argument, NULL, CLI_DET_TREND },                        \
		{ "percentiles", required_argument, NULL, CLI_DET_PCT }

#define CLI_DETECTOR_LIVE_LONG                                                      \
	{ "threshold", required_argument, NULL, CLI_DET_THRESHOLD },                \
		{ "season", required_argument, NULL, CLI_DET_SEASON }

/* Handle option c (one of CLI_DET_*); *handled = false for others. 0, or 2 after a usage error. */
int cli_detector_opt(const char *cmd, int c, const char *arg, struct dc_params *p, bool *handled);
void cli_detector_usage(FILE *out);
/* col: the column the descriptions start at (the command's own help) */
void cli_detector_live_usage(FILE *out, int col);
const char *cli_detector_method_name(const struct dc_params *p);

#endif
