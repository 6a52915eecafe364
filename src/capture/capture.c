// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "capture/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "goelf/goelf.h"
#include "kapimon/events.h" /* struct kp_hdr_key: http.skel.h rodata */
#include "kapimon/go_offsets.h"
#include "assemble/offsets_check.h"
#include "sampling/budget.h"
#include "goelf/offsets.h"
#include "conn.skel.h"
#include "capture/conn_load.h"
#include "capture/stat_maps.h"
#include "grpc.skel.h"
#include "http.skel.h"
#include "plan/plan.h"
#include "resolve/procnet.h"
#include "util/log.h"

#define MAX_LINKS 256

/* A resolved attach point: the program (one per variant: no attach cookies) and the file offset. */
struct attach_point {
	struct bpf_program *prog;
	uint64_t off;
	const char *func;
	bool is_start; /* begins a request/call (detached first when sampling) */
	int group;     /* offsets group (enum oc_group) */
	bool disabled; /* its group's unverified offsets failed validation: never attached again */
};

struct capture {
	int stats_fd;           /* BPF_ENABLE_STATS while > 0 (budget mode: programs' run time) */
	struct http_bpf *skel;
	struct grpc_bpf *gskel; /* NULL with no_etcd or when the binary has no grpc client */
	struct conn_bpf *cskel; /* NULL when the TCP state tracepoint is unavailable */
	enum conn_variant cvariant; /* which of conn.bpf.c's program variants loaded */
	struct bpf_link *conn_links[8];
	int nconn_links;
	bool conn_link;  /* conn_links attached */
	int nlisten, netcd_ports;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS]; /* links[i] attaches pts[i]; NULL while detached */
	struct attach_point pts[MAX_LINKS];
	int nlinks;
	char exe[64];
	enum capture_phase phase;
	/* uprobe detach waits for an RCU grace period (~100+ ms per link here): links are destroyed
	 * by a background thread so the ring buffers keep draining */
	bool reaper_started;
	pthread_mutex_t rmu;
	pthread_cond_t rcv;
	int ndead; /* links being destroyed by reaper threads */
	uint64_t detach_done; /* mono ns: the last reaper finished */
	struct capture_opts o;
	uint64_t events;
	char desc[512];
	struct plan plan; /* what is attached */
	struct stat bin_st; /* the binary's identity (/proc/PID/exe followed) */
	bool conn_stale;    /* a new process to track: its ports and connections not read yet */
	size_t desc_pid_len; /* desc starts with "pid N " */
	struct offcheck *oc; /* non-NULL when a group's offsets are unverified (validated on its first events) */
	struct stat_map hits, counters; /* every object's counters (one pair of arrays, mmapped) */
};

static void offsets_verdict(struct capture *c, int g);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Where attaching spends its time (-v): one debug line per capture_open. */
enum open_stage { OS_BINARY, OS_PLAN, OS_LOAD_HTTP, OS_LOAD_GRPC, OS_ATTACH, OS_CONN, OS__N };
static const char *const open_stage_names[OS__N] = { "binary", "plan", "load http", "load grpc", "attach", "conns" };

static unsigned long hwm_kb(void)
{
	char line[128];
	unsigned long v = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static void stage_done(uint64_t *t, double *ms, unsigned long *kb, enum open_stage s)
{
	uint64_t now = mono_ns();

	ms[s] = (double)(now - *t) / 1e6;
	kb[s] = kp_verbosity >= 2 ? hwm_kb() : 0;
	*t = now;
}

static int dispatch(struct capture *c, const void *data, size_t size)
{
	c->o.on_event(c->o.ctx, data, size);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	int decided;

	c->events++;
	/* unverified offsets: the group's events wait in c->oc until its verdict (offsets_check.h) */
	if (c->oc) {
		enum oc_action a = oc_feed(c->oc, data, size, &decided);

		if (decided >= 0)
			offsets_verdict(c, decided);
		if (a != OC_DELIVER)
			return 0;
	}
	return dispatch(c, data, size);
}

static void release_one(void *ctx, const void *data, size_t size)
{
	dispatch(ctx, data, size);
}

static void reap(struct capture *c, struct bpf_link *l);

/* A group's offsets were judged: deliver what was held, or detach the group for good. */
static void offsets_verdict(struct capture *c, int g)
{
	struct oc_group_info in;
	int n = 0;

	oc_info(c->oc, (enum oc_group)g, &in);
	if (in.state == OC_PASS) {
		p_info("%s offsets verified on the first events (%s)", goff_group_name(g), in.why);
		oc_release(c->oc, (enum oc_group)g, release_one, c);
		return;
	}
	for (int i = 0; i < c->nlinks; i++) {
		if (c->pts[i].group != g)
			continue;
		c->pts[i].disabled = true;
		n++;
		if (c->links[i]) {
			reap(c, c->links[i]);
			c->links[i] = NULL;
		}
	}
	p_err("%s probe group DISABLED (%d uprobe%s detached): its unverified struct offsets gave implausible events "
	      "(%s); no record was made from them", goff_group_name(g), n, n == 1 ? "" : "s", in.why);
	snprintf(c->desc + strlen(c->desc), sizeof(c->desc) - strlen(c->desc), "; %s DISABLED (implausible events)",
		 goff_group_name(g));
}

/*
 * Connection tracking (optional): the apiserver's listening ports go into the tracepoint's filter,
 * and its established connections are reported as seeded. Run again for a new pid (retarget) or while
 * no listening port was found (an apiserver attached before it listens): only new ports are added.
 */
/* The network namespace of pid (the inode of /proc/PID/ns/net), 0 when unreadable. */
static uint32_t netns_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : (uint32_t)st.st_ino;
}

