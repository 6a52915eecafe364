/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Events that cross the BPF ring buffers, shared by bpf/ and src/capture/. Plain fixed-size
 * structs only. Strings are Go strings copied with an explicit length (not NUL-terminated in Go);
 * *_len is the copied length, *_trunc is set when the Go string was longer than the buffer.
 */
#ifndef KAPIMON_EVENTS_H
#define KAPIMON_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KP_METHOD_MAX 16
#define KP_PATH_MAX 512 /* power of two: BPF masks lengths with KP_PATH_MAX - 1 */
#define KP_UA_MAX 256
#define KP_ADDR_MAX 64
#define KP_USER_MAX 128  /* power of two */
#define KP_GROUP_MAX 64  /* power of two */
#define KP_GROUPS_MAX 8
#define KP_APF_UID_MAX 64 /* a Kubernetes UID is 36 bytes; power of two */
#define KP_CTX_CHAIN_MAX 20

enum kp_event_type {
	KP_EV_REQ_START = 1, /* a request's headers were decoded (h1 or h2) */
	KP_EV_REQ_END = 2,   /* the handler finished: status and bytes */
	KP_EV_GRPC_START = 3,
	KP_EV_GRPC_END = 4,
	KP_EV_GRPC_STREAM = 5,
	KP_EV_CONN = 6,
	KP_EV_WATCH_RESP = 7,
	KP_EV_APF_REJECT = 8,   /* API Priority and Fairness rejected a request (flowcontrol metrics.AddReject) */
	KP_EV_APF_TOO_MANY = 9, /* a filter answers 429 (server/filters.tooManyRequests): the request's context chain */
	KP_EV_APF_OBJECT = 10,  /* the APF config digested: one PriorityLevelConfiguration or FlowSchema (name, UID) */
};

enum kp_proto { KP_PROTO_H1 = 1, KP_PROTO_H2 = 2 };

/* Probe ids, for the per-probe hit counters (index into the BPF "hits" arrays). Every id has a
 * name and a consumer in src/assemble/kp_contract.c (tests/unit/test_kp_contract.c checks it). */
enum kp_probe {
	KP_PROBE_H2_HEADERS = 0,
	KP_PROBE_H2_DONE = 1,
	KP_PROBE_H1_START = 2,
	KP_PROBE_H1_DONE = 3,
	KP_PROBE_GRPC_WRITE = 4,
	KP_PROBE_GRPC_FINISH = 5,
	KP_PROBE_CALIBRATE = 6, /* kapimon's own calibration target (budget mode) */
	KP_PROBE_WATCH_RESP = 7, /* etcd client: a WatchResponse dispatched (events received) */
	KP_PROBE_CONN_STATE = 8, /* tracepoint sock/inet_sock_set_state (every TCP state change on the host) */
	KP_PROBE_TCP_RETRANS = 9, /* tracepoint tcp/tcp_retransmit_skb (every TCP retransmit on the host) */
	KP_PROBE_TCP_RESET = 10,  /* tracepoints tcp/tcp_send_reset, tcp/tcp_receive_reset (every RST) */
	KP_PROBE_RANGE_RESP = 11, /* etcd client: a RangeResponse is being decoded (its pointer kept for the call's end) */
	KP_PROBE_AUTHN_OK = 12,  /* request start after authentication (k8s apiserver: the impersonation filter) */
	KP_PROBE_AUTHN_FAIL = 13, /* request start of a request that failed authentication (Unauthorized) */
	KP_PROBE_APF_REJECT = 14,   /* kube-apiserver: flowcontrol metrics.AddReject (APF rejections only) */
	KP_PROBE_APF_TOO_MANY = 15, /* kube-apiserver: server/filters.tooManyRequests (429s only) */
	KP_PROBE_APF_DIGEST = 16,   /* kube-apiserver: the APF config controller digests its objects (config changes) */
	KP_PROBE__COUNT = 17,
};

/* Counters kept per CPU in BPF (index into the "counters" arrays); named and consumed like probes. */
enum kp_counter {
	KP_CNT_RB_DROP = 0,     /* bpf_ringbuf_reserve failed: event lost (counted, never silent) */
	KP_CNT_READ_FAIL = 1,   /* a bpf_probe_read_user failed (field unreadable) */
	KP_CNT_NO_METHOD = 2,   /* h2 HEADERS without :method (trailers): ignored */
	KP_CNT_CONN_TABLE_FULL = 3, /* conn.bpf.c: an etcd connection not tracked (its socket table was full) */
	KP_CNT_NO_RECV_TS = 4,  /* authn start: no received timestamp in the context chain (probe time used) */
	KP_CNT_NO_USER = 5,     /* authn start (success): no user of a known type in the context chain */
	KP_CNT__COUNT = 6,
};

