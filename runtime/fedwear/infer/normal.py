"""Features of a wearer's moment: how they move, and what their heart does meanwhile.

One vector per 2 s step (over the last 8 s), from the same spectra the heart-rate model
uses. The "not my normal" autoencoder learns which combinations are usual; a heart rate
that does not fit the motion, or a sensor that stopped telling the truth, reconstructs
badly.
"""

from __future__ import annotations

__all__ = ["NORMAL_FEATURES", "wrist_features"]

import numpy as np

from .features import G
from .heart import HR_BINS_BPM

NORMAL_FEATURES = (
    "acc_std_g",
    "acc_mean_g",
    "gyro_mean_rad_s",
    "gyro_std_rad_s",
    "motion_bpm",
    "heart_bpm",
    "heart_confidence",
    "ppg_peakiness",
)


def wrist_features(spec: np.ndarray, imu: np.ndarray, bpm: float, confidence: float) -> np.ndarray:
    amag = np.linalg.norm(imu[:, :3], axis=1) / G
    gmag = np.linalg.norm(imu[:, 3:6], axis=1)
    ppg = spec[:, 0]
    return np.array(
        [
            amag.std(),
            amag.mean(),
            gmag.mean(),
            gmag.std(),
            HR_BINS_BPM[int(np.argmax(spec[:, 1]))],
            bpm,
            confidence,
            float(ppg.max() / max(float(ppg.mean()), 1e-6)),
        ],
        dtype=np.float32,
    )
