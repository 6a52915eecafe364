// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kapimon doctor: runtime feature probes. Nothing is assumed from kernel version or config: each
 * probe loads (and where possible attaches and triggers) a minimal BPF program.
 */
#include "doctor/doctor.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static void setc(struct doctor_check *c, const char *name, enum doctor_status st, bool required, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void setc(struct doctor_check *c, const char *name, enum doctor_status st, bool required, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->name, sizeof(c->name), "%s", name);
	c->status = st;
	c->required = required;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static const char *errstr(int err)
{
	static char buf[64];

	if (err < 0)
		err = -err;
	switch (err) {
	case 524: return "ENOTSUPP (operation not supported by this kernel)";
	case EPERM: return "EPERM (operation not permitted)";
	case EACCES: return "EACCES (permission denied)";
	case EINVAL: return "EINVAL (invalid argument)";
	case ENOENT: return "ENOENT (no such file or directory)";
	case E2BIG: return "E2BIG";
	case EOPNOTSUPP: return "EOPNOTSUPP (operation not supported)";
	default: snprintf(buf, sizeof(buf), "%s (errno %d)", strerror(err), err); return buf;
	}
}

static const char *kapimon_uses =
	"Not needed: kapimon uses uprobes (Go function entry + RET instructions) and tracepoints instead";

/* ---------------------------------------------------------------------------------------------- */

void doctor_check_privileges(struct doctor_check *c, struct doctor_features *f)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { 0 };
	struct doctor_caps st = { 0 };
	char missing[64], *status = doctor_read_file("/proc/self/status", 1 << 16);
	uint64_t eff;
	bool ok;

	if (syscall(SYS_capget, &hdr, data) != 0) {
		free(status);
		setc(c, "privileges", DOC_MISSING, true, "capget failed: %s", errstr(errno));
		f->privileges = false;
		return;
	}
	eff = (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
	if (status)
		doctor_parse_status_caps(status, &st);
	free(status);
	ok = doctor_privileges_ok(eff, missing, sizeof(missing));
	f->privileges = ok;
	if (ok) {
		setc(c, "privileges", DOC_OK, true, "uid %u; effective: CAP_BPF %s, CAP_PERFMON %s, CAP_SYS_ADMIN %s%s",
		     (unsigned)geteuid(), doctor_cap_in(eff, DOC_CAP_BPF) ? "yes" : "no",
		     doctor_cap_in(eff, DOC_CAP_PERFMON) ? "yes" : "no",
		     doctor_cap_in(eff, DOC_CAP_SYS_ADMIN) ? "yes" : "no",
		     doctor_cap_in(eff, DOC_CAP_SYS_ADMIN) ? "" : " (CAP_BPF+CAP_PERFMON suffice on kernels >= 5.8)");
		return;
	}
	/* Say whether the capabilities could be granted at all (bounding set) or are cut by a container. */
	bool in_bnd = (st.found & 8) && (doctor_cap_in(st.bnd, DOC_CAP_SYS_ADMIN) ||
					 (doctor_cap_in(st.bnd, DOC_CAP_BPF) && doctor_cap_in(st.bnd, DOC_CAP_PERFMON)));
	setc(c, "privileges", DOC_MISSING, true,
	     "uid %u lacks %s (and CAP_SYS_ADMIN): BPF programs cannot be loaded or attached. %s",
	     (unsigned)geteuid(), missing,
	     in_bnd ? "Run as root (sudo kapimon ...) or grant them: setcap cap_bpf,cap_perfmon+ep ./kapimon"
		    : "They are not even in the bounding set: the container must be started with "
		      "--cap-add BPF --cap-add PERFMON (or --privileged)");
}

void doctor_check_btf(struct doctor_check *c, struct doctor_features *f)
{
	struct stat sb;
	struct btf *btf;

	if (stat("/sys/kernel/btf/vmlinux", &sb) != 0) {
		f->btf = false;
		setc(c, "btf", DOC_MISSING, true,
		     "/sys/kernel/btf/vmlinux: %s; CO-RE needs kernel BTF (CONFIG_DEBUG_INFO_BTF=y)", errstr(errno));
		return;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		f->btf = false;
		setc(c, "btf", DOC_MISSING, true, "/sys/kernel/btf/vmlinux exists but does not parse: %s",
		     errstr(errno));
		return;
	}
	f->btf = true;
	setc(c, "btf", DOC_OK, true, "/sys/kernel/btf/vmlinux (%lld KiB, %u types): CO-RE relocations work",
	     (long long)sb.st_size / 1024, btf__type_cnt(btf));
	btf__free(btf);
}

