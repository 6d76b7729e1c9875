"""A pass over a converted .tflite that drops what a one-window-at-a-time runtime never uses.

The converter writes every Keras Conv1D as EXPAND_DIMS, CONV_2D, RESHAPE, so two
convolutions in a row hand their output through a RESHAPE to rank 3 and an EXPAND_DIMS
back to the same rank-4 shape; and a batch dimension left open (-1) makes every Flatten a
SHAPE, STRIDED_SLICE, PACK and RESHAPE computed at each invoke. The runtime feeds one
window at a time (batch 1), so here:

1. the batch dimension is 1 in every tensor's signature;
2. each RESHAPE takes its output's (now static) shape as a constant target, which leaves
   the ops that computed the target unused;
3. a chain of RESHAPE, EXPAND_DIMS and SQUEEZE becomes one RESHAPE of its first tensor,
   or nothing where it brings that tensor back to its own shape;
4. ops whose outputs nothing reads, then tensors, buffers and op codes nothing refers
   to, are dropped, and every index is renumbered.

Reshapes only relabel the same bytes, so every output is the same to the bit (checked
in tests/test_slim_graph.py); what shrinks is the graph the flatbuffer stores.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def slim_graph(content: bytes) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    if len(model.subgraphs) != 1:
        return content  # control flow: leave it to the converter
    graph = model.subgraphs[0]
    _fix_batch(graph)
    _constant_reshape_targets(model, graph)
    _collapse_relabel_chains(model, graph)
    _drop_dead_ops(graph)
    _renumber_tensors(model, graph)
    _renumber_buffers(model, graph)
    _renumber_op_codes(model, graph)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _builtin(model: Any, op: Any) -> int:
    return _code_value(model.operatorCodes[op.opcodeIndex])


def _code_value(code: Any) -> int:
    return int(max(code.builtinCode, code.deprecatedBuiltinCode))


def _shape_only() -> set[int]:
    from tensorflow.lite.python.schema_py_generated import BuiltinOperator as Op

    return {Op.RESHAPE, Op.EXPAND_DIMS, Op.SQUEEZE}


def _fix_batch(graph: Any) -> None:
    for t in graph.tensors:
        sig = t.shapeSignature
        if sig is not None and len(sig) and sig[0] == -1 and list(sig[1:]) == list(t.shape[1:]):
            t.shapeSignature = None


def _constant_reshape_targets(model: Any, graph: Any) -> None:
    from tensorflow.lite.python.schema_py_generated import BuiltinOperator

    for op in graph.operators:
        if _builtin(model, op) != BuiltinOperator.RESHAPE or len(op.inputs) < 2:
            continue
        if model.buffers[graph.tensors[op.inputs[1]].buffer].data is None:
            op.inputs[1] = _constant_shape(model, graph, int(op.outputs[0]))


def _constant_shape(model: Any, graph: Any, tensor: int) -> int:
    """A new constant int32 tensor holding ``tensor``'s static shape; its index."""
    from tensorflow.lite.python import schema_py_generated as schema

    shape = np.asarray(graph.tensors[tensor].shape, dtype=np.int32)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(shape.tobytes(), dtype=np.uint8)
    model.buffers.append(buffer)
    target = schema.TensorT()
    target.shape = np.asarray([len(shape)], dtype=np.int32)
    target.type = schema.TensorType.INT32
    target.buffer = len(model.buffers) - 1
    graph.tensors.append(target)
    return len(graph.tensors) - 1


def _quantization(t: Any) -> tuple[Any, ...] | None:
    q = t.quantization
    if q is None or q.scale is None:
        return None
    scale, zero = np.asarray(q.scale).tolist(), np.asarray(q.zeroPoint).tolist()
    return tuple(scale), tuple(zero), q.quantizedDimension


def _same_tensor(a: Any, b: Any) -> bool:
    return (
        list(a.shape) == list(b.shape) and a.type == b.type and _quantization(a) == _quantization(b)
    )


