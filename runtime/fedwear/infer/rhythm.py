"""Is the rhythm fibrillating? Three RR-interval statistics over the last beats.

After Dash et al. (2009, Ann. Biomed. Eng. 37:1701), whose thresholds are used as they
are: in atrial fibrillation the RR intervals are irregular (RMSSD over the mean above
0.1), spread over many values (Shannon entropy of their 16-bin histogram above 0.7 of
the maximum) and in random order (a turning-point count within the 95 % range of a
random series). Frequent premature beats make the series irregular too, but their
intervals sit in a short and a long cluster (low entropy) and alternate (too many
turning points), which is what this check needs to tell them apart.

Runs of atrial premature beats can pass all three, so the verdict the beat detector acts
on (``FibrillationVerdict``) also asks the atria: no repeating P wave
(`fedwear.infer.atrial`).
"""

from __future__ import annotations

__all__ = ["FibrillationCheck", "FibrillationVerdict", "RhythmStats"]

import math
from collections import deque
from typing import NamedTuple

import numpy as np

from .atrial import AtrialActivity

ENTROPY_BINS = 16


class RhythmStats(NamedTuple):
    rmssd_ratio: float  # RMSSD over the mean RR, outliers left out
    entropy: float  # Shannon entropy of the RR histogram, 0..1
    turning_points: int
    random_order: bool  # turning points within the 95 % range of a random series


class FibrillationCheck:
    """RR intervals in, one verdict out, over a sliding window of ``beats`` intervals.

    Feed it either the intervals (``push``) or the classified beats' times (``beat``, with
    ``gap`` where no interval may be measured across).
    """

    def __init__(self, beats: int, rmssd_ratio: float, entropy: float) -> None:
        if beats < 2 * ENTROPY_BINS:
            raise ValueError(f"a fibrillation window needs at least {2 * ENTROPY_BINS} beats")
        self.beats = beats
        self.rmssd_ratio = rmssd_ratio
        self.entropy = entropy
        self.trim = beats // 16  # outliers left out at each end (8 of Dash's 128)
        mean = (2 * beats - 4) / 3
        spread = 1.96 * math.sqrt((16 * beats - 29) / 90)
        self.turning_range = (mean - spread, mean + spread)
        self._rr: deque[float] = deque(maxlen=beats)
        self._last_beat_s: float | None = None
        self.latest: RhythmStats | None = None
        self.active = False

    def reset(self) -> None:
        self._rr.clear()
        self._last_beat_s = None
        self.latest = None
        self.active = False

    def beat(self, t_s: float) -> bool:
        """A beat at ``t_s`` seconds: its interval from the previous one (unless a gap came
        between) is pushed. Returns the verdict, as ``push`` does."""
        if self._last_beat_s is not None:
            self.push(t_s - self._last_beat_s)
        self._last_beat_s = t_s
        return self.active

    def gap(self) -> None:
        """No interval across here: an unclassifiable beat or missing samples."""
        self._last_beat_s = None

    def push(self, rr_s: float) -> bool:
        """Add one RR interval; True while the last ``beats`` of them look fibrillating."""
        # To the millisecond: R peaks land on sample ticks, so equal intervals are common,
        # and the float noise of how timestamps were made must not decide turning points.
        self._rr.append(round(rr_s, 3))
        if len(self._rr) < self.beats:
            return False
        self.latest = stats = self.measure(np.fromiter(self._rr, np.float64, self.beats))
        self.active = self.irregular and stats.random_order
        return self.active

    @property
    def irregular(self) -> bool:
        """The last window's intervals pass the first two tests (irregular and spread out),
        whatever their order."""
        stats = self.latest
        return (
            stats is not None
            and stats.rmssd_ratio > self.rmssd_ratio
            and stats.entropy > self.entropy
        )

    def measure(self, rr: np.ndarray) -> RhythmStats:
        ordered = np.sort(rr)
        low, high = ordered[self.trim], ordered[-self.trim - 1]
        kept = rr[(rr >= low) & (rr <= high)]
        rmssd = float(np.sqrt(np.mean(np.diff(kept) ** 2)) / kept.mean())
        counts, _ = np.histogram(ordered[self.trim : -self.trim], bins=ENTROPY_BINS)
        p = counts[counts > 0] / counts.sum()
        entropy = float(-(p * np.log(p)).sum() / math.log(ENTROPY_BINS))
        middle = rr[1:-1]
        turning = int(np.count_nonzero((middle - rr[:-2]) * (middle - rr[2:]) > 0))
        lo, hi = self.turning_range
        return RhythmStats(rmssd, entropy, turning, lo <= turning <= hi)


class FibrillationVerdict:
    """Whether a beat is classified as in fibrillation: the check over every interval,
    vetoed while the intervals between beats not V by shape alone are regular (frequent
    ventricular ectopy alone makes a sinus rhythm pass the check) and while the beats not
    V by shape share one P wave (`fedwear.infer.atrial`: frequent atrial ectopy makes the
    intervals uneven too, but leaves the sinus beats their P waves). "V by shape" must not
    depend on this verdict (`fedwear.detect.beats` says why). Give it each classified beat
    twice: ``judge`` before classifying it, ``judged`` after, with its shape's verdict."""

    def __init__(self, beats: int, rmssd_ratio: float, entropy: float, p_wave_fit: float) -> None:
        self.every = FibrillationCheck(beats, rmssd_ratio, entropy)
        self.without_v_shapes = FibrillationCheck(beats, rmssd_ratio, entropy)
        self.atrial = AtrialActivity(p_wave_fit)

    def reset(self) -> None:
        self.every.reset()
        self.without_v_shapes.reset()
        self.atrial.reset()

    def gap(self) -> None:
        """No interval across here (see `FibrillationCheck.gap`)."""
        self.every.gap()
        self.without_v_shapes.gap()

    def judge(self, t_s: float) -> bool:
        """The verdict for the beat at ``t_s``: its interval joins the check over every
        interval; the vetoes are as of the beat before (this beat's shape is not judged
        yet)."""
        self.every.beat(t_s)
        return self.every.active and self.without_v_shapes.irregular and not self.atrial.organised

    def judged(self, t_s: float, ventricular_shape: bool, shape: np.ndarray) -> None:
        """The beat at ``t_s`` (its segment ``shape``) is V by shape, or not: no interval
        into or out of a V one, and no P wave to compare."""
        if ventricular_shape:
            self.without_v_shapes.gap()
        else:
            self.without_v_shapes.beat(t_s)
            self.atrial.beat(shape)
