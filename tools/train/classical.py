"""Classical baselines (scikit-learn on hand features), measured on each model's own split.

A baseline tells whether a model earns its place: each one sees the same windows or beats,
the same folds, and (for the fall detector) goes through the same runtime detector and
pipeline, since ClassicalScorer stands in for the int8 engine behind the same interface.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import ROOT  # also puts runtime/ on sys.path for the fedwear import below

from fedwear.infer.beats import SEGMENT_SIZE

__all__ = [
    "ROOT",
    "ClassicalScorer",
    "GaussianScore",
    "beat_features",
    "fall_features",
    "fit_logistic",
]


class ClassicalScorer:
    """A fitted estimator behind the engine's interface (``card``, ``run``), so a runtime
    detector uses it unchanged. ``run`` returns P(class) for every class but the first when
    ``positive_only`` (the fall detector's single score), else every class."""

    def __init__(self, card: Any, estimator: Any, features: Any, positive_only: bool) -> None:
        self.card = card
        self.estimator = estimator
        self.features = features
        self.positive_only = positive_only

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        f = self.features(np.asarray(x, dtype=np.float32))[None, :]
        proba = self.estimator.predict_proba(f)
        return [proba[:, 1:] if self.positive_only else proba]


def fall_features(window: np.ndarray) -> np.ndarray:
    """Ten numbers a fall-detection paper of the 2010s would compute from the fall input
    (|acc|, |gyro|, posture cosine at 50 Hz): peak, trough and spread of |acc|, its
    free-fall depth before the peak, gyro peak and mean, and posture change at the end."""
    acc, gyro, cos = window[:, 0], window[:, 1], window[:, 2]
    peak = int(np.argmax(acc))
    before = acc[max(0, peak - 25) : peak + 1]
    after = acc[peak : peak + 50]
    return np.array(
        [
            acc.max(),
            acc.min(),
            acc.std(),
            before.min(),
            acc.max() - before.min(),
            after.std() if len(after) > 1 else 0.0,
            gyro.max(),
            gyro.mean(),
            cos[-25:].mean(),
            cos.min(),
        ],
        dtype=np.float32,
    )


def beat_features(seg: np.ndarray, x: np.ndarray) -> np.ndarray:
    """De Chazal-style: the five RR features, the beat and its difference from the running
    template each averaged down to 16 points (morphology), and the beat's width above half
    its peak (a wide QRS is the textbook V sign). ``seg`` is the beat, ``x`` the model's
    input (difference, then RR)."""
    diff, rr = x[:SEGMENT_SIZE], x[SEGMENT_SIZE:]
    k = SEGMENT_SIZE // 16
    peak = np.abs(seg).max()
    width = float((np.abs(seg) > 0.5 * peak).sum()) if peak > 0 else 0.0
    return np.concatenate(
        [
            rr,
            seg[: 16 * k].reshape(16, k).mean(axis=1),
            diff[: 16 * k].reshape(16, k).mean(axis=1),
            [width, float(np.abs(diff).max())],
        ]
    ).astype(np.float32)


def fit_logistic(f: np.ndarray, y: np.ndarray) -> Any:
    """Standardised logistic regression with balanced class weights: the plain, strong
    linear baseline (de Chazal et al. 2004 used linear discriminants on similar features)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=3000)
    )
    return model.fit(f, y)


class GaussianScore:
    """Mahalanobis distance to the training windows: the classical anomaly score that an
    autoencoder must beat (it captures the same linear correlations, and nothing more)."""

    def __init__(self, z: np.ndarray) -> None:
        self.mean = z.mean(axis=0)
        cov = np.cov(z, rowvar=False) + 1e-3 * np.eye(z.shape[1])
        self.precision = np.linalg.inv(cov)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        d = z - self.mean
        return np.einsum("ij,jk,ik->i", d, self.precision, d) / z.shape[1]
