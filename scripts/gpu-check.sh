#!/usr/bin/env bash
# The GPU check: modelgate on CUDA and TensorRT on a machine with an NVIDIA GPU and no network,
# run once, its output recorded in docs/benchmarks.md (section 10).
#
#   scripts/gpu-check.sh PAYLOAD OUT
#
# PAYLOAD is a folder holding what such a machine lacks:
#   modelgate.xz             a release build of modelgate, xz-compressed
#   ort.tar.xz.part*         onnxruntime-gpu 1.31.1's libonnxruntime.so.1.31.1 and its provider
#                            libraries (cuda, tensorrt, shared) as a tar, xz-compressed, split in
#                            parts (for machines that take files in limited pieces); `cat`
#                            joins them
#   ort.sha256               the parts' SHA-256 sums (optional; checked when present)
#   light_resnet50.onnx      ResNet-50's graph (optional)
# The CUDA 13 libraries the CUDA provider loads (cuBLAS, cuDNN 9, cuFFT, cuRAND, the runtime) are
# taken from the machine's Python packages (nvidia-*), TensorRT's from wherever the loader finds
# libnvinfer. OUT gets the log (log.txt) and every results file modelgate wrote
# (results.tar.gz); the log's last lines say which checks passed.
#
# The payload, made on a machine with network (x86-64 Linux):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 -d wheel onnxruntime-gpu==1.31.1
#   unzip -q wheel/onnxruntime_gpu-*.whl 'onnxruntime/capi/libonnxruntime*' -d wheel
#   (cd wheel/onnxruntime/capi && tar cf - libonnxruntime*) | xz -7 -T2 > ort.tar.xz
#   split -n 4 -d -a 1 ort.tar.xz .gpu/ort.tar.xz.part && (cd .gpu && sha256sum ort.tar.xz.part* > ort.sha256)
#   cargo build --release && xz -9 -c target/release/modelgate > .gpu/modelgate.xz
#
# Where files reach the machine in limited pieces, copy the parts one at a time into one folder
# outside the checkout (`cp .gpu/* /tmp/pl/`) and run this with the last:
# `cp .gpu/* /tmp/pl/ && bash scripts/gpu-check.sh /tmp/pl "$OUT"`.
set -uo pipefail

payload=$(cd "$1" && pwd) || exit 2
out=$2
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1
cd "$(dirname "$0")/.." || exit 2
work=$(mktemp -d)
# Results files go to $res, packed into OUT/results.tar.gz at the end (OUT takes few files).
res="$work/results"
mkdir -p "$res"

echo "== payload"
# The parts arrive in separate transfers: check that all of them did, unchanged.
if [[ -f "$payload/ort.sha256" ]] && ! (cd "$payload" && sha256sum -c ort.sha256); then
	echo "the payload is incomplete; send every part again"
	exit 3
