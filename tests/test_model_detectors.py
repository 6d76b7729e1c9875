"""The four model detectors in the runtime's pipeline, on the shipped samples."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fedwear.config import Config
from fedwear.detect.base import Detector, Event, Window
from fedwear.detect.beats import beat_class
from fedwear.detect.fall import FallDetector
from fedwear.detect.models import build_model_detectors, load_detector
from fedwear.errors import DatasetError
from fedwear.evaluate.command import evaluate, format_table
from fedwear.evaluate.runner import run_recording
from fedwear.infer.beats import SEGMENT_SIZE
from fedwear.infer.card import models_dir
from fedwear.ingest.recordings import read_beat_text
from fedwear.ingest.replay import bundled_recording

RATES = {"imu": 100.0, "ppg": 64.0, "ecg": 250.0}
MODELS = models_dir()


def detector(name: str):
    return load_detector(name, RATES, MODELS)


def test_fall_trial_gives_one_fall_event(data_dir: Path) -> None:
    path = next((data_dir / "mobifall").glob("FOL_acc_*.txt"))
    fall = detector("fall")
    events, _ = run_recording(path, Config(), [fall])
    falls = [e for e in events if e.kind == "fall"]
    assert len(falls) == 1
    assert falls[0].value is not None and falls[0].value >= fall.threshold
    assert fall.threshold == fall.model.card.param("thresholds", "score")


def test_fall_score_threshold_decides(data_dir: Path) -> None:
    """The training tool sweeps the threshold: above the trial's score, the same fall is
    no longer reported."""
    path = next((data_dir / "mobifall").glob("FOL_acc_*.txt"))
    fall = detector("fall")
    events, _ = run_recording(path, Config(), [fall])
    score = next(e.value for e in events if e.kind == "fall")
    higher = FallDetector(fall.model, RATES["imu"], score_threshold=min(1.0, score + 0.01))
    events, _ = run_recording(path, Config(), [higher])
    assert not [e for e in events if e.kind == "fall"]


def test_walking_gives_no_fall() -> None:
    events, summary = run_recording(bundled_recording(), Config(), [detector("fall")])
    assert summary.recording_s > 100
    assert not [e for e in events if e.kind == "fall"]


def _window(stream: str, t: np.ndarray, v: np.ndarray, rate: float) -> Window:
    channels = tuple(f"c{i}" for i in range(v.shape[1]))
    return Window(stream, channels, rate, t, v.astype(np.float32), len(t))


def test_fall_detector_flags_nan_and_gaps_instead_of_scoring() -> None:
    det = detector("fall")
    t = np.arange(400, dtype=np.int64) * 10_000_000
    v = np.tile(np.array([[0, 0, 9.81, 0, 0, 0]], np.float32), (400, 1))
    v[100, 2] = np.nan
    assert det.on_window(_window("imu", t, v, 100.0)) == []
    assert det.flagged == 1
    v[100, 2] = 9.81
    t2 = t + t[-1] + 2_000_000_000  # a 2 s hole before this window
    det.on_window(_window("imu", t2[:100], v[:100], 100.0))
    assert det.flagged == 2


def test_beats_on_mitbih_119_finds_ventricular_ectopy(data_dir: Path) -> None:
    pytest.importorskip("wfdb")
    from fedwear.evaluate.beats import evaluate_beats

    result = evaluate_beats(data_dir / "mitbih", lambda: detector("beats"))
    rec = result["per_record"]["119_60s"]
    assert rec["V"]["reference_beats"] > 10
    assert rec["V"]["se"] > 50 and rec["V"]["ppv"] > 30
    assert rec["events"]["ectopic_beat"] >= 1
    assert rec["events"]["ecg_unclassifiable"] == 0  # a clean record
    # No beat is Q: the template's first beats wait for its fit, then are classified.
    assert rec["unclassifiable"] == result["overall"]["unclassifiable"] == 0


def test_noisy_walking_ecg_gives_one_unclassifiable_event_and_no_false_ectopy() -> None:
    """The bundled chest ECG was recorded while walking: its beats do not match their own
    template, so they are Q (unclassifiable), never a run of false V beats."""
    det = detector("beats")
    det.record_beats = True
    events, _ = run_recording(bundled_recording(), Config(), [det])
    kinds = [e.kind for e in events if e.detector == "beats"]
    assert kinds == ["ecg_unclassifiable"]
    assert det.unclassifiable > 100
    assert {c for _, c in det.beats} == {"Q"}


def _ecg_at(
    beat_times_s: np.ndarray, seconds: float, width_s: float = 0.012, p_wave: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """A clean single-lead trace: the same upright beat (narrow by default) at each time,
    with a P wave of height ``p_wave`` 160 ms before it (none by default)."""
    t = np.arange(int(seconds * 250)) / 250.0
    x = np.zeros_like(t)
    for at in beat_times_s:
        near = slice(max(0, int((at - 5 * width_s) * 250)), int((at + 5 * width_s) * 250))
        x[near] += np.exp(-0.5 * ((t[near] - at) / width_s) ** 2)
        if p_wave:
            near = slice(max(0, int((at - 0.3) * 250)), int((at - 0.02) * 250))
            x[near] += p_wave * np.exp(-0.5 * ((t[near] - at + 0.16) / 0.025) ** 2)
    return np.round(t * 1e9).astype(np.int64), x[:, None]


class _InputsKept:
    """The shipped beat model, keeping a copy of every input it is given."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model, self.card, self.inputs = model, model.card, []

    def run(self, x: np.ndarray):  # type: ignore[no-untyped-def]
        self.inputs.append(x.copy())
        return self.model.run(x)


def _run_beats(t: np.ndarray, x: np.ndarray, model_wrapper=_InputsKept, tracker_wrapper=None):  # type: ignore[no-untyped-def]
    """The beat detector over a trace, its model and tracker wrapped as a test needs."""
    det = detector("beats")
    if model_wrapper is not None:
        det.model = model_wrapper(det.model)
    if tracker_wrapper is not None:
        det.tracker = tracker_wrapper(det.tracker)
    det.record_beats = True
    events = []
    for i in range(0, len(t), 250):  # a second at a time, as a device delivers it
        events += det.on_window(_window("ecg", t[i : i + 250], x[i : i + 250], 250.0))
    return det, events


def test_fibrillating_rhythm_gives_one_irregular_rhythm_event_and_no_s_beats() -> None:
    """Beats at random intervals: early ones are not supraventricular ectopy there."""
    rng = np.random.default_rng(7)
    times = 0.5 + np.cumsum(rng.uniform(0.45, 1.1, 260))
    t, x = _ecg_at(times, float(times[-1]) + 1.0)
    det, events = _run_beats(t, x)
    irregular = [e for e in events if e.kind == "irregular_rhythm"]
    assert len(irregular) == 1
    assert irregular[0].t_ns > times[128] * 1e9  # the check needs 128 intervals
    before = [c for ns, c in det.beats if ns <= irregular[0].t_ns]
    after = [c for ns, c in det.beats if ns > irregular[0].t_ns]
    assert before.count("S") > 0.3 * len(before)  # the model alone calls early beats S
    # A random series leaves the turning-point test's 95 % range now and then, and S
    # beats are relabelled only while all three tests hold: a few S remain.
    assert len(after) > 80 and after.count("S") < 0.2 * len(after)
    # Each beat is judged by its shape alone first (an on-time beat's RR features, all 0:
    # is it V, to be left out of the check?); while the rhythm fibrillates, that is the
    # only input it gets, else its own RR features follow.
    rr_inputs = np.array([v.reshape(-1)[SEGMENT_SIZE:] for v in det.model.inputs])
    with_rr = np.any(rr_inputs != 0, axis=1)
    assert (~with_rr).sum() >= len(det.beats) > 200
    assert len(before) - 2 <= with_rr.sum() < len(before) + 0.2 * len(after)


