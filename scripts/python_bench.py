#!/usr/bin/env python3
"""Plain-Python ONNX Runtime latency benchmark, the baseline modelgate is compared with.

Why this exists: modelgate's `bench` numbers are only credible next to what a
user would measure by hand. This is that hand-written loop, kept deliberately
plain: one InferenceSession, random inputs of the right shapes and types made
once (symbolic dims set to 1), a warmup, then `perf_counter_ns` around each
`sess.run`. It reports p50 / mean / min latency in microseconds.

    python scripts/python_bench.py models/resnet_small.onnx --iterations 500 --threads 1
    python scripts/python_bench.py models/tiny.onnx --json out.json
"""

import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort

NP_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}


def concrete_shape(shape):
    """Symbolic or unknown dims (strings, None, negative) become 1."""
    return [d if isinstance(d, int) and d > 0 else 1 for d in shape]


def random_input(node_arg, rng):
    """A random tensor matching one model input's element type and shape."""
    if node_arg.type not in NP_TYPES:
        raise SystemExit(f"unsupported input type {node_arg.type} for input {node_arg.name!r}")
    shape = concrete_shape(node_arg.shape)
    dtype = NP_TYPES[node_arg.type]
    if dtype is object:
        return np.full(shape, "modelgate", dtype=object)
    if dtype is np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.random(shape).astype(dtype)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plain Python onnxruntime latency loop.")
    parser.add_argument("model", help="path to an .onnx file")
    parser.add_argument("--iterations", type=int, default=200, help="timed runs (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first (default 20)")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads; 0 = onnxruntime default (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random inputs")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 0:
        parser.error("--iterations must be >= 1 and --warmup >= 0")

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])

    rng = np.random.default_rng(args.seed)
    feeds = {i.name: random_input(i, rng) for i in sess.get_inputs()}

    for _ in range(args.warmup):
        sess.run(None, feeds)
    samples = []
    for _ in range(args.iterations):
        t0 = time.perf_counter_ns()
        sess.run(None, feeds)
        samples.append(time.perf_counter_ns() - t0)

    us = np.array(samples, dtype=np.float64) / 1e3
    result = {
        "model": args.model,
        "onnxruntime": ort.__version__,
        "threads": args.threads,
        "warmup": args.warmup,
        "n": len(samples),
        "p50_us": float(np.median(us)),
        "mean_us": float(us.mean()),
        "min_us": float(us.min()),
    }
    print(f"{args.model}: n={result['n']} p50={result['p50_us']:.1f} us "
          f"mean={result['mean_us']:.1f} us min={result['min_us']:.1f} us")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
