"""Running under systemd: readiness and watchdog notifications, journal log levels.

Implements the sd_notify(3) datagram protocol directly (no libsystemd): ``READY=1`` once
the source is open, ``WATCHDOG=1`` from the main loop at half of ``$WATCHDOG_USEC`` (so a
hung loop stops the pings and systemd restarts the service), ``STATUS=`` lines and
``STOPPING=1``. Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

__all__ = ["JournalFormatter", "Notifier", "under_journal"]

import logging
import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    """sd_notify over ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval_s = int(usec) / 1e6 if usec.isdigit() and mine else 0.0
        self._last_ping = 0.0
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; False when not under systemd or on error."""
        if not self.address:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block: a full queue (systemd busy or gone) must not hang the main loop.
            self._sock.sendto("\n".join(assignments).encode(), socket.MSG_DONTWAIT, self.address)
            return True
        except OSError:
            return False  # not delivered; the service keeps running

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """Ping, at most every half watchdog interval. Call it from the main loop only."""
        if not self.watchdog_interval_s:
            return False
        now = time.monotonic()
        if now - self._last_ping < self.watchdog_interval_s / 2:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# sd-daemon(3) priority prefixes, read by journald from a service's stderr.
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def under_journal(environ: Mapping[str, str] | None = None) -> bool:
    """True when stderr is connected to the journal (systemd sets ``$JOURNAL_STREAM``)."""
    env = os.environ if environ is None else environ
    stream = env.get("JOURNAL_STREAM", "")
    if not stream:
        return False
    try:
        st = os.fstat(2)
    except OSError:
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


class JournalFormatter(logging.Formatter):
    """``<N>message``: journald turns the prefix into the entry's priority."""

    def format(self, record: logging.LogRecord) -> str:
        level = _PRIORITY.get(record.levelno, 6)
        return f"<{level}>{record.name}: {super().format(record)}"
