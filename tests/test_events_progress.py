"""Event sinks (append-only log that survives a torn write) and the progress bar."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from fedwear.detect.base import Event
from fedwear.events import EventLog, JsonLinesSink, read_event_log
from fedwear.progress import ProgressBar


def event(i: int) -> Event:
    return Event(i * 1_000_000_000, "flatline", "sensor_fault", "imu", f"event {i}", "ax", 0.5)


def test_event_log_appends_whole_lines_and_skips_a_torn_one(tmp_path: Path) -> None:
    path = tmp_path / "state" / "events.jsonl"
    log = EventLog(path)
    for i in range(3):
        log.event(event(i))
    log.close()
    with open(path, "ab") as f:  # a kill in the middle of a write leaves a partial line
        f.write(b'{"type":"event","t":3.0,"detec')
    log = EventLog(path)  # reopening appends after it
    log.event(event(4))
    log.close()
    got = read_event_log(path)
    # Only the torn event is lost: reopening ends the partial line first.
    assert [e["message"] for e in got] == ["event 0", "event 1", "event 2", "event 4"]
    with open(path, "a") as f:  # a line no decoder should recurse through
        f.write("[" * 100_000 + "]" * 100_000 + "\n")
    assert len(read_event_log(path)) == 4


def test_json_lines_are_one_object_per_line() -> None:
    buf = io.StringIO()
    sink = JsonLinesSink(buf)
    sink.event(event(1))
    sink.emit({"type": "summary", "events": 1})
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert records[0]["type"] == "event" and records[0]["channel"] == "ax"
    assert records[0]["t"] == 1.0 and records[1]["type"] == "summary"


def test_event_log_on_a_device_or_a_fifo(tmp_path: Path) -> None:
    """`--event-log /dev/null` (no log) or a FIFO takes the lines; closing one raised
    EINVAL from fsync after the run had ended."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        for path in (Path("/dev/null"), fifo):
            log = EventLog(path)
            log.event(event(1))
            log.close()
        assert os.read(reader, 4096).count(b"\n") == 1
    finally:
        os.close(reader)


def test_event_log_in_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    try:
        EventLog(blocker / "events.jsonl")
    except OSError as exc:
        assert "cannot open the event log" in str(exc)
    else:
        raise AssertionError("expected an error")


def test_progress_bar_is_silent_without_a_tty() -> None:
    buf = io.StringIO()
    bar = ProgressBar(buf, "replay", min_interval_s=0)
    bar.update(0.5)
    bar.close()
    assert buf.getvalue() == ""


def test_progress_bar_draws_on_a_tty() -> None:
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as tty:
        bar = ProgressBar(tty, "replay", width=10, min_interval_s=0)
        bar.update(0.5, "3 events")
        bar.close()
    out = os.read(master, 4096).decode()
    os.close(master)
    assert "replay [#####-----]  50.0% 3 events" in out
