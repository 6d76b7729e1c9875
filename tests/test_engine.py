"""The TFLite engine and model cards: real interpreters, real shipped models, bad files."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import examples, memory_cap
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedwear.errors import ExitCode, ModelError
from fedwear.infer.card import load_card, models_dir
from fedwear.infer.engine import RUNTIME_ENV, interpreter_class, load_model

MODELS = models_dir()
SHIPPED = ("fall", "beats", "ppg_hr", "normal")


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A private copy of the fall model and its card, to damage."""
    for suffix in (".json", ".tflite"):
        shutil.copy(MODELS / f"fall{suffix}", tmp_path / f"fall{suffix}")
    return tmp_path / "fall.json"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_matches_card_and_budget(name: str) -> None:
    model = load_model(MODELS / f"{name}.json")
    card = model.card
    assert card.bytes <= 64 * 1024
    assert all(t.dtype == "int8" for t in card.inputs + card.outputs)
    assert (MODELS / f"{name}.md").read_text().startswith("# Model card")
    x = np.zeros(card.inputs[0].shape, dtype=np.float32)
    out = model.run(x)[0]
    assert out.shape == card.outputs[0].shape and np.all(np.isfinite(out))


def test_quantization_round_trip_uses_the_models_parameters() -> None:
    model = load_model(MODELS / "fall.json")
    spec = model.card.inputs[0]
    x = np.linspace(0, 1, int(np.prod(spec.shape)), dtype=np.float32).reshape(spec.shape)
    model._quantize(0, x)
    quantized = model._in_view[0]().copy()  # the interpreter's own input tensor
    assert quantized.dtype == np.int8
    back = (quantized.astype(np.float32) - spec.zero_point) * spec.scale
    assert np.abs(back - x).max() <= spec.scale / 2 + 1e-6
    # Far outside the range: clipped to the int8 limits, not wrapped, and not "non-finite".
    model._quantize(0, np.full(spec.shape, 1e30, dtype=np.float32))
    assert (model._in_view[0]() == 127).all()
    model._quantize(0, np.full(spec.shape, -1e30, dtype=np.float32))
    assert (model._in_view[0]() == -128).all()


def test_outputs_reuse_buffers() -> None:
    model = load_model(MODELS / "beats.json")
    x = np.zeros(model.card.inputs[0].shape, dtype=np.float32)
    first = model.run(x)[0]
    second = model.run(x + 0.5)[0]
    assert first is second  # no allocation per call: callers copy what they keep


def test_fall_score_separates_a_fall_from_standing(data_dir: Path) -> None:
    from fedwear.infer.features import fall_input
    from fedwear.ingest.recordings import read_mobifall

    model = load_model(MODELS / "fall.json")
    path = next((data_dir / "mobifall").rglob("FOL_acc_*.txt"))
    imu = read_mobifall(path, 100.0).streams["imu"][1]
    impact = int(np.argmax(np.linalg.norm(imu[:, :3], axis=1)))
    fall_window = imu[impact - 150 : impact + 250]
    still = np.tile(np.array([[0, 0, 9.81, 0, 0, 0]], np.float32), (400, 1))
    assert float(model.run(fall_input(fall_window))[0][0, 0]) > 0.5
    assert float(model.run(fall_input(still))[0][0, 0]) < 0.5


def test_truncated_model_is_rejected(model_copy: Path) -> None:
    tfl = model_copy.with_suffix(".tflite")
    tfl.write_bytes(tfl.read_bytes()[:1000])
    with pytest.raises(ModelError, match="truncated or replaced") as err:
        load_model(model_copy)
    assert err.value.exit_code == ExitCode.MODEL


def test_a_card_or_model_without_end_is_a_model_error(model_copy: Path) -> None:
    """stat() gives /dev/zero a size of 0: the size check passed, and the read went on
    until memory ran out (MemoryError)."""
    tfl = model_copy.with_suffix(".tflite")
    tfl.unlink()
    tfl.symlink_to("/dev/zero")
    with memory_cap(), pytest.raises(ModelError, match=r"\.tflite: model file holds more than"):
        load_model(model_copy)
    model_copy.unlink()
    model_copy.symlink_to("/dev/zero")
    with memory_cap(), pytest.raises(ModelError, match=r"\.json: card holds more than 1 MiB"):
        load_model(model_copy)


def test_a_card_nested_past_the_json_decoder_is_a_model_error(model_copy: Path) -> None:
    model_copy.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="nests too deeply"):
        load_model(model_copy)


