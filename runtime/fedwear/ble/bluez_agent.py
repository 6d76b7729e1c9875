"""A BlueZ pairing agent that says yes to one wearable's "Just Works" pairing, and no to all else.

bluetoothd asks an agent (org.bluez.Agent1 on D-Bus) before it completes any pairing, even
a Just Works one that has nothing to show or type; with no agent it fails the pairing
("No agent available", org.bluez.Error.AuthenticationFailed). A desktop has one; a
headless gateway does not, and bleak does not provide one. So ``fedwear listen`` registers
this one for as long as it runs, as the default agent, with no input and no output.

It accepts only the wearable this process is pairing with. Any other device that tries
to pair with the gateway meanwhile is rejected, and so is a numeric comparison (a
wearable with a display would need a person to compare the numbers).
"""

# The D-Bus method names are BlueZ's (CamelCase), and their argument types are D-Bus
# signatures written as string annotations ("o": an object path), the form every
# dbus-fast release reads; so no `from __future__ import annotations` here, which would
# turn "-> None" into a string too. Neither is a Python name:
# ruff: noqa: N802, F821
# mypy: disable-error-code="name-defined"

__all__ = ["JustWorksAgent"]

import logging
from typing import Any

from dbus_fast import BusType, DBusError
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method

log = logging.getLogger("fedwear.ble")

_PATH = "/org/fedwear/agent"
_REJECTED = "org.bluez.Error.Rejected"


def _device_suffix(address: str) -> str:
    return "/dev_" + address.upper().replace(":", "_")


class _Agent(ServiceInterface):
    """org.bluez.Agent1; the D-Bus signatures are the string annotations ('o': an object path)."""

    def __init__(self, address: str) -> None:
        super().__init__("org.bluez.Agent1")
        self._suffix = _device_suffix(address)

    def _check(self, device: str, what: str) -> None:
        if not device.endswith(self._suffix):
            log.warning("BLE: rejected %s from %s (not the wearable being paired)", what, device)
            raise DBusError(_REJECTED, f"fedwear pairs only with {self._suffix[5:]}")

    @method()
    def RequestAuthorization(self, device: "o") -> None:
        self._check(device, "a Just Works pairing")

    @method()
    def RequestConfirmation(self, device: "o", passkey: "u") -> None:
        log.warning("BLE: rejected a numeric comparison from %s (nobody here to compare)", device)
        raise DBusError(_REJECTED, "fedwear listen cannot compare numbers")

    @method()
    def AuthorizeService(self, device: "o", uuid: "s") -> None:
        raise DBusError(_REJECTED, "fedwear listen offers no services")

    @method()
    def Release(self) -> None:
        log.debug("BLE: BlueZ released the pairing agent")

    @method()
    def Cancel(self) -> None:
        log.debug("BLE: BlueZ cancelled a pairing request")


class JustWorksAgent:
    """``async with JustWorksAgent(address):`` the default BlueZ agent while the block runs."""

    def __init__(self, address: str) -> None:
        self._agent = _Agent(address)
        self._bus: MessageBus | None = None
        self._manager: Any = None  # org.bluez.AgentManager1: registers, then unregisters

    async def __aenter__(self) -> "JustWorksAgent":
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            bus.export(_PATH, self._agent)
            node = await bus.introspect("org.bluez", "/org/bluez")
            # dbus-fast makes the call_* methods at run time from the introspection: Any.
            manager: Any = bus.get_proxy_object("org.bluez", "/org/bluez", node).get_interface(
                "org.bluez.AgentManager1"
            )
            await manager.call_register_agent(_PATH, "NoInputNoOutput")
            await manager.call_request_default_agent(_PATH)
        except BaseException:
            bus.disconnect()
            raise
        self._bus, self._manager = bus, manager
        return self

    async def remove_device(self, device_path: str) -> None:
        """Forget a device and its bond in BlueZ (org.bluez.Adapter1.RemoveDevice)."""
        assert self._bus is not None, "only inside the async with block"
        adapter_path = device_path.rsplit("/", 1)[0]
        node = await self._bus.introspect("org.bluez", adapter_path)
        adapter: Any = self._bus.get_proxy_object("org.bluez", adapter_path, node).get_interface(
            "org.bluez.Adapter1"
        )
        await adapter.call_remove_device(device_path)

    async def __aexit__(self, *_exc: object) -> None:
        bus, self._bus = self._bus, None
        if bus is None:
            return
        try:
            await self._manager.call_unregister_agent(_PATH)
        except DBusError as exc:  # bluetoothd went away meanwhile: nothing to undo
            log.debug("BLE: could not unregister the pairing agent: %s", exc)
        finally:
            bus.disconnect()
