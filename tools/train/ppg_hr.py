"""Heart rate from wrist PPG under motion (PhysioNet "Wrist PPG During Exercise").

Inputs are the runtime's own spectra (fedwear.infer.heart.WristSpectra: the PPG's
magnitude spectrum over 8 s, every 2 s, at 64 rates from 30 to 219 BPM, and the
accelerometer's at those rates, at half and at twice them, where motion harmonics are);
the target is the chest ECG's heart rate as a soft one-hot over those rates. The model
learns which PPG peak is the heart when the arm's motion adds peaks of its own. It is
three networks whose logits are averaged: one trained on the windows as recorded, where
the heart is often tied to the motion's rate, and two also on copies whose heart peak
was moved to other rates, where it is not; a rate must suit all three.
Validation: leave one subject out (s2-s5), scored through the runtime's pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    ROOT,
    SEED,
    card_dict,
    engine_for,
    fresh_names,
    md_table,
    save_model,
    seed_everything,
    tensors_md,
    to_tflite,
    wrist_steps,
)

from fedwear.detect.heart import PpgHeartRateDetector
from fedwear.detect.wrist import WristEstimator
from fedwear.evaluate.ppg import (
    BOUND_PEAKS,
    VISIBLE_PEAKS,
    VISIBLE_WITHIN_BPM,
    evaluate_ppg,
    nearest_peaks_key,
    reference_beats,
    reference_bpm,
)
from fedwear.infer.heart import (
    ACC_MULTIPLES,
    HR_BINS_BPM,
    PLAIN_PEAK,
    SPECTRA_CHANNELS,
    HeartRateTracker,
    classical_likelihood,
)

PPG_HZ, IMU_HZ = 64.0, 100.0
PRE = {
    "ppg_rate_hz": PPG_HZ,
    "imu_rate_hz": IMU_HZ,
    "window_s": 8.0,
    "hop_s": 2.0,
    "bins_bpm": [float(HR_BINS_BPM[0]), float(HR_BINS_BPM[-1]), len(HR_BINS_BPM)],
    "acc_multiples": list(ACC_MULTIPLES),
}
THRESHOLDS = {
    "still_std_g": 0.02,
    "rest_max_bpm": 110.0,
    "hysteresis_bpm": 10.0,
    "hold_s": 30.0,
    "settle_s": 300.0,
    "min_confidence": 0.15,
}


def subject(recording: str) -> str:
    return recording.split("_", 1)[0]


def recording_spectra(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    beats = reference_beats(path)
    specs, refs, times = [], [], []
    for t_ns, spec, _ in wrist_steps(path, PPG_HZ, IMU_HZ):
        ref = reference_bpm(beats, t_ns / 1e9)
        if ref is not None:
            specs.append(spec)
            refs.append(ref)
            times.append(t_ns)
    return np.stack(specs), np.array(refs), np.array(times)


def soft_target(bpm: np.ndarray) -> np.ndarray:
    d = (HR_BINS_BPM[None, :] - bpm[:, None]) / 3.0
    y = np.exp(-0.5 * d * d)
    return (y / y.sum(axis=1, keepdims=True)).astype(np.float32)


# The heart is "at" a rate within this of it (where `fedwear eval` counts it visible):
# where a window's PPG must reach PLAIN_PEAK (its spectrum's largest is 1) for the window
# to be copied with its heart moved.
HEART_NEAR_BPM = VISIBLE_WITHIN_BPM
# What `fedwear eval ppg-hr` says the input allows, per recording: in the card beside the
# model's error.
INPUT_ALLOWS = (
    "heart_visible_percent",
    *(nearest_peaks_key(k) for k in BOUND_PEAKS),
)
MOVED_COPIES = 3
MOVED_NETWORKS = 2  # beside the one trained on the windows as recorded
HEART_WIDTH_BPM = 5.0


def moved_hearts(
    x: np.ndarray, bpm: np.ndarray, rng: np.random.Generator, copies: int = MOVED_COPIES
) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the windows whose heart is plain, the heart peak moved to another window's
    true rate over the rest of the PPG spectrum, the motion channels as they were: the
    heart then sits anywhere against the motion, so the tie between them in these few
    people (the card's "heart ÷ motion") stops being a rule to learn."""
    bins = HR_BINS_BPM
    near = np.abs(bins[None, :] - bpm[:, None]) <= HEART_NEAR_BPM
    plain = np.flatnonzero(np.where(near, x[:, :, 0], 0.0).max(axis=1) >= PLAIN_PEAK)
    # Each plain window's pulse and the rest of its PPG, split once for every copy.
    heart = np.exp(-0.5 * ((bins[None, :] - bpm[plain, None]) / HEART_WIDTH_BPM) ** 2)
    ppg = x[plain, :, 0]
    pulse, rest = ppg * heart, ppg * (1.0 - heart)
    xs, ys = [], []
    for _ in range(copies):
        target = bpm[rng.integers(0, len(bpm), len(plain))]
        shift = target - bpm[plain]
        moved = np.stack(
            [
                np.interp(bins, bins + d, p, left=0.0, right=0.0)
                for d, p in zip(shift, pulse, strict=True)
            ]
        )
        spectra = np.maximum(rest, moved)
        new = x[plain].copy()
        new[:, :, 0] = spectra / np.maximum(spectra.max(axis=1, keepdims=True), 1e-6)
        xs.append(new)
        ys.append(target)
    return np.concatenate(xs), np.concatenate(ys)


