"""Figures the detectors are judged by: AAMI beat statistics, fall recall, HR error."""

from __future__ import annotations

__all__ = [
    "AAMI_CLASSES",
    "aami_class",
    "aami_stats",
    "class_scores",
    "curve_points",
    "match_beats",
]

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
    ref_cls, det, match = counted_match(ref_cls, ref_s, det_s, from_s, excluded)
    det_cls = [c for c, keep in zip(det_cls, det, strict=True) if keep]
    counts: dict[tuple[str, str], int] = {}
    for rc, m in zip(ref_cls, match, strict=True):
        key = (rc, det_cls[m] if m >= 0 else "-")
        counts[key] = counts.get(key, 0) + 1
    matched = set(int(m) for m in match if m >= 0)
    for k, dc in enumerate(det_cls):
        if k not in matched:
            counts[("-", dc)] = counts.get(("-", dc), 0) + 1
    return counts


def counted_match(
    ref_cls: list[str],
    ref_s: np.ndarray,
    det_s: np.ndarray,
    from_s: float,
    excluded: np.ndarray | None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The counted reference beats' classes, which detections are counted (a mask), and
    for each counted reference beat the index of its counted detection (or -1)."""
    ref, det = counted(ref_s, from_s, excluded), counted(det_s, from_s, excluded)
    kept = [c for c, keep in zip(ref_cls, ref, strict=True) if keep]
    return kept, det, match_beats(np.asarray(ref_s)[ref], np.asarray(det_s)[det])


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


def class_scores(
    ref_cls: list[str],
    ref_s: np.ndarray,
    det_s: np.ndarray,
    det_scores: np.ndarray,
    from_s: float = 0.0,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """What ROC and PR curves per class are drawn from: one row per counted N/S/V reference
    beat (its class, and the scores of the detection matched to it, zeros if missed), then
    one per extra detection (class "-", a negative for every class), as `confusion` counts.
    ``det_scores`` holds one row of per-class scores (AAMI_CLASSES order) per detection.
    """
    ref_cls, det, match = counted_match(ref_cls, ref_s, det_s, from_s, excluded)
    det_scores = np.asarray(det_scores, dtype=np.float64).reshape(len(det_s), len(AAMI_CLASSES))[
        det
    ]
    rows = [
        (rc, det_scores[m] if m >= 0 else np.zeros(len(AAMI_CLASSES)))
        for rc, m in zip(ref_cls, match, strict=True)
        if rc in AAMI_CLASSES
    ]
    extra = np.setdiff1d(np.arange(len(det_scores)), match[match >= 0])
    rows += [("-", det_scores[k]) for k in extra]
    classes = np.array([c for c, _ in rows], dtype=object)
    scores = np.stack([v for _, v in rows]) if rows else np.zeros((0, len(AAMI_CLASSES)))
    return classes, scores


def curve_points(
    scores: np.ndarray, positive: np.ndarray, points: int = 101
) -> dict[str, float | list[list[float]] | None]:
    """ROC (false/true positive rate) and PR (recall/precision) at every distinct score,
    thinned to about ``points`` per curve, with the ROC's area. None where a class has no
    positives or no negatives."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return {"auc": None, "roc": [], "pr": []}
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], positive[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp, fp = np.cumsum(y)[last_of_tie], np.cumsum(~y)[last_of_tie]
    tpr, fpr = np.r_[0.0, tp / n_pos], np.r_[0.0, fp / n_neg]
    precision = np.r_[1.0, tp / (tp + fp)]
    keep = np.unique(np.linspace(0, len(tpr) - 1, min(points, len(tpr))).round().astype(int))
    return {
        # the trapezoid rule by hand: numpy 1.26 has no np.trapezoid, numpy 2 deprecates trapz
        "auc": round(float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)), 4),
        "roc": [
            [round(float(a), 4), round(float(b), 4)]
            for a, b in zip(fpr[keep], tpr[keep], strict=True)
        ],
        "pr": [
            [round(float(a), 4), round(float(b), 4)]
            for a, b in zip(tpr[keep], precision[keep], strict=True)
        ],
    }
