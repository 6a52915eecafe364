// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "resolve/procnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* /proc/net/tcp prints addresses as 32-bit words in host (little-endian) order. */
static bool parse_addr(const char *s, size_t hexlen, uint8_t out[16])
{
	memset(out, 0, 16);
	for (size_t w = 0; w < hexlen / 8; w++) {
		uint32_t v = 0;

		for (int i = 0; i < 8; i++) {
			int h = hexval(s[w * 8 + i]);

			if (h < 0)
				return false;
			v = v << 4 | (uint32_t)h;
		}
		/* the word was printed with %08X of a native-endian u32: store it back natively */
		memcpy(out + w * 4, &v, 4);
	}
	return true;
}

static bool parse_endpoint(const char **p, int family, uint8_t addr[16], uint16_t *port)
{
	size_t hexlen = family == AF_INET6 ? 32 : 8;
	const char *s = *p;
	unsigned v = 0;
	int i;

	while (*s == ' ')
		s++;
	for (i = 0; i < (int)hexlen; i++)
		if (hexval(s[i]) < 0)
			return false;
	if (s[hexlen] != ':' || !parse_addr(s, hexlen, addr))
		return false;
	s += hexlen + 1;
	for (i = 0; i < 4; i++) {
		int h = hexval(s[i]);

		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	*port = (uint16_t)v;
	*p = s + 4;
	return true;
}

size_t procnet_parse(const char *text, int family, struct procnet_sock *out, size_t max, size_t *bad)
{
	size_t n = 0;
	const char *line = text;

	if (bad)
		*bad = 0;
	if (!text)
		return 0;
	line = strchr(line, '\n'); /* header */
	while (line && *++line && n < max) {
		const char *p = strchr(line, ':'), *end = strchr(line, '\n');
		struct procnet_sock s = { .family = family };
		unsigned st;
		unsigned long inode;
		int used = 0;

		if (!p || (end && p > end))
			goto badline;
		p++;
		if (!parse_endpoint(&p, family, s.local, &s.local_port) ||
		    !parse_endpoint(&p, family, s.remote, &s.remote_port))
			goto badline;
		/* st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(p, " %x %*x:%*x %*x:%*x %*x %*u %*u %lu%n", &st, &inode, &used) != 2 || used <= 0)
			goto badline;
		s.state = (int)st;
		s.inode = inode;
		out[n++] = s;
		line = end;
		continue;
badline:
		if (bad)
			(*bad)++;
		line = end;
	}
	return n;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, r;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		if (!r)
			break;
		len += r;
	}
	fclose(f);
	buf[len] = 0;
	return buf;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

int procnet_pid_sockets(pid_t pid, struct procnet_sock *out, size_t max)
{
	char path[64], link[64];
	unsigned long *inodes = NULL;
	size_t ninodes = 0, capinodes = 0, n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char fdpath[384];
		ssize_t l;
		unsigned long ino;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		l = readlink(fdpath, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		if (ninodes == capinodes) {
			unsigned long *ni = realloc(inodes, (capinodes ? capinodes * 2 : 256) * sizeof(*ni));

			if (!ni)
				break;
			inodes = ni;
			capinodes = capinodes ? capinodes * 2 : 256;
		}
		inodes[ninodes++] = ino;
	}
	closedir(d);
	if (ninodes)
		qsort(inodes, ninodes, sizeof(*inodes), cmp_ulong);
	for (int v6 = 0; v6 < 2 && n < max; v6++) {
		char *text;
		size_t got, cap = 4096;
		struct procnet_sock *tmp = malloc(cap * sizeof(*tmp));

		snprintf(path, sizeof(path), "/proc/%d/net/tcp%s", pid, v6 ? "6" : "");
		text = slurp(path);
		if (!text || !tmp) {
			free(text);
			free(tmp);
			continue;
		}
		got = procnet_parse(text, v6 ? AF_INET6 : AF_INET, tmp, cap, NULL);
		for (size_t i = 0; i < got && n < max; i++)
			if (ninodes && bsearch(&tmp[i].inode, inodes, ninodes, sizeof(*inodes), cmp_ulong))
				out[n++] = tmp[i];
		free(tmp);
		free(text);
	}
	free(inodes);
	return (int)n;
}

/* "a.b.c.d:port" into t (at least 22 bytes); returns its length. What inet_ntop + snprintf("%s:%u") write,
 * without them (~2,800 instructions a call: two per connection event). */
static size_t format_v4(const uint8_t a[4], uint16_t port, char *t)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			t[n++] = (char)('0' + v / 100);
		if (v >= 10)
			t[n++] = (char)('0' + v / 10 % 10);
		t[n++] = (char)('0' + v % 10);
		t[n++] = i < 3 ? '.' : ':';
	}
	{
		char d[5];
		int k = 0;
		unsigned p = port;

		do
			d[k++] = (char)('0' + p % 10);
		while ((p /= 10));
		while (k)
			t[n++] = d[--k];
	}
	t[n] = '\0';
	return n;
}

void procnet_format_addr(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family != AF_INET6 || !memcmp(addr, v4mapped, 12)) {
		char t[24];
		size_t n = format_v4(family == AF_INET6 ? addr + 12 : addr, port, t);

		if (!len)
			return;
		if (n > len - 1) /* cut as snprintf would */
			n = len - 1;
		memcpy(buf, t, n);
		buf[n] = '\0';
	} else {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, port);
	}
}

size_t procnet_url_ports(const char *urls, uint16_t *ports, size_t max)
{
	size_t n = 0;

	for (const char *p = urls; p && *p;) {
		const char *end = strchr(p, ','), *host, *hend, *colon = NULL;
		unsigned long port = 0;

		if (!end)
			end = p + strlen(p);
		host = p;
		for (const char *s = p; s + 2 < end; s++)
			if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
				host = s + 3;
				break;
			}
		for (hend = host; hend < end && *hend != '/'; hend++)
			;
		if (host < hend && *host == '[') { /* [v6]:port */
			const char *rb = memchr(host, ']', (size_t)(hend - host));

			colon = rb && rb + 1 < hend && rb[1] == ':' ? rb + 1 : NULL;
		} else {
			colon = memchr(host, ':', (size_t)(hend - host));
		}
		if (colon) {
			char *stop;

			port = strtoul(colon + 1, &stop, 10);
			if (stop != hend || port == 0 || port > 65535)
				port = 0;
		} else if (host < hend) {
			port = 2379; /* etcd's client port when the URL names none */
		}
		if (port) {
			bool dup = false;

			for (size_t i = 0; i < n && i < max; i++)
				dup |= ports[i] == port;
			if (!dup) {
				if (n < max)
					ports[n] = (uint16_t)port;
				n++;
			}
		}
		p = *end ? end + 1 : end;
	}
	return n;
}
