"""Cut the small samples the repository ships out of ../shared/data.

- runtime/fedwear/data/wrist_walk_excerpt.edf (+ .txt beats): the embedded default of
  `fedwear run`: 120 s of wrist-PPG recording s2_walk (150-270 s), 8 of its channels,
  digital samples copied unchanged.
- tests/data/mobifall/: one fall trial (acc + gyro) of MobiFall subject 2.
- tests/data/mitbih/: the first 60 s of MIT-BIH record 119 (DS1), with its beat labels.

Usage: python tools/data/make_samples.py [--shared ../shared/data]
Needs pyedflib and wfdb (pip install -e '.[dev]').
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EDF_CHANNELS = [0, 1, 2, 3, 4, 5, 6, 7]  # chest_ecg, wrist_ppg, gyro x/y/z, low-noise acc x/y/z
EXCERPT_START_S, EXCERPT_S = 150, 120


def wrist_excerpt(shared: Path, out_dir: Path) -> None:
    import pyedflib

    src = shared / "wristppg" / "edf" / "s2_walk.edf"
    reader = pyedflib.EdfReader(str(src))
    fs = reader.getSampleFrequencies()
    headers, signals = [], []
    for i in EDF_CHANNELS:
        h = reader.getSignalHeader(i)
        h["sample_frequency"] = fs[i]
        h.pop("sample_rate", None)
        headers.append(h)
        a, n = int(EXCERPT_START_S * fs[i]), int(EXCERPT_S * fs[i])
        signals.append(reader.readSignal(i, start=a, n=n, digital=True).astype(np.int32))
    reader.close()
    out = out_dir / "wrist_walk_excerpt.edf"
    writer = pyedflib.EdfWriter(str(out), len(headers), file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders(headers)
    writer.writeSamples(signals, digital=True)
    writer.close()

    rate = 256
    first, last = EXCERPT_START_S * rate, (EXCERPT_START_S + EXCERPT_S) * rate
    lines = [
        "      Time   Sample #  Type  Sub Chan  Num\tAux",
        '    0:00.000        0     "    0    0    0\t## time resolution: 256',
    ]
    for line in (shared / "wristppg" / "ECG" / "s2_walk.txt").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[1].isdigit() and first <= int(parts[1]) < last:
            sample = int(parts[1]) - first
            secs = sample / rate
            stamp = f"{int(secs // 60)}:{secs % 60:06.3f}"
            lines.append(f"{stamp:>12} {sample:>8}     {parts[2]}    0    1    0")
    (out_dir / "wrist_walk_excerpt.txt").write_text("\n".join(lines) + "\n")


def mobifall_trial(shared: Path, out_dir: Path) -> None:
    out = out_dir / "mobifall"
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("acc", "gyro"):
        name = f"FOL_{kind}_2_1.txt"
        shutil.copyfile(shared / "mobifall" / "sub2" / "FALLS" / "FOL" / name, out / name)


def mitbih_excerpt(shared: Path, out_dir: Path) -> None:
    import wfdb

    out = out_dir / "mitbih"
    out.mkdir(parents=True, exist_ok=True)
    rec = wfdb.rdrecord(str(shared / "mitbih" / "119"), sampto=360 * 60, physical=False)
    wfdb.wrsamp(
        "119_60s",
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        d_signal=rec.d_signal,
        fmt=rec.fmt,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        write_dir=str(out),
    )
    ann = wfdb.rdann(str(shared / "mitbih" / "119"), "atr", sampto=360 * 60)
    wfdb.wrann("119_60s", "atr", ann.sample, symbol=ann.symbol, write_dir=str(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    wrist_excerpt(args.shared, ROOT / "runtime" / "fedwear" / "data")
    mobifall_trial(args.shared, ROOT / "tests" / "data")
    mitbih_excerpt(args.shared, ROOT / "tests" / "data")


if __name__ == "__main__":
    main()
