"""Who may pair with the wearable: the pairing policy, and the encrypted subscription.

A wearable has no screen or keys to confirm a passkey, so pairing is LE Secure
Connections "Just Works": the link is encrypted (a passive listener learns nothing), but
nothing proves who is pairing. The policy therefore decides *when* pairing is allowed:

- ``first`` (default): while no central is bonded (trust on first use: the owner's phone
  pairs first, and after that a stranger cannot), and for a central that is already
  bonded and pairs again;
- ``open``: any central, any time;
- ``closed``: no new pairing; bonded centrals reconnect with their keys.

Subscribing to the events requires an encrypted link, so an unpaired central gets
nothing.
"""

from __future__ import annotations

__all__ = ["just_works", "pairing_config", "require_encryption_to_subscribe"]

import logging
from collections.abc import Callable

from bumble.att import Attribute
from bumble.device import Connection, Device
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, Characteristic
from bumble.keys import KeyStore
from bumble.pairing import PairingConfig, PairingDelegate

from ..config import PairingPolicy

log = logging.getLogger("fedwear.ble")


class _PolicyGate(PairingDelegate):
    """Accepts or refuses one central's pairing request by the policy."""

    def __init__(self, policy: PairingPolicy, keystore: KeyStore, peer: str) -> None:
        super().__init__()  # no input, no output: Just Works
        self.policy, self.keystore, self.peer = policy, keystore, peer

    async def accept(self) -> bool:
        if self.policy == "open":
            allowed = True
        elif self.policy == "closed":
            allowed = False
        else:
            bonded = [name for name, _ in await self.keystore.get_all()]
            allowed = not bonded or self.peer in bonded
        log.info("BLE: pairing request from %s %s", self.peer, "accepted" if allowed else "refused")
        return allowed


def just_works(delegate: PairingDelegate | None = None) -> PairingConfig:
    """How both ends pair: LE Secure Connections, Just Works, bonding.

    The identity address given is the static random address the device uses
    (uplink.device_address). Left unset, bumble gives the controller's public address when
    it has one, an address the device never connects from.
    """
    return PairingConfig(
        sc=True,
        mitm=False,
        bonding=True,
        delegate=delegate,
        identity_address_type=PairingConfig.AddressType.RANDOM,
    )


def pairing_config(policy: PairingPolicy, device: Device) -> Callable[[Connection], PairingConfig]:
    """A ``device.pairing_config_factory``: Secure Connections, bonding, the policy's gate."""

    def factory(connection: Connection) -> PairingConfig:
        assert device.keystore is not None
        gate = _PolicyGate(policy, device.keystore, str(connection.peer_address))
        return just_works(gate)

    return factory


def require_encryption_to_subscribe(device: Device, characteristic: Characteristic) -> None:
    """Make writing the characteristic's CCCD (subscribing) need an encrypted link.

    bumble adds the CCCD itself when the service is added, readable and writable by all;
    call this after ``device.add_service``.
    """
    for attribute in device.gatt_server.attributes:
        if (
            attribute.type == GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR
            and attribute.handle == characteristic.handle + 1
        ):
            attribute.permissions = Attribute.READABLE | Attribute.WRITE_REQUIRES_ENCRYPTION
            return
    raise LookupError(f"no CCCD follows characteristic {characteristic.uuid}")