void doctor_check_tracefs(struct doctor_check *c, struct doctor_features *f, bool no_mount)
{
	char *mounts = doctor_read_file("/proc/mounts", 1 << 20);
	char mnt[256];
	bool found = doctor_find_mount(mounts, "tracefs", mnt, sizeof(mnt));

	free(mounts);
	f->tracefs_mounted_now = false;
	if (found) {
		char ev[300];

		snprintf(ev, sizeof(ev), "%s/events", mnt);
		f->tracefs = access(ev, R_OK) == 0;
		snprintf(f->tracefs_path, sizeof(f->tracefs_path), "%s", mnt);
		if (f->tracefs)
			setc(c, "tracefs", DOC_OK, true, "mounted at %s", mnt);
		else
			setc(c, "tracefs", DOC_MISSING, true, "mounted at %s but %s is not readable", mnt, ev);
		return;
	}
	if (no_mount) {
		f->tracefs = false;
		setc(c, "tracefs", DOC_MISSING, true,
		     "not mounted; tracepoint ids come from it: mount -t tracefs tracefs /sys/kernel/tracing");
		return;
	}
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0) {
		int e = errno;

		f->tracefs = false;
		setc(c, "tracefs", DOC_MISSING, true,
		     "not mounted, and mounting it at /sys/kernel/tracing failed: %s; tracepoint ids come from it",
		     errstr(e));
		return;
	}
	f->tracefs = true;
	f->tracefs_mounted_now = true;
	snprintf(f->tracefs_path, sizeof(f->tracefs_path), "/sys/kernel/tracing");
	setc(c, "tracefs", DOC_OK, true, "was not mounted: mounted it now at /sys/kernel/tracing");
}

void doctor_check_ringbuf(struct doctor_check *c, struct doctor_features *f)
{
	int r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);

	f->ringbuf = r == 1;
	if (r == 1)
		setc(c, "ringbuf", DOC_OK, true, "BPF_MAP_TYPE_RINGBUF can be created (events reach user space through it)");
	else if (r == 0)
		setc(c, "ringbuf", DOC_MISSING, true, "BPF_MAP_TYPE_RINGBUF is not supported (kernel < 5.8?)");
	else
		setc(c, "ringbuf", DOC_MISSING, true, "probing BPF_MAP_TYPE_RINGBUF failed: %s", errstr(r));
}

/* ---- a counting program: array[0] += 1 ---- */

struct counter {
	int map_fd, prog_fd;
};

static int counter_load(struct counter *k, enum bpf_prog_type type, char *log, size_t loglen)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = (__u32)loglen, .log_level = log ? 1 : 0);
	struct bpf_insn insns[] = {
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, 0), /* r1 = map */
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),    /* *(u32 *)(fp - 4) = 0 */
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0), /* r2 = fp */
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),  /* r2 -= 4 */
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0),     /* if !r0 goto out */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1),   /* r1 = 1 */
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD), /* lock *(u64 *)r0 += r1 */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),   /* out: r0 = 0 */
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};

	k->prog_fd = -1;
	k->map_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "kapimon_doctor", 4, 8, 1, NULL);
	if (k->map_fd < 0)
		return -errno;
	insns[0].imm = k->map_fd;
	k->prog_fd = bpf_prog_load(type, "kapimon_doctor", "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts);
	if (k->prog_fd < 0) {
		int e = k->prog_fd;

		close(k->map_fd);
		k->map_fd = -1;
		return e;
	}
	return 0;
}

static uint64_t counter_value(const struct counter *k)
{
	uint32_t key = 0;
	uint64_t v = 0;

	if (bpf_map_lookup_elem(k->map_fd, &key, &v) != 0)
		return 0;
	return v;
}

static void counter_close(struct counter *k)
{
	if (k->prog_fd >= 0)
		close(k->prog_fd);
	if (k->map_fd >= 0)
		close(k->map_fd);
	k->prog_fd = k->map_fd = -1;
}

static int perf_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Attach prog to a perf event fd and enable it; returns 0 or -errno. */
static int perf_attach(int pfd, int prog_fd)
{
	if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd) != 0)
		return -errno;
	if (ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) != 0)
		return -errno;
	return 0;
}

