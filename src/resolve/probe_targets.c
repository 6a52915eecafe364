// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "resolve/probe_targets.h"

#include <string.h>

#include "goelf/goelf.h"

const struct probe_group_def probe_groups[PG__COUNT] = {
	[PG_H2X] = { "h2-xnet", "h2 x/net", PG_H2X, -1, true },
	[PG_H2B] = { "h2-bundled", "h2 net/http", PG_H2B, -1, true },
	[PG_H1] = { "http1", "h1", PG_H1, -1, true },
	[PG_GRPC] = { "grpc", "etcd grpc", PG_GRPC, -1, false },
	[PG_ETCD_WATCH] = { "etcd-watch", "etcd watch", PG_GRPC, PG_GRPC, false },
	[PG_ETCD_RANGE] = { "etcd-range", "etcd range", PG_GRPC, PG_GRPC, false },
	[PG_AUTHN] = { "k8s-authn", "authn", PG_H1, -1, false },
	/* reads http.Request.ctx: net/http's offsets */
	[PG_APF] = { "apf", "apf", PG_H1, -1, false },
};

const char *probe_group_name(enum probe_group g)
{
	return (unsigned)g < PG__COUNT ? probe_groups[g].name : "?";
}

int probe_group_by_name(const char *name)
{
	for (int g = 0; g < PG__COUNT; g++)
		if (!strcmp(probe_groups[g].name, name))
			return g;
	return -1;
}

