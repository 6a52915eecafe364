// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "capture/follow.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "util/log.h"

#define SCAN_NS 250000000ULL          /* /proc scan period */
#define MAX_FAILED 64
#define IDLE_MAX 4
#define IDLE_NS 600000000000ULL       /* a binary no process runs keeps its probes this long (10 min) */
#define LISTEN_NS 60000000000ULL      /* after an attach, look for listening ports this long (if none yet) */
#define LISTEN_EVERY_NS 2000000000ULL /* ... every 2 s (reading /proc/PID/net/tcp takes ~100 ms) */
#define SEED_MAX 4096                 /* connections found in /proc while attaching on the worker */

/*
 * Follow mode attaches per binary: a capture's uprobes are on the file, for every process that runs it
 * (capture_opts.any_process). A second process of the same binary, or a restart, is probed from its
 * first instruction; finding it in /proc only makes it tracked (its ports, "attached", the stats). A
 * binary that no process runs any more keeps its capture for IDLE_NS (a crash loop re-attaches nothing).
 *
 * Loading a new binary's programs takes ~0.5-3 s here (verifier, uprobe registration waits for RCU
 * grace periods): it runs on a worker thread, one at a time, so the polling thread keeps delivering
 * events and refreshing; the worker wakes the poll (eventfd) when it is done.
 */
struct attach_job {
	pid_t pid;
	struct capture *c;           /* the result (NULL on failure) */
	struct capture_opts co;
	struct kp_conn_event *seeds; /* connections found in /proc, replayed on adoption */
	size_t nseeds;
	uint64_t t0;
	bool done;                   /* under follow.mu */
};

struct follow {
	struct follow_opts o;
	const char *exe_name;
	int epfd;
	int wake_fd;                 /* eventfd in the epoll set (data 0): the worker is done */
	/* the processes followed; several may share a capture (same binary) */
	struct capture *caps[FOLLOW_MAX];
	pid_t pids[FOLLOW_MAX];
	int pidfds[FOLLOW_MAX];      /* pidfd_open(pids[i]), -1 when unavailable (then /proc is read) */
	bool pidfd_polled[FOLLOW_MAX]; /* pidfds[i] is in the epoll set: its exit wakes follow_poll */
	bool pid_event;              /* follow_poll saw a pidfd readable: follow_check looks at them */
	uint64_t since[FOLLOW_MAX];  /* attach time (mono ns) */
	size_t n;
	struct capture *idle[IDLE_MAX]; /* captures of binaries no followed process runs */
	uint64_t idle_since[IDLE_MAX];
	size_t nidle;
	pid_t failed[MAX_FAILED];    /* attach failed: not retried while the process lives */
	size_t nfailed;
	bool announce;
	char note[128];
	bool target_gone;
	uint64_t now, last_scan, last_listen;
	uint64_t attaches, exits;
	struct capture_stats gone_stats; /* counters of closed captures */
	/* captures being closed on background threads; the attach worker */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int closing;
	bool busy;
	pthread_t worker;
	struct attach_job job;
	char desc[2048];
};

#define EV_PID_EXIT 1 /* epoll data of a followed process's pidfd (0: the worker's eventfd; else a capture) */

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

/* A pidfd (Linux 5.3+) polls readable once its process has exited (zombie included): checking it is one
 * syscall, where proc_gone opens and formats /proc/PID/stat every 250 ms. */
static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

static bool followed_gone(const struct follow *f, size_t i)
{
	struct pollfd p = { .fd = f->pidfds[i], .events = POLLIN };

	if (f->pidfds[i] < 0)
		return proc_gone(f->pids[i]);
	if (f->pidfd_polled[i] && !f->pid_event) /* no exit seen by the epoll: no syscall */
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL));
}

static bool in_use(const struct follow *f, const struct capture *c)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->caps[i] == c)
			return true;
	return false;
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

/* Detaching waits for RCU grace periods (~100 ms per link here): on a thread of its own. */
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

static void announce_one(struct follow *f, size_t i)
{
	fprintf(stderr, "kapimon: attached: pid %d %s%s\n", (int)f->pids[i], capture_describe_probes(f->caps[i]), f->note);
}

