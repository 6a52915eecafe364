/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Derive the Kubernetes resource from an etcd key, following the apiserver's storage layout:
 * <prefix>/<resource-prefix>/<namespace>/<name> for namespaced and <prefix>/<resource-prefix>/<name> for
 * cluster-scoped resources, where <prefix> is --etcd-prefix ("/registry") and <resource-prefix> is the
 * resource name except for the historical special prefixes (services/specs, services/endpoints, minions,
 * controllers, ingress, podsecuritypolicy) and the group-qualified ones (apiregistration.k8s.io/apiservices,
 * apiextensions.k8s.io/customresourcedefinitions, and every custom resource: <group>/<plural>).
 */
#ifndef KAPIMON_ETCD_KEY_H
#define KAPIMON_ETCD_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"

#define ETCD_DEFAULT_PREFIX "/registry"

enum etcd_key_scope { ETCD_SCOPE_UNKNOWN = 0, ETCD_SCOPE_NAMESPACED, ETCD_SCOPE_CLUSTER };

struct etcd_key_info {
	char group[REC_FIELD_LEN];      /* "" for the core group (and when unknown) */
	char resource[REC_FIELD_LEN];   /* plural resource, e.g. "deployments", "nodes" (not "minions") */
	char namespace_[REC_FIELD_LEN];
	char name[REC_FIELD_LEN];
	enum etcd_key_scope scope;
	bool known;       /* the resource prefix is in the built-in table (else: custom or unknown) */
	bool is_range;    /* the key is the start of a range (a range_end was given) */
	bool is_prefix;   /* range_end is the prefix end of key: the request covers every key under it */
	bool truncated;   /* a field was cut to fit */
};

/*
 * Parse key (binary, key_len bytes) with an optional range_end (NULL/0 when none) under storage_prefix
 * (NULL: "/registry"). Returns 0 and fills *out when the key is under the prefix and names a resource;
 * -1 otherwise (*out is zeroed). A prefix key such as "/registry/pods/" or "/registry/pods/default/"
 * gives the resource (and namespace) with an empty name.
 */
int etcd_key_parse(const uint8_t *key, size_t key_len, const uint8_t *range_end, size_t range_end_len,
		   const char *storage_prefix, struct etcd_key_info *out);

/* true when range_end is what etcd's clientv3.GetPrefixRangeEnd(key) gives (key with its last byte
 * below 0xff incremented and the rest cut, or "\0" when there is none). */
bool etcd_range_is_prefix(const uint8_t *key, size_t key_len, const uint8_t *range_end, size_t range_end_len);

/* "<resource>" for the core group, "<resource>.<group>" otherwise (GroupResource.String() form);
 * returns the string length (0 when no resource). */
size_t etcd_key_resource_string(const struct etcd_key_info *ki, char *buf, size_t n);

#endif
