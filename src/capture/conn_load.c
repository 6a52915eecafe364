// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "capture/conn_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/stat_maps.h"
#include "conn.skel.h"

static const struct {
	const char *name, *suffix;
} variants[CONN_VAR__COUNT] = {
	[CONN_VAR_BTF] = { "tp_btf", "_btf" },
	[CONN_VAR_RAW] = { "raw_tp", "_raw" },
	[CONN_VAR_TP] = { "tracepoint", "_tp" },
};

const char *conn_variant_name(enum conn_variant v)
{
	return v < CONN_VAR__COUNT ? variants[v].name : "?";
}

int conn_prog_variant(const char *prog_name)
{
	size_t n = prog_name ? strlen(prog_name) : 0;

	for (int v = 0; v < CONN_VAR__COUNT; v++) {
		size_t sl = strlen(variants[v].suffix);

		if (n > sl && !strcmp(prog_name + n - sl, variants[v].suffix))
			return v;
	}
	return -1;
}

void conn_select_variant(struct conn_bpf *skel, enum conn_variant v)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, conn_prog_variant(bpf_program__name(p)) == (int)v);
}

struct conn_bpf *conn_open_load(enum conn_variant *v, char *why, size_t why_len)
{
	return conn_open_load_stats(v, why, why_len, -1, -1);
}

struct conn_bpf *conn_open_load_stats(enum conn_variant *v, char *why, size_t why_len, int hits_fd, int counters_fd)
{
	const char *first = getenv("KAPIMON_CONN_VARIANT"); /* tests: start the fallback chain further down */
	int err = -ENOENT, start = 0;

	if (why && why_len)
		*why = '\0';
	for (int i = 0; first && i < CONN_VAR__COUNT; i++)
		if (!strcmp(first, variants[i].name))
			start = i;
	for (int i = start; i < CONN_VAR__COUNT; i++) {
		struct conn_bpf *s = conn_bpf__open();

		if (!s)
			return NULL;
		conn_select_variant(s, (enum conn_variant)i);
		if (hits_fd < 0 || counters_fd < 0) { /* its own counter arrays: a block per possible CPU */
			stat_map_size(s->maps.conn_hits);
			stat_map_size(s->maps.conn_counters);
		} else if (bpf_map__reuse_fd(s->maps.conn_hits, hits_fd) || bpf_map__reuse_fd(s->maps.conn_counters, counters_fd)) {
			err = -errno;
			if (why && why_len)
				snprintf(why, why_len, "sharing the counter maps: %s", strerror(-err));
			conn_bpf__destroy(s);
			break;
		}
		err = conn_bpf__load(s);
		if (!err) {
			*v = (enum conn_variant)i;
			return s;
		}
		if (why && why_len) {
			size_t l = strlen(why);

			snprintf(why + l, why_len - l, "%s%s: %s", l ? "; " : "", variants[i].name, strerror(-err));
		}
		conn_bpf__destroy(s);
	}
	errno = -err;
	return NULL;
}

int conn_attach(struct conn_bpf *skel, struct bpf_link **links, int max)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, skel->obj)
	{
		struct bpf_link *l;

		if (!bpf_program__autoload(p))
			continue;
		if (n >= max || !(l = bpf_program__attach(p))) {
			int err = n >= max ? -E2BIG : -errno;

			while (n > 0)
				bpf_link__destroy(links[--n]);
			return err;
		}
		links[n++] = l;
	}
	return n;
}
