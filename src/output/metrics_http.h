/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A Prometheus scrape endpoint: `GET /metrics` over HTTP/1.1 on ADDR:PORT, served by its own thread from
 * the last text the owner published (metrics_http_publish copies it under a mutex: the capture path
 * never waits on a scraper). One request per connection (Connection: close), bounded request size
 * (8 KiB) and read time (2 s), at most one connection at a time. `/` answers a short page linking
 * /metrics; other paths 404, other methods 405 (HEAD allowed). No authentication: binding to anything
 * but loopback is the operator's decision, and the caller is told (metrics_http_is_loopback).
 */
#ifndef KAPIMON_OUTPUT_METRICS_HTTP_H
#define KAPIMON_OUTPUT_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics_http;

/* Parse "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (= 127.0.0.1). 0 or -1 with err set. */
int metrics_http_parse_addr(const char *spec, char *host, size_t hcap, uint16_t *port, char *err, size_t errcap);
/* Bind and start serving (PORT 0: an ephemeral port, see metrics_http_port). NULL with err set. */
struct metrics_http *metrics_http_start(const char *spec, char *err, size_t errcap);
uint16_t metrics_http_port(const struct metrics_http *m);
bool metrics_http_is_loopback(const struct metrics_http *m);
/* Replace the body served at /metrics (text exposition format 0.0.4). 0 or -1 (OOM: the old body stays). */
int metrics_http_publish(struct metrics_http *m, const char *body, size_t len);
/* Requests served (any status) and scrapes of /metrics. */
uint64_t metrics_http_requests(const struct metrics_http *m);
uint64_t metrics_http_scrapes(const struct metrics_http *m);
/* Stop the thread (within ~0.2 s plus a connection being served) and free everything. */
void metrics_http_stop(struct metrics_http *m);

#endif