def build() -> Any:
    from tensorflow import keras

    inp = keras.Input((len(HR_BINS_BPM), SPECTRA_CHANNELS), name="spectra")
    h = keras.layers.Conv1D(16, 7, padding="same", activation="relu")(inp)
    h = keras.layers.Conv1D(16, 7, padding="same", activation="relu")(h)
    h = keras.layers.Conv1D(1, 5, padding="same")(h)
    h = keras.layers.Flatten(name="logits")(h)
    out = keras.layers.Softmax(name="likelihood")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="categorical_crossentropy")
    return model


def train_one(x: np.ndarray, bpm: np.ndarray) -> Any:
    model = build()
    model.fit(x, soft_target(bpm), batch_size=32, epochs=60, verbose=0)
    return model


def fit(x: np.ndarray, bpm: np.ndarray) -> Any:
    """The networks in one model: the mean of their logits, then the softmax (the
    geometric mean of their likelihoods)."""
    fresh_names()
    members = [train_one(x, bpm)]
    for k in range(MOVED_NETWORKS):
        xm, ym = moved_hearts(x, bpm, np.random.default_rng(SEED + k))
        members.append(train_one(np.concatenate([x, xm]), np.concatenate([bpm, ym])))
    return side_by_side(members)


def side_by_side(members: list[Any]) -> Any:
    """The members as one network of the same function: their first convolutions as one
    of all their filters, their second as one grouped convolution (each member's filters
    see only its own channels), their last with the logits' mean folded in (kernels / n,
    the mean bias). 4 convolutions in place of 3 per member and the ops that join them:
    bigger convolutions, fewer ops, a smaller file (docs/benchmarks.md)."""
    from tensorflow import keras

    n = len(members)
    convs = [[la for la in m.layers if isinstance(la, keras.layers.Conv1D)] for m in members]
    kernels = [[c.get_weights()[0] for c in net] for net in convs]
    biases = [[c.get_weights()[1] for c in net] for net in convs]

    def like(member_layer: Any, filters: int, groups: int = 1) -> Any:
        """A member's convolution, wider. Zero-initialised: building it draws nothing from
        the seeded generator, so the networks trained after it (the next fold's) start
        from the draws they would have had."""
        return keras.layers.Conv1D(
            filters,
            member_layer.kernel_size,
            padding=member_layer.padding,
            activation=member_layer.activation,
            groups=groups,
            kernel_initializer="zeros",
            bias_initializer="zeros",
        )

    one = convs[0]
    first, second = like(one[0], n * one[0].filters), like(one[1], n * one[1].filters, groups=n)
    last = like(one[2], one[2].filters)
    inp = keras.Input((len(HR_BINS_BPM), SPECTRA_CHANNELS), name="spectra")
    logits = keras.layers.Flatten(name="logits")(last(second(first(inp))))
    model = keras.Model(inp, keras.layers.Softmax(name="likelihood")(logits))
    for layer, i in ((first, 0), (second, 1)):
        layer.set_weights(
            [np.concatenate([k[i] for k in kernels], -1), np.concatenate([b[i] for b in biases])]
        )
    last.set_weights(
        [np.concatenate([k[2] for k in kernels], 1) / n, np.mean([b[2] for b in biases], 0)]
    )
    return model