def test_not_a_flatbuffer_is_rejected(model_copy: Path) -> None:
    tfl = model_copy.with_suffix(".tflite")
    size = tfl.stat().st_size
    tfl.write_bytes(b"\x89PNG" + bytes(size - 4))
    with pytest.raises(ModelError, match="not a TFLite flatbuffer"):
        load_model(model_copy)


def test_flipped_byte_fails_the_hash(model_copy: Path) -> None:
    tfl = model_copy.with_suffix(".tflite")
    data = bytearray(tfl.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tfl.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_model(model_copy)


def test_another_model_under_this_card_is_a_mismatch(model_copy: Path) -> None:
    """A valid model with the wrong signature, hash re-carded: the tensor check catches it."""
    other = (MODELS / "beats.tflite").read_bytes()
    model_copy.with_suffix(".tflite").write_bytes(other)
    card = json.loads(model_copy.read_text())
    beats = json.loads((MODELS / "beats.json").read_text())
    card["sha256"], card["bytes"] = beats["sha256"], beats["bytes"]
    model_copy.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="shape"):
        load_model(model_copy)


def test_wrong_quantization_in_card_is_a_mismatch(model_copy: Path) -> None:
    card = json.loads(model_copy.read_text())
    card["inputs"][0]["scale"] *= 2
    model_copy.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="quantization") as info:
        load_model(model_copy)
    assert str(info.value).count("model:") == 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c: c.pop("inputs"), "missing inputs"),
        (lambda c: c.update(format="x"), "format"),
        (lambda c: c.update(file="../../etc/passwd"), "plain file name"),
        (lambda c: c["inputs"][0].update(shape=[1, -3]), "positive integers"),
        (lambda c: c.update(bytes="many"), "wrong type"),
        # JSON integers are unbounded: float() of this one raised OverflowError
        (lambda c: c["inputs"][0].update(scale=10**400), r"inputs\[0\]\.scale must be a finite"),
        (lambda c: c["outputs"][0].update(scale=float("nan")), "scale must be a finite"),
    ],
)
def test_malformed_card_names_the_key(model_copy: Path, damage, message: str) -> None:
    card = json.loads(model_copy.read_text())
    damage(card)
    model_copy.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=message) as info:
        load_card(model_copy)
    assert str(info.value).startswith(f"model: {model_copy}: card ")  # one prefix, not two


def test_card_that_is_not_json(model_copy: Path) -> None:
    model_copy.write_bytes(b"{\x00\xff")
    with pytest.raises(ModelError, match="unreadable model card"):
        load_card(model_copy)
    # Past Python's 4300-digit limit for int(str), json raised a plain ValueError.
    model_copy.write_text('{"bytes": 1' + "0" * 5000 + "}")
    with pytest.raises(ModelError, match=r"unreadable model card \(Exceeds the limit"):
        load_card(model_copy)


def test_a_huge_integer_in_a_card_parameter_is_a_model_error(model_copy: Path) -> None:
    """math.isfinite(10**400) raises OverflowError: the typed reads must not."""
    card = json.loads(model_copy.read_text())
    key = next(k for k, v in card["thresholds"].items() if isinstance(v, float))
    card["thresholds"][key] = 10**400
    model_copy.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=f"thresholds.{key} must be a finite number"):
        load_card(model_copy).number("thresholds", key)


def test_missing_files(tmp_path: Path, model_copy: Path) -> None:
    with pytest.raises(ModelError, match="card not found"):
        load_model(tmp_path / "nope.json")
    model_copy.with_suffix(".tflite").unlink()
    with pytest.raises(ModelError, match="model file not found"):
        load_model(model_copy)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused(bad: float) -> None:
    model = load_model(MODELS / "normal.json")
    x = np.zeros(model.card.inputs[0].shape, dtype=np.float32)
    model._quantize(0, x + 0.5)
    before = model._in_view[0]().copy()
    x.flat[3] = bad
    with pytest.raises(ModelError, match="NaN or Inf"):
        model.run(x)
    assert np.array_equal(model._in_view[0](), before)  # nothing half written
    x.flat[3] = 0.0
    assert np.isfinite(model.run(x)[0]).all()  # the engine is still usable


