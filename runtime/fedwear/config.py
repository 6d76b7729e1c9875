"""Configuration: one TOML file over built-in defaults, validated at start-up.

Every key is declared below with its type and default; an unknown key, a wrong type or
an out-of-range value raises ``ConfigError`` naming the dotted key (``window.seconds``).
``fedwear config`` prints the effective configuration as TOML.
"""

from __future__ import annotations

__all__ = ["Config", "PairingPolicy", "load_config", "state_dir"]

import dataclasses
import math
import os
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from .bounded import read_at_most
from .errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024


@dataclass
class UartConfig:
    port: str = "/dev/ttyS1"
    baudrate: int = 921600


@dataclass
class IioConfig:
    # A node ("iio:device0") or a device's name ("accel_3d", which survives reboots); a
    # list where the stream is spread over devices (["lsm6dsm_accel", "lsm6dsm_gyro"]).
    device: str | list[str] = "iio:device0"
    sysfs_dir: str = "/sys/bus/iio/devices"
    dev_dir: str = "/dev"
    stream: Literal["imu", "ppg", "ecg", "hr"] = "imu"
    # Set the device up (scan elements, rate, buffer length, clock) and run its buffer;
    # false where someone else does, and fedwear only reads (and resamples to the stream's
    # rate where theirs differs).
    enable_buffer: bool = True
    # The scan element of each of the stream's channels, in its order; empty: the
    # kernel's usual names (imu: accel_x .. anglvel_z; ppg: intensity_ir; ecg: voltage0).
    elements: list[str] = field(default_factory=list)
    # The rate (Hz) of a device that does not show it in sampling_frequency: a MAX30102
    # samples at 400 Hz and averages 4, so 100. 0: the device shows it (or is the stream's).
    device_rate_hz: float = 0.0


@dataclass
class SourceConfig:
    kind: Literal["replay", "uart", "iio"] = "replay"
    path: str = ""  # replay: a recording or folder; empty = the bundled recording
    pace: Literal["asap", "realtime"] = "asap"
    uart: UartConfig = field(default_factory=UartConfig)
    iio: IioConfig = field(default_factory=IioConfig)


@dataclass
class StreamConfig:
    rate_hz: float = 100.0
    enabled: bool = True


@dataclass
class StreamsConfig:
    imu: StreamConfig = field(default_factory=lambda: StreamConfig(100.0))
    ppg: StreamConfig = field(default_factory=lambda: StreamConfig(64.0))
    ecg: StreamConfig = field(default_factory=lambda: StreamConfig(250.0))
    hr: StreamConfig = field(default_factory=lambda: StreamConfig(1.0))


@dataclass
class RingConfig:
    seconds: float = 16.0  # capacity per stream, rounded up to a power of two frames
    overflow: Literal["drop-oldest", "drop-newest"] = "drop-oldest"


@dataclass
class WindowConfig:
    seconds: float = 4.0
    hop_seconds: float = 1.0


@dataclass
class FlatlineConfig:
    enabled: bool = True
    streams: list[str] = field(default_factory=lambda: ["imu", "ppg", "ecg"])
    tolerance: float = 1e-6  # peak-to-peak at or below this over a whole window is flat


@dataclass
class SaturationConfig:
    enabled: bool = True
    streams: list[str] = field(default_factory=lambda: ["imu", "ppg", "ecg"])
    min_run: int = 4  # consecutive samples stuck at the window's extreme value


@dataclass
class DropoutConfig:
    enabled: bool = True
    streams: list[str] = field(default_factory=lambda: ["imu", "ppg", "ecg", "hr"])
    gap_factor: float = 2.5  # a step longer than this many sample periods is a gap


@dataclass
class SilenceConfig:
    enabled: bool = True
    # A live stream (uart, iio) that sends no sample for this long, or for 3 of its sample
    # periods if those are longer, is a sensor fault (fedwear.detect.silence).
    seconds: float = 5.0


