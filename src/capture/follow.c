// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "capture/follow.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "util/log.h"

#define SCAN_NS 250000000ULL /* /proc scan period: a new apiserver is attached within 2 s */
#define MAX_FAILED 64
#define IDLE_MAX 4
#define IDLE_NS 60000000000ULL   /* a gone apiserver's capture waits this long for its restart */
#define LISTEN_NS 60000000000ULL /* after an attach, look for listening ports this long (if none yet) */

struct follow {
	struct follow_opts o;
	const char *exe_name;
	int epfd;
	struct capture *caps[FOLLOW_MAX];
	pid_t pids[FOLLOW_MAX];
	uint64_t since[FOLLOW_MAX]; /* attach time (mono ns) */
	size_t n;
	/* captures of apiservers that exited, kept loaded for a restart of the same binary (retarget: only
	 * the uprobe links are made anew, ~20 ms instead of ~1.5 s to load and verify the programs) */
	struct capture *idle[IDLE_MAX];
	uint64_t idle_since[IDLE_MAX];
	size_t nidle;
	uint64_t now;               /* mono ns of the current follow_check */
	pid_t failed[MAX_FAILED]; /* attach failed: not retried while the process lives */
	size_t nfailed;
	bool announce;
	char note[128];
	bool target_gone;
	uint64_t last_scan;
	uint64_t attaches, exits;
	struct capture_stats gone_stats; /* counters of closed captures */
	/* captures being closed on background threads */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int closing;
	char desc[2048];
};

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A process that is gone or a zombie (its probes are gone with its mappings). */
static bool proc_gone(pid_t pid)
{
	char path[64], *st, *p;
	bool gone;

	if (kill(pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	st = doctor_read_file(path, 4096);
	if (!st)
		return true;
	p = strrchr(st, ')'); /* comm may hold spaces and parentheses */
	gone = !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
	free(st);
	return gone;
}

static void announce_one(struct follow *f, size_t i)
{
	fprintf(stderr, "kapimon: attached: %s%s\n", capture_describe(f->caps[i]), f->note);
}

static void close_in_background(struct follow *f, struct capture *c);

/* An idle capture of the same binary, moved to pid; NULL when there is none (or it failed). */
static struct capture *reuse_idle(struct follow *f, pid_t pid)
{
	for (size_t i = 0; i < f->nidle; i++) {
		struct capture *c = f->idle[i];

		if (!capture_same_binary(c, pid))
			continue;
		f->idle[i] = f->idle[--f->nidle];
		f->idle_since[i] = f->idle_since[f->nidle];
		if (capture_retarget(c, pid) == 0)
			return c;
		close_in_background(f, c);
		return NULL;
	}
	return NULL;
}

static int attach(struct follow *f, pid_t pid)
{
	struct capture_opts co = f->o.co;
	struct capture *c = NULL;
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t t0;
	bool reused;
	int err;

	if (f->n >= FOLLOW_MAX) {
		p_warn("pid %d: already following %d apiservers: not attached", (int)pid, FOLLOW_MAX);
		return -ENOSPC;
	}
	co.pid = pid;
	t0 = mono_now();
	c = reuse_idle(f, pid);
	reused = c != NULL;
	if (!c) {
		err = capture_open(&c, &co);
		if (err)
			return err;
	}
	p_debug("pid %d: probes attached in %.1f ms (%s)", (int)pid, (mono_now() - t0) / 1e6,
		reused ? "programs of an exited process of the same binary reused" : "binary planned, programs loaded");
	ev.data.u64 = (uint64_t)pid;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, capture_epoll_fd(c), &ev)) {
		err = -errno;
		p_err("epoll: %s", strerror(-err));
		capture_close(c);
		return err;
	}
	f->caps[f->n] = c;
	f->pids[f->n] = pid;
	f->since[f->n] = f->now;
	f->n++;
	f->attaches++;
	if (f->announce)
		announce_one(f, f->n - 1);
	return 0;
}

struct closer_job {
	struct follow *f;
	struct capture *c;
};

