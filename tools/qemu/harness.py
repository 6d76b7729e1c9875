"""Run fedwear's device test subset and the main job on aarch64 under QEMU.

    python tools/qemu/harness.py [--cache DIR] [--timeout S] [--mode M] [--cpu CPU]

A stand-in for the Yocto image (no bitbake build can run on these machines): a Debian
bookworm arm64 userland unpacked with mmdebstrap (--variant=extract: no arm64 code runs
while building), Python packages from PyPI's aarch64 wheels, and fedwear with its cffi
extension cross-compiled by aarch64-linux-gnu-gcc. The whole tree becomes the initramfs
(no disk image; kernel modules load from its /lib/modules); /init runs the tests marked
not "host" and `fedwear run` on the embedded default, prints the results between markers
on the serial console and powers off. QEMU: -M virt -cpu cortex-a57 (Yocto's qemuarm64
CPU; --cpu picks another, e.g. cortex-a53, the core of many wearables, or cortex-a76,
whose ARMv8.2 dot product instructions a Cortex-A55 also has).

The base image is cached under --cache, keyed on its package and requirement lists.
Exit status: 0 when everything inside passed; 1 when something failed or the guest never
reported. Needs: mmdebstrap, qemu-system-aarch64, gcc-aarch64-linux-gnu, cpio, kmod
(Debian).
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIRROR = "http://deb.debian.org/debian"
DEB_PACKAGES = [
    "python3",
    "python3-minimal",
    "libpython3.11",
    "libstdc++6",
    "libgcc-s1",
    "libffi8",
    "zlib1g",
    "busybox-static",
    # bookworm-backports' 6.12 kernel: under TCG, 6.1 fails its ecdh-nist-p256 self-test
    # (err -14, on the vector whose key comes from the kernel's RNG), so Bluetooth pairing
    # (SMP) has no ECDH ("Unable to create ECDH crypto context"); 6.12 pairs.
    "linux-image-arm64/bookworm-backports",
    # The second boot mode: fedwear.service under the guest's own systemd.
    "systemd",
    "base-passwd",
    # btattach: attaches a (here virtual) UART Bluetooth controller to the kernel as hci0;
    # bluetoothd and a system D-Bus: the gateway's side, `fedwear listen --transport bluez`.
    "bluez",
    "dbus",
    "dbus-daemon",
    "dbus-system-bus-common",
]
HEADER_PACKAGES = ["libpython3.11-dev", "python3.11-dev"]
PIP_REQUIREMENTS = [
    "numpy",
    "cffi",
    "pyserial",
    "pyedflib",
    "msgpack",
    "bumble",
    "bleak",
    "ai-edge-litert",
    "pytest",
    "hypothesis",
]
PLATFORMS = [
    "manylinux_2_34_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_27_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux2014_aarch64",
]
TRIM = [
    "boot",
    "usr/lib/modules",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
    "usr/lib/firmware",
    "var/cache/apt",
]
SITE = "usr/local/lib/python3.11/dist-packages"
GUEST_PYTHON = (3, 11)  # bookworm's python3, whose paths SITE and STDLIB name
STDLIB = "usr/lib/python3.11"

INIT = """#!/bin/busybox sh
# fedwear QEMU entry point: device tests, then the main job; results between markers.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox mkdir -p /dev/pts && /bin/busybox mount -t devpts devpts /dev/pts
/bin/busybox mount -t tmpfs tmp /tmp
export PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp PYTHONDONTWRITEBYTECODE=1
export PYTHONHASHSEED=0  # the same dict/set orders every boot (icount figures repeat)
export FEDWEAR_EXAMPLE_SCALE=0.25  # fewer random cases per property test (tests/conftest.py)
# A HID sensor hub made from user space (/dev/uhid, tests/uhid_sensor_hub.py), on which
# the kernel's own hid-sensor-accel-3d and -gyro-3d make real IIO devices (test_iio_kernel)
/sbin/modprobe -a uhid hid_sensor_hub hid_sensor_accel_3d hid_sensor_gyro_3d
cd /opt/fedwear
up() { /bin/busybox cut -d' ' -f1 /proc/uptime; }
echo "FEDWEAR-QEMU-BEGIN uptime=$(up)"
t0=$(up)
python3 -c 'import numpy, fedwear.ringbuf' && t1=$(up)
echo "FEDWEAR-QEMU-IMPORT seconds_from=$t0 to=$t1"
tests_rc=0
if ! /bin/busybox grep -q fedwear.footprint_only /proc/cmdline; then
    python3 -m pytest -m "not host" -q -p no:cacheprovider --durations=8 tests
    tests_rc=$?
