// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon doctor: pure helpers (parsing /proc text, matching executables). No BPF here. */
#include "doctor/doctor.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *doctor_status_str(enum doctor_status s)
{
	switch (s) {
	case DOC_OK: return "OK";
	case DOC_MISSING: return "MISSING";
	default: return "INFO";
	}
}

bool doctor_can_run(const struct doctor_check *checks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (checks[i].required && checks[i].status == DOC_MISSING)
			return false;
	return true;
}

/* Parse exactly 1..16 hex digits followed by end of line/string. */
static bool parse_hex64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	for (; isxdigit((unsigned char)*s); s++, n++) {
		int d = isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);

		if (n >= 16)
			return false;
		v = (v << 4) | (uint64_t)d;
	}
	if (n == 0 || (*s && *s != '\n'))
		return false;
	*out = v;
	return true;
}

int doctor_parse_status_caps(const char *text, struct doctor_caps *out)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned bit;
	} keys[] = {
		{ "CapInh:", offsetof(struct doctor_caps, inh), 1 },
		{ "CapPrm:", offsetof(struct doctor_caps, prm), 2 },
		{ "CapEff:", offsetof(struct doctor_caps, eff), 4 },
		{ "CapBnd:", offsetof(struct doctor_caps, bnd), 8 },
		{ "CapAmb:", offsetof(struct doctor_caps, amb), 16 },
	};
	const char *line = text;

	memset(out, 0, sizeof(*out));
	if (!text)
		return -EINVAL;
	while (*line) {
		const char *nl = strchr(line, '\n');

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t kl = strlen(keys[k].key);
			uint64_t v;

			if (strncmp(line, keys[k].key, kl))
				continue;
			if (!parse_hex64(line + kl, &v))
				return -EINVAL;
			*(uint64_t *)((char *)out + keys[k].off) = v;
			out->found |= keys[k].bit;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return (out->found & 4) ? 0 : -EINVAL;
}

bool doctor_privileges_ok(uint64_t eff, char *missing, size_t len)
{
	bool admin = doctor_cap_in(eff, DOC_CAP_SYS_ADMIN);
	bool bpf = doctor_cap_in(eff, DOC_CAP_BPF), perfmon = doctor_cap_in(eff, DOC_CAP_PERFMON);

	if (missing && len)
		missing[0] = '\0';
	if (admin || (bpf && perfmon))
		return true;
	if (missing && len)
		snprintf(missing, len, "%s%s%s", !bpf ? "CAP_BPF" : "", !bpf && !perfmon ? ", " : "",
			 !perfmon ? "CAP_PERFMON" : "");
	return false;
}

const char *doctor_exe_basename(const char *exe, char *buf, size_t len)
{
	static const char deleted[] = " (deleted)";
	const char *b;
	size_t n;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (!exe)
		return buf;
	b = strrchr(exe, '/');
	b = b ? b + 1 : exe;
	n = strlen(b);
	if (n >= sizeof(deleted) - 1 && !strcmp(b + n - (sizeof(deleted) - 1), deleted))
		n -= sizeof(deleted) - 1;
	if (n >= len)
		n = len - 1;
	memcpy(buf, b, n);
	buf[n] = '\0';
	return buf;
}

bool doctor_exe_matches(const char *exe, const char *want)
{
	char base[256];
	size_t wl;

	if (!exe || !want || !*want)
		return false;
	doctor_exe_basename(exe, base, sizeof(base));
	wl = strlen(want);
	if (strncmp(base, want, wl))
		return false;
	return base[wl] == '\0' || ((base[wl] == '-' || base[wl] == '.' || base[wl] == '_') && base[wl + 1]);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int doctor_find_procs(const char *proc_root, const char *want, pid_t *pids, size_t max)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[512], exe[4096];
		char *end;
		long pid;
		ssize_t l;
		bool match = false;

		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || de->d_name[0] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s/exe", proc_root, de->d_name);
		l = readlink(path, exe, sizeof(exe) - 1);
		if (l > 0) {
			exe[l] = '\0';
			match = doctor_exe_matches(exe, want);
		} else {
			/* exe unreadable (kernel thread, or no ptrace access): fall back to comm, which the
			 * kernel truncates to 15 bytes ("kube-apiserver-" for kube-apiserver-1.20.2). */
			char *comm;

			snprintf(path, sizeof(path), "%s/%s/comm", proc_root, de->d_name);
			comm = doctor_read_file(path, 64);
			if (comm) {
				comm[strcspn(comm, "\n")] = '\0';
				size_t wl = strlen(want);

				match = doctor_exe_matches(comm, want) ||
					(strlen(comm) == 15 && wl < 15 && !strncmp(comm, want, wl) &&
					 strchr("-._", comm[wl]));
				free(comm);
			}
		}
		if (!match)
			continue;
		if (n < max)
			pids[n] = (pid_t)pid;
		n++;
	}
	closedir(d);
	qsort(pids, n < max ? n : max, sizeof(*pids), cmp_pid);
	return n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
}

bool doctor_find_mount(const char *mounts_text, const char *fstype, char *mnt, size_t len)
{
	const char *line = mounts_text;

	if (!mounts_text || !fstype)
		return false;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		char dev[256], dir[1024], type[64];
		char buf[1400];
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);

		if (ll < sizeof(buf)) {
			memcpy(buf, line, ll);
			buf[ll] = '\0';
			if (sscanf(buf, "%255s %1023s %63s", dev, dir, type) == 3 && !strcmp(type, fstype)) {
				/* /proc/mounts escapes space, tab, newline and backslash as \ooo */
				size_t o = 0;

				for (const char *p = dir; *p && o + 1 < len; p++) {
					if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
					    p[3] >= '0' && p[3] <= '7') {
						mnt[o++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
						p += 3;
					} else {
						mnt[o++] = *p;
					}
				}
				if (len)
					mnt[o] = '\0';
				return true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

bool doctor_maps_lookup(const char *maps_text, uint64_t addr, char *path, size_t len, uint64_t *file_off)
{
	const char *line = maps_text;

	if (!maps_text)
		return false;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		unsigned long long start, end, off;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u%n", &start, &end, perms, &off, &pos) == 4 &&
		    pos > 0 && addr >= start && addr < end) {
			const char *p = line + pos;
			size_t pl;

			while (*p == ' ' || *p == '\t')
				p++;
			pl = nl ? (size_t)(nl - p) : strlen(p);
			if (pl == 0 || *p != '/')
				return false; /* anonymous mapping: no file to probe */
			if (pl >= len)
				return false;
			memcpy(path, p, pl);
			path[pl] = '\0';
			*file_off = addr - start + off;
			return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

char *doctor_read_file(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return NULL;
	}
	while (n < max) {
		ssize_t r = read(fd, buf + n, max - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	close(fd);
	return buf;
}
