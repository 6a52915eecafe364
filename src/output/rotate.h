/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A size-rotated output file in a directory (`agent --flows DIR`): writes go to DIR/NAME (mode 0600);
 * once it holds max_bytes, it is renamed to DIR/NAME.<UTC yyyymmddThhmmssZ>[.<n>] and a new one is
 * opened; only the `keep` newest rotated files are kept (older ones are deleted). rotate_reopen()
 * reopens DIR/NAME (SIGHUP: after an external rotation). Not thread-safe.
 */
#ifndef KAPIMON_OUTPUT_ROTATE_H
#define KAPIMON_OUTPUT_ROTATE_H

#include <stdint.h>
#include <stdio.h>

struct rotate {
	char dir[512], name[128];
	uint64_t max_bytes; /* 0: never rotate */
	unsigned keep;
	FILE *f;
	uint64_t rotations, deleted;
};

/* 0, or -errno with err set. */
int rotate_open(struct rotate *r, const char *dir, const char *name, uint64_t max_bytes, unsigned keep, char *err,
		size_t errcap);
/* Rotate when the file reached max_bytes (call after a flush, e.g. once a second). 0, or -errno. */
int rotate_check(struct rotate *r, uint64_t now_wall_ns);
int rotate_reopen(struct rotate *r);
void rotate_close(struct rotate *r);

#endif
