"""The shipped graphs are one window's (tools/train/slim.py): batch 1, no shape computed
at each invoke, no reshape there and back between two convolutions."""

from __future__ import annotations

import pytest

from fedwear.infer.card import models_dir
from fedwear.infer.engine import kernels, new_interpreter

NAMES = ("fall", "beats", "ppg_hr", "normal")
SHAPE_ONLY = {"RESHAPE", "EXPAND_DIMS", "SQUEEZE"}


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_graph_is_one_windows(name: str) -> None:
    with kernels("reference"):  # no delegate: the file's own ops, one node each
        interp = new_interpreter((models_dir() / f"{name}.tflite").read_bytes())
    interp.allocate_tensors()
    for t in interp.get_tensor_details():
        assert -1 not in list(t["shape_signature"]), (name, t["index"])
    ops = interp._get_ops_details()
    assert not {op["op_name"] for op in ops} & {"SHAPE", "PACK"}
    made_by = {int(o): op["op_name"] for op in ops for o in op["outputs"]}
    relabelled_twice = [
        op["index"]
        for op in ops
        if op["op_name"] in SHAPE_ONLY and made_by.get(int(op["inputs"][0])) in SHAPE_ONLY
    ]
    assert not relabelled_twice
