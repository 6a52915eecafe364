/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A process's TCP sockets from /proc: listening ports and established connections (to seed the
 * connection table with connections opened before kapimon attached). */
#ifndef KAPIMON_PROCNET_H
#define KAPIMON_PROCNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procnet_sock {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t local[16];   /* network byte order; IPv4 in the first 4 bytes */
	uint8_t remote[16];
	uint16_t local_port; /* host order */
	uint16_t remote_port;
	int state;           /* kernel TCP state (1 ESTABLISHED, 10 LISTEN) */
	unsigned long inode;
};

/* Parse the text of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6). Malformed lines are
 * skipped and counted in *bad (may be NULL). Returns entries stored (at most max). */
size_t procnet_parse(const char *text, int family, struct procnet_sock *out, size_t max, size_t *bad);

/* The TCP sockets owned by pid (its fds' socket inodes matched against /proc/<pid>/net/tcp{,6}).
 * Returns the number stored or a negative errno. */
int procnet_pid_sockets(pid_t pid, struct procnet_sock *out, size_t max);

/* "ip:port" as Go's net.Addr.String() prints it: 1.2.3.4:80, [::1]:80; IPv4-mapped IPv6 as IPv4. */
void procnet_format_addr(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t len);

/* The distinct ports of a comma-separated URL list (the apiserver's --etcd-servers:
 * "https://127.0.0.1:2379,https://[::1]:2379"; 2379 when a URL names no port; malformed ports are
 * skipped). Stores at most max, returns how many distinct ports there are. */
size_t procnet_url_ports(const char *urls, uint16_t *ports, size_t max);

#endif
