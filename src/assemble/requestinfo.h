/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kube-apiserver's RequestInfo rules (k8s.io/apiserver/pkg/endpoints/request, RequestInfoFactory with
 * APIPrefixes {api, apis} and GrouplessAPIPrefixes {api}) in pure C: HTTP method + request target
 * ("/api/v1/namespaces/default/pods?watch=1") -> verb, api prefix, group, version, resource, subresource,
 * namespace, name. See docs/records.md for the rules and the few documented differences.
 */
#ifndef KAPIMON_REQUESTINFO_H
#define KAPIMON_REQUESTINFO_H

#include <stddef.h>

#include "assemble/record.h"

enum kri_result {
	KRI_OK = 0,
	KRI_EBADURL = -1,      /* raw control byte or invalid %-escape in the path: Go's URL parser (and so the
				* apiserver) rejects it with 400; *out is a non-resource request with the method verb */
	KRI_ESPECIALVERB = -2, /* "/api/v1/watch" or "/api/v1/proxy" with nothing after it: the apiserver fails
				* such requests (500); *out holds what was known (prefix, group, version) */
	KRI_ENOMEM = -3,
};

/*
 * Derive the RequestInfo of a request. method: HTTP method (as sent, e.g. "GET"); target: the request
 * target, origin-form "/path?query" or absolute-form "https://host/path?query", target_len bytes (need not
 * be NUL-terminated). Returns an enum kri_result; *out is always filled (best effort on errors).
 * Values of the query (fieldSelector, labelSelector, ...) are only read to pick the verb and, exactly as
 * the apiserver does, the name of a single-object list/watch (fieldSelector=metadata.name=<name>).
 */
int k8s_request_info_parse(const char *method, const char *target, size_t target_len, struct k8s_request_info *out);

const char *kri_strerror(int err);

/* For the assembler: r->method is set; fills r->ri from raw[0..len) (the request target as captured, up to
 * its first NUL) and r->path with its sanitised form (assemble/path_sanitize.h). */
void request_classify(struct request_record *r, const char *raw, size_t len);

#endif