def test_uneven_beats_with_repeating_p_waves_are_not_taken_for_fibrillation() -> None:
    """The random intervals of the test above, but each beat after the same P wave:
    frequent atrial ectopy, not fibrillation. Every RR test holds, the P waves veto the
    verdict: no event, and the early beats stay S."""
    rng = np.random.default_rng(7)
    times = 0.5 + np.cumsum(rng.uniform(0.45, 1.1, 260))
    t, x = _ecg_at(times, float(times[-1]) + 1.0, p_wave=0.15)
    det = detector("beats")
    det.record_beats = True
    events, held, vetoed = [], 0, 0
    for i in range(0, len(t), 250):
        events += det.on_window(_window("ecg", t[i : i + 250], x[i : i + 250], 250.0))
        held += det.fibrillation.every.active
        vetoed += det.fibrillation.every.active and det.fibrillation.atrial.organised
    assert held > 60 and vetoed == held  # seconds the RR intervals looked like fibrillation
    assert not [e for e in events if e.kind == "irregular_rhythm"]
    after = [c for ns, c in det.beats if ns > times[140] * 1e9]
    assert len(after) > 80 and after.count("S") > 0.3 * len(after)


class _NeverVByShape:
    """The shipped beat model, except that asked about a beat's shape alone (RR features
    on time) it never answers V, as networks rebuilt from other seeds did of the wide
    synthetic V beats below (docs/models.md, "Beats: V by shape")."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model, self.card = model, model.card
        classes = self.card.preprocessing["classes"]
        self.swap = [classes.index("V"), classes.index("N")]

    def run(self, x: np.ndarray):  # type: ignore[no-untyped-def]
        out = self.model.run(x)
        if not _on_time(x) or int(np.argmax(out[0])) != self.swap[0]:
            return out
        probs = np.array(out[0], np.float32).reshape(1, -1)
        probs[0, self.swap] = probs[0, self.swap[::-1]]
        return probs


@pytest.mark.parametrize("wrapper", [None, _NeverVByShape], ids=["shipped", "never-v-by-shape"])
def test_frequent_ventricular_ectopy_is_not_taken_for_fibrillation(wrapper) -> None:  # type: ignore[no-untyped-def]
    """Sinus rhythm with a wide V beat after 30 % of the beats, at random, each with its
    compensatory pause, and a narrow premature S beat now and then: as uneven as
    fibrillation over every interval (that check holds), but without the intervals next
    to beats V by shape it is regular, so the rhythm is not judged fibrillating: no
    event, and every beat gets the label it gets where no verdict of fibrillation is
    ever given (a verdict would take the S beats' RR features away and call them N).

    V by shape is the model's call given on-time RR features, or a beat unlike its
    template: so it holds with a model that never calls these beats V by shape, as
    networks rebuilt in session 33 did (the rhythm was then judged fibrillating from 2
    minutes on)."""
    rng = np.random.default_rng(0)
    sinus, ventricular, supra, at = [], [], [], 0.5
    for k in range(300):
        sinus.append(at)
        rr = rng.uniform(0.75, 0.85)
        if k > 20 and rng.random() < 0.3:
            ventricular.append(at + rng.uniform(0.5, 0.75) * rr)
            rr *= 2
        elif k > 20 and rng.random() < 0.08:
            supra.append(at + 0.6 * rr)
            sinus.append(supra[-1])
            rr *= 1.6
        at += rr
    t, x = _ecg_at(np.array(sinus), at + 1.0)
    wide = _ecg_at(np.array(ventricular), at + 1.0, width_s=0.04)[1]

    def run(verdict: bool | None) -> tuple[list[Event], int, list[str], list[str]]:
        """``verdict`` None: the detector's own; True or False: always that one."""
        det = detector("beats")
        det.record_beats = True
        if wrapper is not None:
            det.model = wrapper(det.model)
        if verdict is not None:
            judge, answer = det.fibrillation.judge, verdict

            def forced(t_s: float) -> bool:
                judge(t_s)  # the checks still see every beat
                return answer

            det.fibrillation.judge = forced  # type: ignore[method-assign]
        events, held = [], 0
        for i in range(0, len(t), 250):
            window = _window("ecg", t[i : i + 250], x[i : i + 250] - 1.5 * wide[i : i + 250], 250.0)
            events += det.on_window(window)
            held += det.fibrillation.every.active
        v_labels, _ = _labels_from(det, 0.0, ventricular)
        s_labels, _ = _labels_from(det, 0.0, supra)
        return events, held, v_labels, s_labels

    events, held, v_labels, s_labels = run(None)
    _, _, v_never, s_never = run(False)
    _, _, _, s_always = run(True)
    assert held > 10  # seconds during which every interval looked like fibrillation
    assert not [e for e in events if e.kind == "irregular_rhythm"]
    assert v_labels.count("V") >= 0.95 * len(ventricular)
    assert len(supra) > 10 and (v_labels, s_labels) == (v_never, s_never)
    assert s_never.count("S") > 0 and s_always.count("S") == 0


def _ventricular_every_third_beat() -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Sinus rhythm at 75 a minute with a wide premature V beat after every third beat."""
    sinus, ventricular, at = [], [], 0.5
    for k in range(240):
        sinus.append(at)
        if k % 3 == 2:
            ventricular.append(at + 0.5)
            at += 0.8
        at += 0.8
    t, x = _ecg_at(np.array(sinus), at + 1.0)
    wide = _ecg_at(np.array(ventricular), at + 1.0, width_s=0.04)[1]
    return t, x - 1.5 * wide, ventricular


def _on_time(x: np.ndarray) -> bool:
    """Whether the input is the detector's question about a beat's shape alone (for the
    rhythm check): its RR features all 0. The doubting models below leave it alone."""
    return not x.reshape(-1)[SEGMENT_SIZE:].any()


class _DoubtsEveryOtherV:
    """The shipped beat model, except that every other beat it calls V it doubts: N 0.6,
    S 0.1, V 0.3, as it may for a V beat in a run once the template has its shape."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model, self.card, self.v_beats, self.doubted = model, model.card, 0, 0

    def run(self, x: np.ndarray):  # type: ignore[no-untyped-def]
        out = self.model.run(x)
        if _on_time(x) or int(np.argmax(out)) != self.card.preprocessing["classes"].index("V"):
            return out
        self.v_beats += 1
        if self.v_beats % 2:
            return out
        self.doubted += 1
        return np.array([[0.6, 0.1, 0.3]], np.float32)


def test_a_doubted_v_beat_of_a_confident_v_beats_shape_is_called_v() -> None:
    """Sinus rhythm with a wide premature V beat after every third beat: each doubted V
    beat shares its shape family with V beats the model was sure of."""
    t, x, ventricular = _ventricular_every_third_beat()
    det, _ = _run_beats(t, x, _DoubtsEveryOtherV)
    assert det.model.doubted > 0.4 * len(ventricular)
    assert [c for _, c in det.beats].count("V") >= 0.95 * len(ventricular)


class _FitIn:
    """The detector's own beat tracker, except that every beat inside the given stretches
    (s) is given the template fit ``fit``: noise on the trace, as far as the rules can
    tell."""

    def __init__(self, tracker, stretches: list[tuple[float, float]], fit: float) -> None:  # type: ignore[no-untyped-def]
        self.tracker, self.stretches, self.fit = tracker, stretches, fit

    def push(self, t: np.ndarray, v: np.ndarray):  # type: ignore[no-untyped-def]
        beats = self.tracker.push(t, v)
        for beat in beats:
            inside = any(a <= beat.t_ns / 1e9 < b for a, b in self.stretches)
            if inside and beat.quality != 0.0:  # 0.0: no fit known yet
                beat.quality = self.fit
        return beats

    def reset(self) -> None:
        self.tracker.reset()


def _labels_from(det, from_s: float, ventricular: list[float]) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """The labels of the V beats and of the other beats from ``from_s`` on."""
    v_times = np.array(ventricular)
    v_labels, other_labels = [], []
    for t_ns, cls in det.beats:
        if t_ns / 1e9 >= from_s:
            at_v = np.min(np.abs(v_times - t_ns / 1e9)) < 0.05
            (v_labels if at_v else other_labels).append(cls)
    return v_labels, other_labels


def _run_with_fit(model_wrapper, fit: float, from_s: float = 150.0):  # type: ignore[no-untyped-def]
    t, x, ventricular = _ventricular_every_third_beat()
    det, events = _run_beats(
        t, x, model_wrapper, lambda tracker: _FitIn(tracker, [(from_s, math.inf)], fit)
    )
    return det, events, ventricular


def test_ectopic_beats_before_the_template_fit_is_known_are_classified() -> None:
    """The first beats come before the template's fit is known: they are held, then
    judged by the first fit. On a clean trace the V beats among them are V, not Q."""
    t, x, ventricular = _ventricular_every_third_beat()
    det, events = _run_beats(t, x)
    first_fit_s = 12.0  # some ten beats: the template's first fit is known by then
    v_labels, _ = _labels_from(det, 0.0, [v for v in ventricular if v < first_fit_s])
    early = [c for t_ns, c in det.beats if t_ns / 1e9 < first_fit_s]
    assert len(early) >= 12 and "Q" not in early
    assert v_labels[:3] == ["V", "V", "V"]
    assert not [e for e in events if e.kind == "ecg_unclassifiable"]


def test_held_beats_are_q_when_the_first_fit_is_poor_or_a_gap_comes() -> None:
    """Held beats take the first fit the template gets: where it is poor they are Q,
    and a gap in the stream, after which the template starts again, makes them Q."""
    det, events, _ = _run_with_fit(None, fit=0.5, from_s=0.0)
    assert {c for _, c in det.beats} == {"Q"}
    assert [e.kind for e in events].count("ecg_unclassifiable") == 1
    t, x, _ = _ventricular_every_third_beat()
    x = x.copy()
    x[5 * 250] = np.nan  # in the sixth second: before the template's first fit
    det, _ = _run_beats(t, x)
    before_gap = [c for t_ns, c in det.beats if t_ns / 1e9 < 5.0]
    assert len(before_gap) >= 3 and set(before_gap) == {"Q"}
    assert "Q" not in [c for t_ns, c in det.beats if t_ns / 1e9 > 20.0]


def test_v_beats_of_a_known_v_shape_stay_v_where_the_gate_closes() -> None:
    """A run of V beats closes the quality gate as noise does; a gated beat whose shape
    is a family of V beats the model was sure of on a clean trace is still V, and the
    others are Q (unclassifiable), with one event for the stretch."""
    det, events, ventricular = _run_with_fit(None, fit=0.5)
    v_labels, other_labels = _labels_from(det, 150.0, ventricular)
    assert len(v_labels) > 30
    assert v_labels.count("V") >= 0.95 * len(v_labels)
    assert set(other_labels) == {"Q"}
    assert [e.kind for e in events].count("ecg_unclassifiable") == 1


def test_a_noisy_stretch_ends_only_after_30_s_of_classifiable_beats() -> None:
    """A moving wearer's ECG flickers about the quality gate: a few clean beats between
    noisy ones do not make the next noise a new ``ecg_unclassifiable`` event; 30 s of
    clean beats do."""
    times = 0.5 + 0.8 * np.arange(200)  # sinus at 75 a minute, 160 s
    t, x = _ecg_at(times, float(times[-1]) + 1.0)
    noisy = [(20.0, 30.0), (40.0, 50.0), (60.0, 70.0), (120.0, 130.0)]
    det, events = _run_beats(t, x, tracker_wrapper=lambda tr: _FitIn(tr, noisy, 0.3))
    raised = [e.t_ns / 1e9 for e in events if e.kind == "ecg_unclassifiable"]
    assert len(raised) == 2
    assert 20.0 <= raised[0] < 21.0 and 120.0 <= raised[1] < 121.0
    labels = {round(t_ns / 1e9, 1): c for t_ns, c in det.beats}
    assert all(c == "Q" for at, c in labels.items() if any(a <= at < b for a, b in noisy))
    assert all(c == "N" for at, c in labels.items() if 75.0 <= at < 115.0)


def test_gated_beats_stay_q_without_a_v_family() -> None:
    """Noise forms no family of V beats: where the model alone leans V, a gated beat
    is still Q."""
    det, _, ventricular = _run_with_fit(_DoubtsEveryV, fit=0.5)
    v_labels, _ = _labels_from(det, 150.0, ventricular)
    assert det.model.doubted > 30
    assert set(v_labels) == {"Q"}


class _DoubtsEveryV:
    """The shipped beat model, except that each beat it calls V it gives V 0.55, N 0.4
    and S 0.05: a call the rules must weigh."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model, self.card, self.doubted = model, model.card, 0

    def run(self, x: np.ndarray):  # type: ignore[no-untyped-def]
        out = self.model.run(x)
        if _on_time(x) or int(np.argmax(out)) != self.card.preprocessing["classes"].index("V"):
            return out
        self.doubted += 1
        return np.array([[0.4, 0.05, 0.55]], np.float32)


def test_a_v_call_below_its_bar_goes_to_the_likelier_other_class() -> None:
    classes = ("N", "S", "V")
    leaning_s, leaning_n = np.array([0.1, 0.35, 0.55]), np.array([0.35, 0.1, 0.55])
    assert beat_class(leaning_s, classes, 0.3, False) == "V"
    assert beat_class(leaning_s, classes, 0.3, False, v_needs=0.6) == "S"
    assert beat_class(leaning_n, classes, 0.3, False, v_needs=0.6) == "N"
    assert beat_class(leaning_s, classes, 0.3, True, v_needs=0.6) == "N"  # fibrillating


def test_a_v_call_needs_more_where_the_template_fit_is_marginal() -> None:
    """V at 0.55 is V on a clean trace, and N where the fit falls to 0.8, where noise
    reshapes beats without closing the gate."""
    det, _, ventricular = _run_with_fit(_DoubtsEveryV, fit=0.8)
    before = [c for t_ns, c in det.beats if 30.0 < t_ns / 1e9 < 150.0]
    v_labels, other_labels = _labels_from(det, 150.0, ventricular)
    assert before.count("V") > 30
    assert len(v_labels) > 30
    assert set(v_labels) == {"N"}
    assert set(other_labels) == {"N"}


class _VByIntervals:
    """The shipped beat model, except that it answers V (0.8) for every beat whose RR
    features pass ``leans``, and N otherwise; asked about a shape alone it is left be."""

    def __init__(self, model, leans) -> None:  # type: ignore[no-untyped-def]
        self.model, self.card, self.leans = model, model.card, leans

    def run(self, x: np.ndarray):  # type: ignore[no-untyped-def]
        if _on_time(x):
            return self.model.run(x)
        rr = x.reshape(-1)[SEGMENT_SIZE:]
        return np.array([[0.1, 0.1, 0.8] if self.leans(rr) else [0.8, 0.1, 0.1]], np.float32)


def _labels_between(det, start_s: float, end_s: float) -> list[str]:  # type: ignore[no-untyped-def]
    return [c for t_ns, c in det.beats if start_s <= t_ns / 1e9 < end_s]


def test_an_on_time_beat_of_the_usual_shape_is_not_v_whatever_its_intervals_say() -> None:
    """A model that calls every beat V on its RR features: on a steady rhythm of one
    narrow shape (each interval 1 % off the last, so that the features are not all on
    time) no beat is early, V-shaped or after a V beat, so none is V."""
    times = 0.5 + np.cumsum(np.tile([0.79, 0.81], 75))
    t, x = _ecg_at(times, float(times[-1]) + 1.0)
    det, events = _run_beats(t, x, lambda m: _VByIntervals(m, lambda rr: True))
    labels = [c for _, c in det.beats]
    assert len(labels) > 140 and set(labels) == {"N"}
    assert not [e for e in events if e.kind in ("ectopic_beat", "ventricular_run")]


def test_a_premature_beat_of_the_usual_shape_may_be_v() -> None:
    """Every fourth beat comes early with the wearer's usual shape, and the model calls
    those V on their intervals: prematurity is evidence enough for a V call."""
    times = 0.5 + np.cumsum(np.tile([0.79, 0.81, 0.8, 0.5], 40))
    t, x = _ecg_at(times, float(times[-1]) + 1.0)
    early = times[3::4][5:-1]  # past the template's start, before the last beat
    det, _ = _run_beats(t, x, lambda m: _VByIntervals(m, lambda rr: rr[3] < -0.4))
    at_early = [c for t_ns, c in det.beats if np.min(np.abs(early - t_ns / 1e9)) < 0.05]
    assert len(at_early) == len(early)
    assert at_early.count("V") >= len(early) - 1
    assert [c for _, c in det.beats].count("V") <= len(times[3::4])


def test_a_ventricular_run_stays_v_once_its_beats_come_on_time() -> None:
    """A run of 50 wide beats at 120 a minute after sinus rhythm at 75, called V by a
    model that reads its beats as fast against the long-run rate. Past its first ten the
    run's beats are on time against the last ten, and past some twenty more the template
    has their shape; only their place after a V beat keeps them V."""
    sinus = 0.5 + np.cumsum(np.tile([0.79, 0.81], 30))
    run = sinus[-1] + np.cumsum(np.tile([0.49, 0.51], 25))
    after = run[-1] + np.cumsum(np.tile([0.79, 0.81], 20))
    seconds = float(after[-1]) + 1.0
    t, x = _ecg_at(np.concatenate([sinus, after]), seconds)
    x = x - 1.5 * _ecg_at(run, seconds, width_s=0.04)[1]
    det, events = _run_beats(t, x, lambda m: _VByIntervals(m, lambda rr: rr[0] < -0.4))
    run_start, run_end = float(run[0]) - 0.1, float(run[-1]) + 0.1
    assert _labels_between(det, run_start, run_end) == ["V"] * len(run)
    assert set(_labels_between(det, 10.0, run_start)) == {"N"}
    assert "V" not in _labels_between(det, run_end, seconds)
    assert [e.kind for e in events].count("ventricular_run") == 1


def test_bigeminy_is_not_called_irregular_rhythm() -> None:
    times = 0.5 + np.cumsum(np.tile([0.5, 1.1], 130))
    t, x = _ecg_at(times, float(times[-1]) + 1.0)
    _, events = _run_beats(t, x)
    assert not [e for e in events if e.kind == "irregular_rhythm"]


def test_beat_detector_survives_nan_in_ecg() -> None:
    det = detector("beats")
    t = np.arange(2500, dtype=np.int64) * 4_000_000
    v = np.sin(np.arange(2500) / 10.0)[:, None]
    v[50] = np.inf
    assert det.on_window(_window("ecg", t, v, 250.0)) == []
    assert det.flagged == 1


def test_wrist_stage_flags_faults_but_not_its_warm_up() -> None:
    """Streams that start together leave the first PPG step one IMU sample short of 8 s:
    a warm-up, not a fault. NaN in the PPG, or a hole in the IMU, is one."""
    from fedwear.infer.heart import WristSpectra

    def steps(ppg: np.ndarray, imu_t: np.ndarray) -> tuple[int, int]:
        wrist = WristSpectra(64.0, 100.0)
        ppg_t = np.arange(len(ppg), dtype=np.int64) * 15_625_000
        imu = np.zeros((len(imu_t), 6), np.float32)
        wrist.push_imu(imu_t, imu)
        return len(wrist.push_ppg(ppg_t, ppg[:, None].astype(np.float32))), wrist.flagged

    ppg = np.sin(np.arange(64 * 20) / 64.0 * 2 * np.pi * 1.3)
    imu_t = np.arange(100 * 20, dtype=np.int64) * 10_000_000
    clean, flagged = steps(ppg, imu_t)
    assert clean == 6 and flagged == 0  # steps at 8, 10, ..., 18 s; the one at 8 s is short
    ppg[64 * 15] = np.nan  # in the 8 s of the last three steps
    assert steps(ppg, imu_t) == (clean - 3, 3)
    ppg = np.sin(np.arange(64 * 20) / 10.0)
    holed = np.concatenate((imu_t[:1000], imu_t[1400:]))  # 4 s without IMU from 10 s
    # The steps ending at 14 to 20 s miss 4 s of their 8 (at 14 s the IMU samples before
    # the hole would make a whole 8 s, of other motion); the one at 12 s misses 2 s.
    assert steps(ppg, holed) == (clean - 4, 4)
    early = np.concatenate((imu_t[:200], imu_t[900:]))  # none from 2 s to 9 s
    n, flagged = steps(ppg, early)
    assert flagged > 0 and n + flagged == clean


def test_wrist_spectra_show_the_motion_at_half_and_twice_each_rate() -> None:
    """A wrist swinging at 1.5 Hz (90 BPM) peaks at 90 BPM in the accelerometer's channel,
    at 180 BPM in the channel of half each rate and at 45 BPM in that of twice each rate:
    where a PPG peak that is a harmonic of the motion lines up with the motion."""
    from fedwear.infer.heart import HR_BINS_BPM, WristSpectra

    wrist = WristSpectra(64.0, 100.0)
    imu_t = np.arange(100 * 12, dtype=np.int64) * 10_000_000
    imu = np.zeros((len(imu_t), 6), np.float32)
    imu[:, 2] = 9.81 + 3.0 * np.sin(2 * np.pi * 1.5 * imu_t / 1e9)
    wrist.push_imu(imu_t, imu)
    ppg_t = np.arange(64 * 12, dtype=np.int64) * 15_625_000
    steps = wrist.push_ppg(ppg_t, np.sin(2 * np.pi * 2.0 * ppg_t / 1e9)[:, None])
    assert steps
    spec = steps[-1][1]
    assert spec.shape == (len(HR_BINS_BPM), 4)
    peaks = HR_BINS_BPM[np.argmax(spec, axis=0)]
    assert abs(peaks[0] - 120) <= 3  # the PPG at 2 Hz
    assert abs(peaks[1] - 90) <= 3 and abs(peaks[2] - 180) <= 3 and abs(peaks[3] - 45) <= 3


def test_a_heart_rate_model_built_for_other_spectra_is_refused_at_start_up(
    tmp_path: Path,
) -> None:
    import dataclasses
    from types import SimpleNamespace

    from fedwear.detect.wrist import WristEstimator
    from fedwear.errors import ModelError
    from fedwear.infer.engine import load_model

    model = load_model(MODELS / "ppg_hr.json")
    WristEstimator(model, 64.0, 100.0)  # the shipped file fits
    card = model.card
    two_channels = dataclasses.replace(
        card, inputs=[dataclasses.replace(card.inputs[0], shape=(1, 64, 2))]
    )
    other_multiples = dataclasses.replace(
        card, preprocessing={**card.preprocessing, "acc_multiples": [1.0, 0.5, 3.0]}
    )
    for wrong in (two_channels, other_multiples):
        with pytest.raises(ModelError, match="this runtime makes"):
            WristEstimator(SimpleNamespace(card=wrong), 64.0, 100.0)  # type: ignore[arg-type]


def test_ppg_heart_rate_follows_the_chest_ecg() -> None:
    from fedwear.evaluate.ppg import evaluate_ppg

    result = evaluate_ppg(bundled_recording().parent, lambda: detector("ppg_hr"))
    mae = result["overall"]["mae_bpm"]
    windows = result["overall"]["windows"]
    assert windows > 40  # every 2 s over 120 s, after the first 8 s
    assert mae is not None and mae < 10


def _still_wrist_events(
    det: Detector,
    ppg_of: Callable[[np.ndarray], np.ndarray],
    seconds: int,
    rng: np.random.Generator,
) -> list[Event]:
    """Feed ``det`` a still wrist (gravity and 0.01 m/s² noise from ``rng``) and the PPG
    ``ppg_of`` gives for the PPG's timestamps, a second of each stream at a time."""
    rate_p, rate_i = 64.0, 100.0
    tp = (np.arange(int(seconds * rate_p)) * 1e9 / rate_p).astype(np.int64)
    ti = (np.arange(int(seconds * rate_i)) * 1e9 / rate_i).astype(np.int64)
    ppg = ppg_of(tp)
    imu = np.tile(np.array([[0, 0, 9.81, 0, 0, 0]]), (len(ti), 1))
    imu += rng.normal(0, 0.01, imu.shape)
    events: list[Event] = []
    for k in range(seconds):
        si, sp = slice(k * 100, (k + 1) * 100), slice(k * 64, (k + 1) * 64)
        events += det.on_window(_window("imu", ti[si], imu[si], rate_i))
        events += det.on_window(_window("ppg", tp[sp], ppg[sp], rate_p))
    return events


def test_heart_rate_unexplained_by_motion_is_an_event() -> None:
    """Still wrist, PPG pulsing at 130 BPM for 60 s: the rule fires once."""
    det = detector("ppg_hr")
    events = _still_wrist_events(
        det,
        lambda tp: np.sin(2 * np.pi * (130 / 60) * tp / 1e9)[:, None],
        60,
        np.random.default_rng(1),
    )
    kinds = [e.kind for e in events]
    assert kinds == ["heart_rate_unexplained"]
    assert abs(det.wrist.tracker.bpm - 130) < 6


def test_a_ppg_without_a_pulse_on_a_still_wrist_is_no_event() -> None:
    """White noise for 120 s where the PPG should pulse (the sensor lifted): the tracker
    settles on some rate above 110 BPM, but never surely enough (the card's
    min_confidence) for the rule to call it the wearer's heart."""
    det = detector("ppg_hr")
    for seed in (1, 2):
        det.reset()
        rng = np.random.default_rng(seed)
        events = _still_wrist_events(det, lambda tp, r=rng: r.normal(0, 1, (len(tp), 1)), 120, rng)
        assert events == [], seed


def _still_wrist_recording(folder: Path, bpm: float, seconds: int) -> None:
    """An EDF in the wrist-PPG set's layout: a still wrist, PPG and chest ECG beats at
    ``bpm``, and the beat annotations beside it."""
    import pyedflib

    fs = 256
    t = np.arange(seconds * fs) / fs
    beats = np.arange(0.5, seconds - 0.5, 60 / bpm)
    rng = np.random.default_rng(3)
    channels = {
        "chest_ecg": np.zeros_like(t),
        "wrist_ppg": 1000 + 50 * np.sin(2 * np.pi * (bpm / 60) * t),
        **{f"wrist_gyro_{a}": rng.normal(0, 0.2, len(t)) for a in "xyz"},
        **{
            f"acc_{a}": rng.normal(g, 0.01, len(t))
            for a, g in zip("xyz", (0, 0, 9.81), strict=True)
        },
    }
    writer = pyedflib.EdfWriter(str(folder / "still.edf"), len(channels))
    headers = []
    for label, x in channels.items():
        unit = (
            "mV" if "ecg" in label or "ppg" in label else "degs^-1" if "gyro" in label else "ms^-2"
        )
        lo, hi = float(np.floor(x.min())) - 1, float(np.ceil(x.max())) + 1  # EDF: 8 chars
        headers.append(
            {
                "label": label,
                "dimension": unit,
                "sample_frequency": fs,
                "physical_min": lo,
                "physical_max": hi,
                "digital_min": -32768,
                "digital_max": 32767,
            }
        )
    writer.setSignalHeaders(headers)
    writer.writeSamples(list(channels.values()))
    writer.close()
    rows = ["      Time   Sample #  Type  Sub Chan  Num\tAux"]
    rows += [f"{b:12.3f} {round(b * fs):>8}     N    0    0    0" for b in beats]
    (folder / "still.txt").write_text("\n".join(rows) + "\n")


def test_eval_counts_heart_rate_the_motion_does_not_explain(tmp_path: Path) -> None:
    """130 BPM on a still wrist for 60 s: one event, counted per recording and per hour."""
    from fedwear.evaluate.ppg import evaluate_ppg

    _still_wrist_recording(tmp_path, 130.0, 60)
    result = evaluate_ppg(tmp_path, lambda: detector("ppg_hr"))
    still = result["per_recording"]["still"]
    assert still["unexplained_events"] == 1 and len(still["unexplained_event_s"]) == 1
    overall = result["overall"]
    assert overall["unexplained_events"] == 1
    assert overall["unexplained_events_per_hour"] == pytest.approx(60, rel=0.02)  # 1 in 60 s
    assert "unexplained HR events" in format_table({"detector": "ppg-hr", **result})


def test_normal_detector_scores_every_step() -> None:
    det = detector("normal")
    det.record_scores = True
    run_recording(bundled_recording(), Config(), [det])
    scores = np.array([s for _, s in det.scores])
    assert len(scores) > 40 and np.all(np.isfinite(scores))


def test_eval_normal_reports_alarm_times_and_threshold() -> None:
    from fedwear.evaluate.normal import evaluate_normal

    det = detector("normal")
    quiet = evaluate_normal(bundled_recording().parent, lambda: det)
    det.threshold = 0.0  # every score is over it: the detector must alarm
    loud = evaluate_normal(bundled_recording().parent, lambda: det)
    for result in (quiet, loud):
        (rec,) = result["per_recording"].values()
        assert len(rec["alarm_s"]) == rec["alarms"]
        assert all(0 <= t <= 121 for t in rec["alarm_s"])
    assert quiet["score_threshold"] > 0 and loud["score_threshold"] == 0.0
    assert next(iter(loud["per_recording"].values()))["alarms"] > 0


def test_ppg_hr_and_normal_share_one_heart_rate_stage() -> None:
    """Both need the spectra and the heart-rate model every 2 s: computed once, not twice,
    and each detector sees the same rate as it would alone."""
    hr, normal = build_model_detectors(["ppg_hr", "normal"], "", RATES)
    assert hr.wrist is normal.wrist
    hr.record_estimates, normal.record_scores = True, True
    run_recording(bundled_recording(), Config(), [hr, normal])
    steps = len(hr.estimates)
    assert steps > 40 and len(normal.scores) == steps
    assert hr.wrist.model.invocations == steps  # one heart-rate inference per step
    alone = detector("ppg_hr")
    alone.record_estimates = True
    run_recording(bundled_recording(), Config(), [alone])
    assert alone.estimates == hr.estimates


def test_only_detectors_whose_streams_exist_are_built() -> None:
    built = build_model_detectors(["fall", "beats", "ppg_hr", "normal"], "", {"ecg": 250.0})
    assert [d.name for d in built] == ["beats"]


def test_wrong_stream_rate_is_a_config_error() -> None:
    from fedwear.errors import ConfigError

    with pytest.raises(ConfigError, match=r"streams\.imu\.rate_hz"):
        load_detector("fall", {**RATES, "imu": 50.0}, MODELS)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["thresholds"].pop("family_weight"), "card has no thresholds.family_weight"),
        (lambda c: c["preprocessing"].update(classes=["N", "S", "F"]), "lack one of N, S, V"),
    ],
)
def test_a_beat_card_without_what_the_detector_needs_is_a_model_error(
    tmp_path: Path, edit: Callable[[dict], object], message: str
) -> None:
    from fedwear.errors import ModelError

    shutil.copytree(MODELS, tmp_path / "models")
    card_path = tmp_path / "models" / "beats.json"
    card = json.loads(card_path.read_text())
    edit(card)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=message):
        load_detector("beats", RATES, tmp_path / "models")


