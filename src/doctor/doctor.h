/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kapimon doctor: what the host offers (privileges, BTF, tracefs, uprobes, tracepoints, ring buffers,
 * kprobes, fentry) and which kube-apiserver processes run. Pure parsing helpers (unit-tested) plus
 * runtime feature probes that really load/attach minimal BPF programs (never assume a feature).
 */
#ifndef KAPIMON_DOCTOR_H
#define KAPIMON_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Capability numbers (linux/capability.h; CAP_PERFMON/CAP_BPF are missing from old headers). */
#define DOC_CAP_SYS_ADMIN 21
#define DOC_CAP_SYS_PTRACE 19
#define DOC_CAP_PERFMON 38
#define DOC_CAP_BPF 39

enum doctor_status { DOC_OK, DOC_MISSING, DOC_INFO };

struct doctor_check {
	char name[32];
	enum doctor_status status;
	bool required; /* MISSING + required => kapimon cannot run */
	char detail[1024];
};

const char *doctor_status_str(enum doctor_status s);
/* true unless a required check is MISSING */
bool doctor_can_run(const struct doctor_check *checks, size_t n);

/* ---- pure helpers ---- */

struct doctor_caps {
	uint64_t inh, prm, eff, bnd, amb;
	unsigned found; /* bitmask: 1 inh, 2 prm, 4 eff, 8 bnd, 16 amb */
};
/* Parse the Cap* lines of /proc/<pid>/status text. Returns 0 when at least CapEff was found,
 * -EINVAL otherwise (malformed hex is rejected, not half-parsed). */
int doctor_parse_status_caps(const char *status_text, struct doctor_caps *out);
static inline bool doctor_cap_in(uint64_t mask, int cap)
{
	return cap >= 0 && cap < 64 && (mask >> cap) & 1;
}
/* BPF tracing needs CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON (kernel >= 5.8). Writes the missing
 * capabilities (e.g. "CAP_PERFMON") into missing when it returns false. */
bool doctor_privileges_ok(uint64_t eff, char *missing, size_t len);

/* Basename of a /proc/<pid>/exe link target, without a trailing " (deleted)". */
const char *doctor_exe_basename(const char *exe, char *buf, size_t len);
/* An executable (path or basename) is WANT when its basename equals WANT, or is WANT followed by
 * a version/variant suffix starting with '-', '.' or '_' (kube-apiserver-1.20.2, kube-apiserver.orig). */
bool doctor_exe_matches(const char *exe, const char *want);
/* Scan proc_root (normally "/proc") for processes whose exe (or, when the exe link is unreadable,
 * comm) matches want. Stores up to max pids in ascending order; returns the number found (may
 * exceed max) or a negative errno. */
int doctor_find_procs(const char *proc_root, const char *want, pid_t *pids, size_t max);

/* Mount point of the first mount of type fstype in /proc/mounts text. */
bool doctor_find_mount(const char *mounts_text, const char *fstype, char *mnt, size_t len);
/* Translate an address of this process to (mapped file path, file offset) with /proc/self/maps text. */
bool doctor_maps_lookup(const char *maps_text, uint64_t addr, char *path, size_t len, uint64_t *file_off);

/* Read a whole (small, /proc or /sys) file into a NUL-terminated malloc'ed buffer; NULL on error. */
char *doctor_read_file(const char *path, size_t max);

/* ---- runtime probes (need privileges; each fills one check) ---- */

struct doctor_features {
	bool privileges, btf, tracefs, uprobe, tracepoint, ringbuf, kprobe, fentry, raw_tp;
	char tracefs_path[256];
	bool tracefs_mounted_now;
};

void doctor_check_privileges(struct doctor_check *c, struct doctor_features *f);
void doctor_check_btf(struct doctor_check *c, struct doctor_features *f);
/* Mounts tracefs at /sys/kernel/tracing when it is not mounted (unless no_mount). */
void doctor_check_tracefs(struct doctor_check *c, struct doctor_features *f, bool no_mount);
void doctor_check_ringbuf(struct doctor_check *c, struct doctor_features *f);
/* Attaches a counting program to a uprobe on a function of this binary and calls it. */
void doctor_check_uprobe(struct doctor_check *c, struct doctor_features *f);
/* Attaches a counting program to syscalls/sys_enter_getppid (needs tracefs) and triggers it. */
void doctor_check_tracepoint(struct doctor_check *c, struct doctor_features *f);
void doctor_check_raw_tp(struct doctor_check *c, struct doctor_features *f);
void doctor_check_kprobe(struct doctor_check *c, struct doctor_features *f);
void doctor_check_fentry(struct doctor_check *c, struct doctor_features *f);
/* kernel.perf_event_paranoid, kernel.unprivileged_bpf_disabled, lockdown (INFO). */
void doctor_check_sysctls(struct doctor_check *c);

#endif
