"""Readers for recorded sensor data: MobiFall text, WFDB records, EDF files.

Each reader returns a ``Recording``: per stream, timestamps (int64 ns from the start of
the recording) and values (float32, channels in the order of ``base.STREAM_CHANNELS``).
Timestamps may be irregular; ``resample`` puts a stream on a uniform grid. Every
malformed input raises ``DatasetError`` naming the file (and line, for text files).
"""

from __future__ import annotations

__all__ = [
    "AAMI_OF_SYMBOL",
    "BEAT_SYMBOLS",
    "WFDB_SUFFIXES",
    "Recording",
    "heart_rate_from_beats",
    "import_wfdb",
    "interpolate",
    "natural_key",
    "read_beat_text",
    "read_edf",
    "read_mobifall",
    "read_recording",
    "read_wfdb",
    "read_wfdb_annotations",
    "read_wfdb_header",
    "recordings_in",
    "resample",
    "uniform_grid",
]

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..bounded import read_at_most
from ..errors import DatasetError

G = 9.80665
# The AAMI EC57 class of each MIT-BIH beat label; every other label is a non-beat annotation.
AAMI_OF_SYMBOL = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}
BEAT_SYMBOLS = frozenset(AAMI_OF_SYMBOL)
PREFERRED_LEAD = "MLII"
WFDB_SUFFIXES = (".hea", ".dat", ".atr")  # a record may be named by any of its files
_MAX_TEXT_BYTES = 256 * 1024 * 1024
_MAX_HEADER_BYTES = 1 << 20  # MIT-BIH's are under 1 KiB; a multi-segment one lists segments


@dataclass
class Recording:
    """Streams of one recording: name -> (t_ns int64 (n,), values float32 (n, channels))."""

    name: str
    path: Path
    streams: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def duration_s(self) -> float:
        ends = [t[-1] for t, _ in self.streams.values() if len(t)]
        starts = [t[0] for t, _ in self.streams.values() if len(t)]
        return (max(ends) - min(starts)) / 1e9 if ends else 0.0


def uniform_grid(t_first: int, t_last: int, rate_hz: float) -> np.ndarray:
    """Timestamps (int64 ns) from ``t_first`` to at most ``t_last`` at ``rate_hz``."""
    period = 1e9 / rate_hz
    n = math.floor((t_last - t_first) / period) + 1
    return t_first + np.round(np.arange(n) * period).astype(np.int64)


def interpolate(grid: np.ndarray, t_ns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of an irregular stream at ``grid`` (float32, (n, channels)).

    Samples are sorted by time and a repeated timestamp keeps its first sample; NaN
    samples stay NaN on the grid (interpolation never invents data across them).
    """
    order = np.argsort(t_ns, kind="stable")
    t_sorted, keep = np.unique(t_ns[order], return_index=True)
    v = np.asarray(values, dtype=np.float64).reshape(len(t_ns), -1)[order][keep]
    x = (t_sorted - grid[0]).astype(np.float64)  # relative times keep ns precision
    gx = (grid - grid[0]).astype(np.float64)
    out = np.empty((len(grid), v.shape[1]), dtype=np.float32)
    for c in range(v.shape[1]):
        out[:, c] = np.interp(gx, x, v[:, c])
    return out


def resample(t_ns: np.ndarray, values: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """An irregular stream on a uniform grid at ``rate_hz`` over its own time span."""
    if len(t_ns) < 2:
        return t_ns.astype(np.int64), values.astype(np.float32).reshape(len(t_ns), -1)
    grid = uniform_grid(int(t_ns.min()), int(t_ns.max()), rate_hz)
    return grid, interpolate(grid, t_ns, values)


def _text_lines(path: Path) -> list[str]:
    try:
        raw = read_at_most(path, _MAX_TEXT_BYTES)
        if len(raw) > _MAX_TEXT_BYTES:
            raise DatasetError(
                f"holds more than the {_MAX_TEXT_BYTES} bytes accepted",
                path=str(path),
                code="too-large",
            )
        return raw.decode("utf-8", errors="strict").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text (byte {exc.start})", path=str(path)) from None
    except OSError as exc:
        raise DatasetError(exc.strerror or str(exc), path=str(path), code="unreadable") from None


def _mobifall_rows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``timestamp_ns, x, y, z`` rows after ``@DATA``."""
    lines = _text_lines(path)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "@DATA") + 1
    except StopIteration:
        raise DatasetError("no '@DATA' line: not a MobiFall file", path=str(path)) from None
    t: list[int] = []
    xyz: list[tuple[float, float, float]] = []
    for lineno, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            if len(parts) != 4:
                raise ValueError
            t.append(int(parts[0]))
            if not 0 <= t[-1] < 2**63:
                raise ValueError
            x, y, z = (float(p) for p in parts[1:])
        except ValueError:
            raise DatasetError(
                f"expected 'timestamp_ns, x, y, z', got {line.strip()[:60]!r}",
                path=str(path),
                line=lineno,
            ) from None
        xyz.append((x, y, z))
    if len(t) < 2:
        raise DatasetError("fewer than two samples after '@DATA' (truncated?)", path=str(path))
    times = np.asarray(t, dtype=np.int64)
    # Under one sample a second on average (every shared trial has 54 or more): corrupt.
    _check_span(
        float(np.ptp(times)) / 1e9, len(times), 1.0, path, ("timestamps", "samples", "timestamp")
    )
    return times, np.asarray(xyz, dtype=np.float64)