/* Follow pid with capture c (new, shared or idle); t0: when attaching began. */
static int adopt(struct follow *f, struct capture *c, pid_t pid, uint64_t t0, const char *how)
{
	if (f->n >= FOLLOW_MAX)
		return -ENOSPC;
	if (!in_use(f, c)) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)c };

		if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, capture_epoll_fd(c), &ev)) {
			int err = -errno;

			p_err("epoll: %s", strerror(-err));
			return err;
		}
	}
	f->caps[f->n] = c;
	f->pids[f->n] = pid;
	f->pidfds[f->n] = pidfd_of(pid);
	if (f->pidfds[f->n] >= 0) {
		/* its exit wakes the poll (follow_check then retires it): no periodic look is needed for it */
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_PID_EXIT };

		f->pidfd_polled[f->n] = !epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->pidfds[f->n], &ev);
	}
	f->since[f->n] = f->now;
	f->n++;
	f->attaches++;
	p_debug("pid %d: attached in %.1f ms (%s)", (int)pid, (mono_now() - t0) / 1e6, how);
	if (f->announce)
		announce_one(f, f->n - 1);
	return 0;
}

/* A capture of pid's binary, active or idle (follow mode: its probes cover pid already). */
static int share(struct follow *f, pid_t pid)
{
	uint64_t t0 = mono_now();

	if (f->o.pid > 0)
		return -ENOENT;
	for (size_t i = 0; i < f->n; i++)
		if (capture_track_pid(f->caps[i], pid) == 0)
			return adopt(f, f->caps[i], pid, t0, "another process of the same binary: probed already");
	for (size_t i = 0; i < f->nidle; i++) {
		struct capture *c = f->idle[i];

		if (capture_track_pid(c, pid))
			continue;
		f->idle[i] = f->idle[--f->nidle];
		f->idle_since[i] = f->idle_since[f->nidle];
		if (adopt(f, c, pid, t0, "a restart of a binary probed already") == 0)
			return 0;
		close_in_background(f, c);
		return -EIO;
	}
	return -ENOENT;
}

/* Attach on this thread (at start, and --pid). */
static int attach_here(struct follow *f, pid_t pid)
{
	struct capture_opts co = f->o.co;
	struct capture *c = NULL;
	uint64_t t0 = mono_now();
	int err;

	if (f->n >= FOLLOW_MAX) {
		p_warn("pid %d: already following %d apiservers: not attached", (int)pid, FOLLOW_MAX);
		return -ENOSPC;
	}
	if (share(f, pid) == 0)
		return 0;
	co.pid = pid;
	co.any_process = f->o.pid <= 0;
	err = capture_open(&c, &co);
	if (err)
		return err;
	err = adopt(f, c, pid, t0, "binary planned, programs loaded");
	if (err)
		capture_close(c);
	return err;
}

/* ---- the attach worker ---- */

static void seed_cb(void *ctx, const void *data, size_t size)
{
	struct attach_job *j = ctx;

	if (size == sizeof(struct kp_conn_event) && j->nseeds < SEED_MAX)
		memcpy(&j->seeds[j->nseeds++], data, size);
}

