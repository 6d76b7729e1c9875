"""bumble's virtual controllers on ptys: the radio of the BLE tests, and of BlueZ in QEMU.

    python3 tests/virtual_radio.py pty:/tmp/hci-gateway pty:/tmp/hci-wearable

Like ``python -m bumble.apps.controllers``, with two differences that make it more like
real chips, and that BlueZ needs:
- each controller has a public address, as most chips do (bluetoothd leaves a controller
  without one unconfigured: "No Bluetooth address for index 0"; and a host that gives
  the controller's address where it means its own shows up only then);
- LE data carries the address the connection was made with. bumble's LocalLink sends it
  from the controller's random address, which a host that connects from its public
  address (as BlueZ does by default) never set: the peer then drops every ATT packet
  ("no connection for ...") and the link stays silent until it times out.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from bumble.controller import Controller
from bumble.core import PhysicalTransport
from bumble.link import LocalLink
from bumble.transport import open_transport


class Link(LocalLink):
    def send_acl_data(
        self,
        sender_controller: Controller,
        destination_address: Any,
        transport: PhysicalTransport,
        data: bytes,
    ) -> None:
        connection = sender_controller.le_connections.get(destination_address)
        receiver = self.find_le_controller(destination_address)
        if transport != PhysicalTransport.LE or connection is None or receiver is None:
            super().send_acl_data(sender_controller, destination_address, transport, data)
            return
        source = connection.self_address
        asyncio.get_running_loop().call_soon(
            lambda: receiver.on_link_acl_data(source, transport, data)
        )


async def main(specs: list[str]) -> None:
    link = Link()
    transports = [await open_transport(spec) for spec in specs]
    for index, transport in enumerate(transports):
        Controller(
            f"C{index}",
            host_source=transport.source,
            host_sink=transport.sink,
            link=link,
            public_address=f"F0:F1:F2:F3:F4:{index:02X}",
        )
    await asyncio.get_running_loop().create_future()  # serve until killed


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(sys.argv[1:]))
