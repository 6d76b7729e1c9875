"""Ring throughput, each figure a ratio against baselines measured in the same run.

1. C level: fw_ring write+read vs two memcpy of the same batch (the limit); compiled and
   run from here with the system C compiler (-O2).
2. Python level, moving 4 KiB batches (128 frames x 6 channels) from a producer to a
   consumer that needs a numpy array:
   - the C ring through cffi, reading into a reused numpy buffer;
   - the numpy reference ring (fedwear.ringbuf_py.PyRing);
   - collections.deque of per-sample tuples (append each sample, pop 128, np.array).

Usage: python tools/bench/ring_throughput.py [--seconds S]
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from fedwear.ringbuf import Ring, make_frames
from fedwear.ringbuf_py import PyRing

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FRAMES, CHANNELS = 128, 6


def c_level() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "ring_bench"
        subprocess.run(
            [
                "cc",
                "-std=c11",
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-o",
                str(exe),
                str(HERE / "ring_bench.c"),
                str(ROOT / "native" / "fw_ring.c"),
            ],
            check=True,
        )
        return subprocess.run(
            [str(exe), "4096", "2000000"], check=True, capture_output=True, text=True
        ).stdout


def rate(fn, seconds: float) -> float:  # type: ignore[no-untyped-def]
    """Batches per second, best of 5 runs of ``seconds / 5``."""
    best = 0.0
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 5:
            for _ in range(50):
                fn()
            n += 50
        best = max(best, n / elapsed)
    return best


def python_level(seconds: float) -> list[tuple[str, float]]:
    t = np.arange(FRAMES, dtype=np.int64)
    batch = make_frames(t, np.ones((FRAMES, CHANNELS), np.float32))
    ring = Ring(4096, CHANNELS)
    out = np.empty(FRAMES, dtype=ring.dtype)

    def c_ring() -> None:
        ring.write(batch)
        ring.read(FRAMES, out=out)

    py_ring = PyRing(4096, CHANNELS)

    def numpy_ring() -> None:
        py_ring.write(batch)
        py_ring.read(FRAMES, out=out)

    samples = [(int(ts), *map(float, row)) for ts, row in zip(batch["t"], batch["v"], strict=True)]
    dq: collections.deque[tuple[float, ...]] = collections.deque(maxlen=4096)

    def deque_of_tuples() -> None:
        for s in samples:
            dq.append(s)
        np.array([dq.popleft() for _ in range(FRAMES)])

    return [
        ("C ring via cffi", rate(c_ring, seconds)),
        ("numpy ring (PyRing)", rate(numpy_ring, seconds)),
        ("collections.deque", rate(deque_of_tuples, seconds)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time per Python variant")
    args = ap.parse_args()
    print("== C level (4 KiB batches)")
    print(c_level(), end="")
    print("== Python level (4 KiB batches: 128 frames x 6 channels, producer -> numpy)")
    results = python_level(args.seconds)
    c_rate = results[0][1]
    for name, r in results:
        mb = r * FRAMES * 32 / 1e6
        print(f"{name:22s} {r:12,.0f} batches/s {mb:9.1f} MB/s   C ring is {c_rate / r:6.1f}x")


if __name__ == "__main__":
    main()