/* The etcd ports the apiserver connects to (its --etcd-servers), into the filter. */
static void setup_etcd_ports(struct capture *c, uint16_t *ports, size_t *nports)
{
	char path[64], buf[16384], servers[4096];
	ssize_t n;
	int fd;
	uint8_t one = 1;

	*nports = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", c->o.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return;
	oc_cmdline_flag(buf, (size_t)n, "etcd-servers", servers, sizeof(servers));
	*nports = procnet_url_ports(servers, ports, 16);
	if (*nports > 16)
		*nports = 16;
	for (size_t i = 0; i < *nports; i++)
		if (!bpf_map_update_elem(bpf_map__fd(c->cskel->maps.etcd_ports), &ports[i], &one, BPF_ANY))
			c->netcd_ports++;
}

/*
 * Connection tracking (optional): the apiserver's listening ports (in its network namespace) and its
 * etcd ports go into the tracepoints' filter, its pid into the table of processes whose connects to
 * etcd are followed, and its established connections (clients and etcd) are reported as seeded. Run
 * again for a new pid (retarget) or while no listening port was found (an apiserver attached before it
 * listens): only new ports are added.
 */
static int setup_conn(struct capture *c)
{
	struct procnet_sock *socks;
	int n, listening = 0, ret;
	uint32_t netns, pid = (uint32_t)c->o.pid;
	uint16_t eports[16];
	size_t neports = 0;
	uint8_t one = 1;

	if (c->o.no_conns)
		return 0;
	socks = calloc(8192, sizeof(*socks));
	if (!socks)
		return 0;
	n = procnet_pid_sockets(c->o.pid, socks, 8192);
	if (!c->cskel) {
		char why[256];

		c->cskel = conn_open_load_stats(&c->cvariant, why, sizeof(why), bpf_map__fd(c->skel->maps.hits),
						bpf_map__fd(c->skel->maps.counters));
		if (!c->cskel)
			p_warn("connection tracking unavailable: no variant of the TCP tracepoint programs loads (%s)", why);
		else if (c->cvariant != CONN_VAR_BTF)
			p_info("connection tracking: %s programs (%s)", conn_variant_name(c->cvariant), why);
	}
	if (!c->cskel || n < 0) {
		if (c->cskel)
			p_warn("connection tracking unavailable (/proc): no local ports");
		goto out;
	}
	netns = netns_of(c->o.pid);
	bpf_map_update_elem(bpf_map__fd(c->cskel->maps.apiserver_pids), &pid, &one, BPF_ANY);
	setup_etcd_ports(c, eports, &neports);
	for (int i = 0; i < n; i++) {
		int fd = bpf_map__fd(c->cskel->maps.listen_ports);
		struct { uint32_t netns; uint16_t port, pad; } k = { netns, socks[i].local_port, 0 };

		if (socks[i].state != 10 /* LISTEN */)
			continue;
		listening++;
		if (!bpf_map_lookup_elem(fd, &k, &one))
			continue;
		one = 1;
		if (!bpf_map_update_elem(fd, &k, &one, BPF_ANY))
			c->nlisten++;
	}
	if (!c->conn_link) {
		ret = conn_attach(c->cskel, c->conn_links, (int)(sizeof(c->conn_links) / sizeof(c->conn_links[0])));
		if (ret < 0) {
			p_warn("cannot attach the TCP tracepoints (%s programs): %s (no local ports)",
			       conn_variant_name(c->cvariant), strerror(-ret));
			goto out;
		}
		c->nconn_links = ret;
		c->conn_link = true;
	}
	/* look again now that the tracepoints are live: a connection made between the first look and the
	 * attach is seen here (one seen twice is harmless) */
	n = procnet_pid_sockets(c->o.pid, socks, 8192);
	for (int i = 0; i < n; i++) {
		struct kp_conn_event ev = { .hdr.type = KP_EV_CONN, .hdr.tgid = (uint32_t)c->o.pid, .hdr.ts_ns = mono_ns() };
		bool listening = false, etcd = false;

		if (socks[i].state != 1 /* ESTABLISHED */)
			continue;
		for (int j = 0; j < n && !listening; j++)
			listening = socks[j].state == 10 && socks[j].local_port == socks[i].local_port;
		for (size_t j = 0; j < neports && !listening; j++)
			etcd |= socks[i].remote_port == eports[j];
		if (!listening && !etcd)
			continue; /* another outgoing connection: neither a client nor etcd */
		ev.family = (uint16_t)socks[i].family;
		ev.local_port = socks[i].local_port;
		ev.peer_port = socks[i].remote_port;
		ev.established = KP_CONN_SEEDED;
		ev.dir = listening ? KP_CONN_DIR_CLIENT : KP_CONN_DIR_ETCD;
		memcpy(ev.local_addr, socks[i].local, 16);
		memcpy(ev.peer_addr, socks[i].remote, 16);
		c->events++;
		c->o.on_event(c->o.ctx, &ev, sizeof(ev));
	}
out:
	free(socks);
	return listening;
}

