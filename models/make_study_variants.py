"""Write the gate study's graded resnet_small variants into a folder (not committed: rebuilt on
demand by scripts/study.py). Outputs equal resnet_small.onnx's exactly; only the latency changes.

    python models/make_study_variants.py OUT_DIR [--big MODEL.onnx]

- late_m2.onnx, late_m8.onnx, late_m16.onnx: 2, 8 and 16 elementwise Max(h, h) after the last
  block (about 1.01x, 1.03x and 1.05x at default threads on a 2-core x86 runner);
- slow15.onnx: a dead 16-filter conv on the input (about 1.15x);
- with --big MODEL.onnx (a larger CNN such as a ResNet-50), big_m{N}.onnx for N in BIG_MAXES:
  N elementwise Max(h, h) on the output of its first Relu, the largest activation of such a
  network (after Conv, BatchNormalization and Relu, which ONNX Runtime fuses into one node;
  about 1.05x for the ResNet-50-class model at default threads).

Needs numpy and onnx (models/requirements.txt).
"""

import os
import sys

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import graphs  # noqa: E402

SEED = 0  # as models/make_models.py

VARIANTS = {
    "late_m2": {"late_maxes": 2},
    "late_m8": {"late_maxes": 8},
    "late_m16": {"late_maxes": 16},
    "slow15": {"slow_channels": 16},
}


# Max(h, h) counts of the --big variants.
BIG_MAXES = (24,)


def big_variant(src, dest, maxes):
    """`src` with `maxes` Max(h, h) chained on its first Relu's output: the same outputs, more
    work. Every reader of that output reads the chain's end instead."""
    model = onnx.load(src)
    nodes = list(model.graph.node)
    at, relu = next((i, n) for i, n in enumerate(nodes) if n.op_type == "Relu")
    h = relu.output[0]
    chain, last = [], h
    for k in range(maxes):
        out = f"{h}__max{k}"
        chain.append(onnx.helper.make_node("Max", [last, last], [out], name=f"{h}__max{k}"))
        last = out
    for node in nodes[at + 1:]:
        for j, name in enumerate(node.input):
            if name == h:
                node.input[j] = last
    for output in model.graph.output:
        if output.name == h:
            raise SystemExit(f"{src}: its first Relu's output is a graph output; no variant")
    del model.graph.node[:]
    model.graph.node.extend(nodes[:at + 1] + chain + nodes[at + 1:])
    onnx.checker.check_model(model)
    onnx.save(model, dest)


def main(argv):
    if len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--big"):
        sys.exit(__doc__)
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    for name, kwargs in VARIANTS.items():
        onnx.save(graphs.resnet_small(seed=SEED, **kwargs), os.path.join(out, f"{name}.onnx"))
    if len(argv) == 3:
        for maxes in BIG_MAXES:
            big_variant(argv[2], os.path.join(out, f"big_m{maxes}.onnx"), maxes)


if __name__ == "__main__":
    main(sys.argv[1:])