@pytest.mark.parametrize(
    ("name", "section", "key", "value", "message"),
    [
        ("beats", "thresholds", "fibrillation_p_wave_fit", "high", "must be a finite number"),
        ("beats", "thresholds", "run_length", 2.5, "must be a whole number of at least 1"),
        ("beats", "thresholds", "gated_family_min_beats", 5.5, "a whole number of at least 1"),
        ("beats", "thresholds", "gated_family_min_beats", 0, "a whole number of at least 1"),
        ("beats", "thresholds", "fibrillation_window_beats", 8, "at least 32 beats"),
        ("beats", "preprocessing", "classes", "NSV", "must be a list of strings"),
        ("fall", "thresholds", "score", None, "must be a finite number, not None"),
        ("fall", "thresholds", "refractory_s", float("inf"), "must be a finite number"),
        ("ppg_hr", "thresholds", "hold_s", True, "must be a finite number, not True"),
        ("normal", "preprocessing", "feature_mean", ["x"] * 8, "a list of finite numbers"),
        ("normal", "thresholds", "debounce_steps", 0, "must be a whole number of at least 1"),
    ],
)
def test_a_card_value_of_the_wrong_kind_is_a_model_error_naming_it(
    tmp_path: Path, name: str, section: str, key: str, value: object, message: str
) -> None:
    """A card edited by hand or damaged: a ModelError that names the key, never a
    ValueError (or an infinite threshold) inside the detector that reads it."""
    from fedwear.errors import ModelError

    shutil.copytree(MODELS, tmp_path / "models")
    card_path = tmp_path / "models" / f"{name}.json"
    card = json.loads(card_path.read_text())
    card[section][key] = value
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=rf"{section}\.{key}") as caught:
        load_detector(name, RATES, tmp_path / "models")
    assert message in str(caught.value)
    assert str(card_path) in str(caught.value)


