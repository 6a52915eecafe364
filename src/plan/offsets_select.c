// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "plan/offsets_select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goelf/offsets.h"
#include "util/log.h"

/* The fields a group cannot work without (others are optional: the BPF side skips unknown ones). */
static bool h2_usable(const struct kp_h2_offsets *h)
{
	return h->meta_headers_frame_fields != KP_OFF_UNKNOWN && h->headers_frame_stream_id != KP_OFF_UNKNOWN &&
	       h->header_field_size != KP_OFF_UNKNOWN && h->response_writer_rws != KP_OFF_UNKNOWN &&
	       h->rws_stream != KP_OFF_UNKNOWN && h->rws_status != KP_OFF_UNKNOWN && h->stream_sc != KP_OFF_UNKNOWN &&
	       h->stream_id != KP_OFF_UNKNOWN;
}

static bool h1_usable(const struct kp_http1_offsets *h)
{
	return h->response_conn != KP_OFF_UNKNOWN && h->response_req != KP_OFF_UNKNOWN &&
	       h->response_status != KP_OFF_UNKNOWN && h->request_method != KP_OFF_UNKNOWN &&
	       h->request_request_uri != KP_OFF_UNKNOWN;
}

static bool grpc_usable(const struct kp_grpc_offsets *g)
{
	return g->stream_method != KP_OFF_UNKNOWN;
}

/* etcd clientv3's response types (gogo-generated etcdserverpb), measured by scripts/gen-etcd-offsets.sh. One
 * row: the client kube-apiserver 1.20 vendors (etcd 3.4.13). gogo's generator puts the proto fields first in
 * declaration order (3.5's only append XXX_ fields at the end), so the row is used for every binary. */
static const struct {
	const char *version;
	struct {
		kp_off_t range_resp_kvs, range_resp_more, range_resp_count, watch_resp_events;
	} o;
	const char *prov;
} etcd_table[] = {
	/* etcd_table row, go1.19.8, etcdserverpb (go.etcd.io/etcd/etcdserver/etcdserverpb) */
	{ "v0.5.0-alpha.5.0.20200910180754-dd1b699fc489",
	  { .range_resp_kvs = 8, .range_resp_more = 32, .range_resp_count = 40, .watch_resp_events = 56 },
	  "unsafe.Offsetof in a go1.19.8 GOPATH program built against go.etcd.io/etcd "
	  "v0.5.0-alpha.5.0.20200910180754-dd1b699fc489 (kubernetes v1.20.2 vendor tree) by scripts/gen-etcd-offsets.sh" },
};

/* KAPIMON_TEST_OFFSETS="GROUP@ROW,...": force rows (test only). Returns 0, or -1 with the reason in err. */
static int force_rows(struct go_offsets *go, const char *spec, char *err, size_t errlen)
{
	while (spec && *spec) {
		size_t n = strcspn(spec, ","), gl = strcspn(spec, "@");
		char ver[96];
		int g;

		if (gl >= n || (g = goff_group_from_name(spec, gl)) < 0 || n - gl - 1 >= sizeof(ver)) {
			snprintf(err, errlen, "KAPIMON_TEST_OFFSETS: '%.*s' is not GROUP@ROW (groups: h2-xnet, h2-bundled, "
				 "http1, grpc)", (int)n, spec);
			return -1;
		}
		snprintf(ver, sizeof(ver), "%.*s", (int)(n - gl - 1), spec + gl + 1);
		if (goff_force_row(go, (enum goff_group)g, ver)) {
			snprintf(err, errlen, "KAPIMON_TEST_OFFSETS: no %s table row '%s'", goff_group_name((enum goff_group)g),
				 ver);
			return -1;
		}
		p_warn("TEST ONLY: %s offsets forced to the %s row (KAPIMON_TEST_OFFSETS)", goff_group_name((enum goff_group)g),
		       ver);
		spec += n + (spec[n] == ',');
	}
	return 0;
}

int kapimon_offsets_select(const struct go_binary *b, struct kapimon_offsets *o, char *err, size_t errlen)
{
	struct go_offsets go;
	size_t n = 0;

	memset(o, 0, sizeof(*o));
	if (go_offsets_fill(b, 0, &go)) {
		snprintf(err, errlen, "cannot determine struct offsets");
		return -1;
	}
	if (force_rows(&go, getenv("KAPIMON_TEST_OFFSETS"), err, errlen))
		return -1;
	o->h2[0] = go.h2x;
	o->h2[1] = go.h2b;
	o->h1 = go.h1;
	o->grpc = go.grpc;
	/* etcd clientv3's watch and range response types (etcd_table) */
	o->grpc.watch_resp_events = etcd_table[0].o.watch_resp_events;
	o->grpc.event_kv = 8; /* mvccpb.Event.Kv, mvccpb.KeyValue.Key: measured from DWARF for etcd 3.4 */
	o->grpc.kv_key = 0;
	o->grpc.range_resp_kvs = etcd_table[0].o.range_resp_kvs;
	o->grpc.range_resp_more = etcd_table[0].o.range_resp_more;
	o->grpc.range_resp_count = etcd_table[0].o.range_resp_count;
	o->h2_ok[0] = go.info[GOFF_H2X].source != GOFF_NONE && h2_usable(&go.h2x);
	o->h2_ok[1] = go.info[GOFF_H2B].source != GOFF_NONE && h2_usable(&go.h2b);
	o->h1_ok = go.info[GOFF_H1].source != GOFF_NONE && h1_usable(&go.h1);
	o->grpc_ok = go.info[GOFF_GRPC].source != GOFF_NONE && grpc_usable(&go.grpc);
	for (int g = 0; g < GOFF__NGROUPS; g++) {
		if (go.info[g].source == GOFF_NONE)
			continue;
		o->unverified[g] = go.info[g].source == GOFF_NEAREST;
		if (o->unverified[g])
			snprintf(o->basis[g], sizeof(o->basis[g]), "%s", go.info[g].basis);
		o->group_source[g] = goff_source_name(go.info[g].source);
		n += snprintf(o->source + n, n < sizeof(o->source) ? sizeof(o->source) - n : 0, "%s%s %s",
			      n ? ", " : "", goff_group_name(g), goff_source_name(go.info[g].source));
		if (n >= sizeof(o->source))
			break;
	}
	if (!o->h2_ok[0] && !o->h2_ok[1] && !o->h1_ok) {
		snprintf(err, errlen, "no usable struct offsets for the HTTP servers in this binary (%s)",
			 gobin_go_version(b) ? gobin_go_version(b) : "unknown Go version");
		return -1;
	}
	return 0;
}
