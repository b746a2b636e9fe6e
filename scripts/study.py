#!/usr/bin/env python3
"""Measure modelgate against plain Python, and the gate's false-fail and detection rates.

Why this exists: the figures in docs/benchmarks.md must be reproducible by one
command each, and a ratio measured on a busy machine is only honest when both
tools run side by side, interleaved, with medians over rounds. This script
drives the modelgate binary (and the plain-Python baselines in scripts/) and
prints markdown tables. Python 3 standard library only; the Python baselines
run under the interpreter given by --python (it needs onnxruntime, numpy, pillow).

    # 1. bench p50, modelgate vs a plain Python loop (interleaved rounds, medians)
    python3 scripts/study.py latency --modelgate BIN --ort-lib LIB --python PY \\
        --model models/tiny.onnx --iterations 20000
    # 3. eval throughput vs Python, and per-sample agreement of the predictions
    python3 scripts/study.py eval --modelgate BIN --ort-lib LIB --python PY
    # 4. the gate study: A/A and A/B gate runs (slow; run it in the background); --python
    #    needs numpy and onnx to build the graded variants; --noisy adds a neighbour busy on
    #    one core for a random 0.2-2 s, then idle as long
    python3 scripts/study.py gate --modelgate BIN --ort-lib LIB --python PY --runs 40 \
        --tolerance 2 --scenario "A/A resnet" --scenario "A/B resnet 1.0" --out study.jsonl
    python3 scripts/study.py gate-report study.jsonl
    # 5. the A/B's own p95 against bench's p95 of the same model, same minute
    python3 scripts/study.py fairness --modelgate BIN --ort-lib LIB --model models/resnet_small.onnx
    # do one gate run's slowest samples come in bursts? (DIR from gate --results-dir)
    python3 scripts/study.py tail-clusters DIR

latency and eval take --rounds (default 5); the gate study appends one JSON
line per gate run to --out and resumes where a previous call stopped.
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, check=True):
    """Runs a command, returns (exit code, stdout); a failure shows the command and its stderr."""
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if check and proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return proc.returncode, proc.stdout


def read_json(path):
    with open(path) as f:
        return json.load(f)


def median(values):
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- 1. bench p50


def latency(args):
    """modelgate bench's p50 against python_bench.py's, interleaved; the order flips each round."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        for rnd in range(1, args.rounds + 1):
            mg_cmd = [args.modelgate, "--ort-lib", args.ort_lib, "bench", args.model,
                      "--iterations", str(args.iterations), "--warmup", str(args.warmup),
                      "--intra-threads", str(args.threads), "--json", out]
            py_cmd = [args.python, "scripts/python_bench.py", args.model,
                      "--iterations", str(args.iterations), "--warmup", str(args.warmup),
                      "--threads", str(args.threads), "--json", out]

            def modelgate_p50_us():
                run(mg_cmd)
                return read_json(out)["bench"]["runs"][0]["summary"]["p50_ms"] * 1000.0

            def python_p50_us():
                run(py_cmd)
                return read_json(out)["p50_us"]

            if rnd % 2 == 1:
                mg = modelgate_p50_us()
                py = python_p50_us()
            else:
                py = python_p50_us()
                mg = modelgate_p50_us()
            rows.append((mg, py, mg / py))
            print(f"round {rnd}: modelgate {mg:.2f} us, python {py:.2f} us, ratio {mg / py:.3f}",
                  file=sys.stderr)
        print(f"\n`{' '.join(mg_cmd[:-2])}` vs `{' '.join(py_cmd[:-2])}`\n")
    print("| round | modelgate p50 (us) | Python p50 (us) | modelgate / Python |")
    print("|---|---|---|---|")
    for i, (mg, py, r) in enumerate(rows, 1):
        print(f"| {i} | {mg:.2f} | {py:.2f} | {r:.3f} |")
    print(f"| **median** | **{median([r[0] for r in rows]):.2f}** | "
          f"**{median([r[1] for r in rows]):.2f}** | **{median([r[2] for r in rows]):.3f}** |")


# ---------------------------------------------------------------- 3. eval throughput


