// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MH_REQ_MAX 8192
#define MH_READ_MS 2000

struct metrics_http {
	int fd;
	uint16_t port;
	bool loopback;
	pthread_t th;
	atomic_bool stop;
	pthread_mutex_t mu;
	char *body;
	size_t len;
	atomic_uint_fast64_t requests, scrapes;
};

int metrics_http_parse_addr(const char *spec, char *host, size_t hcap, uint16_t *port, char *err, size_t errcap)
{
	const char *colon;
	char *end;
	long p;
	size_t hl;

	if (!spec || !*spec) {
		snprintf(err, errcap, "empty address (want ADDR:PORT)");
		return -1;
	}
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (!rb || rb[1] != ':') {
			snprintf(err, errcap, "'%s': want [IPV6]:PORT", spec);
			return -1;
		}
		hl = (size_t)(rb - spec - 1);
		if (hl + 1 > hcap)
			goto toolong;
		memcpy(host, spec + 1, hl);
		host[hl] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon) {
			snprintf(err, errcap, "'%s': want ADDR:PORT", spec);
			return -1;
		}
		hl = (size_t)(colon - spec);
		if (hl + 1 > hcap)
			goto toolong;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		if (!hl)
			snprintf(host, hcap, "127.0.0.1");
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p < 0 || p > 65535) {
		snprintf(err, errcap, "'%s': the port must be 0..65535", spec);
		return -1;
	}
	*port = (uint16_t)p;
	return 0;
toolong:
	snprintf(err, errcap, "'%s': address too long", spec);
	return -1;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int code, const char *reason, const char *ctype, const char *body, size_t len, bool head)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", code,
			 reason, ctype, len, code == 405 ? "Allow: GET, HEAD\r\n" : "");

	send_all(fd, hdr, (size_t)n);
	if (!head && len)
		send_all(fd, body, len);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void serve(struct metrics_http *m, int fd)
{
	char req[MH_REQ_MAX + 1];
	size_t got = 0;
	int64_t deadline = now_ms() + MH_READ_MS;
	char *sp1, *sp2;
	bool head;

	/* read until the end of the head (the request has no body we care about) */
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return;
		r = recv(fd, req + got, MH_REQ_MAX - got, 0);
		if (r <= 0)
			return;
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
		if (got == MH_REQ_MAX) {
			atomic_fetch_add(&m->requests, 1);
			respond(fd, 431, "Request Header Fields Too Large", "text/plain", "request head too large\n", 23, false);
			return;
		}
	}
	atomic_fetch_add(&m->requests, 1);
	sp1 = strchr(req, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		respond(fd, 400, "Bad Request", "text/plain", "bad request\n", 12, false);
		return;
	}
	*sp1 = *sp2 = '\0';
	head = !strcmp(req, "HEAD");
	if (strcmp(req, "GET") && !head) {
		respond(fd, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19, false);
		return;
	}
	{
		char *q = strchr(sp1 + 1, '?');

		if (q)
			*q = '\0';
	}
	if (!strcmp(sp1 + 1, "/metrics")) {
		char *copy;
		size_t len;

		pthread_mutex_lock(&m->mu);
		len = m->len;
		copy = malloc(len ? len : 1);
		if (copy && len)
			memcpy(copy, m->body, len);
		pthread_mutex_unlock(&m->mu);
		if (!copy) {
			respond(fd, 503, "Service Unavailable", "text/plain", "out of memory\n", 14, false);
			return;
		}
		atomic_fetch_add(&m->scrapes, 1);
		respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", copy, len, head);
		free(copy);
	} else if (!strcmp(sp1 + 1, "/")) {
		static const char page[] = "<html><body><a href=\"/metrics\">kapimon metrics</a></body></html>\n";

		respond(fd, 200, "OK", "text/html", page, sizeof(page) - 1, head);
	} else {
		respond(fd, 404, "Not Found", "text/plain", "not found\n", 10, head);
	}
}

static void *loop(void *arg)
{
	struct metrics_http *m = arg;

	while (!atomic_load(&m->stop)) {
		struct pollfd pf = { .fd = m->fd, .events = POLLIN };
		int c;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve(m, c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

struct metrics_http *metrics_http_start(const char *spec, char *err, size_t errcap)
{
	char host[256], portstr[8];
	uint16_t port;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct metrics_http *m;
	int one = 1, rc;

	if (metrics_http_parse_addr(spec, host, sizeof(host), &port, err, errcap))
		return NULL;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc) {
		snprintf(err, errcap, "'%s': %s (give a numeric IP address)", host, gai_strerror(rc));
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(ai);
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	m->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->fd, ai->ai_addr, ai->ai_addrlen) || listen(m->fd, 16)) {
		snprintf(err, errcap, "cannot listen on %s: %s", spec, strerror(errno));
		goto fail;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		getsockname(m->fd, (struct sockaddr *)&ss, &sl);
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			m->port = ntohs(s4->sin_port);
			m->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			m->port = ntohs(s6->sin6_port);
			m->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		}
	}
	pthread_mutex_init(&m->mu, NULL);
	if (pthread_create(&m->th, NULL, loop, m)) {
		snprintf(err, errcap, "cannot start the metrics thread");
		pthread_mutex_destroy(&m->mu);
		goto fail;
	}
	freeaddrinfo(ai);
	return m;
fail:
	if (m->fd >= 0)
		close(m->fd);
	free(m);
	freeaddrinfo(ai);
	return NULL;
}

uint16_t metrics_http_port(const struct metrics_http *m)
{
	return m->port;
}

bool metrics_http_is_loopback(const struct metrics_http *m)
{
	return m->loopback;
}

int metrics_http_publish(struct metrics_http *m, const char *body, size_t len)
{
	char *b = malloc(len ? len : 1), *old;

	if (!b)
		return -1;
	memcpy(b, body, len);
	pthread_mutex_lock(&m->mu);
	old = m->body;
	m->body = b;
	m->len = len;
	pthread_mutex_unlock(&m->mu);
	free(old);
	return 0;
}

uint64_t metrics_http_requests(const struct metrics_http *m)
{
	return atomic_load(&((struct metrics_http *)m)->requests);
}

uint64_t metrics_http_scrapes(const struct metrics_http *m)
{
	return atomic_load(&((struct metrics_http *)m)->scrapes);
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->th, NULL);
	close(m->fd);
	pthread_mutex_destroy(&m->mu);
	free(m->body);
	free(m);
}
