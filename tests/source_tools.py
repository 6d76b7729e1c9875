"""A script under tools/ loaded as a module, for the tests of its parts.

Skips the calling test where tools/ is missing: the device's suite (ptest, the QEMU
guest) has tests/ but not tools/.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def tool_module(relative: str) -> Any:
    """``relative``: the script's path under tools/, e.g. "data/in_sample_figures.py"."""
    path = TOOLS / relative
    if not path.is_file():
        pytest.skip("tools/ is in the source checkout only")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
