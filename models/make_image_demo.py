"""Build the scan demo: labeled JPEGs from three "sites" and a ResNet-style binary classifier.

Why this exists: modelgate's running example is a recall-critical binary image
classifier (pneumonia / normal on chest X-rays). The digits and breast-cancer
models never exercise JPEG decoding, shorter-side resizing, a centre crop,
ImageNet normalization or a model whose latency is milliseconds. This script
makes a stand-in that does, from data that ships inside scikit-learn:

- sklearn's 1,797 8x8 digits, upscaled with a smooth filter and rendered as
  RGB JPEGs of varied sizes, as if scanned at three sites that render
  differently (column `site` in the manifest); "positive" means digit 3, 5 or 8;
- a ResNet-style trunk with seeded random weights on 224x224 RGB, and a
  logistic-regression head fitted by scikit-learn on the trunk's pooled
  features of the training images;
- variants of the model for the gate to judge: fp16, int8, a slower twin with
  identical outputs, one with lower positive recall, and one whose recall
  drops on site c only.

Only the test split's JPEGs are written (data/scan/test/, manifest
data/scan/test.csv); training images live in memory. Run by make_models.py,
or alone: python models/make_image_demo.py [--skip-timing]
"""

import argparse
import csv
import io
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from PIL import Image, ImageFilter
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import checks
import graphs

HERE = Path(__file__).resolve().parent
SCAN_DIR = HERE / "data" / "scan"
SEED = 0
POSITIVE_DIGITS = (3, 5, 8)
CLASS_NAMES = ("negative", "positive")
SITES = ("a", "b", "c")
SITE_SHARES = (0.4, 0.35, 0.25)
TEST_SIZE = 0.2
# torchvision's ImageNet preprocessing: Resize(256), CenterCrop(224), ToTensor, Normalize.
RESIZE, CROP = 256, 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
LOWRECALL_DROP = 0.10  # scan_lowrecall: at least this much less positive recall
SITEDROP = 0.10  # scan_sitedrop: at least this much less recall on site c
CALIBRATION_IMAGES = 32  # training images used to calibrate scan_int8


# ----------------------------------------------------------------- images

def render(digit, rng, site):
    """One 0..16 8x8 digit as an RGB JPEG (bytes) that looks like a scan from `site`."""
    short = int(rng.integers(160, 421))
    aspect = float(rng.uniform(3 / 4, 4 / 3))
    w, h = (int(round(short * aspect)), short) if aspect >= 1 else (short, int(round(short / aspect)))
    # The digit fills a square of `frac` of the shorter side, a little off centre.
    frac = float(rng.uniform(0.5, 0.56) if site == "c" else rng.uniform(0.66, 0.74))
    side = max(10, int(round(short * frac)))
    # A one-pixel blank border keeps the upscaled strokes from ending in a hard edge.
    glyph = Image.fromarray(np.pad(digit / 16.0, 1).astype(np.float32))
    glyph = np.asarray(glyph.resize((side, side), Image.BICUBIC), dtype=np.float32)
    ink = np.zeros((h, w), dtype=np.float32)
    top = (h - side) // 2 + int(rng.integers(-short // 40, short // 40 + 1))
    left = (w - side) // 2 + int(rng.integers(-short // 40, short // 40 + 1))
    top, left = min(max(top, 0), h - side), min(max(left, 0), w - side)
    ink[top:top + side, left:left + side] = np.clip(glyph, 0.0, 1.0)
    if site == "c":
        blurred = Image.fromarray((ink * 255).round().astype(np.uint8))
        ink = np.asarray(blurred.filter(ImageFilter.GaussianBlur(short / 60)), dtype=np.float32) / 255
    # Paper texture: smooth low-frequency mottling plus a little grain.
    coarse = Image.fromarray(rng.normal(0, 1, (6, 6)).astype(np.float32))
    mottle = np.asarray(coarse.resize((w, h), Image.BICUBIC), dtype=np.float32)
    grain = rng.normal(0, 1, (h, w)).astype(np.float32)
    if site == "a":  # dark ink on light paper, grey
        paper, stroke, tint = 232.0, 40.0, np.array([1.0, 1.0, 1.0])
    elif site == "b":  # light ink on a dark, tinted film
        paper, stroke, tint = 35.0, 215.0, np.array([0.85, 0.95, 1.0])
    else:  # faint dark ink on off-white paper
        paper, stroke, tint = 215.0, 90.0, np.array([1.0, 0.96, 0.88])
    gray = paper + (stroke - paper) * ink + 6.0 * mottle + 1.5 * grain
    rgb = np.clip(gray[:, :, None] * tint[None, None, :], 0, 255).round().astype(np.uint8)
    quality, subsampling = {"a": (90, 2), "b": (85, 2), "c": (75, 0)}[site]
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality,
                                          subsampling=subsampling, optimize=True)
    return buf.getvalue()


