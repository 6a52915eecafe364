/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the k8s-authn start programs need to know about one kube-apiserver binary
 * (include/kapimon/go_offsets.h, struct kp_authn_params): the type hashes of the context keys
 * and of the user type, the key values, and the few struct offsets. Version knowledge as data:
 * the Go type-hash algorithm by Go version, the apiserver's key values and layouts, each with
 * where it comes from (docs/capture.md, "Who made the request"). Pure: no BPF.
 */
#ifndef KAPIMON_AUTHN_PARAMS_H
#define KAPIMON_AUTHN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kapimon/go_offsets.h"

enum go_typehash_alg { GTH_UNKNOWN = 0, GTH_NOTSHA256 };

/* The type-hash algorithm of the Go compiler of that minor version (GTH_UNKNOWN: not measured). */
enum go_typehash_alg go_typehash_alg(int go_minor);
/* runtime._type.hash of the type whose link name is name ("pkg/path.Name", "*pkg/path.Name"). */
uint32_t go_type_hash(enum go_typehash_alg alg, const char *name);

/* The apiserver's import-path prefix in a function name of its filters package, e.g.
 * "k8s.io/kubernetes/vendor/k8s.io/apiserver/" from
 * "k8s.io/kubernetes/vendor/k8s.io/apiserver/pkg/endpoints/filters.WithImpersonation.func1".
 * Returns its length, or -1 when fn is not in a .../pkg/endpoints/filters package. */
int authn_apiserver_prefix(const char *fn, char *out, size_t len);

/* Fill p for a binary built by Go 1.go_minor whose filters functions are named like filters_fn.
 * Returns 0, or -1 with the reason in why (the generic request starts are then used). */
int authn_params_fill(int go_minor, const char *filters_fn, struct kp_authn_params *p, char *why, size_t why_len);

#endif