/* The hit and event counter arrays (bpf/kp_common.h KP_STAT_MAPS): KP_STAT_STRIDE slots per CPU, slot
 * cpu * KP_STAT_STRIDE + id (a CPU's slots share no cache line with another CPU's); userspace sizes
 * them to the possible CPUs before loading and reads them through mmap. */
#define KP_STAT_STRIDE 32
#define KP_STAT_CPUS_DEFAULT 64 /* their size when nobody resizes them (doctor's trial loads) */

/* Truncation bits: a Go string longer than its buffer was cut (userspace marks the record). */
#define KP_TRUNC_PATH 1   /* kp_req_start.truncated */
#define KP_TRUNC_UA 2
#define KP_TRUNC_METHOD 4
#define KP_TRUNC_ADDR 8
#define KP_TRUNC_USER 16   /* the user name was cut */
#define KP_TRUNC_GROUPS 32 /* a group name was cut, or there were more than KP_GROUPS_MAX */
#define KP_TRUNC_GRPC_METHOD 1  /* kp_grpc_start.truncated */
#define KP_TRUNC_GRPC_PAYLOAD 2  /* the payload is a prefix of the message (payload_copied < payload_len) */
#define KP_TRUNC_GRPC_AT_VALUE 4 /* ... that ends before a value field (PutRequest.value, Compare.value) */
#define KP_TRUNC_GRPC_GAVE_UP 8  /* ... that ends where the probe's walk gave up (bounds, unknown bytes field,
				  * malformed): later fields are missing (bpf/etcd_walk.h) */
#define KP_TRUNC_WATCH_KEY 1    /* kp_watch_resp.truncated */

struct kp_event_hdr {
	__u32 type;   /* enum kp_event_type */
	__u32 tgid;
	__u64 ts_ns;  /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 goid_g; /* current goroutine's g pointer (R14) */
};

/*
 * Request key: h2 = (serverConn pointer, stream id); h1 = (*response pointer, 0). Both live for
 * the whole request, so start and end match even when they run on different goroutines.
 */
struct kp_req_start {
	struct kp_event_hdr hdr;
	__u64 conn;
	__u32 stream_id;
	__u8 proto; /* enum kp_proto */
	__u8 truncated; /* KP_TRUNC_PATH, _UA, _METHOD, _ADDR */
	__u16 method_len;
	__u16 path_len;
	__u16 ua_len;
	__u16 addr_len;
	__u8 h2_flavor; /* h2: the offsets group, 0 x/net/http2, 1 net/http bundled; h1: 0 */
	__u8 authn;     /* 0: generic start (conn, stream_id as above); KP_AUTHN_*: started after the
			 * apiserver's authentication filter, keyed by the request's root context (below) */
	__s64 content_length; /* declared request body length, -1 unknown */
	char method[KP_METHOD_MAX];
	char path[KP_PATH_MAX];
	char ua[KP_UA_MAX];
	char addr[KP_ADDR_MAX];
	/* Appended (issue 13; raw event files of the older, 904-byte layout are read with these zeroed).
	 * authn starts only (authn != 0): conn = the request's root context object (the end's ctx),
	 * stream_id = KP_SID_CTX; recv_wall/recv_ext = the Go time.Time the apiserver stored when the
	 * request arrived (WithRequestReceivedTimestamp), recv_found = 1 when it was found */
	__u64 recv_wall;
	__s64 recv_ext;
	__u8 recv_found;
	__u8 user_found;  /* the authenticated user was read (user, groups) */
	__u8 ngroups;     /* groups copied (at most KP_GROUPS_MAX) */
	__u8 _pad2;
	__u16 user_len;
	__u16 group_len[KP_GROUPS_MAX];
	char user[KP_USER_MAX];
	char groups[KP_GROUPS_MAX][KP_GROUP_MAX];
};

#define KP_AUTHN_OK 1   /* authenticated: user and groups follow */
#define KP_AUTHN_FAIL 2 /* failed authentication (401): no user */
#define KP_SID_CTX 0xffffffffu /* stream_id of a start keyed by its context (never a real h2 stream id) */

