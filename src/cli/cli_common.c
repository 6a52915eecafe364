// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

struct global_opts g_opts;

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kapimon %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'kapimon %s --help'.\n", cmd);
	return 2;
}

bool cli_common_opt(int c)
{
	switch (c) {
	case 'j': g_opts.json = true; return true;
	case 'p': g_opts.json = true; g_opts.pretty = true; return true;
	case 'v': kp_verbose_more(); return true;
	case 'q': kp_verbosity = 0; return true;
	default: return false;
	}
}

bool cli_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool cli_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}