/* The apiserver's --etcd-prefix (what its etcd keys start with), "" when it is not set or unreadable. */
static void etcd_prefix_of(pid_t pid, char *out, size_t len)
{
	char path[64], buf[16384];
	ssize_t n;
	int fd;

	*out = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0)
		oc_etcd_prefix_from_cmdline(buf, (size_t)n, out, len);
}

static void describe(struct capture *c)
{
	size_t n = snprintf(c->desc, sizeof(c->desc), "pid %d ", c->o.pid);

	c->desc_pid_len = n;
	plan_summary(&c->plan, c->desc + n, sizeof(c->desc) - n);
	if (c->conn_link)
		snprintf(c->desc + strlen(c->desc), sizeof(c->desc) - strlen(c->desc),
			 "; tcp tracepoints (%s) on %d listening port%s, %d etcd port%s", conn_variant_name(c->cvariant),
			 c->nlisten, c->nlisten == 1 ? "" : "s", c->netcd_ports, c->netcd_ports == 1 ? "" : "s");
}

/* The skeleton program each plan program is. */
static struct bpf_program *plan_prog(struct capture *c, enum plan_prog p)
{
	switch (p) {
	case PLAN_PROG_H2X_HEADERS: return c->skel->progs.h2x_process_headers;
	case PLAN_PROG_H2B_HEADERS: return c->skel->progs.h2b_process_headers;
	case PLAN_PROG_H2X_DONE: return c->skel->progs.h2x_handler_done;
	case PLAN_PROG_H2B_DONE: return c->skel->progs.h2b_handler_done;
	case PLAN_PROG_H1_SERVE_CALL: return c->skel->progs.h1_serve_call;
	case PLAN_PROG_H1_READ_REQUEST_RET: return c->skel->progs.h1_read_request_ret;
	case PLAN_PROG_H1_FINISH: return c->skel->progs.h1_finish_request;
	case PLAN_PROG_GRPC_WRITE_HTTP2CLIENT: return c->gskel ? c->gskel->progs.grpc_write_http2client : NULL;
	case PLAN_PROG_GRPC_WRITE_CLIENTSTREAM: return c->gskel ? c->gskel->progs.grpc_write_clientstream : NULL;
	case PLAN_PROG_GRPC_FINISH: return c->gskel ? c->gskel->progs.grpc_finish : NULL;
	case PLAN_PROG_ETCD_WATCH: return c->gskel ? c->gskel->progs.etcd_watch_dispatch : NULL;
	case PLAN_PROG_ETCD_RANGE: return c->gskel ? c->gskel->progs.etcd_range_resp : NULL;
	case PLAN_PROG_AUTHN_OK: return c->skel->progs.authn_ok;
	case PLAN_PROG_AUTHN_OK_ENTRY: return c->skel->progs.authn_ok_entry;
	case PLAN_PROG_AUTHN_FAIL: return c->skel->progs.authn_fail;
	case PLAN_PROG_APF_REJECT: return c->skel->progs.apf_add_reject;
	case PLAN_PROG_APF_TOO_MANY: return c->skel->progs.apf_too_many;
	case PLAN_PROG_APF_DIGEST: return c->skel->progs.apf_digest;
	default: return NULL;
	}
}

