// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon top — placeholder until its issue lands: parses --help and rejects everything else. */
#include <stdio.h>

#include "cli/cli.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: kapimon top [OPTIONS]\n\n(not available in this build yet)\n");
}

int cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONG, { 0 } };
	int c;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (!cli_common_opt(c))
			return cli_usage_error("top", "invalid option");
	}
	p_err("top: not available in this build yet");
	return 1;
}
