"""Reference annotations of the evaluation sets (cardiologists' beats, fall trials)."""

from __future__ import annotations

__all__ = ["MitbihReference", "mitbih_reference", "mobifall_label"]

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DatasetError
from ..ingest.recordings import read_wfdb_annotations, read_wfdb_header
from .scoring import aami_class

FALL_CODES = frozenset({"FOL", "FKL", "BSC", "SDL"})


class MitbihReference(NamedTuple):
    times: np.ndarray  # beat times, s
    classes: list[str]  # their AAMI classes
    symbols: list[str]  # their annotation codes (classes group them: "A" and "a" are S)
    # (start, end) s of each ventricular flutter or fibrillation episode ("[" to "]"): no
    # beat is labelled inside, and EC57's comparator (bxb) counts no beat there either.
    flutter: np.ndarray
    # (start, end) s of each atrial fibrillation or flutter episode (rhythm marks "+" with
    # the note "(AFIB" or "(AFL"): the rhythm an `irregular_rhythm` event is meant for.
    fibrillation: np.ndarray
    duration_s: float


# Rhythm notes of atrial fibrillation and atrial flutter (MIT-BIH's rhythm annotations).
FIBRILLATION_RHYTHMS = frozenset({"(AFIB", "(AFL"})


def mitbih_reference(hea: Path) -> MitbihReference:
    """Beats, their AAMI classes, and the flutter and fibrillation episodes from the
    record's ``.atr``."""
    samples, symbols, notes = read_wfdb_annotations(hea)
    base = str(hea.with_suffix(""))
    header = read_wfdb_header(hea)
    fs = float(header.fs)
    end_s = (header.sig_len or (int(samples[-1]) + 1 if len(samples) else 0)) / fs
    if len(samples) and samples[-1] >= end_s * fs:
        raise DatasetError(
            f"an annotation at sample {int(samples[-1])} lies past the record's end "
            f"({round(end_s * fs)} samples): annotations of another record?",
            path=base + ".atr",
            code="mismatch",
        )
    times, classes, beat_symbols, flutter, fibrillation = [], [], [], [], []
    flutter_start: float | None = None
    fibrillation_start: float | None = None
    for sample, symbol, note in zip(samples, symbols, notes, strict=True):
        if symbol == "+":  # a rhythm change; fibrillation to flutter is one episode
            if note in FIBRILLATION_RHYTHMS:
                if fibrillation_start is None:
                    fibrillation_start = sample / fs
            elif fibrillation_start is not None:
                fibrillation.append((fibrillation_start, sample / fs))
                fibrillation_start = None
        elif symbol == "[":
            flutter_start = sample / fs if flutter_start is None else flutter_start
        elif symbol == "]" and flutter_start is not None:
            flutter.append((flutter_start, sample / fs))
            flutter_start = None
        elif flutter_start is None and (c := aami_class(symbol)) is not None:
            times.append(sample / fs)
            classes.append(c)
            beat_symbols.append(symbol)
    if not times:
        raise DatasetError(
            "no beat annotations: every figure would be empty", path=base + ".atr", code="no-beats"
        )
    if flutter_start is not None:  # the record ends in flutter
        flutter.append((flutter_start, end_s))
    if fibrillation_start is not None:
        fibrillation.append((fibrillation_start, end_s))
    return MitbihReference(
        np.asarray(times),
        classes,
        beat_symbols,
        np.asarray(flutter).reshape(-1, 2),
        np.asarray(fibrillation).reshape(-1, 2),
        end_s,
    )


def mobifall_label(path: Path) -> tuple[str, bool]:
    """(activity code, is a fall) from a MobiFall file name like ``FOL_acc_3_1.txt``."""
    code = path.name.split("_", 1)[0].upper()
    return code, code in FALL_CODES
