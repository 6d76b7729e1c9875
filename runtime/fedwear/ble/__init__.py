"""Bluetooth LE: the wearable's event uplink (a GATT peripheral) and a listening central.

Built on bumble, a Bluetooth host stack in Python that talks HCI to any controller: the
kernel's (``hci-socket:0``), a UART one (``serial:/dev/ttyS2,1000000``) or a USB dongle.
Importing this package imports bumble, so the runtime imports it only when BLE is on.
"""
