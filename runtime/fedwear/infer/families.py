"""Beat families: one wearer's beats grouped by shape, each group remembering the model.

A wearer's ventricular ectopic beats mostly come from a few foci, so they share a few
shapes; the model, seeing one beat at a time, may doubt some of them (a V beat in a long
run, once the template has taken on that run's shape, or a premature V beat that looks
supraventricular). Each beat joins the family whose mean shape it correlates with best,
if at ``min_correlation`` or more, else founds one; the V probability the detector acts
on is the beat's own blended with its family's mean V probability. The family
remembers what the model said of its members, never the blended value, so a family
cannot talk itself into a class. S beats share the normal beat's shape (prematurity is
what marks them), so only V is blended: S and N keep their ratio.
"""

from __future__ import annotations

__all__ = ["BeatFamilies"]

import numpy as np

FAMILIES = 16
# How far a family's mean shape moves towards each new member: slow enough that a few
# odd beats cannot drag it, fast enough to follow a shape that changes over minutes.
FOLLOW = 0.05


class BeatFamilies:
    """Blend each beat's V probability with its shape family's mean (see the module)."""

    def __init__(self, segment_size: int, min_correlation: float, weight: float) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"family weight {weight} is outside 0..1")
        self.min_correlation = min_correlation
        self.weight = weight
        self._shapes = np.zeros((FAMILIES, segment_size))
        self._v_sums = np.zeros(FAMILIES)
        self._counts = np.zeros(FAMILIES, dtype=np.int64)
        self.count = 0

    def reset(self) -> None:
        self._v_sums[:] = 0.0
        self._counts[:] = 0
        self.count = 0

    def blend(self, shape: np.ndarray, probs: np.ndarray, v: int) -> np.ndarray:
        """The beat's class probabilities with V blended with its family's (a new array);
        the beat then joins that family, remembering ``probs[v]``."""
        out = np.array(probs, dtype=np.float64)
        family = self._nearest(shape)
        if family < 0:
            self._found(shape, float(probs[v]))
            return out
        blended = (1.0 - self.weight) * out[v] + self.weight * (
            self._v_sums[family] / self._counts[family]
        )
        others = np.arange(len(out)) != v
        rest = float(out[others].sum())
        share = out[others] / rest if rest > 0 else np.full(len(out) - 1, 1.0 / (len(out) - 1))
        out[others] = share * (1.0 - blended)
        out[v] = blended
        self._shapes[family] += FOLLOW * (shape - self._shapes[family])
        self._v_sums[family] += float(probs[v])
        self._counts[family] += 1
        return out

    def v_probability(self, shape: np.ndarray, min_members: int) -> float:
        """The mean V probability the model gave the family the shape belongs to, where
        that family has ``min_members`` or more; else 0. The beat joins no family: this
        asks about a beat the detector could not classify (its neighbours are noisy)."""
        family = self._nearest(shape)
        if family < 0 or self._counts[family] < min_members:
            return 0.0
        return float(self._v_sums[family] / self._counts[family])

    def _nearest(self, shape: np.ndarray) -> int:
        """The family the shape correlates with best, if at ``min_correlation``; else -1."""
        if self.count == 0:
            return -1
        shapes = self._shapes[: self.count]
        a = shape - shape.mean()
        b = shapes - shapes.mean(axis=1, keepdims=True)
        denominator = np.sqrt((a * a).sum() * (b * b).sum(axis=1))
        r = np.divide(b @ a, denominator, out=np.zeros(self.count), where=denominator > 0)
        best = int(np.argmax(r))
        return best if r[best] >= self.min_correlation else -1

    def _found(self, shape: np.ndarray, v_probability: float) -> None:
        """A new family; when all are taken, the smallest makes way."""
        slot = self.count if self.count < FAMILIES else int(np.argmin(self._counts))
        self.count = min(self.count + 1, FAMILIES)
        self._shapes[slot] = shape
        self._v_sums[slot] = v_probability
        self._counts[slot] = 1
