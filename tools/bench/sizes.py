"""Where the bytes of each int8 file and its float32 twin go: weights and constants, and
the rest (tensors with their shapes and quantization, operators, metadata).

int8 stores each weight in a quarter of float32's bytes, but the rest of the file does
not shrink, and in int8 it grows: every tensor carries its scale and zero point. In
models of 2-10 k weights that rest decides the size ratio (docs/benchmarks.md, "Where
the bytes go").

    python tools/bench/sizes.py

Needs the float32 twins that tools/train/build_models.py leaves in .cache/train/.
"""

from __future__ import annotations

from models import MODELS, NAMES, WORK  # tools/bench/models.py: the same files


def weight_bytes(content: bytes) -> int:
    """Bytes of the buffers that hold constant tensors (not the metadata's)."""
    try:
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError:  # the training venv has TensorFlow's copy instead
        from tensorflow.lite.tools import flatbuffer_utils  # type: ignore[no-redef]

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    metadata = {m.buffer for m in model.metadata or []}
    return sum(
        len(b.data) for i, b in enumerate(model.buffers) if b.data is not None and i not in metadata
    )


def main() -> None:
    print(
        "| model | int8 bytes | float32 bytes | smaller | int8 weights | float32 weights "
        "| weights smaller | int8 rest | float32 rest |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in NAMES:
        twin = WORK / f"{name}_float32.tflite"
        if not twin.is_file():
            print(f"| {name} | no float32 twin in {WORK}: run tools/train/build_models.py |")
            continue
        q, f = (MODELS / f"{name}.tflite").read_bytes(), twin.read_bytes()
        wq, wf = weight_bytes(q), weight_bytes(f)
        print(
            f"| {name} | {len(q)} | {len(f)} | {len(f) / len(q):.2f}× | {wq} | {wf} "
            f"| {wf / wq:.2f}× | {len(q) - wq} | {len(f) - wf} |"
        )


if __name__ == "__main__":
    main()