def eval_compare(args):
    """Whole-pipeline samples/s of modelgate eval and python_eval.py, and per-sample agreement."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        mg_json = os.path.join(tmp, "mg.json")
        py_json = os.path.join(tmp, "py.json")
        py_preds = os.path.join(tmp, "py_preds.csv")
        mg_cmd = [args.modelgate, "--ort-lib", args.ort_lib, "eval", args.model,
                  "--dataset", args.manifest, "--color", "gray", "--batch", str(args.batch),
                  "--intra-threads", str(args.threads), "--json", mg_json]
        py_cmd = [args.python, "scripts/python_eval.py", "--model", args.model,
                  "--manifest", args.manifest, "--batch", str(args.batch),
                  "--repeat", str(args.py_repeat),
                  "--threads", str(args.threads), "--json", py_json, "--dump-preds", py_preds]

        def modelgate_rate():
            if os.path.exists(mg_json):
                os.remove(mg_json)  # eval adds to an existing results file; start fresh
            run(mg_cmd)
            return read_json(mg_json)["eval"]["throughput_samples_per_s"]

        def python_rate():
            run(py_cmd)
            return read_json(py_json)["samples_per_s_median"]

        for rnd in range(1, args.rounds + 1):
            if rnd % 2 == 1:
                mg = modelgate_rate()
                py = python_rate()
            else:
                py = python_rate()
                mg = modelgate_rate()
            rows.append((mg, py, mg / py))
            print(f"round {rnd}: modelgate {mg:.0f}/s, python {py:.0f}/s, ratio {mg / py:.2f}",
                  file=sys.stderr)

        results = read_json(mg_json)["eval"]
        classes = results["dataset"]["classes"]
        mg_preds = {s["id"]: classes[s["pred"]] for s in results["samples"]}
        with open(py_preds, newline="") as f:
            python = {r["id"]: r["pred"] for r in csv.DictReader(f)}
    same = sum(1 for k, v in python.items() if mg_preds.get(k) == v)
    missing = [k for k in python if k not in mg_preds]
    print(f"\n`{' '.join(mg_cmd[:-2])}` vs `{' '.join(py_cmd[:-4])}`\n")
    print("| round | modelgate samples/s | Python samples/s | modelgate / Python |")
    print("|---|---|---|---|")
    for i, (mg, py, r) in enumerate(rows, 1):
        print(f"| {i} | {mg:.0f} | {py:.0f} | {r:.2f} |")
    print(f"| **median** | **{median([r[0] for r in rows]):.0f}** | "
          f"**{median([r[1] for r in rows]):.0f}** | **{median([r[2] for r in rows]):.2f}** |")
    print(f"\nsame argmax on {same}/{len(python)} samples "
          f"({len(missing)} Python ids missing from modelgate's results)")
    if missing:
        print("first missing ids:", missing[:5])


# ---------------------------------------------------------------- 4. the gate study

# name -> (candidate, base): model keys of prepare_models(). Every run uses the gate's default
# settings but for --tolerance, --max-time-s and --run-sd (1,000 runs, 1 s warmup, 30 s budget, default
# threads). The graded variants come from models/make_study_variants.py; their ratios are
# measured by the study itself (the across-run median), not assumed.
SCENARIOS = {
    "A/A digits": ("digits_respun", "digits"),
    "A/A resnet": ("resnet_respun", "resnet"),
    "A/B resnet 1.01x": ("late_m2", "resnet"),
    "A/B resnet 1.03x": ("late_m8", "resnet"),
    "A/B resnet 1.05x": ("late_m16", "resnet"),
    # slow5 is about 1.05x at one thread (models/make_models.py); with default threads its dead
    # branch costs 4.5-10 % (see docs/benchmarks.md).
    "A/B resnet slow5": ("resnet_slow5", "resnet"),
    "A/B resnet slow15": ("slow15", "resnet"),
    # The ResNet-50-class model: --big PATH (e.g. light_resnet50.onnx), its respun copy, and
    # Max(h, h) chained on its first Relu's output (models/make_study_variants.py --big).
    "A/A big": ("big_respun", "big"),
    "A/B big 1.05x": ("big_m24", "big"),
}

CONFIG = """\
[[models]]
name = "m"
candidate = "{candidate}"
base_model = "{base}"
"""


def respun(src, dest):
    """A byte-different copy that runs the same (an unknown protobuf field appended), so the
    gate times it against the original instead of calling the model unchanged."""
    with open(src, "rb") as f:
        data = f.read()
    with open(dest, "wb") as f:
        f.write(data + bytes([0xC0, 0x3E, 0x01]))


def prepare_models(args, tmp):
    """The study's model files: the committed ones, respun copies, the graded variants (built
    with --python when it has numpy and onnx), and --big if given."""
    paths = {
        "digits": os.path.join(ROOT, "models/digits_fp32.onnx"),
        "resnet": os.path.join(ROOT, "models/resnet_small.onnx"),
        "resnet_slow5": os.path.join(ROOT, "models/resnet_small_slow5.onnx"),
    }
    if args.big:
        paths["big"] = os.path.abspath(args.big)
    for key in [k for k in ("digits", "resnet", "big") if k in paths]:
        paths[f"{key}_respun"] = os.path.join(tmp, f"{key}_respun.onnx")
        respun(paths[key], paths[f"{key}_respun"])
    variants = os.path.join(tmp, "variants")
    extra = ["--big", paths["big"]] if args.big else []
    code, _ = run([args.python, "models/make_study_variants.py", variants] + extra, check=False)
    if code == 0:
        for name in os.listdir(variants):
            paths[name[:-len(".onnx")]] = os.path.join(variants, name)
    return paths


class NoisyNeighbour:
    """A process busy on one core for a random 0.2-2 s, then idle as long, until stopped."""

    CODE = ("import random, time\n"
            "while True:\n"
            "    t = random.uniform(0.2, 2.0)\n"
            "    end = time.monotonic() + t\n"
            "    while time.monotonic() < end:\n"
            "        pass\n"
            "    time.sleep(t)\n")

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE])
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def mean(values):
    return sum(values) / len(values)


def pair_logs(base, cand, lengths, block):
    """Each session pair's p50 log ratio three ways, for comparing estimators offline on the same
    runs: `medians`, log(median(cand) / median(base)) as the gate computes it; `blocks`, the
    median over A/B blocks of log(median of the candidate's block / median of the base's block
    timed beside it); `paired`, the median of log(cand run / base run) pairing the i-th run of
    each block with the i-th of its twin."""
    out = {"medians": [], "blocks": [], "paired": []}
    at = 0
    for n in lengths:
        a, b = base[at:at + n], cand[at:at + n]
        at += n
        if not a or min(a) <= 0 or min(b) <= 0:
            continue
        out["medians"].append(math.log(statistics.median(b) / statistics.median(a)))
        blocks = [math.log(statistics.median(b[i:i + block]) / statistics.median(a[i:i + block]))
                  for i in range(0, n, block)]
        out["blocks"].append(statistics.median(blocks))
        out["paired"].append(statistics.median(math.log(y / x) for x, y in zip(a, b)))
    return out


def one_gate_run(args, scenario, paths, tmp):
    """One `modelgate gate` run; returns the record the study keeps."""
    candidate, base = SCENARIOS[scenario]
    cfg = os.path.join(tmp, "gate.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(candidate=paths[candidate], base=paths[base]))
        bench = []
        if args.max_time_s:
            bench.append(f"max_time_s = {args.max_time_s}\n")
        if args.processes:
            bench.append("ab_processes = true\n")
        if args.intra_threads:
            bench.append(f"intra_threads = {args.intra_threads}\n")
        if bench:
            f.write("[models.bench]\n" + "".join(bench))
        criteria = []
        if args.tolerance:
            criteria += [f"max_{q}_regression_pct = {args.tolerance}\n" for q in ("p50", "p95", "p99")]
        if args.run_sd is not None:
            criteria.append(f"latency_run_sd_pct = {args.run_sd}\n")
        if criteria:
            f.write("[models.criteria]\n" + "".join(criteria))
    out = os.path.join(tmp, "comparison.json")
    results_dir = os.path.join(tmp, "results")
    cmd = [args.modelgate, "--ort-lib", args.ort_lib, "gate", "--config", cfg,
           "--json", out, "--allow-new", "--results-dir", results_dir]
    started = time.monotonic()
    code, _ = run(cmd, check=False)
    wall_s = time.monotonic() - started
    if code not in (0, 1):
        raise SystemExit(f"gate run ended with exit code {code}: {' '.join(cmd)}")
    model = read_json(out)["models"][0]
    criteria = {c["name"]: c for c in model["criteria"]}
    p50 = criteria["p50 latency"]
    cand = read_json(os.path.join(results_dir, "m.json"))["bench"]["runs"][0]["samples_ms"]
    base = read_json(os.path.join(results_dir, "m.base.json"))["bench"]["runs"][0]["samples_ms"]
    def ratio(c):
        return 1.0 + c["change"] / 100.0 if c["change"] is not None else None

    def ci(c):
        return [c["ci"]["lower"], c["ci"]["upper"]] if c["ci"] else None

    p95, p99 = criteria["p95 latency"], criteria["p99 latency"]
    method = p50.get("method") or {}
    bench = read_json(os.path.join(results_dir, "m.json"))["bench"]["runs"][0]

    def mde(c):
        return (c.get("method") or {}).get("mde_pct")

    lengths = bench.get("sessions", [])
    return {
        "pair_logs": pair_logs(base, cand, lengths, bench.get("block_runs", 25)),
        "scenario": scenario,
        "exit_code": code,
        "wall_s": round(wall_s, 3),
        "verdict": model["verdict"],
        "p50_status": p50["status"],
        "p95_status": p95["status"],
        "p99_status": p99["status"],
        "p50_ratio": ratio(p50),
        "p50_ci": ci(p50),
        "p95_ratio": ratio(p95),
        "p95_ci": ci(p95),
        "p99_ratio": ratio(p99),
        "p99_ci": ci(p99),
        "reasons": model["reasons"],
        "runs_per_side": len(cand),
        "sessions": len(bench.get("sessions", [])),
        "block_runs": bench.get("block_runs", 25),
        "look": bench.get("look"),
        "looks": bench.get("looks"),
        "p50_mde_pct": mde(p50),
        "p95_mde_pct": mde(p95),
        "p99_mde_pct": mde(p99),
        "within_sd_pct": method.get("within_session_sd_pct"),
        "between_sd_pct": method.get("between_session_sd_pct"),
        "run_level_sd_pct": method.get("run_level_sd_pct"),
        "p50_confidence": p50["ci"]["confidence"] if p50["ci"] else None,
        "headline_unsettled": any(c["status"] == "inconclusive" for c in (p50, p95, p99)),
        "base_mean_ms": mean(base),
        "cand_mean_ms": mean(cand),
    }


def gate_study(args):
    """Round-robin over the chosen scenarios, so the machine's drift is spread over them alike."""
    done = []
    if os.path.exists(args.out):
        with open(args.out) as f:
            done = [json.loads(line) for line in f if line.strip()]
    prefixes = args.scenario or [""]
    scenarios = [s for s in SCENARIOS if any(s.startswith(p) for p in prefixes)]
    if not scenarios:
        raise SystemExit(f"no scenario starts with {args.scenario}; choose from {list(SCENARIOS)}")
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "a") as log:
        paths = prepare_models(args, tmp)
        missing = [s for s in scenarios if any(m not in paths for m in SCENARIOS[s])]
        if missing:
            raise SystemExit(f"{missing} need models this run could not make: the graded variants "
                             "need --python with numpy and onnx, the big one --big PATH")
        same = [r for r in done if r.get("noisy", False) == bool(args.noisy)
                and r.get("tolerance_pct") == args.tolerance
                and r.get("processes", False) == bool(args.processes)
                and not r.get("duet", False)
                and r.get("intra_threads") == args.intra_threads
                and (args.run_sd is None or r.get("run_level_sd_pct") == args.run_sd)]
        counts = {s: sum(1 for r in same if r["scenario"] == s) for s in scenarios}
        i = len(done)
        while any(counts[s] < args.runs for s in scenarios):
            for scenario in scenarios:
                if counts[scenario] >= args.runs:
                    continue
                if args.noisy:
                    with NoisyNeighbour():
                        record = one_gate_run(args, scenario, paths, tmp)
                else:
                    record = one_gate_run(args, scenario, paths, tmp)
                record["noisy"] = bool(args.noisy)
                record["tolerance_pct"] = args.tolerance
                record["processes"] = bool(args.processes)
                record["intra_threads"] = args.intra_threads
                record["index"] = i
                i += 1
                counts[scenario] += 1
                log.write(json.dumps(record) + "\n")
                log.flush()
                ci = record["p50_ci"] or [float("nan")] * 2
                print(f"[{time.strftime('%H:%M:%S')}] {scenario} {counts[scenario]}/{args.runs}: "
                      f"{record['verdict']} p50 {record['p50_status']} "
                      f"ratio {record['p50_ratio'] or float('nan'):.3f} "
                      f"({ci[0]:.3f} .. {ci[1]:.3f}) sessions {record['sessions']} "
                      f"n {record['runs_per_side']} {record['wall_s']:.1f}s", flush=True)


