"""One small error hierarchy for fedwear.

Every error has a ``namespace`` (the layer that raised it), a ``code`` (a short stable
identifier callers can match on) and an ``exit_code`` from its component's range, so that
daemons can exit with a number that says which component failed (systemd logs it).
Each class also subclasses the builtin a caller would naturally catch.
"""

from __future__ import annotations

__all__ = [
    "BleError",
    "ConfigError",
    "DatasetError",
    "DecodeError",
    "ExitCode",
    "FedwearError",
    "ModelError",
    "NativeError",
    "RingError",
    "SourceError",
    "describe",
]

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, one range of ten per component."""

    OK = 0
    USAGE = 2
    CONFIG = 10
    SOURCE = 20
    SOURCE_LOST = 21
    DATASET = 30
    NATIVE = 40
    MODEL = 50
    BLE = 60
    INTERRUPTED = 130


class FedwearError(Exception):
    """Root of all fedwear errors."""

    namespace = "fedwear"
    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, code: str = "error") -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.namespace}: {self.args[0]}"


class ConfigError(FedwearError, ValueError):
    """A configuration file or value is wrong; ``key`` names the offending key."""

    namespace = "config"
    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, *, key: str = "", code: str = "invalid") -> None:
        super().__init__(f"{key}: {message}" if key else message, code=code)
        self.key = key


class SourceError(FedwearError, OSError):
    """A sensor source could not be opened, configured or read."""

    namespace = "source"
    exit_code = ExitCode.SOURCE

    def __init__(self, message: str, *, code: str = "unavailable", errno_value: int = 0) -> None:
        FedwearError.__init__(self, message, code=code)
        self.errno_value = errno_value
        if code == "lost":
            self.exit_code = ExitCode.SOURCE_LOST


class DatasetError(FedwearError, ValueError):
    """A recording is missing, truncated or malformed; ``path`` and ``line`` say where."""

    namespace = "dataset"
    exit_code = ExitCode.DATASET

    def __init__(self, message: str, *, path: str = "", line: int = 0, code: str = "malformed"):
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(where + message, code=code)
        self.path = path
        self.line = line


class DecodeError(FedwearError, ValueError):
    """A byte stream or scan description could not be decoded."""

    namespace = "decode"
    exit_code = ExitCode.SOURCE


class RingError(FedwearError, ValueError):
    """A ring buffer was created or used with bad arguments."""

    namespace = "ringbuf"
    exit_code = ExitCode.NATIVE


class NativeError(FedwearError, ImportError):
    """The compiled core is missing (the package was not installed with its C extension)."""

    namespace = "native"
    exit_code = ExitCode.NATIVE


class ModelError(FedwearError, ValueError):
    """A model file or its card is missing, corrupted, or does not match the other."""

    namespace = "model"
    exit_code = ExitCode.MODEL

    def __init__(self, message: str, *, path: str = "", code: str = "invalid") -> None:
        super().__init__(f"{path}: {message}" if path else message, code=code)
        self.path = path


class BleError(FedwearError, OSError):
    """No Bluetooth controller, no wearable in range, or a link that failed."""

    namespace = "ble"
    exit_code = ExitCode.BLE


def describe(exc: BaseException) -> str:
    """One line for an exception, ours or a third-party stack's: its message, named."""
    if isinstance(exc, FedwearError):
        return str(exc.args[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