static void *worker_main(void *arg)
{
	struct follow *f = arg;
	struct attach_job *j = &f->job;
	struct capture *c = NULL;

	j->co.on_event = seed_cb;
	j->co.ctx = j;
	if (capture_open(&c, &j->co))
		c = NULL;
	pthread_mutex_lock(&f->mu);
	j->c = c;
	j->done = true;
	pthread_mutex_unlock(&f->mu);
	if (f->wake_fd >= 0 && write(f->wake_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0)
		p_debug("attach worker: cannot wake the poll: %s", strerror(errno));
	return NULL;
}

static void start_job(struct follow *f, pid_t pid)
{
	struct attach_job *j = &f->job;
	struct kp_conn_event *seeds = j->seeds;

	if (!seeds && !(seeds = calloc(SEED_MAX, sizeof(*seeds))))
		return;
	*j = (struct attach_job){ .pid = pid, .co = f->o.co, .seeds = seeds, .t0 = mono_now() };
	j->co.pid = pid;
	j->co.any_process = true;
	f->busy = pthread_create(&f->worker, NULL, worker_main, f) == 0;
}

/* The worker's attach is done: adopt its capture (or note the failure). Returns 1 when attached. */
static int finish_job(struct follow *f)
{
	struct attach_job *j = &f->job;
	bool done;

	if (!f->busy)
		return 0;
	pthread_mutex_lock(&f->mu);
	done = j->done;
	pthread_mutex_unlock(&f->mu);
	if (!done)
		return 0;
	pthread_join(f->worker, NULL);
	f->busy = false;
	if (!j->c) {
		if (proc_gone(j->pid)) {
			p_info("pid %d (%s) exited while it was being attached", (int)j->pid, f->exe_name);
		} else {
			p_warn("pid %d (%s): not attached; not retried while it runs", (int)j->pid, f->exe_name);
			if (f->nfailed < MAX_FAILED)
				f->failed[f->nfailed++] = j->pid;
		}
		return 0;
	}
	/* from now on events go where the others' go; connections found while attaching first */
	capture_set_event_cb(j->c, f->o.co.on_event, f->o.co.ctx);
	for (size_t i = 0; i < j->nseeds; i++)
		f->o.co.on_event(f->o.co.ctx, &j->seeds[i], sizeof(j->seeds[i]));
	if (adopt(f, j->c, j->pid, j->t0, "binary planned, programs loaded")) {
		close_in_background(f, j->c);
		return 0;
	}
	return 1;
}

/* ---- discovery ---- */

/* The process of entry i exited: deliver what it left in the rings, forget it; its capture stays
 * for the other processes of its binary, or idle for a restart (follow mode), or is closed. */
static void retire(struct follow *f, size_t i)
{
	struct capture *c = f->caps[i];
	pid_t pid = f->pids[i];

	capture_drain(c);
	if (f->pidfds[i] >= 0)
		close(f->pidfds[i]);
	f->caps[i] = f->caps[f->n - 1];
	f->pids[i] = f->pids[f->n - 1];
	f->pidfds[i] = f->pidfds[f->n - 1];
	f->pidfd_polled[i] = f->pidfd_polled[f->n - 1];
	f->since[i] = f->since[f->n - 1];
	f->n--;
	f->exits++;
	if (f->o.on_gone)
		f->o.on_gone(f->o.ctx, pid);
	if (f->announce)
		fprintf(stderr, "kapimon: pid %d exited: detached (%zu apiserver%s attached)\n", (int)pid, f->n,
			f->n == 1 ? "" : "s");
	if (in_use(f, c))
		return;
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, capture_epoll_fd(c), NULL);
	if (f->o.pid <= 0 && f->nidle < IDLE_MAX) {
		f->idle[f->nidle] = c;
		f->idle_since[f->nidle++] = f->now;
		return;
	}
	close_in_background(f, c);
}

static bool known(const struct follow *f, pid_t pid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->pids[i] == pid)
			return true;
	for (size_t i = 0; i < f->nfailed; i++)
		if (f->failed[i] == pid)
			return true;
	return f->busy && f->job.pid == pid;
}

/* Attach to every matching process not followed yet: here (at start), or by sharing a capture of its
 * binary, or on the worker (one at a time). Failed pids that are gone are forgotten. */
