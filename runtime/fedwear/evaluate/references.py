"""Reference annotations of the evaluation sets (cardiologists' beats, fall trials)."""

from __future__ import annotations

__all__ = ["MitbihReference", "mitbih_reference", "mobifall_label"]

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DatasetError
from ..ingest.recordings import import_wfdb, read_wfdb_annotations
from .scoring import aami_class

FALL_CODES = frozenset({"FOL", "FKL", "BSC", "SDL"})


class MitbihReference(NamedTuple):
    times: np.ndarray  # beat times, s
    classes: list[str]  # their AAMI classes
    # (start, end) s of each ventricular flutter or fibrillation episode ("[" to "]"): no
    # beat is labelled inside, and EC57's comparator (bxb) counts no beat there either.
    flutter: np.ndarray


def mitbih_reference(hea: Path) -> MitbihReference:
    """Beats, their AAMI classes and the flutter episodes from the record's ``.atr``."""
    samples, symbols = read_wfdb_annotations(hea)
    base = str(hea.with_suffix(""))
    try:
        header = import_wfdb(hea).rdheader(base)
        fs = float(header.fs)
    except Exception as exc:  # wfdb raises bare errors on bad files
        raise DatasetError(f"unreadable record header ({exc})", path=base + ".hea") from None
    times, classes, flutter = [], [], []
    start: float | None = None
    for sample, symbol in zip(samples, symbols, strict=True):
        if symbol == "[":
            start = sample / fs if start is None else start
        elif symbol == "]" and start is not None:
            flutter.append((start, sample / fs))
            start = None
        elif start is None and (c := aami_class(symbol)) is not None:
            times.append(sample / fs)
            classes.append(c)
    if start is not None:  # the record ends in flutter
        last = header.sig_len if header.sig_len else (samples[-1] + 1)
        flutter.append((start, last / fs))
    return MitbihReference(np.asarray(times), classes, np.asarray(flutter).reshape(-1, 2))


def mobifall_label(path: Path) -> tuple[str, bool]:
    """(activity code, is a fall) from a MobiFall file name like ``FOL_acc_3_1.txt``."""
    code = path.name.split("_", 1)[0].upper()
    return code, code in FALL_CODES