static void *closer_main(void *arg)
{
	struct closer_job *j = arg;
	struct follow *f = j->f;

	capture_close(j->c);
	free(j);
	pthread_mutex_lock(&f->mu);
	f->closing--;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void add_stats(struct capture_stats *dst, struct capture *c)
{
	struct capture_stats cs;

	capture_read_stats(c, &cs);
	for (int k = 0; k < KP_PROBE__COUNT; k++)
		dst->hits[k] += cs.hits[k];
	for (int k = 0; k < KP_CNT__COUNT; k++)
		dst->counters[k] += cs.counters[k];
	dst->events += cs.events;
}

/* The process of caps[i] exited: deliver what it left in the rings, then keep its capture for a
 * restart (follow mode) or close it in the background. */
static void retire(struct follow *f, size_t i)
{
	struct capture *c = f->caps[i];
	pid_t pid = f->pids[i];

	capture_drain(c);
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, capture_epoll_fd(c), NULL);
	f->caps[i] = f->caps[f->n - 1];
	f->pids[i] = f->pids[f->n - 1];
	f->since[i] = f->since[f->n - 1];
	f->n--;
	f->exits++;
	if (f->o.on_gone)
		f->o.on_gone(f->o.ctx, pid);
	if (f->announce)
		fprintf(stderr, "kapimon: pid %d exited: detached (%zu apiserver%s attached)\n", (int)pid, f->n,
			f->n == 1 ? "" : "s");
	if (f->o.pid <= 0 && f->nidle < IDLE_MAX) {
		f->idle[f->nidle] = c;
		f->idle_since[f->nidle++] = f->now;
		return;
	}
	close_in_background(f, c);
}

static void close_in_background(struct follow *f, struct capture *c)
{
	struct closer_job *j;
	pthread_attr_t attr;
	pthread_t t;

	add_stats(&f->gone_stats, c);
	j = malloc(sizeof(*j));
	if (!j) {
		capture_close(c);
		return;
	}
	*j = (struct closer_job){ f, c };
	pthread_mutex_lock(&f->mu);
	f->closing++;
	pthread_mutex_unlock(&f->mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, closer_main, j)) {
		pthread_mutex_lock(&f->mu);
		f->closing--;
		pthread_mutex_unlock(&f->mu);
		free(j);
		capture_close(c);
	}
	pthread_attr_destroy(&attr);
}

static bool known(const struct follow *f, pid_t pid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->pids[i] == pid)
			return true;
	for (size_t i = 0; i < f->nfailed; i++)
		if (f->failed[i] == pid)
			return true;
	return false;
}

/* Attach to every matching process not attached yet; forget failed pids that are gone. */
static int scan(struct follow *f)
{
	pid_t found[FOLLOW_MAX * 4];
	int n = doctor_find_procs("/proc", f->exe_name, found, FOLLOW_MAX * 4), changed = 0;

	for (size_t i = 0; i < f->nfailed;) {
		if (proc_gone(f->failed[i]))
			f->failed[i] = f->failed[--f->nfailed];
		else
			i++;
	}
	for (int i = 0; i < n && i < FOLLOW_MAX * 4; i++) {
		if (known(f, found[i]) || proc_gone(found[i]))
			continue;
		if (attach(f, found[i]) == 0) {
			changed++;
		} else if (proc_gone(found[i])) {
			p_info("pid %d (%s) exited while it was being attached", (int)found[i], f->exe_name);
		} else {
			p_warn("pid %d (%s): not attached; not retried while it runs", (int)found[i], f->exe_name);
			if (f->nfailed < MAX_FAILED)
				f->failed[f->nfailed++] = found[i];
		}
	}
	return changed;
}

int follow_open(struct follow **out, const struct follow_opts *o)
{
	struct follow *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->o = *o;
	f->exe_name = o->exe_name ? o->exe_name : "kube-apiserver";
	f->now = mono_now();
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epfd < 0) {
		err = -errno;
		free(f);
		return err;
	}
	if (o->pid > 0) {
		err = attach(f, o->pid);
		if (err) {
			follow_close(f);
			return err;
		}
	} else {
		scan(f);
		if (!f->n)
			p_info("no %s running yet: waiting for one to start", f->exe_name);
	}
	*out = f;
	return 0;
}

void follow_announce(struct follow *f, const char *note)
{
	snprintf(f->note, sizeof(f->note), "%s", note ? note : "");
	f->announce = true;
	for (size_t i = 0; i < f->n; i++)
		announce_one(f, i);
}

