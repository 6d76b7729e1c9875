"""PPG heart-rate figures: mean absolute error against the chest ECG's reviewed beats, and
how often the detector calls the heart rate unexplained by motion.

On recordings of exercise, such as the wrist PPG set, the rate is always explained by the
exercise, so every ``heart_rate_unexplained`` event there is a false alarm.

Beside the detector's error, what the input allows: how often the heart is among the
PPG spectrum's largest peaks, and the error of an oracle that knows the true rate and
reports the nearest of those peaks. No estimator that reports a peak of this spectrum
can do better than that oracle, so where it is far from the detector, the choosing is
what fails; where it is near, the sensor's PPG is.
"""

from __future__ import annotations

__all__ = [
    "BOUND_PEAKS",
    "VISIBLE_PEAKS",
    "VISIBLE_WITHIN_BPM",
    "evaluate_ppg",
    "nearest_peaks_key",
    "reference_beats",
    "reference_bpm",
    "what_the_input_allows",
]

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..detect.heart import PpgHeartRateDetector
from ..errors import DatasetError
from ..infer.heart import WINDOW_S
from ..ingest.recordings import read_beat_text, recordings_in
from .runner import run_recording
from .skipped import SkippedRecordings

# The heart is "visible" in a window where the true rate is within VISIBLE_WITHIN_BPM of
# one of the PPG spectrum's VISIBLE_PEAKS largest peaks; the oracle is scored over that
# many peaks and over all the detector records.
VISIBLE_PEAKS = 3
VISIBLE_WITHIN_BPM = 6.0
BOUND_PEAKS = (VISIBLE_PEAKS, PpgHeartRateDetector.RECORDED_PEAKS)


def nearest_peaks_key(count: int) -> str:
    """The figures' name for the oracle's MAE over ``count`` peaks."""
    return f"nearest_of_{count}_peaks_mae_bpm"


def reference_bpm(beats_s: np.ndarray, end_s: float) -> float | None:
    """Heart rate over the 8 s ending at ``end_s``: 60 / median inter-beat interval."""
    inside = beats_s[(beats_s > end_s - WINDOW_S) & (beats_s <= end_s)]
    if len(inside) < 3:
        return None
    return float(60.0 / np.median(np.diff(inside)))


def beats_for(edf: Path) -> Path:
    for p in (edf.parent.parent / "ECG" / f"{edf.stem}.txt", edf.with_suffix(".txt")):
        if p.is_file():
            return p
    raise DatasetError("no beat annotations (ECG/<name>.txt)", path=str(edf), code="missing")


def reference_beats(edf: Path) -> np.ndarray:
    """The chest ECG's reviewed beat times (s) beside a wrist recording."""
    return read_beat_text(beats_for(edf))


def evaluate_ppg(
    folder: Path,
    make_detector: Callable[[], Any],
    only: Callable[[Path], bool] | None = None,
    skips: SkippedRecordings | None = None,
) -> dict[str, Any]:
    paths = [
        p for p in recordings_in(folder) if p.suffix.lower() == ".edf" and (only is None or only(p))
    ]
    if not paths:
        raise DatasetError("no .edf recordings", path=str(folder), code="empty")
    skips = SkippedRecordings(strict=True) if skips is None else skips
    config = Config()
    per: dict[str, Any] = {}
    errors_all: list[float] = []
    unexplained_all, hours_all = 0, 0.0
    # Every reference is read before any recording runs: a bad file is found at once.
    references = {
        path: beats
        for path in paths
        if (beats := skips.attempt(path, reference_beats, path)) is not None
    }
    det = make_detector()  # one model and interpreter for the whole folder
    det.record_estimates = True
    flagged_all, unreferenced_all = 0, 0
    input_all: list[tuple[float, tuple[float, ...]]] = []
    for path, beats in references.items():
        det.estimates.clear()  # run_recording resets the rest of its state
        if (ran := skips.attempt(path, run_recording, path, config, [det])) is None:
            continue
        events, summary = ran
        unexplained = [round(e.t_ns / 1e9, 1) for e in events if e.kind == "heart_rate_unexplained"]
        hours = float(summary.recording_s) / 3600
        errors, trace, refs_and_peaks = [], [], []
        for est in det.estimates:
            ref = reference_bpm(beats, est.t_ns / 1e9)
            if ref is not None:
                errors.append(abs(est.bpm - ref))
                trace.append((round(est.t_ns / 1e9, 1), round(est.bpm, 1), round(ref, 1)))
                refs_and_peaks.append((ref, est.ppg_peaks))
        flagged = summary.flagged_by_detector.get(det.name, 0)
        unreferenced = len(det.estimates) - len(errors)
        per[path.stem] = {
            "mae_bpm": round(float(np.mean(errors)), 2) if errors else None,
            "windows": len(errors),
            **what_the_input_allows(refs_and_peaks),
            # estimates with under 3 reference beats in their 8 s: not in the MAE
            "windows_without_reference": unreferenced,
            # 2 s steps with gaps or non-finite samples: no estimate at all
            "flagged_windows": flagged,
            "hours": round(hours, 3),
            "unexplained_events": len(unexplained),
            "unexplained_event_s": unexplained,
            "trace": trace,
        }
        errors_all += errors
        input_all += refs_and_peaks
        flagged_all += flagged
        unreferenced_all += unreferenced
        unexplained_all += len(unexplained)
        hours_all += hours
    skips.require_some_scored(len(per), folder)
    overall = {
        "mae_bpm": round(float(np.mean(errors_all)), 2) if errors_all else None,
        "mean_of_recordings_mae_bpm": round(
            float(np.mean([v["mae_bpm"] for v in per.values() if v["mae_bpm"] is not None])), 2
        )
        if errors_all
        else None,
        "windows": len(errors_all),
        **what_the_input_allows(input_all),
        "windows_without_reference": unreferenced_all,
        "flagged_windows": flagged_all,
        "hours": round(hours_all, 3),
        "unexplained_events": unexplained_all,
        "unexplained_events_per_hour": round(unexplained_all / hours_all, 2) if hours_all else None,
    }
    return {"per_recording": per, "overall": overall}


def what_the_input_allows(refs_and_peaks: list[tuple[float, tuple[float, ...]]]) -> dict[str, Any]:
    """Per window the true rate and the PPG's largest peaks, largest first: the share of
    windows with the heart among the first VISIBLE_PEAKS, and the oracle's MAE over each
    of BOUND_PEAKS (windows whose spectrum has no peak at all, a flat PPG, left out)."""
    visible = sum(
        any(abs(p - ref) <= VISIBLE_WITHIN_BPM for p in peaks[:VISIBLE_PEAKS])
        for ref, peaks in refs_and_peaks
    )
    figures: dict[str, Any] = {
        "heart_visible_percent": round(100 * visible / len(refs_and_peaks), 1)
        if refs_and_peaks
        else None
    }
    for count in BOUND_PEAKS:
        nearest = [
            min(abs(p - ref) for p in peaks[:count]) for ref, peaks in refs_and_peaks if peaks
        ]
        figures[nearest_peaks_key(count)] = round(float(np.mean(nearest)), 2) if nearest else None
    return figures
