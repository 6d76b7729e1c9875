"""Access to the compiled core (``fedwear._native``, built by cffi from native/)."""

from __future__ import annotations

__all__ = ["ffi", "lib"]

from typing import Any

from .errors import NativeError

try:
    from . import _native  # type: ignore[attr-defined]
except ImportError as exc:  # pragma: no cover - only without a build
    raise NativeError(
        "the C extension fedwear._native is not built; install the package with "
        "'pip install .' (or 'pip install -e .') so cffi compiles native/"
    ) from exc

ffi: Any = _native.ffi
lib: Any = _native.lib
