"""The rate an IIO device samples at, as its sysfs attributes set and show it.

Left alone, a device runs at its driver's default rate, while the stream's rate is fixed
by the models' cards (imu 100 Hz, ppg 64 Hz, ecg 250 Hz). Devices also take only some
rates: an LSM6DS* 12.5, 26, 52, 104 ... Hz, a HID sensor hub whole milliseconds between
reports. So the source asks for the stream's rate (the smallest listed rate at or above
it, where the device lists them), reads back the rate the device took, and resamples
where the two differ (``fedwear.ingest.align``).

The attribute is named after the channel (``in_accel_x_sampling_frequency``, rare), its
type (``in_accel_sampling_frequency``: BMI160, HID sensors), its direction
(``in_sampling_frequency``) or the whole device (``sampling_frequency``: LSM6DS*, most
ADCs); Documentation/ABI/testing/sysfs-bus-iio.
"""

from __future__ import annotations

__all__ = ["RATE_TOLERANCE", "element_type", "rate_attributes", "rate_to_ask", "same_rate"]

import math
import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import SourceError
from .iio_layout import read_attribute

ATTRIBUTE = "sampling_frequency"
# Relative difference under which two rates are the same rate: a HID hub asked for
# 100 Hz reports "100.000000", and an oscillator's few hundred ppm are not a reason to
# resample.
RATE_TOLERANCE = 0.005
_TYPE = re.compile(r"[a-z]+")


def element_type(element: str) -> str:
    """``accel_x`` -> ``accel``, ``voltage0`` -> ``voltage``, ``intensity_ir`` -> ``intensity``:
    the kernel's channel type names are one lower-case word."""
    match = _TYPE.match(element)
    return match.group(0) if match else element


def rate_attributes(device: Path, elements: Sequence[str]) -> list[Path]:
    """The attributes that set the rate of ``elements``, each once, most specific first."""
    found: list[Path] = []
    for element in elements:
        for name in (
            f"in_{element}_{ATTRIBUTE}",
            f"in_{element_type(element)}_{ATTRIBUTE}",
            f"in_{ATTRIBUTE}",
            ATTRIBUTE,
        ):
            path = device / name
            if path.exists():
                if path not in found:
                    found.append(path)
                break
    return found


def read_rate(path: Path) -> float | None:
    """The rate in Hz an attribute shows; None where it shows none (0 means "off")."""
    try:
        value = float(read_attribute(path))
    except (SourceError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def rate_to_ask(path: Path, wanted_hz: float) -> str:
    """What to write to ``path`` for ``wanted_hz``: the smallest rate its ``_available``
    list holds at or above it (a slower rate would lose what the models look for), else
    the fastest listed; with no list (or a ``[min step max]`` range), ``wanted_hz``."""
    listed = path.with_name(path.name + "_available")
    options: list[tuple[float, str]] = []
    if listed.exists():
        try:
            words = read_attribute(listed).split()
        except SourceError:
            words = []
        for word in words:
            try:
                value = float(word)
            except ValueError:  # "[12.5 0.5 800]" is a range, not a list
                options = []
                break
            if math.isfinite(value) and value > 0:
                options.append((value, word))
    if options:
        above = [o for o in options if o[0] >= wanted_hz * (1 - RATE_TOLERANCE)]
        return min(above)[1] if above else max(options)[1]
    return f"{wanted_hz:.6f}".rstrip("0").rstrip(".")  # IIO takes up to 6 decimals here


def same_rate(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= RATE_TOLERANCE * b
