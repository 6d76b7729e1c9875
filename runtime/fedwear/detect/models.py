"""Builds the int8 model detectors the config enables and the source's streams allow."""

from __future__ import annotations

__all__ = ["MODEL_DETECTORS", "build_model_detectors", "describe_kernels", "load_detector"]

import logging
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError, ModelError
from ..infer.card import models_dir
from ..infer.engine import QuantizedModel, load_model, runtime_release
from .base import Detector
from .wrist import WristEstimator

log = logging.getLogger(__name__)

# detector name -> the streams it needs
MODEL_DETECTORS: dict[str, frozenset[str]] = {
    "fall": frozenset({"imu"}),
    "beats": frozenset({"ecg"}),
    "ppg_hr": frozenset({"ppg", "imu"}),
    "normal": frozenset({"ppg", "imu"}),
}


def load_detector(
    name: str,
    rates: Mapping[str, float],
    directory: Path,
    shared: dict[str, WristEstimator] | None = None,
    loaded: list[QuantizedModel] | None = None,
) -> Detector:
    """One model detector, its model (and card) loaded and checked. Detectors built with
    the same ``shared`` dict share one wrist heart-rate stage (ppg_hr and normal); each
    model loaded is appended to ``loaded``."""

    def model(card: str) -> QuantizedModel:
        m = load_model(directory / f"{card}.json")
        if loaded is not None:
            loaded.append(m)
        return m

    def wrist() -> WristEstimator:
        stages = {} if shared is None else shared
        if "wrist" not in stages:
            stages["wrist"] = WristEstimator(model("ppg_hr"), rates["ppg"], rates["imu"])
        return stages["wrist"]

    if name == "fall":
        from .fall import FallDetector

        return FallDetector(model("fall"), rates["imu"])
    if name == "beats":
        from .beats import BeatDetector

        return BeatDetector(model("beats"), rates["ecg"])
    if name == "ppg_hr":
        from .heart import PpgHeartRateDetector

        return PpgHeartRateDetector(wrist())
    if name == "normal":
        from .normal import NormalDetector

        return NormalDetector(model("normal"), wrist())
    raise ConfigError(
        f"unknown model detector {name!r} (known: {', '.join(MODEL_DETECTORS)})",
        key="detectors.models.enabled",
    )


def build_model_detectors(
    enabled: list[str],
    configured_dir: str,
    rates: Mapping[str, float],
    on_error: str = "exit",
    loaded: list[QuantizedModel] | None = None,
) -> list[Detector]:
    """The enabled detectors whose streams are all present in ``rates``; their models are
    appended to ``loaded``.

    With ``on_error="skip"`` a detector whose model cannot be used is left out, with one
    error line naming the file, and the others still run.
    """
    directory = models_dir(configured_dir)
    shared: dict[str, WristEstimator] = {}
    out = []
    for name in enabled:
        needs = MODEL_DETECTORS.get(name)
        if needs is not None and not needs <= rates.keys():
            continue
        try:
            out.append(load_detector(name, rates, directory, shared, loaded))
        except ModelError as exc:
            if on_error != "skip":
                raise
            log.error("detector %s disabled: %s", name, exc)
    return out


def describe_kernels(loaded: list[QuantizedModel]) -> str:
    """Which kernels run which models, and on which runtime: the runtime chooses silently,
    and the kernels decide the speed and the last int8 step of a score."""
    by_kernels: dict[str, list[str]] = {}
    for m in loaded:
        by_kernels.setdefault(m.kernels, []).append(m.card.name)
    models = "; ".join(f"{', '.join(names)} ({k} kernels)" for k, names in by_kernels.items())
    return f"models on {runtime_release()}: {models}"