/* Only the programs the plan attaches are loaded: the verifier's time goes to those alone (a fallback
 * variant the binary does not need, e.g. the other gRPC write, costs ~0.4 s of verification). */
static void load_only_planned(struct capture *c)
{
	bool used[PLAN__NPROGS] = { false };

	for (uint32_t i = 0; i < c->plan.nsites; i++)
		if (c->plan.sites[i].prog > PLAN_PROG_NONE && c->plan.sites[i].prog < PLAN__NPROGS)
			used[c->plan.sites[i].prog] = true;
	for (int p = PLAN_PROG_NONE + 1; p < PLAN__NPROGS; p++) {
		struct bpf_program *prog = plan_prog(c, (enum plan_prog)p);

		if (prog)
			bpf_program__set_autoload(prog, used[p]);
	}
}

/* Load the BPF objects, one after the other: each parses the kernel's BTF (~10 MB) for its relocations,
 * and libbpf frees it after the load; trimming after each keeps the peak to one of them. */
static int load_objects(struct capture *c, uint64_t *t, double *ms, unsigned long *kb)
{
	int ret = http_bpf__load(c->skel);

	malloc_trim(0);
	stage_done(t, ms, kb, OS_LOAD_HTTP);
	if (ret) {
		p_err("cannot load the BPF programs: %s (run 'kapimon doctor')", strerror(-ret));
		return ret;
	}
	if ((ret = stat_map_open(&c->hits, bpf_map__fd(c->skel->maps.hits))) ||
	    (ret = stat_map_open(&c->counters, bpf_map__fd(c->skel->maps.counters)))) {
		p_err("cannot read the counter maps: %s", strerror(-ret));
		return ret;
	}
	if (c->gskel) {
		/* one hit and one event counter map for all objects: a stats read is two maps, not six */
		ret = bpf_map__reuse_fd(c->gskel->maps.grpc_hits, bpf_map__fd(c->skel->maps.hits));
		if (!ret)
			ret = bpf_map__reuse_fd(c->gskel->maps.grpc_counters, bpf_map__fd(c->skel->maps.counters));
		if (!ret)
			ret = grpc_bpf__load(c->gskel);
		malloc_trim(0);
		if (ret) {
			p_err("cannot load the gRPC BPF programs: %s", strerror(-ret));
			return ret;
		}
	}
	stage_done(t, ms, kb, OS_LOAD_GRPC);
	return 0;
}

