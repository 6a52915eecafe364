// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "capture/sampler.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assemble/kp_contract.h"
#include "assemble/stats.h"
#include "util/log.h"

#define WINDOW_HISTORY 4096         /* windows remembered for weighting long requests */
#define GATE_SLACK_NS 1000000ULL    /* an event is stamped just after its gate check */

uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	long tck = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * (1000000000ULL / (tck > 0 ? (unsigned long long)tck : 100ULL));
}

static int64_t mono_to_wall(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Every hit on every uprobe (request and etcd, gated or not) costs a trap in the apiserver. */
static uint64_t total_hits(struct capture *c)
{
	struct capture_stats st;
	uint64_t h = 0;

	capture_read_stats(c, &st);
	for (int i = 0; i < KP_PROBE__COUNT; i++)
		if (i != KP_PROBE_CALIBRATE && kp_probe_desc[i].kind == KP_KIND_UPROBE)
			h += st.hits[i];
	return h;
}

static void begin_accounting(struct sampler *s)
{
	s->hits0 = total_hits(s->cap);
	s->cpu0 = proc_cpu_ns(s->pid);
	s->prog0 = capture_uprobe_runtime_ns(s->cap);
}

static void measure(struct sampler *s, uint64_t cycle_ns, uint64_t window_ns, uint64_t hits_window, uint64_t churn_ns)
{
	struct budget_cycle m = {
		.cycle_ns = cycle_ns,
		.window_ns = window_ns,
		.hits_window = hits_window,
		.churn_ns = churn_ns,
		.hits = total_hits(s->cap) - s->hits0,
		.cpu_ns = proc_cpu_ns(s->pid) - s->cpu0,
		.prog_ns = capture_uprobe_runtime_ns(s->cap) - s->prog0,
	};

	budget_update(&s->b, &m);
	p_debug("budget: cycle %.2f s, window %.3f s: %llu hits (%llu in the window, %llu after detach began), "
		"detach+attach %.0f ms, programs %.1f ms, apiserver CPU %.0f ms -> overhead %.3f%% (at full capture %.3f%%); next: "
		"cycle %.2f s, duty %.3f",
		cycle_ns / 1e9, window_ns / 1e9, (unsigned long long)m.hits, (unsigned long long)hits_window,
		churn_ns ? (unsigned long long)(total_hits(s->cap) - s->hits_detach) : 0ULL, churn_ns / 1e6,
		m.prog_ns / 1e6, m.cpu_ns / 1e6, 100 * s->b.measured, 100 * s->b.last_overhead, s->b.cycle_ns / 1e9, s->b.duty);
}

/* Full capture from `open` on (the gate stays open until changed). */
static void enter_full(struct sampler *s, uint64_t open)
{
	s->state = SM_FULL;
	s->cycle_start = s->open_ns = open;
	s->close_ns = UINT64_MAX;
	s->cycle_ns = s->b.period_ns;
	capture_set_gate(s->cap, open, UINT64_MAX);
	budget_windows_add(&s->ws, open, UINT64_MAX, 1.0);
	s->factor = 1.0;
	begin_accounting(s);
}

/* The cycle beginning at c, all probes attached since `attached`: schedule its gate window. */
static void open_window(struct sampler *s, uint64_t c, uint64_t attached)
{
	uint64_t win = budget_window_ns(&s->b);

	s->state = SM_WINDOW;
	s->cycle_start = c;
	s->cycle_ns = s->b.cycle_ns;
	s->open_ns = c;
	if (attached > c) { /* attaching ran past the cycle's start: open now, same length */
		s->open_ns = attached;
		s->late_opens++;
		p_debug("budget: window opens %.1f ms late (attach took %.1f ms)", (attached - c) / 1e6,
			s->attach_ns / 1e6);
	}
	s->close_ns = s->open_ns + win;
	s->factor = (double)s->cycle_ns / (double)win;
	capture_set_gate(s->cap, s->open_ns, s->close_ns);
	budget_windows_add(&s->ws, s->open_ns, s->close_ns, s->factor);
	p_debug("budget: window %llu-%llu (wall ns) weight %.4f", (unsigned long long)(s->open_ns + mono_to_wall()),
		(unsigned long long)(s->close_ns + mono_to_wall()), s->factor);
	s->hits_open = total_hits(s->cap);
	s->window_read = false;
}

int sampler_init(struct sampler *s, struct capture *cap, pid_t pid, double budget, double hit_cost_ns,
		 uint64_t period_ns)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->pid = pid;
	s->factor = 1.0;
	if (budget <= 0)
		return 0;
	if (hit_cost_ns <= 0) {
		err = capture_calibrate(cap, &hit_cost_ns);
		if (err)
			return err;
		p_info("budget: one uprobe hit costs %.2f us here (measured)", hit_cost_ns / 1000.0);
	}
	budget_init(&s->b, budget, hit_cost_ns, period_ns);
	err = capture_enable_runtime_stats(cap);
	if (err)
		p_warn("budget: cannot measure the BPF programs' run time (%s): the cost counts the uprobe traps only",
		       strerror(-err));
	s->prog_time = !err;
	err = budget_windows_init(&s->ws, WINDOW_HISTORY);
	if (err)
		return err;
	s->enabled = true;
	/* the probes are attached (capture_open): the first window opens now */
	s->span_start = mono_now();
	begin_accounting(s);
	open_window(s, s->span_start, s->span_start);
	return 0;
}

