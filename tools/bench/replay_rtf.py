"""Real-time factor of `fedwear run` on the embedded default, on one core.

Runs the main job (bundled 120 s recording, the rule detectors its streams allow, no
output sinks) in process, pinned to CPU 0, after one warm-up run; reports the median of
five runs with the C ring and, in the same process, with the numpy reference ring
(FEDWEAR_PURE_PYTHON=1). The real-time factor is seconds of recording per second of wall
time, loading included.

Usage: python tools/bench/replay_rtf.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics

from fedwear.config import load_config
from fedwear.detect import build_rule_detectors
from fedwear.ingest import open_source
from fedwear.pipeline import run_pipeline


def rtf(runs: int) -> tuple[float, int]:
    config = load_config()
    factors, events = [], 0
    for i in range(runs + 1):
        source = open_source(config)
        detectors = build_rule_detectors(config, source.streams())
        summary = run_pipeline(config, source, detectors, [])
        if i:  # the first run warms caches and imports
            factors.append(summary.realtime_factor)
        events = summary.events
    return statistics.median(factors), events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    c_rtf, c_events = rtf(args.runs)
    os.environ["FEDWEAR_PURE_PYTHON"] = "1"
    py_rtf, py_events = rtf(args.runs)
    del os.environ["FEDWEAR_PURE_PYTHON"]
    print(f"fedwear run, embedded default (120 s recording), one core, median of {args.runs}")
    print(f"C ring        {c_rtf:8.0f}x real time   ({c_events} events)")
    print(f"numpy ring    {py_rtf:8.0f}x real time   ({py_events} events)")
    print(f"ratio         {c_rtf / py_rtf:8.2f}")


if __name__ == "__main__":
    main()
