"""The training recipes' numpy parts (tools/train/beats.py, ppg_hr.py): no TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from training_tools import use_training_tools

use_training_tools()

import beats  # noqa: E402

pytestmark = pytest.mark.host

N, S, V = (beats.LABELS[c] for c in ("N", "S", "V"))


def test_a_record_with_a_hundred_times_the_beats_weighs_ten_times_not_a_hundred() -> None:
    y = np.array([N] * 400 + [V] * 100 + [V] * 1)
    record = np.array(["a"] * 200 + ["b"] * 200 + ["a"] * 100 + ["b"])
    w = beats.beat_weights(y, record)
    in_a, in_b = (y == V) & (record == "a"), (y == V) & (record == "b")
    assert beats.RECORD_BALANCE == 0.5
    assert w[in_a].sum() / w[in_b].sum() == pytest.approx(100**0.5)


def test_each_class_keeps_its_class_weight_on_average() -> None:
    y = np.array([N] * 800 + [S] * 30 + [S] * 3 + [V] * 90 + [V] * 10)
    record = np.array(["a"] * 400 + ["b"] * 400 + ["a"] * 30 + ["b"] * 3 + ["a"] * 90 + ["b"] * 10)
    w = beats.beat_weights(y, record)
    for c, n in ((N, 800), (S, 33), (V, 100)):
        assert w[y == c].mean() == pytest.approx((800 / n) ** 0.75)
    # Records with equal counts (N) weigh alike, so nothing moves within N.
    assert np.allclose(w[y == N], 1.0)


def test_a_class_missing_from_the_training_records_leaves_the_others_finite() -> None:
    y = np.array([N] * 50 + [V] * 5)
    record = np.array(["a"] * 50 + ["b"] * 5)
    w = beats.beat_weights(y, record)
    assert np.isfinite(w).all() and (w > 0).all()
    assert w[y == V].mean() == pytest.approx(10**0.75)


def test_aberrated_atrial_beats_are_scored_but_not_trained_on() -> None:
    """An "a" beat is S by AAMI's grouping but has a ventricular-looking QRS: it keeps its
    class for scoring and gets no training label, like unmatched, F and Q beats."""
    from fedwear.evaluate.references import MitbihReference

    symbols = ["N", "a", "A", "V", "f", "N"]
    ref = MitbihReference(
        times=np.arange(6.0),
        classes=["N", "S", "S", "V", "Q", "N"],
        symbols=symbols,
        flutter=np.zeros((0, 2)),
        fibrillation=np.zeros((0, 2)),
        duration_s=6.0,
    )
    match = np.array([0, 1, 2, 3, 4, -1])  # the last reference beat went undetected
    labels = beats.training_labels(ref, match, 6)
    assert labels.tolist() == [N, -1, S, V, -1, -1]


def test_the_second_lead_trains_as_records_of_its_own_at_its_lead_weight() -> None:
    """Both leads of a record go into training; the second lead's beats weigh
    SECOND_LEAD_WEIGHT and are balanced as another record, so they neither double the
    first lead's record count nor take its place."""

    def rec(n: int, label: int) -> dict[str, np.ndarray]:
        y = np.full(n, label)
        y[0] = -1  # unlabelled beats stay out, on either lead
        return {"x": np.full((n, 3), float(label)), "y": y}

    recs = {"a": rec(5, N), "b": rec(3, V)}
    seconds = {"a": rec(4, N), "b": rec(2, V)}
    x, y, record, lead_weight = beats.training_set(recs, seconds, ["a", "b"])
    assert y.tolist() == [N] * 4 + [V] * 2 + [N] * 3 + [V]
    assert record.tolist() == ["a"] * 4 + ["b"] * 2 + ["a/second"] * 3 + ["b/second"]
    assert beats.SECOND_LEAD_WEIGHT == 0.3
    assert lead_weight.tolist() == [1.0] * 6 + [0.3] * 4
    assert x.shape == (10, 3)
    # A record with one lead trains on that lead alone.
    _, y, record, lead_weight = beats.training_set(recs, {"a": seconds["a"]}, ["a", "b"])
    assert record.tolist() == ["a"] * 4 + ["b"] * 2 + ["a/second"] * 3
    assert lead_weight.tolist() == [1.0] * 6 + [0.3] * 3


