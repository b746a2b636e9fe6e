#!/usr/bin/env bash
# An A/A test of `modelgate explore` on a runner whose load changes midway: the scan model
# against a byte-identical copy of itself, with a busy loop on every core started once the
# timing is under way. Identical files must come out "not distinguishable".
#
#   scripts/bench_explore_drift.sh [MODELGATE] [ROUNDS]
#
# MODELGATE defaults to this tree's release build. The busy loops start one second after explore
# says "timing 2 variants interleaved" (mid-run), or, with a build that times the variants one
# after another, when it starts timing the second one. Each round prints the copy's row against
# the reference: p50 and p95 ratios (with their intervals where the build gives them), the
# Holm-adjusted p-values and the verdict.
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
if [[ $# -ge 1 ]]; then
	MG=$1
else
	cargo build --release --bin modelgate
	MG="$TARGET/release/modelgate"
fi
ROUNDS=${2:-3}
WORK=$(mktemp -d)
trap 'touch "$WORK/stop"; rm -rf "$WORK"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
cp models/scan_fp32.onnx "$WORK/a.onnx"
cp models/scan_fp32.onnx "$WORK/b.onnx"

busy() {
	while [[ ! -e "$WORK/stop" ]]; do :; done
}

for round in $(seq "$ROUNDS"); do
	rm -rf "$WORK/out" "$WORK/stop" "$WORK/log"
	touch "$WORK/log"
	(
		until grep -q -e 'variants interleaved' -e 'variant .b.: timing' "$WORK/log"; do
			sleep 0.05
		done
		if grep -q 'variants interleaved' "$WORK/log"; then sleep 1; fi
		for _ in $(seq "$(nproc)"); do busy & done
		wait
	) &
	watcher=$!
	"$MG" explore "$WORK/a.onnx" "$WORK/b.onnx" --model scan --out "$WORK/out" 2>"$WORK/log" >/dev/null || true
	touch "$WORK/stop"
	wait "$watcher" 2>/dev/null || true
	python3 - "$WORK/out/summary.json" "$round" <<'PY'
import json, sys
row = json.load(open(sys.argv[1]))["variants"][1]
def f(key, fmt="{:.3f}"):
    v = row.get(key)
    return "-" if v is None else fmt.format(v)
p50_ci = f"[{f('latency_p50_ci_low')}, {f('latency_p50_ci_high')}]" if "latency_p50_ci_low" in row else ""
p95 = f"p95 x{f('latency_p95_ratio')} [{f('latency_p95_ci_low')}, {f('latency_p95_ci_high')}] p(adj) {f('latency_p95_p_adj', '{:.2g}')}; " if "latency_p95_ratio" in row else ""
p50_p = row.get("latency_p50_p_adj", row.get("latency_p_adj"))
print(f"round {sys.argv[2]}: p50 x{f('latency_p50_ratio')} {p50_ci} p(adj) {p50_p:.2g}; {p95}{row['versus_reference']}")
PY
done