def _numpy_quantized(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The engine's arithmetic as numpy writes it (what it ran before native/fw_quant.c)."""
    with np.errstate(over="ignore"):  # beyond float32: infinite, then clamped
        q = np.rint(x * np.float32(1.0 / scale)) + np.float32(zero_point)
    return np.maximum(np.minimum(q, np.float32(127)), np.float32(-128)).astype(np.int8)


# Every input scale and zero point of the shipped models, and some others.
INPUT_SPECS = sorted(
    {(s.scale, s.zero_point) for n in SHIPPED for s in load_card(MODELS / f"{n}.json").inputs}
    | {(0.5, -10), (1e-3, 0), (37.0, 127)}
)


@settings(max_examples=examples(300), deadline=None)
@given(
    x=hnp.arrays(
        np.float32,
        st.integers(0, 64),
        elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
    ),
    spec=st.sampled_from(INPUT_SPECS),
    halves=st.booleans(),
)
def test_c_quantization_is_numpys_bit_for_bit(
    x: np.ndarray, spec: tuple[float, int], halves: bool
) -> None:
    from fedwear.native import ffi, lib

    scale, zero_point = spec
    if halves:  # exact ties, where rounding half to even must agree
        x = ((np.arange(x.size, dtype=np.float32) - 40) + np.float32(0.5)) * np.float32(scale)
    out = np.full(x.size, 99, np.int8)
    status = lib.fw_quantize_i8(
        ffi.from_buffer("float[]", x),
        x.size,
        1.0 / scale,
        zero_point,
        ffi.from_buffer("int8_t[]", out, require_writable=True),
    )
    assert status == lib.FW_OK
    assert np.array_equal(out, _numpy_quantized(x, scale, zero_point))


@pytest.mark.parametrize("name", SHIPPED)
def test_c_dequantization_is_numpys_bit_for_bit(name: str) -> None:
    from fedwear.native import ffi, lib

    every = np.arange(-128, 128, dtype=np.int8)
    for spec in load_card(MODELS / f"{name}.json").outputs:
        out = np.zeros(every.size, np.float32)
        lib.fw_dequantize_i8(
            ffi.from_buffer("int8_t[]", every),
            every.size,
            spec.zero_point,
            spec.scale,
            ffi.from_buffer("float[]", out, require_writable=True),
        )
        want = np.subtract(every, spec.zero_point, dtype=np.float32) * np.float32(spec.scale)
        assert np.array_equal(out, want)


def test_float32_copy_refuses_non_finite_and_copies_the_rest() -> None:
    from fedwear.native import ffi, lib

    x = np.array([1.5, -0.0, 3e38, 1e-45], np.float32)
    out = np.zeros(4, np.float32)
    assert (
        lib.fw_copy_finite_f32(
            ffi.from_buffer("float[]", x), 4, ffi.from_buffer("float[]", out, require_writable=True)
        )
        == lib.FW_OK
    )
    assert out.tobytes() == x.tobytes()
    x[2] = np.inf
    out[:] = 7
    assert (
        lib.fw_copy_finite_f32(
            ffi.from_buffer("float[]", x), 4, ffi.from_buffer("float[]", out, require_writable=True)
        )
        == lib.FW_EINVAL
    )
    assert (out == 7).all()


def test_a_window_of_another_dtype_or_layout_is_converted() -> None:
    model = load_model(MODELS / "fall.json")
    rng = np.random.default_rng(1)
    x = rng.normal(size=model.card.inputs[0].shape).astype(np.float32)
    want = model.run(x)[0].copy()
    assert np.array_equal(model.run(x.astype(np.float64))[0], want)
    strided = np.repeat(x, 2, axis=-1)[..., ::2]  # not contiguous
    assert not strided.flags.c_contiguous
    assert np.array_equal(model.run(strided)[0], want)


def test_pinned_runtime_is_the_one_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI pins each runtime in turn ($FEDWEAR_TFLITE); the pin must hold, not fall back."""
    pinned = os.environ.get(RUNTIME_ENV)
    if pinned:
        assert interpreter_class().__module__.split(".")[0] == pinned
    monkeypatch.setenv(RUNTIME_ENV, "tensorflow")
    with pytest.raises(ModelError, match="expected one of tflite_runtime, ai_edge_litert"):
        interpreter_class()


def test_pinned_runtime_that_is_missing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("tflite_runtime", "ai_edge_litert"):
        try:
            importlib.import_module(f"{module}.interpreter")
        except ImportError:
            monkeypatch.setenv(RUNTIME_ENV, module)
            with pytest.raises(ModelError, match="no TFLite runtime: pip install"):
                load_model(MODELS / "fall.json")
            return
    pytest.skip("both runtimes are installed here")


def test_a_resized_tensor_is_refused_not_overrun() -> None:
    """The C conversion writes as many values as the card's shape holds; a tensor that
    no longer has that size (resized behind the engine's back) stops it first."""
    model = load_model(MODELS / "fall.json")
    shape = model.card.inputs[0].shape
    index = model._interp.get_input_details()[0]["index"]
    model._interp.resize_tensor_input(index, [2, *shape[1:]])
    model._interp.allocate_tensors()
    with pytest.raises(ModelError, match=r"^model: input .* resized"):
        model.run(np.zeros(shape, np.float32))
