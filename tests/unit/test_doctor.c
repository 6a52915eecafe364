// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests for the pure parts of kapimon doctor (src/doctor/doctor_util.c). */
#include <errno.h>
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

#include "doctor/doctor.h"

static const char status_root[] =
	"Name:\tkapimon\n"
	"Umask:\t0022\n"
	"State:\tR (running)\n"
	"CapInh:\t0000000000000000\n"
	"CapPrm:\t000001fffeffffff\n"
	"CapEff:\t000001fffeffffff\n"
	"CapBnd:\t000001ffffffffff\n"
	"CapAmb:\t0000000000000000\n"
	"NoNewPrivs:\t0\n";

static void test_parse_caps_root(void **state)
{
	struct doctor_caps c;

	assert_int_equal(doctor_parse_status_caps(status_root, &c), 0);
	assert_int_equal(c.found, 31);
	assert_true(c.eff == 0x000001fffeffffffULL);
	assert_true(c.bnd == 0x000001ffffffffffULL);
	assert_true(c.inh == 0);
	assert_true(doctor_cap_in(c.eff, DOC_CAP_BPF));
	assert_true(doctor_cap_in(c.eff, DOC_CAP_PERFMON));
	assert_true(doctor_cap_in(c.eff, DOC_CAP_SYS_ADMIN));
	/* bit 24 (CAP_SYS_RESOURCE) is clear in ...feffffff */
	assert_false(doctor_cap_in(c.eff, 24));
	assert_true(doctor_cap_in(c.bnd, 24));
	assert_false(doctor_cap_in(c.eff, 64));
	assert_false(doctor_cap_in(c.eff, -1));
}

static void test_parse_caps_bad(void **state)
{
	struct doctor_caps c;

	/* no CapEff at all */
	assert_int_equal(doctor_parse_status_caps("Name:\tx\nCapPrm:\t0\n", &c), -EINVAL);
	/* garbage after the digits */
	assert_int_equal(doctor_parse_status_caps("CapEff:\t00000000zz\n", &c), -EINVAL);
	/* more than 64 bits */
	assert_int_equal(doctor_parse_status_caps("CapEff:\t00000000000000000001\n", &c), -EINVAL);
	/* empty value */
	assert_int_equal(doctor_parse_status_caps("CapEff:\t\n", &c), -EINVAL);
	assert_int_equal(doctor_parse_status_caps(NULL, &c), -EINVAL);
	/* a key must start the line: "XCapEff:" is not CapEff */
	assert_int_equal(doctor_parse_status_caps("XCapEff:\tffff\n", &c), -EINVAL);
	/* last line without newline, mixed case hex */
	assert_int_equal(doctor_parse_status_caps("CapEff:\t00000000aBcDeF01", &c), 0);
	assert_true(c.eff == 0xabcdef01ULL);
}

static void test_privileges(void **state)
{
	char missing[64];
	uint64_t bpf = 1ULL << DOC_CAP_BPF, perfmon = 1ULL << DOC_CAP_PERFMON, admin = 1ULL << DOC_CAP_SYS_ADMIN;

	assert_true(doctor_privileges_ok(admin, missing, sizeof(missing)));
	assert_string_equal(missing, "");
	assert_true(doctor_privileges_ok(bpf | perfmon, missing, sizeof(missing)));
	assert_false(doctor_privileges_ok(bpf, missing, sizeof(missing)));
	assert_string_equal(missing, "CAP_PERFMON");
	assert_false(doctor_privileges_ok(perfmon, missing, sizeof(missing)));
	assert_string_equal(missing, "CAP_BPF");
	assert_false(doctor_privileges_ok(0, missing, sizeof(missing)));
	assert_string_equal(missing, "CAP_BPF, CAP_PERFMON");
	/* an unprivileged user's typical mask: CapEff 0 */
	struct doctor_caps c;
	assert_int_equal(doctor_parse_status_caps("CapEff:\t0000000000000000\n", &c), 0);
	assert_false(doctor_privileges_ok(c.eff, NULL, 0));
}