def make_images():
    """All 1,797 digits as (jpeg bytes, label 0/1, site, id), split into train and test."""
    digits = load_digits()
    labels = np.isin(digits.target, POSITIVE_DIGITS).astype(np.int64)
    ids = np.arange(len(labels))
    train_ids, test_ids = train_test_split(ids, test_size=TEST_SIZE, stratify=digits.target,
                                           random_state=SEED)
    items = []
    for i in ids:
        rng = np.random.default_rng([SEED, int(i)])
        site = SITES[int(rng.choice(len(SITES), p=SITE_SHARES))]
        items.append((render(digits.images[i], rng, site), int(labels[i]), site, int(i)))
    return [items[i] for i in sorted(train_ids)], [items[i] for i in sorted(test_ids)]


def write_test_split(test):
    shutil.rmtree(SCAN_DIR, ignore_errors=True)
    (SCAN_DIR / "test").mkdir(parents=True)
    with open(SCAN_DIR / "test.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "label", "site"])
        for jpeg, label, site, i in test:
            rel = f"test/{i:04d}.jpg"
            (SCAN_DIR / rel).write_bytes(jpeg)
            w.writerow([rel, CLASS_NAMES[label], site])


def read_test_split():
    """The test split as written: file bytes, label 0/1, site."""
    with open(SCAN_DIR / "test.csv") as f:
        rows = list(csv.DictReader(f))
    return [((SCAN_DIR / r["path"]).read_bytes(), CLASS_NAMES.index(r["label"]), r["site"])
            for r in rows]


def preprocess(jpeg):
    """torchvision's Resize(256) + CenterCrop(224) + ToTensor + Normalize(ImageNet), on PIL.

    Resize(256) on a PIL image scales the shorter side to 256 and the longer
    to int(256 * long / short), with PIL's BILINEAR filter (antialiased when
    shrinking); CenterCrop's offsets are int(round((size - 224) / 2.0)),
    Python's round (half to even); ToTensor is /255 as float32, CHW.
    """
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    if w <= h:
        w, h = RESIZE, int(RESIZE * h / w)
    else:
        w, h = int(RESIZE * w / h), RESIZE
    img = img.resize((w, h), Image.BILINEAR)
    top, left = int(round((h - CROP) / 2.0)), int(round((w - CROP) / 2.0))
    x = np.asarray(img, dtype=np.float32)[top:top + CROP, left:left + CROP] / np.float32(255.0)
    return ((x - MEAN) / STD).transpose(2, 0, 1)


def tensors(items):
    return np.stack([preprocess(it[0]) for it in items]).astype(np.float32)


# ----------------------------------------------------------------- fitting

def fit_logreg(feats, y, **kw):
    """Logistic regression on centred features, folded back into (w, b) on raw features.

    One scale for all features rather than one per feature: per-feature
    scaling gives large weights to near-constant features, and those are
    the ones int8 rounding disturbs most.
    """
    mu, scale = feats.mean(axis=0), float(feats.std())
    clf = LogisticRegression(C=10.0, max_iter=5000, **kw)
    with threadpool_limits(limits=1):
        clf.fit((feats - mu) / scale, y)
    w = clf.coef_[0] / scale
    return w, float(clf.intercept_[0] - np.sum(w * mu))


def recall(pred, y, mask=None):
    mask = (y == 1) if mask is None else (y == 1) & mask
    return float(np.mean(pred[mask] == 1))


def lowrecall_shift(z, y):
    """Smallest bias cut (grid of 0.1) that lowers positive recall by LOWRECALL_DROP."""
    base = recall(z > 0, y)
    for shift in np.arange(0.1, 20, 0.1):
        if recall(z - shift > 0, y) <= base - LOWRECALL_DROP:
            return round(float(shift), 4)
    raise RuntimeError("no bias shift lowers recall enough")


def sitedrop_shifts(z, p_c, y, site):
    """(up, down) for scan_sitedrop: site-c recall SITEDROP points lower, overall within 2.

    The logit moves by up - (up + down) * p_c, with p_c the site detector's
    probability of site c: up on sites a and b, down on c. Of the grid points
    that qualify, the one that keeps the most accuracy wins.
    """
    base, base_c = recall(z > 0, y), recall(z > 0, y, site == "c")
    best = None
    for down in np.arange(0.25, 10, 0.25):
        for up in np.arange(0.0, 3, 0.05):
            pred = (z + up - (up + down) * p_c > 0).astype(np.int64)
            if (recall(pred, y, site == "c") <= base_c - SITEDROP
                    and abs(recall(pred, y) - base) <= 0.02):
                accuracy = float(np.mean(pred == y))
                if best is None or accuracy > best[0]:
                    best = (accuracy, round(float(up), 4), round(float(down), 4))
    if best is None:
        raise RuntimeError("no site shift drops site c alone")
    return best[1], best[2]


class Calibration(CalibrationDataReader):
    def __init__(self, x):
        self.batches = iter([{"image": x[i:i + 1]} for i in range(len(x))])

    def get_next(self):
        return next(self.batches, None)


def quantize_int8(src, dst, calibration):
    """Static int8 (QDQ; per-channel conv weights; activation ranges from a few training images).

    The stem conv stays float: it reads the normalized image, and rounding
    that to 8 bits moved the features ten times more than all other layers
    together. The pooling and the head stay float too (not in the op types).
    """
    model = onnx.load(str(src))
    stem = next(n.name for n in model.graph.node if n.op_type == "Conv")
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        quantize_static(str(src), str(Path(tmp) / "q.onnx"), Calibration(calibration),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "Add", "Relu", "MaxPool"],
                        nodes_to_exclude=[stem])
        model = onnx.load(str(Path(tmp) / "q.onnx"))
    logging.disable(logging.NOTSET)
    model.ir_version = graphs.IR_VERSION
    model.producer_name = graphs.PRODUCER
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(dst))


