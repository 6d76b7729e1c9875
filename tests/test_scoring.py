"""EC57 beat scoring: what counts, and the reference's ventricular flutter left out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fedwear.evaluate.scoring import aami_stats, class_scores, confusion, curve_points


def test_matches_misses_and_extra_detections() -> None:
    ref_s, ref_cls = np.array([1.0, 2.0, 3.0]), ["N", "V", "N"]
    det_s, det_cls = np.array([1.05, 2.1, 2.5]), ["N", "V", "V"]
    counts = confusion(ref_cls, ref_s, det_s, det_cls)
    assert counts == {("N", "N"): 1, ("V", "V"): 1, ("N", "-"): 1, ("-", "V"): 1}
    v = aami_stats(counts)["V"]
    assert (v["se"], v["ppv"]) == (100.0, 50.0)


def test_detections_in_ventricular_flutter_are_not_counted() -> None:
    """EC57's comparator (bxb) counts no beat inside a reference flutter episode: the
    annotators label flutter waves, not beats, so a detector's "beats" there are
    neither right nor wrong."""
    ref_s, ref_cls = np.array([1.0, 2.0, 5.0]), ["N", "N", "V"]
    det_s = np.array([1.0, 2.0, 3.0, 3.3, 3.6, 5.0])
    det_cls = ["N", "N", "V", "V", "V", "V"]
    plain = confusion(ref_cls, ref_s, det_s, det_cls)
    assert plain[("-", "V")] == 3
    flutter = np.array([[2.5, 4.0]])
    counts = confusion(ref_cls, ref_s, det_s, det_cls, excluded=flutter)
    assert counts == {("N", "N"): 2, ("V", "V"): 1}
    # The learning period and the flutter episodes combine.
    late = confusion(ref_cls, ref_s, det_s, det_cls, from_s=1.5, excluded=flutter)
    assert late == {("N", "N"): 1, ("V", "V"): 1}


def test_mitbih_reference_reads_flutter_episodes(write_wfdb: Callable[..., Path]) -> None:
    from fedwear.evaluate.references import mitbih_reference

    marks = [(1.0, "L"), (2.0, "V"), (3.0, "["), (3.2, "!"), (3.5, "!"), (4.0, "]")]
    marks += [(5.0, "N"), (8.0, "["), (8.4, "!")]  # the record ends in flutter
    flat = np.zeros((10 * 250, 1))
    ref = mitbih_reference(write_wfdb("vf", flat, [(t, m, "") for t, m in marks]))
    assert ref.times.tolist() == [1.0, 2.0, 5.0]
    assert ref.classes == ["N", "V", "N"]
    assert ref.symbols == ["L", "V", "N"]  # the annotation's own codes beside the classes
    assert ref.flutter.tolist() == [[3.0, 4.0], [8.0, 10.0]]
    assert ref.fibrillation.shape == (0, 2) and ref.duration_s == 10.0


def test_mitbih_reference_reads_fibrillation_episodes(write_wfdb: Callable[..., Path]) -> None:
    """Rhythm marks ("+" with a note) open and close atrial fibrillation and flutter
    episodes (fibrillation turning to flutter is one); the last runs to the record's end."""
    from fedwear.evaluate.references import mitbih_reference

    marks = [(0.1, "+", "(N"), (1.0, "N", ""), (2.0, "+", "(AFIB"), (2.5, "N", "")]
    marks += [(4.0, "+", "(AFL"), (6.0, "+", "(N"), (7.0, "N", ""), (9.0, "+", "(AFIB")]
    ref = mitbih_reference(write_wfdb("af", np.zeros((12 * 250, 1)), marks))
    assert ref.classes == ["N", "N", "N"]
    assert ref.fibrillation.tolist() == [[2.0, 6.0], [9.0, 12.0]]
    assert ref.duration_s == 12.0


def test_class_scores_rows_follow_the_confusion_counts() -> None:
    """One row per counted reference beat (zeros when missed), one per extra detection."""
    ref_s, ref_cls = np.array([1.0, 2.0, 3.0, 4.0]), ["N", "V", "N", "F"]
    det_s = np.array([1.05, 2.1, 2.5, 4.0])
    det_scores = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7], [0.5, 0.0, 0.5]])
    classes, scores = class_scores(ref_cls, ref_s, det_s, det_scores)
    # N at 1 s, V at 2 s, N at 3 s (missed: zeros); F is not scored; 2.5 s is extra.
    assert list(classes) == ["N", "V", "N", "-"]
    np.testing.assert_allclose(scores[:, 2], [0.05, 0.8, 0.0, 0.7])
    later, _ = class_scores(ref_cls, ref_s, det_s, det_scores, from_s=1.5)
    assert list(later) == ["V", "N", "-"]


def test_curve_points() -> None:
    perfect = curve_points(np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0]))
    assert perfect["auc"] == 1.0
    assert perfect["roc"][0] == [0.0, 0.0] and perfect["roc"][-1] == [1.0, 1.0]
    assert [1.0, 1.0] in perfect["pr"]  # all positives found before any negative
    backwards = curve_points(np.array([0.1, 0.2, 0.8, 0.9]), np.array([1, 1, 0, 0]))
    assert backwards["auc"] == 0.0
    tied = curve_points(np.array([0.5, 0.5, 0.5, 0.5]), np.array([1, 0, 1, 0]))
    assert tied["auc"] == 0.5 and tied["roc"] == [[0.0, 0.0], [1.0, 1.0]]
    thinned = curve_points(np.linspace(0, 1, 1000), np.arange(1000) % 2 == 0, points=11)
    assert len(thinned["roc"]) == 11 and thinned["auc"] == pytest.approx(0.5, abs=0.01)
    assert curve_points(np.array([0.3, 0.4]), np.array([0, 0])) == {
        "auc": None,
        "roc": [],
        "pr": [],
    }


def test_mitbih_reference_rejects_annotations_past_the_record(
    write_wfdb: Callable[..., Path],
) -> None:
    """Marks beyond the signal's end belong to another (longer) record."""
    from fedwear.errors import DatasetError
    from fedwear.evaluate.references import mitbih_reference

    marks = [(1.0, "N", ""), (2.0, "N", ""), (12.5, "N", "")]
    with pytest.raises(DatasetError, match=r"sample 3125 lies past the record's end \(2500"):
        mitbih_reference(write_wfdb("long", np.zeros((10 * 250, 1)), marks))
