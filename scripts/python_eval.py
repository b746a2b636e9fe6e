#!/usr/bin/env python3
"""Plain-Python image-classification eval pipeline, the baseline modelgate is compared with.

Why this exists: modelgate's `eval` decodes images, batches them, runs the
model and scores the predictions. To claim it is correct and fast we need the
pipeline a user would write by hand with PIL + numpy + onnxruntime, timed the
same way (decode included), and its per-sample predictions to diff against.

For each manifest row: PIL open -> convert('L') -> float32 / 255 -> NCHW,
batch, session.run, softmax, argmax. Reports accuracy and whole-pipeline
samples/s (best and median of --repeat runs).

    python scripts/python_eval.py --model models/digits_fp32.onnx \\
        --manifest models/data/digits/test.csv --batch 64 --repeat 5 --dump-preds preds.csv
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def read_manifest(path):
    """Rows of (path as written in the manifest, absolute path, label)."""
    base = os.path.dirname(os.path.abspath(path))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0] or "label" not in rows[0]:
        raise SystemExit(f"{path}: expected a CSV with header 'path,label'")
    return [(r["path"], os.path.join(base, r["path"]), int(r["label"])) for r in rows]


def load_image(path, height, width):
    """Decode to grayscale, scale to 0..1, shape [1, H, W] float32."""
    img = Image.open(path).convert("L")
    if img.size != (width, height):
        img = img.resize((width, height), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32)[None, :, :] / np.float32(255.0)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def run_pipeline(sess, rows, batch, height, width, dtype):
    """The whole pipeline once: decode, batch, infer, softmax, argmax."""
    inp = sess.get_inputs()[0].name
    preds = []
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        x = np.stack([load_image(p, height, width) for _, p, _ in chunk]).astype(dtype)
        logits = sess.run(None, {inp: x})[0].astype(np.float32)
        probs = softmax(logits)
        preds.append(probs.argmax(axis=1))
    return np.concatenate(preds)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plain Python PIL + onnxruntime eval pipeline.")
    parser.add_argument("--model", required=True, help="image classifier .onnx, input [N,1,H,W]")
    parser.add_argument("--manifest", required=True, help="CSV with header path,label")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats (default 3)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads; 0 = default")
    parser.add_argument("--dump-preds", metavar="OUT", help="write id,label,pred per sample")
    parser.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.repeat < 1:
        parser.error("--batch and --repeat must be >= 1")

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    meta = sess.get_inputs()[0]
    if meta.type not in NP_TYPES or len(meta.shape) != 4 or meta.shape[1] != 1:
        raise SystemExit(f"expected a float/float16 [N,1,H,W] input, got {meta.type} {meta.shape}")
    height, width = meta.shape[2], meta.shape[3]
    rows = read_manifest(args.manifest)
    labels = np.array([label for _, _, label in rows])

    seconds = []
    preds = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        preds = run_pipeline(sess, rows, args.batch, height, width, NP_TYPES[meta.type])
        seconds.append(time.perf_counter() - t0)

    rates = sorted(len(rows) / s for s in seconds)
    summary = {
        "model": args.model,
        "manifest": args.manifest,
        "n": len(rows),
        "batch": args.batch,
        "repeat": args.repeat,
        "accuracy": float(np.mean(preds == labels)),
        "samples_per_s_best": rates[-1],
        "samples_per_s_median": float(np.median(rates)),
    }
    print(f"{args.model}: n={summary['n']} accuracy={summary['accuracy']:.4f} "
          f"samples/s best={summary['samples_per_s_best']:.0f} "
          f"median={summary['samples_per_s_median']:.0f} (batch {args.batch}, {args.repeat} repeats)")
    if args.dump_preds:
        with open(args.dump_preds, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id", "label", "pred"])
            for (rel, _, label), pred in zip(rows, preds):
                w.writerow([rel, label, int(pred)])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
