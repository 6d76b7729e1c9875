"""The wrist heart-rate stage that the ppg_hr and normal detectors share.

Both need, every 2 s, the PPG/accelerometer spectra, the int8 heart-rate model's verdict
and the tracked rate. Computed per detector, that work (the largest per-window cost of
the wrist detectors) was done twice; one WristEstimator does it once per window and hands
the same steps to every detector that asks for that window.
"""

from __future__ import annotations

__all__ = ["WristEstimator", "WristStep"]

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..infer.engine import QuantizedModel
from ..infer.heart import (
    ACC_MULTIPLES,
    HR_BINS_BPM,
    SPECTRA_CHANNELS,
    HeartRateTracker,
    WristSpectra,
)
from .base import Window


@dataclass(frozen=True)
class WristStep:
    t_ns: int
    spectra: np.ndarray  # the heart-rate model's input, (64, SPECTRA_CHANNELS)
    imu: np.ndarray  # the IMU samples of the same 8 s
    bpm: float
    confidence: float


class WristEstimator:
    """Spectra → heart-rate model → tracker, once per window whoever asks first."""

    def __init__(self, hr_model: QuantizedModel, ppg_rate_hz: float, imu_rate_hz: float) -> None:
        # A file built for other spectra (before the accelerometer's harmonics were added,
        # say) is refused at start-up, not at its first window.
        self._check_spectra(hr_model)
        self.model = hr_model
        self.spectra = WristSpectra(ppg_rate_hz, imu_rate_hz)
        self.tracker = HeartRateTracker()
        self._window: Window | None = None
        self._steps: list[WristStep] = []

    @staticmethod
    def _check_spectra(hr_model: QuantizedModel) -> None:
        card = hr_model.card
        takes = tuple(card.inputs[0].shape[1:]) if card.inputs else ()
        makes = (len(HR_BINS_BPM), SPECTRA_CHANNELS)
        makes_text = f"{makes}, the accelerometer's at {list(ACC_MULTIPLES)} of each rate"
        if takes != makes:
            problem = f"takes spectra of shape {takes}"
        else:  # an older card has no acc_multiples, but its shape differs too
            multiples = card.numbers("preprocessing", "acc_multiples")
            if multiples == ACC_MULTIPLES:
                return
            problem = f"takes the accelerometer's spectra at {list(multiples)} of each rate"
        raise ModelError(
            f"the heart-rate model {problem}; this runtime makes {makes_text}",
            path=str(card.path),
            code="input",
        )

    def reset(self) -> None:
        """Idempotent: every sharing detector calls it when the pipeline resets them."""
        self.spectra.reset()
        self.tracker.reset()
        self._window, self._steps = None, []

    def steps(self, w: Window) -> list[WristStep]:
        """The 2 s steps that this window completes (the same list for every caller)."""
        if w is self._window:
            return self._steps
        new = min(w.hop, len(w.t))
        push = self.spectra.push_imu if w.stream == "imu" else self.spectra.push_ppg
        steps = []
        for t_ns, spec, imu in push(w.t[-new:], w.v[-new:]):
            likelihood = self.model.run(spec)[0].reshape(-1)
            bpm, confidence = self.tracker.update(t_ns, likelihood, spec[:, 0])
            steps.append(WristStep(t_ns, spec, imu, bpm, confidence))
        self._window, self._steps = w, steps
        return steps
