"""Write the gate study's graded resnet_small variants into a folder (not committed: rebuilt on
demand by scripts/study.py). Outputs equal resnet_small.onnx's exactly; only the latency changes.

    python models/make_study_variants.py OUT_DIR

- late_m2.onnx, late_m8.onnx, late_m16.onnx: 2, 8 and 16 elementwise Max(h, h) after the last
  block (about 1.01x, 1.03x and 1.05x at default threads on a 2-core x86 runner);
- slow15.onnx: a dead 16-filter conv on the input (about 1.15x).

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


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, kwargs in VARIANTS.items():
        onnx.save(graphs.resnet_small(seed=SEED, **kwargs), os.path.join(out, f"{name}.onnx"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
