"""``fedwear listen --transport bluez``: the central through the host's BlueZ (bleak, D-Bus).

A link through BlueZ needs kernel Bluetooth and bluetoothd, which these hosts lack; it is
tested end to end in the aarch64 QEMU guest (tools/qemu/bluez_check.sh). Here: what a
user sees on a host where BlueZ is missing, with a real D-Bus daemon where one exists.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _listen(bus: str, transport: str = "bluez") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedwear.cli", "listen", "--transport", transport, "--timeout", "5"],
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_system_bus_listen_says_bluez_is_not_usable(tmp_path: Path) -> None:
    proc = _listen(f"unix:path={tmp_path}/no-bus", "bluez:hci7")
    assert proc.returncode == 60, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ERROR fedwear: ble: bluez:hci7: BlueZ is not usable here")
    assert f"system D-Bus at unix:path={tmp_path}/no-bus?" in lines[0]
    assert "FileNotFoundError" in lines[0]


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def bus_without_bluez(tmp_path: Path) -> Iterator[str]:
    """A real D-Bus daemon on which no bluetoothd has taken the org.bluez name."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("no dbus-daemon here (Debian package dbus-daemon)")
    socket = tmp_path / "bus"
    config = tmp_path / "bus.conf"  # our own: images without dbus's session.conf have it too
    config.write_text(_BUS_CONFIG.format(socket=socket))
    daemon = subprocess.Popen(
        ["dbus-daemon", "--nofork", f"--config-file={config}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not socket.exists():
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            pytest.fail(f"dbus-daemon did not start: {daemon.communicate()[1]!r}")
        time.sleep(0.05)
    yield f"unix:path={socket}"
    daemon.terminate()
    daemon.wait(10)


def test_without_bluetoothd_listen_says_bluez_is_not_usable(bus_without_bluez: str) -> None:
    proc = _listen(bus_without_bluez)
    assert proc.returncode == 60, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ERROR fedwear: ble: bluez: BlueZ is not usable here")
    assert "org.bluez" in lines[0]


def test_the_pairing_agent_says_yes_only_to_the_wearable_being_paired(
    bus_without_bluez: str,
) -> None:
    """BlueZ calls the agent over D-Bus; so does this test, on a real bus."""
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    from fedwear.ble.bluez_agent import _Agent

    wearable = "/org/bluez/hci0/dev_D2_D2_88_C4_8D_F4"
    stranger = "/org/bluez/hci0/dev_11_22_33_44_55_66"

    async def calls() -> list[tuple[MessageType, str | None]]:
        agent_side = await MessageBus(bus_address=bus_without_bluez).connect()
        agent_side.export("/agent", _Agent("d2:d2:88:c4:8d:f4"))
        bluez_side = await MessageBus(bus_address=bus_without_bluez).connect()
        replies = []
        for member, signature, body in (
            ("RequestAuthorization", "o", [wearable]),
            ("RequestAuthorization", "o", [stranger]),
            ("RequestConfirmation", "ou", [wearable, 123456]),
            ("AuthorizeService", "os", [wearable, "0000180d-0000-1000-8000-00805f9b34fb"]),
        ):
            reply = await bluez_side.call(
                Message(
                    destination=agent_side.unique_name,
                    path="/agent",
                    interface="org.bluez.Agent1",
                    member=member,
                    signature=signature,
                    body=body,
                )
            )
            assert reply is not None
            replies.append((reply.message_type, reply.error_name))
        agent_side.disconnect()
        bluez_side.disconnect()
        return replies

    rejected = (MessageType.ERROR, "org.bluez.Error.Rejected")
    assert asyncio.run(asyncio.wait_for(calls(), 60)) == [
        (MessageType.METHOD_RETURN, None),
        rejected,
        rejected,
        rejected,
    ]
