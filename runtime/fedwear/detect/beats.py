"""Cardiac beats: N/S/V per beat (int8 model), and the events a wearer's ECG warrants.

- ``ectopic_beat``: the first S or V beat after a quiet minute (the count since the last
  event rides along), so a patient with frequent ectopy gets one event a minute, not one a
  second;
- ``ventricular_run``: ``run_length`` or more V beats in a row, once per run;
- ``irregular_rhythm``: the last beats' RR intervals look like atrial fibrillation
  (``fedwear.infer.rhythm``: irregular, spread out and in random order), once until the
  rhythm settles again. The intervals next to V beats are left out of this check, as AF
  detectors leave ectopic beats out: frequent ventricular ectopy makes sinus rhythm as
  uneven as fibrillation, and it has its own events. Nor is it raised while the beats
  share one P wave (``fedwear.infer.atrial``): fibrillation has none.

The model judges one beat at a time; each beat's V probability is then blended with
that of the earlier beats of its shape (``fedwear.infer.families``), and a beat still
most likely N is called V when that blend reaches ``min_v_probability``. Where the
template fit is only fair (under ``marginal_template_fit``), noise starts to shape the
beats and makes them differ from the template as V beats do: a V call there needs
``min_v_probability_marginal``.

A V call also needs the beat to show something ventricular besides what the model says
(``shows_ventricular``): a V shape, prematurity, or a place in a run of V beats. A beat
of the wearer's usual shape that comes on time is not V, however its RR features lean:
on their intervals alone the model called V late beats of an irregular rhythm and
on-time beats of a noisy record. A run is the exception because a sustained ventricular
rhythm comes on time, and once the template has taken its shape its beats match it.

In a fibrillating rhythm every beat comes early or late, so its RR intervals say nothing
about ectopy: the model then sees an on-time beat's RR features and judges the shape
alone, and since AAMI labels the beats of that rhythm N, a beat it still calls S is
called N. The rhythm counts as fibrillating when every interval passes the check and the
intervals left once those next to beats V by shape are out are still irregular and
spread out: unevenness that V beats alone explain is frequent ventricular ectopy, and
judged as fibrillation its S beats were called N and every beat lost its RR features.
Nor does it while the beats not V by shape share one P wave: frequent atrial ectopy
makes the intervals as uneven, but the atria still beat in order, and its S beats are
what the detector is for.
"V by shape" is what the model says of the beat given an on-time beat's RR features,
not the beat's class, which depends on this check: in fibrillation the RR features make
many beats V, and leaving those out left intervals regular enough to end the check. A
beat whose own correlation with the wearer's template is under
``ventricular_shape_max_fit`` is V by shape too, whatever the model says: networks
rebuilt from other seeds called none of a wide synthetic V beat V by shape, and frequent
ventricular ectopy was then judged fibrillation (docs/models.md, "Beats: V by shape").

Beats whose recent on-time neighbours no longer match the wearer's template (motion or
electrode noise shapes the trace, not the heart) are labelled Q, unclassifiable, as AAMI
EC57 does: they add no RR interval to the rhythm check, and the first of each such
stretch raises one ``ecg_unclassifiable`` event instead of a false ectopic one (a stretch
ends once beats have been classifiable for ``NOISY_CLEAR_NS``). Until the
template's fit is first known (some ten beats after the start or a gap), beats are held
and then judged by that fit. The beats of a run of tachycardia, early against the
long-run rhythm, are not such neighbours (``fedwear.infer.beats``). A run of V beats
can still close the gate, once its beats are the on-time neighbours; so a gated beat is
called V when the model gives it at least ``gated_min_v_probability`` and its shape is
that of a family of V beats the model was sure of on a clean trace
(``gated_family_min_v``, over ``gated_family_min_beats`` or more beats). Noise makes no
such family, so it stays Q.
"""

from __future__ import annotations

__all__ = [
    "BeatDetector",
    "NoiseRules",
    "beat_class",
    "shows_ventricular",
    "ventricular_by_shape",
]

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..errors import ModelError
from ..infer.beats import BEAT_INPUT_SIZE, SEGMENT_SIZE, Beat, BeatTracker
from ..infer.card import ModelCard
from ..infer.engine import QuantizedModel
from ..infer.families import BeatFamilies
from ..infer.rhythm import FibrillationCheck, FibrillationVerdict
from .base import Detector, Event, Window