def fairness(args):
    """The A/B's own p95 against `bench`'s p95 of the same model, measured in the same minute:
    each round runs `bench` alone, then the gate's A/B of the model against a respun copy, with
    the gate's default settings; the order flips each round."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "respun.onnx")
        respun(args.model, copy)
        cfg = os.path.join(tmp, "gate.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(candidate=copy, base=os.path.abspath(args.model)))
        bench_out, gate_out = os.path.join(tmp, "b.json"), os.path.join(tmp, "c.json")

        def bench_p95():
            run([args.modelgate, "--ort-lib", args.ort_lib, "bench", args.model,
                 "--iterations", "1000", "--json", bench_out])
            return read_json(bench_out)["bench"]["runs"][0]["summary"]["p95_ms"]

        def ab_p95():
            run([args.modelgate, "--ort-lib", args.ort_lib, "gate", "--config", cfg,
                 "--allow-new", "--json", gate_out], check=False)
            criteria = {c["name"]: c for c in read_json(gate_out)["models"][0]["criteria"]}
            return criteria["p95 latency"]["baseline"], criteria["p95 latency"]["candidate"]

        for rnd in range(args.rounds):
            if rnd % 2 == 0:
                b = bench_p95()
                base, cand = ab_p95()
            else:
                base, cand = ab_p95()
                b = bench_p95()
            rows.append((b, base, cand))
            print(f"round {rnd + 1}: bench p95 {b:.3f} ms, A/B p95 base {base:.3f} ms, "
                  f"candidate {cand:.3f} ms, ratio {cand / b:.2f}", flush=True)
    ratios = [c / b for b, _, c in rows]
    print(f"\nmedian A/B p95 / bench p95: {median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}) over {len(rows)} rounds")


def binom_cdf(k, n, p):
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def clopper_pearson(k, n, confidence=0.95):
    """Exact (Clopper-Pearson) interval for a rate of k in n, by bisection on binomial tails."""
    alpha = (1 - confidence) / 2

    def root(f):  # f increases in p; the p where f(p) = alpha
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if f(mid) > alpha else (mid, hi)
        return (lo + hi) / 2

    # Lower: P(X >= k) = alpha; upper: P(X <= k) = alpha, i.e. -P(X <= k) = -alpha.
    lower = 0.0 if k == 0 else root(lambda p: 1 - binom_cdf(k - 1, n, p))
    upper = 1.0 if k == n else 1 - root(lambda q: binom_cdf(k, n, 1 - q))
    return lower, upper


def pct(k, n):
    return f"{k}/{n} ({100.0 * k / n:.0f} %)" if n else "0/0"


# Runs of a scenario nearest in time whose median is a run's local truth (gate-report).
LOCAL_RUNS = 10


def judged(records, q):
    """The records whose run judged quantile `q` ("p50", "p95", "p99") with an interval: a
    verdict of pass, fail or inconclusive, not a tail left `unresolved`."""
    return [r for r in records if r.get(f"{q}_ci")
            and r[f"{q}_status"] in ("pass", "fail", "inconclusive")]


def gate_report(args):
    """Tables from the study's JSON lines."""
    with open(args.log) as f:
        records = [json.loads(line) for line in f if line.strip()]
    records.sort(key=lambda r: r["index"])
    # The naive rule as users apply it: today's candidate mean against a base mean measured in
    # an earlier, separate run (the previous gate run's base, whatever its scenario).
    for prev, rec in zip(records, records[1:]):
        rec["prev_base_mean_ms"] = prev["base_mean_ms"]

    print("| scenario | runs | gate verdict fail | p50 fail | p50 inconclusive | p50 pass "
          "| p95/p99 fail | median p50 ratio | wall s median (max) | runs/side median (max) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in SCENARIOS:
        rs = [r for r in records if r["scenario"] == name]
        if not rs:
            continue
        n = len(rs)
        count = lambda key, value: sum(1 for r in rs if r[key] == value)  # noqa: E731
        tails = sum(1 for r in rs if "fail" in (r["p95_status"], r["p99_status"]))
        print(f"| {name} | {n} | {pct(count('verdict', 'fail'), n)} | "
              f"{pct(count('p50_status', 'fail'), n)} | "
              f"{pct(count('p50_status', 'inconclusive'), n)} | "
              f"{pct(count('p50_status', 'pass'), n)} | {pct(tails, n)} | "
              f"{median([r['p50_ratio'] for r in rs]):.3f} | "
              f"{median([r['wall_s'] for r in rs]):.1f} ({max(r['wall_s'] for r in rs):.1f}) | "
              f"{median([r['runs_per_side'] for r in rs]):.0f} "
              f"({max(r['runs_per_side'] for r in rs)}) |")

    print()
    print("| scenario | runs | verdict fail, rate (95 % Clopper-Pearson interval) "
          "| p50 criterion fail, rate (95 % interval) |")
    print("|---|---|---|---|")
    groups = [(name, [r for r in records if r["scenario"] == name]) for name in SCENARIOS]
    groups.append(("A/A, all", [r for r in records if r["scenario"].startswith("A/A")]))
    for name, rs in groups:
        if not rs:
            continue
        n = len(rs)
        cells = []
        for key in ("verdict", "p50_status"):
            k = sum(1 for r in rs if r[key] == "fail")
            lo, hi = clopper_pearson(k, n)
            cells.append(f"{k}/{n} = {100.0 * k / n:.1f} % ({100 * lo:.1f} .. {100 * hi:.1f} %)")
        print(f"| {name} | {n} | {cells[0]} | {cells[1]} |")

    print()
    print("Honest intervals: how often a run's p50 interval covers the across-run median ratio of "
          "its scenario (and 1.0 for an A/A), with 95 % Clopper-Pearson intervals; tails judged "
          "with an interval wider than 10x the tolerance; median MDE. Where the scenario's own "
          "ratio drifts over the study, the across-run median is not the truth of every run: "
          f"'covers the local median' takes instead the median of the {LOCAL_RUNS} runs of the "
          "same scenario nearest in time, the run itself left out.\n")
    print("| scenario | pairs in | noisy | tol % | runs | median p50 ratio | covers the median "
          "| covers the local median | covers 1.0 "
          "| p50 fail | p50 inconclusive | p95 / p99 unresolved "
          "| p95 / p99 judged intervals covering their median | tails judged too wide "
          "| median p50 MDE % | median p50 CI half-width % | median sessions "
          "| wall s median (max) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def key(r):
        # "duet" records came from commit a78ffb4's `--duet` (docs/benchmarks.md 13h).
        schedule = ("duet" if r.get("duet", False)
                    else "processes" if r.get("processes", False) else "one process")
        if r.get("intra_threads"):
            schedule += f", {r['intra_threads']} thread{'s' if r['intra_threads'] > 1 else ''}"
        return (r["scenario"], schedule, r.get("noisy", False), r.get("tolerance_pct"))

    keys = sorted({key(r) for r in records},
                  key=lambda k: (list(SCENARIOS).index(k[0]) if k[0] in SCENARIOS else 99,
                                 k[1], k[2], k[3] or 0))
    for name, schedule, noisy, tol in keys:
        rs = [r for r in records if key(r) == (name, schedule, noisy, tol)]
        with_ci = [r for r in rs if r.get("p50_ci")]
        n = len(rs)
        mid = median([r["p50_ratio"] for r in rs if r["p50_ratio"] is not None])

        def cover(value):
            k = sum(1 for r in with_ci if r["p50_ci"][0] <= value(r) <= r["p50_ci"][1])
            lo, hi = clopper_pearson(k, len(with_ci)) if with_ci else (0, 0)
            return f"{k}/{len(with_ci)} ({100 * lo:.0f} .. {100 * hi:.0f} %)"

        def local(r):
            others = [o for o in rs if o is not r and o["p50_ratio"] is not None]
            others.sort(key=lambda o: abs(o["index"] - r["index"]))
            return median([o["p50_ratio"] for o in others[:LOCAL_RUNS]])

        tol_pct = tol or 5.0
        too_wide = sum(1 for q in ("p95", "p99") for r in judged(rs, q)
                       if r[f"{q}_ci"][1] - r[f"{q}_ci"][0] > 2 * 10 * tol_pct / 100)
        unresolved = (sum(1 for r in rs if r["p95_status"] == "unresolved"),
                      sum(1 for r in rs if r["p99_status"] == "unresolved"))
        def tail_cover(q):
            # Of the runs that judged this tail, those whose interval covers the scenario's
            # across-run median of that tail's ratio.
            runs = judged(rs, q)
            ratios = [r[f"{q}_ratio"] for r in rs if r.get(f"{q}_ratio") is not None]
            if not runs or not ratios:
                return "-"
            m = median(ratios)
            k = sum(1 for r in runs if r[f"{q}_ci"][0] <= m <= r[f"{q}_ci"][1])
            return f"{k}/{len(runs)}"

        fails = sum(1 for r in rs if r["p50_status"] == "fail")
        lo, hi = clopper_pearson(fails, n)
        mdes = [r["p50_mde_pct"] for r in rs if r.get("p50_mde_pct") is not None]
        halves = [100 * (r["p50_ci"][1] - r["p50_ci"][0]) / 2 for r in with_ci]
        print(f"| {name} | {schedule} | "
              f"{'yes' if noisy else 'no'} | {tol_pct:g} | {n} | {mid:.3f} | "
              f"{cover(lambda r: mid)} | {cover(local)} | "
              f"{cover(lambda r: 1.0) if name.startswith('A/A') else '-'} | "
              f"{fails}/{n} ({100 * lo:.0f} .. {100 * hi:.0f} %) | "
              f"{sum(1 for r in rs if r['p50_status'] == 'inconclusive')}/{n} | "
              f"{unresolved[0]} / {unresolved[1]} | {tail_cover('p95')} / {tail_cover('p99')} | "
              f"{too_wide} | "
              f"{median(mdes):.2f} | {median(halves):.2f} | "
              f"{median([r.get('sessions', 0) for r in rs]):.0f} | "
              f"{median([r['wall_s'] for r in rs]):.1f} ({max(r['wall_s'] for r in rs):.1f}) |")

    false_fails = [r for r in records
                   if r["scenario"].startswith("A/A") and r["verdict"] == "fail"]
    if false_fails:
        print("\nA/A runs that failed:\n")
        for r in false_fails:
            failed = [q for q in ("p50", "p95", "p99") if r[f"{q}_status"] == "fail"]
            detail = ", ".join(
                f"{q} ratio {r[f'{q}_ratio']:.3f} (CI {r[f'{q}_ci'][0]:.3f} .. {r[f'{q}_ci'][1]:.3f})"
                if r.get(f"{q}_ci") else f"{q} (ratio not recorded)"
                for q in failed)
            print(f"- run {r['index'] + 1} ({r['scenario']}, {r['runs_per_side']} runs per side): "
                  f"{detail}")
    walls = [r["wall_s"] for r in records]
    print(f"\n{len(records)} gate runs, {sum(walls) / 60:.1f} min in all; "
          f"longest run {max(walls):.1f} s")


def betai(a, b, x):
    """The regularized incomplete beta function I_x(a, b), by its continued fraction (modified
    Lentz), as in Numerical Recipes' betai."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - betai(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def t_cdf(x, df):
    """Student's t distribution function."""
    tail = 0.5 * betai(df / 2.0, 0.5, df / (df + x * x))
    return 1.0 - tail if x > 0 else tail


def t_ppf(p, df):
    """Student's t quantile, by bisection on t_cdf."""
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


# Added spreads calibrate tries, in percent of the log ratio.
CALIBRATE_GRID = [i / 100 for i in range(0, 61)]
# The gate's default `latency_run_sd_pct` (src/files/config/criteria.rs).
GATE_RUN_SD = 0.18


def calibrate(args):
    """The smallest run-level spread (`latency_run_sd_pct`) with which every scenario's
    intervals of one quantile (--quantile, p50 unless told) cover their across-run median in at
    least --target of the runs that judged it: each run's interval rebuilt from its record
    (Student's t with the run's pairs, the run's own standard error, and the spread tried added
    in quadrature). A tail's median is over every run that measured its ratio, as gate-report's.
    Beside coverage it counts what each spread leaves: the runs the rebuilt interval fails and
    those it passes, with columns for the answer and the gate's default."""
    q = args.quantile
    records = []
    for path in args.logs:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    groups = {}
    for r in records:
        key = (r["scenario"], "noisy" if r.get("noisy") else "quiet",
               "processes" if r.get("processes") else "one process")
        groups.setdefault(key, []).append(r)
    rows = []
    for key, every in sorted(groups.items()):
        rs = [r for r in judged(every, q) if r.get("sessions", 0) >= 2 and r.get(f"{q}_ratio")]
        if len(rs) < args.min_runs:
            continue
        target = math.log(median([r[f"{q}_ratio"] for r in every if r.get(f"{q}_ratio")]))
        runs = []
        for r in rs:
            # Every criterion of a look is judged at that look's confidence. A tail may be
            # judged over the pairs long enough for it, fewer than `sessions`: t's degrees of
            # freedom are then a little high, which changes no interval at the spread the run
            # carried (the rebuild takes the same t out and puts it back) and others slightly.
            confidence = r.get("p50_confidence") or 0.9875  # 1 - 0.05 / 4 looks
            t = t_ppf(1 - (1 - confidence) / 2, r["sessions"] - 1)
            lo, hi = (math.log(v) for v in r[f"{q}_ci"])
            added = (r.get("run_level_sd_pct") or 0.0) / 100
            own = max(((hi - lo) / 2 / t) ** 2 - added ** 2, 0.0)
            limit = math.log(1 + (r.get("tolerance_pct") or 5.0) / 100)
            runs.append(((lo + hi) / 2, own, t, limit))
        centres = [c for c, _, _, _ in runs]
        mean_c = sum(centres) / len(centres)
        across = sum((c - mean_c) ** 2 for c in centres) / max(len(centres) - 1, 1)
        excess = math.sqrt(max(across - sum(o for _, o, _, _ in runs) / len(runs), 0.0))
        def half(own, t, x):
            """The rebuilt interval's half-width (log) with the spread `x` percent added."""
            return t * math.sqrt(own + (x / 100) ** 2)

        coverage = [sum(1 for c, own, t, _ in runs if abs(target - c) <= half(own, t, x))
                    / len(runs) for x in CALIBRATE_GRID]
        # What the spread costs: the rebuilt interval's verdict against the run's limit. A run
        # that stopped at an early look is judged on that look's interval, as it stopped.
        fails = [sum(1 for c, own, t, limit in runs if c - half(own, t, x) > limit)
                 for x in CALIBRATE_GRID]
        passes = [sum(1 for c, own, t, limit in runs if c + half(own, t, x) < limit)
                  for x in CALIBRATE_GRID]
        rows.append((key, len(rs), excess, coverage, fails, passes))
    if not rows:
        raise SystemExit(f"no scenario has {args.min_runs} runs with a {q} interval; "
                         "run more with `study.py gate`")
    answer = next((x for i, x in enumerate(CALIBRATE_GRID)
                   if all(row[3][i] >= args.target for row in rows)), None)
    # The answer and the gate's default get columns of their own, so what each costs is read
    # off the tables.
    shown = sorted({0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, GATE_RUN_SD} | {answer} - {None})

    def table(columns, cells):
        """One row a scenario: its name, then `cells(row)` under `columns`."""
        print("| scenario | machine | pairs in | runs | " + " | ".join(columns) + " |")
        print("|---|---|---|---|" + "---|" * len(columns))
        for row in rows:
            (name, noisy, where), n = row[0], row[1]
            print(f"| {name} | {noisy} | {where} | {n} | " + " | ".join(cells(row)) + " |")

    table(["across-run sd beyond the runs' own %"]
          + [f"{q} covers the median, +{x:.2f} %" for x in shown],
          lambda row: [f"{100 * row[2]:.2f}"]
          + [f"{100 * row[3][CALIBRATE_GRID.index(x)]:.0f} %" for x in shown])
    print(f"\nWhat each spread costs: {q} fails with the rebuilt interval (the whole interval over "
          "the run's tolerance)\n")
    table([f"{q} fails, +{x:.2f} %" for x in shown],
          lambda row: [f"{row[4][CALIBRATE_GRID.index(x)]}/{row[1]}" for x in shown])
    print(f"\nAnd what it leaves settled: {q} passes with the rebuilt interval (the whole interval "
          "within the run's tolerance)\n")
    table([f"{q} passes, +{x:.2f} %" for x in shown],
          lambda row: [f"{row[5][CALIBRATE_GRID.index(x)]}/{row[1]}" for x in shown])
    if answer is None:
        print(f"\nno spread up to {CALIBRATE_GRID[-1]:.2f} % brings every scenario to "
              f"{100 * args.target:.0f} %")
    else:
        print(f"\nlatency_run_sd_pct = {answer:.2f}: the smallest added spread with which every "
              f"scenario's {q} interval covers its across-run median in >= "
              f"{100 * args.target:.0f} % of runs")


# Each look's share of the significance before the last, as the gate spends it.
EARLY_LOOK_SHARE = 1 / 50


def estimators(args):
    """The same gate runs' p50 intervals rebuilt with each pair estimator (`pair_logs` in the
    records: whole-session medians, block by block, run by run) and each way of sharing the
    significance over the four looks (even: 98.75 % at every look; uneven: 99.9 % before the
    last, what the looks before it left at the last, taken at the look the run stopped at and
    the looks its results record, as the gate's `interval_confidence`), Student's t over the pairs with
    the run-level spread added as the gate adds it. Offline: a run that stopped at an early look
    might have gone on under another rule, so this ranks the choices; a fresh study checks one."""
    with open(args.log) as f:
        records = [json.loads(line) for line in f if line.strip()]
    limit = 1 + args.tolerance / 100
    run_sd = args.run_sd / 100
    print("| scenario | runs | pair estimator | looks share | median ratio | across-run sd % | "
          "median pair sd % | median CI half-width % | covers the median | covers 1.0 | "
          "p50 fails (lower bound over the limit) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for scenario in sorted({r["scenario"] for r in records}):
        rs = [r for r in records if r["scenario"] == scenario and r.get("pair_logs")]
        for estimator in ("medians", "blocks", "paired"):
            for share in ("even", "uneven"):
                rows = []
                for r in rs:
                    logs = r["pair_logs"][estimator]
                    k = len(logs)
                    if k < 4:
                        continue
                    m = sum(logs) / k
                    sd = math.sqrt(sum((x - m) ** 2 for x in logs) / (k - 1))
                    se = math.sqrt(sd * sd / k + run_sd * run_sd)
                    # Records made before the looks were recorded took all four.
                    looks = r.get("looks") or 4
                    if share == "even":
                        alpha = 0.05 / 4
                    elif (r.get("look") or looks) < looks:
                        alpha = 0.05 * EARLY_LOOK_SHARE
                    else:
                        alpha = 0.05 * (1 - (looks - 1) * EARLY_LOOK_SHARE)
                    t = t_ppf(1 - alpha / 2, k - 1)
                    rows.append((math.exp(m), math.exp(m - t * se), math.exp(m + t * se), sd))
                if not rows:
                    continue
                n = len(rows)
                centre = median([x for x, _, _, _ in rows])
                mean_x = sum(x for x, _, _, _ in rows) / n
                across = math.sqrt(sum((x - mean_x) ** 2 for x, _, _, _ in rows) / max(n - 1, 1))
                covers = sum(lo <= centre <= hi for _, lo, hi, _ in rows)
                covers1 = sum(lo <= 1 <= hi for _, lo, hi, _ in rows)
                fails = sum(lo > limit for _, lo, _, _ in rows)
                lo_cp, hi_cp = clopper_pearson(fails, n)
                half = median([(hi - lo) / 2 * 100 for _, lo, hi, _ in rows])
                print(f"| {scenario} | {n} | {estimator} | {share} | {centre:.4f} | "
                      f"{100 * across:.3f} | {100 * median([sd for *_, sd in rows]):.3f} | "
                      f"{half:.3f} | {covers}/{n} | {covers1}/{n} | "
                      f"{fails}/{n} ({100 * lo_cp:.0f} .. {100 * hi_cp:.0f} %) |")


def tail_clusters(args):
    """Whether one A/B run's slowest samples come in bursts (blocks) or one at a time.

    The gate times base and candidate in alternating blocks of 25 runs (src/measure/ab.rs). Take the
    runs above the p99 of both sides pooled: if they were independent of one another, they would
    split about evenly between the sides and fall in about as many blocks as there are such runs;
    if bursts of other work on the machine cause them, they crowd into a few blocks of one side,
    and an interval that treats runs as independent is too narrow at the tail.
    """
    block = 25
    sides = {}
    for side, name in (("base", "resnet.base.json"), ("candidate", "resnet.json")):
        path = os.path.join(args.results_dir, name)
        sides[side] = read_json(path)["bench"]["runs"][0]["samples_ms"]
    pooled = sorted(sides["base"] + sides["candidate"])
    cut = pooled[int(0.99 * (len(pooled) - 1))]
    print(f"pooled p99 {cut:.3f} ms over {len(pooled)} runs")
    for side, samples in sides.items():
        own_p99 = sorted(samples)[int(0.99 * (len(samples) - 1))]
        top = [i for i, x in enumerate(samples) if x > cut]
        n_blocks = math.ceil(len(samples) / block)
        counts = sorted((sum(1 for i in top if i // block == b) for b in {i // block for i in top}),
                        reverse=True)
        expected = n_blocks * (1 - (1 - 1 / n_blocks) ** len(top))
        print(f"{side}: {len(samples)} runs, own p99 {own_p99:.3f} ms; {len(top)} runs above the "
              f"pooled p99, in {len(counts)} of {n_blocks} blocks (about {expected:.0f} if "
              f"independent); most crowded blocks hold {counts[:6]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def tools(p, python=True):
        p.add_argument("--modelgate", default=os.path.join(ROOT, "target/release/modelgate"),
                       help="the modelgate binary")
        p.add_argument("--ort-lib", required=True, help="libonnxruntime.so, the same for both")
        if python:
            p.add_argument("--python", default=sys.executable,
                           help="interpreter with onnxruntime, numpy and pillow")
        p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")

    p = sub.add_parser("latency", help="bench p50: modelgate vs scripts/python_bench.py")
    tools(p)
    p.add_argument("--model", default="models/tiny.onnx")
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for both tools")
    p.set_defaults(func=latency)

    p = sub.add_parser("eval", help="eval samples/s and predictions: modelgate vs python_eval.py")
    tools(p)
    p.add_argument("--model", default="models/digits_fp32.onnx")
    p.add_argument("--manifest", default="models/data/digits/test.csv")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for both tools")
    p.add_argument("--py-repeat", type=int, default=1,
                   help="passes per python_eval.py process, median taken (default 1: one pass, "
                        "as modelgate eval makes)")
    p.set_defaults(func=eval_compare)

    p = sub.add_parser("gate", help="A/A and A/B gate runs, appended to --out as JSON lines")
    tools(p)
    p.add_argument("--runs", type=int, default=50, help="gate runs per scenario (default 50)")
    p.add_argument("--scenario", action="append", default=[],
                   help="scenarios whose names start with this (repeatable; default all)")
    p.add_argument("--big", help="a large model (e.g. light_resnet50.onnx) for 'A/A big'")
    p.add_argument("--tolerance", type=float, help="p50/p95/p99 tolerance in percent "
                   "(default: the gate's)")
    p.add_argument("--max-time-s", type=float, help="[models.bench] max_time_s (default: the gate's)")
    p.add_argument("--processes", action="store_true",
                   help="time every A/B session pair after the first in a child process "
                        "(ab_processes = true)")
    p.add_argument("--intra-threads", type=int,
                   help="[models.bench] intra_threads (default: ONNX Runtime's)")
    p.add_argument("--run-sd", type=float,
                   help="[models.criteria] latency_run_sd_pct (default: the gate's)")
    p.add_argument("--noisy", action="store_true",
                   help="run every gate beside a neighbour busy on one core for a random 0.2-2 s, "
                        "then idle as long")
    p.add_argument("--out", default="study.jsonl")
    p.set_defaults(func=gate_study)

    p = sub.add_parser("fairness", help="the A/B's p95 against bench's p95 of the same model")
    tools(p, python=False)
    p.add_argument("--model", default="models/resnet_small.onnx")
    p.set_defaults(func=fairness)

    p = sub.add_parser("gate-report", help="tables from the gate study's JSON lines")
    p.add_argument("log")
    p.set_defaults(func=gate_report)

    p = sub.add_parser("calibrate", help="the run-level spread (latency_run_sd_pct) a runner "
                       "needs, from gate study records")
    p.add_argument("logs", nargs="+", help="JSON lines written by `study.py gate`")
    p.add_argument("--target", type=float, default=0.9,
                   help="coverage of the across-run median every scenario must reach (default 0.9)")
    p.add_argument("--quantile", choices=("p50", "p95", "p99"), default="p50",
                   help="the latency criterion whose intervals are rebuilt (default p50)")
    p.add_argument("--min-runs", type=int, default=10,
                   help="scenarios with fewer runs are left out (default 10)")
    p.set_defaults(func=calibrate)

    p = sub.add_parser("estimators", help="the same runs' p50 intervals rebuilt with each pair "
                       "estimator and each share of the significance over the looks")
    p.add_argument("log", help="JSON lines written by `study.py gate` (with pair_logs)")
    p.add_argument("--tolerance", type=float, default=2.0, help="p50 tolerance in percent")
    p.add_argument("--run-sd", type=float, default=GATE_RUN_SD,
                   help="run-level spread added to every interval, percent (the gate's default)")
    p.set_defaults(func=estimators)

    p = sub.add_parser("tail-clusters", help="do one gate run's slowest samples come in bursts?")
    p.add_argument("results_dir", help="a gate --results-dir holding resnet.json and resnet.base.json")
    p.set_defaults(func=tail_clusters)

    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