bool sampler_tick(struct sampler *s, uint64_t now)
{
	if (!s->enabled || s->span_end)
		return false;
	switch (s->state) {
	case SM_FULL:
		if (now - s->cycle_start < s->b.period_ns)
			return false;
		measure(s, now - s->cycle_start, now - s->cycle_start, total_hits(s->cap) - s->hits0, 0);
		if (s->b.duty >= 1.0) {
			s->cycle_start = now;
			begin_accounting(s);
			return false;
		}
		/* start cycling: attached already, the first window opens now */
		budget_windows_close(&s->ws, now);
		p_debug("budget: window %llu-%llu (wall ns) weight 1.0000", (unsigned long long)(s->open_ns + mono_to_wall()),
			(unsigned long long)(now + mono_to_wall()));
		begin_accounting(s);
		open_window(s, now, now);
		return true;
	case SM_WINDOW:
		if (!s->window_read && now >= s->close_ns) {
			s->hits_window = total_hits(s->cap) - s->hits_open;
			s->window_read = true;
		}
		if (s->window_read && now >= s->close_ns + s->b.drain_ns) {
			s->hits_detach = total_hits(s->cap);
			s->detach_start = now;
			capture_set_phase(s->cap, CAPTURE_NONE);
			s->state = SM_OFF;
		}
		return false;
	case SM_OFF: {
		uint64_t next = s->cycle_start + s->cycle_ns, lead = 2 * s->attach_ns + 20000000ULL, t0, t1, dd, churn;
		int err;

		if (now + lead < next)
			return false;
		t0 = mono_now();
		err = capture_set_phase(s->cap, CAPTURE_ALL);
		t1 = mono_now();
		/* attaching waits for the detaches still running: count that as churn, not attach */
		dd = capture_detach_done_ns(s->cap);
		if (!dd || dd > t1)
			dd = t1;
		if (dd > s->detach_start && (dd - s->detach_start) / 1e6 > s->detach_ms_max)
			s->detach_ms_max = (dd - s->detach_start) / 1e6;
		s->attach_ns = t1 - (dd > t0 ? dd : t0);
		if (s->attach_ns / 1e6 > s->attach_ms_max)
			s->attach_ms_max = s->attach_ns / 1e6;
		churn = (dd > s->detach_start ? dd - s->detach_start : 0) + s->attach_ns;
		measure(s, s->cycle_ns, s->close_ns - s->open_ns, s->hits_window, churn ? churn : 1);
		begin_accounting(s);
		if (err) {
			p_warn("budget: attaching the probes failed (%d): next cycle", err);
			s->cycle_start = next; /* the cycle is not covered: its weight is lost, say so */
			s->late_opens++;
			return false;
		}
		if (s->b.duty >= 1.0) {
			enter_full(s, t1 > next ? t1 : next);
			if (t1 > next)
				s->late_opens++;
			return true;
		}
		open_window(s, next, t1);
		return true;
	}
	}
	return false;
}

