"""The pipeline hands every sample of a recording to the detectors exactly once."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fedwear.config import load_config
from fedwear.detect.base import Detector, Event, Window
from fedwear.ingest.recordings import read_recording
from fedwear.ingest.replay import ReplaySource, bundled_recording
from fedwear.pipeline import run_pipeline


class SeenSamples(Detector):
    """Keeps the timestamps of each window's new frames, as streaming detectors read them,
    and checks that every window has the configured size."""

    name = "seen"

    def __init__(self, streams: frozenset[str], sizes: dict[str, int]) -> None:
        self.streams = streams
        self.sizes = sizes
        self.seen: dict[str, list[np.ndarray]] = {s: [] for s in streams}
        self.resets = 0

    def on_window(self, window: Window) -> list[Event]:
        assert len(window.t) == self.sizes[window.stream]
        assert 0 < window.hop <= len(window.t)
        assert np.all(np.diff(window.t) > 0)
        self.seen[window.stream].append(window.t[-window.hop :].copy())
        return []

    def reset(self) -> None:
        self.resets += 1


def replay(path: Path, window_s: float, hop_s: float) -> tuple[SeenSamples, dict[str, float]]:
    config = load_config(overrides={"window.seconds": window_s, "window.hop_seconds": hop_s})
    rates = config.stream_rates()
    source = ReplaySource(path, rates, realtime=False)
    specs = source.streams()
    sizes = {name: max(2, round(window_s * spec.rate_hz)) for name, spec in specs.items()}
    seen = SeenSamples(frozenset(specs), sizes)
    run_pipeline(config, source, [seen], [])
    return seen, rates


@pytest.mark.parametrize("suffix", [".hea", ".dat", ".atr"])
def test_a_wfdb_record_replays_from_any_of_its_files(data_dir: Path, suffix: str) -> None:
    """read_recording takes a record by any of its files; the replay knew only .hea and
    gave the others no streams: 0 samples, and exit code 0."""
    pytest.importorskip("wfdb")
    seen, _ = replay((data_dir / "mitbih" / "119_60s").with_suffix(suffix), 4.0, 1.0)
    assert set(seen.seen) == {"ecg", "hr"}
    assert sum(len(t) for t in seen.seen["ecg"]) > 10_000


@pytest.mark.parametrize(("window_s", "hop_s"), [(4.0, 1.0), (3.0, 0.7), (2.0, 2.0)])
def test_every_sample_reaches_the_detectors_once(window_s: float, hop_s: float) -> None:
    path = bundled_recording()
    seen, rates = replay(path, window_s, hop_s)
    recording = read_recording(path, rates)
    assert set(recording.streams) == set(seen.seen) == {"imu", "ppg", "ecg", "hr"}
    for name, (t, _) in recording.streams.items():
        got = np.concatenate(seen.seen[name])
        # the recording's last frames too, though fewer than a hop
        np.testing.assert_array_equal(got, t, err_msg=name)


def test_each_recording_of_a_folder_ends_with_its_last_sample(tmp_path: Path) -> None:
    bundled = bundled_recording()
    for name in ("a", "b"):
        shutil.copy(bundled, tmp_path / f"{name}.edf")
        shutil.copy(bundled.with_suffix(".txt"), tmp_path / f"{name}.txt")  # its beats: hr
    # 120 s of recording: a hop of 0.7 s leaves 0.4 s after the last full window
    seen, rates = replay(tmp_path, 4.0, 0.7)
    recording = read_recording(bundled_recording(), rates)
    assert seen.resets >= 2  # a new segment per recording
    assert set(recording.streams) == set(seen.seen) == {"imu", "ppg", "ecg", "hr"}
    for name, (t, _) in recording.streams.items():
        got = np.concatenate(seen.seen[name])
        assert len(got) == 2 * len(t), name
        np.testing.assert_array_equal(got[: len(t)], t)
        np.testing.assert_array_equal(got[len(t) :] - got[len(t)], t - t[0])