fi
t2=$(up)
python3 -m fedwear.cli run --event-log /tmp/events.jsonl --quiet > /tmp/run.out
run_rc=$?
t3=$(up)
echo "FEDWEAR-QEMU-SUMMARY $(/bin/busybox tail -n 1 /tmp/run.out)"
if ! /bin/busybox grep -q fedwear.footprint_only /proc/cmdline; then
    /bin/busybox sh ble_check.sh  # BLE through the kernel's hci0 (hci-socket:0)
    /bin/busybox sh bluez_check.sh  # the gateway's central through BlueZ (bleak)
fi
# Footprint: installed size, start-up time to "running", RSS of a real-time job.
site=/usr/local/lib/python3.11/dist-packages
t4=$(up)
python3 -m fedwear.cli run --pace realtime --quiet --event-log /tmp/rt.jsonl 2>/tmp/rt.err &
pid=$!
while ! /bin/busybox grep -q "running:" /tmp/rt.err 2>/dev/null; do /bin/busybox sleep 0.2; done
t5=$(up)
/bin/busybox sleep 10
rss=$(/bin/busybox awk '/VmRSS/ {print $2}' /proc/$pid/status)
kill $pid; wait $pid
own=$(/bin/busybox du -sk $site/fedwear | /bin/busybox cut -f1)
all=$(/bin/busybox du -sk $site | /bin/busybox cut -f1)
echo "FEDWEAR-QEMU-FOOTPRINT fedwear_kb=$own site_kb=$all startup_s=$t4:$t5 rss_kb=$rss"
if /bin/busybox grep -q fedwear.footprint_only /proc/cmdline && [ -f tools/bench/models.py ]; then
    echo "FEDWEAR-QEMU-BENCH-BEGIN"
    python3 tools/bench/models.py --repeats 3 --windows 50
    echo "FEDWEAR-QEMU-BENCH-END rc=$?"
fi
echo "FEDWEAR-QEMU-RESULT tests=$tests_rc run=$run_rc tests_s=$t1:$t2 run_s=$t2:$t3"
/bin/busybox poweroff -f
"""


# fedwear.service as shipped (systemd/fedwear.service), started by the guest's systemd;
# this unit then checks it (tools/qemu/systemd_report.py) and powers the guest off.
REPORT_UNIT = """[Unit]
Description=fedwear QEMU check of fedwear.service
After=fedwear.service

[Service]
Type=oneshot
ExecStart=/usr/bin/python3 /opt/fedwear/systemd_report.py
ExecStopPost=/bin/busybox poweroff -f
StandardOutput=journal+console
TimeoutStartSec=15min

[Install]
WantedBy=multi-user.target
"""
# IIO under the shipped unit and udev rule: a HID sensor hub made through /dev/uhid, of
# which the kernel's HID sensor drivers make two IIO devices; udev hands them to the
# fedwear group; then a copy of fedwear.service, changed only in what it runs (the drop-in
# below), reads them as User=fedwear. The reporter starts it after its other checks (not
# beside them: the guests share two host cores with CI's other work) and stops it.
HUB_UNIT = """[Unit]
Description=fedwear QEMU check: a HID sensor hub through /dev/uhid (two IIO devices)

[Service]
Type=notify
NotifyAccess=main
ExecStartPre=/sbin/modprobe -a uhid hid_sensor_hub hid_sensor_accel_3d hid_sensor_gyro_3d
# 50 Hz until told otherwise: the check below sees fedwear's user set the imu's 100 Hz
ExecStart=/usr/bin/python3 /opt/fedwear/tests/uhid_sensor_hub.py --rate 50
# the devices' udev rules (70-fedwear-iio.rules among them) have run before READY counts
ExecStartPost=/bin/udevadm settle
# emulated, on a host busy with CI's other passes, systemd's default 90 s to start (module
# loads, Python, the hub, udev) may not be enough: in one CI run (session 33) the hub did
# not come up and fedwear-iio.service failed on the dependency alone
TimeoutStartSec=5min
"""
IIO_DROPIN = """[Unit]
Requires=fedwear-qemu-hub.service
After=fedwear-qemu-hub.service

