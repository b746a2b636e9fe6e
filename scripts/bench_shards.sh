#!/usr/bin/env bash
# Times the gate's evaluation of a large labeled set in one run and in shards run one after
# another (each shard's time and the merge's own), checks that the merged records equal the
# single run's, and measures the peak memory of `modelgate eval` at a tenth of the set and at
# all of it.
#
#   scripts/bench_shards.sh [COUNT] [SHARDS]
#
# The set: the scan demo's 360 test JPEGs (models/data/scan/test) hard-linked into a temporary
# folder as COUNT distinct files (copyNN/0021.jpg ...), with a manifest keeping each image's label
# and site; the scan model evaluated through torchvision-imagenet preprocessing in batches of 64
# on one intra-op thread, as modelgate.toml configures it. The single run is `gate --shard 1/1`
# (measure and write, no verdict), so both sides do the same work: a short bench of the model on
# the latency shard, then the evaluation, whose wall time the results file records.
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${1:-10000}
SHARDS=${2:-4}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --bin modelgate
MG="$TARGET/release/modelgate"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$WORK" "$COUNT" <<'EOF'
import csv, os, sys
work, count = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open("models/data/scan/test.csv")))
for name, n in (("small", max(count // 10, 1)), ("large", count)):
    folder = os.path.join(work, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "test.csv"), "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["path", "label", "site"])
        for i in range(n):
            row = rows[i % len(rows)]
            path = f"copy{i // len(rows):02d}/{os.path.basename(row['path'])}"
            os.makedirs(os.path.join(folder, os.path.dirname(path)), exist_ok=True)
            os.link(os.path.join("models/data/scan", row["path"]), os.path.join(folder, path))
            writer.writerow([path, row["label"], row["site"]])
EOF
cp models/scan_fp32.onnx "$WORK/scan_fp32.onnx"
cat >"$WORK/modelgate.toml" <<'EOF'
[[models]]
name = "scan"
candidate = "scan_fp32.onnx"

[models.dataset]
path = "large/test.csv"
slices = ["site"]

[models.preprocess]
preset = "torchvision-imagenet"

[models.postprocess]
activation = "sigmoid"
threshold = 0.5
class_names = ["negative", "positive"]
positive_class = "positive"

[models.bench]
iterations = 300
max_time_s = 5
intra_threads = 1
EOF

# Wall seconds and peak RSS (KiB) of a command, appended to $WORK/time.
timed() {
	/usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || {
		cat "$WORK/stderr"
		exit 1
	}
	cat "$WORK/time"
}
eval_s() { python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["eval"]["wall_time_s"])' "$1"; }

echo
echo "| run | samples | eval phase (s) | whole command (s) | peak RSS (MiB) |"
echo "| --- | ---: | ---: | ---: | ---: |"
read -r wall rss < <(timed "$MG" gate --config "$WORK/modelgate.toml" --shard 1/1 --results-dir "$WORK/whole")
samples=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["eval"]["samples"]))' "$WORK/whole/scan.json")
echo "| unsharded | $samples | $(eval_s "$WORK/whole/scan.json") | $wall | $((rss / 1024)) |"
dirs=()
for k in $(seq 1 "$SHARDS"); do
	read -r wall rss < <(timed "$MG" gate --config "$WORK/modelgate.toml" --shard "$k/$SHARDS" --results-dir "$WORK/shard$k")
	dirs+=("$WORK/shard$k")
	samples=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["eval"]["samples"]))' "$WORK/shard$k/scan.json")
	echo "| shard $k/$SHARDS | $samples | $(eval_s "$WORK/shard$k/scan.json") | $wall | $((rss / 1024)) |"
done
read -r wall rss < <(timed "$MG" merge "${dirs[@]}" --out "$WORK/merged")
echo "| merge | $COUNT | | $wall | $((rss / 1024)) |"
python3 - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
whole = json.load(open(f"{work}/whole/scan.json"))["eval"]
merged = json.load(open(f"{work}/merged/scan.json"))["eval"]
key = lambda r: r["id"]
same = sorted(whole["samples"], key=key) == sorted(merged["samples"], key=key)
print(f"\nmerged records equal the unsharded run's: {same}; metrics equal: {whole['metrics'] == merged['metrics']}")
sys.exit(0 if same and whole["metrics"] == merged["metrics"] else 1)
EOF

echo
echo "| modelgate eval | samples | wall (s) | peak RSS (MiB) |"
echo "| --- | ---: | ---: | ---: |"
for set in small large; do
	n=$(($(wc -l <"$WORK/$set/test.csv") - 1))
	read -r wall rss < <(timed "$MG" eval "$WORK/scan_fp32.onnx" --config "$WORK/modelgate.toml" --model-name scan --dataset "$WORK/$set/test.csv")
	echo "| $set | $n | $wall | $((rss / 1024)) |"
done