ECTOPIC_QUIET_NS = 60_000_000_000
# A noisy stretch ends only once beats have been classifiable for this long: on a moving
# wearer's ECG the fit flickers about the gate, and each classifiable beat ending it made
# every flicker a new ``ecg_unclassifiable`` event (84 in the wrist set's 0.89 h of
# exercise). A product bound, like the quiet time above, not fitted to any recording.
NOISY_CLEAR_NS = 30_000_000_000
# Until the template's fit is known (the tracker's first FIT_BEATS on-time beats, some ten
# beats), beats are held, then judged by that first fit: Q if it is poor, classified if
# not. Labelling them all Q lost every ectopic beat of a tracker's first seconds, after
# each gap in the stream as at its start. Past this many, the oldest held beat is Q.
HELD_BEATS_MAX = 32


def beat_class(
    probs: np.ndarray,
    classes: tuple[str, ...],
    min_v_probability: float,
    fibrillating: bool,
    v_needs: float = 0.0,
) -> str:
    """The class a classified beat gets (the training tool scores with this too, so the
    card's figures are the detector's): the most likely one, except that a beat leaning N
    is V once V (blended over its family) reaches ``min_v_probability``, a V call needs
    V at ``v_needs`` or more (else the likelier of the others), and S is N while the
    rhythm fibrillates (AAMI labels that rhythm's beats N)."""
    k = int(np.argmax(probs))
    v = classes.index("V")
    if classes[k] == "N" and probs[v] >= min_v_probability:
        k = v
    if k == v and probs[v] < v_needs:
        k = max((i for i in range(len(probs)) if i != v), key=lambda i: float(probs[i]))
    cls = classes[k]
    return "N" if cls == "S" and fibrillating else cls


def ventricular_by_shape(on_time: np.ndarray, own_fit: float, v: int, max_fit: float) -> bool:
    """Whether the fibrillation check leaves out a beat's intervals as V by shape (the
    module says why): the model's most likely class given an on-time beat's RR features
    (``on_time``) is V, or the beat correlates with its template under ``max_fit``. The
    training tool scores with this too."""
    return int(np.argmax(on_time)) == v or own_fit < max_fit


def shows_ventricular(by_shape: bool, premature: bool, in_v_run: bool) -> bool:
    """Whether a beat may be called V at all (the module says why): V by shape, early,
    or after a V beat. The training tool scores with this too."""
    return by_shape or premature or in_v_run


@dataclass(frozen=True)
class NoiseRules:
    """The two rules that keep a moving wearer's ECG noise from being called V (the
    module says why); the training tool scores with these too."""

    marginal_fit: float
    min_v_marginal: float
    gated_min_v: float
    gated_family_v: float
    gated_family_beats: int

    @classmethod
    def from_thresholds(
        cls, number: Callable[[str], float], count: Callable[[str], int]
    ) -> NoiseRules:
        """From the card's thresholds (or the training tool's), each read by the accessor
        of its kind, so that a count of 5.5 or 0 is refused rather than cut to a whole."""
        return cls(
            number("marginal_template_fit"),
            number("min_v_probability_marginal"),
            number("gated_min_v_probability"),
            number("gated_family_min_v"),
            count("gated_family_min_beats"),
        )

    def v_needs(self, quality: float) -> float:
        """The least V probability a V call needs at this template fit."""
        return self.min_v_marginal if quality < self.marginal_fit else 0.0

    def family_vouches(self, shape: np.ndarray, families: BeatFamilies) -> bool:
        """Whether a gated beat's shape is a family of classified V beats; the model's
        own V probability must then reach ``gated_min_v`` too."""
        v = families.v_probability(shape, self.gated_family_beats)
        return v >= self.gated_family_v


