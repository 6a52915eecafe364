// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "etcd/etcd_key.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/strbuf.h"

struct layout {
	const char *prefix; /* resource prefix under the storage prefix; one or two segments */
	const char *group;
	const char *resource;
	enum etcd_key_scope scope;
};

#define NS ETCD_SCOPE_NAMESPACED
#define CL ETCD_SCOPE_CLUSTER

/* The apiserver's default storage layout (two-segment prefixes first). */
static const struct layout layouts[] = {
	{ "services/specs", "", "services", NS },
	{ "services/endpoints", "", "endpoints", NS },
	{ "apiregistration.k8s.io/apiservices", "apiregistration.k8s.io", "apiservices", CL },
	{ "apiextensions.k8s.io/customresourcedefinitions", "apiextensions.k8s.io", "customresourcedefinitions", CL },
	/* core */
	{ "pods", "", "pods", NS },
	{ "minions", "", "nodes", CL },
	{ "controllers", "", "replicationcontrollers", NS },
	{ "configmaps", "", "configmaps", NS },
	{ "secrets", "", "secrets", NS },
	{ "serviceaccounts", "", "serviceaccounts", NS },
	{ "namespaces", "", "namespaces", CL },
	{ "events", "", "events", NS },
	{ "limitranges", "", "limitranges", NS },
	{ "resourcequotas", "", "resourcequotas", NS },
	{ "persistentvolumes", "", "persistentvolumes", CL },
	{ "persistentvolumeclaims", "", "persistentvolumeclaims", NS },
	{ "podtemplates", "", "podtemplates", NS },
	/* apiserver-internal keys: endpoint reconciler leases, service IP / node port allocation bitmaps */
	{ "masterleases", "", "masterleases", CL },
	{ "ranges", "", "ranges", CL },
	/* apps, batch, autoscaling, policy */
	{ "deployments", "apps", "deployments", NS },
	{ "replicasets", "apps", "replicasets", NS },
	{ "statefulsets", "apps", "statefulsets", NS },
	{ "daemonsets", "apps", "daemonsets", NS },
	{ "controllerrevisions", "apps", "controllerrevisions", NS },
	{ "jobs", "batch", "jobs", NS },
	{ "cronjobs", "batch", "cronjobs", NS },
	{ "horizontalpodautoscalers", "autoscaling", "horizontalpodautoscalers", NS },
	{ "poddisruptionbudgets", "policy", "poddisruptionbudgets", NS },
	{ "podsecuritypolicy", "policy", "podsecuritypolicies", CL },
	/* networking, discovery */
	{ "ingress", "networking.k8s.io", "ingresses", NS },
	{ "ingressclasses", "networking.k8s.io", "ingressclasses", CL },
	{ "networkpolicies", "networking.k8s.io", "networkpolicies", NS },
	{ "ipaddresses", "networking.k8s.io", "ipaddresses", CL },
	{ "servicecidrs", "networking.k8s.io", "servicecidrs", CL },
	{ "endpointslices", "discovery.k8s.io", "endpointslices", NS },
	/* rbac */
	{ "roles", "rbac.authorization.k8s.io", "roles", NS },
	{ "rolebindings", "rbac.authorization.k8s.io", "rolebindings", NS },
	{ "clusterroles", "rbac.authorization.k8s.io", "clusterroles", CL },
	{ "clusterrolebindings", "rbac.authorization.k8s.io", "clusterrolebindings", CL },
	/* storage, scheduling, node, coordination, certificates */
	{ "storageclasses", "storage.k8s.io", "storageclasses", CL },
	{ "volumeattachments", "storage.k8s.io", "volumeattachments", CL },
	{ "csidrivers", "storage.k8s.io", "csidrivers", CL },
	{ "csinodes", "storage.k8s.io", "csinodes", CL },
	{ "csistoragecapacities", "storage.k8s.io", "csistoragecapacities", NS },
	{ "priorityclasses", "scheduling.k8s.io", "priorityclasses", CL },
	{ "runtimeclasses", "node.k8s.io", "runtimeclasses", CL },
	{ "leases", "coordination.k8s.io", "leases", NS },
	{ "certificatesigningrequests", "certificates.k8s.io", "certificatesigningrequests", CL },
	/* admission, flow control */
	{ "validatingwebhookconfigurations", "admissionregistration.k8s.io", "validatingwebhookconfigurations", CL },
	{ "mutatingwebhookconfigurations", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", CL },
	{ "validatingadmissionpolicies", "admissionregistration.k8s.io", "validatingadmissionpolicies", CL },
	{ "validatingadmissionpolicybindings", "admissionregistration.k8s.io", "validatingadmissionpolicybindings", CL },
	{ "flowschemas", "flowcontrol.apiserver.k8s.io", "flowschemas", CL },
	{ "prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", CL },
};

struct seg {
	const uint8_t *p;
	size_t len;
};

#define MAX_SEGS 8

static bool copy_field(char *dst, const uint8_t *src, size_t len)
{
	bool cut = false;

	if (len > REC_FIELD_LEN - 1) {
		len = REC_FIELD_LEN - 1;
		cut = true;
	}
	/* a NUL inside a key segment would end the C string early: stop there and report it */
	{
		const uint8_t *nul = memchr(src, 0, len);

		if (nul) {
			len = (size_t)(nul - src);
			cut = true;
		}
	}
	memcpy(dst, src, len);
	dst[len] = 0;
	return cut;
}

static bool seg_is(const struct seg *s, const char *str, size_t n)
{
	return s->len == n && memcmp(s->p, str, n) == 0;
}

/* The layouts' prefixes split once: the table is scanned for every etcd key. */
#define NLAYOUTS (sizeof(layouts) / sizeof(layouts[0]))
static struct {
	uint8_t len0, len1; /* first segment, second (0: one segment) */
} layout_lens[NLAYOUTS];
static pthread_once_t layout_once = PTHREAD_ONCE_INIT;

static void layout_lens_init(void)
{
	for (size_t i = 0; i < NLAYOUTS; i++) {
		const char *p = layouts[i].prefix, *slash = strchr(p, '/');

		layout_lens[i].len0 = (uint8_t)(slash ? (size_t)(slash - p) : strlen(p));
		layout_lens[i].len1 = (uint8_t)(slash ? strlen(slash + 1) : 0);
	}
}

static bool seg_has_dot(const struct seg *s)
{
	return memchr(s->p, '.', s->len) != NULL;
}

bool etcd_range_is_prefix(const uint8_t *key, size_t key_len, const uint8_t *end, size_t end_len)
{
	size_t i;

	if (!end || end_len == 0)
		return false;
	for (i = key_len; i > 0; i--) {
		if (key[i - 1] < 0xff)
			break;
	}
	if (i == 0) /* empty key or all 0xff: GetPrefixRangeEnd gives "\0" */
		return end_len == 1 && end[0] == 0;
	return end_len == i && memcmp(key, end, i - 1) == 0 && end[i - 1] == key[i - 1] + 1;
}

int etcd_key_parse(const uint8_t *key, size_t key_len, const uint8_t *range_end, size_t range_end_len,
		   const char *storage_prefix, struct etcd_key_info *out)
{
	const char *pfx = storage_prefix ? storage_prefix : ETCD_DEFAULT_PREFIX;
	size_t plen = strlen(pfx);
	struct seg segs[MAX_SEGS];
	size_t nseg = 0, i, start, rest_len, used;
	const uint8_t *rest;
	const struct layout *lay = NULL;
	bool trailing_slash;

	memset(out, 0, sizeof(*out));
	while (plen > 0 && pfx[plen - 1] == '/')
		plen--;
	if (!key || key_len < plen + 2 || memcmp(key, pfx, plen) != 0 || key[plen] != '/')
		return -1;
	rest = key + plen + 1;
	rest_len = key_len - plen - 1;
	trailing_slash = rest[rest_len - 1] == '/';
	if (trailing_slash)
		rest_len--;
	if (rest_len == 0)
		return -1;
	/* split; the last segment keeps any further '/' so nothing is lost */
	for (start = 0; nseg < MAX_SEGS;) {
		const uint8_t *slash = nseg == MAX_SEGS - 1 ? NULL : memchr(rest + start, '/', rest_len - start);
		size_t end = slash ? (size_t)(slash - rest) : rest_len;

		segs[nseg].p = rest + start;
		segs[nseg].len = end - start;
		nseg++;
		if (!slash)
			break;
		start = end + 1;
	}
	out->is_range = range_end && range_end_len > 0;
	out->is_prefix = etcd_range_is_prefix(key, key_len, range_end, range_end_len);

	pthread_once(&layout_once, layout_lens_init);
	for (i = 0; i < NLAYOUTS && !lay; i++) {
		const char *p = layouts[i].prefix;
		size_t l0 = layout_lens[i].len0, l1 = layout_lens[i].len1;

		if (segs[0].len != l0 || p[0] != (char)segs[0].p[0])
			continue; /* cheap filters: the table is scanned for every key */
		if (l1) {
			if (nseg >= 2 && seg_is(&segs[0], p, l0) && seg_is(&segs[1], p + l0 + 1, l1))
				lay = &layouts[i];
		} else if (seg_is(&segs[0], p, l0)) {
			lay = &layouts[i];
		}
	}
	if (lay) {
		str_copy(out->group, sizeof(out->group), lay->group);
		str_copy(out->resource, sizeof(out->resource), lay->resource);
		out->scope = lay->scope;
		out->known = true;
		used = strchr(lay->prefix, '/') ? 2 : 1;
	} else if (seg_has_dot(&segs[0])) {
		/* custom resources (and aggregated-style layouts): <group>/<plural>/... */
		out->truncated |= copy_field(out->group, segs[0].p, segs[0].len);
		if (nseg < 2)
			return 0; /* a whole group, e.g. "/registry/example.com/" */
		out->truncated |= copy_field(out->resource, segs[1].p, segs[1].len);
		used = 2;
	} else {
		out->truncated |= copy_field(out->resource, segs[0].p, segs[0].len);
		used = 1;
	}

	if (nseg - used >= 2 && out->scope != ETCD_SCOPE_CLUSTER) {
		const uint8_t *name = segs[used].p + segs[used].len + 1;

		out->truncated |= copy_field(out->namespace_, segs[used].p, segs[used].len);
		/* anything after the namespace is the name (names cannot hold '/', so extra parts are kept whole) */
		out->truncated |= copy_field(out->name, name, (size_t)(rest + rest_len - name));
	} else if (nseg - used >= 1) {
		const struct seg *s = &segs[used];
		size_t len = (size_t)(rest + rest_len - s->p);

		if (out->scope == ETCD_SCOPE_CLUSTER)
			out->truncated |= copy_field(out->name, s->p, len);
		else if (out->scope == ETCD_SCOPE_NAMESPACED || trailing_slash || out->is_range)
			out->truncated |= copy_field(out->namespace_, s->p, len);
		else
			out->truncated |= copy_field(out->name, s->p, len);
	}
	return 0;
}

size_t etcd_key_resource_string(const struct etcd_key_info *ki, char *buf, size_t n)
{
	size_t r;

	if (!n)
		return 0;
	if (!ki->resource[0]) {
		buf[0] = 0;
		return 0;
	}
	r = str_copy(buf, n, ki->resource);
	if (ki->group[0] && r + 1 < n) {
		buf[r++] = '.';
		r += str_copy(buf + r, n - r, ki->group);
	}
	return r;
}
