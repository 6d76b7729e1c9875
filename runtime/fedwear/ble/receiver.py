"""The receiving end of the event link, whatever Bluetooth stack delivers the fragments.

Fragments in, checked messages out: reassembly, decoding, and dropping the copy that a
wearable sends again after a link loss (same ``boot`` and ``seq``). A bad fragment or
message is counted and logged, never raised: one hostile peer must not end the link.
"""

from __future__ import annotations

__all__ = ["Receiver", "until_lost_or_stopped"]

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..errors import DecodeError
from .messages import Reassembler, decode_message

log = logging.getLogger("fedwear.ble")


async def until_lost_or_stopped(lost: asyncio.Event, stop: asyncio.Event | None) -> None:
    """A central's receiving phase: until the link drops or the caller says stop."""
    waits = [asyncio.create_task(lost.wait())]
    if stop is not None:
        waits.append(asyncio.create_task(stop.wait()))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()


class Receiver:
    """Feed it each indication's bytes; it calls ``on_message`` once per new event."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None]) -> None:
        self.on_message = on_message
        self.counts = {"messages": 0, "duplicates": 0, "rejected": 0}
        self._seen: set[tuple[int, int]] = set()
        self._reassembler = Reassembler()

    def feed(self, data: bytes) -> None:
        try:
            whole = self._reassembler.feed(data)
            if whole is None:
                return
            message = decode_message(whole)
        except DecodeError as exc:
            self.counts["rejected"] += 1
            log.warning("BLE: dropped a bad message: %s", exc)
            return
        key = (message["boot"], message["seq"])
        if key in self._seen:
            self.counts["duplicates"] += 1
            return
        self._seen.add(key)
        self.counts["messages"] += 1
        self.on_message(message)
