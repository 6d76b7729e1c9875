"""Runs an int8 TFLite model that matches its card, with no allocation per window.

The interpreter comes from ``tflite_runtime`` (the device's module) or, failing that,
``ai_edge_litert`` (its successor, on PyPI for current Pythons). Before first use the
model's hash, flatbuffer identifier, tensors and quantization are checked against the
card: a truncated, foreign or retrained-but-not-re-carded file is a ModelError, not a
crash or a silently wrong score.
"""

from __future__ import annotations

__all__ = [
    "KERNELS_ENV",
    "RUNTIME_ENV",
    "QuantizedModel",
    "interpreter_class",
    "kernels",
    "kernels_in_use",
    "load_model",
    "new_interpreter",
    "runtime_release",
]

import contextlib
import hashlib
import importlib
import importlib.metadata
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..bounded import read_at_most
from ..errors import ModelError
from .card import ModelCard, TensorSpec, load_card

MAX_MODEL_BYTES = 4 << 20
_RUNTIMES = ("tflite_runtime.interpreter", "ai_edge_litert.interpreter")
_DTYPES = ("int8", "float32")  # what native/fw_quant.c converts to and from


RUNTIME_ENV = "FEDWEAR_TFLITE"
KERNELS_ENV = "FEDWEAR_TFLITE_KERNELS"
# The runtime's default applies the XNNPACK delegate, 7-11x faster than the reference
# kernels for our convolutional int8 models (docs/benchmarks.md, section 4). It rounds
# int8 its own way, and so do TFLite's optimized kernels, each CPU family its own: a
# score may differ by a few int8 steps from one machine to another. "reference" gives up
# the speed for kernels whose plain integer arithmetic gives x86_64 and aarch64 the same
# outputs to the bit: what tests/test_in_sample.py pins figures with.
_KERNELS = {"default": None, "reference": "BUILTIN_REF"}


def _pip_name(module: str) -> str:
    return module.split(".")[0].replace("_", "-")


def interpreter_class() -> Any:
    """The first TFLite interpreter that imports, in the device's order of preference.

    ``$FEDWEAR_TFLITE`` (``tflite_runtime`` or ``ai_edge_litert``) pins one, so that a host
    with both installed can test each, and a pinned runtime that is missing is an error
    rather than a silent fallback to the other.
    """
    wanted = os.environ.get(RUNTIME_ENV, "").strip()
    if wanted:
        modules = tuple(m for m in _RUNTIMES if m.split(".")[0] == wanted)
        if not modules:
            names = ", ".join(m.split(".")[0] for m in _RUNTIMES)
            raise ModelError(
                f"${RUNTIME_ENV}={wanted!r}: expected one of {names}", code="no-runtime"
            )
    else:
        modules = _RUNTIMES
    for module in modules:
        try:
            return importlib.import_module(module).Interpreter
        except ImportError:
            continue
    raise ModelError(
        f"no TFLite runtime: pip install {' or '.join(_pip_name(m) for m in modules)}",
        code="no-runtime",
    )


def runtime_release() -> str:
    """The TFLite runtime the engine loads, with its version: ``ai_edge_litert 2.3.0``."""
    module = interpreter_class().__module__.split(".")[0]
    try:
        return f"{module} {importlib.metadata.version(_pip_name(module))}"
    except importlib.metadata.PackageNotFoundError:  # built into the image without metadata
        return module


def kernels_in_use(interpreter: Any) -> str:
    """``xnnpack`` where the XNNPACK delegate took the graph (the runtime's default, which
    silently does without it where it cannot start, e.g. with no /sys/devices/system/cpu
    to read), ``reference`` or ``tflite`` (TFLite's optimized kernels) otherwise."""
    try:
        nodes = interpreter._get_ops_details()  # the execution plan, delegate nodes included
    except Exception:  # a private method: a runtime without it cannot tell
        return "unknown"
    if any(node.get("op_name") == "DELEGATE" for node in nodes):
        return "xnnpack"
    return "reference" if _kernels_asked_for() == "reference" else "tflite"


def _kernels_asked_for() -> str:
    """``$FEDWEAR_TFLITE_KERNELS`` checked: ``default`` (unset too) or ``reference``."""
    wanted = os.environ.get(KERNELS_ENV, "").strip() or "default"
    if wanted not in _KERNELS:
        raise ModelError(
            f"${KERNELS_ENV}={wanted!r}: expected one of {', '.join(_KERNELS)}", code="no-runtime"
        )
    return wanted


