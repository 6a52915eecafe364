#!/usr/bin/env bash
# What a uprobe hit costs depending on the instruction it sits on. A Go function with a frame is
# called in a loop (scripts/probe-site/loop.go); an empty BPF program is attached at its entry (the
# stack check's CMP), at the stack check's JBE, at the SUB after it and at its RET. The kernel
# emulates jumps and CALLs but single-steps most other instructions out of line: that is why kapimon
# probes JBEs and CALL sites (docs/capture.md). Needs root. A benchmark: it asserts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT_DIR:-$root/build/bench-probe-site}
N=${BENCH_CALLS:-200000}
mkdir -p "$out"
(cd "$here/probe-site" && GO111MODULE=off GOFLAGS= go build -o "$out/loop" loop.go)
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$root/vmlinux" -c "$here/probe-site/empty.bpf.c" -o "$out/empty.bpf.o"
cc -O2 "$here/probe-site/attach.c" -o "$out/attach" -lbpf
dis=$(go tool objdump -s '^main.target$' "$out/loop")
# text is mapped at 0x400000 with file offset 0 in Go's ELF layout: file offset = vaddr - 0x400000
site() { echo "$dis" | awk -v m="$1" '$4 ~ m {print $2; exit}'; }
declare -A sites=([entry_CMP]=$(site '^CMPQ') [JBE]=$(site '^JBE') [SUBQ]=$(site '^SUBQ') [RET]=$(site '^RET'))
echo "bench-probe-site: $(go version | awk '{print $3}'), $N calls of main.target, kernel $(uname -r)"
printf '%-12s %-10s %s\n' site vaddr "ns per call"
printf '%-12s %-10s %s\n' none - "$("$out/loop" "$N")"
for s in entry_CMP JBE SUBQ RET; do
	va=${sites[$s]}
	printf '%-12s %-10s %s\n' "$s" "$va" "$("$out/attach" "$out/empty.bpf.o" "$out/loop" $((va - 0x400000)) "$out/loop" "$N")"
done