@dataclass
class HeartRateConfig:
    enabled: bool = True
    min_bpm: float = 40.0
    max_bpm: float = 180.0
    hysteresis_bpm: float = 5.0
    # A high or low rate ends only once the rate has stayed inside the range, by
    # hysteresis_bpm, for clear_s: a rate that hovers about a limit, as a runner's does,
    # is one event, not one each time it crosses (0: it ends at the first such reading).
    clear_s: float = 30.0
    # The hr stream against the wearer's motion (heart_rate_activity): a rate above
    # unexplained_above_bpm while the wrist's |acc| spread is at most still_std_g, held for
    # unexplained_hold_s (the ppg_hr model card's rule and thresholds), cleared
    # hysteresis_bpm below; judged only once the wrist has not been active (moving for
    # most of a minute) for unexplained_settle_s, since exercise keeps the heart fast for
    # minutes after it stops (fedwear.detect.unexplained).
    unexplained: bool = True
    unexplained_above_bpm: float = 110.0
    still_std_g: float = 0.02
    unexplained_hold_s: float = 30.0
    unexplained_settle_s: float = 300.0


@dataclass
class ModelsConfig:
    dir: str = ""  # empty: $FEDWEAR_MODELS, the checkout's models/, or the installed ones
    # The int8 model detectors to run (those whose streams the source has):
    # "fall" (imu), "beats" (ecg), "ppg_hr" (ppg + imu), "normal" (ppg + imu).
    enabled: list[str] = field(default_factory=lambda: ["fall", "beats", "ppg_hr", "normal"])
    # A model that is missing or fails its checks: "exit" stops the run (exit 50); "skip"
    # logs one error and runs without that detector (the device: a corrupt "normal" model
    # must not take the fall detector down with it, and restarting cannot mend a file).
    on_error: Literal["exit", "skip"] = "exit"


@dataclass
class DetectorsConfig:
    models: ModelsConfig = field(default_factory=ModelsConfig)
    flatline: FlatlineConfig = field(default_factory=FlatlineConfig)
    saturation: SaturationConfig = field(default_factory=SaturationConfig)
    dropout: DropoutConfig = field(default_factory=DropoutConfig)
    silence: SilenceConfig = field(default_factory=SilenceConfig)
    heart_rate: HeartRateConfig = field(default_factory=HeartRateConfig)


@dataclass
class EventsConfig:
    log_path: str = ""  # empty: $STATE_DIRECTORY/events.jsonl or ~/.local/state/fedwear/
    stdout: bool = True


# Who may pair with the wearable (fedwear.ble.pairing explains each).
PairingPolicy = Literal["first", "open", "closed"]


@dataclass
class BleConfig:
    # Send events to a phone or gateway over Bluetooth LE (a GATT peripheral; docs/ble.md).
    # Without a controller the run goes on without it (one warning).
    enabled: bool = False
    # The HCI controller as a bumble transport: "hci-socket:0" (the kernel's hci0, which
    # bluetoothd must not hold), "serial:/dev/ttyS2,1000000" (a UART controller), "usb:0".
    transport: str = "hci-socket:0"
    name: str = "fedwear"  # the advertised name
    backlog: int = 64  # events kept while no central listens; the oldest go first
    # Who may pair (subscribing needs an encrypted, paired link): "first" while no central
    # is bonded (trust on first use), "open" any central, "closed" only bonded ones.
    pairing: PairingPolicy = "first"
    bonds_path: str = ""  # empty: ble-bonds.json beside the event log