def heart_to_motion(spectra: np.ndarray, refs: np.ndarray) -> float:
    """Median ratio of the true rate to the accelerometer's strongest rate: how the heart
    and the motion were tied in a recording, a relation a network can learn as a rule."""
    motion = HR_BINS_BPM[spectra[:, :, 1].argmax(axis=1)]
    return float(np.median(refs / motion))


def tracked_mae(
    likelihoods: np.ndarray, spectra: np.ndarray, times: np.ndarray, refs: np.ndarray
) -> float:
    """MAE of the runtime's tracker on these likelihoods (reported at the PPG's peak)."""
    tracker = HeartRateTracker()
    errs = [
        abs(tracker.update(int(t), lk, spec[:, 0])[0] - r)
        for lk, spec, t, r in zip(likelihoods, spectra, times, refs, strict=True)
    ]
    return float(np.mean(errs))


def main(data: Path, out: Path, work: Path) -> dict[str, Any]:
    seed_everything()
    folder = data / "wristppg"
    paths = sorted((folder / "edf").glob("*.edf"))
    recs = {p.stem: recording_spectra(p) for p in paths}
    subjects = sorted({subject(p.stem) for p in paths})
    per: dict[str, Any] = {}
    baseline: dict[str, float] = {}
    for s in subjects:
        train = [n for n in recs if not n.startswith(s + "_")]
        x = np.concatenate([recs[n][0] for n in train])
        y = np.concatenate([recs[n][1] for n in train])
        model = fit(x, y)
        content = to_tflite(model, x[:: max(1, len(x) // 500)])
        engine = engine_for(card_dict("ppg_hr", content, PRE, THRESHOLDS), content, work)
        result = evaluate_ppg(
            folder,
            lambda e=engine: PpgHeartRateDetector(WristEstimator(e, PPG_HZ, IMU_HZ)),
            only=lambda p, s=s: subject(p.stem) == s,
        )
        for name, v in result["per_recording"].items():
            per[name] = {"mae_bpm": v["mae_bpm"], "windows": v["windows"]}
        print("ppg fold", s, "done", flush=True)
    for name, (spec, refs, times) in recs.items():
        lk = np.stack([classical_likelihood(x) for x in spec])
        baseline[name] = round(tracked_mae(lk, spec, times, refs), 2)
    n_all = sum(v["windows"] for v in per.values())
    overall = {
        "mae_bpm": round(sum(v["mae_bpm"] * v["windows"] for v in per.values()) / n_all, 2),
        "mean_of_recordings_mae_bpm": round(
            float(np.mean([v["mae_bpm"] for v in per.values()])), 2
        ),
        "windows": n_all,
    }
    # The no-information baseline: every window gets the other subjects' mean rate.
    others_mean = {
        s: float(np.concatenate([r[1] for n, r in recs.items() if subject(n) != s]).mean())
        for s in subjects
    }
    constant = {
        name: round(float(np.mean(np.abs(refs - others_mean[subject(name)]))), 2)
        for name, (_, refs, _) in recs.items()
    }
    ratio = {name: round(heart_to_motion(spec, refs), 2) for name, (spec, refs, _) in recs.items()}
    near_twice = sum(1.75 <= r <= 2.25 for r in ratio.values())
    n_b = sum(len(r[1]) for r in recs.values())
    constant_overall = round(sum(constant[n] * len(recs[n][1]) for n in recs) / n_b, 2)
    baseline_overall = round(sum(baseline[n] * len(recs[n][1]) for n in recs) / n_b, 2)
    x = np.concatenate([r[0] for r in recs.values()])
    y = np.concatenate([r[1] for r in recs.values()])
    model = fit(x, y)
    rep = x[:: max(1, len(x) // 500)]
    content = to_tflite(model, rep)
    (work / "ppg_hr_float32.tflite").write_bytes(to_tflite(model, None))
    np.save(work / "ppg_hr_sample.npy", rep)
    # What the input allows does not depend on the model: the final one's run over every
    # recording gives the data's figures (its own MAE there is in-sample, and unused).
    final = engine_for(card_dict("ppg_hr", content, PRE, THRESHOLDS), content, work)
    whole = evaluate_ppg(
        folder, lambda: PpgHeartRateDetector(WristEstimator(final, PPG_HZ, IMU_HZ))
    )
    allows = {k: {n: v[k] for n, v in whole["per_recording"].items()} for k in INPUT_ALLOWS}
    allows_overall = {k: whole["overall"][k] for k in INPUT_ALLOWS}
    visible = allows["heart_visible_percent"]
    metrics = {
        "validation": "leave one subject out (s2-s5), through the runtime pipeline",
        "overall_int8": overall,
        "per_recording_int8": per,
        "classical_baseline": {
            "method": "PPG spectrum with accelerometer peaks masked, same tracker",
            "mae_bpm": baseline_overall,
            "per_recording": baseline,
        },
        "constant_baseline": {
            "method": "every window gets the mean rate of the other subjects' recordings",
            "mae_bpm": constant_overall,
            "per_recording": constant,
        },
        "heart_peak_visible_percent": visible,
        "nearest_peak_oracle": {
            "method": "knows the true rate and reports the nearest of the PPG spectrum's "
            "3 (5) largest peaks: the best an estimator reporting one of them could do",
            "overall": {k: allows_overall[k] for k in INPUT_ALLOWS[1:]},
            "per_recording": {k: allows[k] for k in INPUT_ALLOWS[1:]},
        },
        "heart_to_motion_rate": ratio,
    }
    card = card_dict(
        "ppg_hr",
        content,
        PRE,
        THRESHOLDS,
        metrics=metrics,
        training={
            "recordings": sorted(recs),
            "epochs": 60,
            "seed": "fixed",
            "networks": f"{1 + MOVED_NETWORKS}, logits averaged: one as recorded; "
            f"{MOVED_NETWORKS} also with {MOVED_COPIES} moved-heart copies of each plain "
            "window, each drawn with a seed of its own",
        },
    )
    rows = [
        (
            n,
            v["mae_bpm"],
            baseline[n],
            constant[n],
            *(allows[nearest_peaks_key(k)][n] for k in BOUND_PEAKS),
            visible[n],
            ratio[n],
            v["windows"],
        )
        for n, v in sorted(per.items())
    ]
    table = md_table(
        (
            "recording",
            "MAE BPM (model)",
            "MAE BPM (classical)",
            "MAE BPM (constant)",
            *(f"nearest of {k} peaks" for k in BOUND_PEAKS),
            "heart visible %",
            "heart ÷ motion",
            "windows",
        ),
        rows,
    )
    mean_of_recordings = overall["mean_of_recordings_mae_bpm"]
    tracker = HeartRateTracker()  # its defaults, which the card describes
    three, five = (allows_overall[k] for k in INPUT_ALLOWS[1:])
    md = f"""# Model card: ppg_hr (heart rate from wrist PPG under motion)

Built by `tools/train/build_models.py` (this file is generated; do not edit).

## What it does
Every 2 s, takes the magnitude spectra of the last 8 s of wrist PPG and wrist acceleration
at 64 rates (30–219 BPM, 3 BPM apart), the acceleration's also at half and at twice each
rate (where arm swing and stride put the harmonics that reach the PPG), and gives a
likelihood per rate: {1 + MOVED_NETWORKS} networks, their logits averaged, one trained on
the windows as recorded and {MOVED_NETWORKS} also on copies whose heart peak was moved to
other rates (so that the heart's tie to the motion in these recordings is not all they
learn). The file holds them as one network of the same function: one convolution with
all their first filters, one grouped convolution, and one with the logits' mean folded
in. The runtime's tracker (`fedwear.infer.heart.HeartRateTracker`) is a forward filter
over the 64 rates: its
belief diffuses by {tracker.step_bpm:g} BPM per 2 s step and is weighed by the
likelihood to the power {tracker.EVIDENCE:g} (the 8 s windows overlap fourfold). It
reports the PPG spectrum's largest peak within one spread ({tracker.spread:g} BPM)
of the filter's rate where that peak is at least {PLAIN_PEAK:g} of the spectrum's largest
(elsewhere, the filter's rate).
`fedwear.detect.heart.PpgHeartRateDetector` also reports a heart rate the wearer's motion
does not explain: above {THRESHOLDS["rest_max_bpm"]} BPM while |acc| varies by at most
{THRESHOLDS["still_std_g"]} g, held for {THRESHOLDS["hold_s"]} s, once the wrist has not been
active (moving for most of a minute) for {THRESHOLDS["settle_s"]} s (a rule on the model's
output, `fedwear.detect.unexplained`; its constants are in this card).

## Data and split
PhysioNet "Wrist PPG During Exercise" (Jarchi & Casson 2017): 10 recordings of subjects
s2–s5 walking, running and cycling; PPG resampled to 64 Hz, IMU to 100 Hz, as the runtime
reads them. Truth: 60 / median inter-beat interval of the chest ECG's reviewed beats over
the same 8 s. Validation: leave one subject out, through the runtime's pipeline.

## Tensors
{tensors_md(card)}

Size: {len(content)} bytes. Ops: {", ".join(card["ops"])}.

## Validation (int8, subject left out)
Mean absolute error {overall["mae_bpm"]} BPM over {overall["windows"]} windows (mean of the
recordings' MAE: {mean_of_recordings} BPM). Classical baseline on the same windows
(accelerometer-masked PPG spectrum, same tracker): {baseline_overall} BPM. No-information
baseline (every window gets the other subjects' mean rate): {constant_overall} BPM.
**{"The model beats" if overall["mae_bpm"] < constant_overall else "The model does not beat"}
the no-information baseline.**

What the input allows (`fedwear eval ppg-hr` gives the same columns for any folder): an
oracle that knows the true rate and reports the nearest of the PPG spectrum's 3 (5)
largest peaks scores {three} ({five}) BPM over the same windows. No estimator that
reports one of those peaks can do better; the tracker, which carries its rate where the
PPG shows no plain peak near it, is not bound by it. "Heart visible" is the percentage
of windows whose true rate lies within {VISIBLE_WITHIN_BPM:g} BPM of one of the
{VISIBLE_PEAKS} largest peaks: where it is low, the heart is hardly in the input.
"Heart ÷ motion" is the median ratio of the true rate to the accelerometer's strongest
rate.

{table}

## Known limits
- Four subjects; every recording is exercise, none is rest, sleep or daily life.
- In {near_twice} of {len(ratio)} recordings the heart beat at 1.75–2.25 times the
  accelerometer's strongest rate. A network trained on three of these subjects can take
  that tie for a rule; other people, paces and cadences need not share it.
- Rates outside 30–219 BPM cannot be reported.
- The first estimate comes 8 s after the start of a recording.

## Data credit
Wrist PPG During Exercise (Jarchi & Casson 2017), PhysioNet (Goldberger et al. 2000), Open
Data Commons Attribution 1.0.
"""
    save_model(out, card, content, md)
    return metrics


if __name__ == "__main__":
    import sys

    m = main(Path(sys.argv[1]), ROOT / "models", ROOT / ".cache" / "train")
    print(json.dumps(m["overall_int8"]), json.dumps(m["classical_baseline"]["mae_bpm"]))
