/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Go functions kapimon probes, as data. Resolution (src/goelf/resolve.c) turns each into file
 * offsets of the entry and/or RET instructions. Generic Go (net/http, x/net/http2, grpc): nothing
 * here knows about Kubernetes.
 */
#ifndef KAPIMON_PROBE_TARGETS_H
#define KAPIMON_PROBE_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum probe_where { PROBE_ENTRY = 1, PROBE_RETURNS = 2 };

enum probe_id {
	PT_H2X_PROCESS_HEADERS, /* x/net/http2 serverConn.processHeaders: request start, decoded headers */
	PT_H2X_HANDLER_DONE,    /* x/net/http2 responseWriter.handlerDone: request end, status, bytes */
	PT_H2B_PROCESS_HEADERS, /* net/http bundled http2serverConn.processHeaders */
	PT_H2B_HANDLER_DONE,    /* net/http bundled http2responseWriter.handlerDone */
	PT_H1_READ_REQUEST,     /* net/http conn.readRequest RET sites: h1 request start */
	PT_H1_FINISH_REQUEST,   /* net/http response.finishRequest entry: h1 request end */
	PT_GRPC_WRITE,          /* grpc transport http2Client.Write entry: each request message (etcd call start) */
	PT_GRPC_INVOKE_RET,     /* grpc ClientConn.Invoke RET sites: etcd unary call end */
	PT__COUNT
};

struct probe_target {
	enum probe_id id;
	const char *group;  /* "h2-xnet", "h2-bundled", "http1", "grpc": a group attaches all or nothing */
	const char *func;   /* Go symbol, matched exactly or by suffix at a path boundary; "A|B" lists
			     * alternatives tried in order (the index found becomes the attach cookie) */
	enum probe_where where;
	const char *why;
};

extern const struct probe_target probe_targets[PT__COUNT];

struct go_binary;
struct go_func;
/* Find a target's function, trying its alternatives in order; *alt (may be NULL) gets the index of
 * the one found. NULL when none is in the binary. */
const struct go_func *probe_target_find(const struct go_binary *b, const struct probe_target *t, int *alt);

#endif
