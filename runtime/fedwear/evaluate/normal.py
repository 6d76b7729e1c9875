""" "Not my normal" figures on a folder of wrist recordings: alarms per hour, score spread."""

from __future__ import annotations

__all__ = ["evaluate_normal"]

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..errors import DatasetError
from ..ingest.recordings import recordings_in
from .runner import run_recording
from .skipped import SkippedRecordings


def evaluate_normal(
    folder: Path,
    make_detector: Callable[[], Any],
    skips: SkippedRecordings | None = None,
) -> dict[str, Any]:
    paths = [p for p in recordings_in(folder) if p.suffix.lower() == ".edf"]
    if not paths:
        raise DatasetError("no .edf recordings", path=str(folder), code="empty")
    skips = SkippedRecordings(strict=True) if skips is None else skips
    config = Config()
    per: dict[str, Any] = {}
    alarms, seconds = 0, 0.0
    det = make_detector()  # one model and interpreter for the whole folder
    det.record_scores = True
    for path in paths:
        det.scores.clear()  # run_recording resets the rest of its state
        if (ran := skips.attempt(path, run_recording, path, config, [det])) is None:
            continue
        events, summary = ran
        scores = np.array([s for _, s in det.scores])
        alarm_s = [round(e.t_ns / 1e9, 1) for e in events if e.kind == "not_my_normal"]
        n = len(alarm_s)
        per[path.stem] = {
            "alarms": n,
            "alarm_s": alarm_s,
            "hours": round(summary.recording_s / 3600, 4),
            "windows": len(scores),
            # 2 s steps with gaps or non-finite samples: not scored
            "flagged_windows": summary.flagged_by_detector.get(det.name, 0),
            "score_p50": round(float(np.median(scores)), 4) if len(scores) else None,
            "score_p99": round(float(np.percentile(scores, 99)), 4) if len(scores) else None,
            "over_threshold_pct": round(100 * float((scores > det.threshold).mean()), 2)
            if len(scores)
            else None,
            "trace": [(round(t / 1e9, 1), round(s, 4)) for t, s in det.scores],
        }
        alarms += n
        seconds += summary.recording_s
    skips.require_some_scored(len(per), folder)
    return {
        "score_threshold": det.threshold,
        "per_recording": per,
        "overall": {
            "alarms": alarms,
            "alarms_per_hour": round(alarms / (seconds / 3600), 3) if seconds else None,
            "hours": round(seconds / 3600, 4),
            "flagged_windows": sum(r["flagged_windows"] for r in per.values()),
        },
    }
