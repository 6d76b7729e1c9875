"""The BLE uplink and listener over a real Bluetooth host stack on a virtual radio link.

There is no Bluetooth controller here, so the tests start bumble's virtual controllers
(``tests/virtual_radio.py``): two software controllers on one virtual link,
each serving HCI on a pseudo-terminal, the way a UART Bluetooth chip does. The wearable
opens one (``serial:<pty>``), the central the other; everything above the radio (HCI,
L2CAP, ATT/GATT, advertising, connections, MTU exchange, indications) is the real stack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bumble.core import UUID, ProtocolError
from bumble.device import Device, Peer
from bumble.hci import Address
from bumble.transport import open_transport
from conftest import DATA

from fedwear.ble.listener import listen
from fedwear.ble.uplink import EventUplink
from fedwear.ble.uuids import EVENTS_CHARACTERISTIC, SERVICE
from fedwear.detect.base import Event
from fedwear.errors import BleError

RADIO = Path(__file__).with_name("virtual_radio.py")

# Not marked "host": bumble (with its virtual controllers) and ptys are on the device too,
# so the ptest and the QEMU guest run these on the target's Python.


def _controllers(*ptys: Path) -> subprocess.Popen[str]:
    """bumble's virtual controllers on one link, each serving HCI on a pty at ``ptys``.

    tests/virtual_radio.py: each controller has a public address, as real chips do."""
    proc = subprocess.Popen(
        [sys.executable, str(RADIO), *(f"pty:{p}" for p in ptys)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60  # bumble's import alone takes 10-20 s when emulated
    while not all(p.exists() for p in ptys):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"virtual controllers did not start: {proc.communicate()[1]}")
        time.sleep(0.05)
    return proc


@pytest.fixture
def radio(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[tuple[str, str]]:
    """Two virtual controllers on one link: (wearable transport, central transport).
    Both ends' fedwear.ble log, debug lines too, is shown with a failure."""
    caplog.set_level(logging.DEBUG, logger="fedwear.ble")
    wearable, central = tmp_path / "hci-wearable", tmp_path / "hci-central"
    proc = _controllers(wearable, central)
    yield f"serial:{wearable}", f"serial:{central}"
    proc.terminate()
    proc.wait(10)


# Fixed central identities: the default one derives from /etc/machine-id, which a test
# machine (a chroot, a container) may not have.
OWNER = Address("D0:00:00:00:00:01", Address.RANDOM_DEVICE_ADDRESS)
STRANGER = Address("D0:00:00:00:00:02", Address.RANDOM_DEVICE_ADDRESS)


def _event(i: int, kind: str = "fall") -> Event:
    return Event(i * 1_000_000_000, kind, kind, "imu", f"event {i} " + "x" * 40, value=0.5 + i)


def _receive(
    transport: str, count: int, during: Any = None, timeout: float = 30, **central: Any
) -> list[dict]:
    """Messages a central receives until it has ``count``; ``during()`` runs once subscribed.

    ``central`` goes to ``listen`` (``bonds``, ``own_address``, ``address``)."""
    got: list[dict] = []

    async def main() -> None:
        stop = asyncio.Event()

        def on_message(message: dict) -> None:
            got.append(message)
            if len(got) >= count:
                stop.set()

        async def later() -> None:
            if during is not None:
                await asyncio.sleep(1.0)  # scan, connect and subscribe take well under this
                during()

        task = asyncio.create_task(later())
        await asyncio.wait_for(
            listen(transport, on_message, stop=stop, scan_timeout=20, **central), timeout
        )
        await task

    asyncio.run(main())
    return got


def _started(uplink: EventUplink) -> EventUplink:
    uplink.start()
    assert uplink.wait_started(20), uplink.error
    return uplink


def _one_event(uplink: EventUplink, central: str, i: int, **identity: Any) -> list[dict]:
    """Start ``uplink``, send event ``i``, receive one message as the central, stop."""
    _started(uplink)
    try:
        uplink.event(_event(i))
        return _receive(central, 1, **identity)
    finally:
        uplink.close()


def test_events_reach_a_central_in_order_with_their_fields(radio: tuple[str, str]) -> None:
    wearable, central = radio
    uplink = _started(EventUplink(wearable, name="wrist-test"))
    try:
        for i in range(3):  # before any central: they wait in the backlog
            uplink.event(_event(i))
        got = _receive(central, 5, during=lambda: [uplink.event(_event(i)) for i in (3, 4)])
    finally:
        uplink.close()
    assert [m["seq"] for m in got] == [1, 2, 3, 4, 5]
    assert {m["boot"] for m in got} == {uplink.boot}
    for i, m in enumerate(got):
        assert {k: v for k, v in m.items() if k not in ("v", "boot", "seq")} == _event(i).to_dict()
    assert uplink.sent == 5 and uplink.dropped == 0