void sampler_stop(struct sampler *s, uint64_t now)
{
	if (!s->enabled || s->span_end)
		return;
	switch (s->state) {
	case SM_FULL:
		capture_set_gate(s->cap, s->open_ns, now);
		budget_windows_close(&s->ws, now);
		p_debug("budget: window %llu-%llu (wall ns) weight 1.0000", (unsigned long long)(s->open_ns + mono_to_wall()),
			(unsigned long long)(now + mono_to_wall()));
		s->span_end = now > s->span_start ? now : s->span_start + 1;
		break;
	case SM_WINDOW:
		if (now < s->open_ns) { /* scheduled, not open yet: it never opens */
			capture_set_gate(s->cap, s->open_ns, s->open_ns);
			budget_windows_close(&s->ws, s->open_ns);
			p_debug("budget: stopped, window cut at %llu (wall ns)", (unsigned long long)(s->open_ns + mono_to_wall()));
			s->span_end = s->cycle_start;
		} else if (now < s->close_ns) {
			/* cut short: the window stood for cycle x (its part) */
			capture_set_gate(s->cap, s->open_ns, now);
			budget_windows_close(&s->ws, now);
			p_debug("budget: stopped, window cut at %llu (wall ns)", (unsigned long long)(now + mono_to_wall()));
			s->span_end = s->cycle_start + (uint64_t)((double)s->cycle_ns * (double)(now - s->open_ns) /
								  (double)(s->close_ns - s->open_ns));
		} else {
			s->span_end = s->cycle_start + s->cycle_ns;
		}
		break;
	case SM_OFF:
		s->span_end = s->cycle_start + s->cycle_ns;
		break;
	}
	if (s->span_end <= s->span_start)
		s->span_end = s->span_start + 1;
}

int sampler_timeout_ms(const struct sampler *s, uint64_t now, int max_ms)
{
	uint64_t next;

	if (!s->enabled || s->span_end)
		return max_ms;
	switch (s->state) {
	case SM_FULL:
		next = s->cycle_start + s->b.period_ns;
		break;
	case SM_WINDOW:
		next = s->window_read ? s->close_ns + s->b.drain_ns : s->close_ns;
		break;
	default:
		next = s->cycle_start + s->cycle_ns - (2 * s->attach_ns + 20000000ULL);
	}
	if (next <= now)
		return 0;
	next = (next - now + 999999) / 1000000;
	return next < (uint64_t)max_ms ? (int)next : max_ms;
}

double sampler_factor(const struct sampler *s)
{
	return s->factor;
}

double sampler_weight(void *ctx, uint64_t start_mono)
{
	const struct sampler *s = ctx;

	if (!s->enabled)
		return 1.0;
	return budget_windows_weight(&s->ws, start_mono, GATE_SLACK_NS, 1.0);
}

void sampler_free(struct sampler *s)
{
	budget_windows_free(&s->ws);
}

void sampler_fill_stats(const struct sampler *s, struct record_stats *st)
{
	int64_t to_wall = mono_to_wall();

	if (!s->enabled)
		return;
	st->budget = s->b.budget;
	st->duty = s->state == SM_FULL ? 1.0 : (double)(s->close_ns - s->open_ns) / (double)s->cycle_ns;
	st->sample_factor = s->factor;
	st->hit_cost_ns = s->b.hit_cost_ns;
	st->per_hit_ns = s->b.per_hit_ns;
	st->est_overhead = budget_expected_overhead(&s->b);
	st->measured_overhead = budget_measured_overhead(&s->b);
	st->cycle_s = s->cycle_ns / 1e9;
	st->cycles = s->b.cycles;
	st->late_windows = s->late_opens;
	st->attach_ms_max = s->attach_ms_max;
	st->detach_ms_max = s->detach_ms_max;
	st->span_start_ns = (uint64_t)((int64_t)s->span_start + to_wall);
	st->span_end_ns = s->span_end ? (uint64_t)((int64_t)s->span_end + to_wall) : 0;
}
