// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Verbosity: -v -v reaches libbpf's debug output (level 3); -v alone shows libbpf info, not debug. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/log.h"

static int call_print(enum libbpf_print_level level, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = kp_libbpf_print(level, fmt, ap);
	va_end(ap);
	return r;
}

/* returns what kp_libbpf_print wrote (stderr redirected to a pipe) */
static int printed(enum libbpf_print_level level)
{
	int fds[2], saved, r;
	char buf[64] = "";

	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fds[1], 2);
	r = call_print(level, "libbpf: %s\n", "x");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	if (r > 0)
		assert_int_equal(read(fds[0], buf, sizeof(buf) - 1), r);
	close(fds[0]);
	return r > 0 ? (int)strlen(buf) : 0;
}

static void test_levels(void **state)
{
	kp_verbosity = 1; /* default */
	assert_int_not_equal(printed(LIBBPF_WARN), 0);
	assert_int_equal(printed(LIBBPF_INFO), 0);
	assert_int_equal(printed(LIBBPF_DEBUG), 0);
	kp_verbose_more(); /* -v */
	assert_int_equal(kp_verbosity, 2);
	assert_int_not_equal(printed(LIBBPF_INFO), 0);
	assert_int_equal(printed(LIBBPF_DEBUG), 0);
	kp_verbose_more(); /* -v -v */
	assert_int_equal(kp_verbosity, 3);
	assert_int_not_equal(printed(LIBBPF_DEBUG), 0);
	kp_verbosity = 0; /* -q, then -v */
	kp_verbose_more();
	assert_int_equal(kp_verbosity, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
