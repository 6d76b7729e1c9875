"""The wearable's side of the BLE link: a GATT peripheral that indicates events to a central.

A phone or gateway connects, subscribes to the events characteristic (indications, so
each fragment is confirmed) and receives every event as a message (``messages.py``).
Events wait in a bounded backlog while no central is subscribed; one that was not
confirmed when the link dropped is sent again to the next central, so delivery is at
least once (the message's ``boot``/``seq`` let the receiver drop the copy). The event
log on disk stays the record of every event; the backlog only bridges gaps in the link.

Bluetooth runs in its own thread with its own asyncio loop (bumble's host stack), so the
detectors never wait for the radio: ``event()`` only hands the message over. The
controller is opened in that thread too; when it is missing, one line is logged and
``event()`` does nothing from then on: the wearable runs on without Bluetooth.
"""

from __future__ import annotations

__all__ = ["EventUplink", "device_address"]

import asyncio
import collections
import contextlib
import hashlib
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service
from bumble.hci import Address
from bumble.keys import MemoryKeyStore
from bumble.transport import open_transport

from ..atomic import write_atomically
from ..config import PairingPolicy
from ..detect.base import Event
from ..errors import BleError, describe
from .bonds import BondStore
from .messages import encode_event, fragment
from .pairing import pairing_config, require_encryption_to_subscribe
from .uuids import EVENTS_CHARACTERISTIC, SERVICE

log = logging.getLogger("fedwear.ble")

# How long a central has to confirm one fragment before the link is taken as lost.
_CONFIRM_TIMEOUT_S = 5.0
# At exit, how long a subscribed central gets to take what is still pending.
_DRAIN_S = 3.0


def device_address(
    purpose: bytes = b"fedwear-ble",
    seed_file: Path | None = None,
    machine_id_path: Path = Path("/etc/machine-id"),
) -> Address:
    """A random static address that stays the same across restarts.

    A bond is tied to the peer's address; one that changed at every start would turn a
    bonded phone into a stranger. The address is derived from the machine id, or where
    there is none (a container, an image without systemd) from a random seed kept in
    ``seed_file``; with neither it lasts only as long as the process. ``purpose`` gives
    the wearable and a central on the same machine different addresses.
    """
    seed = _read_seed(machine_id_path) or (_kept_seed(seed_file) if seed_file else b"")
    digest = hashlib.sha256(purpose + b"\0" + seed).digest()
    raw = bytearray(digest[:6] if seed else secrets.token_bytes(6))
    raw[5] |= 0xC0  # static random: the two most significant bits set (Core 5.4, 6.B.1.3.2.1)
    return Address(bytes(raw), Address.RANDOM_DEVICE_ADDRESS)


def _read_seed(path: Path) -> bytes | None:
    """The file's first 64 bytes, stripped; None where there is no such file. At most
    1 KiB is read: the file may have been replaced by anything (/dev/zero, say)."""
    try:
        with path.open("rb") as f:
            return f.read(1024).strip()[:64]
    except FileNotFoundError:
        return None
    except OSError:
        return b""


def _kept_seed(path: Path) -> bytes:
    seed = _read_seed(path)
    if seed is not None and len(seed) >= 32:
        return seed
    fresh = secrets.token_hex(16).encode()
    if seed is None:
        # Missing when read. A wearable's run and a listen on the same machine may both
        # be making it now: the first seed written is the one both keep.
        try:
            write_atomically(path, fresh + b"\n", exclusive=True)
            return fresh
        except FileExistsError:
            theirs = _read_seed(path) or b""
            if len(theirs) >= 32:
                return theirs
        except OSError:
            pass  # a file system without hard links: written the plain way below
    write_atomically(path, fresh + b"\n")  # cut short or unreadable: a new one (bonds go too)
    return fresh