struct kp_req_end {
	struct kp_event_hdr hdr;
	__u64 conn;
	__u32 stream_id;
	__u8 proto;
	__u8 h2_flavor; /* as in kp_req_start */
	__u8 _pad[2];
	__s64 status;    /* 0: handler wrote nothing (implicit 200) */
	__s64 bytes_out; /* response body bytes written by the handler, -1 unknown */
	__s64 bytes_in;  /* request body bytes received, -1 unknown */
	__u64 ctx;       /* the request's context object (h2 stream ctx, h1 Request.ctx): etcd calls made
			  * for this request carry it in their context chain */
	/* API Priority and Fairness: the UIDs the apiserver put in the response headers of a request it
	 * served (X-Kubernetes-PF-PriorityLevel-UID, -FlowSchema-UID), read from the handler's header map;
	 * empty when absent (not classified, rejected, APF off) or unreadable */
	__u8 pl_uid_len;
	__u8 fs_uid_len;
	__u8 apf_truncated; /* KP_TRUNC_APF_PL, _FS: a header value longer than KP_APF_UID_MAX - 1 */
	__u8 _pad2[5];
	char pl_uid[KP_APF_UID_MAX];
	char fs_uid[KP_APF_UID_MAX];
};

/* Header keys the end programs look up (index into the hdr_keys rodata array; names in
 * src/plan/headers.c). A key is at most KP_HDR_KEY_WORDS * 8 - 1 bytes, compared by 8-byte words. */
enum kp_hdr {
	KP_HDR_USER_AGENT = 0,
	KP_HDR_APF_PL_UID = 1, /* X-Kubernetes-PF-PriorityLevel-UID (canonical form) */
	KP_HDR_APF_FS_UID = 2, /* X-Kubernetes-PF-FlowSchema-UID */
	KP_HDR__USED = 3,
	KP_HDR__COUNT = 4, /* power of two: BPF masks indexes */
};
#define KP_HDR_KEY_WORDS 8
#define KP_HDR_SCAN_MAX 2 /* keys one scan looks for */
struct kp_hdr_key {
	__u32 len; /* 0: unused */
	__u32 _pad;
	__u64 w[KP_HDR_KEY_WORDS]; /* the key's bytes, zero-padded, little-endian words */
};

#define KP_APF_NAME_MAX 128 /* Kubernetes object names: up to 253 bytes; longer ones are cut and flagged */
#define KP_APF_REASON_MAX 32
#define KP_TRUNC_APF_PL 1 /* kp_req_end.apf_truncated, kp_apf_reject.truncated */
#define KP_TRUNC_APF_FS 2

/* flowcontrol metrics.AddReject(priorityLevel, flowSchema, reason): called on the rejected request's
 * goroutine (hdr.goid_g), right before its filter answers 429 (kp_apf_too_many, same goroutine). */
struct kp_apf_reject {
	struct kp_event_hdr hdr;
	__u16 pl_len, fs_len, reason_len;
	__u8 truncated; /* KP_TRUNC_APF_PL, _FS */
	__u8 _pad;
	char pl[KP_APF_NAME_MAX];
	char fs[KP_APF_NAME_MAX];
	char reason[KP_APF_REASON_MAX];
};

/* The APF config controller's lockAndDigestConfigObjects(newPLs, newFSs) (at start and whenever a
 * FlowSchema or PriorityLevelConfiguration changes): one event per object, its name and UID, so the UIDs
 * of served requests can be given names. At most KP_APF_DIGEST_MAX objects of each kind. */
#define KP_APF_DIGEST_MAX 64
enum kp_apf_kind { KP_APF_PRIORITY_LEVEL = 0, KP_APF_FLOW_SCHEMA = 1 };
struct kp_apf_object {
	struct kp_event_hdr hdr;
	__u8 kind; /* enum kp_apf_kind */
	__u8 name_len;
	__u8 uid_len;
	__u8 truncated; /* KP_TRUNC_APF_PL: the name was cut */
	__u32 _pad;
	char name[KP_APF_NAME_MAX];
	char uid[KP_APF_UID_MAX];
};

/* server/filters.tooManyRequests(req, w): a 429 from the APF (or max-in-flight) filter; the context
 * chain of req (as kp_grpc_start's) links it to the request's end. */
struct kp_apf_too_many {
	struct kp_event_hdr hdr;
	__u8 nctx;
	__u8 _pad[7];
	__u64 ctx_chain[KP_CTX_CHAIN_MAX];
};

#define KP_GRPC_METHOD_MAX 64
#define KP_GRPC_PAYLOAD_MAX 512 /* power of two */

/* One gRPC request message written by the client transport (etcd call start, or a message on a
 * stream such as Watch). payload is the value-free prefix of the protobuf-encoded message
 * (bpf/etcd_walk.h): it ends before the first value field, at the copy bound, or where the walk
 * stopped; nothing of methods other than KV, Watch and Lease ones. */
