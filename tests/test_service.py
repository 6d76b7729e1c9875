"""systemd integration over a real AF_UNIX datagram socket, as systemd listens on one."""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from fedwear.config import load_config
from fedwear.detect.base import Detector, Event, Window
from fedwear.ingest import open_source
from fedwear.pipeline import run_pipeline
from fedwear.service import Notifier


class Listener:
    """Receives notifications continuously, as systemd does, with arrival times."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append((time.monotonic(), self.sock.recv(4096).decode()))
            except TimeoutError:
                continue

    def close(self) -> list[tuple[float, str]]:
        time.sleep(0.1)
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return self.messages


@pytest.fixture
def notify_socket(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "notify"
    listener = Listener(path)
    yield path, listener
    listener.close()


def received(listener: Listener) -> list[tuple[float, str]]:
    return listener.close()


def test_ready_status_and_stopping(notify_socket) -> None:  # type: ignore[no-untyped-def]
    path, sock = notify_socket
    with Notifier({"NOTIFY_SOCKET": str(path)}) as n:
        assert n.ready("reading replay") and n.status("ok") and n.stopping()
    assert [m for _, m in received(sock)] == [
        "READY=1\nSTATUS=reading replay",
        "STATUS=ok",
        "STOPPING=1",
    ]


def test_abstract_socket_address() -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"fedwear-test-{os.getpid()}"
    sock.bind("\0" + name)
    sock.settimeout(1)
    with Notifier({"NOTIFY_SOCKET": "@" + name}) as n:
        assert n.ready()
    assert sock.recv(100) == b"READY=1"
    sock.close()


def test_a_full_queue_never_blocks(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # bound, never read
    sock.bind(str(tmp_path / "busy"))
    with Notifier({"NOTIFY_SOCKET": str(tmp_path / "busy")}) as n:
        start = time.monotonic()
        results = [n.status(f"n={i}") for i in range(200)]
    assert time.monotonic() - start < 5
    assert results[0] and not all(results)  # the first are queued, the rest dropped
    sock.close()


def test_without_systemd_everything_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled and not n.ready() and not n.watchdog()


def test_watchdog_for_another_pid_is_ignored(tmp_path: Path) -> None:
    n = Notifier(
        {"NOTIFY_SOCKET": str(tmp_path / "x"), "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    )
    assert n.watchdog_interval_s == 0


class Hang(Detector):
    """A detector that blocks the main loop once, as a stuck inference would."""

    name = "hang"

    def __init__(self) -> None:
        self.streams = frozenset({"imu"})
        self.hung = False

    def on_window(self, window: Window) -> list[Event]:
        if not self.hung and window.t[-1] > 4_500_000_000:  # about 4.5 s into the run
            self.hung = True
            time.sleep(1.5)
        return []


def test_a_hung_main_loop_stops_the_watchdog_pings(notify_socket) -> None:  # type: ignore[no-untyped-def]
    path, sock = notify_socket
    config = load_config(overrides={"source.pace": "realtime"})
    stop_at = time.monotonic() + 6
    with Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000"}) as n:
        summary = run_pipeline(
            config,
            open_source(config),
            [Hang()],
            [],
            should_stop=lambda: time.monotonic() > stop_at,
            on_progress=lambda f, s: n.watchdog(),
            on_ready=n.ready,
        )
    assert summary.windows > 0
    pings = [t for t, m in received(sock) if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert len(pings) > 10
    assert max(gaps) > 1.4  # silent while the loop hung: systemd would restart us
    assert sorted(gaps)[len(gaps) // 2] < 0.2  # otherwise every half interval


def test_fedwear_run_notifies_systemd(notify_socket, realtime_run) -> None:  # type: ignore[no-untyped-def]
    path, listener = notify_socket
    proc = realtime_run("--quiet", env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "500000"})
    deadline = time.monotonic() + 120  # generous: start-up is slow on emulated machines
    while time.monotonic() < deadline:
        if [m for _, m in listener.messages].count("WATCHDOG=1") >= 3:
            break
        time.sleep(0.1)
    proc.terminate()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    messages = [m for _, m in received(listener)]
    assert messages[0].startswith("READY=1")
    assert messages.count("WATCHDOG=1") >= 3
    assert messages[-1] == "STOPPING=1"
