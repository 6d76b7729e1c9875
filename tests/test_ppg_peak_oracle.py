"""tools/data/ppg_peak_oracle.py: its own spectra give the runtime's nearest-peak bound,
and its motion canceller removes what the accelerometer explains."""

from __future__ import annotations

import numpy as np
from source_tools import tool_module

from fedwear.detect.models import load_detector
from fedwear.evaluate.ppg import evaluate_ppg
from fedwear.infer.card import models_dir
from fedwear.ingest.replay import bundled_recording


def test_the_tools_bound_on_the_runtimes_window_is_the_evaluations() -> None:
    """8 s at 64 Hz, as the runtime: the script's 1 BPM spectra and band-pass give the
    bound `fedwear eval ppg-hr` gives from the runtime's own spectra, within 1 BPM."""
    excerpt = bundled_recording()
    errors = tool_module("data/ppg_peak_oracle.py").oracle_errors(excerpt, 64.0, 8.0, nlms=False)
    means = {k: float(np.mean(v)) for k, v in errors.items()}
    assert means[5] <= means[3] <= means[1]
    det = load_detector("ppg_hr", {"imu": 100.0, "ppg": 64.0}, models_dir())
    overall = evaluate_ppg(excerpt.parent, lambda: det)["overall"]
    assert abs(len(errors[3]) - overall["windows"]) <= 2
    for k in (3, 5):
        assert abs(means[k] - overall[f"nearest_of_{k}_peaks_mae_bpm"]) < 1.0


def test_the_canceller_removes_the_motion_and_keeps_the_pulse() -> None:
    """A pulse at 90 BPM under three times its amplitude of arm swing at 144 BPM, which
    the accelerometer sees with another phase: after the canceller the largest peak is
    the pulse, before it the swing."""
    tool = tool_module("data/ppg_peak_oracle.py")
    hz = 64.0
    t = np.arange(int(60 * hz)) / hz
    swing = np.sin(2 * np.pi * 2.4 * t + 0.7)
    ppg = np.sin(2 * np.pi * 1.5 * t) + 3.0 * np.sin(2 * np.pi * 2.4 * t)
    cleaned = tool.nlms_cleaned(ppg, [swing, np.zeros_like(swing)])
    last = slice(-int(8 * hz), None)  # once the filter has adapted

    def largest_bpm(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x[last] * np.hanning(len(x[last]))))
        return float(np.fft.rfftfreq(len(x[last]), 1 / hz)[np.argmax(spectrum)] * 60)

    assert abs(largest_bpm(ppg) - 144) < 8
    assert abs(largest_bpm(cleaned) - 90) < 8