def build_models(train):
    """Fit the heads on training features and write every scan_*.onnx; returns construction info."""
    xtr = tensors(train)
    ytr = np.array([it[1] for it in train])
    site_tr = np.array([it[2] for it in train])
    feats = checks.run(checks.session(graphs.scan_resnet().SerializeToString()), xtr, 32)
    # Balanced class weights: the task is recall-critical and positives are the minority.
    w, b = fit_logreg(feats, ytr, class_weight="balanced")
    sw, sb = fit_logreg(feats, (site_tr == "c").astype(np.int64))
    save = lambda model, name: onnx.save_model(model, str(HERE / f"scan_{name}.onnx"))  # noqa: E731
    save(graphs.scan_resnet((w, b)), "fp32")
    save(graphs.scan_resnet((w, b), dtype=np.float16), "fp16")
    save(graphs.scan_resnet((w, b), slow=True), "slow")
    step = len(xtr) // CALIBRATION_IMAGES
    quantize_int8(HERE / "scan_fp32.onnx", HERE / "scan_int8.onnx", xtr[::step][:CALIBRATION_IMAGES])

    # The biased twins are tuned on the test split, as the digits/cancer lowrecall twins are.
    test = read_test_split()
    fte = checks.run(checks.session(graphs.scan_resnet().SerializeToString()), tensors(test), 32)
    yte, site_te = np.array([it[1] for it in test]), np.array([it[2] for it in test])
    z = fte @ w.astype(np.float32) + np.float32(b)
    shift = lowrecall_shift(z, yte)
    save(graphs.scan_resnet((w, b - shift)), "lowrecall")
    p_c = 1.0 / (1.0 + np.exp(-(fte @ sw.astype(np.float32) + np.float32(sb))))
    up, down = sitedrop_shifts(z, p_c, yte, site_te)
    save(graphs.scan_resnet((w, b), site_gate=(sw, sb, up, down)), "sitedrop")
    return {"lowrecall_bias_shift": shift, "sitedrop_up": up, "sitedrop_down": down,
            "positive_digits": list(POSITIVE_DIGITS), "train_images": len(train),
            "calibration_images": CALIBRATION_IMAGES}


# ----------------------------------------------------------------- checks

