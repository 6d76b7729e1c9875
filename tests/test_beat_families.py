"""Beat families: a beat's V probability blended with that of earlier beats of its shape."""

from __future__ import annotations

import numpy as np
import pytest

from fedwear.infer.families import FAMILIES, BeatFamilies

V = 2  # N, S, V
GRID = np.linspace(-1.0, 1.0, 80)


def _shape(width: float, shift: float = 0.0) -> np.ndarray:
    return np.exp(-0.5 * ((GRID - shift) / width) ** 2)


def _families() -> BeatFamilies:
    return BeatFamilies(80, min_correlation=0.9, weight=0.5)


def test_a_beat_of_a_new_shape_keeps_its_own_probabilities() -> None:
    families = _families()
    probs = np.array([0.5, 0.2, 0.3])
    assert np.allclose(families.blend(_shape(0.05), probs, V), probs)
    assert families.count == 1


def test_a_doubted_beat_takes_half_its_familys_v_probability() -> None:
    families = _families()
    wide = _shape(0.3)
    for _ in range(4):
        families.blend(wide, np.array([0.05, 0.05, 0.9]), V)
    out = families.blend(wide, np.array([0.6, 0.1, 0.3]), V)
    assert out[V] == pytest.approx(0.5 * 0.3 + 0.5 * 0.9)
    # N and S share what is left in the model's own ratio, 6 : 1.
    assert out[0] / out[1] == pytest.approx(6.0)
    assert out.sum() == pytest.approx(1.0)
    assert families.count == 1


def test_a_beat_unlike_every_family_is_not_blended() -> None:
    families = _families()
    for _ in range(4):
        families.blend(_shape(0.3), np.array([0.05, 0.05, 0.9]), V)
    narrow = np.array([0.6, 0.1, 0.3])
    assert np.allclose(families.blend(_shape(0.03, shift=0.4), narrow, V), narrow)
    assert families.count == 2


def test_a_family_remembers_what_the_model_said_not_the_blend() -> None:
    """Otherwise a family would drift towards its first members' class for good."""
    families = _families()
    wide = _shape(0.3)
    families.blend(wide, np.array([0.0, 0.0, 1.0]), V)
    for _ in range(9):
        families.blend(wide, np.array([0.9, 0.1, 0.0]), V)
    # The family's mean is 0.1 (1 of 10), whatever the blends in between were.
    assert families.blend(wide, np.array([0.9, 0.1, 0.0]), V)[V] == pytest.approx(0.05)


def test_when_every_family_is_taken_the_smallest_makes_way() -> None:
    families = _families()
    shapes = [_shape(0.04, shift=s) for s in np.linspace(-0.8, 0.8, FAMILIES + 1)]
    for k, shape in enumerate(shapes[:FAMILIES]):
        for _ in range(1 if k == 3 else 3):  # family 3 has a single member
            families.blend(shape, np.array([0.1, 0.0, 0.9]), V)
    assert families.count == FAMILIES
    families.blend(shapes[-1], np.array([1.0, 0.0, 0.0]), V)  # founds a family in 3's place
    assert families.count == FAMILIES
    assert families.blend(shapes[-1], np.array([1.0, 0.0, 0.0]), V)[V] == 0.0
    # Family 3's shape is gone (its beat would take 0.45 from it), the others are not.
    assert families.blend(shapes[3], np.array([1.0, 0.0, 0.0]), V)[V] == 0.0
    assert families.blend(shapes[0], np.array([1.0, 0.0, 0.0]), V)[V] == pytest.approx(0.45)


def test_reset_forgets_every_family() -> None:
    families = _families()
    families.blend(_shape(0.3), np.array([0.0, 0.0, 1.0]), V)
    families.reset()
    assert families.count == 0
    assert families.blend(_shape(0.3), np.array([1.0, 0.0, 0.0]), V)[V] == 0.0


def test_a_weight_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="weight"):
        BeatFamilies(80, min_correlation=0.9, weight=1.5)


def test_v_probability_asks_about_a_shape_without_joining_its_family() -> None:
    families = _families()
    wide = _shape(0.3)
    for v in (0.9, 0.7, 0.8):
        families.blend(wide, np.array([1.0 - v, 0.0, v]), V)
    assert families.v_probability(wide, min_members=3) == pytest.approx(0.8)
    assert families.v_probability(wide, min_members=4) == 0.0
    assert families.v_probability(_shape(0.03, shift=0.4), min_members=1) == 0.0
    # Asking joined nothing: the family's mean is still that of its three members.
    assert families.blend(wide, np.array([1.0, 0.0, 0.0]), V)[V] == pytest.approx(0.5 * 0.8)
    assert families.count == 1
