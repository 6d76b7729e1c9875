"""MIT-BIH records with sinus pauses put in, to check the beat detector on pauses.

DS1 has few pauses, while sinus arrest, dropped beats (AV block) and beats the QRS
detector misses all make them. At every 40th beat (where it and the next two beats are
of AAMI class N), half the time the next beat never comes (its P-QRS-T becomes a
straight line between its ends: the RR doubles) and half the time 3 s of flat line
(with 2 ADC units of noise) follow the beat's T wave. The annotations move with the
signal, so ``fedwear eval beats OUT`` scores the result like any record
(docs/models.md, "Pauses").

    python tools/data/paused_records.py OUT 101 112 115 122 [--data ../shared/data/mitbih]

Needs the ``wfdb`` package (the ``[train]`` extra) to write the records.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fedwear.ingest.recordings import AAMI_OF_SYMBOL, BEAT_SYMBOLS

EVERY = 40
PAUSE_S = 3.0
NORMAL = [symbol for symbol, aami in AAMI_OF_SYMBOL.items() if aami == "N"]


def paused(
    signal: np.ndarray,
    samples: np.ndarray,
    symbols: np.ndarray,
    fs: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(signal, annotation samples, symbols, pauses) with the pauses put in."""
    signal = signal.copy()
    beats = np.flatnonzero(np.isin(symbols, sorted(BEAT_SYMBOLS)))
    dropped: set[int] = set()
    flat_after: set[int] = set()
    for k in range(EVERY, len(beats) - 3, EVERY):
        i0, i1, i2 = beats[k : k + 3]
        if not np.all(np.isin(symbols[[i0, i1, i2]], NORMAL)):
            continue
        if rng.random() < 0.5:
            dropped.add(int(i1))
        else:
            flat_after.add(int(i0))
    before, after = round(0.25 * fs), round(0.45 * fs)
    pieces, kept_samples, kept_symbols = [], [], []
    cursor, shift = 0, 0
    for i, s in enumerate(samples):
        if i in dropped:
            lo, hi = s - before, s + after
            for c in range(signal.shape[1]):
                signal[lo:hi, c] = np.linspace(signal[lo, c], signal[hi, c], hi - lo).round()
            continue
        kept_samples.append(s + shift)
        kept_symbols.append(symbols[i])
        if i in flat_after:
            at = s + after
            pieces.append(signal[cursor:at])
            cursor = at
            n = round(PAUSE_S * fs)
            flat = np.repeat(signal[at : at + 1], n, axis=0)
            pieces.append(flat + rng.normal(0, 2, flat.shape).round().astype(signal.dtype))
            shift += n
    pieces.append(signal[cursor:])
    pauses = len(dropped) + len(flat_after)
    return np.concatenate(pieces), np.array(kept_samples), np.array(kept_symbols), pauses


def main() -> None:
    import wfdb

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("records", nargs="+")
    p.add_argument("--data", type=Path, default=Path(__file__).parents[3] / "shared/data/mitbih")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for name in args.records:
        path = str(args.data / name)
        record = wfdb.rdrecord(path, physical=False)
        ann = wfdb.rdann(path, "atr")
        signal, samples, symbols, pauses = paused(
            record.d_signal.astype(np.int64),
            np.asarray(ann.sample),
            np.asarray(ann.symbol),
            record.fs,
            rng,
        )
        wfdb.wrsamp(
            name,
            fs=record.fs,
            units=record.units,
            sig_name=record.sig_name,
            d_signal=signal,
            fmt=["212"] * signal.shape[1],
            adc_gain=record.adc_gain,
            baseline=record.baseline,
            write_dir=str(args.out),
        )
        wfdb.wrann(name, "atr", samples, symbols, write_dir=str(args.out))
        print(f"{name}: {pauses} pauses ({len(ann.sample) - len(samples)} beats dropped)")


if __name__ == "__main__":
    main()
