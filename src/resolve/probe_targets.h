/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Go functions kapimon probes, as data. Resolution (src/goelf/resolve.c) turns each into file
 * offsets of the entry and/or RET instructions. Generic Go (net/http, x/net/http2, grpc), and the
 * apiserver's authentication filter chain (k8s-authn: function names only).
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

/*
 * Probe groups: a group attaches all or nothing. The one group enum and name table of kapimon: the
 * plan (src/plan), the struct offsets (src/goelf/offsets.h: one offsets set per group, the first four),
 * doctor and the "attached" line all use it.
 */
enum probe_group {
	PG_H2X,        /* golang.org/x/net/http2 server */
	PG_H2B,        /* net/http's own (bundled) HTTP/2 server */
	PG_H1,         /* net/http HTTP/1.x server */
	PG_GRPC,       /* grpc-go client: etcd calls */
	PG_ETCD_WATCH, /* etcd clientv3 watch responses (optional: only a count) */
	PG_ETCD_RANGE, /* etcd clientv3 range responses (optional: keys returned per Range) */
	PG_AUTHN,      /* Kubernetes apiserver: request starts after authentication (user, groups); when it
			* attaches it replaces the generic request starts of h2-xnet, h2-bundled and http1 */
	PG_APF,        /* kube-apiserver API Priority and Fairness rejections (optional: 429 attribution) */
	PG__COUNT
};

struct probe_group_def {
	const char *name;  /* "h2-xnet": doctor, JSON, offsets */
	const char *label; /* "h2 x/net": the "attached" line */
	int offsets;       /* the group whose struct offsets its programs read */
	int requires;      /* a group that must attach for this one to (its BPF object), -1 none */
	bool http;         /* serves HTTP requests: at least one such group must attach */
};

extern const struct probe_group_def probe_groups[PG__COUNT];
const char *probe_group_name(enum probe_group g);
/* enum probe_group of a name, or -1. */
int probe_group_by_name(const char *name);

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
	PT_ETCD_RANGE_UNMARSHAL, /* etcdserverpb (*RangeResponse).Unmarshal: a Range's response being decoded */
	PT_AUTHN_OK,            /* apiserver filters.WithImpersonation.func1's call of buildImpersonationRequests:
				 * request start, authenticated (req in its argument spill slot) */
	PT_AUTHN_OK_ENTRY,      /* fallback: WithImpersonation.func1's entry (req in RCX; a second hit when the
				 * goroutine's stack grows there) */
	PT_AUTHN_FAIL,          /* apiserver filters.Unauthorized.func1: request start, authentication failed */
	PT_APF_ADD_REJECT,      /* k8s apiserver flowcontrol metrics.AddReject: an APF rejection (names, reason) */
	PT_APF_TOO_MANY,        /* k8s apiserver server/filters.tooManyRequests: a 429 (its request's context) */
	PT_APF_DIGEST,          /* k8s apiserver APF configController.lockAndDigestConfigObjects: names and UIDs */
	PT__COUNT
};

struct probe_target {
	enum probe_id id;
	enum probe_group group;
	bool fallback;      /* used only when `primary` (a target of the same group) does not resolve */
	const char *func;   /* Go symbol, matched exactly or by suffix at a path boundary; "A|B" lists
			     * alternatives tried in order (capture attaches the program of the one found) */
	enum probe_where where;
	const char *why;
	const char *callee; /* PROBE_CALLSITE: the function whose call sites in func are probed */
	enum probe_id primary; /* fallback targets: the target they stand in for */
};

extern const struct probe_target probe_targets[PT__COUNT];

struct go_binary;
struct go_func;
/* Find a target's function, trying its alternatives in order; *alt (may be NULL) gets the index of
 * the one found. NULL when none is in the binary. */
const struct go_func *probe_target_find(const struct go_binary *b, const struct probe_target *t, int *alt);

#endif