struct kp_grpc_start {
	struct kp_event_hdr hdr;
	__u64 stream;        /* *transport.Stream */
	__u32 payload_len;   /* full message length */
	__u16 payload_copied;
	__u16 method_len;
	__u8 nctx;           /* entries in ctx_chain */
	__u8 truncated;      /* KP_TRUNC_GRPC_METHOD, _PAYLOAD, _AT_VALUE, _GAVE_UP */
	__u8 _pad[6];
	__u64 ctx_chain[KP_CTX_CHAIN_MAX]; /* context objects from the stream's ctx up to the root */
	char method[KP_GRPC_METHOD_MAX];   /* 8-byte aligned (bpf/etcd_walk.h compares it by words) */
	__u8 payload[KP_GRPC_PAYLOAD_MAX];
};

#define KP_WATCH_KEY_MAX 128

/* The etcd client dispatched one WatchResponse (clientv3 watchGrpcStream.dispatchEvent): events
 * received on a watch stream, and the key of the first one (its resource). */
struct kp_watch_resp {
	struct kp_event_hdr hdr;
	__u32 nevents;
	__u16 key_len;
	__u8 first_type; /* mvccpb.Event_EventType of the first event: 0 PUT, 1 DELETE */
	__u8 truncated;  /* KP_TRUNC_WATCH_KEY */
	char key[KP_WATCH_KEY_MAX];
};

/* kp_grpc_end.flags: which of the response fields were read */
#define KP_END_RESP_SIZE 1 /* resp_size: the last response message's length (grpc parser's message header) */
#define KP_END_RANGE 2     /* range_*: a RangeResponse was decoded on the goroutine during the call (a Txn's
			    * nested ranges too: the last one's numbers; userspace keeps them for Ranges only) */

/* A call finished (grpc.(*clientStream).finish), on the goroutine hdr.goid_g. What etcd returned is
 * read from the decoded Go structs and message headers: sizes and counts only, never a key or value. */
struct kp_grpc_end {
	struct kp_event_hdr hdr;
	__s32 code;   /* gRPC status code: 0 OK, -1 error of unknown shape */
	__u32 is_err;
	__u32 resp_size;    /* KP_END_RESP_SIZE: bytes of the response message (protobuf, without the 5-byte
			     * gRPC prefix); else the last RangeResponse's encoded size (KP_END_RANGE) */
	__u32 range_kvs;    /* KP_END_RANGE: len(RangeResponse.Kvs), the key-values returned */
	__s64 range_count;  /* KP_END_RANGE: RangeResponse.Count, the keys in the range */
	__u8 range_more;    /* KP_END_RANGE: RangeResponse.More */
	__u8 flags;         /* KP_END_RESP_SIZE, KP_END_RANGE */
	__u8 _pad[6];
};

/* A TCP connection of the apiserver: a client's to one of its listening ports, or its own to etcd
 * (bpf/conn.bpf.c: tracepoints, no uprobe; once per connection state change, retransmit or reset). */
enum kp_conn_what {
	KP_CONN_CLOSE = 0,   /* -> CLOSE: bytes_in/out and retrans are the connection's totals */
	KP_CONN_OPEN = 1,    /* -> ESTABLISHED (retrans: SYN-ACK retransmits before it) */
	KP_CONN_SEEDED = 2,  /* found ESTABLISHED in /proc at attach (opened before kapimon; made by
			      * userspace, never by BPF) */
	KP_CONN_RETRANS = 3, /* a retransmit; retrans is the socket's cumulative count after it */
	KP_CONN_RST_SENT = 4,
	KP_CONN_RST_RECV = 5,
};
enum kp_conn_dir { KP_CONN_DIR_CLIENT = 0, KP_CONN_DIR_ETCD = 1 };
#define KP_CONN_HAVE_BYTES 1 /* kp_conn_event.flags: bytes_in/bytes_out were read */

struct kp_conn_event {
	struct kp_event_hdr hdr; /* goid_g unused; tgid: the apiserver only for seeded events */
	__u16 family;      /* AF_INET / AF_INET6 */
	__u16 local_port;  /* host order */
	__u16 peer_port;   /* host order */
	__u8 established;  /* enum kp_conn_what (the name is historical: 1 open, 0 close) */
	__u8 dir;          /* enum kp_conn_dir */
	__u8 local_addr[16]; /* IPv4 in the first 4 bytes */
	__u8 peer_addr[16];
	__u64 sk;          /* the socket's kernel address: pairs one connection's events (0: seeded) */
	__u64 bytes_in;    /* tcp_sock.bytes_received (close only) */
	__u64 bytes_out;   /* tcp_sock.bytes_acked (close only) */
	__u32 retrans;     /* tcp_sock.total_retrans: retransmitted segments so far (cumulative) */
	__u8 flags;        /* KP_CONN_HAVE_BYTES */
	__u8 _pad2[3];
};

#endif