static int read_pmu_type(const char *pmu)
{
	char path[128], *s;
	int t = -1;

	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/type", pmu);
	s = doctor_read_file(path, 64);
	if (s) {
		t = atoi(s);
		free(s);
	}
	return t;
}

/* The uprobe target: a real function of this binary, never inlined. */
__attribute__((noinline, used)) int kapimon_doctor_uprobe_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

void doctor_check_uprobe(struct doctor_check *c, struct doctor_features *f)
{
	int (*volatile target)(int) = kapimon_doctor_uprobe_target;
	struct perf_event_attr attr = { 0 };
	struct counter k;
	char path[4096], *maps;
	uint64_t off = 0, hits;
	int type, pfd, r;

	f->uprobe = false;
	type = read_pmu_type("uprobe");
	if (type < 0) {
		setc(c, "uprobe", DOC_MISSING, true,
		     "no uprobe PMU (/sys/bus/event_source/devices/uprobe): kernel built without CONFIG_UPROBE_EVENTS; "
		     "kapimon attaches to kube-apiserver's Go functions with uprobes and cannot run without them");
		return;
	}
	maps = doctor_read_file("/proc/self/maps", 1 << 22);
	if (!doctor_maps_lookup(maps, (uint64_t)(uintptr_t)target, path, sizeof(path), &off)) {
		free(maps);
		setc(c, "uprobe", DOC_INFO, true, "uprobe PMU type %d present; self-test skipped (could not map "
						  "kapimon's own code to a file offset)", type);
		f->uprobe = true;
		return;
	}
	free(maps);
	r = counter_load(&k, BPF_PROG_TYPE_KPROBE, NULL, 0);
	if (r < 0) {
		setc(c, "uprobe", DOC_MISSING, true, "uprobe PMU type %d present, but loading a kprobe-type program "
						     "failed: %s", type, errstr(r));
		return;
	}
	attr.size = sizeof(attr);
	attr.type = (uint32_t)type;
	attr.config1 = (uint64_t)(uintptr_t)path;
	attr.config2 = off;
	attr.disabled = 1;
	pfd = perf_open(&attr, getpid(), -1);
	if (pfd < 0) {
		r = -errno;
		counter_close(&k);
		setc(c, "uprobe", DOC_MISSING, true, "uprobe PMU present, but perf_event_open(uprobe %s+0x%llx) failed: %s",
		     path, (unsigned long long)off, errstr(r));
		return;
	}
	r = perf_attach(pfd, k.prog_fd);
	if (r < 0) {
		close(pfd);
		counter_close(&k);
		setc(c, "uprobe", DOC_MISSING, true, "attaching a BPF program to a uprobe failed: %s", errstr(r));
		return;
	}
	for (int i = 0; i < 3; i++)
		target(i);
	hits = counter_value(&k);
	close(pfd);
	counter_close(&k);
	if (hits != 3) {
		setc(c, "uprobe", DOC_MISSING, true, "a uprobe on kapimon's own code attached but fired %llu times "
						     "for 3 calls", (unsigned long long)hits);
		return;
	}
	f->uprobe = true;
	setc(c, "uprobe", DOC_OK, true, "attached a BPF program to a uprobe on kapimon's own code: fired 3/3 "
					"(kapimon probes Go function entry and RET instructions this way)");
}

