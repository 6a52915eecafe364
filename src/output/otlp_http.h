/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The HTTP/1.1 pieces of OTLP/HTTP export, as pure functions: the collector URL, the request head, the
 * response head and chunked bodies. Plain http only: kapimon sends to a Collector on loopback (or a
 * sidecar), which does TLS, auth and fan-out to the backends.
 */
#ifndef KAPIMON_OUTPUT_OTLP_HTTP_H
#define KAPIMON_OUTPUT_OTLP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct otlp_url {
	char host[256];   /* name or address, IPv6 without brackets */
	char port[8];     /* "80" when the URL names none */
	char path[512];   /* "/v1/traces" appended unless the URL already ends in it */
	char hostport[270]; /* for the Host header: "host:port", "[v6]:port" */
};

/* Parse "http://host[:port][/path]". Returns 0, or -1 with a message in err (https, other schemes,
 * user info, empty or over-long host, bad port). */
int otlp_url_parse(const char *url, struct otlp_url *u, char *err, size_t errcap);

/* The request head of a POST of body_len protobuf bytes. Returns its length, 0 when cap is too small. */
size_t otlp_http_request_head(const struct otlp_url *u, size_t body_len, char *buf, size_t cap);

struct otlp_http_resp {
	int status;
	int64_t content_length;    /* -1 when absent */
	bool chunked;
	bool close;                /* "Connection: close", or HTTP/1.0 without keep-alive */
	int64_t retry_after_ms;    /* -1 when absent or not delta-seconds */
};

/* Parse a response head from buf[0..len). Returns the head's length (through the blank line) when
 * complete, 0 when more bytes are needed, -1 when malformed. retry_after_max_ms caps Retry-After. */
int otlp_http_parse_head(const char *buf, size_t len, uint64_t retry_after_max_ms, struct otlp_http_resp *r);

/* Decode a chunked body in place from buf[0..len). Returns 1 when the last chunk (and trailers) are
 * complete: *body_len bytes of payload are at buf and *consumed bytes of input were used; 0 when more
 * bytes are needed (buf is left unchanged, so the caller appends and calls again); -1 when malformed. */
int otlp_http_dechunk(uint8_t *buf, size_t len, size_t *body_len, size_t *consumed);

#endif
