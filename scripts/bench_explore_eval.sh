#!/usr/bin/env bash
# Times `modelgate explore`'s evaluation of the scan demo's five variants, which reads and
# preprocesses each sample once for all of them, against `modelgate eval` of one variant.
#
#   scripts/bench_explore_eval.sh [COUNT] [PYTHON] [MODELGATE] [LABEL]
#
# Two datasets: the demo's own 360 test scans (small JPEGs: inference is the slower stage), and
# COUNT of them upscaled to 1024x1024 (q90; decoding is the slower stage), with their labels and
# sites. PYTHON needs Pillow. Prints one line per dataset: one variant's evaluation (its eval
# wall time), the five one after another (the sum of five such), and the five together
# (explore's "evaluated 5 variants in" line, sessions opened included), each as a multiple of one.
# LABEL names the build in the output. explore's own verdict (exit 1 when no variant meets the
# model's floors, as a small COUNT can make happen) does not stop the timing.
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${1:-150}
PYTHON=${2:-python3}
MODELGATE=${3:-target/release/modelgate}
LABEL=${4:-$MODELGATE}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/big/test"
"$PYTHON" - "$WORK/big" "$COUNT" <<'PY'
import csv, sys
from PIL import Image
out, count = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open("models/data/scan/test.csv")))[:count]
with open(f"{out}/test.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "label", "site"])
    for r in rows:
        image = Image.open("models/data/scan/" + r["path"]).convert("RGB")
        image.resize((1024, 1024), Image.BICUBIC).save(f"{out}/{r['path']}", quality=90)
        w.writerow([r["path"], r["label"], r["site"]])
PY

FILES=(models/scan_fp32.onnx models/scan_fp16.onnx models/scan_int8.onnx models/scan_lowrecall.onnx models/scan_sitedrop.onnx)
for data in models/data/scan/test.csv "$WORK/big/test.csv"; do
    "$MODELGATE" eval models/scan_fp32.onnx --config modelgate.toml --model-name scan \
        --dataset "$data" --json "$WORK/one.json" > /dev/null 2>&1
    one=$("$PYTHON" -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["eval"]["wall_time_s"], 2))' "$WORK/one.json")
    # One after another, each reading the data itself (as explore did before it shared them).
    turns=0
    for file in "${FILES[@]}"; do
        "$MODELGATE" eval "$file" --config modelgate.toml --model-name scan \
            --dataset "$data" --json "$WORK/turn.json" > /dev/null 2>&1
        turns=$("$PYTHON" -c 'import json,sys; print(float(sys.argv[2]) + json.load(open(sys.argv[1]))["eval"]["wall_time_s"])' "$WORK/turn.json" "$turns")
    done
    five=$("$MODELGATE" explore --model scan "${FILES[@]}" --dataset "$data" --out "$WORK/explore" 2>&1 \
        | sed -n 's/^evaluated 5 variants in \([0-9.]*\) s$/\1/p' || true)
    n=$(($(wc -l < "$data") - 1))
    echo "$LABEL: $n samples ($(basename "$(dirname "$data")")): one variant ${one} s; five one after another $("$PYTHON" -c "print(round($turns, 2))") s ($("$PYTHON" -c "print(round($turns / $one, 2))")x); five together ${five} s ($("$PYTHON" -c "print(round($five / $one, 2))")x)"
done
