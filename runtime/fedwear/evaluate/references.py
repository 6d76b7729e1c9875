"""Reference annotations of the evaluation sets (cardiologists' beats, fall trials)."""

from __future__ import annotations

__all__ = ["mitbih_reference", "mobifall_label"]

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..ingest.recordings import import_wfdb, read_wfdb_annotations
from .scoring import aami_class

FALL_CODES = frozenset({"FOL", "FKL", "BSC", "SDL"})


def mitbih_reference(hea: Path) -> tuple[np.ndarray, list[str]]:
    """Beat times (s) and AAMI classes from the record's ``.atr`` file."""
    samples, symbols = read_wfdb_annotations(hea)
    base = str(hea.with_suffix(""))
    try:
        fs = float(import_wfdb(hea).rdheader(base).fs)
    except Exception as exc:  # wfdb raises bare errors on bad files
        raise DatasetError(f"unreadable record header ({exc})", path=base + ".hea") from None
    times, classes = [], []
    for sample, symbol in zip(samples, symbols, strict=True):
        c = aami_class(symbol)
        if c is not None:
            times.append(sample / fs)
            classes.append(c)
    return np.asarray(times), classes


def mobifall_label(path: Path) -> tuple[str, bool]:
    """(activity code, is a fall) from a MobiFall file name like ``FOL_acc_3_1.txt``."""
    code = path.name.split("_", 1)[0].upper()
    return code, code in FALL_CODES
