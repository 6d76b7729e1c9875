"""ECG beats from a stream: QRS detection, then one classifier input per beat.

A beat is classified once the next one is found, because the RR interval after a beat
(the compensatory pause of an ectopic beat) is one of its strongest features. Detection
reruns over a short buffer each time new samples arrive and accepts only beats far
enough from the buffer's end for their waveform to be complete, so a beat is reported
exactly once however the stream is chunked.
"""

from __future__ import annotations

__all__ = ["BEAT_INPUT_SIZE", "PAUSE", "Beat", "BeatTracker", "correlation"]

from collections import deque
from dataclasses import dataclass

import numpy as np

from .features import History, QrsDetector

SEGMENT_BEFORE_S = 0.24
SEGMENT_AFTER_S = 0.40
SEGMENT_RATE_HZ = 125.0
SEGMENT_SIZE = round((SEGMENT_BEFORE_S + SEGMENT_AFTER_S) * SEGMENT_RATE_HZ)  # 80
RR_FEATURES = 5
# RR ratios sit near 1; (ratio - 1) * 2 spreads 0.5-2.5 over the input's +-3, so the int8
# input step (6/255) is 1.2 % of an RR interval instead of 2.4 %, the size of the
# prematurity that marks many S beats.
RR_GAIN = 2.0
# Only beats that come on time (pre-RR at least this share of the local mean) join the
# template: ectopic beats are premature, so even every other beat being V (bigeminy)
# leaves the template the wearer's normal beat.
PREMATURE = 0.9
# The template fit, which tells noise from heart, is taken only from beats on time
# against the long-run mean RR too. In a run of tachycardia every beat is on time against
# the last ten, yet its shape differs from the template for reasons of rhythm (its T wave
# meets the next P wave, or it is a run of V beats), not noise: counted, such runs were
# labelled unclassifiable instead of S or V.
FIT_BEATS = 8
TEMPLATE_BEATS = 32
# The long-run mean RR (the yardstick of the RR features) starts as the median of the
# first intervals, not the first one: a tracker (re)starts at any beat, and when that
# beat is premature, a mean seeded with its short interval, moving 1 % a beat, made every
# normal beat of the next minute look late (and late beats look like escape beats, V).
LONG_RR_START = 16
LONG_RR_WEIGHT = 0.01
# A pause (a dropped or missed beat, a sinus arrest) does not speak of the wearer's rate:
# the yardsticks (the local and long-run mean RR) take an interval at most this many
# long-run means long. A premature beat and its compensatory pause span two cycles at
# most, so with the QRS refractory of a quarter cycle the pause after an ectopic beat
# stays under 1.75 and keeps its full weight (the pair then averages to the sinus rate).
# Taken whole, each 3 s pause lifted the yardsticks for dozens of beats, and on-time
# beats read as premature: S (docs/models.md, "Beats: pauses").
PAUSE = 1.75
# The beat minus this wearer's recent median beat, then the RR features: the difference
# makes a bundle-branch block's wide (but usual) beat look normal and a rare ectopic beat
# stand out, whoever the wearer is.
BEAT_INPUT_SIZE = SEGMENT_SIZE + RR_FEATURES


@dataclass
class Beat:
    index: int  # absolute sample index of the R peak in the stream
    t_ns: int
    features: np.ndarray  # (BEAT_INPUT_SIZE,) float32, the classifier's input
    shape: np.ndarray  # (SEGMENT_SIZE,) float32, the beat itself, scaled like the template
    # How well the wearer's recent on-time beats (against both the local and the long-run
    # mean RR) match their template (median correlation, 0 until FIT_BEATS of them): low
    # when noise, not the heart, shapes the ECG.
    quality: float
    # How well this beat itself matches the template (correlation; 1 for the first beat,
    # which is its own template): low for a beat of another shape, such as a wide V beat,
    # whatever its timing and whatever a network makes of it.
    own_fit: float
    # Whether the beat came early: its pre-RR under PREMATURE of the local mean (such
    # beats never join the template). Ectopy shows in a beat's shape or in its timing.
    premature: bool