fi
cat "$payload"/ort.tar.xz.part* | python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read()))' | tar x -C "$work"
python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.decompress(open(sys.argv[1],"rb").read()))' "$payload/modelgate.xz" >"$work/modelgate"
chmod +x "$work/modelgate"
MG="$work/modelgate"
ls -la "$work"
export ORT_DYLIB_PATH="$work/libonnxruntime.so.1.31.1"
# Every folder of the Python packages that holds a CUDA library, for the CUDA provider to load.
cuda_dirs=$(python3 - <<'EOF'
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = set()
for root in roots:
    for path in glob.glob(os.path.join(root, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(path))
    for path in glob.glob(os.path.join(root, "tensorrt*", "lib*.so*")):
        dirs.add(os.path.dirname(path))
print(":".join(sorted(dirs)))
EOF
)
export LD_LIBRARY_PATH="$work:$cuda_dirs:${LD_LIBRARY_PATH:-}"
echo "CUDA library folders: $cuda_dirs"
for lib in "$work"/libonnxruntime_providers_*.so; do
	echo "$(basename "$lib"): $(ldd "$lib" | grep -c 'not found') libraries not found"
	ldd "$lib" | grep 'not found'
done
nvidia-smi --query-gpu=name,driver_version,compute_cap,power.draw,clocks.sm,clocks.max.sm,temperature.gpu --format=csv
export MODELGATE_TRT_CACHE="$work/trt-cache"

"$MG" env
status=0
step() {
	echo
	echo "== $*"
	"$@"
	local rc=$?
	echo "(exit $rc)"
	return $rc
}

step "$MG" bench models/resnet_small.onnx --ep cuda --iterations 2000 --json "$res/cuda_resnet_small.json" || status=1
if [[ -f "$payload/light_resnet50.onnx" ]]; then
	step "$MG" bench "$payload/light_resnet50.onnx" --ep cuda --iterations 2000 --json "$res/cuda_resnet50.json" || status=1
	step "$MG" bench "$payload/light_resnet50.onnx" --ep cuda --cuda-graph --iterations 2000 --json "$res/cuda_graph_resnet50.json"
fi
step "$MG" bench models/scan_fp32.onnx --ep cuda --iterations 2000 --json "$res/cuda_scan_fp32.json" || status=1
step "$MG" bench models/scan_fp16.onnx --ep cuda --iterations 2000 --json "$res/cuda_scan_fp16.json"

# TensorRT twice: the second run must find the first one's engine in the cache.
if step "$MG" bench models/resnet_small.onnx --ep tensorrt --iterations 1000 --json "$res/trt1.json"; then
	step "$MG" bench models/resnet_small.onnx --ep tensorrt --iterations 1000 --json "$res/trt2.json"
	step "$MG" bench models/resnet_small.onnx --ep tensorrt --trt-fp16 --iterations 1000 --json "$res/trt_fp16.json"
	ls -laR "$MODELGATE_TRT_CACHE"
fi

# A node the CUDA provider has no kernel for must fail the run, and pass when allowed.
python3 - "$work/cpu_node.onnx" <<'EOF'
import sys
from onnx import TensorProto, helper, save
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 64])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 64])
nodes = [
    helper.make_node("MatMul", ["x", "x"], ["m"], name="matmul_on_gpu"),
    helper.make_node("Det", ["m"], ["d"], name="det"),
    helper.make_node("Mul", ["m", "d"], ["y"], name="scale"),
]
graph = helper.make_graph(nodes, "cpu_node", [x], [y])
# IR version 10: what ONNX Runtime 1.31 reads (a newer onnx package writes a newer one).
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), sys.argv[1])
EOF
step "$MG" bench "$work/cpu_node.onnx" --ep cuda --iterations 200 && status=1
step "$MG" bench "$work/cpu_node.onnx" --ep cuda --allow-cpu-fallback --iterations 200 --json "$res/cuda_fallback.json" || status=1

# The gate on the GPU: resnet_small's A/B against its slower variant, and the scan model in fp32
# and fp16 (its fp16 variant takes fp16 inputs, so it cannot share an A/B with fp32), each
# evaluated on the scan demo's JPEGs through the CUDA provider.
gate_config="$work/gpu-gate.toml"
cat >"$gate_config" <<EOF
[[models]]
name = "resnet"
candidate = "$PWD/models/resnet_small_slow5.onnx"
base_model = "$PWD/models/resnet_small.onnx"

[models.bench]
ep = "cuda"
iterations = 2000
max_time_s = 30
EOF
for precision in 32 16; do
	cat >>"$gate_config" <<EOF

[[models]]
name = "scan$precision"
candidate = "$PWD/models/scan_fp$precision.onnx"

[models.dataset]
path = "$PWD/models/data/scan/test.csv"

[models.preprocess]
preset = "torchvision-imagenet"

[models.postprocess]
activation = "sigmoid"
threshold = 0.5
class_names = ["negative", "positive"]
positive_class = "positive"