void doctor_check_tracepoint(struct doctor_check *c, struct doctor_features *f)
{
	static const char *const want[] = { "syscalls", "sock", "tcp" };
	struct perf_event_attr attr = { 0 };
	struct counter k;
	char path[512], missing[64] = "", *id;
	uint64_t hits;
	int pfd, r;

	f->tracepoint = false;
	if (!f->tracefs_path[0]) {
		setc(c, "tracepoint", DOC_MISSING, true, "cannot find tracepoint ids without tracefs");
		return;
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s", f->tracefs_path, want[i]);
		if (access(path, R_OK) != 0)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %s", want[i]);
	}
	snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_getppid/id", f->tracefs_path);
	id = doctor_read_file(path, 32);
	if (!id) {
		setc(c, "tracepoint", DOC_MISSING, true, "%s: %s (kernel without CONFIG_FTRACE_SYSCALLS?)", path,
		     errstr(errno));
		return;
	}
	attr.config = strtoull(id, NULL, 10);
	free(id);
	r = counter_load(&k, BPF_PROG_TYPE_TRACEPOINT, NULL, 0);
	if (r < 0) {
		setc(c, "tracepoint", DOC_MISSING, true, "loading a tracepoint program failed: %s", errstr(r));
		return;
	}
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	attr.disabled = 1;
	pfd = perf_open(&attr, getpid(), -1);
	if (pfd < 0 || (r = perf_attach(pfd, k.prog_fd)) < 0) {
		r = pfd < 0 ? -errno : r;
		if (pfd >= 0)
			close(pfd);
		counter_close(&k);
		setc(c, "tracepoint", DOC_MISSING, true, "attaching to syscalls/sys_enter_getppid failed: %s", errstr(r));
		return;
	}
	for (int i = 0; i < 3; i++)
		syscall(SYS_getppid);
	hits = counter_value(&k);
	close(pfd);
	counter_close(&k);
	if (hits < 3) {
		setc(c, "tracepoint", DOC_MISSING, true, "tracepoint program attached but fired %llu times for 3 calls",
		     (unsigned long long)hits);
		return;
	}
	f->tracepoint = !missing[0];
	if (missing[0])
		setc(c, "tracepoint", DOC_MISSING, true, "tracepoint programs work, but these event groups are missing:%s",
		     missing);
	else
		setc(c, "tracepoint", DOC_OK, true, "attached to syscalls/sys_enter_getppid: fired %llu/3; syscalls, "
						    "sock and tcp event groups present", (unsigned long long)hits);
}

void doctor_check_raw_tp(struct doctor_check *c, struct doctor_features *f)
{
	struct bpf_insn insns[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "kapimon_doctor", "GPL", insns, 2, NULL), lfd;

	f->raw_tp = false;
	if (fd < 0) {
		setc(c, "raw_tp", DOC_MISSING, false, "loading a raw tracepoint program failed: %s (optional)", errstr(fd));
		return;
	}
	lfd = bpf_raw_tracepoint_open("sys_enter", fd);
	if (lfd < 0) {
		setc(c, "raw_tp", DOC_MISSING, false, "raw tracepoint sys_enter: attach failed: %s (optional)", errstr(lfd));
		close(fd);
		return;
	}
	close(lfd);
	close(fd);
	f->raw_tp = true;
	setc(c, "raw_tp", DOC_OK, false, "raw tracepoint program attached to sys_enter");
}

void doctor_check_kprobe(struct doctor_check *c, struct doctor_features *f)
{
	static const char *const funcs[] = { "tcp_sendmsg", "vfs_read", "do_sys_openat2" };
	struct perf_event_attr attr = { 0 };
	struct counter k;
	char legacy[300] = "";
	int type = read_pmu_type("kprobe"), r, pfd = -1, e = 0;
	const char *fn = NULL;

	f->kprobe = false;
	if (f->tracefs_path[0])
		snprintf(legacy, sizeof(legacy), "%s/kprobe_events", f->tracefs_path);
	if (type < 0) {
		bool has_legacy = legacy[0] && access(legacy, F_OK) == 0;

		setc(c, "kprobe", DOC_MISSING, false,
		     "no kprobe PMU (/sys/bus/event_source/devices/kprobe)%s: kernel built without CONFIG_KPROBES. %s",
		     has_legacy ? " (but tracefs kprobe_events exists)" : " and no tracefs kprobe_events", kapimon_uses);
		f->kprobe = has_legacy;
		return;
	}
	r = counter_load(&k, BPF_PROG_TYPE_KPROBE, NULL, 0);
	if (r < 0) {
		setc(c, "kprobe", DOC_MISSING, false, "kprobe PMU type %d, but loading a kprobe program failed: %s. %s",
		     type, errstr(r), kapimon_uses);
		return;
	}
	attr.size = sizeof(attr);
	attr.type = (uint32_t)type;
	attr.disabled = 1;
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]) && pfd < 0; i++) {
		attr.config1 = (uint64_t)(uintptr_t)funcs[i];
		pfd = perf_open(&attr, -1, 0);
		if (pfd < 0)
			e = -errno;
		else
			fn = funcs[i];
	}
	if (pfd < 0) {
		counter_close(&k);
		setc(c, "kprobe", DOC_MISSING, false, "kprobe PMU type %d, but no kprobe could be created (%s). %s", type,
		     errstr(e), kapimon_uses);
		return;
	}
	r = perf_attach(pfd, k.prog_fd);
	close(pfd);
	counter_close(&k);
	if (r < 0) {
		setc(c, "kprobe", DOC_MISSING, false, "kprobe on %s created but attaching a program failed: %s. %s", fn,
		     errstr(r), kapimon_uses);
		return;
	}
	f->kprobe = true;
	setc(c, "kprobe", DOC_OK, false, "attached a BPF program to a kprobe on %s (optional; kapimon uses uprobes "
					 "and tracepoints)", fn);
}

