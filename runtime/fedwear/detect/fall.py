"""Fall detector: an int8 CNN over 4 s of IMU, confirmed by stillness after the impact.

The model scores the latest 4 s every time new samples arrive. A score over the
threshold makes a candidate at the window's impact (its largest acceleration); the
candidate becomes a ``fall`` event only if the wearer then lies still, which is what
separates a fall from sitting down hard or a jump. One fall is one event: further
candidates within the refractory time are the same fall.
"""

from __future__ import annotations

__all__ = ["FallDetector"]

import numpy as np

from ..infer.engine import QuantizedModel
from ..infer.features import G, History, fall_input
from .base import Detector, Event, Window


class FallDetector(Detector):
    name = "fall"
    streams = frozenset({"imu"})

    def __init__(
        self, model: QuantizedModel, rate_hz: float, score_threshold: float | None = None
    ) -> None:
        """``score_threshold`` overrides the card's (the training tool sweeps it)."""
        card = model.card
        self.model = model
        self.rate = card.stream_rate("imu", rate_hz)
        self.window = round(card.number("preprocessing", "window_s") * self.rate)
        self.threshold = (
            card.number("thresholds", "score") if score_threshold is None else score_threshold
        )
        self.still_g = card.number("thresholds", "stillness_std_g")
        self.still_from = round(card.number("thresholds", "stillness_from_s") * self.rate)
        self.still_to = round(card.number("thresholds", "stillness_to_s") * self.rate)
        self.refractory_ns = int(card.number("thresholds", "refractory_s") * 1e9)
        self.history = History(self.window + self.still_to + round(self.rate), 6)
        self.scores: list[tuple[int, float]] = []  # (t_ns, score), kept when record_scores
        self.record_scores = False
        self.flagged = 0  # windows with gaps or non-finite samples: not scored
        self.rejected_moving = 0
        self.reset()

    def flagged_windows(self) -> int:
        return self.flagged

    def reset(self) -> None:
        self.history.reset()
        self._pending: tuple[int, int, float] | None = None  # (abs index, t_ns, score)
        self._last_fall_ns = -(1 << 62)

    def _score_latest(self) -> tuple[float, int] | None:
        h = self.history
        imu, t = h.v[-self.window :], h.t[-self.window :]
        steps = np.diff(t)
        if not np.all(np.isfinite(imu)) or steps.max() > 2.5e9 / self.rate or steps.min() <= 0:
            self.flagged += 1
            return None
        score = float(self.model.run(fall_input(imu))[0].reshape(-1)[0])
        amag = np.einsum("ij,ij->i", imu[:, :3], imu[:, :3])
        impact = h.total - self.window + int(np.argmax(amag))
        if self.record_scores:
            self.scores.append((int(t[-1]), score))
        return score, impact

    def _confirm(self, events: list[Event], stream: str) -> None:
        """Decide a pending candidate once the samples after its impact are here."""
        if self._pending is None:
            return
        index, t_ns, score = self._pending
        h = self.history
        if h.total < index + self.still_to:
            return
        self._pending = None
        start = self.still_from - (h.total - index)
        stop = self.still_to - (h.total - index)
        if len(h.v) + start < 0:  # hop longer than the history kept: cannot tell
            return
        after = h.v[len(h.v) + start : len(h.v) + stop if stop < 0 else None, :3]
        moving = float((np.linalg.norm(after, axis=1) / G).std())
        if moving > self.still_g:
            self.rejected_moving += 1
            return
        self._last_fall_ns = t_ns
        events.append(
            Event(
                t_ns,
                self.name,
                "fall",
                stream,
                f"fall detected (score {score:.2f}), wearer still afterwards",
                value=score,
                extra={"stillness_std_g": round(moving, 4)},
            )
        )

    def on_window(self, w: Window) -> list[Event]:
        new = min(w.hop, len(w.t))
        self.history.append(w.t[-new:], w.v[-new:])
        events: list[Event] = []
        self._confirm(events, w.stream)
        if self.history.count < self.window:
            return events
        scored = self._score_latest()
        if scored is None or scored[0] < self.threshold:
            return events
        score, impact = scored
        t_impact = int(self.history.t[len(self.history.t) - (self.history.total - impact)])
        if t_impact - self._last_fall_ns < self.refractory_ns:
            return events
        if self._pending is None or (
            abs(impact - self._pending[0]) < 2 * self.rate and score > self._pending[2]
        ):
            self._pending = (impact, t_impact, score)
        self._confirm(events, w.stream)
        return events