class EventUplink:
    """Sends detector events to a BLE central; an event sink for ``run_pipeline``."""

    def __init__(
        self,
        transport: str,
        *,
        name: str = "fedwear",
        backlog: int = 64,
        address: Address | None = None,
        bonds: Path | None = None,
        pairing: PairingPolicy = "first",
        subscribe_within_s: float = 30.0,
    ) -> None:
        self.transport_spec = transport
        # A central that has not subscribed by then is dropped: while it holds the link the
        # wearable does not advertise, so an idle stranger would lock the owner's phone out.
        self.subscribe_within_s = subscribe_within_s
        self.name = name
        self.bonds_path = bonds  # None: bonds last as long as the process
        self.pairing: PairingPolicy = pairing
        self.address = address or device_address(
            seed_file=bonds.with_name("ble-identity") if bonds else None
        )
        self.boot = secrets.randbits(32)  # tells the receiver this run's seq from the last
        self.sent = 0
        self.dropped = 0  # pushed out of a full backlog before any central took them
        self._pending: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=backlog)
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._subscribers: set[Connection] = set()
        self._device: Device | None = None
        self._advertising: asyncio.Task[None] | None = None
        self._dropping: asyncio.Task[None] | None = None
        self._started = threading.Event()
        # Guards _loop and _closing: which thread owns the backlog, and a close() that
        # comes while the controller is still starting.
        self._lock = threading.Lock()
        self._closing = False
        self.error: str | None = None  # why Bluetooth is off, once start-up failed
        self._thread = threading.Thread(target=self._run, name="fedwear-ble", daemon=True)

    # Called from the main thread ---------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wait_started(self, timeout: float) -> bool:
        """True once advertising; False on failure (``error`` says why) or timeout."""
        return self._started.wait(timeout) and self.error is None

    def event(self, event: Event) -> None:
        if self.error is not None:
            return
        self._seq += 1
        item = (self._seq, encode_event(self.boot, self._seq, event.to_dict()))
        with self._lock:
            loop = self._loop
            if loop is None:  # still starting: the backlog is the thread's once it runs
                self._push(item)
                return
        with contextlib.suppress(RuntimeError):  # the loop has ended (close(), lost controller)
            loop.call_soon_threadsafe(self._enqueue, item)

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closing = True
            loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.error is None and self._started.is_set():
            log.info(
                "BLE: %d events sent, %d dropped from a full backlog, %d unsent at exit",
                self.sent,
                self.dropped,
                len(self._pending),
            )

    # In the Bluetooth thread ----------------------------------------------------------

    def _push(self, item: tuple[int, bytes]) -> None:
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(item)

    def _enqueue(self, item: tuple[int, bytes]) -> None:
        self._push(item)
        if self._wake is not None:
            self._wake.set()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # anything the stack raises: log once, run without BLE
            if self.error is None:
                self.error = describe(exc)
                log.warning(
                    "Bluetooth off: %s (transport %s); running without the BLE uplink",
                    self.error,
                    self.transport_spec,
                )
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._wake, self._stop = asyncio.Event(), asyncio.Event()
        transport = await asyncio.wait_for(open_transport(self.transport_spec), 10.0)
        try:
            device, characteristic = self._build_device(transport)
            await asyncio.wait_for(device.power_on(), 10.0)
            # Advertising is restarted by _on_disconnection, not by bumble's auto_restart,
            # whose restart is bound to the connection and would outlive a shutdown.
            self._device = device
            await device.start_advertising()
            with self._lock:
                self._loop = asyncio.get_running_loop()
                if self._closing:  # close() came while the controller was starting
                    self._stop.set()
            self._started.set()
            log.info("BLE: advertising as %s (%s)", self.name, self.address)
            sender = asyncio.create_task(self._send(device, characteristic))
            stopped = asyncio.create_task(self._stop.wait())
            lost = getattr(transport.source, "terminated", None)  # the controller went away
            await asyncio.wait(
                [stopped, *([lost] if isinstance(lost, asyncio.Future) else [])],
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not stopped.done():
                stopped.cancel()
                sender.cancel()
                raise BleError("the controller stopped answering (HCI transport lost)")
            await self._drain(_DRAIN_S)
            sender.cancel()
            await self._shut_down(device)
        finally:
            with self._lock:
                self._loop = None
            await transport.close()

    def _build_device(self, transport: Any) -> tuple[Device, Characteristic[bytes]]:
        """The GATT server (one service, one indicated characteristic) and what it advertises."""
        device = Device.with_hci(self.name, self.address, transport.source, transport.sink)
        characteristic: Characteristic[bytes] = Characteristic(
            EVENTS_CHARACTERISTIC,
            Characteristic.Properties.INDICATE,
            Characteristic.Permissions(0),  # the value is never read, only indicated
            b"",
        )
        characteristic.on("subscription", self._on_subscription)
        device.add_service(Service(SERVICE, [characteristic]))
        require_encryption_to_subscribe(device, characteristic)
        device.keystore = BondStore(self.bonds_path) if self.bonds_path else MemoryKeyStore()
        device.pairing_config_factory = pairing_config(self.pairing, device)
        device.on("connection", self._on_connection)
        device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),  # LE only, general discoverable
                    (
                        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                        bytes(UUID(SERVICE)),
                    ),
                ]
            )
        )
        device.scan_response_data = bytes(
            AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode())])
        )
        return device, characteristic

    async def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._pending and self._subscribers and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _shut_down(self, device: Device) -> None:
        """Stop advertising, then let go of the centrals (``_stop`` keeps it stopped)."""
        try:
            if self._advertising is not None:
                await asyncio.wait_for(self._advertising, 2.0)
            await asyncio.wait_for(device.stop_advertising(), 2.0)
            for connection in list(device.connections.values()):
                await asyncio.wait_for(connection.disconnect(), 2.0)
        except Exception as exc:  # the controller stopped answering: close anyway
            log.debug("BLE: unclean shutdown: %s", exc)

    def _on_connection(self, connection: Connection) -> None:
        log.info("BLE: central %s connected", connection.peer_address)
        connection.on(
            "disconnection",
            lambda reason: self._on_disconnection(connection, reason),
        )
        asyncio.get_running_loop().call_later(
            self.subscribe_within_s, self._drop_if_idle, connection
        )

    def _drop_if_idle(self, connection: Connection) -> None:
        device = self._device
        if device is None or connection in self._subscribers:
            return
        if connection not in device.connections.values():
            return  # already gone
        log.info(
            "BLE: central %s did not subscribe within %g s; disconnecting",
            connection.peer_address,
            self.subscribe_within_s,
        )
        self._dropping = asyncio.create_task(self._disconnect(connection))

    @staticmethod
    async def _disconnect(connection: Connection) -> None:
        try:
            await connection.disconnect()
        except Exception as exc:  # it left meanwhile, or the controller is going away
            log.debug("BLE: disconnect failed: %s", exc)

    def _on_disconnection(self, connection: Connection, reason: Any) -> None:
        self._subscribers.discard(connection)
        log.info("BLE: central %s disconnected", connection.peer_address)
        if self._device is not None and self._stop is not None and not self._stop.is_set():
            self._advertising = asyncio.create_task(self._advertise_again(self._device))

    @staticmethod
    async def _advertise_again(device: Device) -> None:
        try:
            await device.start_advertising()
        except Exception as exc:  # the controller is going away; the next start logs it
            log.warning("BLE: could not advertise again: %s", exc)

    def _on_subscription(self, bearer: Any, notify: bool, indicate: bool) -> None:
        if not isinstance(bearer, Connection):
            return  # an enhanced ATT bearer: this service indicates on the basic one
        log.debug(
            "BLE: central %s %s", bearer.peer_address, "subscribed" if indicate else "unsubscribed"
        )
        if indicate:
            self._subscribers.add(bearer)
            if self._wake is not None:
                self._wake.set()
        else:
            self._subscribers.discard(bearer)

    async def _send(self, device: Device, characteristic: Characteristic[bytes]) -> None:
        """Indicate the oldest pending message to each subscriber; drop it once confirmed."""
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and self._subscribers:
                seq, message = self._pending[0]
                delivered = False
                for connection in list(self._subscribers):
                    try:
                        for part in fragment(message, connection.att_mtu - 3):
                            # bumble returns quietly, sending nothing, to a central that
                            # has left or unsubscribed: no confirmation, though it looks
                            # like one. So look first, and await bumble with no task in
                            # between (asyncio.timeout, not wait_for): it checks the
                            # subscription in the same step, before it sends.
                            if connection not in self._subscribers:
                                raise ConnectionError("the central left before confirming")
                            async with asyncio.timeout(_CONFIRM_TIMEOUT_S):
                                await device.indicate_subscriber(connection, characteristic, part)
                        delivered = True
                        log.debug("BLE: event %d confirmed by %s", seq, connection.peer_address)
                    except (TimeoutError, ConnectionError, OSError) as exc:
                        log.debug("BLE: event %d not confirmed by %s: %s", seq, connection, exc)
                        self._subscribers.discard(connection)
                if not delivered:
                    break  # kept for the next central
                if self._pending and self._pending[0][0] == seq:
                    self._pending.popleft()
                self.sent += 1
