"""`fedwear eval DETECTOR PATH`: the shipped detector, through the pipeline, on a folder."""

from __future__ import annotations

__all__ = ["EVAL_DETECTORS", "evaluate", "format_table"]

from pathlib import Path
from typing import Any

from ..config import Config
from ..detect.models import load_detector
from ..errors import DatasetError
from ..infer.card import models_dir
from .skipped import SkippedRecordings

# CLI name -> detector name; it runs at the runtime's default stream rates (Config()).
EVAL_DETECTORS = {"fall": "fall", "beats": "beats", "ppg-hr": "ppg_hr", "normal": "normal"}


def evaluate(
    detector: str,
    folder: Path,
    models: str = "",
    learning_period_s: float = 0.0,
    lead: str | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Figures per subject/record and overall, as one JSON-ready object.

    ``learning_period_s`` (beats only) leaves each record's first seconds out of the figures;
    ``lead`` (beats only) names the ECG lead to read instead of MLII. A recording that cannot
    be read is skipped and listed under ``skipped``, or, ``strict``, stops the evaluation.
    """
    if learning_period_s and detector != "beats":
        raise ValueError("a learning period applies to beats only")
    if lead is not None and detector != "beats":
        raise ValueError("a lead applies to beats only")
    if not folder.is_dir():
        raise DatasetError("not a folder", path=str(folder), code="missing")
    directory = models_dir(models)
    name = EVAL_DETECTORS[detector]
    rates = Config().stream_rates()
    # A bad model fails here, before any data is read; each evaluator takes it once and
    # reuses it (model and interpreter) for every recording of the folder.
    loaded = load_detector(name, rates, directory)

    def make() -> Any:
        return loaded

    skips = SkippedRecordings(strict)
    if detector == "fall":
        from .fall import evaluate_fall

        result = evaluate_fall(folder, make, skips)
    elif detector == "beats":
        from .beats import evaluate_beats

        result = evaluate_beats(folder, make, learning_period_s, lead, skips)
    elif detector == "ppg-hr":
        from .ppg import evaluate_ppg

        result = evaluate_ppg(folder, make, skips=skips)
    else:
        from .normal import evaluate_normal

        result = evaluate_normal(folder, make, skips)
    skips.report(result)
    return {"detector": detector, "path": str(folder), "models": str(directory), **result}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per subject/record, then the overall row."""
    detector = result["detector"]
    if detector == "beats":
        # "flutter s": time in ventricular flutter, which the figures leave out (EC57's bxb);
        # "AF events": irregular_rhythm events inside / outside the reference's atrial
        # fibrillation and flutter episodes; "flagged": windows with non-finite samples
        header = ["record", "N Se", "N +P", "S Se", "S +P", "V Se", "V +P", "Q beats"]
        header += ["flutter s", "AF events in/out", "flagged"]

        def row(name: str, r: dict[str, Any]) -> list[str]:
            figures = [_fmt(r[c][k]) for c in "NSV" for k in ("se", "ppv")]
            af = r["fibrillation"]
            return [
                name,
                *figures,
                _fmt(r["unclassifiable"]),
                _fmt(r["ventricular_flutter_s"]),
                f"{af['events_inside']}/{af['events_outside']}",
                _fmt(r["flagged_windows"]),
            ]

        rows = [row(k, v) for k, v in result["per_record"].items()]
    elif detector == "fall":
        header = ["subject", "falls", "detected", "recall %", "ADL h", "false alarms", "per h"]
        header += ["flagged"]

        def row(name: str, r: dict[str, Any]) -> list[str]:
            keys = (
                "falls",
                "detected",
                "recall",
                "adl_hours",
                "false_alarms",
                "false_alarms_per_hour",
                "flagged_windows",
            )
            return [name] + [_fmt(r[k]) for k in keys]

        rows = [row(k, v) for k, v in result["per_subject"].items()]
    elif detector == "ppg-hr":
        # "no ref": estimates without reference beats around them; "flagged": steps with
        # gaps or non-finite samples, which give no estimate; "visible %" and "nearest of
        # 3/5": what the input allows (evaluate/ppg.py)
        from .ppg import BOUND_PEAKS, nearest_peaks_key

        header = ["recording", "MAE bpm", *(f"nearest of {k}" for k in BOUND_PEAKS)]
        header += ["visible %", "windows", "no ref", "flagged", "hours", "unexplained HR events"]

        def row(name: str, r: dict[str, Any]) -> list[str]:
            keys = (
                "mae_bpm",
                *(nearest_peaks_key(k) for k in BOUND_PEAKS),
                "heart_visible_percent",
                "windows",
                "windows_without_reference",
                "flagged_windows",
                "hours",
                "unexplained_events",
            )
            return [name] + [_fmt(r[k]) for k in keys]

        rows = [row(k, v) for k, v in result["per_recording"].items()]
    else:
        header = ["recording", "alarms", "hours", "score p50", "score p99", "over %", "flagged"]

        def row(name: str, r: dict[str, Any]) -> list[str]:
            keys = (
                "alarms",
                "hours",
                "score_p50",
                "score_p99",
                "over_threshold_pct",
                "flagged_windows",
            )
            return [name] + [_fmt(r.get(k)) for k in keys]

        rows = [row(k, v) for k, v in result["per_recording"].items()]
    overall = result["overall"]
    if detector == "normal":
        rows.append(
            [
                "overall",
                _fmt(overall["alarms"]),
                _fmt(overall["hours"]),
                "",
                "",
                f"{_fmt(overall['alarms_per_hour'])}/h",
                _fmt(overall["flagged_windows"]),
            ]
        )
    else:
        rows.append(row("overall", overall))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    skipped = result.get("skipped", [])
    if skipped:
        lines.append(f"skipped {len(skipped)} recording(s) that could not be read:")
        lines += [f"  {s['error']}" for s in skipped]
    return "\n".join(lines)
