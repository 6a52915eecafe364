#!/usr/bin/env bash
# kapimon doctor on the real host and the testbed's kube-apiserver. Every expectation comes from an
# independent source: bpftool loading clang-built programs (fentry vs a tracepoint control), the
# PMU directories, `go version` and readelf on the apiserver binary.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

PID=$KAPIMON_APISERVER_PID
BIN=$(readlink "/proc/$PID/exe")

# --- doctor -j: host features -------------------------------------------------------------------
json=$("$KAPIMON" doctor -j)
rc=$?
check_eq "doctor -j exits 0 (kapimon can run here)" 0 "$rc"
check "doctor -j prints one valid JSON object" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$json"
check_eq "can_run is true" true "$(json_get "$json" 'd["can_run"]')"
check_eq "privileges OK as root" true "$(json_get "$json" 'd["features"]["privileges"]')"
check_eq "BTF found" "$([ -r /sys/kernel/btf/vmlinux ] && echo true || echo false)" \
	"$(json_get "$json" 'd["features"]["btf"]')"
check_eq "tracefs available (mounted if it was not)" true "$(json_get "$json" 'd["features"]["tracefs"]')"
check "tracefs really is mounted now" grep -q ' tracefs ' /proc/mounts

# kprobes: the PMU (or legacy kprobe_events) is the ground truth.
if [ -e /sys/bus/event_source/devices/kprobe ] || [ -e /sys/kernel/tracing/kprobe_events ]; then want=true; else want=false; fi
check_eq "kprobe reported as the kernel has it ($want)" "$want" "$(json_get "$json" 'd["features"]["kprobe"]')"
if [ -e /sys/bus/event_source/devices/uprobe ]; then want=true; else want=false; fi
check_eq "uprobe reported as the kernel has it ($want)" "$want" "$(json_get "$json" 'd["features"]["uprobe"]')"
check_eq "ring buffer OK" true "$(json_get "$json" 'd["features"]["ringbuf"]')"

# fentry and tracepoints: ask bpftool to load clang-built programs of both kinds. The tracepoint
# program is the control: if it does not load, the oracle itself is broken.
work=$(mktemp -d)
bpffs=$work/bpffs
mkdir -p "$bpffs"
cat >"$work/fentry.bpf.c" <<'EOF'
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
char LICENSE[] SEC("license") = "GPL";
SEC("fentry/vfs_read")
int BPF_PROG(kapimon_test_fentry) { return 0; }
EOF
cat >"$work/tp.bpf.c" <<'EOF'
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("tracepoint/syscalls/sys_enter_getppid")
int kapimon_test_tp(void *ctx) { return 0; }
EOF
oracle=ok
for p in fentry tp; do
	clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$KAPIMON_ROOT/vmlinux" -c "$work/$p.bpf.c" -o "$work/$p.o" ||
		oracle=broken
done
if [ "$oracle" = ok ] && mount -t bpf bpf "$bpffs"; then
	if bpftool prog load "$work/tp.o" "$bpffs/tp" >/dev/null 2>&1; then tp_loads=true; else tp_loads=false; fi
	if bpftool prog load "$work/fentry.o" "$bpffs/fentry" >/dev/null 2>&1; then fentry_loads=true; else fentry_loads=false; fi
	umount "$bpffs"
	check_eq "oracle: bpftool loads a tracepoint program (control)" true "$tp_loads"
	check_eq "tracepoint reported as bpftool finds it ($tp_loads)" "$tp_loads" \
		"$(json_get "$json" 'd["features"]["tracepoint"]')"
	check_eq "fentry reported as bpftool finds it ($fentry_loads)" "$fentry_loads" \
		"$(json_get "$json" 'd["features"]["fentry"]')"
else
	_fail "oracle: build clang programs and mount a private bpffs" "clang or mount -t bpf failed"
fi
rm -rf "$work"

# Missing optional features are explained, with what kapimon uses instead.
for f in kprobe fentry; do
	if [ "$(json_get "$json" "d['features']['$f']")" = false ]; then
		detail=$(json_get "$json" "[c for c in d['checks'] if c['name'] == '$f'][0]")
		check_contains "$f MISSING is optional" '"required": false' "$detail"
		check_contains "$f MISSING says kapimon uses uprobes instead" "uprobes" "$detail"
		check_contains "$f MISSING says kapimon uses tracepoints instead" "tracepoints" "$detail"
	fi
done
check_eq "uses uprobes and tracepoints" '["uprobe", "tracepoint"]' "$(json_get "$json" 'd["uses"]')"

