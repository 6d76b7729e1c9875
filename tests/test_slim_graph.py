"""tools/train/slim.py on a model converted here: the same outputs to the bit, a graph
of one window. Needs TensorFlow (the ``[train]`` extra); skipped without it."""

from __future__ import annotations

import numpy as np
import pytest
from training_tools import use_training_tools

use_training_tools(tensorflow=True)

import common  # noqa: E402

pytestmark = pytest.mark.host


def _conv_net() -> object:
    """Conv1D twice, a branch, Flatten over an open batch: what the shipped models hold."""
    from tensorflow import keras

    common.seed_everything()
    inp = keras.Input((32, 3), name="x")
    h = keras.layers.Conv1D(8, 5, padding="same", activation="relu")(inp)
    h = keras.layers.Conv1D(8, 3, padding="same", activation="relu")(h)
    side = keras.layers.Conv1D(1, 3, padding="same")(inp)
    h = keras.layers.Conv1D(1, 3, padding="same")(h)
    out = keras.layers.Flatten()(keras.layers.Add()([h, side]))
    return keras.Model(inp, keras.layers.Softmax(name="y")(out))


def _run(content: bytes, xs: np.ndarray) -> tuple[np.ndarray, list[str], bool]:
    """Outputs for ``xs``, the ops run, and whether any tensor has an open batch."""
    interp = common.new_interpreter(content)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    out = []
    for x in xs:
        interp.set_tensor(i["index"], x[None].astype(i["dtype"]))
        interp.invoke()
        out.append(interp.get_tensor(o["index"]).copy())
    ops = [op["op_name"] for op in interp._get_ops_details()]
    open_batch = any(-1 in list(t["shape_signature"]) for t in interp.get_tensor_details())
    return np.stack(out), ops, open_batch


@pytest.mark.parametrize("quantized", [False, True])
def test_the_slim_graph_computes_the_same_to_the_bit(quantized: bool) -> None:
    from slim import slim_graph

    rng = np.random.default_rng(0)
    xs = rng.normal(size=(40, 32, 3)).astype(np.float32)
    before = common.converted(_conv_net(), xs if quantized else None)
    after = slim_graph(before)
    if quantized:
        xs = rng.integers(-128, 128, size=xs.shape).astype(np.int8)
    out_before, ops_before, open_before = _run(before, xs)
    out_after, ops_after, open_after = _run(after, xs)
    assert np.array_equal(out_before, out_after)
    assert "SHAPE" in ops_before and "SHAPE" not in ops_after
    assert open_before and not open_after
    assert ops_after.count("RESHAPE") + ops_after.count("EXPAND_DIMS") == 2  # in, out
    assert len(after) < len(before)
    assert slim_graph(after) == after  # a second pass finds nothing to drop
