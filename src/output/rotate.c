// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/rotate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static FILE *open_0600(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	FILE *f;

	if (fd < 0)
		return NULL;
	fchmod(fd, 0600); /* an existing file keeps no wider mode */
	f = fdopen(fd, "a");
	if (!f)
		close(fd);
	else
		setvbuf(f, NULL, _IOFBF, 1 << 16);
	return f;
}

int rotate_open(struct rotate *r, const char *dir, const char *name, uint64_t max_bytes, unsigned keep, char *err,
		size_t errcap)
{
	char path[700];
	struct stat st;

	memset(r, 0, sizeof(*r));
	if (snprintf(r->dir, sizeof(r->dir), "%s", dir) >= (int)sizeof(r->dir) ||
	    snprintf(r->name, sizeof(r->name), "%s", name) >= (int)sizeof(r->name)) {
		snprintf(err, errcap, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errcap, "%s: not a directory", dir);
		return -ENOTDIR;
	}
	r->max_bytes = max_bytes;
	r->keep = keep;
	snprintf(path, sizeof(path), "%s/%s", r->dir, r->name);
	r->f = open_0600(path);
	if (!r->f) {
		int e = errno;

		snprintf(err, errcap, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* delete the oldest rotated files beyond `keep` (their names sort by time) */
static void prune(struct rotate *r)
{
	DIR *d = opendir(r->dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, plen = strlen(r->name);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, r->name, plen) || e->d_name[plen] != '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));

			if (!nn)
				break;
			names = nn;
		}
		names[n] = strdup(e->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n > r->keep) {
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i + r->keep < n; i++) {
			char path[700];

			snprintf(path, sizeof(path), "%s/%s", r->dir, names[i]);
			if (!unlink(path))
				r->deleted++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int rotate_check(struct rotate *r, uint64_t now_wall_ns)
{
	char cur[700], dst[760], ts[32];
	time_t t = (time_t)(now_wall_ns / 1000000000ULL);
	struct tm tm;
	long pos;

	if (!r->f || !r->max_bytes)
		return 0;
	if (fflush(r->f))
		return -errno;
	pos = ftell(r->f);
	if (pos < 0 || (uint64_t)pos < r->max_bytes)
		return 0;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(cur, sizeof(cur), "%s/%s", r->dir, r->name);
	snprintf(dst, sizeof(dst), "%s/%s.%s", r->dir, r->name, ts);
	for (int i = 1; !access(dst, F_OK) && i < 1000; i++)
		snprintf(dst, sizeof(dst), "%s/%s.%s.%03d", r->dir, r->name, ts, i);
	if (rename(cur, dst))
		return -errno;
	r->rotations++;
	prune(r);
	return rotate_reopen(r);
}

int rotate_reopen(struct rotate *r)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", r->dir, r->name);
	f = open_0600(path);
	if (!f)
		return -errno;
	if (r->f)
		fclose(r->f);
	r->f = f;
	return 0;
}

void rotate_close(struct rotate *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}
