"""The heart-rate tracker: a forward filter over the likelihoods, the rate from the PPG's peak."""

from __future__ import annotations

import numpy as np

from fedwear.infer.features import SpectrumBank
from fedwear.infer.heart import HR_BINS_BPM, WINDOW_S, HeartRateTracker, largest_peaks

PPG_HZ = 64.0


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


STEP_NS = 2_000_000_000


def _settled_at(bpm: float, steps: int = 10) -> HeartRateTracker:
    tracker = HeartRateTracker()
    for k in range(steps):
        tracker.update(k * STEP_NS, _likelihood_at(bpm, 3.0))
    return tracker


def test_of_two_equal_bumps_the_one_nearer_the_belief_wins() -> None:
    """The belief is the filter's own: a sharpened report does not move it."""
    sharpened, plain = HeartRateTracker(), HeartRateTracker()
    sharpened.update(0, _likelihood_at(100.0), _ppg_spectrum(109.0))
    plain.update(0, _likelihood_at(100.0))
    two = _likelihood_at(91.0, 3.0) + _likelihood_at(118.0, 3.0)
    after_sharpened, after_plain = sharpened.update(STEP_NS, two), plain.update(STEP_NS, two)
    assert after_plain[0] < 100.0
    assert after_sharpened == after_plain


def test_one_window_on_another_peak_does_not_move_the_rate() -> None:
    tracker = _settled_at(100.0)
    bpm, _ = tracker.update(10 * STEP_NS, _likelihood_at(140.0, 3.0))
    assert abs(bpm - 100.0) < 3.0


def test_a_lasting_change_of_rate_is_followed() -> None:
    tracker = _settled_at(100.0)
    rates = [tracker.update(k * STEP_NS, _likelihood_at(140.0, 3.0))[0] for k in range(10, 22)]
    assert abs(rates[0] - 100.0) < 3.0
    assert abs(rates[-1] - 140.0) < 3.0


def test_a_longer_step_lets_the_rate_move_further() -> None:
    """The belief diffuses with the time since the last step, not per call."""
    after_one, after_five = _settled_at(100.0), _settled_at(100.0)
    near = _likelihood_at(115.0, 3.0)
    one, _ = after_one.update(10 * STEP_NS, near)
    five, _ = after_five.update(14 * STEP_NS, near)
    assert five > one + 5.0


def test_after_a_long_gap_the_filter_starts_afresh() -> None:
    tracker = _settled_at(100.0)
    bpm, _ = tracker.update(9 * STEP_NS + int(tracker.forget_ns), _likelihood_at(150.0, 3.0))
    assert abs(bpm - 150.0) < 2.0


def test_a_likelihood_with_nothing_in_it_leaves_the_belief() -> None:
    """All zeros or NaN (a broken model output): the last rate, no confidence, and the
    next step as if that one had not come."""
    hit, spared = _settled_at(100.0), _settled_at(100.0)
    for bad in (np.zeros(len(HR_BINS_BPM), np.float32), np.full(len(HR_BINS_BPM), np.nan)):
        bpm, confidence = hit.update(10 * STEP_NS, bad)
        assert (bpm, confidence) == (spared.bpm, 0.0)
    assert hit.update(11 * STEP_NS, _likelihood_at(110.0)) == spared.update(
        11 * STEP_NS, _likelihood_at(110.0)
    )


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


def test_largest_peaks_are_the_spectrums_maxima_largest_first_between_bins() -> None:
    t = np.arange(int(WINDOW_S * PPG_HZ)) / PPG_HZ
    bank = SpectrumBank(len(t), PPG_HZ, HR_BINS_BPM / 60.0)
    pulse = 1.0 * np.sin(2 * np.pi * 71.5 / 60.0 * t) + 0.5 * np.sin(2 * np.pi * 143.0 / 60.0 * t)
    peaks = largest_peaks(bank(pulse[:, None]), 5)
    assert len(peaks) == 5
    assert abs(peaks[0] - 71.5) < 0.5 and abs(peaks[1] - 143.0) < 0.5
    assert largest_peaks(bank(pulse[:, None]), 1) == peaks[:1]


def test_a_flat_spectrum_has_no_peaks_and_a_plateau_is_one() -> None:
    assert largest_peaks(np.zeros(len(HR_BINS_BPM)), 3) == ()
    plateau = np.zeros(len(HR_BINS_BPM))
    plateau[20:23] = 1.0
    (peak,) = largest_peaks(plateau, 3)
    assert HR_BINS_BPM[20] <= peak <= HR_BINS_BPM[22]
