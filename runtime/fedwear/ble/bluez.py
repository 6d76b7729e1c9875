"""The central on a Linux host's own Bluetooth stack: BlueZ, driven through bleak.

bumble (listener.py) needs a controller to itself. A gateway, a laptop or a phone-like
Linux box runs bluetoothd, which owns its adapter; there the central has to go through
BlueZ's D-Bus API, and bleak is the library our field uses for that. The wire protocol
and the checks are the same: fragments go into the same Receiver.

BlueZ keeps the bonds itself (in /var/lib/bluetooth), so a returning wearable is
encrypted with the stored keys and a new one is paired "Just Works".
"""

from __future__ import annotations

__all__ = ["listen_bluez"]

import asyncio
import logging
import os
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from ..errors import BleError, describe
from .bluez_agent import JustWorksAgent
from .receiver import Receiver, until_lost_or_stopped
from .uuids import EVENTS_CHARACTERISTIC, SERVICE

log = logging.getLogger("fedwear.ble")

_SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"  # where D-Bus clients look by default
_BLEAK_3 = int(version("bleak").split(".")[0]) >= 3
_CONNECT_S = 30.0  # connection and service discovery (bleak's default, 10 s, is tight)


def _adapter_args(adapter: str | None) -> dict[str, Any]:
    """bleak 3 takes the adapter in its ``bluez`` options; older releases as a keyword."""
    if adapter is None:
        return {}
    if _BLEAK_3:
        return {"bluez": {"adapter": adapter}}
    return {"adapter": adapter}


async def _find(adapter: str | None, address: str | None, timeout: float) -> BLEDevice:
    if address is not None:
        found = await BleakScanner.find_device_by_address(
            address, timeout=timeout, **_adapter_args(adapter)
        )
    else:
        found = await BleakScanner.find_device_by_filter(
            lambda _device, advertised: SERVICE in advertised.service_uuids,
            timeout=timeout,
            service_uuids=[SERVICE],
            **_adapter_args(adapter),
        )
    if found is None:
        what = address or "fedwear wearable"
        raise BleError(f"no {what} advertised within {timeout:g} s", code="not-found")
    return found


class _SubscribeError(BleError):
    """The link failed between connecting and subscribing: the point where a stale bond fails."""


async def _session(
    wearable: BLEDevice,
    adapter: str | None,
    receiver: Receiver,
    stop: asyncio.Event | None,
) -> None:
    """One connection: pair (or encrypt with BlueZ's bond), subscribe, receive until it ends."""
    lost = asyncio.Event()
    try:
        client = BleakClient(
            wearable,
            disconnected_callback=lambda _client: lost.set(),
            timeout=_CONNECT_S,
            **_adapter_args(adapter),
        )
        await client.connect()
    except (BleakError, TimeoutError, EOFError) as exc:
        raise _SubscribeError(f"{wearable.address}: {describe(exc)}", code="link") from None
    try:
        try:
            await client.pair()  # a no-op when BlueZ already holds a bond with it
        except BleakError as exc:
            raise BleError(
                f"{wearable.address} refused to pair ({describe(exc)}); its ble.pairing "
                "policy decides who may (docs/ble.md)",
                code="pairing",
            ) from None
        try:
            await client.start_notify(
                EVENTS_CHARACTERISTIC, lambda _characteristic, data: receiver.feed(bytes(data))
            )
        except (BleakError, TimeoutError, EOFError) as exc:
            raise _SubscribeError(f"{wearable.address}: {describe(exc)}", code="link") from None
        await until_lost_or_stopped(lost, stop)
    finally:
        await client.disconnect()


async def listen_bluez(
    adapter: str | None,
    on_message: Callable[[dict[str, Any]], None],
    *,
    address: str | None = None,
    scan_timeout: float = 30.0,
    stop: asyncio.Event | None = None,
) -> dict[str, int]:
    """Receive events through BlueZ until ``stop`` is set or the link drops; returns the counts.

    ``adapter`` names the BlueZ adapter (``hci0``); None takes BlueZ's default one. A
    wearable that has forgotten its bond refuses BlueZ's stored keys, and the link fails
    before the subscription: then the bond is removed from BlueZ and paired afresh, once.
    """
    receiver = Receiver(on_message)
    try:
        wearable = await _find(adapter, address, scan_timeout)
    except BleError:  # nothing in range: said as it is (BleError is an OSError too)
        raise
    except (BleakError, OSError) as exc:  # no bluetoothd, no D-Bus, adapter off or absent
        bus = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", _SYSTEM_BUS)
        raise BleError(
            f"BlueZ is not usable here (is bluetoothd running, on the system D-Bus at {bus}?): "
            f"{describe(exc)}",
            code="no-bluez",
        ) from None
    async with JustWorksAgent(wearable.address) as agent:
        log.info("BLE: connecting to %s through BlueZ", wearable.address)
        try:
            await _session(wearable, adapter, receiver, stop)
        except _SubscribeError as exc:
            log.warning("BLE: %s; removing BlueZ's bond with it and pairing again", describe(exc))
            await agent.remove_device(wearable.details["path"])
            wearable = await _find(adapter, wearable.address, scan_timeout)
            await _session(wearable, adapter, receiver, stop)
    return receiver.counts
