// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Size-rotated output files (output/rotate.h) in a temporary directory. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "output/rotate.h"

static int count(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

static void test_rotate_keep(void **st)
{
	char dir[] = "/tmp/kapimon-rotate-XXXXXX", path[600], err[256];
	struct rotate r;
	struct stat sb;
	uint64_t t = 1700000000ULL * 1000000000ULL;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(rotate_open(&r, dir, "flows.jsonl", 100, 2, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/flows.jsonl", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* under the size: nothing happens */
	fprintf(r.f, "%050d\n", 1);
	assert_int_equal(rotate_check(&r, t), 0);
	assert_int_equal(r.rotations, 0);
	/* five rotations, two kept (same second: suffixed names stay in order) */
	for (int i = 0; i < 5; i++) {
		fprintf(r.f, "%0120d\n", i);
		assert_int_equal(rotate_check(&r, t + (uint64_t)i * 1000000000ULL / 2), 0);
	}
	assert_int_equal(r.rotations, 5);
	assert_int_equal(r.deleted, 3);
	assert_int_equal(count(dir, "flows.jsonl."), 2);
	assert_int_equal(count(dir, "flows.jsonl"), 3);
	/* reopen after an external rename */
	{
		char moved[620];

		snprintf(moved, sizeof(moved), "%s/moved", dir);
		assert_int_equal(rename(path, moved), 0);
		assert_int_equal(rotate_reopen(&r), 0);
		assert_int_equal(access(path, F_OK), 0);
		unlink(moved);
	}
	rotate_close(&r);
	/* clean up */
	{
		DIR *d = opendir(dir);
		struct dirent *e;

		while ((e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
				unlink(path);
			}
		closedir(d);
		rmdir(dir);
	}
}

static void test_bad_dir(void **st)
{
	struct rotate r;
	char err[256];

	assert_true(rotate_open(&r, "/nonexistent/kapimon", "flows.jsonl", 1, 1, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not a directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotate_keep),
		cmocka_unit_test(test_bad_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
