"""The systemd unit: systemd's own verifier accepts it, and it says what the service needs."""

from __future__ import annotations

import grp
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.host  # reads the checkout (layer, unit), not the install

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "fedwear.service"


def verifier(command: list[str], path: Path, text: str) -> tuple[int, str]:
    """Write ``text`` to ``path`` and run a verifier on it: its exit code and output."""
    path.write_text(text)
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


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
    # --man=no: verify would open the man page that Documentation= names, and a minimal
    # system (Debian's chroot in tools/debian-test) has no man.
    returncode, problems = verifier(
        ["systemd-analyze", "verify", "--man=no"], tmp_path / "fedwear.service", text
    )
    if complaint is None:
        assert returncode == 0 and problems.strip() == "", problems
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


RULES = UNIT.with_name("70-fedwear-iio.rules")


def _udevadm_verifies() -> bool:
    """`udevadm verify` came with udev 253 (Debian forky has it; bookworm's 252 does not)."""
    if shutil.which("udevadm") is None:
        return False
    probe = subprocess.run(["udevadm", "verify", "--help"], capture_output=True, timeout=30)
    return probe.returncode == 0


def _run_command(rule: str) -> str:
    """The shell command of the rule's RUN+=, as udev hands it to /bin/sh -c."""
    match = re.search(r"""RUN\+="/bin/sh -c '(.*)'"$""", rule, re.MULTILINE)
    assert match, rule
    command = match.group(1)
    # udev substitutes $name and %c itself: the shell's $ must be written $$
    assert not re.search(r"(?<!\$)\$(?!\$)", command), command
    return command.replace("$$", "$")


def test_the_iio_rule_opens_to_the_service_user_what_the_source_writes(tmp_path: Path) -> None:
    """Without it the service's user can neither read /dev/iio:deviceN (root's, 0600) nor
    set up the device: `source.kind = "iio"` failed with "Permission denied". The rule's
    own shell code runs here on a device tree, with a group this host has; then every
    file the source writes while it sets the device up must have been given to it."""
    from test_iio import make_device

    from fedwear.ingest.iio import IioSource
    from fedwear.ringbuf import Ring

    text = RULES.read_text()
    user = settings()["User"][0]
    assert f'GROUP="{user}"' in text and f"chgrp {user} " in text
    assert "char-iio" in " ".join(settings()["DeviceAllow"])
    dev = make_device(tmp_path)
    group = grp.getgrgid(os.getgid() + 1 if os.getgid() == 0 else os.getgid())
    command = (
        _run_command(text).replace("/sys%p", str(dev)).replace(f" {user} ", f" {group.gr_name} ")
    )
    subprocess.run(["/bin/sh", "-c", command], check=True, timeout=30)
    before = {p: p.stat().st_mtime_ns for p in dev.rglob("*") if p.is_file()}
    time.sleep(0.01)
    source = IioSource("iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "imu", 100.0)
    source.start({"imu": Ring(64, 6)})
    fd = os.open(tmp_path / "dev" / "iio:device0", os.O_WRONLY)
    os.close(fd)  # the reader ends
    source.close()
    written = sorted(p for p, mtime in before.items() if p.stat().st_mtime_ns != mtime)
    assert len(written) == 12, written  # 6 elements, timestamp, length, enable, clock, 2 rates
    for path in written:
        st = path.stat()
        relative = path.relative_to(dev)
        assert st.st_gid == group.gr_gid and st.st_mode & stat.S_IWGRP, relative


@pytest.mark.skipif(not _udevadm_verifies(), reason="no `udevadm verify` here (udev 253+)")
@pytest.mark.parametrize("broken", [False, True])
def test_udevadm_verify(tmp_path: Path, broken: bool) -> None:
    text = RULES.read_text()
    if broken:  # a match key given an assignment: the check can fail
        text = text.replace('SUBSYSTEM=="iio"', 'SUBSYSTEM="iio"', 1)
    # never: the fedwear group exists on the image, not in this chroot
    returncode, problems = verifier(
        ["udevadm", "verify", "--resolve-names=never"], tmp_path / RULES.name, text
    )
    if broken:
        assert returncode != 0 and "SUBSYSTEM" in problems, problems
    else:
        assert returncode == 0, problems
