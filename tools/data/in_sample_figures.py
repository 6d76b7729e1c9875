"""Pin what the shipped models give on ../shared/data through today's pipeline.

The model cards' held-out figures are measured once, when `tools/train/build_models.py`
runs. A later change to the pipeline or a detector can move them without touching a
model file: session 22 let each recording's last second reach the detectors, and the fall
card went on saying 1 held-out false alarm where the code gave 5 (docs/models.md,
"Rebuilt under the current pipeline"). Held-out figures need the training run; these
in-sample ones take seconds, and any change that moves which windows reach a detector or
what it scores moves them too. tests/test_in_sample.py compares them with the file this
writes. When they differ on purpose: rebuild the models, then run this again.

The figures are taken with TFLite's reference kernels ($FEDWEAR_TFLITE_KERNELS=reference),
not the XNNPACK delegate the runtime applies by default. XNNPACK, and TFLite's optimized
kernels too, round int8 each their own way, CPU by CPU: on a CI runner where XNNPACK was
not applied, a fall score at the threshold fell the other side and three figures moved
with no change to the code. The reference kernels give x86_64 and aarch64 the same
outputs to the bit (tests/test_kernels.py).

Usage: python tools/data/in_sample_figures.py [--shared ../shared/data]
Writes tests/data/in_sample_figures.json. Needs wfdb (pip install -e '.[dev]').
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "in_sample_figures.json"
# Three DS1 records, not 22, to keep the test near ten seconds: frequent V beats (119),
# atrial fibrillation with aberrated beats (201), and fusion beats among many V (208).
BEAT_RECORDS = ("119", "201", "208")


def model_hashes() -> dict[str, str]:
    return {
        p.stem: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((ROOT / "models").glob("*.tflite"))
    }


def figures(shared: Path) -> dict[str, Any]:
    """Per recording, what each detector made of it: windows scored, top score, events."""
    from fedwear.infer.engine import kernels

    with kernels("reference"):
        return _figures(shared)


def _figures(shared: Path) -> dict[str, Any]:
    from fedwear.evaluate.command import evaluate

    fall = evaluate("fall", shared / "mobifall", strict=True)
    with tempfile.TemporaryDirectory() as tmp:
        for record in BEAT_RECORDS:
            for suffix in (".hea", ".dat", ".atr"):
                (Path(tmp) / f"{record}{suffix}").symlink_to(
                    shared / "mitbih" / f"{record}{suffix}"
                )
        beats = evaluate("beats", Path(tmp), strict=True)
    ppg = evaluate("ppg-hr", shared / "wristppg", strict=True)
    normal = evaluate("normal", shared / "wristppg" / "edf", strict=True)
    return {
        "models": model_hashes(),
        "fall": {
            r["recording"]: [len(r["trace"]), r["max_score"], len(r["events"])]
            for r in fall["recordings"]
        },
        "beats": {
            name: {c: [r[c]["se"], r[c]["ppv"]] for c in "NSV"}
            for name, r in beats["per_record"].items()
        },
        "ppg_hr": {
            name: [r["windows"], r["mae_bpm"], r["unexplained_events"]]
            for name, r in ppg["per_recording"].items()
        },
        "normal": {
            name: [r["windows"], r["score_p50"], r["score_p99"], r["alarms"]]
            for name, r in normal["per_recording"].items()
        },
    }


def to_json(pinned: dict[str, Any]) -> str:
    """One line per recording, so a change shows as the lines of the recordings it moved."""
    blocks = []
    for key, entries in sorted(pinned.items()):
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(entries.items())]
        blocks.append(f"{json.dumps(key)}: {{\n" + ",\n".join(lines) + "\n}")
    return "{\n" + ",\n".join(blocks) + "\n}\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = p.parse_args()
    OUT.write_text(to_json(figures(args.shared)))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