def _check_span(
    span_s: float, count: int, most_s_each: float, path: Path, words: tuple[str, str, str]
) -> None:
    """Stamps that span more than ``most_s_each`` seconds per item: a corrupt stamp, which
    would make the uniform grid resampled from them too large to allocate. ``words``:
    what spans, what is counted, and what would be corrupt."""
    if span_s > most_s_each * count:
        stamps, items, culprit = words
        raise DatasetError(
            f"{stamps} span {span_s:.4g} s for {count} {items} (a corrupt {culprit}?)",
            path=str(path),
            code="timestamps",
        )


def read_mobifall(path: Path, imu_rate_hz: float) -> Recording:
    """One MobiFall trial: the ``_acc_`` file and its ``_gyro_`` sibling, merged as ``imu``."""
    name = path.name
    if "_acc_" in name:
        acc_path, gyro_path = path, path.with_name(name.replace("_acc_", "_gyro_"))
    elif "_gyro_" in name:
        acc_path, gyro_path = path.with_name(name.replace("_gyro_", "_acc_")), path
    else:
        raise DatasetError("a MobiFall file name has '_acc_' or '_gyro_'", path=str(path))
    for p in (acc_path, gyro_path):
        if not p.exists():  # a FIFO or a device is read, and refused there
            raise DatasetError("missing half of a MobiFall trial", path=str(p), code="missing")
    ta, acc = _mobifall_rows(acc_path)
    tg, gyro = _mobifall_rows(gyro_path)
    t0, t1 = max(ta.min(), tg.min()), min(ta.max(), tg.max())
    if t1 <= t0:
        raise DatasetError("accelerometer and gyroscope do not overlap in time", path=str(path))
    grid, acc_u = resample(ta, acc, imu_rate_hz)
    gyro_on_grid = interpolate(grid, tg, gyro)
    inside = (grid >= t0) & (grid <= t1)
    imu = np.hstack([acc_u[inside], gyro_on_grid[inside]]).astype(np.float32)
    t = grid[inside] - grid[inside][0]
    return Recording(acc_path.stem.replace("_acc", ""), acc_path, {"imu": (t, imu)})