int capture_open(struct capture **out, const struct capture_opts *o)
{
	struct capture *c;
	struct go_binary *b = NULL;
	struct plan *pl;
	char exe[64], err[256] = "";
	double ms[OS__N] = { 0 };
	unsigned long kb[OS__N] = { 0 };
	uint64_t t = mono_ns();
	int ret;

	if (!o->on_event)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = *o;
	pl = &c->plan;
	libbpf_set_print(kp_libbpf_print);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", o->pid);
	ret = gobin_open(exe, &b, err, sizeof(err));
	if (ret) {
		p_err("cannot read the binary of pid %d (%s): %s", o->pid, exe, err);
		goto fail;
	}
	stage_done(&t, ms, kb, OS_BINARY);
	if (!gobin_go_version(b))
		p_warn("pid %d: no Go build info found; is this a Go program?", o->pid);
	/* what to attach: a pure function of the binary (src/plan), printed by doctor as well */
	ret = plan_build(b, &(struct plan_opts){ .no_h1 = o->no_h1, .no_h2 = o->no_h2, .no_etcd = o->no_etcd }, pl);
	gobin_close(b);
	b = NULL;
	stage_done(&t, ms, kb, OS_PLAN);
	if (ret) {
		p_err("pid %d: %s", o->pid, pl->error);
		goto fail;
	}
	if (*pl->unresolved)
		p_debug("unresolved (group skipped or fallback used): %s", pl->unresolved);
	if (pl->groups[PG_GRPC].wanted && !pl->groups[PG_GRPC].ok)
		p_warn("etcd calls are not captured: %s", pl->groups[PG_GRPC].missing);
	if (pl->expensive)
		p_warn("%u probe site%s cannot be emulated by the kernel (single-stepped: ~15x the cost of a hit)",
		       pl->expensive, pl->expensive == 1 ? "" : "s");
	/* unverified offsets (the nearest measured row): the group's events are held and checked first */
	for (int g = 0; g < OC__NGROUPS; g++) {
		if (!pl->groups[g].ok || !pl->offsets.unverified[g])
			continue;
		if (!c->oc) {
			char prefix[128];

			etcd_prefix_of(o->pid, prefix, sizeof(prefix));
			if (!(c->oc = oc_new(0, prefix))) {
				ret = -ENOMEM;
				goto fail;
			}
		}
		if (oc_watch(c->oc, (enum oc_group)g)) {
			ret = -ENOMEM;
			goto fail;
		}
		p_warn("%s struct offsets are unverified (%s): its events are held and checked before any record is "
		       "made; the group is disabled if they are implausible", goff_group_name(g), pl->offsets.basis[g]);
	}

	c->skel = http_bpf__open();
	if (!c->skel) {
		ret = -errno;
		p_err("cannot open the BPF object: %s", strerror(-ret));
		goto fail;
	}
	memcpy((void *)c->skel->rodata->h2_off, pl->offsets.h2, sizeof(pl->offsets.h2));
	memcpy((void *)&c->skel->rodata->h1_off, &pl->offsets.h1, sizeof(pl->offsets.h1));
	memcpy((void *)&c->skel->rodata->authn, &pl->authn, sizeof(pl->authn));
	plan_hdr_keys(pl, (struct kp_hdr_key *)c->skel->rodata->hdr_keys);
	plan_k8s_offsets((struct kp_k8s_offsets *)&c->skel->rodata->k8s_off);
	if (pl->groups[PG_GRPC].ok) {
		c->gskel = grpc_bpf__open();
		if (!c->gskel) {
			ret = -errno;
			p_err("cannot open the gRPC BPF object: %s", strerror(-ret));
			goto fail;
		}
		memcpy((void *)&c->gskel->rodata->grpc_off, &pl->offsets.grpc, sizeof(pl->offsets.grpc));
	}
	load_only_planned(c);
	/* the counter arrays: a block of slots per possible CPU (the other objects share these two) */
	if ((ret = stat_map_size(c->skel->maps.hits)) || (ret = stat_map_size(c->skel->maps.counters))) {
		p_err("cannot size the counter maps: %s", strerror(-ret));
		goto fail;
	}
	if (o->ring_bytes >= (1u << 20) && !(o->ring_bytes & (o->ring_bytes - 1))) {
		bpf_map__set_max_entries(c->skel->maps.events, o->ring_bytes);
		if (c->gskel)
			bpf_map__set_max_entries(c->gskel->maps.grpc_events, o->ring_bytes);
	}
	/* Wake the reader when a quarter of a ring is full (it reads on its timer anyway): each read pass
	 * starts with its tables cold in cache (the apiserver ran meanwhile), so fewer, larger passes cost
	 * less per event (docs/capture-testing.md, third pass). Three quarters stay free for a burst while
	 * the reader wakes. */
	c->skel->rodata->wakeup_bytes = bpf_map__max_entries(c->skel->maps.events) / 4;
	if (c->gskel)
		c->gskel->rodata->wakeup_bytes = bpf_map__max_entries(c->gskel->maps.grpc_events) / 4;
	ret = load_objects(c, &t, ms, kb);
	if (ret)
		goto fail;

	snprintf(c->exe, sizeof(c->exe), "%s", exe);
	if (pl->nsites > MAX_LINKS) {
		ret = -E2BIG;
		goto fail;
	}
	for (uint32_t i = 0; i < pl->nsites; i++) {
		const struct plan_site *s = &pl->sites[i];

		/* the offsets group its program reads (enum oc_group = the first four probe groups) */
		c->pts[i] = (struct attach_point){ plan_prog(c, s->prog), s->off, probe_targets[s->target].func, s->starts,
						   probe_groups[s->group].offsets, false };
		if (!c->pts[i].prog) {
			ret = -EINVAL;
			goto fail;
		}
	}
	c->nlinks = (int)pl->nsites;
	c->phase = CAPTURE_NONE;
	ret = capture_set_phase(c, CAPTURE_ALL);
	if (ret)
		goto fail;
	stage_done(&t, ms, kb, OS_ATTACH);

	/* the tracepoint object is loaded (its BTF parse freed) before the ring buffers are mapped: the
	 * peak RSS is the larger of the two, not their sum */
	setup_conn(c);
	malloc_trim(0);
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_event, c, NULL);
	if (!c->rb) {
		ret = -errno;
		p_err("cannot create the ring buffer reader: %s", strerror(-ret));
		goto fail;
	}
	if (c->gskel && ring_buffer__add(c->rb, bpf_map__fd(c->gskel->maps.grpc_events), on_event, c)) {
		ret = -errno;
		p_err("cannot add the gRPC ring buffer: %s", strerror(-ret));
		goto fail;
	}
	if (c->conn_link && ring_buffer__add(c->rb, bpf_map__fd(c->cskel->maps.conn_events), on_event, c)) {
		ret = -errno;
		p_err("cannot add the connection ring buffer: %s", strerror(-ret));
		goto fail;
	}
	stage_done(&t, ms, kb, OS_CONN);
	{
		char line[256];
		size_t n = 0;

		for (int i = 0; i < OS__N && n < sizeof(line); i++)
			n += snprintf(line + n, sizeof(line) - n, "%s%s %.0f ms (peak RSS %lu MB)", i ? ", " : "",
				      open_stage_names[i], ms[i], kb[i] >> 10);
		p_debug("pid %d: capture_open: %s", o->pid, line);
	}
	describe(c);
	if (stat(exe, &c->bin_st))
		memset(&c->bin_st, 0, sizeof(c->bin_st));
	*out = c;
	return 0;