# --- kernel floor: the features kapimon's own programs use -----------------------------------
# Independent oracles: llvm-objdump disassembles the BPF objects (helper call instructions), and
# bpftool probes this kernel's program types, map types and helpers on its own.
check_eq "doctor states the kernel floor (ring buffers: 5.8)" 5.8 "$(json_get "$json" 'd["kernel"]["floor"]')"
check_eq "every feature kapimon's programs use is present here" true "$(json_get "$json" 'd["kernel"]["features_ok"]')"
check_eq "kapimon's BPF objects load here" "[true, true, true]" \
	"$(json_get "$json" '[o["loaded"] for o in d["bpf_objects"]]')"
objs=("$KAPIMON_ROOT"/build/bpf/*.bpf.o)
want=$(for o in "${objs[@]}"; do llvm-objdump -d "$o"; done |
	awk 'NF >= 2 && $(NF-1) == "call" && $NF ~ /^[0-9]+$/ {print $NF}' | sort -nu | tr '\n' ' ')
got=$(json_get "$json" '" ".join(str(i) for i in sorted({f["id"] for f in d["bpf_features"] if f["kind"] == "helper"})) + " "')
check_eq "helpers doctor read from the objects = llvm-objdump's call instructions (${#objs[@]} objects)" "$want" "$got"
check_eq "no program calls bpf_get_attach_cookie (174, kernel 5.15)" "" "$(grep -ow 174 <<<"$got")"
bpftool_json=$(bpftool feature probe kernel -j 2>/dev/null)
if [ -n "$bpftool_json" ]; then
	disagree=$(python3 - "$json" "$bpftool_json" <<'PY'
import json, sys
d, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bad = []
# bpftool (like libbpf's probe API) cannot probe tracing programs without an attach target and says
# false: doctor judges them by loading kapimon's own tp_btf programs, so the oracle is that load
conn = [o for o in d["bpf_objects"] if o["name"] == "conn"]
tp_btf = bool(conn) and conn[0].get("variant") == "tp_btf"
for f in d["bpf_features"]:
    if (f["kind"] == "program type" and f["name"].split()[0] == "tracing") or f.get("prog_type") == "tracing":
        if (f["status"] == "OK") != tp_btf:
            bad.append("%s %s (tracing): doctor %s, conn variant %s" % (f["kind"], f["name"], f["status"],
                                                                       conn[0].get("variant") if conn else None))
        continue
    if f["kind"] == "program type":
        have = b["program_types"].get("have_%s_prog_type" % f["name"].split()[0])
    elif f["kind"] == "map type":
        have = b["map_types"].get("have_%s_map_type" % f["name"])
    elif f["kind"] == "helper":
        have = f["name"] in b["helpers"].get("%s_available_helpers" % f["prog_type"], [])
    else:
        continue
    if have is None or have != (f["status"] == "OK"):
        bad.append("%s %s: doctor %s, bpftool %s" % (f["kind"], f["name"], f["status"], have))
print("; ".join(bad))
PY
)
	check_eq "doctor's probes agree with bpftool feature probe (program types, map types, helpers)" "" "$disagree"
else
	_fail "oracle: bpftool feature probe kernel -j" "no output"
fi
text=$("$KAPIMON" doctor)
check "text: the kernel floor in the first line" grep -qE "^kapimon doctor: kernel .*kernel floor: 5\.8" <<<"$text"
check "text: features OK line names the floor" grep -qE '^  OK +features +kernel floor 5\.8' <<<"$text"
check "text: the ring buffer map type is listed with its version" grep -qE '^  OK +map type +ringbuf +5\.8 ' <<<"$text"
check_ge "-v -v shows libbpf's debug output (its object loads)" 3 \
	"$("$KAPIMON" -v -v doctor 2>&1 >/dev/null | grep -c '^libbpf: loading object')"
check_eq "-v alone does not" 0 "$("$KAPIMON" -v doctor 2>&1 >/dev/null | grep -c '^libbpf: loading object')"

# --- discovery: the testbed apiserver is found by executable name --------------------------------
want_go=$(go version "$BIN" | awk '{print $NF}')
check_contains "oracle: go version reads the apiserver's Go version" "go1.19" "$want_go"
sections=$(readelf -S -W "$BIN" | grep -cE ' \.symtab | \.debug_info ')
proc=$(json_get "$json" "[p for p in d['processes'] if p['pid'] == $PID]")
check_contains "discovery finds the testbed apiserver (pid $PID)" "\"pid\": $PID" "$proc"
check_contains "discovered as kube-apiserver" '"kube_apiserver": true' "$proc"
check_contains "discovered Go version = go version's ($want_go)" "\"go_version\": \"$want_go\"" "$proc"
check_eq "oracle: readelf finds no .symtab/.debug_info" 0 "$sections"
check_contains "discovered binary is stripped" '"stripped": true' "$proc"

# --- --pid -----------------------------------------------------------------------------------
json=$("$KAPIMON" doctor -j --pid "$PID")
check_eq "doctor -j --pid exits 0" 0 "$?"
check_eq "--pid reports exactly that process" "[$PID]" "$(json_get "$json" '[p["pid"] for p in d["processes"]]')"
check_eq "--pid Go version" "$want_go" "$(json_get "$json" 'd["processes"][0]["go_version"]')"
check_eq "--pid stripped" true "$(json_get "$json" 'd["processes"][0]["stripped"]')"
check_eq "--pid has no .symtab" false "$(json_get "$json" 'd["processes"][0]["has_symtab"]')"
check_eq "--pid exe is the apiserver binary" "$BIN" "$(json_get "$json" 'd["processes"][0]["exe"]')"
check_ge "--pid lists functions from .gopclntab" 10000 "$(json_get "$json" 'd["processes"][0]["functions"]')"
# goelf's probe-target report is attached for --pid: its count agrees with its own target list, and
# net/http's HTTP/1 functions exist in every Go HTTP server.
nres=$(json_get "$json" 'd["processes"][0]["probe_targets_resolved"]')
check_ge "--pid resolves probe targets" 1 "$nres"
check_eq "--pid resolved count = ok targets in probe_report" "$nres" \
	"$(json_get "$json" 'len([t for t in d["processes"][0]["probe_report"]["targets"] if t["ok"]])')"
check_eq "--pid probe_report: net/http targets resolved" true \
	"$(json_get "$json" 'all(t["ok"] for t in d["processes"][0]["probe_report"]["targets"] if t["group"] == "http1")')"

# The probe plan: doctor prints the plan record executes. record's "attached" line is "pid N " + the
# plan's summary; record -v prints the whole plan, the same text as doctor's.
plan_sum=$(json_get "$json" 'd["processes"][0]["plan"]["summary"]')
check_contains "--pid plan: the groups that attach" "uprobes (" "$plan_sum"
rec_err=$(mktemp)
"$KAPIMON" record -v --pid "$PID" --duration 1 --stats-interval 0 -o /dev/null 2>"$rec_err"
check_eq "record --duration 1 exits 0" 0 "$?"
check_contains "record's attached line is doctor's plan" "attached: pid $PID $plan_sum" "$(cat "$rec_err")"
doc_plan=$("$KAPIMON" doctor --pid "$PID" | sed -n '/^probe plan for/,/^probe targets of/p' | sed '1d;$d' | sed 's/^    //')
rec_plan=$(grep -E '^kapimon: (plan: |  )' "$rec_err" | sed 's/^kapimon: //')
check_eq "record -v prints doctor's plan" "$doc_plan" "$rec_plan"
rm -f "$rec_err"

# --- --binary, text output, errors --------------------------------------------------------------
json=$("$KAPIMON" doctor -j --binary "$BIN")
check_eq "--binary Go version" "$want_go" "$(json_get "$json" 'd["binaries"][0]["go_version"]')"
check_eq "--binary reports no process" "[]" "$(json_get "$json" 'd["processes"]')"

text=$("$KAPIMON" doctor --pid "$PID")
check_eq "text doctor exits 0" 0 "$?"
check "text: one OK line for uprobes" grep -qE '^  OK +uprobe ' <<<"$text"
check "text: one OK line for tracepoints" grep -qE '^  OK +tracepoint ' <<<"$text"
check "text: the apiserver line" grep -qE "^  OK +pid $PID +$BIN: $want_go, stripped" <<<"$text"
check "text: verdict" grep -q '^result: kapimon can run here' <<<"$text"
check "text: probe targets listed" grep -qE "^probe targets of $BIN \(pid $PID\):" <<<"$text"
if [ "$(json_get "$("$KAPIMON" doctor -j)" 'd["features"]["kprobe"]')" = false ]; then
	check "text: kprobe MISSING [optional]" grep -qE '^  MISSING +kprobe .*\[optional\]$' <<<"$text"
fi

# A pid that does not exist: cannot run on it (exit 1). Find one that is free right now.
gone=4194000
while [ -e "/proc/$gone" ]; do gone=$((gone + 1)); done
"$KAPIMON" doctor -j --pid "$gone" >/dev/null 2>&1
check_eq "--pid of a missing process exits 1" 1 "$?"
"$KAPIMON" doctor --pid nope >/dev/null 2>&1
check_eq "--pid garbage is a usage error (2)" 2 "$?"
"$KAPIMON" doctor --binary /etc/hostname >/dev/null 2>&1
check_eq "--binary of a non-Go file exits 1" 1 "$?"

finish
