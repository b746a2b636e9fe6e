"""ONNX graph builders for modelgate's reference models.

Why this exists: the reference models are written node by node with
`onnx.helper` instead of through a converter, so that every graph is small,
readable, free of converter-specific ops, and loads in ONNX Runtime 1.31 with
IR version 8 / opset 17. `make_models.py` trains the weights with
scikit-learn and hands them to the builders here.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17; well under ORT 1.31's limit
PRODUCER = "modelgate make_models.py"

FLOAT = TensorProto.FLOAT
FLOAT16 = TensorProto.FLOAT16


class Graph:
    """Collects nodes and initializers and hands out unique tensor names."""

    def __init__(self, name):
        self.name = name
        self.nodes = []
        self.inits = []
        self.inputs = []
        self.outputs = []
        self._count = 0

    def fresh(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem, array):
        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        out = out or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.fresh(op_type), **attrs))
        return out

    def input(self, name, elem_type, shape):
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, name, elem_type, shape):
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def model(self, doc):
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=PRODUCER,
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def dead_branch(g, src, width, depth, rng, in_dim, dtype=np.float32):
    """Append compute whose result is exactly zero: tanh(MLP(src)) reduced and times 0.

    The weights are Tiled from one small seeded block, so the file stays small
    while the work is width x width multiply-adds per layer. ORT does not fold
    `x * 0` away, and tanh keeps the branch finite, so adding it changes no
    output value. Returns the name of an [N, 1] tensor of zeros.
    """
    block = (rng.standard_normal((64, 64)) / 8.0).astype(dtype)
    first = (rng.standard_normal((in_dim, 64)) / np.sqrt(in_dim)).astype(dtype)
    reps = np.array([1, width // 64], dtype=np.int64)
    w = g.op("Tile", [g.const("dead_w0_block", first), g.const("dead_reps0", reps)])
    h = g.op("Tanh", [g.op("MatMul", [src, w])])
    sq = np.array([width // 64, width // 64], dtype=np.int64)
    w_sq = g.op("Tile", [g.const("dead_block", block), g.const("dead_reps", sq)])
    for _ in range(depth):
        h = g.op("Tanh", [g.op("MatMul", [h, w_sq])])
    pooled = g.op("ReduceMean", [h], axes=[1], keepdims=1)
    return g.op("Mul", [pooled, g.const("zero", np.zeros((1, 1), dtype=dtype))])


def digits_mlp(w1, b1, w2, b2, dtype=np.float32, slow=None):
    """image [N,1,8,8] -> Flatten -> MatMul/Add -> Relu -> MatMul/Add -> logits [N,10]."""
    elem = FLOAT16 if dtype == np.float16 else FLOAT
    g = Graph("digits_mlp")
    x = g.input("image", elem, ["N", 1, 8, 8])
    flat = g.op("Flatten", [x], axis=1)
    h = g.op("Add", [g.op("MatMul", [flat, g.const("w1", w1.astype(dtype))]), g.const("b1", b1.astype(dtype))])
    h = g.op("Relu", [h])
    z = g.op("MatMul", [h, g.const("w2", w2.astype(dtype))])
    if slow is None:
        g.op("Add", [z, g.const("b2", b2.astype(dtype))], out="logits")
    else:
        z = g.op("Add", [z, g.const("b2", b2.astype(dtype))])
        zero = dead_branch(g, flat, slow["width"], slow["depth"], slow["rng"], 64, dtype)
        g.op("Add", [z, zero], out="logits")
    g.output("logits", elem, ["N", 10])
    return g.model("Digits 8x8 classifier (sklearn MLP). Input: grayscale pixels / 255, NCHW. "
                   "Output: raw logits for classes 0-9; apply softmax/argmax.")


def cancer_logreg(mean, std, w, b, dtype=np.float32, slow=None):
    """features [N,30] -> Sub mean -> Div std -> MatMul -> Add -> logit [N,1]."""
    elem = FLOAT16 if dtype == np.float16 else FLOAT
    g = Graph("cancer_logreg")
    x = g.input("features", elem, ["N", 30])
    z = g.op("Div", [g.op("Sub", [x, g.const("mean", mean.astype(dtype))]), g.const("std", std.astype(dtype))])
    mm = g.op("MatMul", [z, g.const("w", w.reshape(30, 1).astype(dtype))])
    bias = g.const("b", np.asarray(b, dtype=dtype).reshape(1))
    if slow is None:
        g.op("Add", [mm, bias], out="logit")
    else:
        logit = g.op("Add", [mm, bias])
        zero = dead_branch(g, z, slow["width"], slow["depth"], slow["rng"], 30, dtype)
        g.op("Add", [logit, zero], out="logit")
    g.output("logit", elem, ["N", 1])
    return g.model("Breast cancer logistic regression, standardization built in. Input: the 30 "
                   "raw features. Output: raw logit; sigmoid > 0.5 means malignant (class 1).")


def _conv_bn(g, rng, x, cin, cout, k, stride, gamma_scale=1.0):
    """Conv followed by a BatchNorm with seeded statistics, folded into the conv."""
    w = rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
    gamma = rng.uniform(0.5, 1.0, cout) * gamma_scale
    beta = rng.normal(0.0, 0.1, cout)
    mean = rng.normal(0.0, 0.1, cout)
    var = rng.uniform(0.5, 1.5, cout)
    scale = gamma / np.sqrt(var + 1e-5)
    wf = (w * scale[:, None, None, None]).astype(np.float32)
    bf = (beta - mean * scale).astype(np.float32)
    pad = k // 2
    return g.op("Conv", [x, g.const("conv_w", wf), g.const("conv_b", bf)],
                kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)


def _block(g, rng, x, cin, cout, stride):
    h = g.op("Relu", [_conv_bn(g, rng, x, cin, cout, 3, stride)])
    h = _conv_bn(g, rng, h, cout, cout, 3, 1, gamma_scale=0.5)
    skip = x if (cin == cout and stride == 1) else _conv_bn(g, rng, x, cin, cout, 1, stride)
    return g.op("Relu", [g.op("Add", [h, skip])])


def resnet_small(seed=0, slow_channels=0, late_channels=0, late_maxes=0):
    """input [N,3,64,64] -> stem -> 4 residual blocks -> GAP -> Gemm -> logits [N,10].

    With slow_channels > 0 an extra 3x3 conv (slow_channels filters) reads the
    input; its mean is multiplied by 0 and added to the logits, so the outputs
    are identical and only the latency changes. Its fixed cost dominates: 4.5-10 %
    whatever the filter count. With late_channels > 0 the extra conv reads the
    last block's 128x8x8 output instead, so its cost is a fraction of that
    block's own conv (late_channels / 128 of it): small slowdowns, sized.
    With late_maxes > 0 that many elementwise Max(h, h) (= h exactly) pass the
    last block's output on: the smallest slowdowns, under 1 % each.
    """
    rng = np.random.default_rng(seed)
    g = Graph("resnet_small")
    x = g.input("input", FLOAT, ["N", 3, 64, 64])
    h = g.op("Relu", [_conv_bn(g, rng, x, 3, 32, 3, 2)])  # 32x32
    h = _block(g, rng, h, 32, 32, 1)
    h = _block(g, rng, h, 32, 32, 1)
    h = _block(g, rng, h, 32, 64, 2)  # 16x16
    h = _block(g, rng, h, 64, 128, 2)  # 8x8
    for _ in range(late_maxes):
        h = g.op("Max", [h, h])
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [h])], axis=1)
    fc_w = (rng.standard_normal((10, 128)) / np.sqrt(128)).astype(np.float32)
    fc_b = (rng.normal(0.0, 0.01, 10)).astype(np.float32)
    out = "logits" if slow_channels == 0 and late_channels == 0 else None
    logits = g.op("Gemm", [pooled, g.const("fc_w", fc_w), g.const("fc_b", fc_b)], out=out, transB=1)
    if slow_channels or late_channels:
        brng = np.random.default_rng(seed + 1000)
        src, cin, cout = (x, 3, slow_channels) if slow_channels else (h, 128, late_channels)
        bw = (brng.standard_normal((cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
        branch = g.op("Conv", [src, g.const("slow_w", bw)], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        branch = g.op("ReduceMean", [branch], axes=[1, 2, 3], keepdims=0)
        branch = g.op("Unsqueeze", [branch, g.const("axis1", np.array([1], dtype=np.int64))])
        zero = g.op("Mul", [branch, g.const("zero", np.zeros((1, 1), dtype=np.float32))])
        g.op("Add", [logits, zero], out="logits")
    g.output("logits", FLOAT, ["N", 10])
    doc = "ResNet-style CNN with seeded random weights, for latency measurements only."
    if slow_channels or late_channels:
        doc += f" Carries a dead {slow_channels or late_channels}-filter conv branch (x0) to be slightly slower."
    return g.model(doc)


# Scan demo (make_image_demo.py): a ResNet-style trunk on 224x224 RGB.
SCAN_BLOCKS = ((16, 1), (32, 2), (64, 2))  # (channels, stride) of each residual block
SCAN_STEM = 16
# Pooled features: 64 channels x a 4x4 grid of 5x5 windows (stride 3) over the 14x14 map.
# A linear head on random features needs to know where a stroke is; one global average
# pool per channel cannot tell a 3 from a 2 (about 0.72 accuracy when we tried it).
SCAN_POOL_KERNEL, SCAN_POOL_STRIDE, SCAN_GRID = 5, 3, 4
SCAN_FEATURES = SCAN_BLOCKS[-1][0] * SCAN_GRID * SCAN_GRID


def _scan_conv_bn(g, rng, x, cin, cout, k, stride, dtype, gamma_scale=1.0):
    """Conv with a seeded BatchNorm folded in (He-initialized weights)."""
    w = rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
    gamma = rng.uniform(0.5, 1.0, cout) * gamma_scale
    beta, mean = rng.normal(0.0, 0.1, cout), rng.normal(0.0, 0.1, cout)
    scale = gamma / np.sqrt(rng.uniform(0.5, 1.5, cout) + 1e-5)
    wf = (w * scale[:, None, None, None]).astype(dtype)
    bf = (beta - mean * scale).astype(dtype)
    return g.op("Conv", [x, g.const("conv_w", wf), g.const("conv_b", bf)],
                kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)


def _scan_trunk(g, x, dtype, rng):
    """Stem 7x7/2 + 3x3/2 max pool, residual blocks, grid average pool: [N, SCAN_FEATURES]."""
    h = g.op("Relu", [_scan_conv_bn(g, rng, x, 3, SCAN_STEM, 7, 2, dtype)])
    h = g.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = SCAN_STEM
    for cout, stride in SCAN_BLOCKS:
        r = g.op("Relu", [_scan_conv_bn(g, rng, h, cin, cout, 3, stride, dtype)])
        r = _scan_conv_bn(g, rng, r, cout, cout, 3, 1, dtype, gamma_scale=0.5)
        skip = h if (cin == cout and stride == 1) else _scan_conv_bn(g, rng, h, cin, cout, 1, stride, dtype)
        h, cin = g.op("Relu", [g.op("Add", [r, skip])]), cout
    h = g.op("AveragePool", [h], kernel_shape=[SCAN_POOL_KERNEL] * 2, strides=[SCAN_POOL_STRIDE] * 2)
    return g.op("Flatten", [h], axis=1)


def scan_resnet(head=None, dtype=np.float32, slow=False, site_gate=None, seed=0):
    """image [N,3,224,224] -> trunk -> Gemm -> logit [N,1]; without a head, features [N,1024].

    slow: a dead branch (a second copy of the trunk, times 0) doubles the work
    and leaves the logit bit-identical. site_gate = (w, b, up, down): adds
    `up - (up + down) * sigmoid(features @ w + b)` to the logit, a shift that
    turns negative on images the site detector (w, b) takes for site c.
    """
    elem = FLOAT16 if dtype == np.float16 else FLOAT
    g = Graph("scan_resnet")
    x = g.input("image", elem, ["N", 3, 224, 224])
    feats = _scan_trunk(g, x, dtype, np.random.default_rng(seed))
    width = SCAN_FEATURES
    if head is None:
        g.op("Identity", [feats], out="features")
        g.output("features", elem, ["N", width])
        return g.model("Scan demo trunk only: pooled features.")
    w, b = head
    out = "logit" if not (slow or site_gate) else None
    logit = g.op("Gemm", [feats, g.const("head_w", w.reshape(1, width).astype(dtype)),
                          g.const("head_b", np.array([b], dtype=dtype))], out=out, transB=1)
    if site_gate is not None:
        sw, sb, up, down = site_gate
        site = g.op("Sigmoid", [g.op("Gemm", [feats, g.const("site_w", sw.reshape(1, width).astype(dtype)),
                                              g.const("site_b", np.array([sb], dtype=dtype))], transB=1)])
        shift = g.op("Sub", [g.const("up", np.array([[up]], dtype=dtype)),
                             g.op("Mul", [site, g.const("span", np.array([[up + down]], dtype=dtype))])])
        g.op("Add", [logit, shift], out="logit")
    if slow:
        dead = _scan_trunk(g, x, dtype, np.random.default_rng(seed + 1))
        dead = g.op("ReduceMean", [dead], axes=[1], keepdims=1)
        zero = g.op("Mul", [dead, g.const("zero", np.zeros((1, 1), dtype=dtype))])
        g.op("Add", [logit, zero], out="logit")
    g.output("logit", elem, ["N", 1])
    return g.model("Scan demo: ResNet-style trunk with seeded random weights and a logistic-regression "
                   "head. Input: RGB, torchvision Resize(256), CenterCrop(224), /255, ImageNet mean/std, "
                   "NCHW. Output: raw logit; sigmoid >= 0.5 means positive (digit 3, 5 or 8).")


def tiny():
    """x [1,16] -> Add constant -> Relu -> y [1,16]: the smallest useful model."""
    g = Graph("tiny")
    x = g.input("x", FLOAT, [1, 16])
    c = np.linspace(-0.5, 0.5, 16, dtype=np.float32).reshape(1, 16)
    g.op("Relu", [g.op("Add", [x, g.const("c", c)])], out="y")
    g.output("y", FLOAT, [1, 16])
    return g.model("Add a constant, Relu. For measuring per-call harness overhead.")
