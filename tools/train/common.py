"""What every training script shares: seeds, subject folds, int8 export, cards, metrics.

TensorFlow is imported here and in the scripts only (the ``[train]`` extra); the runtime
never imports it. The int8 model is checked through the runtime's own engine, so the
figures in a card are those of the file that ships.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "runtime"))

from slim import slim_graph  # noqa: E402

from fedwear.atomic import write_atomically  # noqa: E402
from fedwear.infer.card import CARD_FORMAT, load_card  # noqa: E402
from fedwear.infer.engine import QuantizedModel, new_interpreter  # noqa: E402

SEED = 20261126
MAX_MODEL_BYTES = 64 * 1024


def seed_everything(seed: int = SEED) -> None:
    """Same data, same seed, same model: every source of randomness is pinned."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    random.seed(seed)
    np.random.seed(seed)
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)


def fresh_names() -> None:
    """Layer names count from zero again, so nothing a model ends with (its input and output
    names, the only names `strip_tensor_names` keeps) depends on how many models this
    process trained before it: `--only NAME` writes the same file as the full build. Call
    once per fitted model, not per ensemble member (names in one graph must differ)."""
    from tensorflow import keras

    keras.backend.clear_session()


def group_folds(groups: Sequence[str], k: int) -> list[list[str]]:
    """Split the distinct groups (subjects or records) into k folds, round robin, sorted."""
    names = sorted(set(groups))
    return [names[i::k] for i in range(min(k, len(names)))]


def average_of(members: Sequence[Any], shape: tuple[int, ...], input_name: str, name: str) -> Any:
    """One Keras model whose output is the mean of the members' outputs (one .tflite)."""
    from tensorflow import keras

    inp = keras.Input(shape, name=input_name)
    out = keras.layers.Average(name=name)([m(inp) for m in members])
    return keras.Model(inp, out)


def to_tflite(model: Any, representative: np.ndarray | None) -> bytes:
    """Full-integer int8 (with a representative set) or plain float32 (None), with one
    window's graph (slim.py): either way the file a float32 twin is compared with."""
    return slim_graph(strip_tensor_names(converted(model, representative)))