class BeatDetector(Detector):
    name = "beats"
    streams = frozenset({"ecg"})

    def __init__(self, model: QuantizedModel, rate_hz: float) -> None:
        card = model.card
        self.model = model
        self.rate = card.stream_rate("ecg", rate_hz)
        self.classes = card.names("preprocessing", "classes")
        if not {"N", "S", "V"} <= set(self.classes):
            raise ModelError(
                f"card classes {list(self.classes)} lack one of N, S, V",
                path=str(card.path),
                code="card",
            )
        self._v = self.classes.index("V")
        self.run_length = card.count("thresholds", "run_length")
        # The verdict decides how a beat is classified (the module says why); the same
        # check over the intervals between beats not called V raises the event.
        thresholds = self._fibrillation_thresholds(card)
        p_wave_fit = card.number("thresholds", "fibrillation_p_wave_fit")
        try:
            self.fibrillation = FibrillationVerdict(*thresholds, p_wave_fit)
        except ValueError as exc:  # a window too short for the check's histogram
            raise ModelError(
                f"card thresholds.fibrillation_window_beats: {exc}",
                path=str(card.path),
                code="card",
            ) from None
        self.fibrillation_without_v = FibrillationCheck(*thresholds)
        self._on_time = np.zeros(BEAT_INPUT_SIZE, np.float32)  # the shape, RR ratios of 1
        self.ventricular_shape_max_fit = card.number("thresholds", "ventricular_shape_max_fit")
        self.min_quality = card.number("thresholds", "min_template_fit")
        self.families = BeatFamilies(
            SEGMENT_SIZE,
            card.number("thresholds", "family_min_correlation"),
            card.number("thresholds", "family_weight"),
        )
        self.min_v_probability = card.number("thresholds", "min_v_probability")
        self.noise = NoiseRules.from_thresholds(
            partial(card.number, "thresholds"), partial(card.count, "thresholds")
        )
        self.tracker = BeatTracker(self.rate)
        self.beats: list[tuple[int, str]] = []  # (t_ns, class), kept when record_beats
        # With each recorded beat, the class probabilities its label came from; zeros for a
        # Q beat, and S's is 0 while the fibrillation check rules S out (ROC curves).
        self.beat_scores: list[np.ndarray] = []
        self.record_beats = False
        self.flagged = 0
        self.unclassifiable = 0
        self.reset()

    @staticmethod
    def _fibrillation_thresholds(card: ModelCard) -> tuple[int, float, float]:
        return (
            card.count("thresholds", "fibrillation_window_beats"),
            card.number("thresholds", "fibrillation_rmssd_ratio"),
            card.number("thresholds", "fibrillation_entropy"),
        )

    def _no_interval_here(self) -> None:
        """Missing samples or a Q beat: no rhythm check may measure across here."""
        self.fibrillation.gap()
        self.fibrillation_without_v.gap()

    def flagged_windows(self) -> int:
        return self.flagged

    def reset(self) -> None:
        self.tracker.reset()
        self.families.reset()
        self._v_run = 0
        self._last_ectopic: dict[str, int] = {}
        self._since_event: dict[str, int] = {}
        self.fibrillation.reset()
        self.fibrillation_without_v.reset()
        self._irregular = False
        self._noisy = False
        self._clean_since_ns: int | None = None  # first classifiable beat after noise
        self._held: list[Beat] = []

    def on_window(self, w: Window) -> list[Event]:
        new = min(w.hop, len(w.t))
        v = w.v[-new:]
        if not np.all(np.isfinite(v)):
            self.flagged += 1
            self.tracker.reset()  # a gap: beats across it would have false RR intervals
            for held in self._held:  # their template's fit will never be known
                self._unclassifiable(held, w.stream)
            self._held.clear()
            self._no_interval_here()
            return []
        events: list[Event] = []
        for beat in self.tracker.push(w.t[-new:], v):
            events += self._classified(beat, w.stream)
        return events

    def _classified(self, beat: Beat, stream: str) -> list[Event]:
        """Hold the beats that come before the template's fit is known, then judge them
        by the first fit there is (``HELD_BEATS_MAX`` says why)."""
        if beat.quality == 0.0:
            self._held.append(beat)
            if len(self._held) <= HELD_BEATS_MAX:
                return []
            return self._unclassifiable(self._held.pop(0), stream)
        events = []
        for held in self._held:
            held.quality = beat.quality
            events += self._judged(held, stream)
        self._held.clear()
        return events + self._judged(beat, stream)

    def _judged(self, beat: Beat, stream: str) -> list[Event]:
        if beat.quality < self.min_quality:
            return self._gated(beat, stream)
        self._clean(beat.t_ns)
        fibrillating = self.fibrillation.judge(beat.t_ns / 1e9)
        self._on_time[:SEGMENT_SIZE] = beat.features[:SEGMENT_SIZE]
        by_shape = self.model.run(self._on_time)[0].reshape(-1)
        ventricular_shape = ventricular_by_shape(  # before the buffer is reused
            by_shape, beat.own_fit, self._v, self.ventricular_shape_max_fit
        )
        raw = by_shape if fibrillating else self.model.run(beat.features)[0].reshape(-1)
        probs = self.families.blend(beat.shape, raw, self._v)
        v_needs = self.noise.v_needs(beat.quality)
        if not shows_ventricular(ventricular_shape, beat.premature, self._v_run > 0):
            v_needs = math.inf
        cls = beat_class(probs, self.classes, self.min_v_probability, fibrillating, v_needs)
        self.fibrillation.judged(beat.t_ns / 1e9, ventricular_shape, beat.shape)
        return self._labelled(beat, stream, cls, probs, fibrillating)

    def _gated(self, beat: Beat, stream: str) -> list[Event]:
        """A beat among neighbours that no longer fit the template: Q, unless it is V by
        both the model and the family of its shape (the module says why)."""
        if self.noise.family_vouches(beat.shape, self.families):  # only then ask the model
            raw = self.model.run(beat.features)[0].reshape(-1)
            if raw[self._v] >= self.noise.gated_min_v:
                self._no_interval_here()
                return self._labelled(beat, stream, "V", raw.astype(np.float64), False)
        return self._unclassifiable(beat, stream)

    def _labelled(
        self, beat: Beat, stream: str, cls: str, probs: np.ndarray, fibrillating: bool
    ) -> list[Event]:
        """Record a classified beat and raise the events its class warrants."""
        if cls == "V":
            self.fibrillation_without_v.gap()  # no interval into or out of a V beat
        else:
            self.fibrillation_without_v.beat(beat.t_ns / 1e9)
        if self.record_beats:
            self._record(beat.t_ns, cls, probs, fibrillating)
        events = []
        if cls in ("S", "V"):
            self._since_event[cls] = self._since_event.get(cls, 0) + 1
            last = self._last_ectopic.get(cls)
            if last is None or beat.t_ns - last >= ECTOPIC_QUIET_NS:
                kind = "ventricular" if cls == "V" else "supraventricular"
                probability = float(probs[self.classes.index(cls)])
                events.append(
                    Event(
                        beat.t_ns,
                        self.name,
                        "ectopic_beat",
                        stream,
                        f"{kind} ectopic beat ({cls}, p={probability:.2f})",
                        value=probability,
                        extra={"class": cls, "count_since_last_event": self._since_event[cls]},
                    )
                )
                self._since_event[cls] = 0
            self._last_ectopic[cls] = beat.t_ns
        self._v_run = self._v_run + 1 if cls == "V" else 0
        if self._v_run == self.run_length:
            events.append(
                Event(
                    beat.t_ns,
                    self.name,
                    "ventricular_run",
                    stream,
                    f"{self.run_length} or more ventricular beats in a row",
                    value=float(self.run_length),
                )
            )
        events += self._rhythm(beat.t_ns, stream)
        return events

    def _record(self, t_ns: int, cls: str, probs: np.ndarray, fibrillating: bool) -> None:
        scores = probs.astype(np.float64)
        if fibrillating and "S" in self.classes:
            scores[self.classes.index("S")] = 0.0  # the check rules S out, whatever p(S)
        self.beats.append((t_ns, cls))
        self.beat_scores.append(scores)

    def _clean(self, t_ns: int) -> None:
        """A classifiable beat: the noisy stretch ends after ``NOISY_CLEAR_NS`` of them."""
        if not self._noisy:
            return
        if self._clean_since_ns is None:
            self._clean_since_ns = t_ns
        elif t_ns - self._clean_since_ns >= NOISY_CLEAR_NS:
            self._noisy = False

    def _unclassifiable(self, beat: Beat, stream: str) -> list[Event]:
        self.unclassifiable += 1
        self._clean_since_ns = None
        if self.record_beats:
            self._record(beat.t_ns, "Q", np.zeros(len(self.classes)), False)
        self._v_run = 0
        self._no_interval_here()
        if self._noisy or beat.quality == 0.0:  # 0.0: the template's fit never came
            return []
        self._noisy = True
        return [
            Event(
                beat.t_ns,
                self.name,
                "ecg_unclassifiable",
                stream,
                f"ECG too noisy to classify beats (template fit {beat.quality:.2f} "
                f"< {self.min_quality})",
                value=beat.quality,
            )
        ]

    def _rhythm(self, t_ns: int, stream: str) -> list[Event]:
        check = self.fibrillation_without_v
        if check.latest is None:
            return []
        if not self._irregular and check.active and not self.fibrillation.atrial.organised:
            self._irregular = True
            st = check.latest
            return [
                Event(
                    t_ns,
                    self.name,
                    "irregular_rhythm",
                    stream,
                    f"irregular rhythm like atrial fibrillation over {check.beats} beats "
                    f"(RMSSD {100 * st.rmssd_ratio:.0f}% of the mean RR, entropy "
                    f"{st.entropy:.2f}, {st.turning_points} turning points)",
                    value=st.rmssd_ratio,
                    extra={"entropy": round(st.entropy, 3), "turning_points": st.turning_points},
                )
            ]
        if self._irregular and check.latest.rmssd_ratio < 0.7 * check.rmssd_ratio:
            self._irregular = False
        return []
