"""Fall detector from a body-worn IMU (MobiFall v2.0): falls vs daily activities.

Windows of 4 s at 100 Hz go through the runtime's own features (fedwear.infer.features.
fall_input: magnitudes and posture change, so the sensor's orientation does not matter).
A fall window has the trial's impact between 0.5 s and 3 s into it; windows of daily
activities are the negatives; the rest of a fall trial is left out. Each kind of daily
activity weighs the same in training, whatever its recording length, and the model is the
average of ENSEMBLE networks from different seeds. Validation: 4 folds of subjects; each
subject is scored by a model that never saw them, through the runtime's own pipeline and
detector (stillness check included). The score threshold is chosen from a grid by the same
kind of validation: inside each fold on its training subjects only (nested, which gives the
reported figures), and over the 4 folds for the shipped model, which sees all subjects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from classical import ClassicalScorer, fall_features, fit_logistic
from common import (
    ROOT,
    SEED,
    average_of,
    card_dict,
    engine_for,
    fresh_names,
    group_folds,
    md_table,
    save_model,
    seed_everything,
    tensors_md,
    to_tflite,
)

from fedwear.detect.fall import FallDetector
from fedwear.evaluate.fall import evaluate_fall, subject_of
from fedwear.evaluate.references import mobifall_label
from fedwear.infer.features import fall_input
from fedwear.ingest.recordings import read_mobifall, recordings_in

RATE_HZ = 100.0
WINDOW = 400
PRE = {"imu_rate_hz": RATE_HZ, "window_s": 4.0, "model_rate_hz": 50.0}
THRESHOLDS = {
    "score": 0.5,  # a placeholder: the model ships with choose_threshold's
    "stillness_std_g": 0.25,
    "stillness_from_s": 1.0,
    "stillness_to_s": 3.0,
    "refractory_s": 10.0,
}
EPOCHS = 15
# Single networks of this recipe gave 5-13 false alarms on the held-out subjects depending
# on the seed alone (4 seeds, 2026-11-27); averages of three gave 3-5 (docs/models.md).
ENSEMBLE = 3
# The score threshold is measured, not assumed: the grid value that meets both targets on
# held-out subjects with the highest recall (choose_threshold). A fixed 0.5 gave 1.2 false
# alarms per hour at 97.7 % recall; the same networks at 0.6, 0.8 at 97.0 % (2026-11-27).
THRESHOLD_GRID = (0.5, 0.6, 0.7, 0.8, 0.9)
RECALL_TARGET = 95.0  # percent of falls
FALSE_ALARM_TARGET = 1.0  # per hour of daily activities
INNER_FOLDS = 3
# The fall CNN and the classical baseline go through the same folds, sweeps and rule.
SCORERS = ("model", "classical")


def windows_of(path: Path) -> tuple[np.ndarray, np.ndarray]:
    imu = read_mobifall(path, RATE_HZ).streams["imu"][1]
    _, is_fall = mobifall_label(path)
    amag = np.linalg.norm(imu[:, :3], axis=1)
    impact = int(np.argmax(amag))
    hop = 10 if is_fall else 50
    xs, ys = [], []
    for start in range(0, len(imu) - WINDOW + 1, hop):
        if is_fall:
            pos = (impact - start) / RATE_HZ
            if 0.5 <= pos <= 3.0:
                y = 1
            elif pos < -1.0 or pos > 4.0:
                y = 0
            else:
                continue
        else:
            y = 0
        xs.append(fall_input(imu[start : start + WINDOW]))
        ys.append(y)
    if not xs:
        return np.zeros((0, WINDOW // 2, 3), np.float32), np.zeros(0, np.int64)
    return np.stack(xs), np.array(ys)


def build() -> Any:
    from tensorflow import keras

    inp = keras.Input((WINDOW // 2, 3), name="imu")
    h = keras.layers.Conv1D(8, 5, strides=2, activation="relu")(inp)
    h = keras.layers.Conv1D(16, 5, strides=2, activation="relu")(h)
    h = keras.layers.Conv1D(16, 5, strides=2, activation="relu")(h)
    h = keras.layers.GlobalMaxPooling1D()(h)
    h = keras.layers.Dense(16, activation="relu")(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="fall")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
    return model


def sample_weights(y: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Falls up-weighted; every kind of daily activity gets an equal share of the rest.

    By length, five-minute standing and walking recordings would make most of the
    negatives, and the short ones that look most like a fall (sitting into a car seat,
    sitting down) would hardly count.
    """
    weights = np.ones(len(y), np.float32)
    negative = y == 0
    kinds = np.unique(activity[negative])
    for kind in kinds:
        chosen = negative & (activity == kind)
        weights[chosen] = negative.sum() / len(kinds) / chosen.sum()
    falls = max(1, int(y.sum()))
    weights[y == 1] = np.sqrt((len(y) - falls) / falls)
    return weights


