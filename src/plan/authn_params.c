// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "plan/authn_params.h"

#include <stdio.h>
#include <string.h>

#include "util/sha256.h"

/*
 * cmd/compile/internal/types.TypeHash: the first 4 bytes (little endian) of a hash of the type's
 * LinkString, stored by the compiler in runtime._type.hash. Go 1.19: notsha256.Sum256 (SHA-256 with
 * every bit inverted; /usr/share/go-1.19/src/cmd/compile/internal/types/fmt.go); checked on the
 * testbed's kube-apiserver 1.20.2 (go1.19.8): the descriptors of request.key,
 * request.requestReceivedTimestampKeyType, *user.DefaultInfo, time.Time and int carry these hashes.
 * Earlier Go used MD5, later ones are not measured here: those binaries get the generic starts.
 */
static const struct {
	int min_minor, max_minor;
	enum go_typehash_alg alg;
} typehash_table[] = {
	{ 19, 19, GTH_NOTSHA256 },
};

enum go_typehash_alg go_typehash_alg(int go_minor)
{
	for (size_t i = 0; i < sizeof(typehash_table) / sizeof(typehash_table[0]); i++)
		if (go_minor >= typehash_table[i].min_minor && go_minor <= typehash_table[i].max_minor)
			return typehash_table[i].alg;
	return GTH_UNKNOWN;
}

uint32_t go_type_hash(enum go_typehash_alg alg, const char *name)
{
	uint8_t h[32];

	if (alg != GTH_NOTSHA256 || !name)
		return 0;
	sha256(name, strlen(name), h);
	return (uint32_t)(uint8_t)~h[0] | (uint32_t)(uint8_t)~h[1] << 8 | (uint32_t)(uint8_t)~h[2] << 16 |
	       (uint32_t)(uint8_t)~h[3] << 24;
}

#define FILTERS_PKG "pkg/endpoints/filters."

int authn_apiserver_prefix(const char *fn, char *out, size_t len)
{
	const char *f = fn ? strstr(fn, FILTERS_PKG) : NULL;
	size_t n;

	if (!f || (f != fn && f[-1] != '/'))
		return -1;
	n = (size_t)(f - fn);
	if (n + 1 > len)
		return -1;
	memcpy(out, fn, n);
	out[n] = '\0';
	return (int)n;
}

/*
 * The apiserver's side, k8s.io/apiserver 1.20 (staging/src/k8s.io/apiserver), unchanged since:
 *  - pkg/endpoints/request/context.go: type key int; namespaceKey key = iota; userKey (= 1)
 *  - pkg/endpoints/request/received_time.go: requestReceivedTimestampKey ... = iota (= 0), value time.Time
 *  - pkg/authentication/user/user.go: DefaultInfo{Name, UID string; Groups []string; Extra map}
 * and Go's: context.valueCtx{Context; key, val any} (go1.7+), runtime._type{size, ptrdata uintptr;
 * hash uint32; ...}.
 */
static const struct kp_authn_params k8s_1_20 = {
	.user_key = 1,
	.recv_ts_key = 0,
	.type_hash = 16,
	.ctx_key = 16,
	.ctx_val = 32,
	.user_name = 0,
	.user_groups = 32,
	.req_spill = KP_OFF_UNKNOWN, /* set by the plan from the frame size of the probed function */
	._pad2 = { KP_OFF_UNKNOWN, KP_OFF_UNKNOWN },
};

int authn_params_fill(int go_minor, const char *filters_fn, struct kp_authn_params *p, char *why, size_t why_len)
{
	enum go_typehash_alg alg = go_typehash_alg(go_minor);
	char prefix[256], name[384];

	memset(p, 0, sizeof(*p));
	if (alg == GTH_UNKNOWN) {
		snprintf(why, why_len, "type hashes of go1.%d binaries not known (measured: go1.19)", go_minor);
		return -1;
	}
	if (authn_apiserver_prefix(filters_fn, prefix, sizeof(prefix)) < 0) {
		snprintf(why, why_len, "%s is not in a .../pkg/endpoints/filters package", filters_fn ? filters_fn : "?");
		return -1;
	}
	*p = k8s_1_20;
	snprintf(name, sizeof(name), "%spkg/endpoints/request.key", prefix);
	p->hash_req_key = go_type_hash(alg, name);
	snprintf(name, sizeof(name), "%spkg/endpoints/request.requestReceivedTimestampKeyType", prefix);
	p->hash_recv_ts_key = go_type_hash(alg, name);
	snprintf(name, sizeof(name), "*%spkg/authentication/user.DefaultInfo", prefix);
	p->hash_user_type = go_type_hash(alg, name);
	return 0;
}
