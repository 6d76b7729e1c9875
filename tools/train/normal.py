""" "Not my normal": an autoencoder over wrist features (motion + heart), PhysioNet wrist PPG.

Features are the runtime's own (fedwear.infer.normal.wrist_features), with the heart rate
from the shipped ppg_hr model, every 2 s over 8 s. The autoencoder learns the usual
combinations; its reconstruction error is the anomaly score, and the threshold is the
99th percentile of the training windows' scores. Validation: leave one subject out; the
held-out subject's own windows give the false alarm rate, and the same windows with a
heart rate 40 BPM too high for the motion, or with the PPG sensor lifted, give the
detection rate (synthetic anomalies: the set has no real ones).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from classical import GaussianScore
from common import (
    ROOT,
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

from fedwear.infer.engine import load_model
from fedwear.infer.heart import HeartRateTracker, WristSpectra
from fedwear.infer.normal import NORMAL_FEATURES, wrist_features

PPG_HZ, IMU_HZ = 64.0, 100.0
HEART = NORMAL_FEATURES.index("heart_bpm")


def recording_features(path: Path, hr_model: Any, lifted: bool = False) -> np.ndarray:
    """The runtime's features at every step of one recording. ``lifted``: the PPG's
    spectrum is white noise's in every window (the sensor off the skin, no pulse; the
    motion is the recording's), through the heart-rate model and tracker as on a device."""
    tracker = HeartRateTracker()
    noise = np.random.default_rng(0)
    # The runtime's own PPG spectrum, for the noise of a lifted sensor.
    bank = WristSpectra(PPG_HZ, IMU_HZ).ppg_bank if lifted else None
    rows = []
    for t_ns, spec, imu in wrist_steps(path, PPG_HZ, IMU_HZ):
        if bank is not None:
            spec = spec.copy()
            spec[:, 0] = bank(noise.normal(size=(bank.n, 1)))
        bpm, conf = tracker.update(t_ns, hr_model.run(spec)[0].reshape(-1), spec[:, 0])
        rows.append(wrist_features(spec, imu, bpm, conf))
    return np.stack(rows)


def anomalies(x: np.ndarray, lifted: np.ndarray) -> dict[str, np.ndarray]:
    """The held-out windows with a heart rate 40 BPM too fast for their motion, and the
    same windows with the PPG sensor lifted (``recording_features(..., lifted=True)``)."""
    fast = x.copy()
    fast[:, HEART] += 40.0
    return {"heart_rate_plus_40": fast, "ppg_not_pulsing": lifted}


def build() -> Any:
    from tensorflow import keras

    inp = keras.Input((len(NORMAL_FEATURES),), name="features")
    h = keras.layers.Dense(16, activation="relu", name="encoder_1")(inp)
    code = keras.layers.Dense(4, activation="relu", name="encoder_2")(h)
    h = keras.layers.Dense(16, activation="relu", name="decoder_1")(code)
    out = keras.layers.Dense(len(NORMAL_FEATURES), name="decoder_2")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    return model


def fit(x: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    fresh_names()
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)
    z = (x - mean) / std
    model = build()
    model.fit(z, z, batch_size=32, epochs=150, verbose=0)
    return model, mean, std