def heart_rate_from_beats(beat_s: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Beat times (s) -> heart rate (bpm) on a uniform grid.

    The rate at each beat is 60 / RR; RR intervals outside 0.25-2.5 s (240-24 bpm) are
    artefacts or pauses and are left out rather than averaged in.
    """
    beat_s = np.sort(np.asarray(beat_s, dtype=np.float64))
    rr = np.diff(beat_s)
    ok = (rr > 0.25) & (rr < 2.5)
    if ok.sum() < 2:
        return np.empty(0, np.int64), np.empty((0, 1), np.float32)
    t = beat_s[1:][ok]
    bpm = 60.0 / rr[ok]
    return resample((t * 1e9).astype(np.int64), bpm[:, None], rate_hz)


def read_beat_text(path: Path) -> np.ndarray:
    """Beat times (s) from a WFDB text export (``time  sample  type ...``; first line header).

    The sample rate comes from the ``## time resolution: N`` note, else 256 Hz.
    """
    lines = _text_lines(path)
    fs = 256.0
    beats: list[int] = []
    for lineno, line in enumerate(lines, start=1):
        m = re.search(r"time resolution:\s*([0-9.]+)", line)
        if m:
            try:
                fs = float(m.group(1))
            except ValueError:
                fs = 0.0
            if not 0 < fs < math.inf:
                raise DatasetError(
                    f"time resolution {m.group(1)!r} is not a sample rate",
                    path=str(path),
                    line=lineno,
                )
        parts = line.split()
        if lineno == 1 or len(parts) < 3 or parts[2] not in BEAT_SYMBOLS:
            continue
        try:
            sample = int(parts[1])
        except ValueError:
            raise DatasetError(
                f"sample number {parts[1]!r} is not an integer", path=str(path), line=lineno
            ) from None
        if sample < 0:
            raise DatasetError(f"negative sample number {sample}", path=str(path), line=lineno)
        if beats and sample <= beats[-1]:
            raise DatasetError(
                f"beat at sample {sample} after one at {beats[-1]}: beats must come in time order",
                path=str(path),
                line=lineno,
            )
        beats.append(sample)
    if len(beats) < 2:
        raise DatasetError(
            f"{len(beats)} beat(s): a beat annotation file needs lines 'time sample type' "
            f"with a beat type ({''.join(sorted(BEAT_SYMBOLS))})",
            path=str(path),
            code="no-beats",
        )
    times = np.asarray(beats, dtype=np.float64) / fs
    # Under 6 beats a minute on average: a corrupt sample number.
    _check_span(
        float(times[-1] - times[0]), len(times), 10.0, path, ("beats", "beats", "sample number")
    )
    return times


_EDF_GROUPS = {
    "acc": ("wrist_low_noise", "wrist_wide_range", "acc"),
    "gyro": ("wrist_gyro", "gyro"),
    "ppg": ("wrist_ppg", "ppg", "pleth"),
    "ecg": ("chest_ecg", "ecg"),
}


def _edf_pick(labels: list[str], group: str, count: int) -> list[int]:
    for prefix in _EDF_GROUPS[group]:
        idx = [i for i, lab in enumerate(labels) if lab.lower().startswith(prefix)]
        if len(idx) >= count:
            return idx[:count]
    return []


def _check_edf_header(path: Path) -> None:
    """What pyedflib would trip on, as a DatasetError naming the file: a size other than
    the header describes (its C code prints its own complaint to standard output, into
    the event stream or the ``--json`` report, before it raises), and a data record of no
    duration (a ZeroDivisionError inside pyedflib)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            head = f.read(256)
            count = int(head[252:256].decode("ascii"))
            header_bytes = int(head[184:192].decode("ascii"))
            records = int(head[236:244].decode("ascii"))
            duration = float(head[244:252].decode("ascii"))
            if count <= 0 or header_bytes != 256 * (count + 1) or header_bytes > size:
                raise ValueError("header size")
            f.seek(256 + 216 * count)
            per_record = [int(f.read(8).decode("ascii")) for _ in range(count)]
    except (OSError, ValueError, UnicodeDecodeError):
        raise DatasetError("not an EDF file (unreadable header)", path=str(path)) from None
    if not math.isfinite(duration) or duration <= 0:
        raise DatasetError(
            f"data record duration {duration:g} s in the header is not a positive number",
            path=str(path),
        )
    if records <= 0:
        return  # EDF+ may leave the record count at -1; pyedflib decides then
    sample_bytes = 3 if head[:1] == b"\xff" else 2  # BDF: 24-bit samples
    expected = header_bytes + records * sum(per_record) * sample_bytes
    if size != expected:
        what = "truncated" if size < expected else "longer than its header says"
        raise DatasetError(
            f"EDF file {what}: {size} bytes, its header describes {expected}",
            path=str(path),
            code="truncated",
        )


# Trailing samples that every channel of an EDF file holds constant, at least this many
# in each: the writer's fill of the last data record, not a recording (no sensor holds
# all its channels, and a clock channel, exactly still).
EDF_FILL_MIN_SAMPLES = 8


def _constant_tail(x: np.ndarray) -> int:
    """How many samples at the end of ``x`` equal its last one."""
    if not len(x):
        return 0
    differ = np.flatnonzero(x[::-1] != x[-1])
    return int(differ[0]) if len(differ) else len(x)


def read_edf(path: Path, rates: dict[str, float]) -> Recording:
    """An EDF file with wrist IMU/PPG (and chest ECG), plus beat annotations if present.

    Beats are looked for at ``../ECG/<stem>.txt`` (the wrist-PPG dataset layout) or
    ``<stem>.txt`` beside the file; they give the ``hr`` stream. Where every channel ends
    flat, each channel's flat end is the writer's fill of the last data record and is
    left out: replayed, it was a stuck sensor on every stream at every recording's end.
    """
    import pyedflib

    _check_edf_header(path)
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        raise DatasetError(f"not a readable EDF file ({exc})", path=str(path)) from None
    try:
        labels = [reader.getLabel(i) for i in range(reader.signals_in_file)]
        fs = reader.getSampleFrequencies()
        # digital values: no scaling, so a channel with a broken range is still read
        tails = [_constant_tail(reader.readSignal(i, digital=True)) for i in range(len(labels))]
        filled = bool(tails) and min(tails) >= EDF_FILL_MIN_SAMPLES

        def signal(i: int) -> tuple[np.ndarray, np.ndarray]:
            low, high = reader.getDigitalMinimum(i), reader.getDigitalMaximum(i)
            if low >= high:  # pyedflib would scale every sample by a division by zero
                raise DatasetError(
                    f"channel {labels[i]!r}: digital minimum {low} is not below its maximum {high}",
                    path=str(path),
                )
            x = reader.readSignal(i)
            if filled and tails[i] < len(x):
                x = x[: len(x) - tails[i]]
            t = np.round(np.arange(len(x)) * (1e9 / fs[i])).astype(np.int64)
            return t, x

        streams: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        acc, gyro = _edf_pick(labels, "acc", 3), _edf_pick(labels, "gyro", 3)
        if acc and gyro and "imu" in rates:
            imu = [signal(i) for i in acc + gyro]
            t_ref = imu[0][0]  # the grid spans the first accelerometer channel
            grid = uniform_grid(int(t_ref[0]), int(t_ref[-1]), rates["imu"])
            cols = []
            for i, (t, x) in zip(acc + gyro, imu, strict=True):
                unit = reader.getPhysicalDimension(i).lower()
                if i in gyro and "deg" in unit:
                    x = np.deg2rad(x)
                elif i in acc and unit.strip() == "g":
                    x = x * G
                cols.append(interpolate(grid, t, x))
            streams["imu"] = (grid, np.hstack(cols))
        for name in ("ppg", "ecg"):
            picked = _edf_pick(labels, name, 1)
            if picked and name in rates:
                t, x = signal(picked[0])
                streams[name] = resample(t, x[:, None], rates[name])
    finally:
        reader.close()
    if not streams:
        raise DatasetError(
            f"no IMU, PPG or ECG channel among {labels}", path=str(path), code="no-streams"
        )
    for beats in (path.parent.parent / "ECG" / f"{path.stem}.txt", path.with_suffix(".txt")):
        if beats.is_file() and "hr" in rates:
            t, hr = heart_rate_from_beats(read_beat_text(beats), rates["hr"])
            if len(t):
                streams["hr"] = (t, hr)
            break
    return Recording(path.stem, path, streams)


def import_wfdb(path: Path) -> Any:
    """The wfdb module, or a DatasetError saying how to install it."""
    try:
        import wfdb
    except ImportError:
        raise DatasetError(
            "reading WFDB records needs the wfdb package: pip install 'fedwear[wfdb]'",
            path=str(path),
            code="missing-dependency",
        ) from None
    return wfdb


# Bytes per sample of the WFDB signal formats whose size is fixed (212: two samples in
# three bytes; 310 and 311: three in four). Others (FLAC-compressed 5xx) are not checked.
_WFDB_SAMPLE_BYTES = {
    "8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0,
    "212": 1.5, "310": 4 / 3, "311": 4 / 3,
}  # fmt: skip


def read_wfdb_header(path: Path) -> Any:
    """A record's header, checked before any sample is read: a positive, finite sampling
    frequency, and signal files that hold as many samples as the header claims (a claim
    of billions would otherwise be allocated before the short file is noticed)."""
    wfdb = import_wfdb(path)
    base = path.with_suffix("")
    hea = path.with_suffix(".hea")
    # wfdb reads the header whole: bound it first (/dev/zero in its place was read until
    # memory ran out).
    try:
        text = read_at_most(hea, _MAX_HEADER_BYTES)
    except OSError as exc:
        raise DatasetError(exc.strerror or str(exc), path=str(hea), code="unreadable") from None
    if len(text) > _MAX_HEADER_BYTES:
        raise DatasetError(
            f"holds more than the {_MAX_HEADER_BYTES} bytes a record header may",
            path=str(hea),
            code="too-large",
        )
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises bare errors on bad files
        raise DatasetError(
            f"unreadable record header ({type(exc).__name__}: {exc})", path=str(hea)
        ) from None
    fs = header.fs
    written = _written_frequency(text)
    if not math.isfinite(fs) or fs <= 0 or (written is not None and written != fs):
        # wfdb reads a field like "-360" as its default of 250 Hz, without a word
        raise DatasetError(
            f"sampling frequency {written if written is not None else fs!r} in the header "
            "is not a positive number",
            path=str(hea),
        )
    if getattr(header, "seg_name", None) or not header.sig_len:
        return header  # a multi-segment record, or no length claimed: wfdb measures the file
    for name, need in _signal_file_bytes(header).items():
        file = base.parent / name
        try:
            size = file.stat().st_size
        except OSError as exc:
            raise DatasetError(
                exc.strerror or str(exc), path=str(file), code="unreadable"
            ) from None
        if size < need:
            raise DatasetError(
                f"signal file truncated: {size} bytes, the header describes {need}",
                path=str(file),
                code="truncated",
            )
    return header


def _written_frequency(header_text: bytes) -> float | None:
    """The sampling frequency as the record line writes it (``360`` of ``101 2 360
    650000``, before any ``/counter``), NaN where it is not a number; None where absent."""
    for line in header_text.decode("latin-1").splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            if len(fields) < 3:
                return None
            try:
                return float(fields[2].split("/", 1)[0])
            except ValueError:
                return math.nan
    return None


def _signal_file_bytes(header: Any) -> dict[str, int]:
    """The bytes each signal file must hold for the samples the header claims; nothing
    where a signal's format has no fixed size."""
    n = header.n_sig
    frames = zip(
        header.file_name or [],
        header.fmt or [],
        header.samps_per_frame or [1] * n,
        header.byte_offset or [None] * n,
        strict=False,
    )
    per_frame: dict[str, float] = {}
    start: dict[str, int] = {}
    for name, fmt, samples, offset in frames:
        if fmt not in _WFDB_SAMPLE_BYTES:
            return {}
        per_frame[name] = per_frame.get(name, 0.0) + _WFDB_SAMPLE_BYTES[fmt] * (samples or 1)
        start[name] = max(start.get(name, 0), offset or 0)
    return {name: start[name] + math.ceil(header.sig_len * per) for name, per in per_frame.items()}


def _check_annotation_end(atr: Path) -> None:
    """A WFDB annotation file is 16-bit words ending in a zero word; wfdb reads a file cut
    short without complaint, and its missing beats would score as missed or extra."""
    try:
        with atr.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - 2))
            tail = f.read(2)
    except OSError as exc:
        raise DatasetError(exc.strerror or str(exc), path=str(atr), code="unreadable") from None
    if size % 2 or tail != b"\0\0":
        raise DatasetError(
            f"truncated annotation file ({size} bytes, without the two zero bytes that end "
            "a WFDB annotation file)",
            path=str(atr),
            code="truncated",
        )


