"""Shared fixtures: paths to the shipped samples and to ../shared (skipped when absent)."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared" / "data"


def examples(n: int) -> int:
    """Random cases (hypothesis examples, stress-test iterations) scaled by
    $FEDWEAR_EXAMPLE_SCALE: the QEMU guest (tools/qemu) checks the same properties on fewer
    cases, since emulation makes each one 10-80x slower; the host runs them all."""
    return max(10, round(n * float(os.environ.get("FEDWEAR_EXAMPLE_SCALE", "1"))))


@contextlib.contextmanager
def memory_cap(extra_bytes: int = 1 << 30) -> Iterator[None]:
    """Cap this process's address space at its size now plus ``extra_bytes``, for a test
    that reads an endless file (/dev/zero): where a regression leaves the read unbounded,
    the test fails with MemoryError instead of the OOM killer ending the whole run."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = size + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def at_once(count: int, work: Callable[[int], object]) -> list[BaseException]:
    """Run ``work(i)`` for i < count in threads released together; what they raised.
    Races between writers (two processes sharing a state folder) show this way."""
    start, errors = threading.Barrier(count), []

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as exc:  # collected for the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present (the shared datasets sit beside the checkout)")
    return SHARED


@pytest.fixture
def realtime_run(tmp_path: Path) -> Callable[..., subprocess.Popen[str]]:
    """Start `fedwear run --pace realtime` (bundled recording) as a separate process."""

    def start(*extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fedwear.cli",
                "run",
                "--pace",
                "realtime",
                "--event-log",
                str(tmp_path / "realtime.jsonl"),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    return start


@pytest.fixture
def write_wfdb(tmp_path: Path) -> Callable[..., Path]:
    """Write a one-lead MLII WFDB record (``.hea``/``.dat``) and its ``.atr`` of (time s,
    symbol, note) marks into tmp_path; skips where the wfdb extra is not installed."""
    wfdb = pytest.importorskip("wfdb", reason="the wfdb extra is not installed")

    def write(
        name: str, signal: np.ndarray, marks: list[tuple[float, str, str]], fs: int = 250
    ) -> Path:
        wfdb.wrsamp(
            name,
            fs=fs,
            units=["mV"],
            sig_name=["MLII"],
            p_signal=signal,
            fmt=["212"],
            write_dir=str(tmp_path),
        )
        wfdb.wrann(
            name,
            "atr",
            np.array([round(t * fs) for t, _, _ in marks]),
            symbol=[m for _, m, _ in marks],
            aux_note=[n for _, _, n in marks],
            write_dir=str(tmp_path),
        )
        return tmp_path / f"{name}.hea"

    return write
