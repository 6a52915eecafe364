/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Redaction of etcd request messages: keep the fields kapimon's decoder reads (keys, range ends,
 * integers) and overwrite every other length-delimited field's bytes (PutRequest.value,
 * Compare.value, Auth passwords, anything unknown) with zeros, in place. The wire structure (tags and
 * lengths) is unchanged, so the redacted message decodes to the same summary. Used for raw event
 * dumps (benchmark corpora), which must never hold a value the apiserver wrote.
 */
#ifndef KAPIMON_ETCD_REDACT_H
#define KAPIMON_ETCD_REDACT_H

#include <stddef.h>
#include <stdint.h>

/* method: the full gRPC method ("/etcdserverpb.KV/Put"). Unknown methods and anything after a
 * malformed or cut field are zeroed entirely. Returns the number of bytes zeroed. */
size_t etcd_request_redact(const char *method, size_t method_len, uint8_t *msg, size_t len);

#endif
