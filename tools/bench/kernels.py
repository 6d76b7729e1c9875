"""The runtime's default kernels (the XNNPACK delegate) against TFLite's reference kernels
($FEDWEAR_TFLITE_KERNELS=reference), for each shipped int8 model, in one run.

What it costs to ask for the same scores on every machine: the median time of one
engine call (`QuantizedModel.run`, one thread) with each, and how often and by how many
int8 steps their outputs differ. The inputs are seeded noise, one window after another
(the time of an int8 graph does not depend on the values). Needs only the repository.

Usage: python tools/bench/kernels.py [--repeats N] [--windows N]
"""

from __future__ import annotations

import argparse

import numpy as np

from fedwear.infer.card import models_dir
from fedwear.infer.engine import QuantizedModel, kernels, load_model
from models import latency_us  # tools/bench/models.py: the same timing loop

NAMES = ("fall", "beats", "ppg_hr", "normal")


def load_with(choice: str, name: str) -> QuantizedModel:
    with kernels(choice):
        return load_model(models_dir() / f"{name}.json")


def steps(model: QuantizedModel, xs: np.ndarray) -> np.ndarray:
    spec = model.card.outputs[0]
    return np.stack([np.rint(model.run(x)[0] / spec.scale).astype(int) for x in xs])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--windows", type=int, default=200)
    args = p.parse_args()
    print(
        "| model | default µs | reference µs | reference / default "
        "| outputs that differ | largest difference (int8 steps) |"
    )
    print("|---|---|---|---|---|---|")
    for name in NAMES:
        default, reference = load_with("default", name), load_with("reference", name)
        rng = np.random.default_rng(3)
        shape = default.card.inputs[0].shape
        spread = rng.uniform(0.5, 8, args.windows).reshape(-1, *[1] * len(shape))
        xs = (rng.normal(size=(args.windows, *shape)) * spread).astype(np.float32)
        t_default = latency_us(default.run, xs, args.repeats)
        t_reference = latency_us(reference.run, xs, args.repeats)
        diff = np.abs(steps(default, xs) - steps(reference, xs))
        print(
            f"| {name} | {t_default:.1f} | {t_reference:.1f} | {t_reference / t_default:.2f}× "
            f"| {100 * (diff > 0).mean():.2f} % | {diff.max()} |"
        )


if __name__ == "__main__":
    main()