def test_a_full_backlog_keeps_the_newest_events(radio: tuple[str, str]) -> None:
    wearable, central = radio
    uplink = _started(EventUplink(wearable, backlog=2))
    try:
        for i in range(5):
            uplink.event(_event(i))
        time.sleep(0.2)  # the events reach the Bluetooth thread
        got = _receive(central, 2, address=str(uplink.address))  # no scan: straight to it
    finally:
        uplink.close()
    assert [m["seq"] for m in got] == [4, 5]
    assert uplink.dropped == 3


def test_the_wearable_advertises_again_for_the_next_central(radio: tuple[str, str]) -> None:
    wearable, central = radio
    uplink = _started(EventUplink(wearable))
    try:
        uplink.event(_event(0))
        first = _receive(central, 1, own_address=OWNER)
        uplink.event(_event(1))  # nobody listens now: kept until the next central
        second = _receive(central, 1, own_address=OWNER)
    finally:
        uplink.close()
    assert [m["seq"] for m in first] == [1]
    assert [m["seq"] for m in second] == [2]


def test_a_missing_controller_turns_bluetooth_off_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fedwear.ble")
    uplink = EventUplink(f"serial:{tmp_path / 'no-such-tty'}")
    uplink.start()
    assert not uplink.wait_started(20)
    assert uplink.error is not None and "no-such-tty" in uplink.error
    uplink.event(_event(0))  # a no-op now, not an error
    uplink.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "fedwear.ble"]
    assert len(warnings) == 1 and warnings[0].startswith("Bluetooth off:"), warnings


