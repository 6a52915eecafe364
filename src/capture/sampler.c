// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "capture/sampler.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assemble/kp_contract.h"
#include "util/log.h"

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

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

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

int sampler_init(struct sampler *s, struct capture *cap, pid_t pid, double budget, double hit_cost_ns,
		 uint64_t period_ns)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->pid = pid;
	s->factor = 1.0;
	if (budget <= 0)
		return 0;
	if (hit_cost_ns <= 0) {
		int err = capture_calibrate(cap, &hit_cost_ns);

		if (err)
			return err;
		p_info("budget: one uprobe hit costs %.1f us here (measured)", hit_cost_ns / 1000.0);
	}
	budget_init(&s->b, budget, hit_cost_ns, period_ns);
	/* Requests that began while attached end within the drain; later ones only cost hits. */
	s->drain_ns = s->b.period_ns / 20 < 250000000ULL ? s->b.period_ns / 20 : 250000000ULL;
	s->enabled = true;
	s->phase_start = 0; /* set at the first tick */
	return 0;
}

bool sampler_tick(struct sampler *s, uint64_t now)
{
	uint64_t on_ns, elapsed;
	enum capture_phase ph;

	if (!s->enabled)
		return false;
	if (!s->phase_start) {
		s->phase_start = now;
		s->window_hits0 = total_hits(s->cap);
		s->window_cpu0 = proc_cpu_ns(s->pid);
		return false;
	}
	ph = capture_get_phase(s->cap);
	elapsed = now - s->phase_start;
	on_ns = budget_on_ns(&s->b);
	if (ph == CAPTURE_ALL && elapsed >= on_ns && s->b.duty < 1.0) {
		/* end of the attached window: measure, then drain */
		budget_update(&s->b, total_hits(s->cap) - s->window_hits0, elapsed, proc_cpu_ns(s->pid) - s->window_cpu0);
		capture_set_phase(s->cap, s->b.duty < 1.0 ? CAPTURE_ENDS : CAPTURE_ALL);
		if (s->b.duty >= 1.0) {
			s->phase_start = now;
			s->window_hits0 = total_hits(s->cap);
			s->window_cpu0 = proc_cpu_ns(s->pid);
		}
		return false;
	}
	if (ph == CAPTURE_ALL && elapsed >= s->b.period_ns) {
		/* full capture so far: re-measure every period */
		budget_update(&s->b, total_hits(s->cap) - s->window_hits0, elapsed, proc_cpu_ns(s->pid) - s->window_cpu0);
		s->phase_start = now;
		s->window_hits0 = total_hits(s->cap);
		s->window_cpu0 = proc_cpu_ns(s->pid);
		/* the next window is attached for duty x period: its records stand for 1/duty requests each */
		s->factor = budget_sample_factor(&s->b);
		return true;
	}
	if (ph == CAPTURE_ENDS && elapsed >= on_ns + s->drain_ns) {
		capture_set_phase(s->cap, CAPTURE_NONE);
		return false;
	}
	if (ph != CAPTURE_ALL && elapsed + s->attach_ns >= s->b.period_ns) {
		/* new cycle; the window is timed from when the start probes are live (attaching a
		 * dozen uprobes takes milliseconds, which would otherwise bias the sample factor) */
		{
			uint64_t t0 = mono_now();

			capture_set_phase(s->cap, CAPTURE_ALL);
			s->phase_start = mono_now();
			s->attach_ns = s->phase_start - t0;
			p_debug("budget: attached in %.1f ms", s->attach_ns / 1e6);
		}
		s->window_hits0 = total_hits(s->cap);
		s->window_cpu0 = proc_cpu_ns(s->pid);
		s->factor = budget_sample_factor(&s->b);
		return true;
	}
	return false;
}

int sampler_timeout_ms(const struct sampler *s, uint64_t now, int max_ms)
{
	uint64_t next, on_ns;
	enum capture_phase ph;

	if (!s->enabled || !s->phase_start)
		return max_ms;
	ph = capture_get_phase(s->cap);
	on_ns = budget_on_ns(&s->b);
	if (ph == CAPTURE_ALL)
		next = s->phase_start + (s->b.duty < 1.0 ? on_ns : s->b.period_ns);
	else if (ph == CAPTURE_ENDS)
		next = s->phase_start + on_ns + s->drain_ns;
	else
		next = s->phase_start + s->b.period_ns - (s->attach_ns < s->b.period_ns ? s->attach_ns : 0);
	if (next <= now)
		return 0;
	next = (next - now + 999999) / 1000000;
	return next < (uint64_t)max_ms ? (int)next : max_ms;
}

double sampler_factor(const struct sampler *s)
{
	return s->factor;
}
