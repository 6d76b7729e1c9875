"""Fall detector figures: recall over fall trials, false alarms per hour of daily life."""

from __future__ import annotations

__all__ = ["evaluate_fall"]

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config
from ..detect.base import Detector
from ..detect.fall import FallDetector
from ..errors import DatasetError
from ..ingest.recordings import natural_key, recordings_in
from .references import mobifall_label
from .runner import run_recording
from .skipped import SkippedRecordings


def subject_of(path: Path) -> str:
    for part in reversed(path.parts[:-1]):
        if part.lower().startswith("sub"):
            return part
    return path.parent.name


def evaluate_fall(
    folder: Path,
    make_detector: Callable[[], Detector],
    skips: SkippedRecordings | None = None,
) -> dict[str, Any]:
    """Every MobiFall-style recording under ``folder``, through the pipeline.

    Each recording also gets its window scores (``trace``) and the largest (``max_score``):
    ROC and PR curves over scores show what a different threshold would do, which the
    events, cut at the shipped threshold, cannot.
    """
    paths = [p for p in recordings_in(folder) if p.suffix == ".txt"]
    if not paths:
        raise DatasetError("no MobiFall *_acc_*.txt recordings", path=str(folder), code="empty")
    skips = SkippedRecordings(strict=True) if skips is None else skips
    config = Config()
    detector = make_detector()
    scores: list[tuple[int, float]] = []
    threshold = None
    if isinstance(detector, FallDetector):
        detector.record_scores = True
        scores, threshold = detector.scores, detector.threshold
    per: dict[str, dict[str, Any]] = {}
    records = []
    for path in paths:
        code, is_fall = mobifall_label(path)
        scores.clear()  # run_recording resets the rest of the detector's state
        if (ran := skips.attempt(path, run_recording, path, config, [detector])) is None:
            continue
        events, summary = ran
        falls = [e for e in events if e.kind == "fall"]
        s = per.setdefault(
            subject_of(path),
            {"falls": 0, "detected": 0, "adl_s": 0.0, "false_alarms": 0, "flagged_windows": 0},
        )
        flagged = summary.flagged_by_detector.get(detector.name, 0)
        s["flagged_windows"] += flagged
        if is_fall:
            s["falls"] += 1
            s["detected"] += bool(falls)
        else:
            s["adl_s"] += summary.recording_s
            s["false_alarms"] += len(falls)
        records.append(
            {
                "recording": path.name,
                "subject": subject_of(path),
                "activity": code,
                "fall": is_fall,
                "events": [e.to_dict() for e in falls],
                "seconds": round(summary.recording_s, 2),
                "flagged_windows": flagged,
                "max_score": round(max((v for _, v in scores), default=0.0), 4),
                "trace": [(round(t / 1e9, 2), round(v, 4)) for t, v in scores],
            }
        )
    skips.require_some_scored(len(records), folder)
    return {
        "score_threshold": threshold,
        "per_subject": {k: _figures(per[k]) for k in sorted(per, key=natural_key)},
        "overall": _figures(_sum(per.values())),
        "recordings": records,
    }


def _sum(rows: Any) -> dict[str, Any]:
    total = {"falls": 0, "detected": 0, "adl_s": 0.0, "false_alarms": 0, "flagged_windows": 0}
    for r in rows:
        for k in total:
            total[k] += r[k]
    return total


def _figures(s: dict[str, Any]) -> dict[str, Any]:
    hours = s["adl_s"] / 3600.0
    return {
        "recall": round(100.0 * s["detected"] / s["falls"], 2) if s["falls"] else None,
        "false_alarms_per_hour": round(s["false_alarms"] / hours, 3) if hours > 0 else None,
        "falls": s["falls"],
        "detected": s["detected"],
        "adl_hours": round(hours, 4),
        "false_alarms": s["false_alarms"],
        # windows with gaps or non-finite samples: not scored, so a fall there is missed
        "flagged_windows": s["flagged_windows"],
    }
