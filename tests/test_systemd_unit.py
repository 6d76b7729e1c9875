"""The systemd unit: systemd's own verifier accepts it, and it says what the service needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.host  # reads the checkout (layer, unit), not the install

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "fedwear.service"


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize(("change", "complaint"), [(None, None), ("Type=notiffy", "notiffy")])
def test_systemd_analyze_verify(tmp_path: Path, change: str | None, complaint: str | None) -> None:
    # verify checks that ExecStart exists: point it at this environment's fedwear script.
    script = Path(sys.executable).parent / "fedwear"
    text = UNIT.read_text().replace("/usr/bin/fedwear", str(script))
    if change:
        text = text.replace("Type=notify", change)
    unit = tmp_path / "fedwear.service"
    unit.write_text(text)
    # --man=no: verify would open the man page that Documentation= names, and a minimal
    # system (Debian's chroot in tools/debian-test) has no man.
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = result.stdout + result.stderr
    if complaint is None:
        assert result.returncode == 0 and problems.strip() == "", problems
    else:  # the check can fail: verify only warns, so warnings count as failures
        assert complaint in problems


def test_unit_declares_what_the_runtime_relies_on() -> None:
    s = settings()
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert int(s["WatchdogSec"][0]) > 0
    assert s["Restart"] == ["on-failure"] and s["RestartPreventExitStatus"] == ["10"]
    assert s["StateDirectory"] == ["fedwear"] and s["User"] == ["fedwear"]
    assert {"CPUQuota", "MemoryMax", "Nice", "StartLimitBurst"} <= set(s)
    assert s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"]
    assert "AF_BLUETOOTH" in s["RestrictAddressFamilies"][0]
    # The HCI user channel (BLE over hci-socket) needs CAP_NET_ADMIN; nothing else is kept.
    assert s["CapabilityBoundingSet"] == s["AmbientCapabilities"] == ["CAP_NET_ADMIN"]
    assert "char-iio r" in s["DeviceAllow"] and "char-ttyS rw" in s["DeviceAllow"]
    assert s["ExecStart"][0].startswith("/usr/bin/fedwear run")
