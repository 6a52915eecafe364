/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records: the contract between capture and everything after it (aggregation, analysis, export).
 * One struct per record kind, one JSON mapping (src/assemble/record_json.c), documented in
 * docs/records.md. Nothing here knows about BPF.
 */
#ifndef KAPIMON_RECORD_H
#define KAPIMON_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#define REC_METHOD_LEN 16
#define REC_PATH_LEN 512
#define REC_UA_LEN 256
#define REC_ADDR_LEN 64
#define REC_FIELD_LEN 128 /* group, version, resource, subresource, namespace, name */
#define REC_VERB_LEN 24
#define REC_USER_LEN 128
#define REC_GROUP_LEN 64
#define REC_GROUPS_MAX 8

enum rec_proto { REC_PROTO_UNKNOWN = 0, REC_PROTO_H1 = 1, REC_PROTO_H2 = 2 };

/* Fields cut by a capture bound (request_record.truncated, etcd_record.truncated); written as the
 * "truncated" array of names (rec_trunc_name). */
enum rec_trunc {
	REC_TRUNC_METHOD = 1,
	REC_TRUNC_PATH = 2,       /* the path also ends in "...[truncated]" */
	REC_TRUNC_USER_AGENT = 4,
	REC_TRUNC_CLIENT = 8,
	REC_TRUNC_USER = 16,      /* the user name was cut (127 bytes) */
	REC_TRUNC_GROUPS = 32,    /* a group was cut (63 bytes) or there were more than REC_GROUPS_MAX */
	REC_TRUNC_PRIORITY_LEVEL = 64, /* an APF name or UID was cut (request_record.apf) */
	REC_TRUNC_FLOW_SCHEMA = 128,
	REC_TRUNC__ALL = 255,
};

/* Kubernetes request attributes, as the apiserver's RequestInfoFactory derives them. */
struct k8s_request_info {
	bool is_resource_request;
	bool truncated;              /* some field below was cut to fit its buffer */
	char verb[REC_VERB_LEN];     /* get list watch create update patch delete deletecollection, or lowercase HTTP method */
	char api_prefix[16];         /* "api" or "apis" ("" for non-resource) */
	char group[REC_FIELD_LEN];   /* "" for the core group */
	char version[REC_FIELD_LEN];
	char resource[REC_FIELD_LEN];
	char subresource[REC_FIELD_LEN];
	char namespace_[REC_FIELD_LEN];
	char name[REC_FIELD_LEN];
};

#define REC_APF_NAME_LEN 128 /* KP_APF_NAME_MAX */
#define REC_APF_UID_LEN 64   /* KP_APF_UID_MAX */

/* API Priority and Fairness: what classified a request. Served requests: the UIDs from the response
 * headers (names when known); requests APF rejected: the names and the reason (no UIDs: the apiserver
 * sends no such header with a 429). Empty strings when unknown. */
struct rec_apf {
	char priority_level[REC_APF_NAME_LEN];
	char flow_schema[REC_APF_NAME_LEN];
	char priority_level_uid[REC_APF_UID_LEN];
	char flow_schema_uid[REC_APF_UID_LEN];
	char reject_reason[32]; /* "queue-full", "concurrency-limit", "time-out"; "" when not rejected by APF */
};

/* The label of a request's priority level / flow schema: the name when known, else the UID, else "". */
#define REC_APF_LABEL(name, uid) ((name)[0] ? (name) : (uid))

/* Fixed-size fields first, then the strings, each read only up to its NUL: a record is ~2.8 KB, of
 * which a request typically fills a few hundred bytes, and the joins and the sinks touch only the
 * cache lines they read. */
struct request_record {
	uint64_t id;            /* kapimon's request id, unique within a run */
	uint64_t start_ns;      /* wall clock, ns since the Unix epoch */
	uint64_t latency_ns;    /* 0 while ongoing */
	int64_t bytes_in;       /* request body bytes, -1 when unknown */
	int64_t bytes_out;      /* response body bytes, -1 when unknown */
	double sample_factor;   /* 1.0 in full capture; 1/duty in budget mode */
	/* what the request cost in etcd, summed over the etcd calls linked to it; known only with etcd
	 * capture (has_etcd_cost; zero-initialised records have none) */
	uint64_t etcd_calls;       /* unary etcd calls */
	uint64_t etcd_resp_bytes;  /* their response message bytes (calls with a known size) */
	uint64_t etcd_kvs;         /* key-values their Ranges returned */
	/* internal, not written: linking etcd calls to this request */
	uint64_t start_mono_ns; /* CLOCK_MONOTONIC start */
	uint64_t link_ctx;      /* the request's context object address, 0 unknown */
	enum rec_proto proto;
	int32_t status;         /* HTTP status, 0 when unknown */
	uint32_t stream_id;     /* HTTP/2 stream id, 0 for h1 */
	uint32_t apiserver_pid; /* the apiserver process that served it (0 unknown) */
	uint16_t local_port;    /* 0 when unknown */
	uint8_t truncated;      /* enum rec_trunc bits: fields the capture cut */
	uint8_t ngroups;
	bool ongoing;           /* recording stopped before the request ended */
	bool has_etcd_cost;
	bool has_user;          /* user and groups are known (authenticated request, authn starts): the
				 * authenticated user, as the apiserver's authentication filter found it */
	struct k8s_request_info ri;
	char method[REC_METHOD_LEN];
	char client[REC_ADDR_LEN]; /* "ip:port" of the peer */
	char path[REC_PATH_LEN]; /* sanitised: secrets in the query removed */
	char user_agent[REC_UA_LEN];
	char user[REC_USER_LEN];
	char groups[REC_GROUPS_MAX][REC_GROUP_LEN]; /* the first ngroups */
	struct rec_apf apf;     /* API Priority and Fairness classification */
};

