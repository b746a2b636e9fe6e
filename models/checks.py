"""Checks and measurements that make_models.py runs on what it just wrote.

Why this exists: a reference model is only useful if its promised properties
hold, so after writing them we load every model in ONNX Runtime and verify:
the variants' accuracy and recall on the test split, that the `_slow` twins
give bit-identical outputs, that the fixtures run, and how much slower the
slow twins are (including the calibration of resnet_small_slow5).
"""

import time

import numpy as np
import onnxruntime as ort

NP_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8,
    "tensor(bool)": np.bool_,
}
VARIANTS = ("fp32", "int8", "fp16", "slow", "lowrecall")
# Batch size for the recorded metrics. It matters for the int8 models only:
# dynamic quantization picks its activation scale per batch, so their
# predictions depend on which samples share a batch (batch-1 numbers are
# recorded as well).
EVAL_BATCH = 64


def session(model, threads=1):
    """An ORT CPU session from a path or serialized bytes, warnings silenced."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = threads  # 0 = ORT's default (one per physical core)
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def run(sess, x, batch=None):
    """Outputs for all of x, fed in batches of `batch` rows (all at once when None)."""
    inp = sess.get_inputs()[0]
    batch = batch or len(x)
    outs = [sess.run(None, {inp.name: x[i:i + batch].astype(NP_TYPES[inp.type])})[0]
            for i in range(0, len(x), batch)]
    return np.concatenate(outs).astype(np.float32)


def recall(y, pred, cls):
    mask = y == cls
    return float(np.mean(pred[mask] == cls))


def predict(family, out):
    """digits: argmax of the logits; cancer: sigmoid(logit) > 0.5 means malignant (1)."""
    if family == "digits":
        return out.argmax(axis=1)
    return (1.0 / (1.0 + np.exp(-out[:, 0])) > 0.5).astype(np.int64)


def scores(family, y, pred, low_digit):
    if family == "digits":
        entry = {
            "macro_recall": round(float(np.mean([recall(y, pred, c) for c in range(10)])), 6),
            f"recall_class_{low_digit}": round(recall(y, pred, low_digit), 6),
        }
    else:
        entry = {"malignant_recall": round(recall(y, pred, 1), 6)}
    entry["accuracy"] = round(float(np.mean(pred == y)), 6)
    entry["correct"] = int(np.sum(pred == y))
    entry["n"] = int(len(y))
    return entry


def evaluate_all(here, digits_test, cancer_test, low_digit):
    """Accuracy and recall of every digits_*/cancer_* variant on its test split."""
    xd, yd = digits_test
    xc, yc = cancer_test
    result = {"digits": {"variants": {}}, "cancer": {"variants": {}}}
    base = {}
    for family, x, y in (("digits", xd, yd), ("cancer", xc, yc)):
        for variant in VARIANTS:
            sess = session(here / f"{family}_{variant}.onnx")
            out = run(sess, x, EVAL_BATCH)
            pred = predict(family, out)
            entry = scores(family, y, pred, low_digit)
            if variant == "int8":
                entry["batch1"] = scores(family, y, predict(family, run(sess, x, 1)), low_digit)
            entry["eval_batch"] = EVAL_BATCH
            if variant == "fp32":
                base[family] = (out, pred)
            else:
                entry["same_predictions_as_fp32"] = bool(np.array_equal(pred, base[family][1]))
            if variant == "slow" and not np.array_equal(out, base[family][0]):
                raise AssertionError(f"{family}_slow outputs differ from {family}_fp32")
            result[family]["variants"][variant] = entry
    return result


def smoke_test_all(here, testdata):
    """Every remaining model loads and gives the expected values for a few batch sizes."""
    rng = np.random.default_rng(0)
    for name in ("digits_fp32", "digits_fp16", "digits_int8", "cancer_fp32", "cancer_int8"):
        sess = session(here / f"{name}.onnx")
        shape = sess.get_inputs()[0].shape
        for n in (1, 7, 64):
            out = run(sess, rng.random((n, *shape[1:])))
            assert out.shape[0] == n, name
    a = session(here / "resnet_small.onnx")
    b = session(here / "resnet_small_slow5.onnx")
    x = rng.standard_normal((3, 3, 64, 64)).astype(np.float32)
    ya, yb = run(a, x), run(b, x)
    assert ya.shape == (3, 10) and np.all(np.isfinite(ya)) and np.array_equal(ya, yb)
    x = rng.standard_normal((1, 16)).astype(np.float32)
    y = session(here / "tiny.onnx").run(None, {"x": x})[0]
    assert np.allclose(y, np.maximum(x + np.linspace(-0.5, 0.5, 16, dtype=np.float32), 0))
    for path in sorted(testdata.glob("dtype_*.onnx")):
        sess = session(path)
        x = (rng.integers(0, 5, (5, 4)) > 2 if "bool" in path.name else rng.integers(0, 5, (5, 4)))
        x = x.astype(NP_TYPES[sess.get_inputs()[0].type])
        y = sess.run(None, {"x": x})[0]
        assert np.allclose(y[:, 0], x.astype(np.float32).sum(axis=1)), path.name
    text = np.array(["a", "bc", ""], dtype=object)
    assert list(session(testdata / "string_input.onnx").run(None, {"text": text})[0]) == ["a", "bc", ""]
    x = rng.random((2, 5, 4)).astype(np.float32)
    y = session(testdata / "symbolic_dims.onnx").run(None, {"x": x})[0]
    assert y.shape == (2, 5) and np.allclose(y, x.sum(axis=2))
    x = rng.random((2, 3, 5, 7)).astype(np.float32)
    y = session(testdata / "dynamic_hw.onnx").run(None, {"image": x})[0]
    assert np.allclose(y, x.mean(axis=(2, 3), keepdims=True))
    a, b = rng.random((4, 3)).astype(np.float32), rng.random((4, 3)).astype(np.float32)
    assert np.array_equal(session(testdata / "two_inputs.onnx").run(None, {"a": a, "b": b})[0], a + b)
    print("smoke tests: all models and fixtures load and run in onnxruntime", ort.__version__)


def print_table(metrics):
    print(f"\ntest split, batches of {EVAL_BATCH}")
    print(f"{'model':<20} {'accuracy':>9} {'recall':>9}  note")
    for family, key in (("digits", "macro_recall"), ("cancer", "malignant_recall")):
        for variant, m in metrics[family]["variants"].items():
            note = "macro recall" if family == "digits" else "malignant recall"
            extra = [k for k in m if k.startswith("recall_class_")]
            if extra:
                note += f"; {extra[0].replace('recall_', '')} recall {m[extra[0]]:.4f}"
            if "batch1" in m:
                note += f"; at batch 1: {m['batch1']['accuracy']:.4f} / {m['batch1'][key]:.4f}"
            print(f"{family + '_' + variant:<20} {m['accuracy']:>9.4f} {m[key]:>9.4f}  {note}")


def median_ratio(slow, fast, feeds, pairs, rounds=5, warmup=50):
    """Latency ratio slow/fast: median over rounds of (median slow / median fast).

    Runs of the two sessions are interleaved so that drift and background
    load hit both alike; the median over rounds damps bursts of noise.
    """
    for _ in range(warmup):
        fast.run(None, feeds)
        slow.run(None, feeds)
    ratios, all_f, all_s = [], [], []
    for _ in range(rounds):
        ts, tf = [], []
        for _ in range(pairs):
            t0 = time.perf_counter_ns()
            fast.run(None, feeds)
            t1 = time.perf_counter_ns()
            slow.run(None, feeds)
            t2 = time.perf_counter_ns()
            tf.append(t1 - t0)
            ts.append(t2 - t1)
        ratios.append(np.median(ts) / np.median(tf))
        all_f += tf
        all_s += ts
    return float(np.median(ratios)), float(np.median(all_f)) / 1e3, float(np.median(all_s)) / 1e3


def calibrate_slow5(builder, seed, target=1.055):
    """Try branch sizes; keep the one whose 1-thread and default-thread ratios are nearest target."""
    x = {"input": np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)}
    best = None
    for channels in (4, 6, 8, 10, 12, 14, 16, 20, 24, 32):
        slow_bytes = builder(seed=seed, slow_channels=channels).SerializeToString()
        ratios = []
        for threads in (1, 0):
            fast = session(builder(seed=seed).SerializeToString(), threads)
            ratios.append(median_ratio(session(slow_bytes, threads), fast, x, pairs=200, rounds=3)[0])
        score = abs(ratios[0] - target) + abs(ratios[1] - target)
        print(f"calibrate: {channels:>3} filters -> 1 thread {ratios[0]:.4f}, default {ratios[1]:.4f}")
        if best is None or score < best[0]:
            best = (score, channels)
    return best[1]


def report_latency(here, channels):
    """Batch-1 latency of each slow twin against its fast original, interleaved medians."""
    rng = np.random.default_rng(2)
    print("\nlatency at batch 1 (median, interleaved runs)")
    cases = (
        ("digits_slow", "digits_fp32", {"image": rng.random((1, 1, 8, 8)).astype(np.float32)}, 1000),
        ("cancer_slow", "cancer_fp32", {"features": rng.random((1, 30)).astype(np.float32)}, 1000),
        ("resnet_small_slow5", "resnet_small",
         {"input": rng.standard_normal((1, 3, 64, 64)).astype(np.float32)}, 300),
    )
    for slow, fast, feeds, pairs in cases:
        for threads in (1, 0):
            ratio, tf, ts = median_ratio(session(here / f"{slow}.onnx", threads),
                                         session(here / f"{fast}.onnx", threads), feeds, pairs)
            label = "1 thread" if threads == 1 else "default threads"
            print(f"  {slow:<19} vs {fast:<13} {label:<16} {tf:9.1f} us -> {ts:9.1f} us  ratio {ratio:.3f}")
    print(f"  (resnet_small_slow5 dead branch: {channels} filters)")
