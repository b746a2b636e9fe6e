#!/usr/bin/env python3
"""Python's side of scripts/bench_preprocess.sh: make the benchmark JPEGs, time Pillow + numpy
doing torchvision's ImageNet transform on them, and summarise both tools' timings.

Why this exists: modelgate's preprocessing claim ("faster than what a Python user runs, with the
same pixels") needs the Python side written as a torchvision user runs it: one process, one
image after another, Pillow decoding and resizing, numpy for ToTensor and Normalize. torchvision's
own transforms on a PIL image are these same Pillow calls, so torchvision is not needed.

    python scripts/bench_preprocess.py make DIR [--count 1000] [--size 1024]
    python scripts/bench_preprocess.py time DIR [--reps 3] [--stage preprocess|decode]
    python scripts/bench_preprocess.py summary RESULTS.jsonl

`time` prints one JSON line per repetition, in the same form as modelgate's
examples/preprocess_bench, and `summary` reads both tools' lines and prints the medians and
ratios as a markdown table. A later stage (a model run through onnxruntime) adds its own lines
with a new "stage" name; `summary` tabulates whatever stages it finds.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def make(args):
    """JPEGs of size x size, q90 4:2:0, each a different crop, flip and tint of scikit-learn's
    two sample photographs, so the decoder and resizer see photographic content."""
    from sklearn.datasets import load_sample_images

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    photos = [Image.fromarray(a) for a in load_sample_images().images]
    rng = np.random.default_rng(0)
    for i in range(args.count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        cw, ch = int(rng.integers(160, w)), int(rng.integers(160, h))
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img = photo.crop((left, top, left + cw, top + ch)).resize((args.size, args.size), Image.BICUBIC)
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        tint = (rng.uniform(0.85, 1.15, 3) * np.asarray(img, np.float32)).clip(0, 255).astype(np.uint8)
        Image.fromarray(tint).save(out / f"{i:05d}.jpg", "JPEG", quality=90, subsampling=2)


def torchvision_imagenet(path):
    """Resize(256), CenterCrop(224), ToTensor(), Normalize(imagenet), as torchvision on PIL."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    size = (256, new_long) if w <= h else (new_long, 256)
    if size != img.size:
        img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    left, top = int(round((w - 224) / 2.0)), int(round((h - 224) / 2.0))
    x = np.asarray(img.crop((left, top, left + 224, top + 224))).astype(np.float32)
    x = x.transpose(2, 0, 1) / np.float32(255)
    return (x - MEAN[:, None, None]) / STD[:, None, None]


def decode(path):
    img = Image.open(path).convert("RGB")
    return img.size[0]


def manifest(args):
    """A manifest of every JPEG in the folder for `modelgate eval`; the labels only need to
    exist, since the pipeline stage times throughput, not accuracy."""
    files = sorted(Path(args.dir).glob("*.jpg"))
    rows = "".join(f"{f.name},negative\n" for f in files)
    (Path(args.dir) / "manifest.csv").write_text("path,label\n" + rows)


def time_pipeline(args):
    """The whole pipeline as a Python user writes it: torchvision's transform on each image,
    batches of 64 through onnxruntime, sigmoid and threshold."""
    import onnxruntime as ort

    files = sorted(Path(args.dir).glob("*.jpg"))
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for rep in range(args.reps):
        start = time.perf_counter()
        positives = 0
        for i in range(0, len(files), 64):
            batch = np.stack([torchvision_imagenet(f) for f in files[i:i + 64]])
            logits = session.run(None, {name: batch})[0]
            positives += int((1 / (1 + np.exp(-logits.reshape(-1))) >= 0.5).sum())
        seconds = time.perf_counter() - start
        print(json.dumps({"tool": "python", "stage": "pipeline", "rep": rep, "samples": len(files),
                          "seconds": round(seconds, 4), "samples_per_s": round(len(files) / seconds, 1),
                          "threads": 1, "checksum": positives}), flush=True)


def eval_line(args):
    """One JSON line from a `modelgate eval --json` results file."""
    ev = json.loads(Path(args.results).read_text())["eval"]
    print(json.dumps({"tool": "modelgate", "stage": "pipeline", "rep": args.rep,
                      "samples": ev["dataset"]["n_samples"], "seconds": round(ev["wall_time_s"], 4),
                      "samples_per_s": round(ev["throughput_samples_per_s"], 1), "threads": 2,
                      "stages_ms": [round(ev["stages"][k], 3) for k in
                                    ("preprocess_ms_per_sample", "inference_ms_per_sample",
                                     "postprocess_ms_per_sample")]}), flush=True)


def time_python(args):
    if args.stage == "pipeline":
        return time_pipeline(args)
    files = sorted(Path(args.dir).glob("*.jpg"))
    if not files:
        sys.exit(f"no .jpg files in {args.dir}")
    work = {"preprocess": torchvision_imagenet, "decode": decode}[args.stage]
    for rep in range(args.reps):
        start = time.perf_counter()
        checksum = 0.0
        for path in files:
            out = work(path)
            checksum += float(out.flat[0]) if isinstance(out, np.ndarray) else out
        seconds = time.perf_counter() - start
        print(json.dumps({"tool": "python", "stage": args.stage, "rep": rep, "samples": len(files),
                          "seconds": round(seconds, 4), "samples_per_s": round(len(files) / seconds, 1),
                          "threads": 1, "checksum": round(checksum, 3)}), flush=True)


def summary(args):
    rows = {}
    for line in Path(args.results).read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            rows.setdefault((r["stage"], r.get("tool", "modelgate"), r["threads"]), []).append(r["samples_per_s"])
    print("| stage | tool | threads | samples/s (median of reps) | reps |")
    print("|---|---|---:|---:|---:|")
    medians = {}
    for (stage, tool, threads), values in sorted(rows.items()):
        medians[(stage, tool, threads)] = statistics.median(values)
        print(f"| {stage} | {tool} | {threads} | {statistics.median(values):.1f} | {len(values)} |")
    for (stage, tool, threads), value in sorted(medians.items()):
        python = [v for (s, t, _), v in medians.items() if s == stage and t == "python"]
        if tool != "python" and python:
            print(f"\n{stage}: {tool} with {threads} thread(s) / python = {value / python[0]:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make")
    p.add_argument("dir")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=1024)
    p = sub.add_parser("time")
    p.add_argument("dir")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--stage", default="preprocess", choices=["preprocess", "decode", "pipeline"])
    p.add_argument("--model", help="the ONNX model of the pipeline stage")
    p = sub.add_parser("manifest")
    p.add_argument("dir")
    p = sub.add_parser("eval-line")
    p.add_argument("results")
    p.add_argument("--rep", type=int, default=0)
    p = sub.add_parser("summary")
    p.add_argument("results")
    args = parser.parse_args()
    {"make": make, "time": time_python, "manifest": manifest, "eval-line": eval_line,
     "summary": summary}[args.command](args)


if __name__ == "__main__":
    main()
