"""Reference annotations of the evaluation sets (cardiologists' beats, fall trials)."""

from __future__ import annotations

__all__ = ["mitbih_reference", "mobifall_label"]

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .scoring import aami_class

FALL_CODES = frozenset({"FOL", "FKL", "BSC", "SDL"})


def mitbih_reference(hea: Path, first_s: float = 0.0) -> tuple[np.ndarray, list[str]]:
    """Beat times (s) and AAMI classes from the record's ``.atr`` file."""
    try:
        import wfdb
    except ImportError:
        raise DatasetError(
            "scoring MIT-BIH records needs the wfdb package: pip install 'fedwear[wfdb]'",
            path=str(hea),
            code="missing-dependency",
        ) from None
    base = str(hea.with_suffix(""))
    try:
        ann = wfdb.rdann(base, "atr")
        fs = float(wfdb.rdheader(base).fs)
    except Exception as exc:  # wfdb raises bare errors on bad files
        raise DatasetError(f"unreadable beat annotations ({exc})", path=base + ".atr") from None
    times, classes = [], []
    for sample, symbol in zip(ann.sample, ann.symbol, strict=True):
        c = aami_class(symbol)
        if c is not None and sample / fs >= first_s:
            times.append(sample / fs)
            classes.append(c)
    return np.asarray(times), classes


def mobifall_label(path: Path) -> tuple[str, bool]:
    """(activity code, is a fall) from a MobiFall file name like ``FOL_acc_3_1.txt``."""
    code = path.name.split("_", 1)[0].upper()
    return code, code in FALL_CODES
