"""P waves that repeat tell frequent atrial ectopy from atrial fibrillation."""

from __future__ import annotations

import numpy as np

from fedwear.infer.atrial import (
    P_WAVE_SIZE,
    RECENT_BEATS,
    REFERENCE_BEATS,
    WINDOW_BEATS,
    AtrialActivity,
)
from fedwear.infer.beats import SEGMENT_BEFORE_S, SEGMENT_RATE_HZ, SEGMENT_SIZE
from fedwear.infer.rhythm import FibrillationVerdict

R_INDEX = round(SEGMENT_BEFORE_S * SEGMENT_RATE_HZ)
TIME_S = (np.arange(SEGMENT_SIZE) - R_INDEX) / SEGMENT_RATE_HZ


def beat_shape(rng: np.random.Generator, p_wave: bool, noise: float = 0.02) -> np.ndarray:
    """A segment as `Beat.shape` holds it: the QRS at R, a P wave 160 ms before when the
    atria are organised, else fibrillatory waves (a new random wiggle every beat)."""
    x = np.exp(-0.5 * (TIME_S / 0.012) ** 2)
    if p_wave:
        x += 0.15 * np.exp(-0.5 * ((TIME_S + 0.16) / 0.025) ** 2)
    else:
        phase, rate_hz = rng.uniform(0, 2 * np.pi), rng.uniform(5, 8)
        x += 0.05 * np.sin(2 * np.pi * rate_hz * TIME_S + phase)
    return (x + rng.normal(0, noise, SEGMENT_SIZE)).astype(np.float32)


def feed(activity: AtrialActivity, shapes: list[np.ndarray]) -> list[bool]:
    verdicts = []
    for shape in shapes:
        activity.beat(shape)
        verdicts.append(activity.organised)
    return verdicts


def test_the_p_wave_stretch_ends_before_the_qrs() -> None:
    assert 0 < P_WAVE_SIZE < R_INDEX - round(0.05 * SEGMENT_RATE_HZ)


def test_repeating_p_waves_are_organised_fibrillatory_waves_are_not() -> None:
    rng = np.random.default_rng(1)
    sinus = feed(AtrialActivity(0.5), [beat_shape(rng, True) for _ in range(100)])
    fibrillating = feed(AtrialActivity(0.5), [beat_shape(rng, False) for _ in range(100)])
    settled = REFERENCE_BEATS + WINDOW_BEATS // 2  # the reference fills, then half the window
    assert not any(sinus[: settled - 1]) and all(sinus[settled:])
    assert not any(fibrillating)


def test_baseline_wander_is_no_p_wave() -> None:
    """A tilt across every stretch repeats from beat to beat; the trend is removed first."""
    rng = np.random.default_rng(2)
    tilt = np.linspace(-0.3, 0.3, SEGMENT_SIZE).astype(np.float32)
    shapes = [beat_shape(rng, False) + tilt * rng.uniform(0.5, 1.5) for _ in range(100)]
    assert not any(feed(AtrialActivity(0.5), shapes))


def test_the_verdict_turns_within_a_few_beats_of_fibrillation_starting() -> None:
    rng = np.random.default_rng(3)
    activity = AtrialActivity(0.5)
    feed(activity, [beat_shape(rng, True) for _ in range(80)])
    assert activity.organised
    after = feed(activity, [beat_shape(rng, False) for _ in range(40)])
    # The last RECENT_BEATS correlations decide first; then the whole window follows.
    assert not any(after[RECENT_BEATS:])
    assert activity.correlation is not None and activity.correlation < 0.5


def test_reset_forgets_the_p_waves() -> None:
    rng = np.random.default_rng(4)
    activity = AtrialActivity(0.5)
    feed(activity, [beat_shape(rng, True) for _ in range(80)])
    activity.reset()
    assert activity.correlation is None and not activity.organised


def test_the_verdict_is_vetoed_while_the_p_waves_repeat() -> None:
    """Random intervals pass every RR test; with a P wave before each beat that is frequent
    atrial ectopy, not fibrillation. V beats have no P wave and are not compared."""
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.uniform(0.4, 1.2, 400))

    def verdicts(p_wave: bool) -> list[bool]:
        verdict = FibrillationVerdict(128, 0.1, 0.7, 0.5)
        out = []
        for i, t in enumerate(times):
            out.append(verdict.judge(float(t)))
            ventricular = i % 7 == 3
            shape = beat_shape(rng, p_wave and not ventricular)
            verdict.judged(float(t), ventricular, shape)
        return out

    organised, fibrillating = verdicts(True), verdicts(False)
    assert not any(organised)
    assert np.mean(fibrillating[150:]) > 0.8
