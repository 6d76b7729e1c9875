"""The fedwear command as a user runs it (subprocesses, real files, a real pty)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fedwear.cli import main
from fedwear.errors import ExitCode
from fedwear.events import read_event_log


def fedwear(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "fedwear.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def lines(stdout: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in stdout.splitlines()]


def test_run_on_the_embedded_default(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    started = time.time()
    result = fedwear("run", "--event-log", str(log))
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    summary = out[-1]
    assert summary["type"] == "summary" and summary["ended"] == "end of data"
    assert summary["samples"] > 40_000 and summary["windows"] > 400
    assert summary["dropped"] == 0 and abs(summary["recording_s"] - 120) < 1
    events = [o for o in out if o["type"] == "event"]
    assert summary["events"] == len(events) >= 1
    # Stream time is the recording's; `at` says when (UTC) the runtime reported it.
    assert all(started - 1 <= e["at"] <= time.time() + 1 for e in events)
    assert read_event_log(log) == events
    assert "real time" in result.stderr
    # The log is append-only: a second run adds to it.
    fedwear("run", "--event-log", str(log), "--quiet")
    assert len(read_event_log(log)) == 2 * len(events)


def test_bad_config_stops_at_start_with_the_key_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[window]\nsecnds = 4\n")
    result = fedwear("run", "--config", str(config))
    assert result.returncode == ExitCode.CONFIG
    assert "window.secnds: unknown key" in result.stderr
    assert result.stdout == ""


def test_missing_recording_is_a_dataset_error(tmp_path: Path) -> None:
    result = fedwear("run", "--path", str(tmp_path / "nope.edf"))
    assert result.returncode == ExitCode.DATASET
    assert "nope.edf: no such file" in result.stderr


def test_replay_of_a_folder_of_recordings(data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("wfdb", reason="the folder holds a WFDB record; wfdb is an extra")
    result = fedwear("run", "--path", str(data_dir), "--event-log", str(tmp_path / "e.jsonl"))
    assert result.returncode == 0, result.stderr
    summary = lines(result.stdout)[-1]
    assert summary["source"]["recordings"] == 2  # the MobiFall trial and the MIT-BIH excerpt
    assert summary["events_by_detector"].get("dropout", 0) == 0  # no gap between recordings


def test_hub_emulator_to_fedwear_run_through_a_pty(tmp_path: Path) -> None:
    link = tmp_path / "hub"
    # Rings that hold the whole recording: this checks the serial path sample for sample,
    # whatever the machine's speed (throughput is tools/bench/intake_pty.py's job).
    config = tmp_path / "big-rings.toml"
    config.write_text("[ring]\nseconds = 256\n")
    with subprocess.Popen(
        [sys.executable, "-m", "fedwear.cli", "hub-emulator", "--link", str(link), "--speed", "40"],
        stderr=subprocess.PIPE,
        text=True,
    ) as emulator:
        try:
            deadline = time.monotonic() + 30
            while not link.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            result = fedwear(
                "run",
                "--source",
                "uart",
                "--port",
                str(link),
                "--event-log",
                str(tmp_path / "e.jsonl"),
                "--config",
                str(config),
            )
        finally:
            _, emulator_err = emulator.communicate(timeout=60)
    assert emulator.returncode == 0, emulator_err
    summary = lines(result.stdout)[-1]
    # The emulator closes the pty when the recording ends: the hub is "unplugged".
    assert result.returncode == ExitCode.SOURCE_LOST
    assert "vanished" in summary["ended"]
    assert summary["source"]["crc_errors"] == 0 and summary["lost"] == 0
    assert summary["dropped"] == 0
    assert summary["samples"] == summary["source"]["samples"] > 40_000
    assert summary["events_by_detector"].get("saturation", 0) >= 1  # the PPG clipping


@pytest.mark.parametrize(
    "wait",
    [
        ("--settle", "3600"),
        # A tiny pace: the first frame is due in 28 hours, or past what time.sleep takes
        # (OverflowError); the pacing sleep sat out SIGTERM.
        ("--settle", "0", "--speed", "1e-6"),
        ("--settle", "0", "--speed", "1e-300"),
    ],
)
def test_sigterm_ends_the_hub_emulator_while_it_waits(
    tmp_path: Path, wait: tuple[str, ...]
) -> None:
    """A long --settle is a wait like --linger: SIGTERM ends it at once, not after it."""
    import os
    import signal

    link = tmp_path / "hub"
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fedwear.cli",
            "hub-emulator",
            "--link",
            str(link),
            *wait,
        ],
        stderr=subprocess.PIPE,
        text=True,
    ) as emulator:
        assert emulator.stderr is not None
        assert "serving" in emulator.stderr.readline()  # the link exists now
        port = os.open(link, os.O_RDWR | os.O_NOCTTY)  # a host opens the port
        try:
            # Not a fixed delay: under load the emulator took longer than one to see its
            # reader, and a SIGTERM before that tested nothing.
            assert "opened the port" in emulator.stderr.readline()
            time.sleep(0.3)  # into the wait (the settle, or the pace of the first frame)
            emulator.send_signal(signal.SIGTERM)
            _, err = emulator.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            emulator.kill()
            pytest.fail(f"the hub emulator went on waiting ({' '.join(wait)}) after SIGTERM")
        finally:
            os.close(port)
    assert emulator.returncode == 0 and "sent 0 frames" in err, err


def test_config_command_prints_valid_toml(tmp_path: Path) -> None:
    result = fedwear("config")
    assert result.returncode == 0 and "[source]" in result.stdout
    path = tmp_path / "c.toml"
    path.write_text(result.stdout)
    # Accepted by `fedwear run` (config, models, source); the whole run is another test's.
    run = fedwear(
        "run", "--config", str(path), "--quiet", "--duration", "0.001",
        "--event-log", str(tmp_path / "e.jsonl"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert lines(run.stdout)[-1]["ended"] == "stopped"


def test_sigterm_ends_a_realtime_run_with_a_summary(realtime_run) -> None:  # type: ignore[no-untyped-def]
    proc = realtime_run()
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the runtime is up (slow on emulated machines)
        if "running:" in line:
            break
    time.sleep(1)
    proc.terminate()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    summary = lines(out)[-1]
    assert summary["ended"] == "stopped" and 0 < summary["recording_s"] < 60


def test_boot_failures_log_one_clear_line_and_exit_for_systemd(tmp_path: Path) -> None:
    """A missing device or an unwritable state directory: one line, a non-zero exit code
    (systemd restarts within StartLimitBurst), never a traceback flooding the journal."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    cases = [
        (["--source", "uart", "--port", str(tmp_path / "ttyNOPE")], "cannot open serial port"),
        (["--source", "iio", "--device", "iio:device9"], "not a buffered IIO device"),
        (["--event-log", str(blocker / "events.jsonl")], "cannot open the event log"),
    ]
    for args, message in cases:
        log = [] if "--event-log" in args else ["--event-log", str(tmp_path / "e.jsonl")]
        result = fedwear("run", *args, *log)
        assert result.returncode == ExitCode.SOURCE, result.stderr
        lines_out = result.stderr.strip().splitlines()
        assert len(lines_out) == 1 and message in lines_out[0], result.stderr
        assert "Traceback" not in result.stderr
    # --device once per device: each is checked, the second as much as the first
    result = fedwear("run", "--source", "iio", "--device", "iio:device0", "--device", "../x")
    assert result.returncode == ExitCode.CONFIG and "source.iio.device" in result.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (
            ["listen", "--transport", "usb:0", "--count", "0"],
            "--count: must be a finite number above zero: 0",
        ),
        (
            ["listen", "--transport", "usb:0", "--timeout", "nan"],
            "--timeout: must be a finite number above zero",
        ),
        (["run", "--duration", "-1"], "--duration: must be a finite number above zero: -1"),
        (["listen", "--transport", "usb:0", "--count", "two"], "--count: not a number: 'two'"),
        (
            ["listen", "--transport", "usb:0", "--address", "zz"],
            "--address: not a Bluetooth address",
        ),
        (["listen", "--transport", "usb:0", "--address", "C3:38:55:1D:AE"], "not a Bluetooth"),
        (["hub-emulator", "--rate", "imu"], "expected STREAM=HZ with STREAM one of imu, ppg"),
        (["hub-emulator", "--rate", "gps=1"], "expected STREAM=HZ"),
        (["hub-emulator", "--rate", "imu=fast"], "--rate: not a number: 'fast'"),
        (["hub-emulator", "--rate", "imu=0.2"], "imu: from 0.25 Hz to 100 kHz, got 0.2"),
        (["hub-emulator", "--rate", "ppg=nan"], "--rate: must be a finite number above zero"),
    ],
)
def test_bad_option_values_are_usage_errors(
    args: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2 and complaint in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["hub-emulator", "--speed", "-1"], "--speed: must be a finite number zero or more: -1"),
        (["hub-emulator", "--settle", "nan"], "--settle: must be a finite number zero or more"),
        (["hub-emulator", "--linger", "inf"], "--linger: must be a finite number zero or more"),
        (["eval", "beats", ".", "--learning-period", "-1"], "--learning-period: must be a finite"),
    ],
)
def test_paces_and_waits_must_be_finite_and_not_negative(args: list[str], complaint: str) -> None:
    """Zero is a valid pace (unpaced) and a valid wait; NaN and negatives reached sleeps.
    A subprocess: a regression would serve the recording, waiting for a host that never
    comes, and the timeout ends it."""
    result = fedwear(*args, timeout=30)
    assert result.returncode == 2 and complaint in result.stderr, result.stderr


def test_the_hub_emulator_sends_only_streams_the_config_enables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rate for a disabled stream would send frames no ring takes: said, not ignored."""
    config = tmp_path / "no-ecg.toml"
    config.write_text("[streams.ecg]\nenabled = false\n")
    code = main(["hub-emulator", "--rate", "ecg=250", "--rate", "imu=104", "--config", str(config)])
    assert code == ExitCode.USAGE
    assert "--rate: ecg not enabled in the config" in capsys.readouterr().err
