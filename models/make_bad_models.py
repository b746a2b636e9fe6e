"""Write models ONNX Runtime refuses, for the tests of modelgate's load errors, and a model
exported with a fixed batch size.

make_models.py runs it as part of its testdata/ fixtures; on its own:
    python models/make_bad_models.py
The checker would refuse these too, so they are built without it.
"""

from pathlib import Path

import onnx
from onnx import TensorProto, helper

TESTDATA = Path(__file__).resolve().parent / "testdata"


def identity(opset, ir_version, doc):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "bad", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="modelgate make_bad_models.py", doc_string=doc)
    model.ir_version = ir_version
    return model


def fixed_batch(src, batch):
    """`src` with its batch dim fixed to `batch`, as a model exported without dynamic axes."""
    model = onnx.load(str(src))
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch
    model.doc_string = f"{model.doc_string} Batch fixed to {batch}.".strip()
    return model


def main():
    TESTDATA.mkdir(parents=True, exist_ok=True)
    # 540 test digits are 77 batches of 7 and one sample, which the last batch pads.
    onnx.save_model(fixed_batch(TESTDATA.parent / "digits_fp32.onnx", 7),
                    str(TESTDATA / "digits_batch7.onnx"))
    onnx.save_model(identity(99, 8, "Identity at default-domain opset 99, newer than any release."),
                    str(TESTDATA / "opset99.onnx"))
    onnx.save_model(identity(17, 99, "Identity at opset 17 in IR version 99."),
                    str(TESTDATA / "ir99.onnx"))


if __name__ == "__main__":
    main()