def scores(engine: Any, x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    z = ((x - mean) / std).astype(np.float32)
    return np.array([float(np.mean((engine.run(zi)[0].reshape(-1) - zi) ** 2)) for zi in z])


def gaussian_row(
    train: np.ndarray, test: np.ndarray, lifted: np.ndarray, mean: np.ndarray, std: np.ndarray
) -> dict[str, Any]:
    """The same figures for the Mahalanobis score, threshold also at the 99th percentile."""
    gauss = GaussianScore((train - mean) / std)
    threshold = float(np.percentile(gauss((train - mean) / std), 99))
    held = gauss((test - mean) / std)
    row: dict[str, Any] = {
        "false_alarm_windows_pct": round(100 * float((held > threshold).mean()), 2)
    }
    for kind, x in anomalies(test, lifted).items():
        bad = gauss((x - mean) / std)
        row[kind] = {
            "detected_pct": round(100 * float((bad > threshold).mean()), 2),
            "auc": round(auc(held, bad), 3),
        }
    return row


def mean_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Subjects' figures averaged (each subject counts once)."""
    return {
        "false_alarm_windows_pct": round(
            float(np.mean([v["false_alarm_windows_pct"] for v in rows])), 2
        ),
        **{
            k: {
                "detected_pct": round(float(np.mean([v[k]["detected_pct"] for v in rows])), 2),
                "auc": round(float(np.mean([v[k]["auc"] for v in rows])), 3),
            }
            for k in ("heart_rate_plus_40", "ppg_not_pulsing")
        },
    }


def auc(normal: np.ndarray, abnormal: np.ndarray) -> float:
    both = np.concatenate((normal, abnormal))
    ranks = np.argsort(np.argsort(both)) + 1
    r = ranks[len(normal) :].sum()
    n1, n0 = len(abnormal), len(normal)
    return float((r - n1 * (n1 + 1) / 2) / (n1 * n0))


def quantized(model: Any, z: np.ndarray, pre: dict[str, Any], work: Path) -> tuple[bytes, Any]:
    content = to_tflite(model, z.astype(np.float32))
    return content, engine_for(card_dict("normal", content, pre, {}), content, work)


def main(data: Path, out: Path, work: Path) -> dict[str, Any]:
    seed_everything()
    hr_model = load_model(out / "ppg_hr.json")
    paths = sorted((data / "wristppg" / "edf").glob("*.edf"))
    feats = {p.stem: recording_features(p, hr_model) for p in paths}
    lifted = {p.stem: recording_features(p, hr_model, lifted=True) for p in paths}
    subjects = sorted({n.split("_", 1)[0] for n in feats})
    per: dict[str, Any] = {}
    for s in subjects:
        train = np.concatenate([f for n, f in feats.items() if not n.startswith(s + "_")])
        test = np.concatenate([f for n, f in feats.items() if n.startswith(s + "_")])
        test_lifted = np.concatenate([f for n, f in lifted.items() if n.startswith(s + "_")])
        model, mean, std = fit(train)
        pre = {"feature_mean": mean.tolist(), "feature_std": std.tolist()}
        _, engine = quantized(model, (train - mean) / std, pre, work)
        threshold = float(np.percentile(scores(engine, train, mean, std), 99))
        held = scores(engine, test, mean, std)
        row: dict[str, Any] = {
            "windows": len(test),
            "false_alarm_windows_pct": round(100 * float((held > threshold).mean()), 2),
        }
        for kind, x in anomalies(test, test_lifted).items():
            bad = scores(engine, x, mean, std)
            row[kind] = {
                "detected_pct": round(100 * float((bad > threshold).mean()), 2),
                "auc": round(auc(held, bad), 3),
            }
        row["classical_baseline"] = gaussian_row(train, test, test_lifted, mean, std)
        per[s] = row
        print("normal fold", s, "done", flush=True)
    x = np.concatenate(list(feats.values()))
    model, mean, std = fit(x)
    pre = {
        "ppg_rate_hz": PPG_HZ,
        "imu_rate_hz": IMU_HZ,
        "window_s": 8.0,
        "hop_s": 2.0,
        "features": list(NORMAL_FEATURES),
        "feature_mean": [round(float(v), 6) for v in mean],
        "feature_std": [round(float(v), 6) for v in std],
        "heart_rate_model": "ppg_hr",
    }
    mean = np.asarray(pre["feature_mean"], dtype=np.float32)
    std = np.asarray(pre["feature_std"], dtype=np.float32)
    z = ((x - mean) / std).astype(np.float32)
    content, engine = quantized(model, z, pre, work)
    threshold = float(np.percentile(scores(engine, x, mean, std), 99))
    (work / "normal_float32.tflite").write_bytes(to_tflite(model, None))
    np.save(work / "normal_sample.npy", z)
    thresholds = {"score": round(threshold, 4), "debounce_steps": 3, "clear_ratio": 0.7}
    overall = mean_of(list(per.values()))
    overall_classical = mean_of([v["classical_baseline"] for v in per.values()])
    metrics = {
        "validation": "leave one subject out (s2-s5); anomalies are synthetic",
        "overall_int8": overall,
        "per_subject_int8": per,
        "classical_baseline": {
            "method": "Mahalanobis distance on the same standardised features, threshold "
            "at the 99th percentile of the training windows (tools/train/classical.py)",
            **overall_classical,
        },
    }
    card = card_dict(
        "normal",
        content,
        pre,
        thresholds,
        metrics=metrics,
        training={
            "recordings": sorted(feats),
            "epochs": 150,
            "seed": "fixed",
            "personalisation": {
                "frozen": ["encoder_1", "encoder_2"],
                "trainable": ["decoder_1", "decoder_2"],
            },
        },
    )
    rows = [
        (
            s,
            v["false_alarm_windows_pct"],
            v["heart_rate_plus_40"]["detected_pct"],
            v["heart_rate_plus_40"]["auc"],
            v["ppg_not_pulsing"]["detected_pct"],
            v["ppg_not_pulsing"]["auc"],
        )
        for s, v in per.items()
    ]
    md = f"""# Model card: normal ("not my normal" autoencoder)

Built by `tools/train/build_models.py` (this file is generated; do not edit).

## What it does
Reconstructs a wearer's 8-feature moment ({", ".join(NORMAL_FEATURES)}), every 2 s over 8 s,
standardised with the training mean and spread below. The mean squared reconstruction
error is the score; `fedwear.detect.normal.NormalDetector` reports `not_my_normal` after
{thresholds["debounce_steps"]} steps over {thresholds["score"]} (the 99th percentile of the training
windows) and re-arms below {thresholds["clear_ratio"]} × that.

Personalisation (next step of the project): the encoder (`encoder_1`, `encoder_2`) stays
frozen and int8; the decoder (`decoder_1`, `decoder_2`, {16 * 4 + 16 + 16 * 8 + 8} weights) is the part
on-device learning adapts to its wearer.

## Data and split
PhysioNet "Wrist PPG During Exercise", 10 recordings of s2–s5 (walking, running, cycling).
The heart-rate feature comes from the shipped `ppg_hr` model, which saw every subject:
the held-out figures below are therefore for the autoencoder alone. Validation: leave one
subject out. The set has no real anomalies, so detection is measured on synthetic ones made
from the held-out subject's own windows: heart rate +40 BPM with unchanged motion, and the
PPG sensor lifted off the skin (in every window the PPG's spectrum is white noise's, run
through the heart-rate model and tracker as on a device; the motion is the recording's).

## Tensors
{tensors_md(card)}

Size: {len(content)} bytes. Ops: {", ".join(card["ops"])}.

## Validation (int8, subject left out)
{md_table(("subject", "false alarm windows %", "HR+40 detected %", "HR+40 AUC", "no pulse detected %", "no pulse AUC"), rows)}

Mean of subjects: {overall["false_alarm_windows_pct"]} % false alarm windows; HR+40 detected
{overall["heart_rate_plus_40"]["detected_pct"]} % (AUC {overall["heart_rate_plus_40"]["auc"]}); no pulse detected
{overall["ppg_not_pulsing"]["detected_pct"]} % (AUC {overall["ppg_not_pulsing"]["auc"]}).
Classical baseline on the same split, the Mahalanobis distance to the training windows
(`tools/train/classical.py`): {overall_classical["false_alarm_windows_pct"]} % false alarm windows;
HR+40 detected {overall_classical["heart_rate_plus_40"]["detected_pct"]} % (AUC
{overall_classical["heart_rate_plus_40"]["auc"]}); no pulse detected
{overall_classical["ppg_not_pulsing"]["detected_pct"]} % (AUC {overall_classical["ppg_not_pulsing"]["auc"]}).

## Known limits
- Trained on exercise only: rest, sleep and daily life are "not normal" to the shipped
  population model until it is personalised.
- Synthetic anomalies say the score reacts to the right things, not how often real
  events would be caught.
- A lifted PPG sensor is hardly told from the held-out wearer's own windows (the "no
  pulse" AUC above): the heart-rate model and tracker turn noise into a rate and a
  confidence much like those of a PPG drowned by arm swing, which these recordings are
  full of. The Mahalanobis baseline does no better. Telling a lifted sensor needs the
  raw PPG (its amplitude, its skin contact), not these features.

## Data credit
Wrist PPG During Exercise (Jarchi & Casson 2017), PhysioNet (Goldberger et al. 2000), Open
Data Commons Attribution 1.0.
"""
    save_model(out, card, content, md)
    return metrics


if __name__ == "__main__":
    import sys

    m = main(Path(sys.argv[1]), ROOT / "models", ROOT / ".cache" / "train")
    print(json.dumps(m["overall_int8"]))
