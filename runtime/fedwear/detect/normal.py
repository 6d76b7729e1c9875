""" "Not my normal": an autoencoder's reconstruction error over wrist features.

The feature vector (fedwear.infer.normal) is standardised with the training set's mean
and spread from the card, reconstructed by the int8 autoencoder, and scored by the mean
squared error. An event needs ``debounce`` steps in a row over the threshold and clears
below ``clear_ratio`` times it. This is the model on-device learning personalises: its
decoder is the small trainable part (see the model card).
"""

from __future__ import annotations

__all__ = ["NormalDetector"]

import numpy as np

from ..errors import ModelError
from ..infer.engine import QuantizedModel
from ..infer.normal import NORMAL_FEATURES, wrist_features
from .base import Detector, Event, Window
from .wrist import WristEstimator


class NormalDetector(Detector):
    name = "normal"
    streams = frozenset({"ppg", "imu"})

    def __init__(self, model: QuantizedModel, wrist: WristEstimator) -> None:
        card = model.card
        self.model, self.wrist = model, wrist
        self.mean = np.asarray(card.numbers("preprocessing", "feature_mean"), np.float32)
        self.std = np.asarray(card.numbers("preprocessing", "feature_std"), np.float32)
        if self.mean.shape != (len(NORMAL_FEATURES),) or self.std.shape != self.mean.shape:
            raise ModelError(
                "card feature_mean/feature_std do not match the features",
                path=str(card.path),
                code="card",
            )
        self.threshold = card.number("thresholds", "score")
        self.debounce = card.count("thresholds", "debounce_steps")
        self.clear_ratio = card.number("thresholds", "clear_ratio")
        self.scores: list[tuple[int, float]] = []
        self.record_scores = False
        self.reset()

    def flagged_windows(self) -> int:
        return self.wrist.spectra.flagged

    def reset(self) -> None:
        self.wrist.reset()
        self._over = 0
        self._active = False

    def score(self, features: np.ndarray) -> float:
        z = (features - self.mean) / self.std
        recon = self.model.run(z)[0].reshape(-1)
        return float(np.mean((recon - z) ** 2))

    def on_window(self, w: Window) -> list[Event]:
        events: list[Event] = []
        for step in self.wrist.steps(w):
            t_ns = step.t_ns
            features = wrist_features(step.spectra, step.imu, step.bpm, step.confidence)
            s = self.score(features)
            if self.record_scores:
                self.scores.append((t_ns, s))
            if self._active:
                if s < self.clear_ratio * self.threshold:
                    self._active, self._over = False, 0
                continue
            self._over = self._over + 1 if s > self.threshold else 0
            if self._over >= self.debounce:
                self._active = True
                worst = int(np.argmax(np.abs((features - self.mean) / self.std)))
                events.append(
                    Event(
                        t_ns,
                        self.name,
                        "not_my_normal",
                        w.stream,
                        f"unusual for this wearer (score {s:.2f}, most unusual: "
                        f"{NORMAL_FEATURES[worst]})",
                        value=s,
                        extra={
                            "features": {
                                k: round(float(v), 3)
                                for k, v in zip(NORMAL_FEATURES, features, strict=True)
                            }
                        },
                    )
                )
        return events