def read_wfdb_annotations(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Sample numbers, symbols and notes of a record's ``.atr`` file (beats and rhythm
    marks; a rhythm mark "+" names its rhythm in the note, e.g. "(AFIB")."""
    wfdb = import_wfdb(path)
    base = str(path.with_suffix(""))
    _check_annotation_end(Path(base + ".atr"))
    try:
        ann = wfdb.rdann(base, "atr")
    except Exception as exc:  # wfdb raises bare errors on bad files
        raise DatasetError(f"unreadable beat annotations ({exc})", path=base + ".atr") from None
    # wfdb gives a code that neither WFDB nor the file defines the symbol NaN: a corrupt
    # label byte, which would otherwise drop that beat from the reference unseen.
    undefined = [k for k, symbol in enumerate(ann.symbol) if not isinstance(symbol, str)]
    if undefined:
        raise DatasetError(
            f"{len(undefined)} annotation(s) with a label code WFDB does not define, the "
            f"first at sample {int(ann.sample[undefined[0]])}",
            path=base + ".atr",
            code="malformed",
        )
    notes = ann.aux_note or [""] * len(ann.symbol)
    return np.asarray(ann.sample), list(ann.symbol), [n.strip("\x00 ") for n in notes]


def read_wfdb(path: Path, rates: dict[str, float], lead: str | None = None) -> Recording:
    """A WFDB record (``.hea``/``.dat``, beats from ``.atr``): one lead as ``ecg``.

    The lead is ``lead`` where given (a device whose electrodes see another lead is
    evaluated on that lead), else MLII where the record has it (the beat model's training
    lead; MIT-BIH record 114 stores it second), otherwise the first.
    """
    wfdb = import_wfdb(path)
    base = str(path.with_suffix(""))
    read_wfdb_header(path)
    try:
        rec = wfdb.rdrecord(base)
    except Exception as exc:  # wfdb raises bare ValueError/IndexError/OSError on bad files
        raise DatasetError(
            f"not a readable WFDB record ({type(exc).__name__}: {exc})", path=str(path)
        ) from None
    signal = rec.p_signal
    if signal is None or signal.ndim != 2 or signal.shape[0] < 2:
        raise DatasetError("the record has no samples", path=str(path))
    fs = float(rec.fs)
    t = np.round(np.arange(signal.shape[0]) * (1e9 / fs)).astype(np.int64)
    names = list(rec.sig_name or [])
    if lead is not None and lead not in names:
        raise DatasetError(
            f"the record has no lead {lead!r} (its leads: {', '.join(names) or 'unnamed'})",
            path=str(path),
            code="missing-lead",
        )
    wanted = lead if lead is not None else PREFERRED_LEAD
    column = names.index(wanted) if wanted in names else 0
    streams = {"ecg": resample(t, signal[:, column : column + 1], rates.get("ecg", fs))}
    if Path(base + ".atr").is_file() and "hr" in rates:
        samples, symbols, _ = read_wfdb_annotations(path)
        beats = (
            np.array(
                [s for s, sym in zip(samples, symbols, strict=True) if sym in BEAT_SYMBOLS],
                dtype=np.float64,
            )
            / fs
        )
        hr_t, hr = heart_rate_from_beats(beats, rates["hr"])
        if len(hr_t):
            streams["hr"] = (hr_t, hr)
    return Recording(path.stem, path, streams)


def read_recording(path: Path, rates: dict[str, float], ecg_lead: str | None = None) -> Recording:
    """Pick the reader by file name. ``ecg_lead`` names the lead of a WFDB record."""
    suffix = path.suffix.lower()
    if suffix == ".edf":
        return read_edf(path, rates)
    if suffix in WFDB_SUFFIXES:
        return read_wfdb(path, rates, ecg_lead)
    if suffix == ".txt" and ("_acc_" in path.name or "_gyro_" in path.name):
        return read_mobifall(path, rates.get("imu", 100.0))
    raise DatasetError(
        "unknown recording type (expected .edf, a WFDB .hea or a MobiFall *_acc_*.txt)",
        path=str(path),
        code="unknown-format",
    )


def natural_key(text: str) -> list[str | int]:
    """Sort key that orders numbers by value: ``sub2`` before ``sub10``, as people count."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def recordings_in(path: Path) -> list[Path]:
    """The recordings under a file or folder, one path per recording, in natural order."""
    if not path.exists():
        raise DatasetError("no such file or folder", path=str(path), code="missing")
    if not path.is_dir():  # a file, or /dev/null, a FIFO: its reader says what it is
        return [path]
    found = [*path.rglob("*.edf"), *path.rglob("*.hea"), *path.rglob("*_acc_*.txt")]
    found.sort(key=lambda p: natural_key(str(p)))
    if not found:
        raise DatasetError(
            "no recordings (.edf, .hea, MobiFall *_acc_*.txt) in this folder",
            path=str(path),
            code="empty",
        )
    return found
