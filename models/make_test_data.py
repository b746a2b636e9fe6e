"""Write the real-input fixtures: tiny models with inputs and expected outputs in ONNX's layout.

Why this exists: some models only run, or only run meaningfully, on real inputs (indices into a
table, a sample rate that must be 16000), and some pretrained models declare an output shape
that differs from what they return. modelgate's `--inputs` / `--check-outputs` tests need such
models with their test data, laid out as ONNX's own model zoo does:

    testdata/<name>/model.onnx
    testdata/<name>/test_data_set_0/input_0.pb, input_1.pb, ..., output_0.pb

Inputs are fixed arrays; expected outputs are computed by onnxruntime's Python API (the version
pinned in requirements.txt). Everything is deterministic, so reruns are byte-identical:

    python models/make_test_data.py          # also run by make_models.py
"""

import shutil
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

import graphs

HERE = Path(__file__).resolve().parent
TESTDATA = HERE / "testdata"
TP = onnx.TensorProto
FIXTURES = ("gather_vocab", "gather_vocab_wrong", "sample_rate", "wrong_rank_output")
# How far gather_vocab_wrong's expected output is off, in one element (flat index 4).
WRONG_BY = 0.5
WRONG_AT = 4


def gather_vocab():
    """An embedding lookup: int64 ids [1, seq] into a 4-row table; valid ids are 0..3."""
    g = graphs.Graph("gather_vocab")
    table = np.arange(12, dtype=np.float32).reshape(4, 3) / 4
    ids = g.input("ids", TP.INT64, [1, "seq"])
    g.op("Gather", [g.const("table", table), ids], out="embeddings", axis=0)
    g.output("embeddings", TP.FLOAT, [1, "seq", 3])
    model = g.model("Look up rows 0..3 of a 4x3 table; ids of 4 or more are out of bounds.")
    return model, {"ids": np.array([[0, 3, 1, 2, 3]], dtype=np.int64)}


def sample_rate():
    """Audio-style: float x [1, 4] and an int64 scalar sr; y = x when sr == 16000, else zeros."""
    g = graphs.Graph("sample_rate")
    x = g.input("x", TP.FLOAT, [1, 4])
    sr = g.input("sr", TP.INT64, [])
    same = g.op("Equal", [sr, g.const("expected_sr", np.array(16000, dtype=np.int64))])
    gate = g.op("Cast", [same], to=TP.FLOAT)
    g.op("Mul", [x, gate], out="y")
    g.output("y", TP.FLOAT, [1, 4])
    model = g.model("Pass x through when sr is 16000; any other sample rate gives zeros.")
    x_value = np.array([[0.25, -1.5, 3.0, 0.125]], dtype=np.float32)
    return model, {"x": x_value, "sr": np.array(16000, dtype=np.int64)}


def wrong_rank_output():
    """Declares output y as [1, seqlen] (rank 2) but returns [1, 1, 4] (rank 3), as some exported
    pretrained models do; onnxruntime's Python API runs it with a warning. The rank-3 value comes
    out of an If whose branches differ in rank, so shape inference cannot see the mismatch and
    the declared shape stays (a plain Unsqueeze would make ONNX Runtime drop the declaration)."""
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), name="axes")
    lowest = numpy_helper.from_array(np.array(-1e30, dtype=np.float32), name="lowest")
    untyped = lambda name: helper.make_tensor_value_info(name, TP.FLOAT, None)  # noqa: E731
    then_branch = helper.make_graph(
        [helper.make_node("Unsqueeze", ["x", "axes"], ["rank3"], name="Unsqueeze")],
        "rank3", [], [untyped("rank3")])
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["rank2"], name="Identity")],
        "rank2", [], [untyped("rank2")])
    nodes = [
        helper.make_node("ReduceMax", ["x"], ["largest"], name="ReduceMax", keepdims=0),
        # Always true for finite x, but only known at run time.
        helper.make_node("Greater", ["largest", "lowest"], ["finite"], name="Greater"),
        helper.make_node("If", ["finite"], ["y"], name="If",
                         then_branch=then_branch, else_branch=else_branch),
    ]
    x = helper.make_tensor_value_info("x", TP.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TP.FLOAT, [1, "seqlen"])
    graph = helper.make_graph(nodes, "wrong_rank_output", [x], [y], [axes, lowest])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", graphs.OPSET)],
        producer_name=graphs.PRODUCER,
        doc_string="Returns x [1,4] as [1,1,4] under a declared output of rank 2.",
    )
    model.ir_version = graphs.IR_VERSION
    onnx.checker.check_model(model)
    return model, {"x": np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)}


def run_onnxruntime(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return names, session.run(names, inputs)


def write_fixture(out, name, model, inputs, adjust=None):
    folder = out / name
    data = folder / "test_data_set_0"
    data.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(folder / "model.onnx"))
    for i, (input_name, value) in enumerate(inputs.items()):
        tensor = numpy_helper.from_array(value, name=input_name)
        (data / f"input_{i}.pb").write_bytes(tensor.SerializeToString())
    names, outputs = run_onnxruntime(folder / "model.onnx", inputs)
    for i, (output_name, value) in enumerate(zip(names, outputs)):
        if adjust is not None:
            value = adjust(value)
        tensor = numpy_helper.from_array(value, name=output_name)
        (data / f"output_{i}.pb").write_bytes(tensor.SerializeToString())
    return folder


def off_in_one_element(value):
    wrong = value.copy()
    wrong.reshape(-1)[WRONG_AT] += WRONG_BY
    return wrong


def write_all(out=TESTDATA):
    for name in FIXTURES:
        shutil.rmtree(out / name, ignore_errors=True)
    model, inputs = gather_vocab()
    folder = write_fixture(out, "gather_vocab", model, inputs)
    # The same ids as a .npy file, for `--input ids=PATH`.
    np.save(folder / "ids.npy", inputs["ids"])
    write_fixture(out, "gather_vocab_wrong", model, inputs, adjust=off_in_one_element)
    write_fixture(out, "sample_rate", *sample_rate())
    write_fixture(out, "wrong_rank_output", *wrong_rank_output())


if __name__ == "__main__":
    write_all()
