// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "util/log.h"

#include <stdarg.h>

int kp_verbosity = 1;

void kp_verbose_more(void)
{
	kp_verbosity = kp_verbosity < 2 ? 2 : kp_verbosity + 1;
}

int kp_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && kp_verbosity < 3)
		return 0;
	if (level == LIBBPF_INFO && kp_verbosity < 2)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "kapimon: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error: ", fmt, ap);
	va_end(ap);
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	if (kp_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void p_debug(const char *fmt, ...)
{
	va_list ap;

	if (kp_verbosity < 2)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}
