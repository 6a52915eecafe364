/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Byte offsets of the Go struct fields the BPF programs read. Filled in userspace by
 * src/goelf/offsets.c (from DWARF when present, else a table keyed by Go and module versions) and
 * handed to BPF as read-only data. Plain fixed-size fields only: this struct crosses into BPF.
 * A value of 0xffff means "unknown" (the reader then skips that field).
 */
#ifndef KAPIMON_GO_OFFSETS_H
#define KAPIMON_GO_OFFSETS_H

#ifndef __VMLINUX_H__
#include <stdint.h>
#include <linux/types.h>
typedef uint16_t kp_off_t;
#else
typedef __u16 kp_off_t;
#endif

#define KP_OFF_UNKNOWN 0xffff

/* One HTTP/2 server implementation: golang.org/x/net/http2 or net/http's bundled http2* copy. */
struct kp_h2_offsets {
	kp_off_t meta_headers_frame_fields;  /* MetaHeadersFrame.Fields ([]hpack.HeaderField), after *HeadersFrame */
	kp_off_t headers_frame_stream_id;    /* HeadersFrame.FrameHeader.StreamID (uint32) */
	kp_off_t header_field_size;          /* sizeof(hpack.HeaderField): Name, Value string, Sensitive bool */
	kp_off_t server_conn_remote_addr;    /* serverConn.remoteAddrStr (string) */
	kp_off_t response_writer_rws;        /* responseWriter.rws (*responseWriterState) */
	kp_off_t rws_stream;                 /* responseWriterState.stream (*stream) */
	kp_off_t rws_status;                 /* responseWriterState.status (int) */
	kp_off_t rws_wrote_bytes;            /* responseWriterState.wroteBytes (int64) */
	kp_off_t rws_sent_content_len;       /* responseWriterState.sentContentLen (int64) */
	kp_off_t stream_sc;                  /* stream.sc (*serverConn) */
	kp_off_t stream_id;                  /* stream.id (uint32) */
	kp_off_t stream_body_bytes;          /* stream.bodyBytes (int64): request body bytes received */
	kp_off_t stream_ctx;                 /* stream.ctx (context.Context iface): links etcd calls to requests */
	kp_off_t rws_handler_header;         /* responseWriterState.handlerHeader (http.Header): APF response headers */
};

/* net/http's HTTP/1.x server. */
struct kp_http1_offsets {
	kp_off_t response_conn;        /* response.conn (*conn) */
	kp_off_t response_req;         /* response.req (*Request) */
	kp_off_t response_status;      /* response.status (int) */
	kp_off_t response_written;     /* response.written (int64): body bytes written */
	kp_off_t conn_remote_addr;     /* conn.remoteAddr (string) */
	kp_off_t request_method;       /* Request.Method (string) */
	kp_off_t request_header;       /* Request.Header (map[string][]string) */
	kp_off_t request_content_length; /* Request.ContentLength (int64) */
	kp_off_t request_request_uri;  /* Request.RequestURI (string) */
	kp_off_t request_proto_major;  /* Request.ProtoMajor (int) */
	uint8_t map_kind;              /* 0 = classic hmap (Go <= 1.23), 1 = swiss map (Go >= 1.24) */
	uint8_t _pad;
	kp_off_t request_ctx;          /* Request.ctx (context.Context iface): links etcd calls to requests */
	kp_off_t request_remote_addr;  /* Request.RemoteAddr (string): the client of an authn start */
	kp_off_t response_handler_header; /* response.handlerHeader (Header): APF response headers */
};

/* Kubernetes API objects (k8s.io/apimachinery ObjectMeta behind TypeMeta), for the APF config digest. */
struct kp_k8s_offsets {
	kp_off_t object_name; /* <Kind>.ObjectMeta.Name (string) */
	kp_off_t object_uid;  /* <Kind>.ObjectMeta.UID (types.UID string) */
};