def fit(x: np.ndarray, y: np.ndarray, activity: np.ndarray) -> Any:
    fresh_names()
    members = []
    for k in range(ENSEMBLE):
        seed_everything(SEED + k)
        member = build()
        member.fit(
            x,
            y,
            batch_size=128,
            epochs=EPOCHS,
            sample_weight=sample_weights(y, activity),
            verbose=0,
        )
        members.append(member)
    return average_of(members, (WINDOW // 2, 3), "imu", "fall")


def pooled(per: dict[str, Any]) -> dict[str, Any]:
    """Recall and false alarms per hour over all subjects' falls and hours together."""
    total = {
        k: sum(v[k] for v in per.values())
        for k in ("falls", "detected", "false_alarms", "adl_hours")
    }
    hours = total["adl_hours"]
    return {
        "recall": round(100.0 * total["detected"] / total["falls"], 2) if total["falls"] else None,
        "false_alarms_per_hour": round(total["false_alarms"] / hours, 3) if hours else None,
        **total,
    }


def sweep(model: Any, folder: Path, subjects: list[str]) -> dict[float, dict[str, Any]]:
    """Each subject's figures at every threshold of the grid, through the pipeline."""
    return {
        threshold: {
            s: evaluate_fall(folder / s, lambda m=model, t=threshold: FallDetector(m, RATE_HZ, t))[
                "overall"
            ]
            for s in subjects
        }
        for threshold in THRESHOLD_GRID
    }


def choose_threshold(per_threshold: dict[float, dict[str, Any]]) -> float:
    """The grid value meeting both targets with the highest recall (then fewest alarms).

    Failing that, the highest recall within the false-alarm target; failing that too, the
    lowest threshold: a missed fall costs more than a false alarm.
    """
    figures = {t: pooled(per) for t, per in per_threshold.items()}

    def preference(t: float) -> tuple[float, float, float]:
        f = figures[t]
        return (f["recall"] or 0.0, -(f["false_alarms_per_hour"] or 0.0), -t)

    within = [
        t
        for t, f in figures.items()
        if f["false_alarms_per_hour"] is not None
        and f["false_alarms_per_hour"] <= FALSE_ALARM_TARGET
    ]
    both = [t for t in within if (figures[t]["recall"] or 0.0) >= RECALL_TARGET]
    for candidates in (both, within):
        if candidates:
            return max(candidates, key=preference)
    return min(THRESHOLD_GRID)


def main(data: Path, out: Path, work: Path) -> dict[str, Any]:
    seed_everything()
    folder = data / "mobifall"
    # Sorted as plain text (sub1, sub10, sub11, sub2, ...), the order the shipped networks
    # were trained in: the order of the windows moves what the shuffles draw.
    paths = sorted(p for p in recordings_in(folder) if p.suffix == ".txt")
    per_subject: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for p in paths:
        x, y = windows_of(p)
        activity = np.full(len(y), mobifall_label(p)[0])
        per_subject.setdefault(subject_of(p), []).append((x, y, activity))

    def stack(chosen: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [part for s in chosen for part in per_subject[s]]
        return tuple(np.concatenate([part[k] for part in parts]) for k in range(3))  # type: ignore[return-value]

    def trained(chosen: list[str]) -> dict[str, Any]:
        """The int8 engine of a model trained on these subjects, and the classical baseline
        trained on the same windows (it runs through the same detector and pipeline)."""
        x, y, activity = stack(chosen)
        content = to_tflite(fit(x, y, activity), x[:: max(1, len(x) // 1000)])
        engine = engine_for(card_dict("fall", content, PRE, THRESHOLDS), content, work)
        classical = fit_logistic(np.stack([fall_features(w) for w in x]), y)
        baseline = ClassicalScorer(engine.card, classical, fall_features, positive_only=True)
        return {"model": engine, "classical": baseline}

    def grid() -> dict[float, dict[str, Any]]:
        return {t: {} for t in THRESHOLD_GRID}

    subjects = sorted(per_subject)
    # For the model and for the baseline alike: every held-out subject at every threshold,
    # each subject at the threshold its fold chose (nested), and the thresholds chosen.
    outer = {name: grid() for name in SCORERS}
    nested: dict[str, dict[str, Any]] = {name: {} for name in SCORERS}
    fold_thresholds: dict[str, dict[str, float]] = {name: {} for name in SCORERS}
    for fold in group_folds(subjects, 4):
        train = [s for s in subjects if s not in fold]
        inner = {name: grid() for name in SCORERS}
        for inner_fold in group_folds(train, INNER_FOLDS):
            for name, scorer in trained([s for s in train if s not in inner_fold]).items():
                for t, figures in sweep(scorer, folder, inner_fold).items():
                    inner[name][t].update(figures)
        for name, scorer in trained(train).items():
            threshold = choose_threshold(inner[name])
            fold_thresholds[name][", ".join(fold)] = threshold
            for t, figures in sweep(scorer, folder, fold).items():
                outer[name][t].update(figures)
            for s in fold:
                nested[name][s] = {**outer[name][threshold][s], "threshold": threshold}
        chosen = {name: fold_thresholds[name][", ".join(fold)] for name in SCORERS}
        print("fall fold", fold, "thresholds", chosen, flush=True)
    per = nested["model"]
    overall = pooled(per)
    overall_classical = pooled(nested["classical"])
    chosen_per_fold, chosen_classical = fold_thresholds["model"], fold_thresholds["classical"]
    classical_at_half = pooled(outer["classical"][0.5])
    model_at_half = pooled(outer["model"][0.5])
    sweep_overall = {t: pooled(figures) for t, figures in outer["model"].items()}
    thresholds = {**THRESHOLDS, "score": choose_threshold(outer["model"])}
    x, y, activity = stack(list(per_subject))
    model = fit(x, y, activity)
    rep = x[:: max(1, len(x) // 1000)]
    content = to_tflite(model, rep)
    (work / "fall_float32.tflite").write_bytes(to_tflite(model, None))
    np.save(work / "fall_sample.npy", rep[:500])
    metrics = {
        "validation": "4 folds of subjects (MobiFall 1-11); every subject scored through the "
        "runtime pipeline by a model that never saw them, at the score threshold chosen "
        f"by {INNER_FOLDS} inner folds of that model's own training subjects",
        "overall_int8": overall,
        "per_subject_int8": per,
        "thresholds_per_fold": chosen_per_fold,
        "threshold_sweep_int8": {str(t): f for t, f in sweep_overall.items()},
        "classical_baseline": {
            "method": "logistic regression (balanced) on 10 hand features of the same "
            "windows (tools/train/classical.py), same folds, same detector and pipeline, "
            "its threshold chosen by the same nested rule",
            **overall_classical,
            "thresholds_per_fold": chosen_classical,
            "at_threshold_0.5": classical_at_half,
        },
        "windows_train": len(y),
        "fall_windows_train": int(y.sum()),
    }
    card = card_dict(
        "fall",
        content,
        PRE,
        thresholds,
        metrics=metrics,
        training={
            "subjects": subjects,
            "epochs": EPOCHS,
            "seeds": [SEED + k for k in range(ENSEMBLE)],
            "negative_weights": "equal total per kind of daily activity",
        },
    )
    rows = [
        (
            s,
            v["threshold"],
            v["recall"],
            v["falls"],
            v["false_alarms"],
            v["adl_hours"],
            v["false_alarms_per_hour"],
        )
        for s, v in per.items()
    ]
    sweep_rows = [
        (t, f["recall"], f["false_alarms"], f["false_alarms_per_hour"])
        for t, f in sweep_overall.items()
    ]
    fold_rows = list(chosen_per_fold.items())
    md = f"""# Model card: fall (fall detector, body-worn IMU)

Built by `tools/train/build_models.py` (this file is generated; do not edit).

## What it does
Scores the latest 4 s of accelerometer and gyroscope for a fall. A score of at least
{thresholds["score"]} makes a candidate at the window's impact; `fedwear.detect.fall.FallDetector`
reports a `fall` event only if the standard deviation of |acc| between
{THRESHOLDS["stillness_from_s"]} s and {THRESHOLDS["stillness_to_s"]} s after the impact is at most
{THRESHOLDS["stillness_std_g"]} g (the wearer lies still), and at most one per
{THRESHOLDS["refractory_s"]} s.

## Data and split
MobiFall v2.0 subjects 1–11 (phone in a trouser pocket; falls: forward-lying,
front-knees-lying, back-sitting-chair, sideward-lying; daily activities: standing,
walking, jogging, jumping, stairs, sitting down, car in/out). Resampled on timestamps to
100 Hz. Validation: 4 folds of whole subjects, each scored through `fedwear`'s own
pipeline (replay, ring, windows, detector) by a model not trained on them.

## Training
The model is the average of {ENSEMBLE} small 1-D CNNs trained alike from seeds
{SEED}..{SEED + ENSEMBLE - 1} ({EPOCHS} epochs each), in one graph. Fall windows are up-weighted
by the square root of the class ratio; each kind of daily activity gets the same share of
the negative weight, whatever the length of its recordings (standing and walking are
five-minute recordings, getting into a car a few seconds, and the car is where the
false alarms come from).

The score threshold, {thresholds["score"]}, was chosen on held-out subjects from the grid
{", ".join(str(t) for t in THRESHOLD_GRID)}: the value that meets both targets (recall ≥
{RECALL_TARGET:g} %, at most {FALSE_ALARM_TARGET:g} false alarm per hour) with the highest recall; failing
that, the highest recall within the false-alarm target; failing that, the lowest value.
For the shipped model the figures it was chosen on are the 4 folds below (each threshold's
row of the sweep).

## Preprocessing
Pairs of samples averaged to 50 Hz; channels |acc|/g (capped at 4), |gyro|/2.5 rad/s
(capped at 4), and the cosine between each acceleration and the mean direction of the
window's first 0.5 s. No orientation is assumed, so a wrist or a pocket give the same
kind of input.

## Tensors
{tensors_md(card)}

Size: {len(content)} bytes. Ops: {", ".join(card["ops"])}.

## Validation (int8, subjects left out, through the pipeline)
Nested: each fold's model is scored on its held-out subjects at the threshold that the same
rule chose from {INNER_FOLDS} inner folds of that fold's training subjects alone, so no held-out
subject had a say in its own threshold. Recall {overall["recall"]} % of {overall["falls"]} falls;
{overall["false_alarms"]} false alarms in {overall["adl_hours"]:.2f} h of daily activities =
{overall["false_alarms_per_hour"]} per hour.

{md_table(("subject", "threshold", "recall %", "falls", "false alarms", "ADL hours", "per hour"), rows)}

Thresholds the inner folds chose:

{md_table(("held-out fold", "threshold"), fold_rows)}

The same 4 folds' models at every threshold of the grid (what the shipped threshold was
chosen on; the row of the chosen value is optimistic, since it was picked on these
figures):

{md_table(("threshold", "recall %", "false alarms", "per hour"), sweep_rows)}

Classical baseline on the same folds, through the same detector (stillness check
included): logistic regression on 10 hand features (`tools/train/classical.py`), its
threshold chosen by the same nested rule ({", ".join(f"{t:g}" for t in chosen_classical.values())} for the four
folds): recall {overall_classical["recall"]} %, {overall_classical["false_alarms"]} false alarms =
{overall_classical["false_alarms_per_hour"]} per hour. At 0.5 for both: the baseline
{classical_at_half["recall"]} % and {classical_at_half["false_alarms"]} false alarms, the model
{model_at_half["recall"]} % and {model_at_half["false_alarms"]}.

## Known limits
- 11 young volunteers, simulated falls onto mats; real falls of older people are slower
  and may end without lying still (a fall where the wearer gets up at once is missed by
  design of the stillness check).
- The phone was in a pocket; on a wrist the posture channel changes less.
- Subjects 1 and 6 have no daily-activity recordings, so their false alarm rate is unknown.

## Data credit
MobiFall v2.0, Biomedical Informatics & eHealth Laboratory, TEI of Crete (Vavoulas et al.
2013/2014), shared by its authors for research use.
"""
    save_model(out, card, content, md)
    return metrics


if __name__ == "__main__":
    import sys

    m = main(Path(sys.argv[1]), ROOT / "models", ROOT / ".cache" / "train")
    print(json.dumps(m["overall_int8"]))
