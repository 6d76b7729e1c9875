"""The beat classifier's input: a template of the wearer's normal beat, RR features."""

from __future__ import annotations

import numpy as np

from fedwear.infer.beats import RR_FEATURES, RR_GAIN, SEGMENT_SIZE, Beat, BeatTracker

RATE = 250.0


def trace(beats: list[tuple[float, bool]], seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A trace with a beat at each (time, wide): narrow upright or wide inverted."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.zeros_like(t)
    for at, wide in beats:
        width, height = (0.04, -1.3) if wide else (0.012, 1.0)
        x += height * np.exp(-0.5 * ((t - at) / width) ** 2)
    return np.round(t * 1e9).astype(np.int64), x[:, None]


def bigeminy(seconds: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A narrow upright normal beat, then a wide inverted premature one, and so on."""
    beats, at, normal = [], 0.5, True
    while at < seconds - 1:
        beats.append((at, not normal))
        at += 0.5 if normal else 1.1  # coupling interval, then the compensatory pause
        normal = not normal
    t, x = trace(beats, seconds)
    return t, x, ["V" if wide else "N" for _, wide in beats]


def beats_of(t: np.ndarray, x: np.ndarray) -> list[Beat]:
    """The tracker fed a second at a time, as a device delivers the stream."""
    tracker = BeatTracker(RATE)
    out = []
    for i in range(0, len(t), 250):
        out += tracker.push(t[i : i + 250], x[i : i + 250])
    return out


def test_premature_beats_stay_out_of_the_normal_template() -> None:
    """In bigeminy half the beats are V; a plain median template would be half V too,
    and the normal beats would differ from it as much as the ectopic ones."""
    t, x, kinds = bigeminy(120.0)
    beats = beats_of(t, x)
    assert len(beats) >= len(kinds) - 3
    diff = np.array([np.abs(b.features[:SEGMENT_SIZE]).max() for b in beats])
    premature = np.array([b.features[SEGMENT_SIZE + 3] < 0 for b in beats])  # pre/local
    settled = slice(70, None)  # past the first template's 32 beats
    normal_diff, ectopic_diff = (
        diff[settled][~premature[settled]],
        diff[settled][premature[settled]],
    )
    assert len(normal_diff) > 10 and len(ectopic_diff) > 10
    # Each beat carries its own waveform: upright normal beats, inverted ectopic ones.
    shapes = np.array([b.shape for b in beats])
    lowest_is_deeper = np.abs(shapes.min(axis=1)) > shapes.max(axis=1)
    assert np.array_equal(lowest_is_deeper[settled], premature[settled])
    assert normal_diff.max() < 0.2
    assert ectopic_diff.min() > 1.0
    assert beats[0].features.shape == (SEGMENT_SIZE + RR_FEATURES,)


def test_own_fit_tells_a_beat_of_another_shape_whenever_it_comes() -> None:
    """Each beat's own correlation with the template: high for the normal beats, low for
    the wide inverted ones, which the fibrillation check then takes for V by shape."""
    t, x, _ = bigeminy(60.0)
    beats = beats_of(t, x)
    wide = np.array([np.abs(b.shape.min()) > b.shape.max() for b in beats])
    fits = np.array([b.own_fit for b in beats])
    assert beats[0].own_fit == 1.0  # the first beat is its own template
    assert wide[5:].sum() > 20 and (~wide[5:]).sum() > 20
    assert fits[5:][~wide[5:]].min() > 0.95
    assert fits[5:][wide[5:]].max() < 0.0


def test_quality_is_high_on_clean_beats_and_low_when_noise_shapes_them() -> None:
    t, x, _ = bigeminy(60.0)
    clean = beats_of(t, x)
    assert all(b.quality == 0.0 for b in clean[:4])  # no verdict before enough beats
    assert min(b.quality for b in clean[30:]) > 0.95
    rng = np.random.default_rng(7)
    wander = np.convolve(rng.normal(0, 1.0, len(t)), np.ones(15) / 15, mode="same")[:, None]
    noisy = beats_of(t, x + wander)
    assert np.median([b.quality for b in noisy[30:]]) < 0.7


def test_a_run_of_tachycardia_is_not_taken_for_noise() -> None:
    """Thirty fast wide beats after a minute of sinus rhythm: within ten beats they are on
    time against the local mean RR and unlike the template, as noisy beats would be, but
    they are early against the long-run rhythm, so the quality gate stays open. (They
    do join the template, which takes sinus beats back within some 25 beats.)"""
    sinus = [(0.5 + k, False) for k in range(60)]
    run = [(60.1 + 0.6 * k, True) for k in range(30)]
    after = [(run[-1][0] + 1.0 + k, False) for k in range(40)]
    t, x = trace(sinus + run + after, after[-1][0] + 1.5)
    beats = beats_of(t, x)
    in_run = [b for b in beats if 60.0 < b.t_ns / 1e9 < run[-1][0] + 0.1]
    assert len(in_run) >= 28
    assert min(b.quality for b in in_run) > 0.9
    assert min(b.quality for b in beats[-10:]) > 0.9


def test_a_stream_that_starts_on_a_premature_beat_still_measures_rr_against_the_normal_rhythm() -> (
    None
):
    """The long-run mean RR is the yardstick of every RR feature. Seeded with the first
    interval alone (here a premature beat's 0.5 s), it made the normal beats of the next
    minute look 1.6 times late, as escape beats are."""
    first = [(0.5, False), (1.0, True)]  # a normal beat, then a premature one
    normal = [(1.0 + 1.2 + 0.8 * k, False) for k in range(40)]
    t, x = trace(first + normal, normal[-1][0] + 1.5)
    beats = beats_of(t, x)
    pre_over_long = np.array([b.features[SEGMENT_SIZE] / RR_GAIN + 1 for b in beats])
    on_time = pre_over_long[3:15]  # normal beats from the third on
    assert len(on_time) == 12
    assert np.all(np.abs(on_time - 1.0) < 0.05), on_time


def test_a_pause_does_not_make_the_beats_after_it_look_premature() -> None:
    """Sinus rhythm at 0.8 s with a 3.2 s pause (a sinus arrest, or beats missed) after
    every 20th beat: the on-time beats look less than 8 % early against both yardsticks,
    the local and the long-run mean RR (the pause enters them as 1.75 long-run means).
    Taken whole, the pause made them look up to 23 % early (local) and 12 % (long-run),
    and prematurity is what marks an S beat."""
    times, at = [], 0.5
    for k in range(200):
        times.append(at)
        at += 3.2 if k % 20 == 19 else 0.8
    t, x = trace([(s, False) for s in times], at + 1.0)
    beats = beats_of(t, x)
    rr = np.array([b.features[SEGMENT_SIZE:] for b in beats]) / RR_GAIN + 1.0
    pre = np.round(np.diff([b.t_ns for b in beats], prepend=0) / 1e9, 2)
    on_time = (pre == 0.8)[40:]  # past the long-run mean's first 16 intervals
    pre_long, pre_local = rr[40:, 0][on_time], rr[40:, 3][on_time]
    assert on_time.sum() > 100
    assert np.abs(pre_long - 1.0).max() < 0.08
    assert np.abs(pre_local - 1.0).max() < 0.08