[models.bench]
ep = "cuda"
iterations = 2000
max_time_s = 30
EOF
done
step "$MG" gate --config "$gate_config" --allow-new --results-dir "$res/gate" --json "$res/gate.json"

echo
echo "== checks"
python3 - "$res" <<'EOF'
import json, os, sys
out = sys.argv[1]
ok = True
def check(name, cond, detail=""):
    global ok
    ok &= bool(cond)
    print(("PASS" if cond else "FAIL"), name, detail)
def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None
for name in ["cuda_resnet_small.json", "cuda_resnet50.json", "cuda_scan_fp32.json", "gate/resnet.json", "gate/scan32.json", "gate/scan16.json"]:
    r = load(name)
    if r is None:
        check(f"{name}: written", False)
        continue
    b = r["bench"]
    run = b["runs"][0]
    check(f"{name}: provider cuda", b["provider"] == "cuda" and r["environment"]["execution_provider"] == "cuda")
    p = b.get("placement") or {}
    by = p.get("nodes_by_provider", {})
    check(f"{name}: nodes on CUDA, none computing on the CPU", by.get("CUDAExecutionProvider", 0) > 0 and not p.get("cpu_compute_nodes"), json.dumps(by))
    t = run.get("transfer")
    check(f"{name}: H2D / compute / D2H split", t is not None,
          f"h2d {t['h2d_ms']:.4f} ms, compute p50 {run['summary']['p50_ms']:.4f} ms, d2h {t['d2h_ms']:.4f} ms" if t else "")
    g = run.get("gpu")
    if name.startswith("gate/resnet"):
        pass  # the A/B records no GPU telemetry, by design
    elif g is None:
        check(f"{name}: GPU telemetry", False)
    else:
        e = g.get("energy_per_run_mj")
        cross = g.get("power_energy_per_run_mj")
        plausible = e is not None and cross is not None and cross > 0 and 0.5 < e / cross < 2.0
        check(f"{name}: energy per inference plausible (counter vs mean power x time)", plausible,
              f"{e} mJ vs {cross} mJ; " + json.dumps(g)[:500])
    gpu = r["environment"].get("gpu") or {}
    print(f"   {name}: gpu {gpu.get('name')} cc {gpu.get('compute_capability')} driver {gpu.get('driver')} cuda {gpu.get('cuda_driver_version')} tensorrt {gpu.get('tensorrt_version')}; notes {b['notes']}")
fb = load("cuda_fallback.json")
check("fallback allowed: CPU nodes listed", fb is not None and fb["bench"].get("placement", {}).get("cpu_compute_nodes"), json.dumps(fb["bench"].get("placement") if fb else None))
t1, t2 = load("trt1.json"), load("trt2.json")
if t1 is not None and t2 is not None:
    check("TensorRT: first run built the engine", any("built its engine" in n for n in t1["bench"]["notes"]), str(t1["bench"]["notes"]))
    check("TensorRT: second run reused it", any("reused the cached engine" in n for n in t2["bench"]["notes"]), str(t2["bench"]["notes"]))
    print("TensorRT cold start (session + first run, ms):", t1["bench"]["cold_start"], "then", t2["bench"]["cold_start"])
else:
    print("TensorRT: not run here (see its error above)")
for name in ["scan32", "scan16"]:
    s = load(f"gate/{name}.json")
    check(f"{name}: evaluated on the GPU", s is not None and s.get("eval") is not None,
          f"accuracy {s['eval']['metrics']['accuracy']:.4f}, recall {s['eval']['metrics']['positive']['recall']:.4f}, {s['eval']['throughput_samples_per_s']:.0f} samples/s, p50 {s['bench']['runs'][0]['summary']['p50_ms']:.4f} ms" if s and s.get("eval") else "")
g = load("gate.json")
if g:
    for m in g["models"]:
        print("gate:", m["name"], m["verdict"], m["latency_source"].get("kind"), [(c["name"], c["status"]) for c in m["criteria"]])
print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")
EOF
tar czf "$out/results.tar.gz" -C "$res" .
exit $status