static void test_exe_names(void **state)
{
	char buf[64];

	assert_string_equal(doctor_exe_basename("/usr/bin/kube-apiserver", buf, sizeof(buf)), "kube-apiserver");
	assert_string_equal(doctor_exe_basename("/usr/bin/kube-apiserver (deleted)", buf, sizeof(buf)),
			    "kube-apiserver");
	assert_string_equal(doctor_exe_basename("kube-apiserver", buf, sizeof(buf)), "kube-apiserver");
	assert_string_equal(doctor_exe_basename("/a/b/", buf, sizeof(buf)), "");
	assert_string_equal(doctor_exe_basename("/x/abcdefgh", buf, 4), "abc");

	assert_true(doctor_exe_matches("/usr/local/bin/kube-apiserver", "kube-apiserver"));
	assert_true(doctor_exe_matches("/var/cache/kapimon/kube-apiserver-1.20.2", "kube-apiserver"));
	assert_true(doctor_exe_matches("/opt/kube-apiserver.orig (deleted)", "kube-apiserver"));
	assert_true(doctor_exe_matches("kube-apiserver_v1", "kube-apiserver"));
	assert_false(doctor_exe_matches("/usr/bin/kube-apiserverd", "kube-apiserver"));
	assert_false(doctor_exe_matches("/usr/bin/kube-apiserver-", "kube-apiserver"));
	assert_false(doctor_exe_matches("/kube-apiserver/bin/etcd", "kube-apiserver"));
	assert_false(doctor_exe_matches("/usr/bin/kube-controller-manager", "kube-apiserver"));
	assert_false(doctor_exe_matches("/usr/bin/my-kube-apiserver", "kube-apiserver"));
	assert_false(doctor_exe_matches(NULL, "kube-apiserver"));
	assert_false(doctor_exe_matches("/x", ""));
}

/* Build a fake /proc: pid dirs with exe symlinks (targets need not exist) and comm files. */
static void mkproc(const char *root, const char *pid, const char *exe, const char *comm)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, pid);
	assert_int_equal(mkdir(p, 0755), 0);
	if (exe) {
		snprintf(p, sizeof(p), "%s/%s/exe", root, pid);
		assert_int_equal(symlink(exe, p), 0);
	}
	if (comm) {
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s/comm", root, pid);
		f = fopen(p, "w");
		assert_non_null(f);
		fprintf(f, "%s\n", comm);
		fclose(f);
	}
}