@dataclass
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    streams: StreamsConfig = field(default_factory=StreamsConfig)
    ring: RingConfig = field(default_factory=RingConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    detectors: DetectorsConfig = field(default_factory=DetectorsConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    ble: BleConfig = field(default_factory=BleConfig)

    def stream_rates(self) -> dict[str, float]:
        """Enabled streams and their rates."""
        return {name: s.rate_hz for name, s in vars(self.streams).items() if s.enabled}

    def event_log_path(self) -> Path:
        return Path(self.events.log_path) if self.events.log_path else state_dir() / "events.jsonl"

    def ble_bonds_path(self) -> Path:
        return Path(self.ble.bonds_path) if self.ble.bonds_path else state_dir() / "ble-bonds.json"


def state_dir() -> Path:
    """Where state that must survive lives: systemd's StateDirectory, else the XDG one."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fedwear"


_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


def _shown(value: Any, limit: int = 80) -> str:
    """A value for an error message: a key given a 1 MB string must not log 1 MB."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _convert(value: Any, hint: Any, key: str) -> Any:
    origin = get_origin(hint)
    if origin is types.UnionType:  # str | list[str]: the first alternative that fits
        for alternative in get_args(hint):
            try:
                return _convert(value, alternative, key)
            except ConfigError:
                continue
        names = " or ".join(_TYPE_NAMES.get(a, "a list") for a in get_args(hint))
        raise ConfigError(f"must be {names}, got {type(value).__name__} {_shown(value)}", key=key)
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            raise ConfigError(
                f"must be one of {', '.join(map(repr, choices))}, got {_shown(value)}", key=key
            )
        return value
    if origin is list:
        (item,) = get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"must be a list, got {type(value).__name__}", key=key)
        return [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"must be a table, got {type(value).__name__}", key=key)
        return _build(hint, value, key)
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value, ok = float(value), True
        except OverflowError:  # TOML integers are unbounded; floats are not
            raise ConfigError(
                "must be a number, got an integer too large for one", key=key
            ) from None
    if not ok:
        raise ConfigError(
            f"must be {_TYPE_NAMES.get(hint, hint)}, got {type(value).__name__} {_shown(value)}",
            key=key,
            code="type",
        )
    return value


def _build(cls: Any, data: dict[str, Any], prefix: str = "") -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for k in data:
        if k not in known:
            where = f"{prefix}.{k}" if prefix else k
            raise ConfigError(
                f"unknown key (known here: {', '.join(sorted(known))})",
                key=where,
                code="unknown-key",
            )
    kwargs = {k: _convert(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in data.items()}
    return cls(**kwargs)


def _positive(value: float, key: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"must be a positive number, got {value}", key=key)


def validate(config: Config) -> Config:
    """Checks that span keys or ranges; types were checked while building."""
    for name, stream in vars(config.streams).items():
        _positive(stream.rate_hz, f"streams.{name}.rate_hz")
        if stream.rate_hz > 100_000:
            raise ConfigError("above 100 kHz", key=f"streams.{name}.rate_hz")
        if stream.rate_hz < 0.01:  # nanosecond timestamps of slower streams overflow soon
            raise ConfigError("below 0.01 Hz (a sample every 100 s)", key=f"streams.{name}.rate_hz")
    if not config.stream_rates():
        raise ConfigError("every stream is disabled", key="streams")
    _positive(config.ring.seconds, "ring.seconds")
    _positive(config.window.seconds, "window.seconds")
    _positive(config.window.hop_seconds, "window.hop_seconds")
    if config.window.hop_seconds > config.window.seconds:
        raise ConfigError("must not exceed window.seconds", key="window.hop_seconds")
    if config.ring.seconds < 2 * config.window.seconds:
        raise ConfigError("must hold at least two windows (2 x window.seconds)", key="ring.seconds")
    det = config.detectors
    for name in ("flatline", "saturation", "dropout"):
        for i, s in enumerate(getattr(det, name).streams):
            if s not in vars(config.streams):
                raise ConfigError(
                    f"unknown stream {_shown(s)}", key=f"detectors.{name}.streams[{i}]"
                )
    if det.saturation.min_run < 2:
        raise ConfigError("must be at least 2", key="detectors.saturation.min_run")
    if det.flatline.tolerance < 0:
        raise ConfigError("must not be negative", key="detectors.flatline.tolerance")
    _positive(det.dropout.gap_factor, "detectors.dropout.gap_factor")
    _positive(det.silence.seconds, "detectors.silence.seconds")
    hr = det.heart_rate
    if not 0 < hr.min_bpm < hr.max_bpm:
        raise ConfigError("need 0 < min_bpm < max_bpm", key="detectors.heart_rate")
    if not 0 <= hr.hysteresis_bpm < (hr.max_bpm - hr.min_bpm) / 2:
        raise ConfigError(
            "must be between 0 and half the allowed range",
            key="detectors.heart_rate.hysteresis_bpm",
        )
    if not (math.isfinite(hr.clear_s) and hr.clear_s >= 0):
        raise ConfigError(
            f"must be 0 or more seconds, got {hr.clear_s}", key="detectors.heart_rate.clear_s"
        )
    _positive(hr.unexplained_above_bpm, "detectors.heart_rate.unexplained_above_bpm")
    _positive(hr.still_std_g, "detectors.heart_rate.still_std_g")
    _positive(hr.unexplained_hold_s, "detectors.heart_rate.unexplained_hold_s")
    if not (math.isfinite(hr.unexplained_settle_s) and hr.unexplained_settle_s >= 0):
        raise ConfigError(
            f"must be 0 or more seconds, got {hr.unexplained_settle_s}",
            key="detectors.heart_rate.unexplained_settle_s",
        )
    iio = config.source.iio
    devices = [iio.device] if isinstance(iio.device, str) else iio.device
    if not devices:
        raise ConfigError("must name at least one device", key="source.iio.device")
    for device in devices:  # joined to sysfs_dir and dev_dir: a name, not a path
        if device in ("", ".", "..") or "/" in device or "\0" in device:
            raise ConfigError(
                f"must be a device name such as iio:device0, got {_shown(device)}",
                key="source.iio.device",
            )
    rate = iio.device_rate_hz
    if rate != 0 and not 0.01 <= rate <= 100_000:  # NaN fails both
        raise ConfigError(
            f"must be 0 or from 0.01 Hz to 100 kHz, got {rate}", key="source.iio.device_rate_hz"
        )
    for element in iio.elements:  # joined into in_<element>_en
        if not element or not all(c.isalnum() or c == "_" for c in element):
            raise ConfigError(
                f"must be scan element names such as accel_x, got {_shown(element)}",
                key="source.iio.elements",
            )
    if not 1 <= config.source.uart.baudrate <= 20_000_000:
        raise ConfigError("out of range", key="source.uart.baudrate")
    if not 1 <= config.ble.backlog <= 10_000:
        raise ConfigError("must be between 1 and 10000", key="ble.backlog")
    if not 0 < len(config.ble.name.encode()) <= 29:  # a scan response holds 29 bytes of name
        raise ConfigError("must be 1 to 29 bytes of UTF-8", key="ble.name")
    if ":" not in config.ble.transport:
        raise ConfigError(
            "must be a bumble transport such as hci-socket:0 or serial:/dev/ttyS2",
            key="ble.transport",
        )
    return config


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the TOML file (if any), then ``overrides`` (dotted keys)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = read_at_most(path, MAX_CONFIG_BYTES)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}", code="unreadable") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} holds more than {MAX_CONFIG_BYTES} bytes", code="too-large")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        # ValueError: an integer past Python's 4300-digit conversion limit
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}", code="syntax") from None
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise ConfigError(f"{path} nests arrays or tables too deeply", code="syntax") from None
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError("is not a table", key=p)
        node[leaf] = value
    return validate(_build(Config, data))


def to_toml(config: Any, prefix: str = "") -> str:
    """The effective configuration as TOML (for ``fedwear config``)."""
    scalars, tables = [], []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            tables.append(to_toml(value, f"{prefix}{f.name}."))
        else:
            scalars.append(f"{f.name} = {_toml_value(value)}")
    head = [f"[{prefix[:-1]}]"] if prefix and scalars else []
    return "\n".join(head + scalars + ([""] if scalars else []) + tables)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)
