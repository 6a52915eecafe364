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

/*
 * Where to probe. Cost matters: the kernel emulates a uprobe on a conditional jump or a CALL
 * (~0.9 us here) but single-steps most other instructions out of line (~16 us here, RET included).
 *   PROBE_ENTRY     the function's stack-check JBE when it has one (same registers as the entry)
 *   PROBE_RETURNS   every RET instruction (results in registers): expensive, a fallback only
 *   PROBE_CALLSITE  every direct CALL from func to callee (the callee's arguments in registers)
 */
enum probe_where { PROBE_ENTRY = 1, PROBE_RETURNS = 2, PROBE_CALLSITE = 4 };

enum probe_id {
	PT_H2X_PROCESS_HEADERS, /* x/net/http2 serverConn.processHeaders: request start, decoded headers */
	PT_H2X_HANDLER_DONE,    /* x/net/http2 responseWriter.handlerDone: request end, status, bytes */
	PT_H2B_PROCESS_HEADERS, /* net/http bundled http2serverConn.processHeaders */
	PT_H2B_HANDLER_DONE,    /* net/http bundled http2responseWriter.handlerDone */
	PT_H1_SERVE_CALL,       /* net/http conn.serve's call of serverHandler.ServeHTTP: h1 request start */
	PT_H1_READ_REQUEST,     /* fallback: net/http conn.readRequest RET sites (if ServeHTTP is inlined) */
	PT_H1_FINISH_REQUEST,   /* net/http response.finishRequest entry: h1 request end */
	PT_GRPC_WRITE,          /* grpc transport http2Client.Write entry: each request message (etcd call start) */
	PT_GRPC_FINISH,         /* grpc clientStream.finish entry: etcd call end (error) */
	PT_ETCD_WATCH_DISPATCH, /* etcd clientv3 watchGrpcStream.dispatchEvent: watch events received */
	PT__COUNT
};

struct probe_target {
	enum probe_id id;
	const char *group;  /* "h2-xnet", "h2-bundled", "http1", "grpc": a group attaches all or nothing */
	const char *func;   /* Go symbol, matched exactly or by suffix at a path boundary; "A|B" lists
			     * alternatives tried in order (capture attaches the program of the one found) */
	enum probe_where where;
	const char *why;
	const char *callee; /* PROBE_CALLSITE: the function whose call sites in func are probed */
};

extern const struct probe_target probe_targets[PT__COUNT];

struct go_binary;
struct go_func;
/* Find a target's function, trying its alternatives in order; *alt (may be NULL) gets the index of
 * the one found. NULL when none is in the binary. */
const struct go_func *probe_target_find(const struct go_binary *b, const struct probe_target *t, int *alt);

#endif