def _fedwear(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "fedwear.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


EvalRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def fedwear_eval(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> EvalRun:
    """`fedwear eval ARGS` through ``cli.main`` in this process: its exit code, standard
    output, and log lines as ``stderr``. What the subprocess would give for what these
    tests check, without starting an interpreter (5 s each in the aarch64 guest)."""
    from fedwear.cli import main

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        caplog.clear()
        code = main(["eval", *args])
        log = "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records)
        return subprocess.CompletedProcess(
            ["fedwear", "eval", *args], code, capsys.readouterr().out, log
        )

    return run


def test_run_refuses_a_corrupted_model_with_one_line(tmp_path: Path) -> None:
    for f in MODELS.glob("*.*"):
        shutil.copy(f, tmp_path / f.name)
    data = bytearray((tmp_path / "ppg_hr.tflite").read_bytes())
    data[-40] ^= 0x55
    (tmp_path / "ppg_hr.tflite").write_bytes(bytes(data))
    r = _fedwear(
        "run",
        "--quiet",
        "--event-log",
        str(tmp_path / "e.jsonl"),
        env={"FEDWEAR_MODELS": str(tmp_path)},
    )
    assert r.returncode == 50, r.stderr
    assert "ppg_hr.tflite" in r.stderr and "sha256" in r.stderr
    assert "Traceback" not in r.stderr


def test_device_config_runs_without_a_corrupted_model(tmp_path: Path) -> None:
    """on_error = "skip" (the shipped device config): one error line per detector that
    needed the bad file, and the rest of the run goes on."""
    for f in MODELS.glob("*.*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "ppg_hr.tflite").write_bytes(b"TFL3" * 10)
    config = tmp_path / "fedwear.toml"
    config.write_text('[detectors.models]\non_error = "skip"\n')
    r = _fedwear(
        "run",
        "--config",
        str(config),
        "--event-log",
        str(tmp_path / "e.jsonl"),
        env={"FEDWEAR_MODELS": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2, r.stderr  # ppg_hr, and normal (which uses the HR model)
    assert all("disabled" in e and "ppg_hr.tflite" in e for e in errors)
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["events_by_detector"].get("beats", 0) > 0  # the beat model still ran
    assert "Traceback" not in r.stderr


def test_eval_fall_json(data_dir: Path, fedwear_eval: EvalRun) -> None:
    r = fedwear_eval("fall", str(data_dir / "mobifall"), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    overall = result["overall"]
    assert overall["recall"] == 100.0
    assert overall["false_alarms_per_hour"] is None  # the sample has no daily activities
    # The window scores behind the event, for curves at other thresholds.
    (trial,) = result["recordings"]
    assert trial["trace"] and trial["max_score"] == max(v for _, v in trial["trace"])
    assert trial["max_score"] >= result["score_threshold"] > 0


def test_eval_beats_json_has_aami_figures(data_dir: Path) -> None:
    pytest.importorskip("wfdb")
    r = _fedwear("eval", "beats", str(data_dir / "mitbih"), "--json")
    assert r.returncode == 0, r.stderr
    overall = json.loads(r.stdout)["overall"]
    assert set(overall) >= {"N", "S", "V"}
    assert {"se", "ppv"} <= set(overall["V"])
    assert overall["ventricular_flutter_s"] == 0.0  # 119 has no flutter episode
    result = json.loads(r.stdout)
    # 119's excerpt has V beats (bigeminy) among N: both kinds, so a V curve with an area.
    assert 0.5 < result["curves"]["V"]["auc"] <= 1.0 and result["curves"]["V"]["roc"]
    timeline = result["per_record"]["119_60s"]["timeline"]
    assert {c for _, _, c in timeline["beats"]} >= {"N", "V"}
    assert any(kind == "ectopic_beat" for _, kind in timeline["events"])
    assert all(0 <= t <= 120 for t, _ in timeline["events"])
    table = format_table(result)
    assert "flutter s" in table.splitlines()[0]


@pytest.mark.parametrize("rhythm", ["(AFIB", "(N"])
def test_eval_beats_places_irregular_rhythm_events_against_the_reference_rhythm(
    write_wfdb: Callable[..., Path], rhythm: str
) -> None:
    """A record of 150 regular beats, then 250 at random intervals annotated as atrial
    fibrillation (or, to check the other side, as sinus rhythm): one event, counted
    inside the episode or outside it."""
    rng = np.random.default_rng(7)
    rr = np.concatenate([np.full(150, 0.8), rng.uniform(0.45, 1.1, 250)])
    times = 0.5 + np.cumsum(rr)
    _, x = _ecg_at(times, float(times[-1]) + 1.0)
    onset = float(times[150] - 0.3)
    marks = [(0.1, "+", "(N"), (onset, "+", rhythm)] + [(t, "N", "") for t in times]
    record = write_wfdb("af", x, sorted(marks))
    r = _fedwear("eval", "beats", str(record.parent), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["per_record"]["af"]["events"]["irregular_rhythm"] == 1
    af = result["overall"]["fibrillation"]
    if rhythm == "(AFIB":
        assert af["episodes"] == af["episodes_with_event"] == af["events_inside"] == 1
        assert af["events_outside"] == 0 and af["reference_s"] > 150
    else:
        assert af["episodes"] == af["events_inside"] == 0 and af["events_outside"] == 1
        assert af["events_outside_per_hour"] == pytest.approx(3600 / (times[-1] + 1), rel=0.01)
    assert "AF events in/out" in format_table({"detector": "beats", **result})


def test_eval_beats_learning_period_leaves_the_template_warm_up_out(data_dir: Path) -> None:
    """EC57's learning period: the first seconds of each record, where the detector's
    template forms, do not count."""
    pytest.importorskip("wfdb")
    whole, later = (
        json.loads(_fedwear("eval", "beats", str(data_dir / "mitbih"), "--json", *extra).stdout)[
            "overall"
        ]
        for extra in ((), ("--learning-period", "30"))
    )
    for c in ("N", "V"):
        assert 0 < later[c]["reference_beats"] < whole[c]["reference_beats"]
    for bad in (("fall", "5"), ("beats", "-1"), ("beats", "nan")):
        r = _fedwear("eval", bad[0], str(data_dir / "mitbih"), "--learning-period", bad[1])
        assert r.returncode == 2 and "--learning-period" in r.stderr
    # Longer than every record: nothing would be scored, and the table would be all dashes.
    r = _fedwear("eval", "beats", str(data_dir / "mitbih"), "--learning-period", "1e308")
    assert r.returncode == 30 and "leaves no beat to score" in r.stderr, r.stderr


def test_eval_beats_reads_the_lead_asked_for(data_dir: Path) -> None:
    """`--lead` reaches the reader: MLII is the default, another lead gives other beats,
    and a lead the records lack stops the evaluation with the record's own leads named."""
    pytest.importorskip("wfdb")
    folder = str(data_dir / "mitbih")
    default, mlii, v1 = (
        json.loads(_fedwear("eval", "beats", folder, "--json", *extra).stdout)
        for extra in ((), ("--lead", "MLII"), ("--lead", "V1"))
    )
    assert default["lead"] is None and v1["lead"] == "V1"
    assert default["per_record"] == mlii["per_record"]
    assert v1["per_record"]["119_60s"]["timeline"] != default["per_record"]["119_60s"]["timeline"]
    missing = _fedwear("eval", "beats", folder, "--lead", "V5")
    assert missing.returncode == 30 and "no lead 'V5' (its leads: MLII, V1)" in missing.stderr
    other = _fedwear("eval", "fall", folder, "--lead", "V1")
    assert other.returncode == 2 and "--lead" in other.stderr


def test_eval_table_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    r = _fedwear("eval", "ppg-hr", str(bundled_recording().parent), "--plots", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "wrist_walk_excerpt" in r.stdout and "overall" in r.stdout
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["ppg_hr_mae.png", "ppg_hr_timeline.png"]
    assert all((tmp_path / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_eval_fall_plots(tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    r = _fedwear("eval", "fall", str(data_dir / "mobifall"), "--plots", str(tmp_path))
    assert r.returncode == 0, r.stderr
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["fall_per_subject.png", "fall_roc_pr.png", "fall_timeline.png"]
    assert all((tmp_path / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_eval_plots_that_cannot_be_written_are_an_error(tmp_path: Path, data_dir: Path) -> None:
    """An unusable --plots folder is refused before the evaluation runs (the dataset here
    does not exist, and the complaint is about the plots), and a plot that cannot be
    written names its file; neither is a traceback."""
    pytest.importorskip("matplotlib")
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    r = _fedwear("eval", "fall", str(tmp_path / "no-such-set"), "--plots", str(occupied))
    assert r.returncode == 2 and "--plots" in r.stderr and "a-file" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    plots = tmp_path / "plots"
    (plots / "fall_roc_pr.png").mkdir(parents=True)  # in the way of the second plot
    r = _fedwear("eval", "fall", str(data_dir / "mobifall"), "--plots", str(plots))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "fall_roc_pr.png: Is a directory" in r.stderr


def test_eval_beats_plots(tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("wfdb")
    pytest.importorskip("matplotlib")
    r = _fedwear("eval", "beats", str(data_dir / "mitbih"), "--plots", str(tmp_path))
    assert r.returncode == 0, r.stderr
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["beats_per_record.png", "beats_roc_pr.png", "beats_timeline.png"]


def test_eval_fall_reports_the_windows_it_could_not_score(
    tmp_path: Path, data_dir: Path, fedwear_eval: EvalRun
) -> None:
    """Non-finite samples leave windows unscored (a fall there would be missed): the
    figures say how many, as does the run's summary, instead of passing for whole."""
    trial = tmp_path / "sub2"
    shutil.copytree(data_dir / "mobifall", trial)
    clean = json.loads(fedwear_eval("fall", str(tmp_path), "--json").stdout)
    assert clean["overall"]["flagged_windows"] == 0
    acc = trial / "FOL_acc_2_1.txt"
    lines = acc.read_text().splitlines()
    start = lines.index("@DATA") + 1
    for i in range(start + 400, start + 420):  # 20 samples of NaN, some 4 s in
        t, *_ = lines[i].split(",")
        lines[i] = f"{t}, nan, nan, nan"
    acc.write_text("\n".join(lines) + "\n")
    r = fedwear_eval("fall", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    flagged = result["overall"]["flagged_windows"]
    assert flagged > 0
    assert result["per_subject"]["sub2"]["flagged_windows"] == flagged
    assert result["recordings"][0]["flagged_windows"] == flagged
    assert format_table(result).splitlines()[0].split()[-1] == "flagged"
    det = detector("fall")
    _, summary = run_recording(acc, Config(), [det])
    assert summary.flagged_by_detector == {"fall": flagged}
    _, again = run_recording(acc, Config(), [det])  # per run, not since the detector was made
    assert again.to_dict()["flagged_by_detector"] == {"fall": flagged}


def test_eval_ppg_hr_counts_estimates_without_reference(tmp_path: Path) -> None:
    """Beat annotations that stop half-way leave later estimates without a reference:
    they are not in the MAE, and the figures say how many there were."""
    from fedwear.evaluate.ppg import evaluate_ppg

    excerpt = bundled_recording()
    shutil.copyfile(excerpt, tmp_path / excerpt.name)
    beats = excerpt.with_suffix(".txt").read_text().splitlines()
    (tmp_path / f"{excerpt.stem}.txt").write_text("\n".join(beats[: len(beats) // 2]) + "\n")
    det = detector("ppg_hr")
    whole = evaluate_ppg(excerpt.parent, lambda: det)["overall"]
    half = evaluate_ppg(tmp_path, lambda: det)["overall"]
    assert whole["windows_without_reference"] <= 3  # the first seconds, before 3 beats
    assert half["windows_without_reference"] > whole["windows"] // 3
    both = half["windows"] + half["windows_without_reference"]
    assert both == whole["windows"] + whole["windows_without_reference"]
    assert half["flagged_windows"] == whole["flagged_windows"]


def test_what_the_input_allows_scores_the_nearest_of_the_largest_peaks() -> None:
    """The heart counts as visible only among the 3 largest peaks; the oracle takes the
    nearest of 3 and of 5; a window with no peak at all (flat PPG) is visible nowhere and
    left out of the oracle."""
    from fedwear.evaluate.ppg import what_the_input_allows

    figures = what_the_input_allows(
        [
            (100.0, (140.0, 70.0, 60.0, 99.5, 101.0)),  # the heart is the 4th largest peak
            (120.0, (118.0, 50.0)),  # the 1st
            (90.0, ()),
        ]
    )
    assert figures == {
        "heart_visible_percent": round(100 / 3, 1),
        "nearest_of_3_peaks_mae_bpm": 16.0,  # (30 + 2) / 2
        "nearest_of_5_peaks_mae_bpm": 1.25,  # (0.5 + 2) / 2
    }
    assert what_the_input_allows([]) == {
        "heart_visible_percent": None,
        "nearest_of_3_peaks_mae_bpm": None,
        "nearest_of_5_peaks_mae_bpm": None,
    }


def test_eval_ppg_hr_says_what_the_input_allows() -> None:
    """Beside the detector's error, each recording's and the overall figures say how often
    the heart was among the PPG's largest peaks and what an oracle choosing among them
    scores; the table shows them."""
    from fedwear.evaluate.command import format_table
    from fedwear.evaluate.ppg import evaluate_ppg, reference_beats, reference_bpm

    excerpt = bundled_recording()
    det = detector("ppg_hr")
    result = evaluate_ppg(excerpt.parent, lambda: det)
    (one,) = result["per_recording"].values()
    beats = reference_beats(excerpt)
    refs = [reference_bpm(beats, e.t_ns / 1e9) for e in det.estimates]
    assert all(len(e.ppg_peaks) == det.RECORDED_PEAKS for e in det.estimates)
    nearest = [
        min(abs(p - r) for p in e.ppg_peaks[:3])
        for e, r in zip(det.estimates, refs, strict=True)
        if r
    ]
    assert one["nearest_of_3_peaks_mae_bpm"] == round(float(np.mean(nearest)), 2)
    assert 0 < one["nearest_of_5_peaks_mae_bpm"] <= one["nearest_of_3_peaks_mae_bpm"]
    assert 0 < one["heart_visible_percent"] <= 100
    for key in ("heart_visible_percent", "nearest_of_3_peaks_mae_bpm"):
        assert result["overall"][key] == one[key]
    header = format_table({"detector": "ppg-hr", **result}).splitlines()[0]
    assert "nearest of 3" in header and "visible %" in header


def test_eval_bad_folders(tmp_path: Path, fedwear_eval: EvalRun) -> None:
    r = fedwear_eval("fall", str(tmp_path / "missing"))
    assert r.returncode == 30 and "not a folder" in r.stderr
    (tmp_path / "sub1").mkdir()
    r = fedwear_eval("beats", str(tmp_path))
    assert r.returncode == 30 and "no recordings" in r.stderr
    bad = tmp_path / "sub1" / "FOL_acc_1_1.txt"
    bad.write_text("#header\n@DATA\n1,2\nnot,a,row,here\n")
    shutil.copyfile(bad, bad.with_name("FOL_gyro_1_1.txt"))
    r = fedwear_eval("fall", str(tmp_path))
    assert r.returncode == 30 and r.stdout == ""
    assert r.stderr.splitlines()[-1].startswith(
        f"ERROR fedwear: dataset: {tmp_path}: none of its 1 recordings could be read; the "
        f"first: {bad}:3: expected 'timestamp_ns, x, y, z'"
    )


def test_eval_skips_a_recording_it_cannot_read_and_lists_it(
    tmp_path: Path, data_dir: Path, fedwear_eval: EvalRun
) -> None:
    """A folder from elsewhere with one trial missing its gyroscope half and one cut off
    mid-row: the rest is scored, the two are logged, listed and counted; --strict stops
    at the first instead."""
    sub = tmp_path / "sub12"
    shutil.copytree(data_dir / "mobifall", sub)
    whole = sub / "FOL_acc_2_1.txt"
    shutil.copyfile(whole, sub / "FOL_acc_2_2.txt")  # its gyro half is missing
    cut = sub / "FOL_acc_2_3.txt"
    shutil.copyfile(sub / "FOL_gyro_2_1.txt", sub / "FOL_gyro_2_3.txt")
    cut.write_text(whole.read_text()[:3000].rsplit(",", 1)[0] + "\n")
    r = fedwear_eval("fall", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert [s["recording"] for s in result["skipped"]] == [str(sub / "FOL_acc_2_2.txt"), str(cut)]
    assert "missing half of a MobiFall trial" in result["skipped"][0]["error"]
    assert result["skipped"][1]["code"] == "malformed"
    assert "FOL_acc_2_3.txt:74: expected 'timestamp_ns, x, y, z'" in result["skipped"][1]["error"]
    assert result["overall"]["skipped_recordings"] == 2
    assert result["overall"]["falls"] == 1 and len(result["recordings"]) == 1
    warned = r.stderr.splitlines()
    assert len(warned) == 2
    assert warned[0].startswith(f"WARNING fedwear.eval: skipped {sub / 'FOL_acc_2_2.txt'}: ")
    table = format_table(result).splitlines()
    assert table[-3] == "skipped 2 recording(s) that could not be read:"
    assert "FOL_gyro_2_2.txt: missing half" in table[-2]

    r = fedwear_eval("fall", str(tmp_path), "--strict")
    assert r.returncode == 30 and r.stdout == ""
    (error,) = r.stderr.splitlines()
    assert error.startswith("ERROR fedwear: ") and "FOL_gyro_2_2.txt: missing half" in error


def test_eval_with_nothing_readable_is_an_error_naming_the_first(tmp_path: Path) -> None:
    """Every wrist recording lacks its beat annotations: no figures, so exit 30 with the
    first recording's own error, not an empty table."""
    excerpt = bundled_recording()
    for name in ("a.edf", "b.edf"):
        shutil.copyfile(excerpt, tmp_path / name)
    with pytest.raises(
        DatasetError, match=r"none of its 2 recordings .*; the first: /\S+/a\.edf: no beat annot"
    ):
        evaluate("ppg-hr", tmp_path)
    shutil.copyfile(excerpt.with_suffix(".txt"), tmp_path / "b.txt")
    result = evaluate("ppg-hr", tmp_path)
    assert list(result["per_recording"]) == ["b"] and result["overall"]["mae_bpm"] is not None
    assert [s["code"] for s in result["skipped"]] == ["missing"]


def test_eval_beats_skips_a_record_whose_annotations_are_cut(
    tmp_path: Path, data_dir: Path
) -> None:
    pytest.importorskip("wfdb")
    for src in (data_dir / "mitbih").glob("119_60s.*"):
        shutil.copyfile(src, tmp_path / src.name)
        shutil.copyfile(src, tmp_path / src.name.replace("119_60s", "cut"))
    (tmp_path / "cut.hea").write_text(
        (tmp_path / "119_60s.hea").read_text().replace("119_60s", "cut")
    )
    atr = (tmp_path / "cut.atr").read_bytes()
    (tmp_path / "cut.atr").write_bytes(atr[: len(atr) // 2 + 1])
    result = evaluate("beats", tmp_path)
    assert list(result["per_record"]) == ["119_60s"]
    ((skipped),) = result["skipped"]
    assert skipped["recording"] == str(tmp_path / "cut.hea") and "cut.atr" in skipped["error"]
    assert result["overall"]["V"]["reference_beats"] > 0


@pytest.mark.shared
@pytest.mark.slow
def test_eval_ppg_hr_on_the_shared_set(shared_data: Path) -> None:
    r = _fedwear("eval", "ppg-hr", str(shared_data / "wristppg"), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert len(result["per_recording"]) == 10
    assert result["overall"]["mae_bpm"] is not None


def test_beat_annotations_of_the_bundled_excerpt_exist() -> None:
    assert len(read_beat_text(bundled_recording().with_suffix(".txt"))) > 100
