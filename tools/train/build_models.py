"""Rebuild every shipped model, deterministically: `python tools/train/build_models.py DATA`.

DATA is a folder laid out like ../shared/data (mitbih/, mobifall/, wristppg/). Needs the
`[train]` extra (TensorFlow). Order matters: `normal` uses the shipped `ppg_hr` model.
Writes models/<name>.tflite, .json (the card the runtime checks) and .md (the card for
people); float32 twins and benchmark samples go to .cache/train/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import beats
import fall
import normal
import ppg_hr
from common import ROOT

STEPS = {"fall": fall.main, "beats": beats.main, "ppg_hr": ppg_hr.main, "normal": normal.main}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("data", type=Path, nargs="?", default=ROOT.parent / "shared" / "data")
    p.add_argument("--only", choices=list(STEPS), action="append")
    p.add_argument("--out", type=Path, default=ROOT / "models")
    args = p.parse_args()
    work = ROOT / ".cache" / "train"
    work.mkdir(parents=True, exist_ok=True)
    for name in args.only or list(STEPS):
        print(f"== {name}", flush=True)
        STEPS[name](args.data, args.out, work)


if __name__ == "__main__":
    main()