fail:
	gobin_close(b);
	capture_close(c);
	return ret ? ret : -EINVAL;
}

const struct plan *capture_plan(const struct capture *c)
{
	return &c->plan;
}

pid_t capture_pid(const struct capture *c)
{
	return c->o.pid;
}

bool capture_same_binary(const struct capture *c, pid_t pid)
{
	char exe[64];
	struct stat st;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	return c->bin_st.st_ino && !stat(exe, &st) && st.st_dev == c->bin_st.st_dev && st.st_ino == c->bin_st.st_ino &&
	       st.st_size == c->bin_st.st_size && st.st_mtim.tv_sec == c->bin_st.st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == c->bin_st.st_mtim.tv_nsec;
}

int capture_track_pid(struct capture *c, pid_t pid)
{
	if (!c->o.any_process)
		return -EINVAL;
	if (!capture_same_binary(c, pid))
		return -ESTALE;
	/* the probes are on the binary already; the process's listening ports and connections are read at
	 * the next capture_conn_refresh (/proc/PID/net/tcp: ~100 ms here) */
	c->o.pid = pid;
	c->conn_stale = c->cskel != NULL;
	describe(c);
	return 0;
}

const char *capture_describe_probes(const struct capture *c)
{
	return c->desc + c->desc_pid_len;
}

void capture_conn_refresh(struct capture *c)
{
	if (c->cskel && (!c->nlisten || c->conn_stale)) {
		/* a process that does not listen yet (starting) is looked at again */
		if (setup_conn(c) > 0)
			c->conn_stale = false;
		describe(c);
	}
}

void capture_set_event_cb(struct capture *c, void (*on_event)(void *ctx, const void *data, size_t size), void *ctx)
{
	c->o.on_event = on_event;
	c->o.ctx = ctx;
}

static int attach_one(struct capture *c, int i)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = false);
	struct bpf_link *l;

	if (c->links[i])
		return 0;
	/* any_process: on the binary file, for every process that runs it (-1), a restart included */
	l = bpf_program__attach_uprobe_opts(c->pts[i].prog, c->o.any_process ? -1 : c->o.pid, c->exe, c->pts[i].off,
					    &uo);
	if (!l) {
		int err = -errno;

		p_err("cannot attach a uprobe to %s at file offset 0x%llx: %s", c->pts[i].func,
		      (unsigned long long)c->pts[i].off, strerror(-err));
		return err;
	}
	c->links[i] = l;
	return 0;
}

struct reap_job {
	struct capture *c;
	struct bpf_link *l;
};

static void *reaper_main(void *arg)
{
	struct reap_job *j = arg;
	struct capture *c = j->c;

	bpf_link__destroy(j->l);
	free(j);
	pthread_mutex_lock(&c->rmu);
	c->detach_done = mono_ns();
	c->ndead--;
	pthread_cond_broadcast(&c->rcv);
	pthread_mutex_unlock(&c->rmu);
	return NULL;
}

/* Destroy a link without blocking the caller: one short-lived thread per link, so the RCU grace
 * periods that uprobe unregistration waits for overlap instead of adding up. */
static void reap(struct capture *c, struct bpf_link *l)
{
	struct reap_job *j = malloc(sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;

	if (!c->reaper_started) {
		pthread_mutex_init(&c->rmu, NULL);
		pthread_cond_init(&c->rcv, NULL);
		c->reaper_started = true;
	}
	if (!j) {
		bpf_link__destroy(l);
		return;
	}
	j->c = c;
	j->l = l;
	pthread_mutex_lock(&c->rmu);
	c->ndead++;
	pthread_mutex_unlock(&c->rmu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, reaper_main, j)) {
		free(j);
		bpf_link__destroy(l);
		pthread_mutex_lock(&c->rmu);
		c->ndead--;
		pthread_mutex_unlock(&c->rmu);
	}
	pthread_attr_destroy(&attr);
}