const struct probe_target probe_targets[PT__COUNT] = {
	{ PT_H2X_PROCESS_HEADERS, PG_H2X, false, "golang.org/x/net/http2.(*serverConn).processHeaders", PROBE_ENTRY,
	  "HTTP/2 request start: decoded :method, :path, user-agent, stream id, client" },
	{ PT_H2X_HANDLER_DONE, PG_H2X, false, "golang.org/x/net/http2.(*responseWriter).handlerDone", PROBE_ENTRY,
	  "HTTP/2 request end: status, response bytes, stream id" },
	/* net/http's own HTTP/2 server: bundled as http2* up to Go 1.26, net/http/internal/http2 from 1.27 */
	{ PT_H2B_PROCESS_HEADERS, PG_H2B, false,
	  "net/http.(*http2serverConn).processHeaders|net/http/internal/http2.(*serverConn).processHeaders",
	  PROBE_ENTRY, "HTTP/2 request start (net/http's own server)" },
	{ PT_H2B_HANDLER_DONE, PG_H2B, false,
	  "net/http.(*http2responseWriter).handlerDone|net/http/internal/http2.(*responseWriter).handlerDone",
	  PROBE_ENTRY, "HTTP/2 request end (net/http's own server)" },
	{ PT_H1_SERVE_CALL, PG_H1, false, "net/http.(*conn).serve", PROBE_CALLSITE,
	  "HTTP/1.x request start: the call of serverHandler.ServeHTTP(w, req) (w in RCX)",
	  "net/http.serverHandler.ServeHTTP" },
	{ PT_H1_READ_REQUEST, PG_H1, true, "net/http.(*conn).readRequest", PROBE_RETURNS,
	  "HTTP/1.x request start when ServeHTTP is inlined: *response returned by readRequest", NULL,
	  PT_H1_SERVE_CALL },
	{ PT_H1_FINISH_REQUEST, PG_H1, false, "net/http.(*response).finishRequest", PROBE_ENTRY,
	  "HTTP/1.x request end: status, response bytes" },
	{ PT_GRPC_WRITE, PG_GRPC, false,
	  /* grpc <= 1.65: (t *http2Client) Write(s *Stream, hdr, data []byte, opts);
	   * grpc >= 1.66: (s *ClientStream) Write(hdr []byte, data mem.BufferSlice, opts) */
	  "google.golang.org/grpc/internal/transport.(*http2Client).Write|"
	  "google.golang.org/grpc/internal/transport.(*ClientStream).Write",
	  PROBE_ENTRY, "etcd request message: method, protobuf prefix before any value, context chain (unary call start, watch requests)" },
	{ PT_GRPC_FINISH, PG_GRPC, false, "google.golang.org/grpc.(*clientStream).finish", PROBE_ENTRY,
	  "etcd call end: finish(err) on the caller's goroutine -> gRPC status" },
	{ PT_ETCD_WATCH_DISPATCH, PG_ETCD_WATCH, false,
	  "go.etcd.io/etcd/clientv3.(*watchGrpcStream).dispatchEvent|"
	  "go.etcd.io/etcd/client/v3.(*watchGrpcStream).dispatchEvent",
	  PROBE_ENTRY, "etcd watch responses received (events per resource), once per response" },
	{ PT_ETCD_RANGE_UNMARSHAL, PG_ETCD_RANGE, false,
	  "go.etcd.io/etcd/etcdserver/etcdserverpb.(*RangeResponse).Unmarshal|"
	  "go.etcd.io/etcd/api/v3/etcdserverpb.(*RangeResponse).Unmarshal",
	  PROBE_ENTRY, "etcd Range response being decoded: kept per goroutine, its key count read at the call's end" },
	/* k8s.io/apiserver DefaultBuildHandlerChain (1.20): ... WithAuthentication(success: -> WithAudit ->
	 * WithImpersonation ..., failure: -> Unauthorized). The first closure each path always runs, once
	 * per request, called through http.Handler (never inlined). */
	{ PT_AUTHN_OK, PG_AUTHN, false, "k8s.io/apiserver/pkg/endpoints/filters.WithImpersonation.func1", PROBE_CALLSITE,
	  "request start after authentication: *http.Request (method, URI, User-Agent, client), user and groups, "
	  "received timestamp and root context from its context chain; at its first call, once per request "
	  "(its entry runs twice when the goroutine's stack grows there: its frame is 1.7 KB)",
	  "k8s.io/apiserver/pkg/endpoints/filters.buildImpersonationRequests" },
	{ PT_AUTHN_OK_ENTRY, PG_AUTHN, true, "k8s.io/apiserver/pkg/endpoints/filters.WithImpersonation.func1", PROBE_ENTRY,
	  "as above, at the entry (when the call is inlined)", NULL, PT_AUTHN_OK },
	{ PT_AUTHN_FAIL, PG_AUTHN, false, "k8s.io/apiserver/pkg/endpoints/filters.Unauthorized.func1", PROBE_ENTRY,
	  "request start of a request that failed authentication (401): as above, no user" },
	/* kube-apiserver (k8s.io/apiserver, vendored as k8s.io/kubernetes/vendor/k8s.io/apiserver in release
	 * builds): checked in 1.20.2's source; both are called (not inlined) in the 1.20.2 build: AddReject from
	 * queueSet.StartRequest (x2) and request.wait, tooManyRequests from WithPriorityAndFairness.func1 and
	 * WithMaxInFlightLimit.func1 (docs/capture.md, "API Priority and Fairness") */
	{ PT_APF_ADD_REJECT, PG_APF, false, "k8s.io/apiserver/pkg/util/flowcontrol/metrics.AddReject", PROBE_ENTRY,
	  "APF rejection: priority level, flow schema, reason (on the rejected request's goroutine)" },
	{ PT_APF_TOO_MANY, PG_APF, false, "k8s.io/apiserver/pkg/server/filters.tooManyRequests", PROBE_ENTRY,
	  "a 429 from the APF or max-in-flight filter: the request's context chain" },
	/* called from digestConfigObjects (each config change) and newTestableController (start) in 1.20.2 */
	{ PT_APF_DIGEST, PG_APF, false,
	  "k8s.io/apiserver/pkg/util/flowcontrol.(*configController).lockAndDigestConfigObjects", PROBE_ENTRY,
	  "APF config digested: names and UIDs of every PriorityLevelConfiguration and FlowSchema" },
};

const struct go_func *probe_target_find(const struct go_binary *b, const struct probe_target *t, int *alt)
{
	const char *p = t->func;
	char name[256];

	for (int i = 0; p && *p; i++) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		const struct go_func *f;

		if (n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = 0;
			f = gobin_find_func(b, name);
			if (f) {
				if (alt)
					*alt = i;
				return f;
			}
		}
		p = bar ? bar + 1 : NULL;
	}
	return NULL;
}