[Service]
ExecStart=
ExecStart=/usr/bin/fedwear run --config /etc/fedwear/fedwear.toml --quiet --source iio \\
    --device accel_3d --device gyro_3d --event-log /var/lib/fedwear/iio.jsonl
Restart=no
"""
FEDWEAR_SCRIPT = """#!/usr/bin/python3
import sys

from fedwear.cli import main

sys.exit(main())
"""
BOOT_ARGS = {
    "tests": "rdinit=/init",
    "icount": "rdinit=/init fedwear.footprint_only",
    "systemd": "rdinit=/lib/systemd/systemd systemd.unit=multi-user.target",
}


# Instruction counting: one vCPU, and the guest's clock advanced by executed instructions
# (shift=0: 1 ns per instruction) instead of host time, and jumping over idle time
# (sleep=off). Every guest-measured duration is then an instruction count, the same on a
# loaded or an idle host.
QEMU_CPU_ARGS = {"icount": ["-smp", "1", "-icount", "shift=0,sleep=off"]}


def run(cmd: list[str], **kw) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(cmd, check=True, **kw)


def need_tools() -> None:
    missing = [
        t
        for t in ("mmdebstrap", "qemu-system-aarch64", "aarch64-linux-gnu-gcc", "cpio", "depmod")
        if shutil.which(t) is None
    ]
    if missing:
        sys.exit(
            f"qemu harness: missing {', '.join(missing)} (apt-get install mmdebstrap "
            "qemu-system-arm gcc-aarch64-linux-gnu cpio kmod)"
        )


def base_image(cache: Path) -> Path:
    """The cached arm64 userland + kernel + headers; built when its key changes."""
    key = hashlib.sha256(
        json.dumps([DEB_PACKAGES, HEADER_PACKAGES, PIP_REQUIREMENTS, PLATFORMS, TRIM]).encode()
    ).hexdigest()[:16]
    base = cache / f"base-{key}"
    if (base / "done").exists():
        print(f"qemu harness: cached base image {base}")
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    started = time.monotonic()
    for name, packages in (("rootfs", DEB_PACKAGES), ("headers", HEADER_PACKAGES)):
        run(
            [
                "mmdebstrap",
                "--quiet",
                "--mode=root",
                "--arch=arm64",
                "--variant=extract",
                f"--include={','.join(packages)}",
                "bookworm",
                str(base / name),
                MIRROR,
                f"deb {MIRROR} bookworm-backports main",
            ]
        )
    rootfs = base / "rootfs"
    shutil.copy(next((rootfs / "boot").glob("vmlinuz-*")), base / "vmlinuz")
    for path in TRIM:
        shutil.rmtree(rootfs / path, ignore_errors=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(rootfs / SITE),
            *platforms,
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            *PIP_REQUIREMENTS,
        ]
    )
    # pyconfig.h for aarch64, without the rest of the arm64 include tree.
    pyconfig = base / "pyconfig" / "aarch64-linux-gnu" / "python3.11"
    pyconfig.mkdir(parents=True)
    shutil.copy(base / "headers/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h", pyconfig)
    (base / "done").write_text(f"{time.monotonic() - started:.0f} s\n")
    print(f"qemu harness: built base image in {time.monotonic() - started:.0f} s")
    return base


def cross_build_extension(base: Path, out: Path) -> Path:
    """fedwear._native for aarch64: cffi emits the wrapper, the cross compiler builds it."""
    sys.path.insert(0, str(ROOT / "native"))
    from build_ffi import SOURCES, ffibuilder  # the cffi build script in native/

    source = out / "_native.c"
    ffibuilder.emit_c_code(str(source))
    library = out / "_native.abi3.so"
    run(
        [
            "aarch64-linux-gnu-gcc",
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-fPIC",
            "-shared",
            "-pthread",
            "-DPy_LIMITED_API=0x03070000",
            f"-I{base / 'headers/usr/include/python3.11'}",
            f"-I{base / 'pyconfig'}",
            f"-I{ROOT / 'native'}",
            "-o",
            str(library),
            str(source),
            *[str(ROOT / "native" / s) for s in SOURCES],
            "-lm",
        ]
    )
    return library


def install_service(rootfs: Path) -> None:
    """What the Yocto recipe installs (unit, config, user, /usr/bin/fedwear), the unit
    enabled, plus the reporter unit. No package scripts ran (--variant=extract), so the
    accounts come from base-passwd's masters, with the fedwear user added as useradd would."""
    etc = rootfs / "etc"
    shared = rootfs / "usr" / "share" / "base-passwd"
    passwd = (shared / "passwd.master").read_text()
    group = (shared / "group.master").read_text()
    # fedwear as useradd would add it, and the system bus's user as dbus's postinst would.
    (etc / "passwd").write_text(
        passwd
        + "fedwear:x:990:990::/var/lib/fedwear:/usr/sbin/nologin\n"
        + "messagebus:x:101:101::/nonexistent:/usr/sbin/nologin\n"
    )
    group = re.sub(r"^(dialout:x:\d+:)(.*)$", r"\1fedwear", group, flags=re.MULTILINE)
    (etc / "group").write_text(group + "fedwear:x:990:\nmessagebus:x:101:\n")
    (etc / "machine-id").write_text("")  # systemd makes a transient one at boot
    script = rootfs / "usr" / "bin" / "fedwear"
    script.write_text(FEDWEAR_SCRIPT)
    script.chmod(0o755)
    (etc / "fedwear").mkdir(exist_ok=True)
    shutil.copy(ROOT / "systemd" / "fedwear.toml", etc / "fedwear" / "fedwear.toml")
    units = etc / "systemd" / "system"
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "systemd" / "fedwear.service", units / "fedwear.service")
    (units / "fedwear-qemu-report.service").write_text(REPORT_UNIT)
    # the udev rule where the recipe puts it, and the /bin/sh its RUN+= calls (an image
    # has one; package scripts, which would have made dash's, did not run here)
    rules = rootfs / "lib" / "udev" / "rules.d"
    shutil.copy(ROOT / "systemd" / "70-fedwear-iio.rules", rules)
    (rootfs / "bin" / "sh").symlink_to("busybox")
    shutil.copy(ROOT / "systemd" / "fedwear.service", units / "fedwear-iio.service")
    (units / "fedwear-iio.service.d").mkdir()
    (units / "fedwear-iio.service.d" / "qemu.conf").write_text(IIO_DROPIN)
    (units / "fedwear-qemu-hub.service").write_text(HUB_UNIT)
    # fedwear-iio.service is started by the reporter once fedwear.service's checks are done
    for unit in ("fedwear.service", "fedwear-qemu-report.service"):
        (wants / unit).symlink_to(f"/etc/systemd/system/{unit}")
    # No login prompt on the console: nothing here would log in, and it interleaves output.
    for getty in ("serial-getty@.service", "getty@.service"):
        (units / getty).symlink_to("/dev/null")
    for helper in ("systemd_report.py", "ble_check.sh", "bluez_check.sh"):
        shutil.copy(ROOT / "tools" / "qemu" / helper, rootfs / "opt" / "fedwear")