/* As request_record: fixed-size fields first, then the strings. */
struct etcd_record {
	uint64_t start_ns;
	uint64_t latency_ns;
	int64_t limit;            /* -1 when absent */
	int64_t resp_size;        /* -1 when unknown */
	int64_t req_size;         /* request message bytes (protobuf), -1 when unknown */
	uint64_t request_id;      /* parent apiserver request, 0 when not linked */
	double sample_factor;
	/* what etcd returned to a Range (-1 / false when unknown or not a Range) */
	int64_t kvs;              /* key-values returned (len(RangeResponse.Kvs)) */
	int64_t count;            /* RangeResponse.count: keys in the range (with a limit: all of them) */
	int32_t grpc_status;      /* 0 OK, -1 unknown */
	uint32_t apiserver_pid;   /* the apiserver process that made the call (0 unknown) */
	uint16_t key_len;         /* bytes of key (keys are binary and may hold NULs); 0: strlen(key) */
	uint16_t range_end_len;   /* bytes of range_end; 0: strlen(range_end) */
	uint8_t truncated;        /* enum rec_trunc bits (REC_TRUNC_METHOD: the gRPC method was cut) */
	bool count_only;
	bool keys_only;
	bool key_truncated;       /* key or range_end was longer than REC_PATH_LEN */
	bool stream;              /* a message on a long-lived stream (Watch, LeaseKeepAlive), not a unary call */
	bool more;                /* RangeResponse.more: the limit cut the range */
	char op[24];              /* range put delete txn compact lease_grant ... */
	char method[96];          /* full gRPC method, e.g. /etcdserverpb.KV/Range */
	char resource[REC_FIELD_LEN]; /* derived from the key, e.g. "leases" or "apps/deployments"? see docs */
	char group[REC_FIELD_LEN]; /* API group of the resource derived from the key ("" = core / unknown) */
	char key[REC_PATH_LEN];   /* printable-escaped by the JSON writer */
	char range_end[REC_PATH_LEN];
};

/* A connection of the apiserver opened or closed ("kind":"conn"), or, for sinks only (not written as
 * JSON), retransmits or resets on one (REC_CONN_RETRANS, REC_CONN_RESET). docs/records.md. */
enum rec_conn_event { REC_CONN_OPEN = 1, REC_CONN_CLOSE = 2, REC_CONN_RETRANS = 3, REC_CONN_RESET = 4 };
enum rec_conn_dir { REC_CONN_CLIENT = 0, REC_CONN_ETCD = 1 };

struct conn_record {
	uint64_t ts_ns;            /* wall clock of the event */
	enum rec_conn_event event;
	enum rec_conn_dir dir;     /* a client's connection to the apiserver, or the apiserver's to etcd */
	char peer[REC_ADDR_LEN];   /* the other end, "ip:port" (the client; etcd's endpoint) */
	char local[REC_ADDR_LEN];  /* the apiserver's end, "ip:port" */
	char group[REC_ADDR_LEN];  /* what it is counted under: the client's IP, or etcd's "ip:port" */
	bool seeded;               /* opened before kapimon attached (found in /proc): no duration */
	uint64_t duration_ns;      /* close: open -> close; 0 unknown (seeded) */
	int64_t bytes_in;          /* close: bytes received from the peer (tcp_sock.bytes_received), -1 unknown */
	int64_t bytes_out;         /* close: bytes sent and acknowledged (tcp_sock.bytes_acked), -1 unknown */
	int64_t retransmits;       /* open/close: the connection's retransmitted segments so far, -1 unknown */
	uint32_t resets_sent, resets_received; /* close: over the connection's life (since kapimon saw it) */
	/* for aggregation: what this event adds (each retransmitted segment and reset is counted once) */
	uint32_t retrans_delta;    /* retransmitted segments since the connection's previous event */
	uint32_t resets_delta;     /* resets in this event (REC_CONN_RESET: 1) */
	bool reset_sent;           /* REC_CONN_RESET: sent (true) or received */
	uint32_t group_open;       /* connections of `group` open after this event (0: not counted, table full) */
	uint64_t open_total;       /* connections open after this event, every group and direction */
};

/* Defaults (src/assemble/record.c): unknown byte counts/limits/sizes -1, grpc_status -1, sample_factor 1;
 * every other field zero. */
void request_record_init(struct request_record *r);
void etcd_record_init(struct etcd_record *r);
/* etcd_record_init for a record about to be filled: the fixed-size fields set, the strings emptied
 * (first byte), their tails left as they were. */
void etcd_record_init_fast(struct etcd_record *r);

#endif
