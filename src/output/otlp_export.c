// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* OTLP/HTTP exporter: bounded queue, sender thread, HTTP/1.1 keep-alive client, retries. */
#include "output/otlp_export.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "output/otlp_http.h"
#include "output/otlp_policy.h"
#include "output/otlp_queue.h"
#include "util/hash.h"
#include "util/log.h"

#define BATCH_BYTES_MAX (4u << 20) /* request body bound (the OTLP spec recommends servers accept 20 MiB) */
#define RESP_MAX 65536

struct otlp_exporter {
	/* immutable after new */
	struct otlp_exporter_config cfg;
	struct otlp_url url;
	struct otlp_ids ids;
	char service_name[OTLP_RES_STR_MAX], service_version[OTLP_RES_STR_MAX], host_name[OTLP_RES_STR_MAX],
		scope_version[OTLP_RES_STR_MAX];
	struct otlp_resource res;
	pthread_t thread;
	int efd;                /* eventfd: wakes the sender (full batch, flush, close) */

	/* producers (add_*): serialised by prod_mu, which the sender never takes */
	pthread_mutex_t prod_mu;
	struct otlp_queue q;    /* lock-free between the producer side and the sender */

	/* counters: atomics (relaxed), read by otlp_exporter_stats */
	struct otlp_exporter_stats st;
	uint64_t done;          /* queued spans that reached sent/rejected/failed */
	uint64_t etcd_seq;
	bool stop;
	uint64_t stop_deadline_ns;

	/* flushers wait for the sender's progress */
	pthread_mutex_t mu;
	pthread_cond_t cv_done;

	/* sender thread only */
	uint8_t *batch;
	size_t batch_cap;
	uint8_t *body;
	size_t body_cap;
	uint8_t resp[RESP_MAX];
	int fd;
	uint64_t rnd;
	bool failing;           /* for log lines on state changes only */
};

#define ADD(field, n) __atomic_fetch_add(&ex->st.field, (n), __ATOMIC_RELAXED)
#define GET(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Condition variables use CLOCK_MONOTONIC (pthread_condattr_setclock). */
static void timedwait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000ULL),
			       .tv_nsec = (long)(deadline_ns % 1000000000ULL) };

	pthread_cond_timedwait(cv, mu, &ts);
}

void otlp_exporter_config_default(struct otlp_exporter_config *c)
{
	memset(c, 0, sizeof(*c));
	c->sample_per_million = OTLP_PER_MILLION;
	c->queue_spans = 8192;
	c->queue_bytes = 16u << 20;
	c->batch_spans = 512;
	c->batch_delay_ms = 1000;
	c->timeout_ms = 10000;
	c->max_attempts = 6;
	c->backoff_initial_ms = 500;
	c->backoff_max_ms = 30000;
	c->retry_after_max_ms = 60000;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- HTTP client (sender thread) ---- */
static void conn_close(struct otlp_exporter *ex)
{
	if (ex->fd >= 0)
		close(ex->fd);
	ex->fd = -1;
}

/* The timeout of one attempt: the configured one, cut to what is left of the shutdown deadline. */
static uint32_t attempt_timeout_ms(struct otlp_exporter *ex)
{
	uint32_t t = ex->cfg.timeout_ms;

	if (GET(&ex->stop)) {
		uint64_t now = now_mono_ns(), dl = GET(&ex->stop_deadline_ns);
		uint64_t left = dl > now ? (dl - now) / 1000000ULL : 0;

		if (left < t)
			t = left ? (uint32_t)left : 1;
	}
	return t;
}

static int conn_open(struct otlp_exporter *ex, uint32_t timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *ai, *a;
	int one = 1, fd = -1;

	if (getaddrinfo(ex->url.host, ex->url.port, &hints, &ai))
		return -1;
	for (a = ai; a; a = a->ai_next) {
		struct pollfd pfd;
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS)
			goto next;
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, (int)timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err)
			goto next;
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK))
			goto next;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		break;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	ex->fd = fd;
	return fd < 0 ? -1 : 0;
}