static void gate_write(volatile __u64 *open, volatile __u64 *close, uint64_t o, uint64_t cl)
{
	/* shut, move the opening, then the closing: the BPF side (two loads, no lock) never sees a
	 * window that was not asked for */
	__atomic_store_n(close, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(open, o, __ATOMIC_SEQ_CST);
	__atomic_store_n(close, cl, __ATOMIC_SEQ_CST);
}

void capture_set_gate(struct capture *c, uint64_t open_ns, uint64_t close_ns)
{
	if (c->skel->data)
		gate_write(&c->skel->data->gate_open_ns, &c->skel->data->gate_close_ns, open_ns, close_ns);
	if (c->gskel && c->gskel->data)
		gate_write(&c->gskel->data->gate_open_ns, &c->gskel->data->gate_close_ns, open_ns, close_ns);
}

int capture_enable_runtime_stats(struct capture *c)
{
	if (c->stats_fd > 0)
		return 0;
	c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (c->stats_fd < 0) {
		int err = -errno;

		c->stats_fd = 0;
		return err;
	}
	return 0;
}

uint64_t capture_uprobe_runtime_ns(struct capture *c)
{
	struct bpf_object *objs[2] = { c->skel->obj, c->gskel ? c->gskel->obj : NULL };
	uint64_t t = 0;

	for (int i = 0; i < 2; i++) {
		struct bpf_program *p;

		if (!objs[i])
			continue;
		bpf_object__for_each_program(p, objs[i]) {
			struct bpf_prog_info info;
			__u32 len = sizeof(info);

			if (bpf_program__fd(p) < 0 || p == c->skel->progs.calibrate)
				continue;
			memset(&info, 0, sizeof(info));
			if (!bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
				t += info.run_time_ns;
		}
	}
	return t;
}

uint64_t capture_detach_done_ns(struct capture *c)
{
	uint64_t t = 0;

	if (!c->reaper_started)
		return 0;
	pthread_mutex_lock(&c->rmu);
	if (!c->ndead)
		t = c->detach_done;
	pthread_mutex_unlock(&c->rmu);
	return t;
}

int capture_set_phase(struct capture *c, enum capture_phase ph)
{
	uint64_t t0 = mono_ns();

	/* attach ends before starts so no request starts without its end probe; the budget gate
	 * (capture_set_gate) decides which starts are written */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < c->nlinks; i++) {
			bool want = !c->pts[i].disabled && (ph == CAPTURE_ALL || (ph == CAPTURE_ENDS && !c->pts[i].is_start));

			if (c->pts[i].is_start != (pass == 1))
				continue;
			if (want) {
				int err = attach_one(c, i);

				if (err)
					return err;
			} else if (c->links[i]) {
				reap(c, c->links[i]);
				c->links[i] = NULL;
			}
		}
	}
	c->phase = ph;
	p_debug("capture: phase %d set in %.1f ms", ph, (mono_ns() - t0) / 1e6);
	return 0;
}

enum capture_phase capture_get_phase(const struct capture *c)
{
	return c->phase;
}

/* The calibration target: a function of our own whose probe site is a conditional jump, the kind
 * of instruction kapimon probes in Go code (emulated by the kernel). cmp $0,%edi is 3 bytes, so the
 * jl is at offset 3. */
void kapimon_calib_target(int x);
__asm__(".text\n"
	".globl kapimon_calib_target\n"
	".type kapimon_calib_target, @function\n"
	"kapimon_calib_target:\n"
	"	cmpl $0, %edi\n"
	"	jl 1f\n"
	"1:	ret\n"
	".size kapimon_calib_target, .-kapimon_calib_target\n");
#define CALIB_PROBE_OFFSET 3



static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t calib_hits(struct capture *c)
{
	uint64_t h[KP_PROBE__COUNT] = { 0 };

	stat_map_sum(&c->hits, KP_PROBE__COUNT, h);
	return h[KP_PROBE_CALIBRATE];
}

/* Time n calls on this thread's CPU clock: time the thread spent preempted (another process on a
 * shared core, the apiserver starting up) is not counted, the trap and the BPF program are. */
static double calib_round(int n)
{
	uint64_t t0 = thread_cpu_ns();

	for (int i = 0; i < n; i++)
		kapimon_calib_target(i);
	return (double)(thread_cpu_ns() - t0);
}

/*
 * One hit = trap + emulated instruction + an (empty) BPF program, on kapimon's own thread. A
 * warm-up first (the first hits of a process allocate the uprobe XOL page and per-thread state and
 * fault pages in), then CALIB_ROUNDS rounds; the median round is the cost, min/max its spread.
 */
