"""Inside the QEMU guest, under its systemd: check fedwear.service as shipped, then power off.

Started by fedwear-qemu-report.service (After=fedwear.service, so it runs once fedwear has
sent READY=1 or failed). It checks what the unit promises: the service is active under its
own user with its cgroup limits, seccomp and no-new-privileges; logs reach the journal with
priorities; a SIGSTOPped main loop is killed by the watchdog and restarted; the restarted
real-time replay runs to its end and logs events to the state directory. One JSON line goes
to the console between markers for tools/qemu/harness.py; the guest then powers off.
Standard library only (it runs on the guest's bare Python).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

UNIT = "fedwear.service"
IIO_UNIT = "fedwear-iio.service"
HUB_UNIT = "fedwear-qemu-hub.service"  # the HID sensor hub fedwear-iio.service requires
PROPERTIES = (
    "ActiveState",
    "SubState",
    "Result",
    "MainPID",
    "NRestarts",
    "StatusText",
    "ExecMainStatus",
    "ExecMainStartTimestampMonotonic",
    "ActiveEnterTimestampMonotonic",
    "MemoryMax",
    "CPUQuotaPerSecUSec",
    "Nice",
    "User",
    "WatchdogUSec",
    "MemoryCurrent",
)


def show(unit: str = UNIT) -> dict[str, str]:
    out = subprocess.run(
        ["systemctl", "show", unit, *(f"--property={p}" for p in PROPERTIES)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_for(
    test: Callable[[dict[str, str]], bool], timeout: float, unit: str = UNIT
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        state = show(unit)
        if test(state) or time.monotonic() > deadline:
            return state
        time.sleep(1)


def proc_status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines())}


def cgroup_file(name: str) -> str:
    try:
        return (Path("/sys/fs/cgroup/system.slice") / UNIT / name).read_text().strip()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def journal(unit: str = UNIT) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["journalctl", "--unit", unit, "--output", "json", "--no-pager"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def checks() -> dict[str, Any]:
    r: dict[str, Any] = {"uptime_at_start_s": float(Path("/proc/uptime").read_text().split()[0])}
    first = wait_for(lambda s: s.get("ActiveState") in ("active", "failed"), 120)
    pid = first.get("MainPID", "0")
    status = proc_status(pid)
    r["ready"] = {
        "active": first.get("ActiveState"),
        "sub": first.get("SubState"),
        "status_text": first.get("StatusText"),
        "start_to_ready_s": (
            int(first.get("ActiveEnterTimestampMonotonic", "0"))
            - int(first.get("ExecMainStartTimestampMonotonic", "0"))
        )
        / 1e6,
    }
    r["limits"] = {
        "user": first.get("User"),
        "uid_is_root": status.get("Uid", "0").split()[0] == "0",
        "memory_max": cgroup_file("memory.max"),
        "cpu_max": cgroup_file("cpu.max"),
        "nice": first.get("Nice"),
        "watchdog_usec": first.get("WatchdogUSec"),
        "no_new_privs": status.get("NoNewPrivs"),
        "seccomp": status.get("Seccomp"),
        "rss_kb": int(status.get("VmRSS", "0 kB").split()[0]),
        # Effective capabilities, hex: CAP_NET_ADMIN (bit 12) for the HCI user channel only.
        "cap_eff": status.get("CapEff", ""),
    }
    # The watchdog: a stopped main loop sends no WATCHDOG=1; systemd must kill and restart it.
    stopped_at = time.monotonic()
    if pid != "0":
        os.kill(int(pid), signal.SIGSTOP)
    after = wait_for(
        lambda s: s.get("NRestarts", "0") != "0" and s.get("ActiveState") == "active", 150
    )
    r["watchdog"] = {
        "restarts": int(after.get("NRestarts", "0")),
        "new_pid": after.get("MainPID") not in (pid, "0"),
        "restart_s": round(time.monotonic() - stopped_at, 1),
    }
    # The restarted job replays the bundled recording in real time (120 s) to its end.
    done = wait_for(lambda s: s.get("ActiveState") in ("inactive", "failed"), 240)
    r["finished"] = {
        "active": done.get("ActiveState"),
        "result": done.get("Result"),
        "exit_status": done.get("ExecMainStatus"),
    }
    entries = journal()
    messages = [str(e.get("MESSAGE", "")) for e in entries]
    r["summary"] = last_summary(messages)
    r["journal"] = {
        "lines": len(entries),
        "priorities": sorted({int(e.get("PRIORITY", 6)) for e in entries}),
        "watchdog_timeout_logged": any("atchdog timeout" in m for m in messages),
        # The guest has no Bluetooth controller: one line per start, and the run goes on.
        "bluetooth_off": [m for m in messages if "Bluetooth off:" in m],
    }
    events = Path("/var/lib/fedwear/events.jsonl")
    r["event_log"] = {
        "lines": len(events.read_text().splitlines()) if events.exists() else 0,
        "owner_uid": events.stat().st_uid if events.exists() else None,
    }
    r["iio"] = iio_checks()
    return r


def last_summary(messages: list[str]) -> dict[str, Any] | None:
    """The run's JSON summary line, the last one where the unit ran more than once."""
    found = [json.loads(m) for m in messages if m.startswith('{"type":"summary"')]
    return found[-1] if found else None


