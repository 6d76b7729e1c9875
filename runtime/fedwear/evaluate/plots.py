"""PNG figures for `fedwear eval --plots` (matplotlib, only imported when asked for)."""

from __future__ import annotations

__all__ = ["write_plots"]

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FedwearError
from .ppg import BOUND_PEAKS, nearest_peaks_key
from .scoring import curve_points


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise FedwearError("--plots needs matplotlib: pip install 'fedwear[plots]'") from None
    return plt


def open_plot_folder(directory: Path) -> Any:
    """pyplot, once plots are known to be writable: checked before an evaluation that may
    take minutes, so that a missing matplotlib or a folder that cannot be one fails now."""
    plt = _pyplot()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FedwearError(f"--plots {directory}: {exc.strerror or exc}") from None
    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    """Write the figure and free it: matplotlib keeps every open figure otherwise."""
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise FedwearError(f"{path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path


def _bars(
    plt: Any, names: list[str], series: dict[str, list[float]], ylabel: str, title: str, path: Path
) -> Path:
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names) + 2), 3.5))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(names))
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + i * width, [np.nan if v is None else v for v in values], width, label=label)
    ax.set_xticks(x + width * (len(series) - 1) / 2, names, rotation=60, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def _roc_pr(plt: Any, curves: dict[str, dict[str, Any]], title: str, path: Path) -> Path:
    """ROC and PR curves (scoring.curve_points), one line per label."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.5))
    for label, c in curves.items():
        if c["roc"]:
            a.plot(*zip(*c["roc"], strict=True), label=f"{label} (AUC {c['auc']:.3f})")
            b.plot(*zip(*c["pr"], strict=True), label=label)
    a.set_xlabel("false positive rate")
    a.set_ylabel("true positive rate")
    a.set_title(f"ROC, {title}")
    b.set_xlabel("recall")
    b.set_ylabel("precision")
    b.set_title(f"PR, {title}")
    a.legend(fontsize=8)
    return _save(plt, fig, path)


def _beat_timeline(plt: Any, name: str, timeline: dict[str, Any], path: Path) -> Path:
    """RR intervals of a record's first beats, coloured by class, with the events."""
    colours = {"N": "tab:gray", "S": "tab:orange", "V": "tab:red", "Q": "black"}
    fig, ax = plt.subplots(figsize=(8, 3))
    for cls, colour in colours.items():
        pts = [(t, rr) for t, rr, c in timeline["beats"] if c == cls and rr is not None]
        if pts:
            ax.scatter(*zip(*pts, strict=True), s=8, color=colour, label=cls)
    for t, kind in timeline["events"]:
        ax.axvline(t, color="red" if kind == "ventricular_run" else "tab:blue", lw=0.8, ls="--")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("RR before the beat (s)")
    ax.set_title(f"{name}: beats by class (dashed: events; red: ventricular runs)")
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def _timeline(
    plt: Any, traces: dict[str, list[Any]], title: str, ylabel: str, events: list[float], path: Path
) -> Path:
    fig, ax = plt.subplots(figsize=(8, 3))
    for label, pts in traces.items():
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label)
    for e in events:
        ax.axvline(e, color="red", linestyle="--", linewidth=1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def _level(trace: list[Any], result: dict[str, Any]) -> list[tuple[float, float]]:
    """The detector's score threshold as a line across a trace's time span."""
    level = result.get("score_threshold")
    if not trace or level is None:
        return []
    return [(trace[0][0], level), (trace[-1][0], level)]


def write_plots(result: dict[str, Any], directory: Path) -> list[Path]:
    plt = open_plot_folder(directory)
    d = result["detector"]
    out = []
    if d == "fall":
        per = result["per_subject"]
        out.append(
            _bars(
                plt,
                list(per),
                {"recall %": [v["recall"] for v in per.values()]},
                "%",
                "fall recall per subject",
                directory / "fall_per_subject.png",
            )
        )
        recs = result["recordings"]
        curves = curve_points(
            np.array([r["max_score"] for r in recs]), np.array([r["fall"] for r in recs])
        )
        out.append(
            _roc_pr(
                plt, {"fall": curves}, "largest score per recording", directory / "fall_roc_pr.png"
            )
        )
        example = next((r for r in recs if r["fall"] and r["events"]), None) or next(
            (r for r in recs if r["fall"]), None
        )
        if example is not None:
            out.append(
                _timeline(
                    plt,
                    {"fall score": example["trace"], "threshold": _level(example["trace"], result)},
                    f"{example['recording']}: score at each window's end "
                    "(dashed: fall at its impact)",
                    "score",
                    [e["t"] for e in example["events"]],
                    directory / "fall_timeline.png",
                )
            )
    elif d == "beats":
        per = result["per_record"]
        series = {f"{c} {k}": [v[c][k] for v in per.values()] for c in "VS" for k in ("se", "ppv")}
        out.append(
            _bars(
                plt,
                list(per),
                series,
                "%",
                "AAMI figures per record",
                directory / "beats_per_record.png",
            )
        )
        out.append(_roc_pr(plt, result["curves"], "ectopic beats", directory / "beats_roc_pr.png"))
        # The record whose first minutes hold the most ectopic beats, else the first.
        name = max(per, key=lambda n: sum(c in "SV" for _, _, c in per[n]["timeline"]["beats"]))
        out.append(
            _beat_timeline(plt, name, per[name]["timeline"], directory / "beats_timeline.png")
        )
    elif d == "ppg-hr":
        per = result["per_recording"]
        out.append(
            _bars(
                plt,
                list(per),
                {
                    "detector": [v["mae_bpm"] for v in per.values()],
                    **{
                        f"nearest of {k} PPG peaks": [v[nearest_peaks_key(k)] for v in per.values()]
                        for k in BOUND_PEAKS
                    },
                },
                "MAE, BPM",
                "heart-rate error per recording, and what the PPG allows",
                directory / "ppg_hr_mae.png",
            )
        )
        name, first = next(iter(per.items()))
        trace = first["trace"]
        out.append(
            _timeline(
                plt,
                {
                    "PPG estimate": [(t, b) for t, b, _ in trace],
                    "chest ECG": [(t, r) for t, _, r in trace],
                },
                f"{name}: heart rate (dashed: heart_rate_unexplained events)",
                "BPM",
                first["unexplained_event_s"],
                directory / "ppg_hr_timeline.png",
            )
        )
    else:
        per = result["per_recording"]
        out.append(
            _bars(
                plt,
                list(per),
                {"alarms": [v["alarms"] for v in per.values()]},
                "alarms",
                "not-my-normal alarms per recording",
                directory / "normal_alarms.png",
            )
        )
        name, first = next(iter(per.items()))
        out.append(
            _timeline(
                plt,
                {"score": first["trace"], "threshold": _level(first["trace"], result)},
                f"{name}: anomaly score (dashed: not_my_normal alarms)",
                "score",
                first["alarm_s"],
                directory / "normal_timeline.png",
            )
        )
    return out