def _collapse_relabel_chains(model: Any, graph: Any) -> None:
    """A chain of RESHAPE, EXPAND_DIMS or SQUEEZE only relabels its first tensor's bytes:
    its last op reads that tensor, as one RESHAPE, or nothing reads the chain's end where
    it comes back to that tensor's shape, type and quantization."""
    shape_only = _shape_only()
    producer = {int(o): op for op in graph.operators for o in op.outputs}
    keep = {int(i) for i in graph.outputs}
    alias: dict[int, int] = {}
    for op in graph.operators:
        if _builtin(model, op) not in shape_only:
            continue
        out, origin = int(op.outputs[0]), int(op.inputs[0])
        while (before := producer.get(origin)) is not None and _builtin(
            model, before
        ) in shape_only:
            origin = int(before.inputs[0])
            if _same_tensor(graph.tensors[origin], graph.tensors[out]):
                break
        if origin == int(op.inputs[0]):
            continue  # not a chain
        if out not in keep and _same_tensor(graph.tensors[origin], graph.tensors[out]):
            alias[out] = origin
        else:
            _make_reshape(model, graph, op, origin)

    def resolve(i: int) -> int:
        while i in alias:
            i = alias[i]
        return i

    for op in graph.operators:
        op.inputs = np.asarray([resolve(int(i)) if i >= 0 else i for i in op.inputs], np.int32)


def _make_reshape(model: Any, graph: Any, op: Any, source: int) -> None:
    """``op`` becomes RESHAPE(source) to its own output's shape."""
    from tensorflow.lite.python import schema_py_generated as schema

    reshape = schema.BuiltinOperator.RESHAPE
    codes = [_code_value(code) for code in model.operatorCodes]
    if reshape not in codes:
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = reshape
        code.version = 1
        model.operatorCodes.append(code)
        codes.append(reshape)
    op.opcodeIndex = codes.index(reshape)
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.NONE, None
    op.inputs = np.asarray([source, _constant_shape(model, graph, int(op.outputs[0]))], np.int32)


def _drop_dead_ops(graph: Any) -> None:
    outputs = set(int(i) for i in graph.outputs)
    while True:
        read = {int(i) for op in graph.operators for i in op.inputs} | outputs
        live = [op for op in graph.operators if any(int(o) in read for o in op.outputs)]
        if len(live) == len(graph.operators):
            return
        graph.operators = live


def _renumber_tensors(model: Any, graph: Any) -> None:
    used = {int(i) for op in graph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
    used |= {int(i) for i in (*graph.inputs, *graph.outputs)}
    new = {old: k for k, old in enumerate(sorted(used))}
    graph.tensors = [graph.tensors[i] for i in sorted(used)]

    def renumber(indices: Any) -> Any:
        return np.asarray([new[int(i)] if i >= 0 else i for i in indices], np.int32)

    for op in graph.operators:
        op.inputs, op.outputs = renumber(op.inputs), renumber(op.outputs)
    graph.inputs, graph.outputs = renumber(graph.inputs), renumber(graph.outputs)
    for signature in model.signatureDefs or []:
        for tensor_map in [*(signature.inputs or []), *(signature.outputs or [])]:
            tensor_map.tensorIndex = new[tensor_map.tensorIndex]


def _renumber_buffers(model: Any, graph: Any) -> None:
    metadata = model.metadata or []
    used = {0} | {t.buffer for t in graph.tensors} | {m.buffer for m in metadata}
    new = {old: k for k, old in enumerate(sorted(used))}  # buffer 0 stays the empty one
    model.buffers = [model.buffers[i] for i in sorted(used)]
    for item in [*graph.tensors, *metadata]:
        item.buffer = new[item.buffer]


def _renumber_op_codes(model: Any, graph: Any) -> None:
    used = sorted({op.opcodeIndex for op in graph.operators})
    new = {old: k for k, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for op in graph.operators:
        op.opcodeIndex = new[op.opcodeIndex]
