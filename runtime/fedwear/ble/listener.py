"""A central that receives a wearable's events: ``fedwear listen``.

It finds a wearable by its service UUID in the advertisements (or connects to a given
address), asks for a larger ATT MTU, subscribes to the events characteristic and hands
each checked message to a callback. A malformed fragment or message is logged and
skipped; the link stays up. The copy of a message that the wearable sends again after a
link loss is dropped (same ``boot`` and ``seq``).

With a bumble transport this runs on any HCI controller, which is also how the tests run
it: against a wearable on a virtual link of bumble controllers.
"""

from __future__ import annotations

__all__ = ["listen"]

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bumble.core import UUID, AdvertisingData
from bumble.core import TimeoutError as CoreTimeoutError
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.hci import Address
from bumble.keys import MemoryKeyStore
from bumble.transport import open_transport

from ..errors import BleError, describe
from .bonds import BondStore
from .pairing import just_works
from .receiver import Receiver, until_lost_or_stopped
from .uplink import device_address
from .uuids import EVENTS_CHARACTERISTIC, SERVICE

log = logging.getLogger("fedwear.ble")

_MTU = 247  # what most phones ask for: a 100-byte event then fits in one fragment


async def _find_wearable(device: Device, timeout: float) -> Address:
    found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()
    service = UUID(SERVICE)

    def on_advertisement(advertisement: Advertisement) -> None:
        uuids = advertisement.data.get(AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS)
        if not found.done() and uuids and service in uuids:
            found.set_result(advertisement.address)

    device.on("advertisement", on_advertisement)
    await device.start_scanning(filter_duplicates=True)
    try:
        return await asyncio.wait_for(found, timeout)
    except TimeoutError:
        raise BleError(
            f"no fedwear wearable advertised within {timeout:g} s", code="not-found"
        ) from None
    finally:
        device.remove_listener("advertisement", on_advertisement)
        await device.stop_scanning()


async def _connect(device: Device, target: Address, timeout: float) -> Connection:
    """bumble waits for a connection forever by default: a wearable out of range (or not
    advertising) at ``--address`` left `fedwear listen` waiting, whatever its --timeout."""
    try:
        # bumble cancels the attempt at ``timeout``; the outer bound is for a controller
        # that never confirms the cancel (bumble's virtual controllers do not).
        return await asyncio.wait_for(device.connect(target, timeout=timeout), timeout + 2.0)
    except (TimeoutError, CoreTimeoutError):
        raise BleError(
            f"no connection to {target} within {timeout:g} s", code="not-found"
        ) from None


async def _secure(device: Device, connection: Connection) -> None:
    """Encrypt with the bond's keys, or pair (the wearable only sends on encrypted links)."""
    assert device.keystore is not None
    name = str(connection.peer_address)
    if await device.keystore.get(name) is not None:
        try:
            await connection.encrypt()
            return
        except Exception as exc:  # the wearable forgot the bond: pair afresh
            log.warning("BLE: %s did not take our keys (%s); pairing again", name, exc)
            await device.keystore.delete(name)
    try:
        await connection.pair()
    except Exception as exc:
        raise BleError(
            f"{name} refused to pair ({describe(exc)}); its ble.pairing policy decides "
            "who may (docs/ble.md)",
            code="pairing",
        ) from None


async def listen(
    transport: str,
    on_message: Callable[[dict[str, Any]], None],
    *,
    address: str | None = None,
    scan_timeout: float = 30.0,
    stop: asyncio.Event | None = None,
    bonds: Path | None = None,
    own_address: Address | None = None,
) -> dict[str, int]:
    """Receive events until ``stop`` is set or the link drops; returns the counts.

    ``bonds`` keeps the keys of the wearables paired with (None: this run only), and
    ``own_address`` is the identity they know this central by (default: one derived from
    the machine id, so that a bond outlives the process).
    """
    receiver = Receiver(on_message)

    async with await open_transport(transport) as hci:
        device = Device.with_hci(
            "fedwear-listen",
            own_address
            or device_address(
                b"fedwear-listen", seed_file=bonds.with_name("ble-identity") if bonds else None
            ),
            hci.source,
            hci.sink,
        )
        device.keystore = BondStore(bonds) if bonds else MemoryKeyStore()
        device.pairing_config_factory = lambda connection: just_works()
        await device.power_on()
        target = Address(address) if address else await _find_wearable(device, scan_timeout)
        log.info("BLE: connecting to %s", target)
        connection = await _connect(device, target, scan_timeout)
        lost = asyncio.Event()
        connection.on("disconnection", lambda reason: lost.set())
        await _secure(device, connection)
        peer = Peer(connection)
        await peer.request_mtu(_MTU)
        await peer.discover_service(SERVICE)
        await peer.discover_characteristics()
        characteristics = peer.get_characteristics_by_uuid(UUID(EVENTS_CHARACTERISTIC))
        if not characteristics:
            raise BleError(f"{target} has no fedwear events characteristic", code="not-fedwear")
        await peer.subscribe(characteristics[0], receiver.feed, prefer_notify=False)
        await until_lost_or_stopped(lost, stop)
        if not lost.is_set():
            await connection.disconnect()
    return receiver.counts
