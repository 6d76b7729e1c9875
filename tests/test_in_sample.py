"""The shipped models, on the shared data, give what they gave when their cards were
measured: a change that moves them means the cards may no longer hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from source_tools import tool_module

PINNED = Path(__file__).parent / "data" / "in_sample_figures.json"
REDO = (
    "rebuild the models (tools/train/build_models.py) so their cards are measured with this "
    "code, then pin again (tools/data/in_sample_figures.py)"
)


def _differences(pinned: Any, now: Any, where: str = "") -> list[str]:
    """Counts must match exactly; scores and percentages within 0.05 (the figures come
    from the reference kernels, the same on every CPU, but the runtime releases' differ
    in a last step, and float preprocessing may differ in a last bit)."""
    if isinstance(pinned, dict) and isinstance(now, dict):
        out = [f"{where}/{k}: gone" for k in pinned if k not in now]
        out += [f"{where}/{k}: new" for k in now if k not in pinned]
        for k in pinned.keys() & now.keys():
            out += _differences(pinned[k], now[k], f"{where}/{k}")
        return out
    if isinstance(pinned, list) and isinstance(now, list) and len(pinned) == len(now):
        return [
            d
            for i, (a, b) in enumerate(zip(pinned, now, strict=True))
            for d in _differences(a, b, f"{where}[{i}]")
        ]
    if isinstance(pinned, float) and isinstance(now, float):
        return [] if abs(pinned - now) <= 0.05 else [f"{where}: {pinned} -> {now}"]
    return [] if pinned == now else [f"{where}: {pinned} -> {now}"]


@pytest.mark.shared
@pytest.mark.slow
def test_the_pipeline_gives_the_shipped_models_the_figures_pinned(shared_data: Path) -> None:
    pytest.importorskip("wfdb")
    tool = tool_module("data/in_sample_figures.py")
    pinned = json.loads(PINNED.read_text())
    assert pinned["models"] == tool.model_hashes(), f"the models changed: {REDO}"
    changed = _differences(pinned, tool.figures(shared_data))
    assert not changed, f"{len(changed)} figures moved ({REDO}): " + "; ".join(changed[:10])


def test_differences_sees_a_moved_count_and_ignores_a_last_digit() -> None:
    pinned = {"fall": {"a.txt": [7, 0.9961, 1]}, "ppg_hr": {"s2": [203, 2.94, 0]}}
    assert (
        _differences(pinned, {"fall": {"a.txt": [7, 0.9962, 1]}, "ppg_hr": {"s2": [203, 2.95, 0]}})
        == []
    )
    moved = {"fall": {"a.txt": [8, 0.9961, 2]}, "ppg_hr": {"s2": [203, 3.2, 0]}}
    assert sorted(_differences(pinned, moved)) == [
        "/fall/a.txt[0]: 7 -> 8",
        "/fall/a.txt[2]: 1 -> 2",
        "/ppg_hr/s2[1]: 2.94 -> 3.2",
    ]
    assert _differences(pinned, {"fall": {}, "ppg_hr": {"s2": [203, 2.94, 0]}}) == [
        "/fall/a.txt: gone"
    ]
