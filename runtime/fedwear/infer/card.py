"""Model cards: the JSON beside each shipped ``.tflite`` that says what the model expects.

The runtime trusts a model only as far as its card: the file's hash, its tensors (shape,
dtype, quantization) and the preprocessing constants the detector needs all come from
here, so a model and the code that feeds it cannot drift apart silently.
"""

from __future__ import annotations

__all__ = ["CARD_FORMAT", "ModelCard", "TensorSpec", "load_card", "models_dir"]

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bounded import read_at_most
from ..errors import ConfigError, ModelError

CARD_FORMAT = "fedwear-model-card/1"
MAX_CARD_BYTES = 1 << 20


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8", "float32", ...
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "scale": self.scale,
            "zero_point": self.zero_point,
        }


@dataclass(frozen=True)
class ModelCard:
    name: str
    file: str
    sha256: str
    bytes: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    preprocessing: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path = Path()

    @property
    def model_path(self) -> Path:
        return self.path.parent / self.file

    def param(self, section: str, key: str) -> Any:
        """A required preprocessing/threshold constant, or a ModelError naming it."""
        table = self.preprocessing if section == "preprocessing" else self.thresholds
        if key not in table:
            raise ModelError(f"card has no {section}.{key}", path=str(self.path), code="card")
        return table[key]

    # Typed reads: a card edited by hand or damaged must give a ModelError that names the
    # key, not a ValueError (or an infinite threshold) in the detector that reads it.

    def number(self, section: str, key: str) -> float:
        """A required finite number."""
        value = self.param(section, key)
        if not _finite_number(value):
            raise self._wrong(section, key, "a finite number", value)
        return float(value)

    def count(self, section: str, key: str) -> int:
        """A required whole number of at least 1."""
        value = self.param(section, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self._wrong(section, key, "a whole number of at least 1", value)
        return value

    def numbers(self, section: str, key: str) -> tuple[float, ...]:
        """A required list of finite numbers."""
        value = self.param(section, key)
        if not isinstance(value, list) or not all(_finite_number(v) for v in value):
            raise self._wrong(section, key, "a list of finite numbers", value)
        return tuple(float(v) for v in value)

    def names(self, section: str, key: str) -> tuple[str, ...]:
        """A required list of strings."""
        value = self.param(section, key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(section, key, "a list of strings", value)
        return tuple(value)

    def _wrong(self, section: str, key: str, wanted: str, value: Any) -> ModelError:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return ModelError(
            f"card {section}.{key} must be {wanted}, not {shown}", path=str(self.path), code="card"
        )

    def stream_rate(self, stream: str, configured_hz: float) -> float:
        """The rate the model was trained at (``preprocessing.<stream>_rate_hz``); a stream
        configured at another rate is a ConfigError, since the model would see other data."""
        rate = self.number("preprocessing", f"{stream}_rate_hz")
        if abs(configured_hz - rate) > 1e-6:
            raise ConfigError(
                f"the {self.name} model needs {stream} at {rate:g} Hz (its card), "
                f"not {configured_hz:g}",
                key=f"streams.{stream}.rate_hz",
            )
        return rate


def _finite_number(value: Any) -> bool:
    """A JSON number that is a finite float: JSON integers are unbounded, and
    math.isfinite(10**400) raises OverflowError."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def models_dir(configured: str = "") -> Path:
    """Where the shipped models are: config, $FEDWEAR_MODELS, the checkout, or the install."""
    if configured:
        return Path(configured)
    if env := os.environ.get("FEDWEAR_MODELS"):
        return Path(env)
    candidates = [
        Path(__file__).resolve().parents[3] / "models",  # source checkout / editable install
        Path(sys.prefix) / "share" / "fedwear" / "models",  # pip install (data-files)
        Path("/usr/share/fedwear/models"),  # the Yocto image
    ]
    for c in candidates:
        if (c / "fall.json").is_file():
            return c
    return candidates[-1]


def _require(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise ModelError(f"card is missing {where}{key}", code="card")
    value = d[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ModelError(f"card {where}{key} has the wrong type", code="card")
    return value


def _scale(d: dict[str, Any], where: str) -> float:
    value = _require(d, "scale", (int, float), where)
    if not _finite_number(value):
        raise ModelError(f"card {where}scale must be a finite number", code="card")
    return float(value)


def _tensor(d: Any, where: str) -> TensorSpec:
    if not isinstance(d, dict):
        raise ModelError(f"card {where} is not an object", code="card")
    shape = _require(d, "shape", list, where)
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        raise ModelError(f"card {where}shape must be positive integers", code="card")
    return TensorSpec(
        name=str(_require(d, "name", str, where)),
        shape=tuple(shape),
        dtype=str(_require(d, "dtype", str, where)),
        scale=_scale(d, where),
        zero_point=int(_require(d, "zero_point", int, where)),
    )


def load_card(path: Path) -> ModelCard:
    """Read and check a card; every problem is a ModelError that names the file and key."""
    try:
        raw = read_at_most(path, MAX_CARD_BYTES)
        if len(raw) > MAX_CARD_BYTES:
            raise ModelError("card holds more than 1 MiB", path=str(path), code="card")
        data = json.loads(raw)
    except FileNotFoundError:
        raise ModelError("model card not found", path=str(path), code="missing") from None
    # ValueError: json.JSONDecodeError, or an integer past Python's 4300-digit limit
    except (OSError, ValueError) as exc:
        raise ModelError(f"unreadable model card ({exc})", path=str(path), code="card") from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise ModelError("model card nests too deeply", path=str(path), code="card") from None
    try:
        if not isinstance(data, dict):
            raise ModelError("card is not a JSON object", code="card")
        if data.get("format") != CARD_FORMAT:
            raise ModelError(f"card format is not {CARD_FORMAT!r}", code="card")
        inputs = _require(data, "inputs", list, "")
        outputs = _require(data, "outputs", list, "")
        file = _require(data, "file", str, "")
        if Path(file).name != file:
            raise ModelError("card file must be a plain file name", code="card")
        return ModelCard(
            name=_require(data, "name", str, ""),
            file=file,
            sha256=_require(data, "sha256", str, ""),
            bytes=_require(data, "bytes", int, ""),
            inputs=tuple(_tensor(t, f"inputs[{i}].") for i, t in enumerate(inputs)),
            outputs=tuple(_tensor(t, f"outputs[{i}].") for i, t in enumerate(outputs)),
            preprocessing=dict(_require(data, "preprocessing", dict, "")),
            thresholds=dict(_require(data, "thresholds", dict, "")),
            raw=data,
            path=path,
        )
    except ModelError as exc:
        raise ModelError(exc.args[0], path=str(path), code=exc.code) from None