@pytest.mark.parametrize(
    ("recording", "rules"),
    [
        # Chest ECG while walking: the gate, the marginal-fit bar for V, families, and
        # V calls on intervals alone refused.
        ("wristppg/edf/s2_walk.edf", {"N", "V", "Q", "marginal bar", "V evidence"}),
        # Runs of V beats that close the gate, and V beats called under it.
        ("mitbih/223.hea", {"N", "S", "V", "Q", "gated V"}),
        # Atrial fibrillation and flutter between frequent V beats: the rhythm check; and
        # frequent atrial ectopy in sinus rhythm, where the P waves veto it.
        ("mitbih/201.hea", {"N", "S", "V", "fibrillation check", "P-wave veto", "V evidence"}),
    ],
)
def test_the_card_scores_the_labels_the_detector_gives(
    shared_data: Path, recording: str, rules: set[str]
) -> None:
    """The card's figures come from `beats.detector_labels`, which must give each beat the
    label `BeatDetector` gives it in `fedwear eval` (the runtime's pipeline, to the
    recording's last sample), on recordings where every rule acts."""
    from fedwear.config import Config
    from fedwear.detect.models import load_detector
    from fedwear.evaluate.runner import run_recording
    from fedwear.infer.card import models_dir
    from fedwear.ingest.recordings import read_recording

    path = shared_data / recording
    config = Config()
    assert config.stream_rates()["ecg"] == beats.RATE_HZ
    det = load_detector("beats", config.stream_rates(), models_dir())
    det.record_beats = True
    run_recording(path, config, [det])
    t, v = read_recording(path, {"ecg": beats.RATE_HZ}).streams["ecg"]
    rec = beats.beat_arrays(beats.tracked_beats(t, v))

    def predict(x: np.ndarray) -> np.ndarray:
        return np.stack([det.model.run(row)[0].reshape(-1).copy() for row in x])

    labels = beats.detector_labels(rec, predict)
    assert labels == [c for _, c in det.beats]
    gated = rec["q"] < beats.THRESHOLDS["min_template_fit"]
    marginal = ~gated & (rec["q"] < beats.THRESHOLDS["marginal_template_fit"])
    before = np.array(beats.detector_labels(rec, predict, noise_rules=False))
    acted = set(labels)
    if "V" in np.array(labels)[gated]:
        acted.add("gated V")
    if (np.array(labels)[marginal] != before[marginal]).any():
        acted.add("marginal bar")
    if labels != beats.detector_labels(rec, predict, rhythm=False):
        acted.add("fibrillation check")
    if labels != beats.detector_labels(rec, predict, p_waves=False):
        acted.add("P-wave veto")
    if labels != beats.detector_labels(rec, predict, v_evidence=False):
        acted.add("V evidence")
    assert rules <= acted


def test_false_ventricular_counts_v_beats_and_each_run_once() -> None:
    pattern = "NVVVNVVNVVVVVN"
    rng = np.random.default_rng(0)
    n = len(pattern)
    rec = {
        "x": np.zeros((n, beats.BEAT_INPUT_SIZE), np.float32),
        "shape": rng.normal(size=(n, beats.SEGMENT_SIZE)),  # unlike each other: no families
        "q": np.full(n, 0.95),
        "own_fit": np.full(n, 0.95),
        "premature": np.zeros(n, bool),
        "det_s": 0.8 * np.arange(n),
    }
    probs = np.array([[0.05, 0.05, 0.9] if c == "V" else [0.9, 0.05, 0.05] for c in pattern])
    counts = beats.false_ventricular({"walk": rec}, lambda x: probs)
    assert counts == {"false_v_beats": 10, "false_ventricular_runs": 2}