#define CALIB_ROUNDS 15
#define CALIB_N 2000

int capture_calibrate(struct capture *c, double *hit_ns)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = "kapimon_calib_target", .retprobe = false);
	double per[CALIB_ROUNDS], wall[CALIB_ROUNDS], bare, mn, med, mx, wmn, wmed, wmx;
	struct bpf_link *l;
	char self[4096];
	ssize_t len;
	uint64_t t0, h0;
	int warm = 0;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return -errno;
	self[len] = 0;
	bare = calib_round(CALIB_N) / CALIB_N; /* the call itself, a few ns */
	l = bpf_program__attach_uprobe_opts(c->skel->progs.calibrate, getpid(), self, CALIB_PROBE_OFFSET, &uo);
	if (!l) {
		int err = -errno;

		p_err("cannot attach the calibration uprobe: %s", strerror(-err));
		return err;
	}
	t0 = thread_cpu_ns();
	while (thread_cpu_ns() - t0 < 20000000ULL || warm < 1000) {
		kapimon_calib_target(warm);
		warm++;
	}
	for (int r = 0; r < CALIB_ROUNDS; r++) {
		uint64_t h, w0 = mono_ns();
		double ns;

		h0 = calib_hits(c);
		ns = calib_round(CALIB_N);
		wall[r] = (double)(mono_ns() - w0) / CALIB_N;
		h = calib_hits(c) - h0;
		/* divide by the hits the probe really counted (a missed hit must not look cheap) */
		per[r] = ns / (double)(h ? h : CALIB_N) - bare;
	}
	bpf_link__destroy(l);
	budget_calib_summary(per, CALIB_ROUNDS, &mn, &med, &mx);
	budget_calib_summary(wall, CALIB_ROUNDS, &wmn, &wmed, &wmx);
	p_debug("calibration: one uprobe hit %.0f ns (median of %d rounds of %d on the thread's CPU clock; min %.0f, "
		"max %.0f; wall clock min %.0f, median %.0f, max %.0f; %d warm-up hits)",
		med, CALIB_ROUNDS, CALIB_N, mn, mx, wmn, wmed, wmx, warm);
	*hit_ns = med > 1 ? med : 1;
	return 0;
}

int capture_poll(struct capture *c, int timeout_ms)
{
	/* The BPF side wakes us only once 256 KiB are buffered; whatever arrived meanwhile is
	 * consumed when the wait times out. */
	int n = ring_buffer__poll(c->rb, timeout_ms), m;

	if (n < 0)
		return n;
	m = ring_buffer__consume(c->rb);
	return m < 0 ? m : n + m;
}

int capture_epoll_fd(const struct capture *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int capture_drain(struct capture *c)
{
	return ring_buffer__consume(c->rb);
}

void capture_read_stats(struct capture *c, struct capture_stats *st)
{
	/* the gRPC and connection objects count into these maps too (load_objects, setup_conn) */
	memset(st, 0, sizeof(*st));
	stat_map_sum(&c->hits, KP_PROBE__COUNT, st->hits);
	stat_map_sum(&c->counters, KP_CNT__COUNT, st->counters);
	st->events = c->events;
}

int capture_nlinks(const struct capture *c)
{
	return c->nlinks;
}

const char *capture_describe(const struct capture *c)
{
	return c->desc;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	if (c->oc) {
		for (int g = 0; g < OC__NGROUPS; g++) {
			struct oc_group_info in;

			oc_info(c->oc, (enum oc_group)g, &in);
			if (in.state == OC_PENDING && in.held)
				p_warn("%s: %u held event%s discarded: its unverified offsets never saw enough events to be "
				       "verified (%u of %u informative)", goff_group_name(g), in.held, in.held == 1 ? "" : "s",
				       in.good + in.bad, OC_MIN_EVENTS);
		}
		oc_free(c->oc);
	}
	if (c->reaper_started) { /* wait for links still being destroyed */
		pthread_mutex_lock(&c->rmu);
		while (c->ndead > 0)
			pthread_cond_wait(&c->rcv, &c->rmu);
		pthread_mutex_unlock(&c->rmu);
	}
	for (int i = 0; i < c->nlinks; i++)
		if (c->links[i])
			bpf_link__destroy(c->links[i]);
	for (int i = 0; i < c->nconn_links; i++)
		bpf_link__destroy(c->conn_links[i]);
	if (c->stats_fd > 0)
		close(c->stats_fd);
	conn_bpf__destroy(c->cskel);
	grpc_bpf__destroy(c->gskel);
	http_bpf__destroy(c->skel);
	stat_map_close(&c->hits);
	stat_map_close(&c->counters);
	free(c);
}
