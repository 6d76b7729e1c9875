"""Beat classifier figures on MIT-BIH-style records (AAMI EC57 gross statistics)."""

from __future__ import annotations

__all__ = ["evaluate_beats"]

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..detect.base import Event
from ..detect.beats import BeatDetector
from ..errors import DatasetError
from ..ingest.recordings import recordings_in
from .references import mitbih_reference
from .runner import run_recording
from .scoring import AAMI_CLASSES, aami_stats, class_scores, confusion, curve_points
from .skipped import SkippedRecordings

# Each record's first seconds of beats and events go into the result for a timeline plot.
TIMELINE_S = 120.0


def evaluate_beats(
    folder: Path,
    make_detector: Callable[[], BeatDetector],
    learning_period_s: float = 0.0,
    lead: str | None = None,
    skips: SkippedRecordings | None = None,
) -> dict[str, Any]:
    """AAMI figures per record and overall. AAMI EC57 leaves each record's first 5 minutes
    out as a learning period (``learning_period_s=300``); by default every beat counts,
    including those the detector meets while it learns the wearer. ``lead`` names the
    lead to read (default: MLII where a record has it, the model's training lead)."""
    if not (0.0 <= learning_period_s < float("inf")):
        raise ValueError(f"learning period must be a finite number >= 0, not {learning_period_s}")
    paths = [p for p in recordings_in(folder) if p.suffix.lower() == ".hea"]
    if not paths:
        raise DatasetError("no WFDB records (.hea)", path=str(folder), code="empty")
    skips = SkippedRecordings(strict=True) if skips is None else skips
    config = Config()
    per: dict[str, Any] = {}
    total: dict[tuple[str, str], int] = {}
    det = make_detector()  # one model and interpreter for the whole folder
    det.record_beats = True
    classes: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    # Every reference is read before any record runs: a bad file is found in a second,
    # not after the records before it.
    references = {
        path: ref
        for path in paths
        if (ref := skips.attempt(path, mitbih_reference, path)) is not None
    }
    skips.require_some_scored(len(references), folder)
    longest_s = max(ref.duration_s for ref in references.values())
    if learning_period_s >= longest_s:
        raise DatasetError(
            f"a learning period of {learning_period_s:g} s leaves no beat to score: "
            f"the longest record lasts {longest_s:.0f} s",
            path=str(folder),
            code="empty",
        )
    for path, ref in references.items():
        det.beats.clear()  # run_recording resets the rest of its state
        det.beat_scores.clear()
        if (ran := skips.attempt(path, run_recording, path, config, [det], lead)) is None:
            continue
        events, summary = ran
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
            # windows with non-finite samples: their beats are unclassifiable (Q)
            "flagged_windows": summary.flagged_by_detector.get(det.name, 0),
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
            "fibrillation": _fibrillation_events(ref.fibrillation, ref.duration_s, events),
            "timeline": _timeline(det_s, det_cls, events),
        }
    skips.require_some_scored(len(per), folder)
    all_classes = np.concatenate(classes)
    all_scores = np.concatenate(scores)
    return {
        "learning_period_s": learning_period_s,
        "lead": lead,
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
            "flagged_windows": sum(r["flagged_windows"] for r in per.values()),
            "ventricular_flutter_s": round(
                sum(r["ventricular_flutter_s"] for r in per.values()), 1
            ),
            "fibrillation": _fibrillation_total([r["fibrillation"] for r in per.values()]),
        },
    }


def _fibrillation_events(
    episodes: np.ndarray, duration_s: float, events: list[Event]
) -> dict[str, Any]:
    """Where the `irregular_rhythm` events fell: inside the reference's atrial
    fibrillation or flutter episodes, or outside them (false, whatever the rhythm was)."""
    t = np.array([e.t_ns / 1e9 for e in events if e.kind == "irregular_rhythm"])
    # in_episode[i, j]: event i fell inside episode j
    in_episode = (episodes[:, 0] <= t[:, None]) & (t[:, None] < episodes[:, 1])
    inside = int(in_episode.any(axis=1).sum())
    fibrillation_s = float(np.sum(np.diff(episodes, axis=1)))
    return {
        "reference_s": round(fibrillation_s, 1),
        "episodes": len(episodes),
        "episodes_with_event": int(in_episode.any(axis=0).sum()),
        "events_inside": inside,
        "events_outside": len(t) - inside,
        "hours_outside": round(max(0.0, duration_s - fibrillation_s) / 3600, 3),
    }


def _fibrillation_total(records: list[dict[str, Any]]) -> dict[str, Any]:
    total = {k: sum(r[k] for r in records) for k in records[0]}
    hours = total["hours_outside"]
    total["events_outside_per_hour"] = round(total["events_outside"] / hours, 2) if hours else None
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in total.items()}


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