def new_interpreter(content: bytes, num_threads: int | None = 1) -> Any:
    """An interpreter for `content`, from `interpreter_class`, with the kernels that
    ``$FEDWEAR_TFLITE_KERNELS`` names (``default``, unset: the runtime's own choice;
    ``reference``: TFLite's reference kernels, the same outputs on every machine)."""
    resolver = _KERNELS[_kernels_asked_for()]
    cls = interpreter_class()
    options: dict[str, Any] = {"model_content": content, "num_threads": num_threads}
    if resolver is not None:
        resolver_type = importlib.import_module(cls.__module__).OpResolverType
        options["experimental_op_resolver_type"] = getattr(resolver_type, resolver)
    return cls(**options)


@contextlib.contextmanager
def kernels(choice: str) -> Iterator[None]:
    """Every model loaded inside uses `choice`: for tools that load their models through
    the detectors (a figure pinned with the reference kernels)."""
    saved = os.environ.get(KERNELS_ENV)
    os.environ[KERNELS_ENV] = choice
    try:
        yield
    finally:
        if saved is None:
            del os.environ[KERNELS_ENV]
        else:
            os.environ[KERNELS_ENV] = saved


@contextlib.contextmanager
def _native_stderr_quiet() -> Iterator[None]:
    """Hide what the TFLite C++ runtime prints on fd 2 while it loads ("Created TensorFlow
    Lite XNNPACK delegate"): an INFO line in the journal at every start. Its errors still
    reach us, as Python exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _check_tensor(detail: dict[str, Any], spec: TensorSpec, what: str) -> None:
    shape = tuple(int(n) for n in detail["shape"])
    dtype = np.dtype(detail["dtype"]).name
    scale, zero = detail.get("quantization", (0.0, 0))
    problems = []
    if shape != spec.shape:
        problems.append(f"shape {shape} != card {spec.shape}")
    if dtype != spec.dtype:
        problems.append(f"dtype {dtype} != card {spec.dtype}")
    if not _same(float(scale), spec.scale) or int(zero) != spec.zero_point:
        problems.append(f"quantization ({scale}, {zero}) != card ({spec.scale}, {spec.zero_point})")
    if problems:
        raise ModelError(f"{what} {spec.name!r}: " + "; ".join(problems), code="mismatch")


class QuantizedModel:
    """One interpreter with its quantized input/output buffers, reused for every call."""

    def __init__(self, card: ModelCard, content: bytes) -> None:
        self.card = card
        where = str(card.model_path)
        try:
            with _native_stderr_quiet():
                self._interp = new_interpreter(content)
                self._interp.allocate_tensors()
            self.kernels = kernels_in_use(self._interp)
        except ModelError:
            raise
        except Exception as exc:  # the runtimes raise bare ValueError/RuntimeError
            raise ModelError(f"TFLite rejected the model ({exc})", path=where) from None
        ins, outs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(ins) != len(card.inputs) or len(outs) != len(card.outputs):
            raise ModelError(
                f"model has {len(ins)} inputs/{len(outs)} outputs, card says "
                f"{len(card.inputs)}/{len(card.outputs)}",
                path=where,
                code="mismatch",
            )
        try:
            for d, s in zip(ins, card.inputs, strict=True):
                _check_tensor(d, s, "input")
            for d, s in zip(outs, card.outputs, strict=True):
                _check_tensor(d, s, "output")
        except ModelError as exc:
            raise ModelError(exc.args[0], path=where, code=exc.code) from None
        for spec in (*card.inputs, *card.outputs):
            if spec.dtype not in _DTYPES:
                raise ModelError(
                    f"tensor {spec.name!r} is {spec.dtype}; the engine takes int8 or float32",
                    path=where,
                    code="mismatch",
                )
        from ..native import ffi, lib  # the C extension, imported when a model is used

        self._ffi, self._lib = ffi, lib
        # Raw views of the interpreter's own tensors: inputs are written and outputs read in
        # place, with no set_tensor/get_tensor copies. A view must not outlive the call
        # (invoke refuses to run while one is held), so each is taken and dropped per use.
        self._in_view = [self._interp.tensor(int(d["index"])) for d in ins]
        self._out_view = [self._interp.tensor(int(d["index"])) for d in outs]
        self._in_size = [math.prod(s.shape) for s in card.inputs]
        # Scaling by a multiply: x / scale == x * (1 / scale), to within one rounding.
        self._in_inverse_scale = [1.0 / s.scale if s.scale else 0.0 for s in card.inputs]
        self._out_buf = [np.zeros(s.shape, dtype=np.float32) for s in card.outputs]
        self._out_c = [ffi.from_buffer("float[]", b, require_writable=True) for b in self._out_buf]
        self.invocations = 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.card.inputs[0].shape

    def _quantize(self, i: int, x: np.ndarray) -> None:
        """Check finite, scale, round, shift and clamp straight into the interpreter's
        int8 input tensor (or copy into a float32 one) in one C pass (native/fw_quant.c):
        numpy took seven calls, whose overhead outweighed the small models' invoke."""
        spec, ffi = self.card.inputs[i], self._ffi
        if x.size != self._in_size[i]:
            raise ModelError(
                f"input {spec.name!r} needs {self._in_size[i]} values, got {x.size}",
                code="input",
            )
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            # One copy; a value beyond float32's range becomes infinite and is refused.
            x = np.ascontiguousarray(x, dtype=np.float32)
        source = ffi.from_buffer("float[]", x)
        view = self._in_view[i]()
        if view.size != x.size:  # checked against the card at load; C must never overrun
            raise ModelError(f"input {spec.name!r} tensor resized to {view.shape}", code="input")
        if spec.dtype == "int8":
            target = ffi.from_buffer("int8_t[]", view, require_writable=True)
            status = self._lib.fw_quantize_i8(
                source, x.size, self._in_inverse_scale[i], spec.zero_point, target
            )
        else:
            target = ffi.from_buffer("float[]", view, require_writable=True)
            status = self._lib.fw_copy_finite_f32(source, x.size, target)
        if status != self._lib.FW_OK:
            raise ModelError(f"input {spec.name!r} has NaN or Inf", code="non-finite")

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """Float inputs in, float outputs out (views of reused buffers: copy to keep)."""
        for i, x in enumerate(inputs):
            self._quantize(i, x if isinstance(x, np.ndarray) else np.asarray(x, np.float32))
        self._interp.invoke()
        self.invocations += 1
        for j, spec in enumerate(self.card.outputs):
            view = self._out_view[j]()
            if view.size != self._out_buf[j].size:
                raise ModelError(f"output {spec.name!r} resized to {view.shape}", code="output")
            if spec.dtype == "int8":
                self._lib.fw_dequantize_i8(
                    self._ffi.from_buffer("int8_t[]", view),
                    view.size,
                    spec.zero_point,
                    spec.scale,
                    self._out_c[j],
                )
            else:
                np.copyto(self._out_buf[j], view)
        return self._out_buf


