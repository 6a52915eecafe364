// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The header keys kapimon's BPF programs look up in Go header maps (net/http.Header), as data. Keys are
 * in the canonical form net/http stores them in (textproto.CanonicalMIMEHeaderKey, which Header.Set and
 * the request parser apply): the map lookup compares bytes.
 */
#include <string.h>

#include "kapimon/events.h"
#include "plan/plan.h"

static const struct {
	const char *name;
	const char *provenance;
} headers[KP_HDR__USED] = {
	[KP_HDR_USER_AGENT] = { "User-Agent", "request header (h1 start: Request.Header)" },
	/* k8s.io/api/flowcontrol/v1beta1 (and v1alpha1) types.go: ResponseHeaderMatchedPriorityLevelConfigurationUID
	 * = "X-Kubernetes-PF-PriorityLevel-UID", ResponseHeaderMatchedFlowSchemaUID = "X-Kubernetes-PF-FlowSchema-UID";
	 * set by WithPriorityAndFairness's execute (served requests only) with Header().Set (canonicalised) */
	[KP_HDR_APF_PL_UID] = { "X-Kubernetes-Pf-Prioritylevel-Uid",
				"response header set by the apiserver's APF filter for requests it served (1.20.2)" },
	[KP_HDR_APF_FS_UID] = { "X-Kubernetes-Pf-Flowschema-Uid",
				"response header set by the apiserver's APF filter for requests it served (1.20.2)" },
};

const char *plan_hdr_name(int hdr)
{
	return hdr >= 0 && hdr < KP_HDR__USED ? headers[hdr].name : NULL;
}

void plan_hdr_keys(const struct plan *p, struct kp_hdr_key *keys)
{
	memset(keys, 0, sizeof(*keys) * KP_HDR__COUNT);
	for (int i = 0; i < KP_HDR__USED; i++) {
		size_t n = strlen(headers[i].name);

		if (n >= KP_HDR_KEY_WORDS * 8)
			continue; /* cannot be compared: left off (the test of this table checks none is) */
		if ((i == KP_HDR_APF_PL_UID || i == KP_HDR_APF_FS_UID) && (!p || !p->apf_served_ok))
			continue;
		keys[i].len = (uint32_t)n;
		memcpy(keys[i].w, headers[i].name, n); /* little-endian words, zero-padded */
	}
}
