"""Configuration: defaults, TOML files, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import memory_cap

from fedwear.config import load_config, to_toml
from fedwear.errors import ConfigError


def test_defaults_are_valid_and_round_trip_through_toml(tmp_path: Path) -> None:
    config = load_config()
    assert config.source.kind == "replay" and config.stream_rates()["imu"] == 100.0
    path = tmp_path / "fedwear.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config


def test_file_values_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[window]\nseconds = 8\n[streams.ppg]\nenabled = false\n")
    config = load_config(path, {"source.pace": "realtime"})
    assert config.window.seconds == 8.0 and isinstance(config.window.seconds, float)
    assert "ppg" not in config.stream_rates()
    assert config.source.pace == "realtime"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[window]\nsecond = 3\n", "window.second"),
        ('[window]\nseconds = "4"\n', "window.seconds"),
        ("[source]\nkind = 'usb'\n", "source.kind"),
        ("[streams.imu]\nrate_hz = -1\n", "streams.imu.rate_hz"),
        ("[streams.hr]\nrate_hz = 1e-300\n", "streams.hr.rate_hz"),  # ran with a -292-year summary
        ("[detectors.flatline]\nstreams = ['imu', 'eeg']\n", "detectors.flatline.streams[1]"),
        ("[detectors.heart_rate]\nenabled = 1\n", "detectors.heart_rate.enabled"),
        ("[detectors.heart_rate]\nstill_std_g = 0\n", "detectors.heart_rate.still_std_g"),
        (
            "[detectors.heart_rate]\nunexplained_hold_s = inf\n",
            "detectors.heart_rate.unexplained_hold_s",
        ),
        (
            "[detectors.heart_rate]\nunexplained_settle_s = -1\n",
            "detectors.heart_rate.unexplained_settle_s",
        ),
        ("[detectors.heart_rate]\nclear_s = -1\n", "detectors.heart_rate.clear_s"),
        ("[detectors.heart_rate]\nclear_s = nan\n", "detectors.heart_rate.clear_s"),
        ("[detectors.silence]\nseconds = 0\n", "detectors.silence.seconds"),
        ("[ring]\nseconds = 1" + "0" * 400 + "\n", "ring.seconds"),  # OverflowError in float()
        ("[detectors.silence]\nseconds = nan\n", "detectors.silence.seconds"),
        ("[window]\nseconds = 2\nhop_seconds = 3\n", "window.hop_seconds"),
        ("window = 3\n", "window"),
        ("[ble]\nbacklog = 0\n", "ble.backlog"),
        ("[source.iio]\ndevice = '../../etc'\n", "source.iio.device"),
        ("[source.iio]\ndevice = ''\n", "source.iio.device"),
        ("[source.iio]\ndevice = ['accel_3d', '../x']\n", "source.iio.device"),
        ("[source.iio]\ndevice = []\n", "source.iio.device"),
        ("[source.iio]\ndevice = 3\n", "source.iio.device"),
        ("[source.iio]\nelements = ['accel_x', 'en/../../x']\n", "source.iio.elements"),
        ("[source.iio]\ndevice_rate_hz = -100\n", "source.iio.device_rate_hz"),
        ("[source.iio]\ndevice_rate_hz = nan\n", "source.iio.device_rate_hz"),
        ("[ble]\nname = '" + "x" * 30 + "'\n", "ble.name"),
        ("[ble]\ntransport = 'hci0'\n", "ble.transport"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key


def test_an_iio_stream_may_come_from_several_devices(tmp_path: Path) -> None:
    path = tmp_path / "iio.toml"
    path.write_text("[source.iio]\ndevice = ['lsm6dsm_accel', 'lsm6dsm_gyro']\n")
    assert load_config(path).source.iio.device == ["lsm6dsm_accel", "lsm6dsm_gyro"]
    path.write_text("[source.iio]\ndevice = 3\n")
    with pytest.raises(ConfigError, match="must be a string or a list, got int 3"):
        load_config(path)
    path.write_text("[source.iio]\ndevice = 'max30102'\ndevice_rate_hz = 100\n")
    assert load_config(path).source.iio.device_rate_hz == 100.0


def test_a_long_wrong_value_is_shortened_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(f"[source]\nkind = '{'u' * 100_000}'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "source.kind" and len(str(info.value)) < 200
    assert str(info.value).endswith("uuu...")


def test_unreadable_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    path = tmp_path / "broken.toml"
    path.write_text("[window\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    path.write_bytes(b"x = '" + b"a" * (2 * 1024 * 1024) + b"'")
    with pytest.raises(ConfigError, match="holds more than 1048576 bytes"):
        load_config(path)
    # A size from stat() is no bound: /dev/zero has none, and was read until memory ran out.
    with memory_cap(), pytest.raises(ConfigError, match="/dev/zero holds more than"):
        load_config(Path("/dev/zero"))
    # Integers past Python's 4300-digit limit for int(str): tomllib raised ValueError.
    path.write_text("[ring]\nseconds = 1" + "0" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*4300 digits"):
        load_config(path)
    # Nesting deeper than tomllib recurses: an error, not a RecursionError.
    for nested in ("[" * 50_000 + "]" * 50_000, "{a = " * 20_000 + "1" + "}" * 20_000):
        path.write_text(f"x = {nested}\n")
        with pytest.raises(ConfigError, match=r"too deeply|not valid TOML"):
            load_config(path)


def test_event_log_follows_systemd_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/fedwear")
    assert str(load_config().event_log_path()) == "/var/lib/fedwear/events.jsonl"
    assert str(load_config().ble_bonds_path()) == "/var/lib/fedwear/ble-bonds.json"