static int scan(struct follow *f, bool here)
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
		int err;

		if (known(f, found[i]) || proc_gone(found[i]))
			continue;
		if (f->n >= FOLLOW_MAX) {
			p_warn("pid %d: already following %d apiservers: not attached", (int)found[i], FOLLOW_MAX);
			if (f->nfailed < MAX_FAILED)
				f->failed[f->nfailed++] = found[i];
			continue;
		}
		if (!here) {
			if (share(f, found[i]) == 0)
				changed++;
			else if (!f->busy)
				start_job(f, found[i]);
			continue;
		}
		err = attach_here(f, found[i]);
		if (!err) {
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
	f->wake_fd = -1;
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epfd < 0) {
		err = -errno;
		follow_close(f);
		return err;
	}
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->wake_fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };

		epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->wake_fd, &ev);
	}
	if (o->pid > 0) {
		err = attach_here(f, o->pid);
		if (err) {
			follow_close(f);
			return err;
		}
	} else {
		scan(f, true);
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
	struct epoll_event evs[FOLLOW_MAX + 1];
	int n = epoll_wait(f->epfd, evs, FOLLOW_MAX + 1, timeout_ms);

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		uint64_t v;

		if (!evs[i].data.u64 && read(f->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			p_debug("attach worker wake-up: %s", strerror(errno));
		if (evs[i].data.u64 == EV_PID_EXIT) {
			f->last_scan = 0; /* the next follow_check looks now (a pidfd stays readable until closed) */
			f->pid_event = true;
		}
	}
	/* the BPF side wakes us only once enough is buffered: consume every ring, not only the woken */
	return follow_drain(f);
}

int follow_drain(struct follow *f)
{
	int total = 0;

	for (size_t i = 0; i < f->n; i++) {
		bool seen = false;
		int m;

		for (size_t k = 0; k < i && !seen; k++) /* a capture shared by processes: once */
			seen = f->caps[k] == f->caps[i];
		if (seen)
			continue;
		m = capture_drain(f->caps[i]);
		if (m < 0)
			return m;
		total += m;
	}
	return total;
}

int follow_check(struct follow *f, uint64_t now_mono)
{
	int changed = 0;

	f->now = now_mono;
	if (f->o.pid <= 0)
		changed += finish_job(f); /* as soon as the worker is done (it wakes the poll) */
	if (now_mono - f->last_scan < SCAN_NS && f->last_scan)
		return changed;
	f->last_scan = now_mono;
	for (size_t i = 0; i < f->nidle;) {
		if (now_mono - f->idle_since[i] > IDLE_NS) {
			close_in_background(f, f->idle[i]);
			f->idle[i] = f->idle[--f->nidle];
			f->idle_since[i] = f->idle_since[f->nidle];
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < f->n;) {
		if (followed_gone(f, i)) {
			if (f->o.pid > 0)
				f->target_gone = true;
			retire(f, i);
			changed++;
		} else {
			i++;
		}
	}
	f->pid_event = false;
	if (f->o.pid <= 0)
		changed += scan(f, false);
	/* processes attached before they listened (or tracked by a shared capture): their ports */
	if (now_mono - f->last_listen >= LISTEN_EVERY_NS || changed) {
		f->last_listen = now_mono;
		for (size_t i = 0; i < f->n; i++)
			if (now_mono - f->since[i] < LISTEN_NS)
				capture_conn_refresh(f->caps[i]);
	}
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
	for (size_t i = 0; i < f->n; i++) {
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = f->caps[k] == f->caps[i];
		if (!seen)
			add_stats(st, f->caps[i]);
	}
	for (size_t i = 0; i < f->nidle; i++)
		add_stats(st, f->idle[i]);
}

const char *follow_describe(struct follow *f)
{
	size_t n = 0;

	if (!f->n) {
		snprintf(f->desc, sizeof(f->desc), "no %s attached (waiting)", f->exe_name);
		return f->desc;
	}
	if (f->n > 1)
		n = snprintf(f->desc, sizeof(f->desc), "%zu apiservers: ", f->n);
	for (size_t i = 0; i < f->n && n < sizeof(f->desc); i++)
		n += snprintf(f->desc + n, sizeof(f->desc) - n, "%spid %d %s", i ? "; " : "", (int)f->pids[i],
			      capture_describe_probes(f->caps[i]));
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
	if (f->busy) {
		pthread_join(f->worker, NULL);
		capture_close(f->job.c);
	}
	free(f->job.seeds);
	for (size_t i = 0; i < f->n; i++) {
		bool seen = false;

		if (f->pidfds[i] >= 0)
			close(f->pidfds[i]);
		for (size_t k = 0; k < i && !seen; k++)
			seen = f->caps[k] == f->caps[i];
		if (!seen)
			capture_close(f->caps[i]);
	}
	for (size_t i = 0; i < f->nidle; i++)
		capture_close(f->idle[i]);
	pthread_mutex_lock(&f->mu);
	while (f->closing > 0)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	if (f->epfd >= 0)
		close(f->epfd);
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