def _fedwear(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedwear.cli", *args]


def test_fedwear_run_degrades_without_a_controller(tmp_path: Path) -> None:
    config = tmp_path / "ble.toml"
    config.write_text(f'[ble]\nenabled = true\ntransport = "serial:{tmp_path}/no-such-tty"\n')
    proc = subprocess.run(
        _fedwear("run", "--config", str(config), "--event-log", str(tmp_path / "e.jsonl")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("Bluetooth off:") == 1, proc.stderr
    assert '"type":"summary"' in proc.stdout and '"events":2' in proc.stdout


def test_fedwear_listen_names_the_problem_when_no_wearable_advertises(
    radio: tuple[str, str],
) -> None:
    proc = subprocess.run(
        _fedwear("listen", "--transport", radio[1], "--timeout", "2", "--bonds", "/nonexistent"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 60
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == f"ERROR fedwear: ble: {radio[1]}: no fedwear wearable advertised within 2 s"


def test_fedwear_listen_gives_up_on_an_address_nobody_answers_at(
    radio: tuple[str, str], tmp_path: Path
) -> None:
    """bumble waits for a connection forever unless told otherwise: `--address` of a
    wearable out of range left `fedwear listen` waiting past its --timeout."""
    absent = "D0:00:00:00:00:09"
    proc = subprocess.run(
        _fedwear(
            "listen",
            "--transport",
            radio[1],
            "--address",
            absent,
            "--timeout",
            "2",
            "--bonds",
            str(tmp_path / "bonds.json"),
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 60, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ERROR fedwear: ble: {radio[1]}: no connection to {absent} within 2 s"
    )


def test_sigterm_ends_fedwear_listen_while_it_connects(
    radio: tuple[str, str], tmp_path: Path
) -> None:
    """A signal sets the flag a subscribed central stops on; scanning, connecting and
    pairing do not look at it, so they are cancelled after a grace (SIGTERM was ignored
    until their own timeout, or for ever)."""
    with subprocess.Popen(
        _fedwear(
            "listen",
            "--transport",
            radio[1],
            "--address",
            "D0:00:00:00:00:09",
            "--bonds",
            str(tmp_path / "bonds.json"),
        ),
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until it is connecting (slow on emulated machines)
            if "connecting to" in line:
                break
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("fedwear listen went on connecting after SIGTERM")
    assert proc.returncode == 0, err
    assert "listen: cut short 5 s after the signal (still scanning, connecting" in err
    assert "listen: 0 events" in err


@pytest.mark.slow
def test_a_fall_in_fedwear_run_reaches_fedwear_listen(
    radio: tuple[str, str], tmp_path: Path
) -> None:
    """The whole route: replay a fall at real-time pace; the event arrives over BLE."""
    wearable, central = radio
    config = tmp_path / "ble.toml"
    config.write_text(
        f'[ble]\nenabled = true\ntransport = "{wearable}"\nname = "wrist-1"\n'
        f'bonds_path = "{tmp_path}/wearable-bonds.json"\n'
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    listener = subprocess.Popen(
        _fedwear(
            "listen",
            *("--transport", central, "--count", "1", "--timeout", "60"),
            *("--bonds", str(tmp_path / "listen-bonds.json")),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    run = subprocess.run(
        _fedwear(
            "run",
            "--config",
            str(config),
            "--path",
            str(DATA / "mobifall" / "FOL_acc_2_1.txt"),
            "--pace",
            "realtime",
            "--event-log",
            str(tmp_path / "e.jsonl"),
        ),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    out, err = listener.communicate(timeout=60)
    assert run.returncode == 0, run.stderr
    assert listener.returncode == 0, err
    logged = [json.loads(line) for line in run.stdout.splitlines()]
    sent = [m for m in (json.loads(line) for line in out.splitlines())]
    assert [m["kind"] for m in sent] == ["fall"]
    fall = {k: v for k, v in sent[0].items() if k not in ("v", "boot", "seq")}
    assert fall == logged[0]  # what went over the air is what the wearable logged
    assert "BLE: 1 events sent" in run.stderr


def test_losing_the_controller_turns_bluetooth_off_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A UART controller that goes away mid-run (here: the virtual one is killed)."""
    caplog.set_level(logging.WARNING, logger="fedwear.ble")
    hci = tmp_path / "hci"
    proc = _controllers(hci, tmp_path / "hci-2")
    try:
        uplink = _started(EventUplink(f"serial:{hci}"))
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 20
    while uplink.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uplink.error == "the controller stopped answering (HCI transport lost)"
    uplink.event(_event(0))  # a no-op now
    uplink.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "fedwear.ble"]
    assert len(warnings) == 1 and warnings[0].startswith("Bluetooth off: the controller"), warnings


def test_an_unpaired_central_cannot_subscribe(radio: tuple[str, str]) -> None:
    """A central that skips pairing is refused the subscription (insufficient encryption)."""
    wearable, central = radio
    uplink = _started(EventUplink(wearable))

    async def subscribe_without_pairing() -> None:
        async with await open_transport(central) as hci:
            device = Device.with_hci("plain", STRANGER, hci.source, hci.sink)
            await device.power_on()
            connection = await device.connect(uplink.address)
            peer = Peer(connection)
            await peer.discover_service(SERVICE)
            await peer.discover_characteristics()
            (events,) = peer.get_characteristics_by_uuid(UUID(EVENTS_CHARACTERISTIC))
            with pytest.raises(ProtocolError, match="INSUFFICIENT_ENCRYPTION"):
                await peer.subscribe(events, lambda data: None, prefer_notify=False)
            await connection.disconnect()

    try:
        asyncio.run(asyncio.wait_for(subscribe_without_pairing(), 30))
    finally:
        uplink.close()


def test_the_first_central_bonds_and_a_stranger_is_refused(
    radio: tuple[str, str], tmp_path: Path
) -> None:
    wearable, central = radio
    bonds = tmp_path / "wearable-bonds.json"
    uplink = _started(EventUplink(wearable, bonds=bonds))  # policy "first"
    try:
        uplink.event(_event(0))
        got = _receive(central, 1, bonds=tmp_path / "owner.json", own_address=OWNER)
        uplink.event(_event(1))
        with pytest.raises(BleError, match=r"refused to pair .*ble.pairing policy"):
            _receive(central, 1, bonds=tmp_path / "stranger.json", own_address=STRANGER)
    finally:
        uplink.close()
    assert [m["seq"] for m in got] == [1]
    assert list(json.loads(bonds.read_text())) == [str(OWNER)]
    assert bonds.stat().st_mode & 0o777 == 0o600  # long-term keys: owner only


def test_a_bond_outlives_the_wearable_and_the_central(
    radio: tuple[str, str], tmp_path: Path
) -> None:
    """Both sides restart; the owner reconnects with its keys, even with pairing closed."""
    wearable, central = radio
    bonds, owner = (
        tmp_path / "wearable-bonds.json",
        {"bonds": tmp_path / "o.json", "own_address": OWNER},
    )
    _one_event(EventUplink(wearable, bonds=bonds), central, 0, **owner)
    got = _one_event(EventUplink(wearable, bonds=bonds, pairing="closed"), central, 1, **owner)
    assert [m["message"] for m in got] == [_event(1).message]


def test_a_central_pairs_again_when_the_wearable_forgot_the_bond(
    radio: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The wearable's bonds file was deleted (the owner reset it): the central's old keys
    fail, it drops them and pairs afresh under the "first" policy."""
    caplog.set_level(logging.WARNING, logger="fedwear.ble")
    wearable, central = radio
    bonds, owner = (
        tmp_path / "wearable-bonds.json",
        {"bonds": tmp_path / "o.json", "own_address": OWNER},
    )
    _one_event(EventUplink(wearable, bonds=bonds), central, 0, **owner)
    bonds.unlink()
    got = _one_event(EventUplink(wearable, bonds=bonds), central, 1, **owner)
    assert [m["message"] for m in got] == [_event(1).message]
    assert any("did not take our keys" in r.getMessage() for r in caplog.records)
    assert list(json.loads(bonds.read_text())) == [str(OWNER)]


def test_an_idle_central_is_dropped_so_the_owner_can_connect(radio: tuple[str, str]) -> None:
    """A stranger that connects and sits there would keep the wearable from advertising."""
    wearable, central = radio
    uplink = _started(EventUplink(wearable, subscribe_within_s=1.5))

    async def connect_and_idle() -> float:
        async with await open_transport(central) as hci:
            device = Device.with_hci("idle", STRANGER, hci.source, hci.sink)
            await device.power_on()
            connection = await device.connect(uplink.address)
            dropped = asyncio.Event()
            connection.on("disconnection", lambda reason: dropped.set())
            started = time.monotonic()
            await asyncio.wait_for(dropped.wait(), 20)
            return time.monotonic() - started

    try:
        idle_s = asyncio.run(connect_and_idle())
        uplink.event(_event(0))
        got = _receive(central, 1, own_address=OWNER)  # advertising again: the owner gets in
    finally:
        uplink.close()
    assert 1.0 < idle_s < 20
    assert [m["seq"] for m in got] == [1]


def test_a_controller_that_never_answers_turns_bluetooth_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A tty with nothing behind it (a chip held in reset): HCI Reset gets no answer."""
    caplog.set_level(logging.WARNING, logger="fedwear.ble")
    primary, replica = os.openpty()
    try:
        uplink = EventUplink(f"serial:{os.ttyname(replica)}")
        uplink.start()
        assert not uplink.wait_started(60)
        uplink.close()
    finally:
        os.close(primary)
        os.close(replica)
    assert uplink.error == "TimeoutError"
    warnings = [r.getMessage() for r in caplog.records if r.name == "fedwear.ble"]
    assert len(warnings) == 1 and warnings[0].startswith("Bluetooth off: TimeoutError"), warnings


class _Central:
    att_mtu = 23  # 20-byte fragments: a message of several
    peer_address = OWNER


def _send_once(uplink: EventUplink, leave_after: int | None) -> list[bytes]:
    """The uplink's sending loop against a stand-in for bumble's indicate, which, as
    bumble's does, returns quietly without sending to a central no longer subscribed.
    The central confirms fragments until ``leave_after`` of them, then leaves, its
    disconnection handled before the loop goes on (as a CI run saw bumble do)."""
    central = _Central()
    subscribed = {central}
    sent: list[bytes] = []

    class Bumble:
        async def indicate_subscriber(self, connection: Any, characteristic: Any, part: bytes):
            if connection not in subscribed:
                return  # "not indicating, no subscribers"
            sent.append(part)
            if leave_after is not None and len(sent) == leave_after:
                subscribed.discard(connection)
                asyncio.get_running_loop().call_soon(uplink._on_disconnection, connection, 0x13)
                await asyncio.sleep(0)

    async def main() -> None:
        uplink._wake = asyncio.Event()
        uplink._subscribers = {central}  # type: ignore[arg-type]
        uplink._pending.clear()
        uplink._push((1, b"e" * 50))
        uplink._wake.set()
        sender = asyncio.create_task(uplink._send(Bumble(), None))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        sender.cancel()

    asyncio.run(main())
    return sent


def test_an_event_is_confirmed_only_when_every_fragment_reached_the_central() -> None:
    uplink = EventUplink("serial:/nonexistent")  # never started: only its sending loop runs
    assert len(_send_once(uplink, leave_after=1)) == 1  # left after the first of three
    assert uplink.sent == 0 and list(uplink._pending) == [(1, b"e" * 50)]  # for the next one
    # Confirmed in full, then gone (a listener that stops once it has what it wanted):
    # delivered, not sent again to the next central.
    assert len(_send_once(uplink, leave_after=3)) == 3
    assert uplink.sent == 1 and not uplink._pending
