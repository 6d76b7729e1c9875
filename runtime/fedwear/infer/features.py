"""Preprocessing shared by the training tools and the detectors, so the two cannot differ.

Every function here takes the streams at the runtime's rates (imu 100 Hz, ppg 64 Hz,
ecg 250 Hz by default; the model card records the rates a model was trained at).
"""

from __future__ import annotations

__all__ = [
    "G",
    "History",
    "QrsDetector",
    "SpectrumBank",
    "acc_spread_g",
    "fall_input",
]

import numpy as np

from ..ingest.recordings import G  # standard gravity, as the recording readers use it


class History:
    """The last ``size`` samples of a stream, in a preallocated buffer (no growth)."""

    def __init__(self, size: int, channels: int) -> None:
        self.v = np.zeros((size, channels), dtype=np.float32)
        self.t = np.zeros(size, dtype=np.int64)
        self.count = 0  # valid samples, at most size
        self.total = 0  # samples ever appended (absolute index of the next one)

    def append(self, t: np.ndarray, v: np.ndarray) -> None:
        n, size = len(t), len(self.t)
        if n >= size:
            self.t[:], self.v[:] = t[-size:], v[-size:]
        elif n:
            self.t[:-n], self.v[:-n] = self.t[n:], self.v[n:]
            self.t[-n:], self.v[-n:] = t, v
        self.count = min(size, self.count + n)
        self.total += n

    @property
    def full(self) -> bool:
        return self.count == len(self.t)

    def reset(self) -> None:
        self.count = 0


def fall_input(imu: np.ndarray) -> np.ndarray:
    """(n, 6) imu at 100 Hz (m/s², rad/s) -> (n/2, 3) at 50 Hz, independent of mounting.

    Channels: |acc| in g, |gyro| / 2.5 rad/s, and the cosine between each acceleration and
    the mean direction of the window's first half second (a change of posture).
    """
    pairs = imu[: len(imu) // 2 * 2].reshape(-1, 2, imu.shape[1]).mean(axis=1)
    acc, gyro = pairs[:, :3], pairs[:, 3:6]
    amag = np.linalg.norm(acc, axis=1)
    ref = acc[:25].mean(axis=0)
    ref /= max(float(np.linalg.norm(ref)), 1e-6)
    cos = (acc @ ref) / np.maximum(amag, 1e-6)
    out = np.empty((len(pairs), 3), dtype=np.float32)
    out[:, 0] = np.minimum(amag / G, 4.0)
    out[:, 1] = np.minimum(np.linalg.norm(gyro, axis=1) / 2.5, 4.0)
    out[:, 2] = cos
    return out


def acc_spread_g(imu: np.ndarray) -> float:
    """Standard deviation of |acc| (g): how much the wearer moves, for "still"."""
    return float((np.linalg.norm(imu[:, :3], axis=1) / G).std())


class SpectrumBank:
    """Magnitude spectra at fixed heart-rate frequencies (a DFT by one matrix product)."""

    def __init__(self, n: int, rate_hz: float, freqs_hz: np.ndarray) -> None:
        t = np.arange(n) / rate_hz
        taper = np.hanning(n)
        self.basis = (np.exp(-2j * np.pi * np.outer(freqs_hz, t)) * taper).astype(np.complex64)
        self.n = n

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Spectrum of each column of (n, c), summed over columns, scaled to max 1."""
        x = x - x.mean(axis=0)
        ramp = np.linspace(-1.0, 1.0, len(x))[:, None]
        slope = (ramp * x).sum(axis=0) / (ramp * ramp).sum()
        x = x - ramp * slope  # remove a linear trend (baseline wander)
        mag = np.abs(self.basis @ x.astype(np.complex64)).sum(axis=1)
        peak = float(mag.max())
        return (mag / peak if peak > 0 else mag).astype(np.float32)


def _moving_average(x: np.ndarray, n: int) -> np.ndarray:
    c = np.cumsum(np.concatenate(([0.0], x)))
    out = (c[n:] - c[:-n]) / n
    pad = n // 2
    return np.concatenate((np.full(pad, out[0]), out, np.full(n - 1 - pad, out[-1])))


class QrsDetector:
    """Pan-Tompkins-style QRS detection over a buffer, with adaptive thresholds.

    Band-pass (difference of moving averages), derivative, square, 150 ms integration,
    then peaks above a threshold that tracks the recent signal and noise peak levels,
    with a search back at half threshold when a beat seems missed.
    """

    def __init__(self, rate_hz: float) -> None:
        self.fs = rate_hz
        self.refractory = round(0.25 * rate_hz)
        self.signal_level = 0.0
        self.noise_level = 0.0
        self.rr_mean = rate_hz * 0.8

    def filtered(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fs = self.fs
        lp = _moving_average(x, max(1, round(0.016 * fs)))
        band = lp - _moving_average(lp, max(2, round(0.2 * fs)))
        d = np.gradient(band)
        integ = _moving_average(d * d, max(2, round(0.15 * fs)))
        return band, integ

    def detect(self, x: np.ndarray) -> list[int]:
        """R-peak indices in ``x``."""
        if len(x) < self.fs:
            return []
        band, integ = self.filtered(x.astype(np.float64))
        half = round(0.2 * self.fs)
        # candidate peaks: maxima of their own +-200 ms neighbourhood
        padded = np.pad(integ, half, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
        cand = np.flatnonzero((windows.max(axis=1) == integ) & (integ > 0))
        if self.signal_level == 0.0:
            self.signal_level = float(np.percentile(integ, 99)) * 0.5
            self.noise_level = float(np.median(integ))
        peaks: list[int] = []
        last = -self.refractory
        candidates: list[int] = cand.tolist()
        for c in candidates:
            if c - last < self.refractory:
                continue
            threshold = self.noise_level + 0.25 * (self.signal_level - self.noise_level)
            if integ[c] >= threshold:
                if peaks and c - last > 1.66 * self.rr_mean:  # search back for a missed beat
                    between = [
                        b
                        for b in candidates
                        if last + self.refractory <= b <= c - self.refractory
                        and integ[b] >= 0.5 * threshold
                    ]
                    if between:
                        peaks.append(max(between, key=lambda b: integ[b]))
                        last = peaks[-1]
                peaks.append(c)
                if len(peaks) > 1:
                    self.rr_mean = 0.875 * self.rr_mean + 0.125 * (c - peaks[-2])
                self.signal_level = 0.875 * self.signal_level + 0.125 * float(integ[c])
                last = c
            else:
                self.noise_level = 0.875 * self.noise_level + 0.125 * float(integ[c])
        # the R wave: largest band-passed deflection within 100 ms of the energy peak
        w = round(0.1 * self.fs)
        out = []
        for p in peaks:
            lo, hi = max(0, p - w), min(len(band), p + w + 1)
            out.append(lo + int(np.argmax(np.abs(band[lo:hi]))))
        return out