def iio_checks() -> dict[str, Any]:
    """fedwear-iio.service (the shipped unit, run changed to read two IIO devices of a HID
    sensor hub made through /dev/uhid), started here, stopped 10 s after READY: did
    udev's rule let its user set them up and read them?"""
    # Type=notify: returns once fedwear sent READY=1 (the devices set up) or failed
    started = subprocess.run(
        ["systemctl", "start", IIO_UNIT], capture_output=True, text=True, timeout=300
    )
    time.sleep(10)
    subprocess.run(["systemctl", "stop", IIO_UNIT], capture_output=True, timeout=120)
    done = wait_for(lambda s: s.get("ActiveState") in ("inactive", "failed"), 60, IIO_UNIT)
    devices = {}
    for dev in sorted(Path("/sys/bus/iio/devices").glob("iio:device*")):
        node = Path("/dev") / dev.name
        files: dict[str, Any] = {}
        for name in ("buffer/enable", "buffer/length", "current_timestamp_clock"):
            files[name] = _attribute(dev / name)
        files["scan_elements"] = sorted(
            (p.name, _attribute(p)) for p in (dev / "scan_elements").glob("*_en")
        )
        files["rates"] = sorted((p.name, _attribute(p)) for p in dev.glob("*sampling_frequency"))
        devices[(dev / "name").read_text().strip()] = {
            "node": _attribute(node),
            "files": files,
        }
    messages = [str(e.get("MESSAGE", "")) for e in journal(IIO_UNIT)]
    hub = show(HUB_UNIT)
    return {
        # where the hub never came up, fedwear-iio.service only says "Dependency failed"
        "hub": {
            "result": hub.get("Result"),
            "active": hub.get("ActiveState"),
            "journal_tail": [str(e.get("MESSAGE", ""))[:200] for e in journal(HUB_UNIT)[-5:]],
        },
        "start": started.returncode,
        "result": done.get("Result"),
        "exit_status": done.get("ExecMainStatus"),
        "user": done.get("User"),
        "summary": last_summary(messages),
        "devices": devices,
        "journal_tail": [m[:200] for m in messages[-5:]],
    }


def _attribute(path: Path) -> dict[str, Any]:
    """Owner group, mode and (for sysfs files) value of a file the rule should open."""
    try:
        st = path.stat()
    except OSError as exc:
        return {"error": exc.strerror}
    out: dict[str, Any] = {"gid": st.st_gid, "mode": oct(st.st_mode & 0o777)}
    if path.parts[1] == "sys":
        try:
            out["value"] = path.read_text().strip()
        except OSError as exc:
            out["value"] = f"unreadable: {exc.strerror}"
    return out


def main() -> None:
    try:
        result: dict[str, Any] = checks()
    except Exception as exc:  # report anything, so the harness never just times out
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print("FEDWEAR-SYSTEMD-RESULT " + json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
