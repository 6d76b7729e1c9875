"""Heart rate from wrist PPG under motion: spectra of PPG and accelerometer, a model that
says which spectral peak is the heart, and a tracker that keeps the rate continuous.

Arm swing and pedalling put peaks into the PPG spectrum at the motion's frequency and its
harmonics; the accelerometer's spectrum shows the same peaks, so the model (or, in the
classical baseline, a mask) can discount them. The model also sees the accelerometer's
spectrum at half and at twice each rate: a motion harmonic is a PPG peak at twice or
half a motion peak, which a small convolution over neighbouring rates cannot reach.
"""

from __future__ import annotations

__all__ = [
    "ACC_MULTIPLES",
    "HR_BINS_BPM",
    "PLAIN_PEAK",
    "SPECTRA_CHANNELS",
    "HeartRateTracker",
    "WristSpectra",
    "largest_peaks",
    "spectra_input",
]

from collections import deque
from collections.abc import Callable

import numpy as np

from .features import History, SpectrumBank

HR_BINS_BPM = np.linspace(30.0, 219.0, 64)  # 3 BPM apart
WINDOW_S = 8.0
HOP_S = 2.0
# The accelerometer's spectrum at these multiples of each rate: channels 1, 2, 3 of the
# input. Channel 0 is the PPG's spectrum at the rate itself.
ACC_MULTIPLES = (1.0, 0.5, 2.0)
SPECTRA_CHANNELS = 1 + len(ACC_MULTIPLES)
# A PPG peak at least this fraction of the spectrum's largest is a plain one: the tracker
# reports it, and training moves it (tools/train/ppg_hr.py, moved_hearts).
PLAIN_PEAK = 0.3


def spectra_input(ppg_spec: np.ndarray, *acc_specs: np.ndarray) -> np.ndarray:
    """(64, SPECTRA_CHANNELS): the PPG's spectrum, then the accelerometer's at ACC_MULTIPLES."""
    return np.stack((ppg_spec, *acc_specs), axis=1).astype(np.float32)