def copy_model_bench(project: Path) -> None:
    """int8 against float32 on aarch64 (icount mode), where training left the float32 twins."""
    twins = sorted((ROOT / ".cache" / "train").glob("*_float32.tflite"))
    if not twins:
        return
    (project / "tools" / "bench").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "bench" / "models.py", project / "tools" / "bench")
    work = project / ".cache" / "train"
    work.mkdir(parents=True)
    for twin in twins:
        shutil.copy(twin, work)
        shutil.copy(twin.with_name(twin.name.replace("_float32.tflite", "_sample.npy")), work)


def index_modules(rootfs: Path) -> None:
    """The kernel's module index (modules.dep, modules.alias, ...), made on the host as a
    Yocto image makes it at build time. Debian's kernel package leaves it to its postinst,
    which never runs here, so each boot ran depmod over 4349 compressed modules, emulated:
    about a minute (62 s under qemu-aarch64 on a busy host, 10 s natively). The host's
    depmod reads aarch64 modules and writes the same files to the byte as the guest's."""
    for tree in (rootfs / "lib" / "modules").iterdir():
        run(["depmod", "--basedir", str(rootfs), tree.name])


def byte_compile(rootfs: Path) -> None:
    """The guest's standard library and fedwear as .pyc files, as a Yocto image ships its
    Python. The root tree comes from Debian packages whose postinst (py3compile) never ran
    here, and the guest runs with PYTHONDONTWRITEBYTECODE, so every Python process
    compiled the standard library and fedwear modules it imported, emulated: 1.5 s of
    each `fedwear --version` under qemu-aarch64 (0.7 s with these files), and the device
    tests start dozens of processes. The pip-installed packages have theirs from pip.
    Hash-based and unchecked, so the files' times do not matter; the same bytecode as the
    guest's own 3.11 would write, hence only from a 3.11 here."""
    if sys.version_info[:2] != GUEST_PYTHON:
        print(f"qemu harness: Python {sys.version.split()[0]} here, not the guest's 3.11: "
              "the guest compiles its modules itself (slower)")  # fmt: skip
        return
    skip = re.compile(r"/(test|tests|idlelib|lib2to3|tkinter|turtledemo|ensurepip)/")
    for tree in (STDLIB, f"{SITE}/fedwear"):
        compileall.compile_dir(
            rootfs / tree,
            ddir=f"/{tree}",  # the paths tracebacks in the guest show
            rx=skip,
            quiet=1,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )


def initramfs(base: Path, work: Path) -> Path:
    rootfs = work / "rootfs"
    run(["cp", "-a", str(base / "rootfs"), str(rootfs)])
    package = rootfs / SITE / "fedwear"
    shutil.copytree(
        ROOT / "runtime" / "fedwear",
        package,
        ignore=shutil.ignore_patterns("__pycache__", "_native*"),
    )
    shutil.copy(cross_build_extension(base, work), package)
    index_modules(rootfs)
    byte_compile(rootfs)
    # The shipped models where an installed fedwear finds them (as on the Yocto image).
    shutil.copytree(ROOT / "models", rootfs / "usr" / "share" / "fedwear" / "models")
    project = rootfs / "opt" / "fedwear"
    shutil.copytree(ROOT / "tests", project / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project)  # pytest markers and options
    copy_model_bench(project)
    (rootfs / "init").write_text(INIT)
    (rootfs / "init").chmod(0o755)
    install_service(rootfs)
    image = work / "initrd.gz"
    with image.open("wb") as f:
        files = subprocess.Popen(["find", ".", "-print0"], cwd=rootfs, stdout=subprocess.PIPE)
        cpio = subprocess.Popen(
            ["cpio", "--null", "-o", "-H", "newc", "--quiet"],
            cwd=rootfs,
            stdin=files.stdout,
            stdout=subprocess.PIPE,
        )
        subprocess.run(["gzip", "-1"], stdin=cpio.stdout, stdout=f, check=True)
        if cpio.wait() or files.wait():
            sys.exit("qemu harness: building the initramfs failed")
    return image