/*
 * Request start after the Kubernetes apiserver's authentication filter (probe group k8s-authn):
 * what the BPF program needs to find the user and the received timestamp in the request's context
 * chain. Context keys are recognised by the hash the Go compiler stores in every type descriptor
 * (runtime._type.hash, cmd/compile types.TypeHash of the type's link name) and by their value.
 * Filled by src/plan/authn_params.c from the binary (package path, Go version); 0 = unknown.
 */
struct kp_authn_params {
	__u32 hash_req_key;      /* <apiserver>/pkg/endpoints/request.key (userKey's type) */
	__u32 hash_recv_ts_key;  /* <apiserver>/pkg/endpoints/request.requestReceivedTimestampKeyType */
	__u32 hash_user_type;    /* *<apiserver>/pkg/authentication/user.DefaultInfo */
	__u32 _pad;
	__s64 user_key;          /* userKey's value (1: namespaceKey, userKey, auditKey, ... iota) */
	__s64 recv_ts_key;       /* requestReceivedTimestampKey's value (0) */
	kp_off_t type_hash;      /* runtime._type.hash (uint32) */
	kp_off_t ctx_key;        /* context.valueCtx.key (any); its parent Context is at 0 */
	kp_off_t ctx_val;        /* context.valueCtx.val (any) */
	kp_off_t user_name;      /* user.DefaultInfo.Name (string) */
	kp_off_t user_groups;    /* user.DefaultInfo.Groups ([]string) */
	kp_off_t req_spill;      /* at the success call site: SP + req_spill holds req (the probed function's
				  * frame + return address + the spill slots of w ResponseWriter); unknown at the entry */
	kp_off_t _pad2[2];
};

/* google.golang.org/grpc client, for etcd calls. */
struct kp_grpc_offsets {
	kp_off_t status_error_s;   /* internal/status.Error.s (*Status) */
	kp_off_t status_s;         /* status.Status.s (*spb.Status) */
	kp_off_t spb_status_code;  /* google.golang.org/genproto/googleapis/rpc/status.Status.Code (int32) */
	kp_off_t _pad;
	/* Added (issue 5): how the error returned by Invoke reaches spb.Status. 1 = the error's data
	 * pointer is the *spb.Status itself (grpc <= 1.29: type statusError spb.Status; status_error_s and
	 * status_s are then KP_OFF_UNKNOWN); 0 = via status_error_s (and status_s when != KP_OFF_UNKNOWN:
	 * newer grpc, internal/status.Error{s *Status}). KP_OFF_UNKNOWN when unknown. */
	kp_off_t error_is_spb;
	kp_off_t stream_method;    /* internal/transport.Stream.method (string) */
	kp_off_t stream_ctx;       /* internal/transport.Stream.ctx (context.Context iface) */
	/* etcd clientv3 watch responses (gogo-generated etcdserverpb/mvccpb; measured for etcd 3.4) */
	kp_off_t watch_resp_events; /* etcdserverpb.WatchResponse.Events ([]*mvccpb.Event) */
	kp_off_t event_kv;          /* mvccpb.Event.Kv (*KeyValue); Event.Type (int32) is at 0 */
	kp_off_t kv_key;            /* mvccpb.KeyValue.Key ([]byte) */
	/* Added (issue 13, etcd cost): the size of the last response message, from the gRPC message
	 * header grpc's parser keeps (clientStream.attempt -> csAttempt.p -> parser.header [5]byte:
	 * compressed flag, big-endian length); KP_OFF_UNKNOWN: not read. */
	kp_off_t cs_attempt;        /* grpc.clientStream.attempt (*csAttempt) */
	kp_off_t attempt_parser;    /* grpc.csAttempt.p (*parser) */
	kp_off_t parser_header;     /* grpc.parser.header ([5]byte) */
	/* etcdserverpb.RangeResponse (gogo-generated; scripts/gen-etcd-offsets.sh) */
	kp_off_t range_resp_kvs;    /* RangeResponse.Kvs ([]*mvccpb.KeyValue): only its length is read */
	kp_off_t range_resp_more;   /* RangeResponse.More (bool) */
	kp_off_t range_resp_count;  /* RangeResponse.Count (int64) */
};

#endif
