"""The heart-rate tracker: continuity from the likelihoods, the rate from the PPG's peak."""

from __future__ import annotations

import numpy as np

from fedwear.infer.features import SpectrumBank
from fedwear.infer.heart import HR_BINS_BPM, HeartRateTracker

PPG_HZ, WINDOW_S = 64.0, 8.0


def _likelihood_at(bpm: float, width_bpm: float = 6.0) -> np.ndarray:
    p = np.exp(-0.5 * ((HR_BINS_BPM - bpm) / width_bpm) ** 2)
    return (p / p.sum()).astype(np.float32)


def _ppg_spectrum(bpm: float) -> np.ndarray:
    """The runtime's spectrum of 8 s of a pulse at ``bpm`` (between two bins or on one)."""
    t = np.arange(int(WINDOW_S * PPG_HZ)) / PPG_HZ
    bank = SpectrumBank(len(t), PPG_HZ, HR_BINS_BPM / 60.0)
    return bank(np.sin(2 * np.pi * bpm / 60.0 * t)[:, None])


def test_the_reported_rate_is_the_ppg_peak_near_the_tracked_rate() -> None:
    tracker = HeartRateTracker()
    bpm, _ = tracker.update(0, _likelihood_at(100.0), _ppg_spectrum(107.5))
    assert abs(bpm - 107.5) < 0.5  # between bins 105 and 108, not at either
    assert tracker.bpm == bpm


def test_continuity_centres_on_the_rate_reported() -> None:
    """A likelihood with two equal bumps: the one nearer the last reported rate wins."""
    sharpened, plain = HeartRateTracker(), HeartRateTracker()
    sharpened.update(0, _likelihood_at(100.0), _ppg_spectrum(109.0))
    plain.update(0, _likelihood_at(100.0))
    two = _likelihood_at(91.0, 3.0) + _likelihood_at(118.0, 3.0)
    assert sharpened.update(2_000_000_000, two)[0] > 110.0
    assert plain.update(2_000_000_000, two)[0] < 100.0


def test_a_ppg_peak_beyond_one_spread_is_not_reported() -> None:
    tracker = HeartRateTracker()
    bpm, _ = tracker.update(0, _likelihood_at(100.0), _ppg_spectrum(150.0))
    assert abs(bpm - 100.0) <= tracker.spread + 1.5  # half a bin of interpolation


def test_without_a_spectrum_the_tracked_rate_is_reported() -> None:
    with_peak, without = HeartRateTracker(), HeartRateTracker()
    for k, rate in enumerate((100.0, 103.0, 101.0)):
        a = with_peak.update(k * 2_000_000_000, _likelihood_at(rate), _ppg_spectrum(110.0))
        b = without.update(k * 2_000_000_000, _likelihood_at(rate))
        assert a[0] != b[0]
        assert (with_peak.bpm, without.bpm) == (a[0], b[0])


def test_a_faint_ppg_peak_is_not_taken_for_the_heart() -> None:
    """No plain peak near the tracked rate (the heart hidden under motion): the tracked
    rate stands rather than a faint PPG bump."""
    spectrum = 0.2 * _ppg_spectrum(107.5) + _ppg_spectrum(170.0)
    tracker = HeartRateTracker()
    bpm, _ = tracker.update(0, _likelihood_at(100.0), spectrum / spectrum.max())
    assert bpm == tracker.bpm
    assert abs(bpm - 100.0) < 1.5


def test_a_plain_heart_beside_a_stronger_motion_peak_is_reported() -> None:
    spectrum = 0.5 * _ppg_spectrum(107.5) + _ppg_spectrum(170.0)
    bpm, _ = HeartRateTracker().update(0, _likelihood_at(100.0), spectrum / spectrum.max())
    assert abs(bpm - 107.5) < 0.5


def test_a_ppg_without_a_pulse_leaves_the_tracked_rate() -> None:
    """A flat PPG (sensor off the skin) has an all-zero spectrum: nothing to sharpen."""
    tracker = HeartRateTracker()
    bpm, _ = tracker.update(0, _likelihood_at(100.0), np.zeros(len(HR_BINS_BPM), np.float32))
    assert abs(bpm - 100.0) < 1.5
