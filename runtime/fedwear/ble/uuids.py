"""The fedwear GATT service: one 128-bit base, one short id per attribute.

Vendor services use 128-bit UUIDs (16-bit ones are assigned by the Bluetooth SIG). The
attributes share a random base and differ in bytes 2-3, the habit of most vendor
services, so a sniffer trace shows at a glance which ones belong together.
"""

from __future__ import annotations

__all__ = ["EVENTS_CHARACTERISTIC", "SERVICE"]

_BASE = "2a12{:04x}-5ec6-4744-9ea8-ab5a925179c5"

SERVICE = _BASE.format(0x0001)
# Indications: each carries one fragment of an event message (messages.py).
EVENTS_CHARACTERISTIC = _BASE.format(0x0002)
