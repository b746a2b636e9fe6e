#!/usr/bin/env bash
# Times modelgate's image preprocessing against Python (Pillow + numpy) on the same JPEGs.
#
# Why this exists: the claim that modelgate preprocesses images faster than the Python a
# torchvision user writes, while giving the same pixels (src/data/preprocess/parity_tests.rs), needs
# one command that makes the images and times both sides in the same run on the same machine.
#
#   scripts/bench_preprocess.sh [COUNT] [PYTHON] [MODELGATE_TARGET_DIR]
#
# COUNT JPEGs of 1024x1024 (q90, 4:2:0, cut from scikit-learn's sample photographs) are made in
# a temporary folder, removed at the end. Each side runs 3 repetitions over all of them at
# torchvision-imagenet settings (Resize(256), CenterCrop(224), ToTensor, Normalize); the table
# gives the median samples/s. modelgate runs with rayon on every core and on one; Python runs in
# one process, as a plain torchvision loop does. Decoding alone is timed too (modelgate's
# libjpeg-turbo, the image crate's decoder, Pillow), on one thread each.
# IMAGES=DIR reuses a folder made by an earlier run (`bench_preprocess.py make DIR`).
# The whole pipeline is timed too: `modelgate eval` of MODEL (default the scan demo,
# models/scan_fp32.onnx) on every file against the same transform, batches of 64 through
# onnxruntime, sigmoid and threshold in Python. FEATURES=jpeg-simd builds modelgate with
# libjpeg-turbo's SIMD (needs nasm), as release binaries are built.
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${1:-1000}
PYTHON=${2:-python3}
TARGET=${3:-${CARGO_TARGET_DIR:-target}}
REPS=3
BENCH="$TARGET/release/examples/preprocess_bench"
MODELGATE="$TARGET/release/modelgate"
MODEL=${MODEL:-models/scan_fp32.onnx}
FEATURES=${FEATURES:-}

CARGO_TARGET_DIR="$TARGET" cargo build --release --features "$FEATURES" --example preprocess_bench --bin modelgate
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" -c 'import PIL, numpy; from PIL import features; print("Pillow", PIL.__version__, "libjpeg-turbo", features.version("libjpeg_turbo"), "numpy", numpy.__version__)'

IMAGES=${IMAGES:-$WORK/images}
if [ ! -d "$IMAGES" ]; then
    echo "making $COUNT JPEGs of 1024x1024"
    "$PYTHON" scripts/bench_preprocess.py make "$IMAGES" --count "$COUNT"
fi
echo "$(find "$IMAGES" -name '*.jpg' | wc -l) files, $(du -sh "$IMAGES" | cut -f1)"

# One warm pass so both sides read the files from the page cache.
cat "$IMAGES"/*.jpg > /dev/null
"$BENCH" "$IMAGES" --reps "$REPS" | tee -a "$RESULTS"
"$BENCH" "$IMAGES" --reps "$REPS" --threads 1 | tee -a "$RESULTS"
"$PYTHON" scripts/bench_preprocess.py time "$IMAGES" --reps "$REPS" | tee -a "$RESULTS"
for stage in decode decode-image-crate; do
    "$BENCH" "$IMAGES" --reps "$REPS" --threads 1 --stage "$stage" | tee -a "$RESULTS"
done
"$PYTHON" scripts/bench_preprocess.py time "$IMAGES" --reps "$REPS" --stage decode | tee -a "$RESULTS"

# The whole pipeline: decode, transform, model, postprocess.
[ -f "$IMAGES/manifest.csv" ] || "$PYTHON" scripts/bench_preprocess.py manifest "$IMAGES"
for rep in $(seq 0 $((REPS - 1))); do
    rm -f "$WORK/eval.json"
    "$MODELGATE" eval "$MODEL" --dataset "$IMAGES/manifest.csv" --preset torchvision-imagenet \
        --activation sigmoid --class-names negative,positive --json "$WORK/eval.json" > /dev/null
    "$PYTHON" scripts/bench_preprocess.py eval-line "$WORK/eval.json" --rep "$rep" | tee -a "$RESULTS"
done
"$PYTHON" scripts/bench_preprocess.py time "$IMAGES" --reps "$REPS" --stage pipeline --model "$MODEL" | tee -a "$RESULTS"

"$PYTHON" scripts/bench_preprocess.py summary "$RESULTS"
