// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon — eBPF monitor for the Kubernetes API server. Entry point: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"

#define KAPIMON_VERSION "0.1.0"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "top", cmd_top, "live top-style view of apiserver requests and etcd calls" },
	{ "record", cmd_record, "record every apiserver request (and etcd call) as JSON lines" },
	{ "agent", cmd_agent, "always on: Prometheus metrics, OpenTelemetry traces, rotated flows" },
	{ "analyze", cmd_analyze, "find anomalies in flows, audit logs or CSV and drill down to causes" },
	{ "anomalies", cmd_anomalies, "detect anomalous points and intervals in a time series (CSV)" },
	{ "drilldown", cmd_drilldown, "find the dimension combinations that explain a deviation" },
	{ "doctor", cmd_doctor, "check what kapimon needs and find kube-apiserver processes" },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: kapimon [-j|--json] [-v|-q] COMMAND [OPTIONS]\n\n"
		     "eBPF monitor for the Kubernetes API server.\n"
		     "-v: debug messages and libbpf info; -v -v: also libbpf debug output (loads, verifier logs).\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'kapimon COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	/* global options before the command */
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("kapimon %s\n", KAPIMON_VERSION);
			return 0;
		} else if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			g_opts.json = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--pretty")) {
			g_opts.json = g_opts.pretty = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			kp_verbose_more();
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			kp_verbosity = 0;
		} else {
			fprintf(stderr, "kapimon: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (!strcmp(argv[i], commands[c].name)) {
			optind = 1;
			return commands[c].fn(argc - i, argv + i);
		}
	}
	fprintf(stderr, "kapimon: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
