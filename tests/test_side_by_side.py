"""tools/train/ppg_hr.py's side_by_side: ppg_hr's networks as one network of the same
function. Needs TensorFlow (the ``[train]`` extra); skipped without it."""

from __future__ import annotations

import numpy as np
import pytest
from training_tools import use_training_tools

use_training_tools(tensorflow=True)

import common  # noqa: E402
import ppg_hr  # noqa: E402

pytestmark = pytest.mark.host


def _members(n: int) -> list[object]:
    """Untrained networks of ppg_hr's recipe, each with other weights and biases (a fresh
    network's biases are all zero, which would hide a wrong bias)."""
    common.seed_everything()
    common.fresh_names()
    members = [ppg_hr.build() for _ in range(n)]
    rng = np.random.default_rng(1)
    for m in members:
        m.set_weights([w + rng.normal(0.0, 0.05, w.shape).astype(w.dtype) for w in m.get_weights()])
    return members


def _logits_averaged(members: list[object]) -> object:
    from tensorflow import keras

    inp = keras.Input(members[0].input.shape[1:])
    logits = [keras.Model(m.input, m.get_layer("logits").output)(inp) for m in members]
    return keras.Model(inp, keras.layers.Softmax()(keras.layers.Average()(logits)))


def test_one_network_computes_the_average_of_the_members_logits() -> None:
    members = _members(3)
    xs = np.random.default_rng(2).random((64, *members[0].input.shape[1:])).astype(np.float32)
    expected = _logits_averaged(members).predict(xs, verbose=0)
    joined = ppg_hr.side_by_side(members)
    assert np.allclose(joined.predict(xs, verbose=0), expected, atol=1e-6)
    convolutions = [la for la in joined.layers if la.__class__.__name__ == "Conv1D"]
    assert [c.groups for c in convolutions] == [1, 3, 1]


def test_joining_draws_nothing_from_the_seeded_generator() -> None:
    """The next fold's networks start from the draws they would have had anyway."""
    members = _members(2)
    ppg_hr.side_by_side(members)
    after_joining = ppg_hr.build().get_weights()[0]
    _members(2)
    assert np.array_equal(ppg_hr.build().get_weights()[0], after_joining)