def test_augmented_beats_move_and_scale_within_bounds_and_keep_their_rr_features(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each beat's difference from the template is shifted by at most AUGMENT_SHIFT
    samples and scaled within AUGMENT_SCALE either way; the RR features and the caller's
    array stay as they were."""
    monkeypatch.setattr(beats, "AUGMENT_NOISE", 0.0)
    n, peak = 400, 40
    x = np.zeros((n, beats.BEAT_INPUT_SIZE), np.float32)
    x[:, peak] = 1.0
    x[:, beats.SEGMENT_SIZE :] = np.linspace(-1, 1, beats.BEAT_INPUT_SIZE - beats.SEGMENT_SIZE)
    original = x.copy()
    out = beats.augmented(x, np.random.default_rng(0))
    assert np.array_equal(x, original)
    assert np.array_equal(out[:, beats.SEGMENT_SIZE :], x[:, beats.SEGMENT_SIZE :])
    seg = out[:, : beats.SEGMENT_SIZE]
    moved = seg.argmax(axis=1) - peak
    assert set(moved.tolist()) == set(range(-beats.AUGMENT_SHIFT, beats.AUGMENT_SHIFT + 1))
    height = seg.max(axis=1)
    assert (height >= 1 / beats.AUGMENT_SCALE - 1e-6).all()
    assert (height <= beats.AUGMENT_SCALE + 1e-6).all()
    assert height.max() - height.min() > 0.3  # scaled, not left alone
    assert np.count_nonzero(seg, axis=1).tolist() == [1] * n  # moved, not smeared


def test_augmented_beats_are_noisy_clipped_and_the_same_for_the_same_seed() -> None:
    x = np.zeros((200, beats.BEAT_INPUT_SIZE), np.float32)
    x[:, 10] = 3.0
    a = beats.augmented(x, np.random.default_rng(7))
    b = beats.augmented(x, np.random.default_rng(7))
    assert np.array_equal(a, b)
    seg = a[:, : beats.SEGMENT_SIZE]
    assert np.abs(seg).max() <= 3.0
    quiet = np.delete(seg, np.s_[10 - beats.AUGMENT_SHIFT : 11 + beats.AUGMENT_SHIFT], axis=1)
    assert quiet.std() == pytest.approx(beats.AUGMENT_NOISE, rel=0.05)
    assert not np.array_equal(a, beats.augmented(x, np.random.default_rng(8)))


def test_the_card_ties_the_heart_to_the_motion_by_the_median_ratio() -> None:
    import ppg_hr

    bins = ppg_hr.HR_BINS_BPM
    spectra = np.zeros((3, len(bins), ppg_hr.SPECTRA_CHANNELS), np.float32)
    motion = [60.0, 60.0, 90.0]  # the accelerometer's strongest rate in each window
    for window, rate in zip(spectra, motion, strict=True):
        window[int(np.argmin(np.abs(bins - rate))), 1] = 1.0
    refs = np.array([120.0, 150.0, 90.0])  # ratios 2, 2.5 and 1
    assert ppg_hr.heart_to_motion(spectra, refs) == pytest.approx(2.0)


def test_a_moved_heart_copy_moves_the_pulse_peak_and_keeps_the_motion() -> None:
    import ppg_hr

    bins = ppg_hr.HR_BINS_BPM
    x = np.zeros((2, len(bins), ppg_hr.SPECTRA_CHANNELS), np.float32)
    heart, motion = int(np.argmin(np.abs(bins - 120.0))), int(np.argmin(np.abs(bins - 60.0)))
    x[0, heart, 0] = 1.0  # window 0: the heart plain at 120 BPM
    x[0, motion, 0] = 0.8  # and the motion's peak in the PPG at 60
    x[0, motion, 1] = 1.0
    x[1, motion, 0] = 1.0  # window 1: only the motion; its heart (150) is not in the PPG
    bpm = np.array([bins[heart], 150.0])
    moved, rates = ppg_hr.moved_hearts(x, bpm, np.random.default_rng(0), copies=4)
    assert len(moved) == 4  # window 1 is never copied
    assert set(rates) <= set(bpm)
    for window, rate in zip(moved, rates, strict=True):
        ppg = window[:, 0]
        assert bins[int(np.argmax(ppg))] == pytest.approx(rate, abs=1.5)
        assert ppg.max() == pytest.approx(1.0)
        assert ppg[motion] == pytest.approx(0.8, abs=0.01)  # the motion stays where it was
        np.testing.assert_array_equal(window[:, 1:], x[0, :, 1:])
    assert 150.0 in rates  # the seed draws both rates in four copies
