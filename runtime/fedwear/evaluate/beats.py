"""Beat classifier figures on MIT-BIH-style records (AAMI EC57 gross statistics)."""

from __future__ import annotations

__all__ = ["evaluate_beats"]

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..detect.beats import BeatDetector
from ..errors import DatasetError
from ..ingest.recordings import recordings_in
from .references import mitbih_reference
from .runner import run_recording
from .scoring import AAMI_CLASSES, aami_stats, class_scores, confusion, curve_points

# Each record's first seconds of beats and events go into the result for a timeline plot.
TIMELINE_S = 120.0


def evaluate_beats(
    folder: Path, make_detector: Callable[[], BeatDetector], learning_period_s: float = 0.0
) -> dict[str, Any]:
    """AAMI figures per record and overall. AAMI EC57 leaves each record's first 5 minutes
    out as a learning period (``learning_period_s=300``); by default every beat counts,
    including those the detector labels Q while its template forms."""
    if not (0.0 <= learning_period_s < float("inf")):
        raise ValueError(f"learning period must be a finite number >= 0, not {learning_period_s}")
    paths = [p for p in recordings_in(folder) if p.suffix.lower() == ".hea"]
    if not paths:
        raise DatasetError("no WFDB records (.hea)", path=str(folder), code="empty")
    config = Config()
    per: dict[str, Any] = {}
    total: dict[tuple[str, str], int] = {}
    det = make_detector()  # one model and interpreter for the whole folder
    det.record_beats = True
    classes: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for path in paths:
        det.beats.clear()  # run_recording resets the rest of its state
        det.beat_scores.clear()
        events, _ = run_recording(path, config, [det])
        ref = mitbih_reference(path)
        det_s = np.array([t / 1e9 for t, _ in det.beats])
        det_cls = [c for _, c in det.beats]
        counts = confusion(
            ref.classes, ref.times, det_s, det_cls, learning_period_s, excluded=ref.flutter
        )
        c, v = class_scores(
            ref.classes,
            ref.times,
            det_s,
            np.array(det.beat_scores),
            learning_period_s,
            excluded=ref.flutter,
        )
        classes.append(c)
        scores.append(v)
        for k, n in counts.items():
            total[k] = total.get(k, 0) + n
        per[path.stem] = {
            **aami_stats(counts),
            "unclassifiable": unclassifiable(counts),
            # Left out of the figures, as EC57's comparator leaves it (no beats are
            # labelled there); the detector's own verdicts there are in "events".
            "ventricular_flutter_s": round(float(np.sum(np.diff(ref.flutter, axis=1))), 1),
            "events": {
                k: sum(1 for e in events if e.kind == k)
                for k in (
                    "ectopic_beat",
                    "ventricular_run",
                    "irregular_rhythm",
                    "ecg_unclassifiable",
                )
            },
            "timeline": _timeline(det_s, det_cls, events),
        }
    all_classes = np.concatenate(classes)
    all_scores = np.concatenate(scores)
    return {
        "learning_period_s": learning_period_s,
        # Per class over every counted beat: what another threshold on the class's
        # probability would give (the detector itself takes the most likely class).
        "curves": {
            c: curve_points(all_scores[:, AAMI_CLASSES.index(c)], all_classes == c)
            for c in ("V", "S")
        },
        "per_record": per,
        "overall": {
            **aami_stats(total),
            "unclassifiable": unclassifiable(total),
            "ventricular_flutter_s": round(
                sum(r["ventricular_flutter_s"] for r in per.values()), 1
            ),
        },
    }


def unclassifiable(counts: dict[tuple[str, str], int]) -> int:
    """Detected beats the quality gate labelled Q: too noisy to classify, none of N/S/V."""
    return sum(n for (_, detected), n in counts.items() if detected == "Q")


def _timeline(det_s: np.ndarray, det_cls: list[str], events: list[Any]) -> dict[str, Any]:
    """The first TIMELINE_S seconds: each beat's time, the RR interval before it, its
    class; and the events (time, kind)."""
    rr = np.diff(det_s, prepend=np.nan)
    return {
        "beats": [
            [round(float(t), 3), None if np.isnan(r) else round(float(r), 3), c]
            for t, r, c in zip(det_s, rr, det_cls, strict=True)
            if t <= TIMELINE_S
        ],
        "events": [[round(e.t_ns / 1e9, 3), e.kind] for e in events if e.t_ns / 1e9 <= TIMELINE_S],
    }
