/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Decode etcd v3 gRPC request messages (etcdserverpb, api/etcdserverpb/rpc.proto) from their protobuf
 * bytes into a small summary: op name, key, range_end, limit, count_only, keys_only. Values (PutRequest.value,
 * Compare.value), auth requests (passwords, tokens) and everything else are never copied out.
 * Bad input is counted in struct etcd_decode_counters and never crashes; a truncated message keeps the
 * fields decoded before the cut (etcd_decode_prefix: a capture that stopped early is not an error).
 */
#ifndef KAPIMON_ETCD_REQUEST_H
#define KAPIMON_ETCD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "etcd/protobuf.h"

enum etcd_op {
	ETCD_OP_UNKNOWN = 0,
	ETCD_OP_RANGE,
	ETCD_OP_PUT,
	ETCD_OP_DELETE_RANGE,
	ETCD_OP_TXN,
	ETCD_OP_COMPACT,
	ETCD_OP_WATCH,          /* WatchRequest.create_request (or a Watch message not yet decoded) */
	ETCD_OP_WATCH_CANCEL,   /* WatchRequest.cancel_request */
	ETCD_OP_WATCH_PROGRESS, /* WatchRequest.progress_request */
	ETCD_OP_LEASE_GRANT,
	ETCD_OP_LEASE_REVOKE,
	ETCD_OP_LEASE_KEEPALIVE,
	ETCD_OP_LEASE_TIMETOLIVE,
	ETCD_OP_LEASE_LEASES,
	ETCD_OP_OTHER, /* a known etcdserverpb service method that is not decoded (Cluster, Maintenance, Auth) */
};

/* Keys are binary-safe byte strings, not C strings. */
#define ETCD_KEY_MAX REC_PATH_LEN

struct etcd_req_summary {
	enum etcd_op op;
	char op_name[24];          /* "range", "put", "txn", "lease_grant", "member_list", ... ("unknown") */
	uint8_t key[ETCD_KEY_MAX];
	size_t key_len;
	bool key_truncated;        /* the key was longer than ETCD_KEY_MAX */
	bool has_key;
	uint8_t range_end[ETCD_KEY_MAX];
	size_t range_end_len;
	bool range_end_truncated;
	int64_t limit;             /* RangeRequest.limit, -1 when absent (0 on the wire means "no limit") */
	bool count_only;
	bool keys_only;
	int64_t revision;          /* Range/Compaction revision, WatchCreate start_revision; 0 when absent */
	int64_t lease_id;          /* lease ops: ID; put: lease; 0 when absent */
	int64_t ttl;               /* LeaseGrant TTL seconds; 0 when absent */
	uint32_t n_compare, n_success, n_failure; /* txn only */
	bool partial;              /* decoding stopped at an error; the fields above are what came before */
	bool cut;                  /* decoded from a prefix (etcd_decode_prefix): fields after the cut are unknown */
};

struct etcd_decode_counters {
	uint64_t decoded;          /* messages decoded without error */
	uint64_t errors;           /* messages with any error (sum of by_error) */
	uint64_t by_error[PB_NERR]; /* indexed by -enum pb_err */
	uint64_t unknown_method;   /* method not in the etcdserverpb table (also counted in errors? no) */
	uint64_t compressed;       /* gRPC frames with the compressed flag (not decoded) */
	uint64_t bad_frame;        /* gRPC length prefix missing or inconsistent */
};

/* An entry of the etcdserverpb method table (the strings NUL-padded: copied whole). */
#define ETCD_METHOD_CAP 48
struct etcd_method {
	char method[ETCD_METHOD_CAP]; /* "/etcdserverpb.KV/Range" */
	char name[24];                /* op name: "range" */
	uint8_t len, name_len;        /* strlen of method and name */
	enum etcd_op op;
	bool stream;                  /* a client stream (Watch, LeaseKeepAlive, Snapshot): messages, not unary calls */
};

/* The table's entry for a gRPC method (len bytes, no NUL needed), NULL when unknown. */
const struct etcd_method *etcd_method_find(const char *method, size_t len);

/* Map a gRPC method ("/etcdserverpb.KV/Range") to its op; op_name (>= 24 bytes) gets the name.
 * Unknown methods give ETCD_OP_UNKNOWN and "unknown". method need not be NUL-terminated. */
enum etcd_op etcd_method_op(const char *method, size_t len, char *op_name, size_t op_name_size);

/* Decode one request message (protobuf bytes, without the gRPC 5-byte prefix) of the given method.
 * Returns 0 on success, a negative enum pb_err on a decode error (counted; *out keeps what was decoded and
 * out->partial is set), or 1 when the method is unknown (counted in unknown_method; nothing decoded).
 * counters may be NULL. */
int etcd_decode_request(const char *method, size_t method_len, const uint8_t *msg, size_t len,
			struct etcd_req_summary *out, struct etcd_decode_counters *counters);

/* The same for a prefix of the message (cut: the message goes on past len), as kapimon's probe copies it:
 * it ends before the first value field, at the copy bound or where the probe's walk stopped. A field cut
 * short by the end is not an error: a cut key or range_end is kept and marked truncated, a cut nested
 * message is decoded as far as it goes. */
int etcd_decode_prefix(const char *method, size_t method_len, const uint8_t *msg, size_t len, bool cut,
		       struct etcd_req_summary *out, struct etcd_decode_counters *counters);

/* Strip the gRPC length-prefixed-message header: flag byte (0 = uncompressed) and 4-byte big-endian length.
 * A length beyond the buffer is allowed (captures are cut short): *msg_len is then what is available and
 * *cut is true. Returns 0, or -1 (too short / compressed; counted). */
int etcd_grpc_unframe(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msg_len, bool *cut,
		      struct etcd_decode_counters *counters);

/* Fill the etcd fields of an etcd_record from a summary (method, op, key, range_end, limit, flags).
 * The resource is derived from the key (etcd/etcd_key.h). */
void etcd_summary_to_record(const struct etcd_req_summary *s, const char *method, struct etcd_record *rec);

/* etcd_decode_prefix then etcd_summary_to_record in one pass, as the assembler fills a call's record:
 * the same record fields, byte for byte, but the key and range_end are copied once, from msg, and the
 * resource is split as requests carry it ("leases.coordination.k8s.io": resource "leases", group
 * "coordination.k8s.io"). rec's strings must be empty and group's first byte 0 (etcd_record_init_fast).
 * method (method_len bytes, no NUL needed) is the gRPC method, m its etcd_method_find (the caller has it).
 * Returns as etcd_decode_prefix; *op (may be NULL) gets the op. */
int etcd_decode_to_record(const struct etcd_method *m, const char *method, size_t method_len, const uint8_t *msg,
			  size_t len, bool cut, struct etcd_record *rec, enum etcd_op *op,
			  struct etcd_decode_counters *counters);

#endif
