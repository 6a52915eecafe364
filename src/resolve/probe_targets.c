// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "resolve/probe_targets.h"

#include <string.h>

#include "goelf/goelf.h"

const struct probe_target probe_targets[PT__COUNT] = {
	{ PT_H2X_PROCESS_HEADERS, "h2-xnet", "golang.org/x/net/http2.(*serverConn).processHeaders", PROBE_ENTRY,
	  "HTTP/2 request start: decoded :method, :path, user-agent, stream id, client" },
	{ PT_H2X_HANDLER_DONE, "h2-xnet", "golang.org/x/net/http2.(*responseWriter).handlerDone", PROBE_ENTRY,
	  "HTTP/2 request end: status, response bytes, stream id" },
	/* net/http's own HTTP/2 server: bundled as http2* up to Go 1.26, net/http/internal/http2 from 1.27 */
	{ PT_H2B_PROCESS_HEADERS, "h2-bundled",
	  "net/http.(*http2serverConn).processHeaders|net/http/internal/http2.(*serverConn).processHeaders",
	  PROBE_ENTRY, "HTTP/2 request start (net/http's own server)" },
	{ PT_H2B_HANDLER_DONE, "h2-bundled",
	  "net/http.(*http2responseWriter).handlerDone|net/http/internal/http2.(*responseWriter).handlerDone",
	  PROBE_ENTRY, "HTTP/2 request end (net/http's own server)" },
	{ PT_H1_SERVE_CALL, "http1", "net/http.(*conn).serve", PROBE_CALLSITE,
	  "HTTP/1.x request start: the call of serverHandler.ServeHTTP(w, req) (w in RCX)",
	  "net/http.serverHandler.ServeHTTP" },
	{ PT_H1_READ_REQUEST, "http1-fallback", "net/http.(*conn).readRequest", PROBE_RETURNS,
	  "HTTP/1.x request start when ServeHTTP is inlined: *response returned by readRequest" },
	{ PT_H1_FINISH_REQUEST, "http1", "net/http.(*response).finishRequest", PROBE_ENTRY,
	  "HTTP/1.x request end: status, response bytes" },
	{ PT_GRPC_WRITE, "grpc",
	  /* grpc <= 1.65: (t *http2Client) Write(s *Stream, hdr, data []byte, opts);
	   * grpc >= 1.66: (s *ClientStream) Write(hdr []byte, data mem.BufferSlice, opts) */
	  "google.golang.org/grpc/internal/transport.(*http2Client).Write|"
	  "google.golang.org/grpc/internal/transport.(*ClientStream).Write",
	  PROBE_ENTRY, "etcd request message: method, protobuf prefix before any value, context chain (unary call start, watch requests)" },
	{ PT_GRPC_FINISH, "grpc", "google.golang.org/grpc.(*clientStream).finish", PROBE_ENTRY,
	  "etcd call end: finish(err) on the caller's goroutine -> gRPC status" },
	{ PT_ETCD_WATCH_DISPATCH, "etcd-watch",
	  "go.etcd.io/etcd/clientv3.(*watchGrpcStream).dispatchEvent|"
	  "go.etcd.io/etcd/client/v3.(*watchGrpcStream).dispatchEvent",
	  PROBE_ENTRY, "etcd watch responses received (events per resource), once per response" },
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
