// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "resolve/probe_targets.h"

const struct probe_target probe_targets[PT__COUNT] = {
	{ PT_H2X_PROCESS_HEADERS, "h2-xnet", "golang.org/x/net/http2.(*serverConn).processHeaders", PROBE_ENTRY,
	  "HTTP/2 request start: decoded :method, :path, user-agent, stream id, client" },
	{ PT_H2X_HANDLER_DONE, "h2-xnet", "golang.org/x/net/http2.(*responseWriter).handlerDone", PROBE_ENTRY,
	  "HTTP/2 request end: status, response bytes, stream id" },
	{ PT_H2B_PROCESS_HEADERS, "h2-bundled", "net/http.(*http2serverConn).processHeaders", PROBE_ENTRY,
	  "HTTP/2 request start (net/http's bundled server)" },
	{ PT_H2B_HANDLER_DONE, "h2-bundled", "net/http.(*http2responseWriter).handlerDone", PROBE_ENTRY,
	  "HTTP/2 request end (net/http's bundled server)" },
	{ PT_H1_READ_REQUEST, "http1", "net/http.(*conn).readRequest", PROBE_RETURNS,
	  "HTTP/1.x request start: *response with parsed request" },
	{ PT_H1_FINISH_REQUEST, "http1", "net/http.(*response).finishRequest", PROBE_ENTRY,
	  "HTTP/1.x request end: status, response bytes" },
	{ PT_GRPC_WRITE, "grpc", "google.golang.org/grpc/internal/transport.(*http2Client).Write", PROBE_ENTRY,
	  "etcd request message: method, protobuf payload, context chain (unary call start, watch requests)" },
	{ PT_GRPC_INVOKE_RET, "grpc", "google.golang.org/grpc.(*ClientConn).Invoke", PROBE_RETURNS,
	  "etcd unary call end: error/status" },
};
