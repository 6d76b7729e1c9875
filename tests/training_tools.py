"""The training tools (tools/train) on the import path, for the tests of their parts.

Skips the calling test module where they are missing: the device's suite (ptest, the
QEMU guest) has tests/ but not tools/, and without the ``[train]`` extra there is no
TensorFlow. A marker would not do: the module's imports run at collection.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TRAINING_TOOLS = Path(__file__).resolve().parents[1] / "tools" / "train"


def use_training_tools(tensorflow: bool = False) -> None:
    if not TRAINING_TOOLS.is_dir():
        pytest.skip("the training tools are in the source checkout only", allow_module_level=True)
    if tensorflow:
        pytest.importorskip("tensorflow", reason="the [train] extra is not installed")
    if str(TRAINING_TOOLS) not in sys.path:
        sys.path.insert(0, str(TRAINING_TOOLS))
