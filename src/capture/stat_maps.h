/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The hit and event counter arrays kapimon's BPF objects share (bpf/kp_common.h KP_STAT_MAPS):
 * KP_STAT_STRIDE slots per CPU. Sized to the possible CPUs before the load, then read through a
 * read-only mmap of the array, so a stats read (top's refresh, the budget's calibration, record's
 * stats line) is loads from memory, not a syscall per map. Where the mmap fails (it should not: the
 * arrays are BPF_F_MMAPABLE, Linux 5.5+), the read falls back to one batch lookup syscall.
 */
#ifndef KAPIMON_CAPTURE_STAT_MAPS_H
#define KAPIMON_CAPTURE_STAT_MAPS_H

#include <stddef.h>
#include <stdint.h>

struct bpf_map;

struct stat_map {
	const volatile uint64_t *mm; /* ncpu * KP_STAT_STRIDE slots, NULL: read by syscall */
	size_t mm_len;
	int fd;
	int ncpu;
	uint64_t *buf;  /* the fallback's values */
	uint32_t *keys; /* ... and its batch-lookup keys (allocated once, with buf) */
};

/* Before the load: ncpu * KP_STAT_STRIDE slots. 0 or -errno. */
int stat_map_size(struct bpf_map *m);
/* After the load (or for a map fd shared from another object): map it. 0, or -errno when nothing can
 * read it (the fallback is kept when only the mmap fails). */
int stat_map_open(struct stat_map *s, int fd);
/* out[k] = the sum over CPUs of slot k, k < n <= KP_STAT_STRIDE. */
void stat_map_sum(struct stat_map *s, uint32_t n, uint64_t *out);
void stat_map_close(struct stat_map *s);

/* The sum itself (pure): slots holds ncpu blocks of KP_STAT_STRIDE values. */
void stat_slots_sum(const volatile uint64_t *slots, int ncpu, uint32_t n, uint64_t *out);

#endif
