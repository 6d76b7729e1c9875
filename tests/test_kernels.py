"""$FEDWEAR_TFLITE_KERNELS=reference: TFLite's reference int8 kernels, which give every
machine the same outputs (the XNNPACK delegate, the default, and TFLite's optimized
kernels differ by a few steps from CPU to CPU).

The reference kernels changed between releases (tflite_runtime 2.14 rounds a few beats
outputs one step apart from ai-edge-litert 2.3), so outputs are pinned per runtime
release, on an x86_64 host; CI checks them on newer Pythons and in the aarch64 guest.
To pin the runtime this venv has (again, after a model changes): ``python tests/test_kernels.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedwear.errors import ModelError
from fedwear.infer.card import models_dir
from fedwear.infer.engine import KERNELS_ENV, QuantizedModel, load_model, runtime_release

PINNED = Path(__file__).parent / "data" / "reference_kernel_outputs.json"
NAMES = ("fall", "beats", "ppg_hr", "normal")
# Wider and wider windows of noise: at 1 the fall model says "no fall" to all of them,
# wider ones reach its other outputs.
SPREADS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def pinned_outputs() -> dict[str, Any]:
    pinned = json.loads(PINNED.read_text())
    if runtime_release() not in pinned:
        pytest.skip(f"no outputs pinned for {runtime_release()}: python {Path(__file__).name}")
    return dict(pinned[runtime_release()])


def quantized_outputs(name: str) -> list[list[int]]:
    """The model's first output, as the int8 steps it computed, for seeded noise."""
    model = load_model(models_dir() / f"{name}.json")
    spec = model.card.outputs[0]
    rng = np.random.default_rng(7)
    out = []
    for spread in SPREADS:
        x = (rng.normal(size=model.card.inputs[0].shape) * spread).astype(np.float32)
        y = model.run(x)[0]
        out.append((np.rint(y / spec.scale).astype(int) + spec.zero_point).ravel().tolist())
    return out


def test_reference_kernels_give_every_machine_the_pinned_outputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KERNELS_ENV, "reference")
    pinned = pinned_outputs()
    for name in NAMES:
        assert quantized_outputs(name) == pinned[name], name


def test_the_default_kernels_are_the_same_model_rounded_their_own_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """XNNPACK's int8 rounding differs from the reference kernels' by a few steps (up to 8
    on wide noise here, tools/bench/kernels.py; more than that is another model)."""
    pinned = pinned_outputs()
    monkeypatch.setenv(KERNELS_ENV, "default")
    for name in NAMES:
        differ = np.abs(np.array(quantized_outputs(name)) - np.array(pinned[name]))
        assert differ.max() <= 16, name


def test_a_kernel_choice_it_does_not_know_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KERNELS_ENV, "xnnpack")
    with pytest.raises(ModelError, match=r"FEDWEAR_TFLITE_KERNELS='xnnpack': expected one of"):
        load_model(models_dir() / "beats.json")


def test_a_model_says_which_kernels_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`fedwear run` logs them once running: XNNPACK where the runtime applied it
    (ai-edge-litert does to int8 graphs, tflite-runtime 2.14 does not; neither where it
    cannot start), and the reference kernels when asked for."""
    from fedwear.detect.models import build_model_detectors, describe_kernels

    monkeypatch.setenv(KERNELS_ENV, "reference")
    loaded: list[QuantizedModel] = []
    build_model_detectors(["fall", "beats"], "", {"imu": 100.0, "ecg": 250.0}, "exit", loaded)
    assert describe_kernels(loaded) == (
        f"models on {runtime_release()}: fall, beats (reference kernels)"
    )
    monkeypatch.setenv(KERNELS_ENV, "default")
    assert load_model(models_dir() / "beats.json").kernels in ("xnnpack", "tflite")


if __name__ == "__main__":
    import os

    os.environ[KERNELS_ENV] = "reference"
    releases = json.loads(PINNED.read_text()) if PINNED.exists() else {}
    releases[runtime_release()] = {n: quantized_outputs(n) for n in NAMES}
    PINNED.write_text(
        "{\n"
        + ",\n".join(
            f"  {json.dumps(release)}: {{\n"
            + ",\n".join(f"    {json.dumps(n)}: {json.dumps(o)}" for n, o in outputs.items())
            + "\n  }"
            for release, outputs in sorted(releases.items())
        )
        + "\n}\n"
    )
    sys.stdout.write(f"pinned {runtime_release()} in {PINNED}\n")
