"""Figures the detectors are judged by: AAMI beat statistics, fall recall, HR error."""

from __future__ import annotations

__all__ = ["AAMI_CLASSES", "aami_class", "aami_stats", "match_beats"]

import numpy as np

from ..ingest.recordings import AAMI_OF_SYMBOL

AAMI_CLASSES = ("N", "S", "V")


def aami_class(symbol: str) -> str | None:
    """The AAMI EC57 class of a MIT-BIH beat symbol (None for non-beat annotations)."""
    return AAMI_OF_SYMBOL.get(symbol)


def match_beats(ref_s: np.ndarray, det_s: np.ndarray, tolerance_s: float = 0.15) -> np.ndarray:
    """For each reference beat, the index of the detected beat within tolerance, or -1.

    Greedy in time order, each detection used at most once (EC57's 150 ms window).
    """
    match = np.full(len(ref_s), -1, dtype=np.int64)
    used = np.zeros(len(det_s), dtype=bool)
    j = 0
    for i, r in enumerate(ref_s):
        while j < len(det_s) and det_s[j] < r - tolerance_s:
            j += 1
        best, k = -1, j
        while k < len(det_s) and det_s[k] <= r + tolerance_s:
            if not used[k] and (best < 0 or abs(det_s[k] - r) < abs(det_s[best] - r)):
                best = k
            k += 1
        if best >= 0:
            used[best] = True
            match[i] = best
    return match


def confusion(
    ref_cls: list[str],
    ref_s: np.ndarray,
    det_s: np.ndarray,
    det_cls: list[str],
    from_s: float = 0.0,
    excluded: np.ndarray | None = None,
) -> dict[tuple[str, str], int]:
    """Counts of (reference class, detected class); "-" marks a missed or extra beat.

    Beats before ``from_s`` seconds, reference or detected, are not counted: EC57's
    learning period (300 s) for a classifier that adapts to its patient. Nor are beats
    within the (start, end) seconds of ``excluded``: the reference's ventricular flutter
    episodes, where EC57's comparator (bxb) counts no detection.
    """
    ref, det = counted(ref_s, from_s, excluded), counted(det_s, from_s, excluded)
    ref_cls = [c for c, keep in zip(ref_cls, ref, strict=True) if keep]
    det_cls = [c for c, keep in zip(det_cls, det, strict=True) if keep]
    ref_s, det_s = np.asarray(ref_s)[ref], np.asarray(det_s)[det]
    counts: dict[tuple[str, str], int] = {}
    match = match_beats(ref_s, det_s)
    for rc, m in zip(ref_cls, match, strict=True):
        key = (rc, det_cls[m] if m >= 0 else "-")
        counts[key] = counts.get(key, 0) + 1
    matched = set(int(m) for m in match if m >= 0)
    for k, dc in enumerate(det_cls):
        if k not in matched:
            counts[("-", dc)] = counts.get(("-", dc), 0) + 1
    return counts


def counted(times_s: np.ndarray, from_s: float, excluded: np.ndarray | None) -> np.ndarray:
    """Which of these beat times are scored: from ``from_s`` on, outside ``excluded``."""
    t = np.asarray(times_s, dtype=np.float64)
    keep = t >= from_s
    for start, end in np.empty((0, 2)) if excluded is None else excluded:
        keep &= (t < start) | (t > end)
    return keep


def aami_stats(counts: dict[tuple[str, str], int]) -> dict[str, dict[str, float | None]]:
    """Sensitivity and positive predictivity per class, in percent (EC57 conventions).

    F and Q reference beats are left out of every class's figures (the classifier does not
    label them); a missed reference beat counts against its class's sensitivity, and an
    extra detection against the positive predictivity of the class it was given.
    """
    out: dict[str, dict[str, float | None]] = {}
    for c in AAMI_CLASSES:
        tp = counts.get((c, c), 0)
        ref = sum(n for (r, _), n in counts.items() if r == c)
        pred = sum(n for (r, d), n in counts.items() if d == c and r not in ("F", "Q"))
        out[c] = {
            "se": round(100.0 * tp / ref, 2) if ref else None,
            "ppv": round(100.0 * tp / pred, 2) if pred else None,
            "reference_beats": ref,
        }
    return out