void doctor_check_fentry(struct doctor_check *c, struct doctor_features *f)
{
	static const char *const funcs[] = { "tcp_sendmsg", "vfs_read", "do_sys_openat2" };
	struct bpf_insn insns[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	static char log[4096];
	struct btf *btf = btf__load_vmlinux_btf();
	const char *fn = NULL;
	int id = -1, fd, lfd;

	f->fentry = false;
	if (!btf) {
		setc(c, "fentry", DOC_MISSING, false, "needs kernel BTF, which is not available. %s", kapimon_uses);
		return;
	}
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]) && id < 0; i++) {
		id = btf__find_by_name_kind(btf, funcs[i], BTF_KIND_FUNC);
		if (id > 0)
			fn = funcs[i];
	}
	btf__free(btf);
	if (id <= 0) {
		setc(c, "fentry", DOC_MISSING, false, "none of tcp_sendmsg, vfs_read, do_sys_openat2 is in kernel BTF. %s",
		     kapimon_uses);
		return;
	}
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = (__u32)id,
		    .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	log[0] = '\0';
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "kapimon_doctor", "GPL", insns, 2, &opts);
	if (fd < 0) {
		/* last non-empty verifier log line says why */
		char *end = log + strlen(log), *nl;

		while (end > log && (end[-1] == '\n' || end[-1] == ' '))
			*--end = '\0';
		nl = strrchr(log, '\n');
		setc(c, "fentry", DOC_MISSING, false, "loading an fentry program for %s failed: %s%s%s%s. %s", fn,
		     errstr(fd), log[0] ? " (verifier: \"" : "", log[0] ? (nl ? nl + 1 : log) : "", log[0] ? "\")" : "",
		     kapimon_uses);
		return;
	}
	lfd = bpf_link_create(fd, 0, BPF_TRACE_FENTRY, NULL);
	if (lfd < 0)
		lfd = bpf_raw_tracepoint_open(NULL, fd);
	if (lfd < 0) {
		setc(c, "fentry", DOC_MISSING, false, "an fentry program for %s loaded but did not attach: %s. %s", fn,
		     errstr(lfd), kapimon_uses);
		close(fd);
		return;
	}
	close(lfd);
	close(fd);
	f->fentry = true;
	setc(c, "fentry", DOC_OK, false, "loaded and attached an fentry program to %s (optional; kapimon uses "
					 "uprobes and tracepoints)", fn);
}

void doctor_check_sysctls(struct doctor_check *c)
{
	char *paranoid = doctor_read_file("/proc/sys/kernel/perf_event_paranoid", 32);
	char *unpriv = doctor_read_file("/proc/sys/kernel/unprivileged_bpf_disabled", 32);
	char *lockdown = doctor_read_file("/sys/kernel/security/lockdown", 128);
	char *p;

	if (paranoid)
		paranoid[strcspn(paranoid, "\n")] = '\0';
	if (unpriv)
		unpriv[strcspn(unpriv, "\n")] = '\0';
	if (lockdown) {
		lockdown[strcspn(lockdown, "\n")] = '\0';
		/* "none [integrity] confidentiality": keep the selected one */
		p = strchr(lockdown, '[');
		if (p) {
			char *q = strchr(p, ']');

			if (q) {
				*q = '\0';
				memmove(lockdown, p + 1, strlen(p + 1) + 1);
			}
		}
	}
	setc(c, "sysctl", DOC_INFO, false,
	     "kernel.perf_event_paranoid=%s, kernel.unprivileged_bpf_disabled=%s, lockdown=%s (privileged users "
	     "are not limited by the first two; lockdown=confidentiality blocks reading kernel memory)",
	     paranoid ? paranoid : "?", unpriv ? unpriv : "?", lockdown ? lockdown : "n/a");
	free(paranoid);
	free(unpriv);
	free(lockdown);
}