VARIANTS = ("fp32", "fp16", "int8", "slow", "lowrecall", "sitedrop")


def scores(pred, y, site):
    entry = {"accuracy": round(float(np.mean(pred == y)), 6), "correct": int(np.sum(pred == y)),
             "n": int(len(y)), "positive_recall": round(recall(pred, y), 6)}
    for s in SITES:
        entry[f"recall_site_{s}"] = round(recall(pred, y, site == s), 6)
    return entry


def evaluate():
    """Accuracy, positive recall and per-site recall of every variant on the test split."""
    test = read_test_split()
    x = tensors(test)
    y, site = np.array([it[1] for it in test]), np.array([it[2] for it in test])
    result, base = {}, None
    for variant in VARIANTS:
        sess = checks.session(HERE / f"scan_{variant}.onnx")
        out = checks.run(sess, x, checks.EVAL_BATCH)
        assert np.all(np.isfinite(out)), variant
        pred = (out[:, 0] > 0).astype(np.int64)  # sigmoid(logit) >= 0.5 <=> logit >= 0
        entry = scores(pred, y, site)
        entry["eval_batch"] = checks.EVAL_BATCH
        if variant == "int8":
            entry["batch1"] = scores((checks.run(sess, x, 1)[:, 0] > 0).astype(np.int64), y, site)
        if variant == "fp32":
            base = (out, pred)
        else:
            entry["same_predictions_as_fp32"] = bool(np.array_equal(pred, base[1]))
        if variant == "slow" and not np.array_equal(out, base[0]):
            raise AssertionError("scan_slow outputs differ from scan_fp32")
        result[variant] = entry
    return result


def print_table(metrics):
    print(f"\nscan test split ({metrics['variants']['fp32']['n']} JPEGs), batches of {checks.EVAL_BATCH}")
    print(f"{'model':<16} {'accuracy':>9} {'recall':>9} {'site a':>7} {'site b':>7} {'site c':>7}")
    for variant, m in metrics["variants"].items():
        sites = " ".join(f"{m[f'recall_site_{s}']:>7.4f}" for s in SITES)
        print(f"scan_{variant:<11} {m['accuracy']:>9.4f} {m['positive_recall']:>9.4f} {sites}")


def report_latency(pairs=40):
    """Batch-1 latency of each variant against scan_fp32, 1 intra-op thread, interleaved runs."""
    x = tensors(read_test_split()[:1])
    print("\nscan latency at batch 1, 1 intra-op thread (median, interleaved with scan_fp32)")
    fp32 = checks.session(HERE / "scan_fp32.onnx")
    for variant in VARIANTS[1:]:
        sess = checks.session(HERE / f"scan_{variant}.onnx")
        feed = {"image": x.astype(checks.NP_TYPES[sess.get_inputs()[0].type])}
        both = _Pair(sess, fp32, feed, {"image": x})
        ratio, fast_us, slow_us = checks.median_ratio(both, both.other, None, pairs, rounds=3, warmup=5)
        print(f"  scan_{variant:<11} {slow_us / 1e3:7.2f} ms  (scan_fp32 {fast_us / 1e3:6.2f} ms)  ratio {ratio:.2f}")


class _Pair:
    """Lets checks.median_ratio time two sessions whose inputs differ in element type."""

    def __init__(self, sess, fp32, feed, feed32):
        self.sess, self.feed = sess, feed
        self.other = _Fixed(fp32, feed32)

    def run(self, _outputs, _feeds):
        return self.sess.run(None, self.feed)


class _Fixed(_Pair):
    def __init__(self, sess, feed):
        self.sess, self.feed = sess, feed


def build():
    """Write the scan data and models; return their metrics (the `scan` entry of metrics.json)."""
    train, test = make_images()
    write_test_split(test)
    construction = build_models(train)
    return {"construction": construction, "variants": evaluate()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-timing", action="store_true", help="skip latency measurements")
    args = parser.parse_args()
    metrics = build()
    path = HERE / "metrics.json"
    everything = json.loads(path.read_text())
    everything["scan"] = metrics
    with open(path, "w") as f:
        json.dump(everything, f, indent=2, sort_keys=True)
        f.write("\n")
    print_table(metrics)
    if not args.skip_timing:
        report_latency()
    return 0


if __name__ == "__main__":
    sys.exit(main())
