#!/usr/bin/env python3
"""How one model's run times move: `modelgate bench` for N runs, then the spread of a run
(sd of log run time), the lag-1 autocorrelation, and the variance of the mean of blocks of k
consecutive runs against what independent runs would give (1.0 = independent; k = 25 is the
A/B's block). Runs that move in regimes longer than a block make an A/B block pair read the
regime, not the models.

    python3 scripts/run_noise.py --modelgate target/release/modelgate --ort-lib $LIB \\
        MODEL.onnx [--runs 600] [--intra-threads N]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import tempfile


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--modelgate", default="target/release/modelgate")
    p.add_argument("--ort-lib", required=True)
    p.add_argument("--runs", type=int, default=600)
    p.add_argument("--intra-threads", type=int)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [args.modelgate, "--ort-lib", args.ort_lib, "bench", args.model,
               "--iterations", str(args.runs), "--warmup", "20", "--json", out]
        if args.intra_threads:
            cmd += ["--intra-threads", str(args.intra_threads)]
        subprocess.run(cmd, check=True, capture_output=True)
        with open(out) as f:
            samples = json.load(f)["bench"]["runs"][0]["samples_ms"]
    logs = [math.log(v) for v in samples]
    mean, sd = statistics.mean(logs), statistics.stdev(logs)
    lag1 = sum((logs[i] - mean) * (logs[i + 1] - mean)
               for i in range(len(logs) - 1)) / ((len(logs) - 1) * sd * sd)
    threads = args.intra_threads or "default"
    print(f"intra threads {threads}: {len(samples)} runs, median {statistics.median(samples):.2f} ms, "
          f"sd of log run time {100 * sd:.1f} %, lag-1 autocorrelation {lag1:.2f}")
    for k in (5, 25, 100):
        means = [statistics.mean(logs[i:i + k]) for i in range(0, len(logs) - k + 1, k)]
        if len(means) > 2:
            print(f"  blocks of {k:3d} runs: variance of their means / independent runs' = "
                  f"{statistics.variance(means) / (sd * sd / k):.1f}")


if __name__ == "__main__":
    main()
