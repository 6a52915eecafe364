/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Subcommands: one file each under src/cli/. Each returns the process exit status:
 * 0 success, 1 runtime failure, 2 usage error. */
#ifndef KAPIMON_CLI_H
#define KAPIMON_CLI_H

#include <getopt.h>
#include <stdbool.h>

struct global_opts {
	bool json;   /* -j/--json */
	bool pretty; /* -p/--pretty */
};
extern struct global_opts g_opts;

int cmd_top(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_anomalies(int argc, char **argv);
int cmd_drilldown(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* Print "kapimon CMD: MSG" and a hint to use --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * getopt_long wrapper loop helper: handles the common options every subcommand accepts
 * (-j/--json, -p/--pretty, -v/--verbose, -q/--quiet) and reports unknown options. Returns the
 * option character for the caller to handle, -1 at the end, or '?' after printing an error.
 */
#define CLI_COMMON_SHORT "jpvqh"
#define CLI_COMMON_LONG                                                                             \
	{ "json", no_argument, NULL, 'j' }, { "pretty", no_argument, NULL, 'p' },                   \
		{ "verbose", no_argument, NULL, 'v' }, { "quiet", no_argument, NULL, 'q' },         \
		{ "help", no_argument, NULL, 'h' }
/* Handle a common option; returns true when c was one of them. */
bool cli_common_opt(int c);

/* Parse a non-negative integer / a double strictly; false on garbage. */
bool cli_parse_long(const char *s, long min, long max, long *out);
bool cli_parse_double(const char *s, double *out);

#endif