static void test_find_procs(void **state)
{
	char root[] = "/tmp/kapimon-test-proc-XXXXXX", cmd[600];
	pid_t pids[8];

	assert_non_null(mkdtemp(root));
	mkproc(root, "4242", "/usr/local/bin/kube-apiserver", "kube-apiserver");
	mkproc(root, "17", "/var/cache/kapimon/kube-apiserver-1.20.2 (deleted)", "kube-apiserver-");
	mkproc(root, "300", "/usr/bin/etcd", "etcd");
	mkproc(root, "2", NULL, "kthreadd");
	/* exe unreadable: found by its truncated comm */
	mkproc(root, "999", NULL, "kube-apiserver-");
	/* comm that merely starts like it is not enough */
	mkproc(root, "1000", NULL, "kube-apiserverX");
	mkproc(root, "self", "/usr/local/bin/kube-apiserver", "kube-apiserver");

	assert_int_equal(doctor_find_procs(root, "kube-apiserver", pids, 8), 3);
	assert_int_equal(pids[0], 17);
	assert_int_equal(pids[1], 999);
	assert_int_equal(pids[2], 4242);
	/* more matches than room: the count is still the total */
	assert_int_equal(doctor_find_procs(root, "kube-apiserver", pids, 1), 3);
	assert_int_equal(doctor_find_procs(root, "etcd", pids, 8), 1);
	assert_int_equal(pids[0], 300);
	assert_int_equal(doctor_find_procs(root, "nothing", pids, 8), 0);
	assert_true(doctor_find_procs("/nonexistent-kapimon-proc", "x", pids, 8) < 0);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void test_find_procs_real(void **state)
{
	/* Our own process is found by its real executable name through the real /proc. */
	char exe[4096], base[256];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	pid_t pids[64];
	int n;
	bool found = false;

	assert_true(l > 0);
	exe[l] = '\0';
	doctor_exe_basename(exe, base, sizeof(base));
	n = doctor_find_procs("/proc", base, pids, 64);
	assert_true(n >= 1);
	for (int i = 0; i < n && i < 64; i++)
		found |= pids[i] == getpid();
	assert_true(found);
}

static void test_find_mount(void **state)
{
	const char *mounts = "sysfs /sys sysfs rw,nosuid 0 0\n"
			     "proc /proc proc rw 0 0\n"
			     "none /sys/kernel/debug\\040dir debugfs rw 0 0\n"
			     "tracefs /sys/kernel/tracing tracefs rw,relatime 0 0\n"
			     "tracefs /sys/kernel/debug/tracing tracefs rw 0 0";
	char mnt[64];

	assert_true(doctor_find_mount(mounts, "tracefs", mnt, sizeof(mnt)));
	assert_string_equal(mnt, "/sys/kernel/tracing");
	assert_true(doctor_find_mount(mounts, "debugfs", mnt, sizeof(mnt)));
	assert_string_equal(mnt, "/sys/kernel/debug dir");
	assert_false(doctor_find_mount(mounts, "bpf", mnt, sizeof(mnt)));
	assert_false(doctor_find_mount("", "tracefs", mnt, sizeof(mnt)));
	assert_false(doctor_find_mount(NULL, "tracefs", mnt, sizeof(mnt)));
	/* type must match as a whole word */
	assert_false(doctor_find_mount("x /a tracefsX rw 0 0\n", "tracefs", mnt, sizeof(mnt)));
}

static void test_maps_lookup(void **state)
{
	const char *maps =
		"55d4c8a00000-55d4c8a2e000 r--p 00000000 fd:01 1234 /work/main/kapimon\n"
		"55d4c8a2e000-55d4c8b00000 r-xp 0002e000 fd:01 1234 /work/main/kapimon\n"
		"55d4c9000000-55d4c9021000 rw-p 00000000 00:00 0 \n"
		"7f0000000000-7f0000001000 r-xp 00001000 fd:01 99   /usr/lib/with space.so\n"
		"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n";
	char path[128];
	uint64_t off = 0;

	assert_true(doctor_maps_lookup(maps, 0x55d4c8a2e010ULL, path, sizeof(path), &off));
	assert_string_equal(path, "/work/main/kapimon");
	assert_true(off == 0x2e010);
	assert_true(doctor_maps_lookup(maps, 0x55d4c8a00005ULL, path, sizeof(path), &off));
	assert_true(off == 5);
	assert_true(doctor_maps_lookup(maps, 0x7f0000000fffULL, path, sizeof(path), &off));
	assert_string_equal(path, "/usr/lib/with space.so");
	assert_true(off == 0x1fff);
	/* anonymous, [stack], unmapped, end is exclusive */
	assert_false(doctor_maps_lookup(maps, 0x55d4c9000010ULL, path, sizeof(path), &off));
	assert_false(doctor_maps_lookup(maps, 0x7ffc00000010ULL, path, sizeof(path), &off));
	assert_false(doctor_maps_lookup(maps, 0x1000, path, sizeof(path), &off));
	assert_false(doctor_maps_lookup(maps, 0x55d4c8b00000ULL, path, sizeof(path), &off));
	/* path does not fit */
	assert_false(doctor_maps_lookup(maps, 0x55d4c8a2e010ULL, path, 5, &off));
}

static void test_can_run(void **state)
{
	struct doctor_check c[3];

	memset(c, 0, sizeof(c));
	c[0].status = DOC_OK;
	c[0].required = true;
	c[1].status = DOC_MISSING;
	c[1].required = false; /* kprobe: optional */
	c[2].status = DOC_INFO;
	assert_true(doctor_can_run(c, 3));
	c[0].status = DOC_MISSING;
	assert_false(doctor_can_run(c, 3));
	assert_true(doctor_can_run(c, 0));
	assert_string_equal(doctor_status_str(DOC_OK), "OK");
	assert_string_equal(doctor_status_str(DOC_MISSING), "MISSING");
	assert_string_equal(doctor_status_str(DOC_INFO), "INFO");
}

static void test_read_file(void **state)
{
	char *s = doctor_read_file("/proc/self/status", 1 << 16), *t;
	struct doctor_caps c;

	assert_non_null(s);
	assert_int_equal(doctor_parse_status_caps(s, &c), 0);
	free(s);
	/* truncation to max */
	t = doctor_read_file("/proc/self/status", 4);
	assert_non_null(t);
	assert_int_equal(strlen(t), 4);
	free(t);
	assert_null(doctor_read_file("/nonexistent/kapimon", 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_caps_root), cmocka_unit_test(test_parse_caps_bad),
		cmocka_unit_test(test_privileges),      cmocka_unit_test(test_exe_names),
		cmocka_unit_test(test_find_procs),      cmocka_unit_test(test_find_procs_real),
		cmocka_unit_test(test_find_mount),      cmocka_unit_test(test_maps_lookup),
		cmocka_unit_test(test_can_run),         cmocka_unit_test(test_read_file),
	};

	return cmocka_run_group_tests_name("doctor", tests, NULL, NULL);
}
