// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon's counter arrays, mmapped: capture/stat_maps.h. */
#include "capture/stat_maps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kapimon/events.h"

_Static_assert(KP_PROBE__COUNT <= KP_STAT_STRIDE && KP_CNT__COUNT <= KP_STAT_STRIDE,
	       "a CPU's block holds every probe and every counter");
_Static_assert(KP_STAT_STRIDE * 8 % 64 == 0, "a CPU's block is whole cache lines");

void stat_slots_sum(const volatile uint64_t *slots, int ncpu, uint32_t n, uint64_t *out)
{
	if (n > KP_STAT_STRIDE)
		n = KP_STAT_STRIDE;
	for (uint32_t k = 0; k < n; k++)
		out[k] = 0;
	for (int c = 0; c < ncpu; c++)
		for (uint32_t k = 0; k < n; k++)
			out[k] += slots[(size_t)c * KP_STAT_STRIDE + k];
}

int stat_map_size(struct bpf_map *m)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	return bpf_map__set_max_entries(m, (uint32_t)ncpu * KP_STAT_STRIDE);
}

int stat_map_open(struct stat_map *s, int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	long page = sysconf(_SC_PAGESIZE);
	void *p;
	int err;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	memset(&info, 0, sizeof(info));
	if (fd < 0)
		return -EBADF;
	err = bpf_obj_get_info_by_fd(fd, &info, &len); /* libbpf 1.x: -errno */
	if (err)
		return err < 0 ? err : -EINVAL;
	if (info.value_size != sizeof(uint64_t) || info.max_entries < KP_STAT_STRIDE || page <= 0)
		return -EINVAL;
	s->fd = fd;
	s->ncpu = (int)(info.max_entries / KP_STAT_STRIDE);
	s->mm_len = ((size_t)info.max_entries * sizeof(uint64_t) + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, s->mm_len, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		s->mm = p;
		return 0;
	}
	s->buf = calloc((size_t)s->ncpu * KP_STAT_STRIDE, sizeof(uint64_t));
	s->keys = calloc((size_t)s->ncpu * KP_STAT_STRIDE, sizeof(uint32_t));
	if (!s->buf || !s->keys) {
		stat_map_close(s);
		return -ENOMEM;
	}
	return 0;
}

void stat_map_sum(struct stat_map *s, uint32_t n, uint64_t *out)
{
	uint32_t total, count, out_batch;

	if (s->mm) {
		stat_slots_sum(s->mm, s->ncpu, n, out);
		return;
	}
	memset(out, 0, (n > KP_STAT_STRIDE ? KP_STAT_STRIDE : n) * sizeof(*out));
	if (!s->buf)
		return;
	total = count = (uint32_t)s->ncpu * KP_STAT_STRIDE;
	/* one syscall for the array (Linux 5.6+), else one per slot */
	if (bpf_map_lookup_batch(s->fd, NULL, &out_batch, s->keys, s->buf, &count, NULL) && errno != ENOENT)
		count = 0;
	if (count != total)
		for (uint32_t k = 0; k < total; k++)
			if (bpf_map_lookup_elem(s->fd, &k, &s->buf[k]))
				s->buf[k] = 0;
	stat_slots_sum(s->buf, s->ncpu, n, out);
}

void stat_map_close(struct stat_map *s)
{
	if (s->mm)
		munmap((void *)s->mm, s->mm_len);
	free(s->buf);
	free(s->keys);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