def boot(base: Path, image: Path, mode: str, cpu: str, console: Path, timeout: float) -> float:
    started = time.monotonic()
    with console.open("w") as out:
        try:
            subprocess.run(
                [
                    "qemu-system-aarch64",
                    "-M",
                    "virt",
                    "-cpu",
                    cpu,
                    *QEMU_CPU_ARGS.get(mode, ["-smp", "2"]),
                    "-m",
                    "3072",
                    "-nographic",
                    "-no-reboot",
                    "-nic",
                    "none",
                    "-kernel",
                    str(base / "vmlinuz"),
                    "-initrd",
                    str(image),
                    "-append",
                    f"console=ttyAMA0 {BOOT_ARGS[mode]} panic=-1 quiet",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            print(f"qemu harness: the guest did not power off within {timeout:.0f} s")
    return time.monotonic() - started


SUMMARY = re.compile(r"FEDWEAR-QEMU-SUMMARY (\{.*\})")
IMPORTED = re.compile(r"FEDWEAR-QEMU-IMPORT seconds_from=([\d.]+) to=([\d.]+)")


def console_text(console: Path) -> str:
    """What the guest printed, without the terminal's colour codes."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", console.read_text(errors="replace"))


def report(console: Path, boot_s: float, cpu: str) -> int:
    """QEMU's own exit status is always 0: the verdict is what the guest printed."""
    text = console_text(console)
    tail = text.splitlines()[-60:]
    result = re.search(
        r"FEDWEAR-QEMU-RESULT tests=(\d+) run=(\d+) tests_s=([\d.]+):([\d.]+)"
        r" run_s=([\d.]+):([\d.]+)",
        text,
    )
    if not result:
        print("\n".join(tail))
        print("qemu harness: FAILED: the guest never reported a result")
        return 1
    tests_rc, run_rc = int(result[1]), int(result[2])
    counts = re.findall(r"^.*\b(\d+ passed.*) in [\d.]+s.*$", text, re.MULTILINE)
    summary = SUMMARY.search(text)
    imported = IMPORTED.search(text)
    print(f"qemu harness: aarch64 ({cpu}, emulated): boot to power-off {boot_s:.0f} s")
    if imported:
        print(f"  import numpy + fedwear: {float(imported[2]) - float(imported[1]):.1f} s")
    print(
        f"  device tests: {counts[-1] if counts else '?'} "
        f"({float(result[4]) - float(result[3]):.0f} s), exit {tests_rc}"
    )
    if summary:
        s = json.loads(summary[1])
        print(
            f"  fedwear run: {s['samples']} samples, {s['events']} events, "
            f"{s['realtime_factor']}x real time (emulated), exit {run_rc}"
        )
    foot = re.search(
        r"FEDWEAR-QEMU-FOOTPRINT fedwear_kb=(\d+) site_kb=(\d+) "
        r"startup_s=([\d.]+):([\d.]+) rss_kb=(\d+)",
        text,
    )
    if foot:
        print(
            f"  footprint: fedwear {int(foot[1]) / 1024:.1f} MiB installed (with its Python "
            f"dependencies and test tools {int(foot[2]) / 1024:.0f} MiB); start-up to "
            f"READY {float(foot[4]) - float(foot[3]):.1f} s (emulated); RSS of a real-time "
            f"job {int(foot[5]) / 1024:.0f} MiB"
        )
    ble = re.search(r"FEDWEAR-QEMU-BLE rc=(\d+) received=(\d+)", text)
    if ble:
        print(
            f"  BLE over the kernel's hci0 (hci-socket:0, a virtual UART controller): "
            f"{ble[2]} fall received by the phone, exit {ble[1]}"
        )
    bluez = re.search(r"FEDWEAR-QEMU-BLUEZ rc=(\d+) received=(\d+)", text)
    if bluez:
        print(
            f"  BLE through BlueZ (bluetoothd + bleak, `fedwear listen --transport bluez`): "
            f"{bluez[2]} falls received by the gateway in three sessions (paired, bond "
            f"reused, paired again after the wearable forgot it), exit {bluez[1]}"
        )
    if tests_rc or run_rc or not ble or ble[1] != "0" or not bluez or bluez[1] != "0":
        print("\n".join(tail))
        print("qemu harness: FAILED inside the guest")
        return 1
    print("qemu harness: all passed")
    return 0


def report_icount(console: Path, boot_s: float, cpu: str) -> int:
    """Guest durations under -icount shift=0 are instruction counts (1 ns each)."""
    text = console_text(console)
    begin = re.search(r"FEDWEAR-QEMU-BEGIN uptime=([\d.]+)", text)
    imported = IMPORTED.search(text)
    result = re.search(r"FEDWEAR-QEMU-RESULT tests=\d+ run=(\d+) .* run_s=([\d.]+):([\d.]+)", text)
    foot = re.search(r"FEDWEAR-QEMU-FOOTPRINT .* startup_s=([\d.]+):([\d.]+)", text)
    summary = SUMMARY.search(text)
    if not (begin and imported and result and foot and summary):
        print("\n".join(text.splitlines()[-40:]))
        print("qemu harness: FAILED: the instruction-count boot did not report")
        return 1
    data_s = json.loads(summary[1])["recording_s"]
    run_insn = (float(result[3]) - float(result[2])) * 1e9

    def giga(a: str, b: str) -> str:
        return f"{(float(b) - float(a)):.2f} G"

    print(f"qemu harness: instruction counts, aarch64 {cpu}, one vCPU ({boot_s:.0f} s)")
    print(f"  kernel start to /init: {float(begin[1]):.2f} G instructions")
    print(f"  import numpy + fedwear.ringbuf: {giga(imported[1], imported[2])} instructions")
    print(f"  start-up to READY (fedwear run, four models): {giga(foot[1], foot[2])} instructions")
    print(
        f"  fedwear run, embedded default ({data_s:.0f} s of data, process start to exit): "
        f"{run_insn / 1e9:.2f} G instructions, exit {result[1]}"
    )
    bench = re.search(r"FEDWEAR-QEMU-BENCH-BEGIN\n(.*?)FEDWEAR-QEMU-BENCH-END rc=(\d+)", text, re.S)
    if bench:
        print(
            "  tools/bench/models.py in the guest (its µs columns are thousands of instructions):"
        )
        print("\n".join("    " + line for line in bench[1].strip().splitlines()))
    else:
        print("  no model benchmark: run tools/train/build_models.py first for the float32 twins")
    return int(result[1] != "0" or (bench is not None and bench[2] != "0"))


def systemd_failures(r: dict) -> list[str]:  # type: ignore[type-arg]
    """What fedwear.service promised and the guest's systemd did not show."""
    if "error" in r:
        return [f"the reporter failed: {r['error']}"]
    ready, limits, dog, done = r["ready"], r["limits"], r["watchdog"], r["finished"]
    summary = r["summary"] or {}
    expected = [
        (ready["active"] == "active" and ready["sub"] == "running", "active (running) after READY"),
        (limits["user"] == "fedwear" and not limits["uid_is_root"], "runs as user fedwear"),
        (limits["memory_max"] == str(192 << 20), "MemoryMax=192M in its cgroup"),
        (limits["cpu_max"].startswith("50000 100000"), "CPUQuota=50% in its cgroup"),
        (limits["no_new_privs"] == "1" and limits["seccomp"] == "2", "NoNewPrivileges, seccomp"),
        (dog["restarts"] >= 1 and dog["new_pid"], "restarted by the watchdog after SIGSTOP"),
        (r["journal"]["watchdog_timeout_logged"], "the watchdog timeout in the journal"),
        (done["result"] == "success" and done["exit_status"] == "0", "the replay ended, exit 0"),
        (summary.get("ended") == "end of data", "a summary with the whole recording replayed"),
        (r["event_log"]["lines"] > 0, "events in /var/lib/fedwear/events.jsonl"),
        (r["event_log"]["owner_uid"] == 990, "the event log owned by fedwear"),
        (int(limits["cap_eff"] or "0", 16) == 1 << 12, "CAP_NET_ADMIN its only capability"),
        (
            1 <= len(r["journal"]["bluetooth_off"]) <= dog["restarts"] + 1,
            "one 'Bluetooth off' line per start (no controller in the guest)",
        ),
    ]
    return [what for ok, what in expected if not ok] + iio_failures(r["iio"])


def iio_failures(iio: dict) -> list[str]:  # type: ignore[type-arg]
    """fedwear-iio.service: the rule gave its user two real IIO devices, which it read."""
    summary = iio["summary"] or {}
    source = summary.get("source", {})
    expected = [
        (iio["result"] == "success" and iio["exit_status"] == "0", "the IIO run ended, exit 0"),
        (iio["user"] == "fedwear", "the IIO run as user fedwear"),
        (summary.get("ended") == "stopped", "the IIO run stopped by systemctl stop"),
        # 10 s after READY of two devices sending at 100 Hz (the hub's pace when emulated
        # is lower), each of which must have delivered, joined into imu frames
        (
            min(source.get("scans:accel_3d", 0), source.get("scans:gyro_3d", 0)) > 200
            and summary.get("samples", 0) > 200,
            "IIO scans read from both devices and joined",
        ),
    ]
    for name in ("accel_3d", "gyro_3d"):
        device = iio["devices"].get(name)
        if device is None:
            expected.append((False, f"an IIO device {name}"))
            continue
        files = device["files"]
        opened = [files["buffer/enable"], files["buffer/length"], files["current_timestamp_clock"]]
        opened += [attribute for _, attribute in files["scan_elements"]]
        opened += [attribute for _, attribute in files["rates"]]
        rates = [float(a.get("value", "0")) for _, a in files["rates"]]
        expected += [
            (len(rates) == 1 and abs(rates[0] - 100) < 0.5, f"{name} asked for the imu's 100 Hz"),
            (device["node"].get("gid") == 990 and device["node"].get("mode") == "0o640",
             f"/dev of {name} given to group fedwear, 0640, by the udev rule"),
            (all(a.get("gid") == 990 and int(a.get("mode", "0"), 8) & 0o020 for a in opened),
             f"{name}'s attributes writable by group fedwear (the udev rule)"),
            (int(files["buffer/length"].get("value", "0")) >= 100, f"{name}'s buffer set up"),
            (files["current_timestamp_clock"].get("value") == "boottime", f"{name} on boottime"),
        ]  # fmt: skip
    return [what for ok, what in expected if not ok]


def report_systemd(console: Path, boot_s: float, cpu: str) -> int:
    text = console_text(console)
    found = re.search(r"FEDWEAR-SYSTEMD-RESULT (\{.*\})", text)
    if not found:
        print("\n".join(text.splitlines()[-60:]))
        print("qemu harness: FAILED: the systemd boot never reported a result")
        return 1
    r = json.loads(found[1])
    failures = systemd_failures(r)
    if "error" not in r:
        s = r["summary"] or {}
        print(
            f"qemu harness: fedwear.service under the guest's systemd ({cpu}): boot to power-off "
            f"{boot_s:.0f} s; userspace reached the check at {r['uptime_at_start_s']:.0f} s"
        )
        print(
            f"  start-up to READY {r['ready']['start_to_ready_s']:.1f} s (emulated); RSS "
            f"{r['limits']['rss_kb'] / 1024:.0f} MiB; memory.max {r['limits']['memory_max']}, "
            f"cpu.max {r['limits']['cpu_max']}, seccomp {r['limits']['seccomp']}"
        )
        print(
            f"  watchdog: SIGSTOP to restarted in {r['watchdog']['restart_s']:.0f} s "
            f"({r['watchdog']['restarts']} restart); replay {r['finished']['result']}, "
            f"{s.get('samples')} samples, {s.get('events')} events, "
            f"{r['event_log']['lines']} lines in the event log; journal priorities "
            f"{r['journal']['priorities']}"
        )
        off = r["journal"]["bluetooth_off"]
        print(f"  no Bluetooth controller: {len(off)} line(s), e.g. {off[0] if off else None!r}")
        iio = r["iio"]
        source = (iio["summary"] or {}).get("source", {})
        print(
            f"  IIO under the shipped unit and udev rule (two devices of a uhid HID sensor hub): "
            f"{iio['result']}, {source.get('scans')} scans, "
            f"{(iio['summary'] or {}).get('samples')} imu frames, as {iio['user']}"
        )
    if failures:
        print(json.dumps(r, indent=1))
        print("qemu harness: FAILED under systemd: " + "; ".join(failures))
        return 1
    print("qemu harness: fedwear.service passed every check")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "qemu")
    ap.add_argument("--timeout", type=float, default=1500.0)
    ap.add_argument(
        "--mode",
        choices=("tests", "systemd", "both", "icount"),
        default="both",
        help="tests: the device tests and `fedwear run` from /init; systemd: "
        "fedwear.service under the guest's systemd; both (default): one boot of each; "
        "icount: footprint as instruction counts (one vCPU, -icount; not in CI)",
    )
    ap.add_argument(
        "--cpu",
        default="cortex-a57",
        help="the emulated core (qemu-system-aarch64 -cpu help lists them); default cortex-a57",
    )
    args = ap.parse_args()
    need_tools()
    base = base_image(args.cache)
    reports = {"tests": report, "systemd": report_systemd, "icount": report_icount}
    modes = ["tests", "systemd"] if args.mode == "both" else [args.mode]
    consoles = {mode: args.cache / f"console-{mode}.log" for mode in modes}
    with tempfile.TemporaryDirectory(prefix="fedwear-qemu-") as tmp:
        image = initramfs(base, Path(tmp))
        # The guests boot side by side: the systemd one mostly waits (a real-time replay,
        # the watchdog's 30 s), so together they take little longer than the tests alone.
        with ThreadPoolExecutor(max_workers=len(modes)) as pool:
            boots = {
                mode: pool.submit(boot, base, image, mode, args.cpu, consoles[mode], args.timeout)
                for mode in modes
            }
            boot_s = {mode: future.result() for mode, future in boots.items()}
    return max(reports[mode](consoles[mode], boot_s[mode], args.cpu) for mode in modes)


if __name__ == "__main__":
    sys.exit(main())