class WristSpectra:
    """Every 2 s of PPG gives one (64, 4) spectra input over the last 8 s of PPG and IMU.

    The two streams arrive in chunks of their own (a fast replay can run one stream many
    seconds ahead of the other), so PPG steps wait in a short queue until the IMU has
    reached their end time, and the IMU window is picked by timestamp, not by position.
    """

    def __init__(self, ppg_rate_hz: float, imu_rate_hz: float, skew_s: float = 24.0) -> None:
        self.ppg = History(round(WINDOW_S * ppg_rate_hz), 1)
        self.imu = History(round((WINDOW_S + skew_s) * imu_rate_hz), 6)
        self.imu_n = round(WINDOW_S * imu_rate_hz)
        freqs = HR_BINS_BPM / 60.0
        self.ppg_bank = SpectrumBank(len(self.ppg.t), ppg_rate_hz, freqs)
        self.acc_banks = [SpectrumBank(self.imu_n, imu_rate_hz, m * freqs) for m in ACC_MULTIPLES]
        self.hop = round(HOP_S * ppg_rate_hz)
        self.imu_step_ns = 1e9 / imu_rate_hz
        self.max_queue = round(skew_s / HOP_S)
        self.flagged = 0
        self.reset()

    def reset(self) -> None:
        self.ppg.reset()
        self.imu.reset()
        self._since = 0
        self._queue: deque[tuple[int, np.ndarray]] = deque()

    def push_imu(self, t: np.ndarray, v: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        self.imu.append(t, v)
        return self._drain()

    def push_ppg(self, t: np.ndarray, v: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(t_ns at the window's end, spectra input, imu window) for each step now ready."""
        step = self.hop
        for i in range(0, len(t), step):
            self.ppg.append(t[i : i + step], v[i : i + step])
            self._since += len(t[i : i + step])
            if self._since < self.hop or not self.ppg.full:
                continue
            self._since = 0
            if not np.all(np.isfinite(self.ppg.v)):
                self.flagged += 1
                continue
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.flagged += 1
            self._queue.append((int(self.ppg.t[-1]), self.ppg_bank(self.ppg.v)))
        return self._drain()

    def _drain(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        out = []
        h = self.imu
        while self._queue and h.count and h.t[-1] >= self._queue[0][0]:
            t_end, ppg_spec = self._queue.popleft()
            times = h.t[len(h.t) - h.count :]
            j = int(np.searchsorted(times, t_end, side="right"))
            imu = h.v[len(h.t) - h.count :][j - self.imu_n : j]
            if not h.full and times[0] > t_end - self.imu_n * self.imu_step_ns:
                continue  # the IMU began under 8 s before this step: a warm-up, no fault
            # The IMU window must reach the step's end: its samples must cover the last
            # 8 s with at most 2 s missing, or its spectrum describes other motion.
            span = t_end - times[j - self.imu_n] if j >= self.imu_n else 0
            if j < self.imu_n or span > 1.25 * self.imu_n * self.imu_step_ns:
                self.flagged += 1  # not enough IMU, or a gap in it
                continue
            if not np.all(np.isfinite(imu)):
                self.flagged += 1
                continue
            acc_specs = (bank(imu[:, :3]) for bank in self.acc_banks)
            out.append((t_end, spectra_input(ppg_spec, *acc_specs), imu))
        return out


class HeartRateTracker:
    """A forward filter over the heart-rate bins: the rate carried from step to step.

    Each step the belief over HR_BINS_BPM diffuses by ``step_bpm`` per 2 s (how fast a
    heart rate changes) and is weighed by the model's likelihood raised to HOP_S/WINDOW_S:
    the 8 s windows overlap, so each PPG sample is in four of them, and the exponent
    counts its evidence once. A belief kept over many steps is not pulled onto a motion
    peak that one window favours, as a choice made afresh from the last rate was.

    Given the PPG's spectrum too, the rate reported is that spectrum's largest peak
    within one spread of the filter's rate, where that peak is plain (PLAIN_PEAK): the
    likelihood says which peak is the heart but is blurred (3 BPM bins, trained on targets
    3 BPM wide), the PPG's own peak is sharper. The belief itself stays the filter's.
    """

    EVIDENCE = HOP_S / WINDOW_S
    LIKELIHOOD_FLOOR = 1.0 / 256.0  # one step of the int8 model's output

    def __init__(
        self, spread_bpm: float = 12.0, forget_s: float = 20.0, step_bpm: float = 4.0
    ) -> None:
        self.spread = spread_bpm
        self.forget_ns = int(forget_s * 1e9)
        self.step_bpm = step_bpm
        self._hop_kernel = _diffusion(step_bpm)
        self.reset()

    def reset(self) -> None:
        self.bpm: float | None = None
        self._t = 0
        self._belief: np.ndarray | None = None

    def update(
        self, t_ns: int, likelihood: np.ndarray, ppg_spectrum: np.ndarray | None = None
    ) -> tuple[float, float]:
        """(bpm, confidence 0..1) for this step; ``ppg_spectrum`` over HR_BINS_BPM.

        The confidence is the belief's share at its most likely bin."""
        evidence = np.maximum(likelihood.astype(np.float64), 0.0)
        if not np.all(np.isfinite(evidence)) or not evidence.any():
            return (self.bpm or 0.0), 0.0
        evidence = np.maximum(evidence / evidence.sum(), self.LIKELIHOOD_FLOOR) ** self.EVIDENCE
        belief = self._carried(t_ns)
        p = evidence if belief is None else belief * evidence
        p /= p.sum()
        k = int(np.argmax(p))
        lo, hi = max(0, k - 1), min(len(p), k + 2)
        bpm = float((HR_BINS_BPM[lo:hi] * p[lo:hi]).sum() / p[lo:hi].sum())
        if ppg_spectrum is not None:
            bpm = peak_near(ppg_spectrum, bpm, self.spread)
        self._belief, self.bpm, self._t = p, bpm, t_ns
        return bpm, float(p[k])

    def _carried(self, t_ns: int) -> np.ndarray | None:
        """The last belief moved on to ``t_ns``; None after a gap of ``forget_s`` or more."""
        if self._belief is None or t_ns - self._t >= self.forget_ns:
            return None
        hops = max(t_ns - self._t, 0) / (HOP_S * 1e9)
        kernel = self._hop_kernel if hops <= 1.0 else _diffusion(self.step_bpm * np.sqrt(hops))
        return kernel @ self._belief


def _diffusion(sigma_bpm: float) -> np.ndarray:
    """Column-stochastic: column j is where a rate in bin j may be one step later."""
    d = HR_BINS_BPM[:, None] - HR_BINS_BPM[None, :]
    kernel = np.exp(-0.5 * (d / sigma_bpm) ** 2)
    return kernel / kernel.sum(axis=0, keepdims=True)


def peak_near(spectrum: np.ndarray, bpm: float, within_bpm: float) -> float:
    """The rate of ``spectrum``'s largest value within ``within_bpm`` of ``bpm``, placed
    between bins by a parabola through it and its neighbours; ``bpm`` itself where that
    value is under PLAIN_PEAK of the spectrum's largest (no heart there to sharpen), or
    where the spectrum is flat zero (no pulse at all)."""
    near = np.flatnonzero(np.abs(HR_BINS_BPM - bpm) <= within_bpm)
    if len(near) == 0:
        return bpm
    j = int(near[np.argmax(spectrum[near])])
    if not spectrum[j] > 0 or not spectrum[j] >= PLAIN_PEAK * float(spectrum.max()):
        return bpm
    return _between_bins(spectrum, j)


def largest_peaks(
    spectrum: np.ndarray, count: int, rates: np.ndarray = HR_BINS_BPM
) -> tuple[float, ...]:
    """The rates of ``spectrum``'s ``count`` largest local maxima, largest first, each
    placed between bins as ``peak_near`` places it: the choices a reader of this spectrum
    has. `fedwear eval ppg-hr` scores the nearest of them to the true rate, the best any
    estimator that reports a PPG peak could do. A flat stretch is one maximum; a flat
    zero spectrum has none. ``rates``: the spectrum's, evenly spaced."""
    inner = spectrum[1:-1]
    local = np.flatnonzero((inner > spectrum[:-2]) & (inner >= spectrum[2:])) + 1
    top = local[np.argsort(-spectrum[local], kind="stable")][:count]
    return tuple(_between_bins(spectrum, int(j), rates) for j in top)


def _between_bins(spectrum: np.ndarray, j: int, rates: np.ndarray = HR_BINS_BPM) -> float:
    """Bin ``j``'s rate, moved by at most half a bin to the top of a parabola through it
    and its neighbours."""
    if j == 0 or j == len(rates) - 1:
        return float(rates[j])
    left, mid, right = (float(v) for v in spectrum[j - 1 : j + 2])
    curve = left - 2.0 * mid + right
    shift = 0.5 * (left - right) / curve if curve < 0 else 0.0
    step = float(rates[1] - rates[0])
    return float(rates[j] + step * min(max(shift, -0.5), 0.5))


def classical_likelihood(spec: np.ndarray) -> np.ndarray:
    """The baseline: PPG spectrum with the bins where the accelerometer peaks masked."""
    ppg, acc = spec[:, 0], spec[:, 1]
    return np.where(acc > 0.5, 0.1 * ppg, ppg) ** 2


Likelihood = Callable[[np.ndarray], np.ndarray]
