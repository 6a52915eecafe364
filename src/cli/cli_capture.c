// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli/cli_capture.h"

#include <string.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "util/log.h"

volatile sig_atomic_t cli_exiting;
static bool force_on_second;

static void on_signal(int sig)
{
	if (cli_exiting && force_on_second)
		_exit(130);
	cli_exiting = 1;
}

void cli_signals_install(bool second_forces_exit)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	force_on_second = second_forces_exit;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_find_apiserver(long *pid)
{
	pid_t found[8];
	int n;

	if (*pid > 0)
		return 0;
	n = doctor_find_procs("/proc", "kube-apiserver", found, 8);
	if (n <= 0) {
		p_err("no running kube-apiserver found; use --pid");
		return 1;
	}
	if (n > 1) {
		p_err("%d kube-apiserver processes are running; choose one with --pid", n);
		return 1;
	}
	*pid = found[0];
	return 0;
}

uint64_t cli_now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int64_t cli_mono_to_wall(void)
{
	return (int64_t)(cli_now_ns(CLOCK_REALTIME) - cli_now_ns(CLOCK_MONOTONIC));
}

double cli_hits_per_request(const struct capture_stats *cs, const struct asm_stats *as)
{
	uint64_t seen = as->finished + as->unmatched_end;

	if (!seen)
		return 0;
	return (double)kp_request_path_hits(cs->hits) / (double)seen;
}
