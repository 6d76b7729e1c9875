"""Are there P waves? The other half of what makes a rhythm atrial fibrillation.

Atrial fibrillation is an irregular ventricular rhythm *and* no organised atrial activity:
the P wave before each QRS is replaced by fibrillatory waves that differ from beat to
beat. RR intervals alone cannot tell it from a sinus rhythm with frequent premature beats
(runs of atrial ectopy make intervals as uneven), but the sinus beats of such a rhythm
still carry the same P wave every time. So this measures, over the last beats, how well
each beat's stretch before the QRS (where the P wave is) matches the median of the
same stretch over the beats before it. The correlation is taken after each stretch's
straight-line trend is removed, so that baseline wander, which tilts every stretch
alike, does not pass for a repeating P wave.

Beats that are ventricular by shape have no P wave of their own and are left out.
Where the P waves are too small or noisy to correlate (some leads, a long PR interval
that moves them out of the stretch), the measure stays low and the RR intervals alone
decide, as they did before this check.
"""

from __future__ import annotations

__all__ = ["AtrialActivity"]

import statistics
from collections import deque

import numpy as np

from .beats import SEGMENT_BEFORE_S, SEGMENT_RATE_HZ, correlation

# The stretch of a beat's segment (which starts SEGMENT_BEFORE_S before R) that holds a
# P wave at a usual PR interval: from the segment's start to 80 ms before R, short of the
# QRS onset of a wide beat.
P_WAVE_END_BEFORE_R_S = 0.08
P_WAVE_SIZE = round((SEGMENT_BEFORE_S - P_WAVE_END_BEFORE_R_S) * SEGMENT_RATE_HZ)
REFERENCE_BEATS = 16  # the median P stretch each beat is compared with
WINDOW_BEATS = 32  # the correlations the verdict is the median of
# The verdict also needs the median of the last few correlations: at the onset of
# fibrillation, the window still remembers the sinus beats before it for half its length.
RECENT_BEATS = 4


_SLOPE_AXIS = np.arange(P_WAVE_SIZE, dtype=np.float64) - (P_WAVE_SIZE - 1) / 2
_SLOPE_NORM = float(np.dot(_SLOPE_AXIS, _SLOPE_AXIS))


def _detrended(x: np.ndarray) -> np.ndarray:
    """The stretch less its least-squares line (baseline wander tilts every beat alike)."""
    return x - x.mean() - _SLOPE_AXIS * float(np.dot(x, _SLOPE_AXIS) / _SLOPE_NORM)


class AtrialActivity:
    """Feed it each beat that is not ventricular by shape; ``organised`` tells whether the
    recent beats share one P wave (median correlation at ``min_correlation`` or more)."""

    def __init__(self, min_correlation: float) -> None:
        self.min_correlation = min_correlation
        self._stretches = np.zeros((REFERENCE_BEATS, P_WAVE_SIZE), np.float64)
        self._correlations: deque[float] = deque(maxlen=WINDOW_BEATS)
        self.reset()

    def reset(self) -> None:
        self._count = 0
        self._correlations.clear()
        self.correlation: float | None = None  # the window's median; None until half full
        self.organised = False

    def beat(self, shape: np.ndarray) -> None:
        """A beat's segment (``Beat.shape``), R at ``SEGMENT_BEFORE_S`` into it."""
        raw = np.asarray(shape[:P_WAVE_SIZE], np.float64)
        if self._count >= REFERENCE_BEATS:
            ordered = np.sort(self._stretches, axis=0)  # the median of an even count
            middle = REFERENCE_BEATS // 2
            reference = 0.5 * (ordered[middle - 1] + ordered[middle])
            self._correlations.append(correlation(_detrended(raw), _detrended(reference)))
            self._judge()
        self._stretches[self._count % REFERENCE_BEATS] = raw
        self._count += 1

    def _judge(self) -> None:
        if len(self._correlations) < WINDOW_BEATS // 2:
            return
        self.correlation = statistics.median(self._correlations)
        recent = statistics.median(list(self._correlations)[-RECENT_BEATS:])
        self.organised = min(self.correlation, recent) >= self.min_correlation
