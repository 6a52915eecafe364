// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The /metrics endpoint (output/metrics_http.h) on a loopback ephemeral port, with a real socket client. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "output/metrics_http.h"

static int dial(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(0x7f000001);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* send req, read the whole reply (the server closes) */
static char *ask(uint16_t port, const char *req, size_t reqlen)
{
	int fd = dial(port);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t r;

	assert_int_equal(send(fd, req, reqlen, 0), (ssize_t)reqlen);
	while ((r = recv(fd, buf + n, cap - n, 0)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void test_parse(void **st)
{
	char h[64], e[128];
	uint16_t p;

	assert_int_equal(metrics_http_parse_addr("127.0.0.1:9464", h, sizeof(h), &p, e, sizeof(e)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(p, 9464);
	assert_int_equal(metrics_http_parse_addr(":9464", h, sizeof(h), &p, e, sizeof(e)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(metrics_http_parse_addr("[::1]:80", h, sizeof(h), &p, e, sizeof(e)), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(metrics_http_parse_addr("127.0.0.1", h, sizeof(h), &p, e, sizeof(e)), -1);
	assert_int_equal(metrics_http_parse_addr("127.0.0.1:70000", h, sizeof(h), &p, e, sizeof(e)), -1);
	assert_int_equal(metrics_http_parse_addr("127.0.0.1:9x", h, sizeof(h), &p, e, sizeof(e)), -1);
	assert_int_equal(metrics_http_parse_addr("[::1]80", h, sizeof(h), &p, e, sizeof(e)), -1);
	assert_int_equal(metrics_http_parse_addr("", h, sizeof(h), &p, e, sizeof(e)), -1);
	assert_null(metrics_http_start("localhost:0", e, sizeof(e))); /* numeric addresses only */
}

static void test_serve(void **st)
{
	char e[128], *r;
	struct metrics_http *m = metrics_http_start("127.0.0.1:0", e, sizeof(e));
	static const char body[] = "# HELP kapimon_x a test\n# TYPE kapimon_x gauge\nkapimon_x 1\n";
	char big[9000];

	assert_non_null(m);
	assert_true(metrics_http_port(m) > 0);
	assert_true(metrics_http_is_loopback(m));
	/* nothing published yet: an empty exposition */
	r = ask(metrics_http_port(m), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35);
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r, "Content-Length: 0\r\n"));
	free(r);
	assert_int_equal(metrics_http_publish(m, body, sizeof(body) - 1), 0);
	r = ask(metrics_http_port(m), "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 39);
	assert_non_null(strstr(r, "text/plain; version=0.0.4"));
	assert_non_null(strstr(r, "\r\n\r\n# HELP kapimon_x a test\n"));
	free(r);
	r = ask(metrics_http_port(m), "HEAD /metrics HTTP/1.0\r\n\r\n", 26);
	assert_non_null(strstr(r, "200 OK"));
	assert_null(strstr(r, "kapimon_x 1"));
	free(r);
	r = ask(metrics_http_port(m), "GET /nope HTTP/1.1\r\n\r\n", 22);
	assert_non_null(strstr(r, "HTTP/1.1 404"));
	free(r);
	r = ask(metrics_http_port(m), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 45);
	assert_non_null(strstr(r, "HTTP/1.1 405"));
	assert_non_null(strstr(r, "Allow: GET, HEAD"));
	free(r);
	r = ask(metrics_http_port(m), "garbage\r\n\r\n", 11);
	assert_non_null(strstr(r, "HTTP/1.1 400"));
	free(r);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	r = ask(metrics_http_port(m), big, sizeof(big));
	assert_non_null(strstr(r, "HTTP/1.1 431"));
	free(r);
	/* a client that says nothing is dropped after the read timeout; the next one is served */
	{
		int silent = dial(metrics_http_port(m));

		r = ask(metrics_http_port(m), "GET /metrics HTTP/1.1\r\n\r\n", 25);
		assert_non_null(strstr(r, "kapimon_x 1"));
		free(r);
		close(silent);
	}
	assert_int_equal(metrics_http_scrapes(m), 4); /* HEAD counts */
	assert_int_equal(metrics_http_requests(m), 8);
	metrics_http_stop(m);
}

static void test_busy_port(void **st)
{
	char e[128], spec[32];
	struct metrics_http *a = metrics_http_start("127.0.0.1:0", e, sizeof(e)), *b;

	assert_non_null(a);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", metrics_http_port(a));
	b = metrics_http_start(spec, e, sizeof(e));
	assert_null(b);
	assert_non_null(strstr(e, "cannot listen"));
	metrics_http_stop(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_serve),
		cmocka_unit_test(test_busy_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
