"""int8 against float32 for each shipped model, side by side in one run.

For every model: file size, median latency of one window (one thread, same interpreter
runtime, the same sample inputs from the training set), and how far the int8 outputs
are from the float32 twin's (largest absolute difference; for classifiers, how often the
decision agrees). "engine" is the call a detector makes (`QuantizedModel.run`: finite
check, quantize or copy in, invoke, dequantize or copy out), the float32 twin through the
same engine; "invoke" is the interpreter alone. Metric drop on held-out data comes from
the cards (beats: both versions were scored on the same left-out records).

Needs the float32 twins and samples that tools/train/build_models.py leaves in
.cache/train/. Usage: python tools/bench/models.py [--repeats N] [--only NAME ...]
(--only: the models whose float32 twins are the shipped files' own, after one of them
was rebuilt with `build_models.py --only`; without it, every model with a twin there,
and a line naming those without).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fedwear.infer.card import ModelCard, TensorSpec, models_dir
from fedwear.infer.engine import QuantizedModel, load_model, new_interpreter

ROOT = Path(__file__).resolve().parents[2]
MODELS, WORK = models_dir(), ROOT / ".cache" / "train"  # the models fedwear itself loads
NAMES = ("fall", "beats", "ppg_hr", "normal")


def raw_runner(content: bytes, dtype: type = np.float32):
    """set_tensor + invoke + get_tensor, nothing else: the interpreter's own cost."""
    interp = new_interpreter(content)
    interp.allocate_tensors()
    i = interp.get_input_details()[0]["index"]
    o = interp.get_output_details()[0]["index"]

    def run(x: np.ndarray) -> np.ndarray:
        interp.set_tensor(i, x[None].astype(dtype))
        interp.invoke()
        return interp.get_tensor(o)

    return run


def float_engine(card: ModelCard, content: bytes) -> QuantizedModel:
    """The float32 twin behind the int8 model's card, its tensors made float32: the
    engine's per-window work (finite check, copies) costs both models alike."""

    def plain(spec: TensorSpec) -> TensorSpec:
        return replace(spec, dtype="float32", scale=0.0, zero_point=0)

    twin = replace(
        card,
        inputs=tuple(map(plain, card.inputs)),
        outputs=tuple(map(plain, card.outputs)),
    )
    return QuantizedModel(twin, content)


def latency_us(fn, xs: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x in xs:
            fn(x)
        times.append((time.perf_counter() - start) / len(xs))
    return statistics.median(times) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--windows", type=int, default=200)
    p.add_argument("--only", nargs="+", choices=NAMES, default=None)
    args = p.parse_args()
    # A build with --only leaves twins for some models: bench those, and say which are not.
    twinned = [n for n in NAMES if (WORK / f"{n}_float32.tflite").is_file()]
    names = args.only or twinned
    missing = [n for n in names if n not in twinned]
    if missing or not names:
        raise SystemExit(
            f"no float32 twin in {WORK} for {', '.join(missing or NAMES)}: "
            "run tools/train/build_models.py (it leaves them there)"
        )
    print(
        "| model | int8 bytes | float32 bytes | smaller | int8 engine µs | float32 engine µs "
        "| engine speed-up | int8 invoke µs | float32 invoke µs | invoke speed-up "
        "| max abs diff | decisions agree |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        q = load_model(MODELS / f"{name}.json")
        fbytes = (WORK / f"{name}_float32.tflite").read_bytes()
        f = raw_runner(fbytes)
        raw_q = raw_runner((MODELS / f"{name}.tflite").read_bytes(), np.int8)
        xs = np.load(WORK / f"{name}_sample.npy")[: args.windows].astype(np.float32)
        shape = q.card.inputs[0].shape[1:]
        xs = xs.reshape(len(xs), *shape)
        t_q = latency_us(lambda x, q=q: q.run(x[None]), xs, args.repeats)
        t_f = latency_us(f, xs, args.repeats)
        fe = float_engine(q.card, fbytes)
        t_fe = latency_us(lambda x, fe=fe: fe.run(x[None]), xs, args.repeats)
        xq = np.zeros_like(xs, dtype=np.int8)
        t_raw = latency_us(raw_q, xq, args.repeats)
        qo = np.stack([q.run(x[None])[0].copy() for x in xs])
        fo = np.stack([f(x).copy() for x in xs])
        diff = float(np.abs(qo - fo).max())
        if name in ("beats", "ppg_hr"):
            agree = float(
                (qo.reshape(len(xs), -1).argmax(1) == fo.reshape(len(xs), -1).argmax(1)).mean()
            )
        elif name == "fall":
            agree = float(((qo > 0.5) == (fo > 0.5)).mean())
        else:
            agree = float("nan")
        print(
            f"| {name} | {q.card.bytes} | {len(fbytes)} | {len(fbytes) / q.card.bytes:.2f}× "
            f"| {t_q:.1f} | {t_fe:.1f} | {t_fe / t_q:.2f}× "
            f"| {t_raw:.1f} | {t_f:.1f} | {t_f / t_raw:.2f}× | {diff:.4f} "
            f"| {'–' if np.isnan(agree) else f'{100 * agree:.1f} %'} |"
        )
    if args.only is None and len(twinned) < len(NAMES):
        left = ", ".join(n for n in NAMES if n not in twinned)
        print(f"not benched: {left} (no float32 twin; build_models.py --only left none)")
    card = json.loads((MODELS / "beats.json").read_text())["metrics"]
    for c in ("N", "S", "V"):
        a, b = card["overall_int8"][c], card["overall_float32"][c]
        print(f"beats {c}: int8 Se {a['se']} / +P {a['ppv']}, float32 Se {b['se']} / +P {b['ppv']}")


if __name__ == "__main__":
    main()