def converted(model: Any, representative: np.ndarray | None) -> bytes:
    """The TFLite converter's own output, for to_tflite."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        rep = representative.astype(np.float32)

        def gen() -> Any:
            for i in range(len(rep)):
                yield [rep[i : i + 1]]

        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        # One scale per weight tensor, not per output channel: in models this small the
        # per-channel tables (a float32 scale and an int64 zero point each) were a fifth
        # of the file (docs/models.md, "Rebuilt under the current pipeline"). The switch
        # is a private attribute; were it renamed, setting it would silently do nothing.
        if not hasattr(conv, "_experimental_disable_per_channel"):
            raise RuntimeError("this TensorFlow's converter has no per-tensor switch")
        conv._experimental_disable_per_channel = True
    return bytes(conv.convert())


def strip_tensor_names(content: bytes) -> bytes:
    """Drop the name of every tensor but the inputs and outputs (the card checks those).

    The converter names each tensor after its Keras layer path; in these small models the
    names were a third of the file, and nothing reads them. Weights, graph and
    quantization are left as they are, so the model computes exactly what it did.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    for graph in model.subgraphs:
        keep = set(graph.inputs) | set(graph.outputs)
        for index, tensor in enumerate(graph.tensors):
            if index not in keep:
                tensor.name = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def tensor_specs(content: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    interp = new_interpreter(content, num_threads=None)
    interp.allocate_tensors()

    def spec(d: dict[str, Any]) -> dict[str, Any]:
        scale, zero = d["quantization"]
        return {
            "name": d["name"],
            "shape": [int(n) for n in d["shape"]],
            "dtype": np.dtype(d["dtype"]).name,
            "scale": float(scale),
            "zero_point": int(zero),
        }

    # DELEGATE is the runtime's XNNPACK node, not an op of the file.
    ops = sorted({op["op_name"] for op in interp._get_ops_details()} - {"DELEGATE"})
    return (
        [spec(d) for d in interp.get_input_details()],
        [spec(d) for d in interp.get_output_details()],
        ops,
    )


def card_dict(
    name: str,
    content: bytes,
    preprocessing: dict[str, Any],
    thresholds: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    inputs, outputs, ops = tensor_specs(content)
    return {
        "format": CARD_FORMAT,
        "name": name,
        "file": f"{name}.tflite",
        "sha256": hashlib.sha256(content).hexdigest(),
        "bytes": len(content),
        "inputs": inputs,
        "outputs": outputs,
        "ops": ops,
        "preprocessing": preprocessing,
        "thresholds": thresholds,
        **extra,
    }


def save_model(out_dir: Path, card: dict[str, Any], content: bytes, markdown: str) -> None:
    if len(content) > MAX_MODEL_BYTES:
        raise SystemExit(f"{card['name']}: {len(content)} bytes, over the 64 KB budget")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Models are shipped files, readable by all (the runtime's own state is owner-only).
    write_atomically(out_dir / card["file"], content, mode=0o644)
    write_atomically(
        out_dir / f"{card['name']}.json", (json.dumps(card, indent=1) + "\n").encode(), mode=0o644
    )
    write_atomically(out_dir / f"{card['name']}.md", markdown.encode(), mode=0o644)


def engine_for(card: dict[str, Any], content: bytes, tmp_dir: Path) -> QuantizedModel:
    """The runtime's engine over an in-memory model (card checks included)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"{card['name']}.json"
    path.write_text(json.dumps(card))
    return QuantizedModel(load_card(path), content)


def predict_engine(model: QuantizedModel, x: np.ndarray) -> np.ndarray:
    """Run a batch through the int8 engine one window at a time, as the device does."""
    rows = [model.run(xi[None])[0].copy() for xi in x]
    return np.concatenate(rows, axis=0) if rows else np.zeros((0,))


def predict_float(content: bytes, x: np.ndarray) -> np.ndarray:
    interp = new_interpreter(content, num_threads=None)
    interp.allocate_tensors()
    i = interp.get_input_details()[0]["index"]
    o = interp.get_output_details()[0]["index"]
    out = []
    for xi in x:
        interp.set_tensor(i, xi[None].astype(np.float32))
        interp.invoke()
        out.append(interp.get_tensor(o).copy())
    return np.concatenate(out, axis=0)


def wrist_steps(
    path: Path, ppg_hz: float, imu_hz: float
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The runtime's (t_ns, spectra input, imu window) steps over one wrist EDF recording.

    The streams are fed a second at a time, interleaved as a device delivers them.
    """
    from fedwear.infer.heart import WristSpectra
    from fedwear.ingest.recordings import read_edf

    rec = read_edf(path, {"imu": imu_hz, "ppg": ppg_hz})
    (ti, vi), (tp, vp) = rec.streams["imu"], rec.streams["ppg"]
    spectra = WristSpectra(ppg_hz, imu_hz)
    for k in range(int(tp[-1] // 1_000_000_000) + 1):
        lo, hi = k * 1_000_000_000, (k + 1) * 1_000_000_000
        si = slice(*np.searchsorted(ti, [lo, hi]))
        sp = slice(*np.searchsorted(tp, [lo, hi]))
        yield from spectra.push_imu(ti[si], vi[si]) + spectra.push_ppg(tp[sp], vp[sp])


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def tensors_md(card: dict[str, Any]) -> str:
    rows = [
        (
            kind,
            t["name"],
            "×".join(map(str, t["shape"])),
            t["dtype"],
            f"{t['scale']:.6g}",
            t["zero_point"],
        )
        for kind in ("inputs", "outputs")
        for t in card[kind]
    ]
    return md_table(("", "tensor", "shape", "dtype", "scale", "zero point"), rows)