static int send_all(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };

	while (mh.msg_iovlen) {
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (mh.msg_iovlen && (size_t)w >= mh.msg_iov->iov_len) {
			w -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + w;
			mh.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static ssize_t recv_some(int fd, uint8_t *buf, size_t n)
{
	ssize_t r;

	do
		r = recv(fd, buf, n, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

/*
 * One POST of body. Returns the HTTP status (resp fields set; the response body, when it fit, is at
 * ex->resp with *body_len bytes), or -1 on a connection error (*got_bytes tells whether any response
 * byte arrived: a reused connection closed by the server before answering is retried at once).
 */
static int http_post(struct otlp_exporter *ex, size_t body_len, struct otlp_http_resp *resp, size_t *rbody,
		     bool *got_bytes)
{
	char head[1024];
	struct iovec iov[2];
	size_t hlen = otlp_http_request_head(&ex->url, body_len, head, sizeof(head)), have = 0;
	uint32_t tmo = attempt_timeout_ms(ex);
	struct timeval tv = { .tv_sec = tmo / 1000, .tv_usec = (tmo % 1000) * 1000 };
	int hl = 0;

	*got_bytes = false;
	*rbody = 0;
	if (!hlen)
		return -1;
	if (ex->fd < 0 && conn_open(ex, tmo))
		return -1;
	setsockopt(ex->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(ex->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	iov[0] = (struct iovec){ head, hlen };
	iov[1] = (struct iovec){ ex->body, body_len };
	if (send_all(ex->fd, iov, 2))
		goto fail;
	for (;;) {
		ssize_t r = recv_some(ex->fd, ex->resp + have, sizeof(ex->resp) - 1 - have);

		if (r <= 0)
			goto fail;
		*got_bytes = true;
		have += (size_t)r;
		hl = otlp_http_parse_head((const char *)ex->resp, have, ex->cfg.retry_after_max_ms, resp);
		if (hl < 0)
			goto fail;
		if (hl > 0)
			break;
		if (have >= sizeof(ex->resp) - 1)
			goto fail;
	}
	/* body */
	memmove(ex->resp, ex->resp + hl, have - (size_t)hl);
	have -= (size_t)hl;
	if (resp->status == 204 || resp->status == 304 || (resp->status >= 100 && resp->status < 200)) {
		have = 0;
	} else if (resp->chunked) {
		size_t consumed;
		int d;

		while ((d = otlp_http_dechunk(ex->resp, have, rbody, &consumed)) == 0) {
			ssize_t r;

			if (have >= sizeof(ex->resp))
				break; /* larger than any OTLP response: keep the status, drop the body and the connection */
			r = recv_some(ex->fd, ex->resp + have, sizeof(ex->resp) - have);
			if (r <= 0)
				goto fail;
			have += (size_t)r;
		}
		if (d < 0)
			goto fail;
		if (d == 0) {
			*rbody = 0;
			resp->close = true;
		}
	} else if (resp->content_length >= 0) {
		uint64_t left = (uint64_t)resp->content_length;

		if (have > left) {
			have = (size_t)left; /* extra bytes: not pipelined by us, drop the connection */
			resp->close = true;
		}
		left -= have;
		while (left) {
			uint8_t sink[4096];
			uint8_t *dst = have < sizeof(ex->resp) ? ex->resp + have : sink;
			size_t room = have < sizeof(ex->resp) ? sizeof(ex->resp) - have : sizeof(sink);
			ssize_t r = recv_some(ex->fd, dst, room < left ? room : (size_t)left);

			if (r <= 0)
				goto fail;
			left -= (uint64_t)r;
			if (dst != sink)
				have += (size_t)r;
		}
		*rbody = have;
	} else {
		/* delimited by the end of the connection */
		for (;;) {
			ssize_t r = have < sizeof(ex->resp) ? recv_some(ex->fd, ex->resp + have, sizeof(ex->resp) - have) : -1;

			if (r == 0)
				break;
			if (r < 0)
				goto fail;
			have += (size_t)r;
		}
		resp->close = true;
		*rbody = have;
	}
	if (resp->close)
		conn_close(ex);
	return resp->status;
fail:
	conn_close(ex);
	return -1;
}

/* Untrusted text from the receiver, printable for a log line. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void wake(struct otlp_exporter *ex)
{
	uint64_t one = 1;

	if (write(ex->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the sender is awake anyway */
	}
}

/* Sleep up to ms or until woken; returns true when woken. */
static bool sleep_or_wake(struct otlp_exporter *ex, uint64_t ms)
{
	struct pollfd pfd = { .fd = ex->efd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, ms > INT32_MAX ? INT32_MAX : (int)ms) != 1)
		return false;
	if (read(ex->efd, &v, sizeof(v)) < 0) {
		/* already drained */
	}
	return true;
}

/* Wait ms before a retry unless that overruns the shutdown deadline (returns false: give up). A flush
 * or close wakes the sleep, which then goes on until the delay is over. */
static bool backoff_wait(struct otlp_exporter *ex, uint64_t ms)
{
	uint64_t until = now_mono_ns() + ms * 1000000ULL, now;

	while ((now = now_mono_ns()) < until) {
		if (GET(&ex->stop) && until > GET(&ex->stop_deadline_ns))
			return false;
		sleep_or_wake(ex, (until - now + 999999) / 1000000ULL);
	}
	return !(GET(&ex->stop) && now > GET(&ex->stop_deadline_ns));
}

/* n more queued spans reached sent/rejected/failed: tell the flushers. */
static void progress(struct otlp_exporter *ex, uint64_t n)
{
	pthread_mutex_lock(&ex->mu);
	__atomic_fetch_add(&ex->done, n, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&ex->cv_done);
	pthread_mutex_unlock(&ex->mu);
}

/* Send one batch of n spans (ex->batch[0..len)), with retries. Updates the counters. */
static void export_batch(struct otlp_exporter *ex, size_t len, uint32_t n)
{
	size_t body_len = otlp_encode_export(&ex->res, ex->batch, len, ex->body, ex->body_cap);
	uint64_t sent = 0, rejected = 0, failed = 0, batches = 0;
	char msg[256] = "";
	int status = 0;

	if (!body_len) {
		failed = n;
		goto out;
	}
	for (unsigned attempt = 0;; attempt++) {
		/* no response (connection error): no Retry-After, the backoff applies */
		struct otlp_http_resp resp = { .retry_after_ms = -1 };
		size_t rbody = 0;
		bool got, reused = ex->fd >= 0;

		status = http_post(ex, body_len, &resp, &rbody, &got);
		if (status < 0 && reused && !got)
			status = http_post(ex, body_len, &resp, &rbody, &got); /* keep-alive raced with the server's close */
		__atomic_store_n(&ex->st.last_status, status, __ATOMIC_RELAXED);
		ADD(export_errors, !(status >= 200 && status < 300));
		ADD(retries, attempt > 0);
		if (status >= 200 && status < 300) {
			int64_t rej = 0;

			if (otlp_decode_response(ex->resp, rbody, &rej, msg, sizeof(msg)) == 0 && rej > 0) {
				rejected = (uint64_t)rej < n ? (uint64_t)rej : n;
				printable(msg);
				p_warn("otlp: the receiver rejected %llu of %u spans: %s", (unsigned long long)rejected, n, msg);
			}
			sent = n - rejected;
			batches = 1;
			if (ex->failing)
				p_info("otlp: export to http://%s%s works again", ex->url.hostport, ex->url.path);
			ex->failing = false;
			break;
		}
		if (!ex->failing) {
			if (status < 0)
				p_warn("otlp: cannot reach http://%s%s (%s): retrying, spans are queued and counted when dropped",
				       ex->url.hostport, ex->url.path, got ? "connection closed" : "connection failed");
			else
				p_warn("otlp: http://%s%s answered HTTP %d", ex->url.hostport, ex->url.path, status);
			ex->failing = true;
		}
		if ((status >= 0 && !otlp_status_retryable(status)) || attempt + 1 >= ex->cfg.max_attempts) {
			failed = n;
			break;
		}
		if (!backoff_wait(ex, resp.retry_after_ms >= 0 ? (uint64_t)resp.retry_after_ms :
				  otlp_backoff_ms(ex->cfg.backoff_initial_ms, ex->cfg.backoff_max_ms, attempt, hash_splitmix64(&ex->rnd)))) {
			failed = n;
			break;
		}
	}
out:
	ADD(sent, sent);
	ADD(rejected, rejected);
	ADD(failed, failed);
	ADD(batches, batches);
	progress(ex, n);
}

/*
 * Every batch_delay_ms, or when woken (a full batch, a flush, close), send everything queued in batches
 * of at most batch_spans. After close: keep sending until the queue is empty or the deadline passes;
 * what is left then is counted as failed.
 */
static void *sender_main(void *arg)
{
	struct otlp_exporter *ex = arg;

	for (;;) {
		bool stopping = GET(&ex->stop);
		uint32_t n, oversized = 0;
		size_t len;

		while (otlp_queue_count(&ex->q)) {
			if (stopping && now_mono_ns() >= GET(&ex->stop_deadline_ns)) {
				otlp_queue_pop(&ex->q, NULL, 0, UINT32_MAX, &n, &oversized);
				ADD(failed, n);
				progress(ex, n);
				break;
			}
			len = otlp_queue_pop(&ex->q, ex->batch, ex->batch_cap, ex->cfg.batch_spans, &n, &oversized);
			if (oversized) {
				ADD(failed, oversized);
				progress(ex, oversized);
				oversized = 0;
			}
			if (n)
				export_batch(ex, len, n);
			stopping = GET(&ex->stop);
		}
		if (stopping)
			break;
		sleep_or_wake(ex, ex->cfg.batch_delay_ms);
	}
	conn_close(ex);
	return NULL;
}

/* ---- public API ---- */
struct otlp_exporter *otlp_exporter_new(const struct otlp_exporter_config *cfg, char *err, size_t errcap)
{
	struct otlp_exporter *ex;
	pthread_condattr_t ca;
	uint64_t seed = cfg->seed;

	if (!cfg->url) {
		snprintf(err, errcap, "no OTLP URL");
		return NULL;
	}
	if (!cfg->queue_spans || !cfg->queue_bytes || !cfg->batch_spans || !cfg->batch_delay_ms || !cfg->max_attempts ||
	    !cfg->timeout_ms || !cfg->backoff_initial_ms || cfg->backoff_max_ms < cfg->backoff_initial_ms ||
	    cfg->sample_per_million > OTLP_PER_MILLION) {
		snprintf(err, errcap, "bad OTLP exporter configuration (queue, batch size and delay, attempts, timeout "
			 "and backoff must be positive, backoff max >= initial, sampling at most %u per million; "
			 "start from otlp_exporter_config_default)", OTLP_PER_MILLION);
		return NULL;
	}
	ex = calloc(1, sizeof(*ex));
	if (!ex) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	ex->cfg = *cfg;
	ex->cfg.url = NULL;
	ex->fd = -1;
	ex->efd = -1;
	if (otlp_url_parse(cfg->url, &ex->url, err, errcap))
		goto fail;
	if (!seed && getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = now_real_ns() ^ ((uint64_t)getpid() << 32);
	otlp_ids_init(&ex->ids, seed);
	ex->rnd = seed ^ 0x5851f42d4c957f2dULL;
	copy_str(ex->service_name, sizeof(ex->service_name), cfg->resource.service_name ? cfg->resource.service_name : "kube-apiserver");
	copy_str(ex->service_version, sizeof(ex->service_version), cfg->resource.service_version);
	if (cfg->resource.host_name)
		copy_str(ex->host_name, sizeof(ex->host_name), cfg->resource.host_name);
	else if (gethostname(ex->host_name, sizeof(ex->host_name) - 1))
		ex->host_name[0] = '\0';
	copy_str(ex->scope_version, sizeof(ex->scope_version), cfg->resource.scope_version);
	ex->res = (struct otlp_resource){ .service_name = ex->service_name, .service_version = ex->service_version,
					  .host_name = ex->host_name, .pid = cfg->resource.pid,
					  .scope_version = ex->scope_version };
	ex->batch_cap = BATCH_BYTES_MAX;
	ex->body_cap = BATCH_BYTES_MAX + OTLP_EXPORT_OVERHEAD;
	ex->batch = malloc(ex->batch_cap);
	ex->body = malloc(ex->body_cap);
	if (!ex->batch || !ex->body || otlp_queue_init(&ex->q, cfg->queue_bytes, cfg->queue_spans)) {
		snprintf(err, errcap, "out of memory for the OTLP queue (%zu bytes)", cfg->queue_bytes);
		goto fail;
	}
	ex->st.queue_capacity = cfg->queue_spans;
	ex->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ex->efd < 0) {
		snprintf(err, errcap, "eventfd: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&ex->prod_mu, NULL);
	pthread_mutex_init(&ex->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ex->cv_done, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&ex->thread, NULL, sender_main, ex)) {
		snprintf(err, errcap, "cannot start the OTLP sender thread");
		pthread_cond_destroy(&ex->cv_done);
		pthread_mutex_destroy(&ex->mu);
		pthread_mutex_destroy(&ex->prod_mu);
		goto fail;
	}
	return ex;
fail:
	if (ex->efd >= 0)
		close(ex->efd);
	otlp_queue_free(&ex->q);
	free(ex->batch);
	free(ex->body);
	free(ex);
	return NULL;
}

/* Producer side: no wait on the sender (prod_mu only orders concurrent producers). */
static int enqueue(struct otlp_exporter *ex, const uint8_t *span, size_t n)
{
	bool ok;

	if (!n) {
		ADD(encode_errors, 1);
		return -1;
	}
	pthread_mutex_lock(&ex->prod_mu);
	ok = !GET(&ex->stop) && otlp_queue_push(&ex->q, span, n);
	pthread_mutex_unlock(&ex->prod_mu);
	if (!ok) {
		ADD(dropped, 1);
		return -1;
	}
	ADD(queued, 1);
	if (otlp_queue_count(&ex->q) == ex->cfg.batch_spans)
		wake(ex);
	return 0;
}

int otlp_exporter_add_request(struct otlp_exporter *ex, const struct request_record *r)
{
	uint8_t span[OTLP_SPAN_MAX], trace_id[16], span_id[8];

	otlp_request_ids(&ex->ids, r->id, trace_id, span_id);
	if (!otlp_sampled(otlp_trace_key(trace_id), ex->cfg.sample_per_million)) {
		ADD(sampled_out, 1);
		return 1;
	}
	return enqueue(ex, span, otlp_encode_request_span(&ex->ids, r, now_real_ns(), span, sizeof(span)));
}

int otlp_exporter_add_etcd(struct otlp_exporter *ex, const struct etcd_record *e)
{
	uint8_t span[OTLP_SPAN_MAX], trace_id[16], span_id[8], parent[8];
	uint64_t seq;
	bool has_parent;

	if (e->stream) {
		ADD(skipped, 1);
		return 1;
	}
	seq = __atomic_add_fetch(&ex->etcd_seq, 1, __ATOMIC_RELAXED);
	otlp_etcd_ids(&ex->ids, e->request_id, seq, trace_id, span_id, parent, &has_parent);
	if (!otlp_sampled(otlp_trace_key(trace_id), ex->cfg.sample_per_million)) {
		ADD(sampled_out, 1);
		return 1;
	}
	return enqueue(ex, span, otlp_encode_etcd_span(&ex->ids, e, seq, span, sizeof(span)));
}

void otlp_exporter_stats(struct otlp_exporter *ex, struct otlp_exporter_stats *s)
{
	s->queued = GET(&ex->st.queued);
	s->sent = GET(&ex->st.sent);
	s->dropped = GET(&ex->st.dropped);
	s->failed = GET(&ex->st.failed);
	s->rejected = GET(&ex->st.rejected);
	s->sampled_out = GET(&ex->st.sampled_out);
	s->skipped = GET(&ex->st.skipped);
	s->encode_errors = GET(&ex->st.encode_errors);
	s->export_errors = GET(&ex->st.export_errors);
	s->retries = GET(&ex->st.retries);
	s->batches = GET(&ex->st.batches);
	s->queue_len = otlp_queue_count(&ex->q);
	s->queue_capacity = ex->st.queue_capacity;
	s->last_status = GET(&ex->st.last_status);
}

int otlp_exporter_flush(struct otlp_exporter *ex, uint32_t timeout_ms)
{
	uint64_t deadline = now_mono_ns() + (uint64_t)timeout_ms * 1000000ULL, target = GET(&ex->st.queued);
	int rc = 0;

	wake(ex);
	pthread_mutex_lock(&ex->mu);
	while (GET(&ex->done) < target) {
		if (now_mono_ns() >= deadline) {
			rc = -1;
			break;
		}
		timedwait_ns(&ex->cv_done, &ex->mu, deadline);
	}
	pthread_mutex_unlock(&ex->mu);
	return rc;
}

void otlp_exporter_close(struct otlp_exporter *ex, uint32_t flush_timeout_ms, struct otlp_exporter_stats *final)
{
	if (!ex)
		return;
	__atomic_store_n(&ex->stop_deadline_ns, now_mono_ns() + (uint64_t)flush_timeout_ms * 1000000ULL,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&ex->stop, true, __ATOMIC_RELEASE);
	wake(ex);
	pthread_join(ex->thread, NULL);
	if (final)
		otlp_exporter_stats(ex, final);
	close(ex->efd);
	pthread_cond_destroy(&ex->cv_done);
	pthread_mutex_destroy(&ex->mu);
	pthread_mutex_destroy(&ex->prod_mu);
	otlp_queue_free(&ex->q);
	free(ex->batch);
	free(ex->body);
	free(ex);
}