def _read_model(card: ModelCard) -> bytes:
    path = card.model_path
    try:
        content = read_at_most(path, MAX_MODEL_BYTES)
        if len(content) > MAX_MODEL_BYTES:
            raise ModelError(f"model file holds more than {MAX_MODEL_BYTES} bytes", path=str(path))
    except FileNotFoundError:
        raise ModelError("model file not found", path=str(path), code="missing") from None
    except OSError as exc:
        raise ModelError(f"unreadable model file ({exc})", path=str(path)) from None
    if len(content) != card.bytes:
        raise ModelError(
            f"model file is {len(content)} bytes, card says {card.bytes} (truncated or replaced)",
            path=str(path),
            code="corrupt",
        )
    if content[4:8] != b"TFL3":
        raise ModelError("not a TFLite flatbuffer (no TFL3 identifier)", path=str(path))
    digest = hashlib.sha256(content).hexdigest()
    if digest != card.sha256:
        raise ModelError(
            f"sha256 {digest[:12]}… does not match the card's {card.sha256[:12]}…",
            path=str(path),
            code="corrupt",
        )
    return content


def load_model(card_path: Path) -> QuantizedModel:
    """Card, then file, then interpreter: each step's failure is a ModelError saying which."""
    card = load_card(card_path)
    return QuantizedModel(card, _read_model(card))
