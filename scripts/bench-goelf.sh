#!/bin/sh
# Time to open a Go binary and resolve every probe target (+ struct offsets + report), best of N runs.
#   scripts/bench-goelf.sh [BINARY] [RUNS]     default: the testbed kube-apiserver (110 MB), 5 runs
set -eu
BIN=${1:-${KAPIMON_CACHE:-/var/cache/kapimon}/kube-apiserver-1.20.2}
RUNS=${2:-5}
cd "$(dirname "$0")/.."
[ -r "$BIN" ] || { echo "bench-goelf: $BIN not found (build it with scripts/build-apiserver.sh or pass a path)" >&2; exit 1; }
make -s build/libkapimon.a >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/bench.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "goelf/resolve.h"
#include "goelf/offsets.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
	int runs = atoi(argv[2]); double best = 1e9, sum = 0; static struct resolved_target res[PT__COUNT];
	for (int i = 0; i < runs; i++) {
		double t0 = now(); struct go_binary *b; char err[512];
		if (gobin_open(argv[1], &b, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
		int ok = goelf_resolve_all(b, res); struct go_offsets o; go_offsets_fill(b, 0, &o);
		double t = now() - t0; size_t nf = gobin_func_count(b); gobin_close(b);
		if (t < best) best = t; sum += t;
		if (i == runs - 1) printf("%s: %zu functions, %d/%d targets resolved\n", argv[1], nf, ok, PT__COUNT);
	}
	printf("open+resolve+offsets: best %.1f ms, mean %.1f ms over %d runs\n", best * 1e3, sum / runs * 1e3, runs);
	return 0;
}
C
cc -O2 -D_GNU_SOURCE -Isrc -Iinclude "$tmp/bench.c" build/libkapimon.a -ldw -lelf -lz -lcapstone -o "$tmp/bench"
"$tmp/bench" "$BIN" "$RUNS"