int follow_poll(struct follow *f, int timeout_ms)
{
	struct epoll_event evs[FOLLOW_MAX];
	int n = epoll_wait(f->epfd, evs, FOLLOW_MAX, timeout_ms);

	if (n < 0)
		return -errno;
	/* the BPF side wakes us only once enough is buffered: consume every ring, not only the woken */
	return follow_drain(f);
}

int follow_drain(struct follow *f)
{
	int total = 0;

	for (size_t i = 0; i < f->n; i++) {
		int m = capture_drain(f->caps[i]);

		if (m < 0)
			return m;
		total += m;
	}
	return total;
}

int follow_check(struct follow *f, uint64_t now_mono)
{
	int changed = 0;

	if (now_mono - f->last_scan < SCAN_NS && f->last_scan)
		return 0;
	f->last_scan = now_mono;
	f->now = now_mono;
	/* captures kept for a restart that did not come */
	for (size_t i = 0; i < f->nidle;) {
		if (now_mono - f->idle_since[i] > IDLE_NS) {
			close_in_background(f, f->idle[i]);
			f->idle[i] = f->idle[--f->nidle];
			f->idle_since[i] = f->idle_since[f->nidle];
		} else {
			i++;
		}
	}
	/* an apiserver attached before it listened: its ports, once it does */
	for (size_t i = 0; i < f->n; i++)
		if (now_mono - f->since[i] < LISTEN_NS)
			capture_conn_refresh(f->caps[i]);
	for (size_t i = 0; i < f->n;) {
		if (proc_gone(f->pids[i])) {
			if (f->o.pid > 0)
				f->target_gone = true;
			retire(f, i);
			changed++;
		} else {
			i++;
		}
	}
	if (f->o.pid <= 0)
		changed += scan(f);
	return changed;
}

bool follow_target_gone(const struct follow *f)
{
	return f->target_gone;
}

bool follow_following(const struct follow *f)
{
	return f->o.pid <= 0;
}

size_t follow_count(const struct follow *f)
{
	return f->n;
}

struct capture *follow_capture(const struct follow *f, size_t i)
{
	return i < f->n ? f->caps[i] : NULL;
}

pid_t follow_pid(const struct follow *f, size_t i)
{
	return i < f->n ? f->pids[i] : 0;
}

void follow_read_stats(struct follow *f, struct capture_stats *st)
{
	*st = f->gone_stats;
	for (size_t i = 0; i < f->n; i++)
		add_stats(st, f->caps[i]);
	for (size_t i = 0; i < f->nidle; i++)
		add_stats(st, f->idle[i]);
}

const char *follow_describe(struct follow *f)
{
	size_t n = 0;

	if (f->n == 1)
		return capture_describe(f->caps[0]);
	if (!f->n) {
		snprintf(f->desc, sizeof(f->desc), "no %s attached (waiting)", f->exe_name);
		return f->desc;
	}
	n = snprintf(f->desc, sizeof(f->desc), "%zu apiservers: ", f->n);
	for (size_t i = 0; i < f->n && n < sizeof(f->desc); i++)
		n += snprintf(f->desc + n, sizeof(f->desc) - n, "%s%s", i ? "; " : "", capture_describe(f->caps[i]));
	return f->desc;
}

void follow_fill_stats(const struct follow *f, struct record_stats *s)
{
	s->has_apiservers = true;
	s->follow = f->o.pid <= 0;
	s->nattached = (uint32_t)(f->n < RECORD_STATS_MAX_SOURCES ? f->n : RECORD_STATS_MAX_SOURCES);
	for (uint32_t i = 0; i < s->nattached; i++)
		s->attached_pids[i] = (uint32_t)f->pids[i];
	s->attaches = f->attaches;
	s->exits = f->exits;
}

uint64_t follow_attaches(const struct follow *f)
{
	return f->attaches;
}

uint64_t follow_exits(const struct follow *f)
{
	return f->exits;
}

void follow_close(struct follow *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		capture_close(f->caps[i]);
	for (size_t i = 0; i < f->nidle; i++)
		capture_close(f->idle[i]);
	pthread_mutex_lock(&f->mu);
	while (f->closing > 0)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	if (f->epfd >= 0)
		close(f->epfd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