class BeatTracker:
    """Feed ECG samples; get back beats (with their classifier input) one beat late."""

    def __init__(self, rate_hz: float, buffer_s: float = 8.0) -> None:
        self.fs = rate_hz
        self.history = History(round(buffer_s * rate_hz), 1)
        self.qrs = QrsDetector(rate_hz)
        self.before = round(SEGMENT_BEFORE_S * rate_hz)
        self.after = round(SEGMENT_AFTER_S * rate_hz)
        self.settle = self.after + round(0.1 * rate_hz)
        self.grid = np.linspace(0, self.before + self.after, SEGMENT_SIZE)
        self.reset()

    def reset(self) -> None:
        self.history.reset()
        self.history.total = 0
        self._last = -(10**12)
        self._pending: tuple[int, int, np.ndarray, float] | None = None
        self._rr: deque[float] = deque(maxlen=10)
        self._rr_long = 0.0
        self._rr_start: list[float] = []
        self._amps: deque[float] = deque(maxlen=8)
        self._recent = np.zeros((TEMPLATE_BEATS, SEGMENT_SIZE), dtype=np.float32)
        self._recent_count = 0
        self._fit: deque[float] = deque(maxlen=2 * FIT_BEATS)

    def _segment(self, x: np.ndarray, r: int) -> tuple[np.ndarray, float]:
        raw = x[r - self.before : r + self.after]
        seg = np.interp(self.grid, np.arange(len(raw)), raw)
        seg -= np.median(seg)
        return seg.astype(np.float32), float(seg.max() - seg.min())

    def push(self, t: np.ndarray, v: np.ndarray) -> list[Beat]:
        h = self.history
        h.append(t, v[:, :1])
        if h.count < self.fs * 2:
            return []
        x = h.v[-h.count :, 0]
        first_abs = h.total - h.count
        beats = []
        self.qrs.signal_level = 0.0  # thresholds come from this buffer alone
        for r in self.qrs.detect(x):
            absolute = first_abs + r
            if absolute <= self._last + self.qrs.refractory:
                continue
            if r < self.before or r > len(x) - self.settle:
                continue
            seg, amp = self._segment(x, r)
            beat = self._accept(absolute, int(h.t[len(h.t) - h.count + r]), seg, amp)
            if beat is not None:
                beats.append(beat)
            self._last = absolute
        return beats

    def _accept(self, index: int, t_ns: int, seg: np.ndarray, amp: float) -> Beat | None:
        """Completes the previous beat with this one's RR interval."""
        self._amps.append(amp)
        done = None
        if self._pending is not None:
            p_index, p_t, p_seg, p_pre = self._pending
            post = (index - p_index) / self.fs
            steady = min(post, PAUSE * self._rr_long) if self._rr_long else post
            self._update_long_rr(steady)
            pre = p_pre if p_pre > 0 else post
            local = float(np.mean(self._rr)) if self._rr else post
            scale = max(float(np.median(self._amps)), 1e-6)
            rr = np.array(
                [
                    pre / self._rr_long,
                    post / self._rr_long,
                    local / self._rr_long,
                    pre / local,
                    post / pre,
                ],
                dtype=np.float32,
            )
            shape = np.clip(p_seg / scale, -3, 3)
            recent = self._recent[: min(self._recent_count, TEMPLATE_BEATS)]
            template = np.median(recent if len(recent) else shape[None], axis=0).astype(np.float32)
            own_fit = correlation(shape, template) if self._recent_count else 1.0
            premature = pre < PREMATURE * local
            if not premature or self._recent_count == 0:
                if self._recent_count and pre >= PREMATURE * self._rr_long:
                    self._fit.append(own_fit)
                self._recent[self._recent_count % TEMPLATE_BEATS] = shape
                self._recent_count += 1
            quality = float(np.median(self._fit)) if len(self._fit) >= FIT_BEATS else 0.0
            features = np.concatenate(
                (np.clip(shape - template, -3, 3), np.clip((rr - 1.0) * RR_GAIN, -3, 3))
            )
            done = Beat(
                p_index, p_t, features.astype(np.float32), shape, quality, own_fit, premature
            )
            self._rr.append(steady)
            pre_next = post
        else:
            pre_next = 0.0
        self._pending = (index, t_ns, seg, pre_next)
        return done

    def _update_long_rr(self, rr: float) -> None:
        """The median of the first LONG_RR_START intervals, then a slow running mean."""
        if len(self._rr_start) < LONG_RR_START:
            self._rr_start.append(rr)
            self._rr_long = float(np.median(self._rr_start))
        else:
            self._rr_long += LONG_RR_WEIGHT * (rr - self._rr_long)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length signals; 0 where either is flat."""
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0
