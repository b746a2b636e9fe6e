#!/usr/bin/env bash
# Reproduces the modelgate-vs-Python figures of docs/benchmarks.md (1, 2 and 3) in one go.
#
# Why this exists: those figures are ratios measured side by side on one machine, and they are
# only comparable when every one of them is taken the same way, with the same ONNX Runtime
# library for both tools and one intra-op thread. This script fixes those choices.
#
#   scripts/compare_python.sh [ORT_LIB] [PYTHON] [MODELGATE_TARGET_DIR]
#
# ORT_LIB defaults to the library inside PYTHON's onnxruntime package, so both tools load the
# same file. The gate study (figure 4) takes about an hour; run it separately (see the doc).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${2:-python3}
ORT_LIB=${1:-$("$PYTHON" -c 'import glob, os, onnxruntime; print(sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*")))[0])')}
TARGET=${3:-${CARGO_TARGET_DIR:-target}}
MG="$TARGET/release/modelgate"

CARGO_TARGET_DIR="$TARGET" cargo build --release --examples
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "onnxruntime: $ORT_LIB"

echo "## 1. bench p50, tiny.onnx"
python3 scripts/study.py latency --modelgate "$MG" --ort-lib "$ORT_LIB" --python "$PYTHON" \
    --model models/tiny.onnx --iterations 20000 --warmup 200
if [ -f ../shared/onnx-light/light_resnet50.onnx ]; then
    echo "## 1. bench p50, light_resnet50.onnx"
    python3 scripts/study.py latency --modelgate "$MG" --ort-lib "$ORT_LIB" --python "$PYTHON" \
        --model ../shared/onnx-light/light_resnet50.onnx --iterations 200 --warmup 20
fi

echo "## 2. harness overhead per run"
"$TARGET/release/examples/harness_overhead" --ort-lib "$ORT_LIB" --model models/tiny.onnx

echo "## 3. eval throughput and agreement"
python3 scripts/study.py eval --modelgate "$MG" --ort-lib "$ORT_LIB" --python "$PYTHON"
