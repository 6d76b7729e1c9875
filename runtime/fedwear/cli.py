"""The ``fedwear`` command: run the main job, emulate a sensor hub, show the config."""

from __future__ import annotations

__all__ = ["main"]

import argparse
import logging
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import ExitCode, FedwearError
from .service import JournalFormatter, Notifier, under_journal

if TYPE_CHECKING:
    from .infer.engine import QuantizedModel

log = logging.getLogger("fedwear")


def _positive(kind: type[int] | type[float], *, or_zero: bool = False) -> Any:
    """An argparse type: a finite number above zero (``or_zero``: zero too), or a usage
    error naming the value; NaN, infinities and negatives would reach sleeps and loops."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        in_range = value >= 0 if or_zero else value > 0  # False for NaN
        if not (in_range and value < float("inf")):
            bound = "zero or more" if or_zero else "above zero"
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}: {text}")
        return value

    return parse


def _stream_rate(text: str) -> tuple[str, float]:
    """An argparse type: ``STREAM=HZ``, a hub stream and a rate a hub frame can carry
    (its period, in ns, is a uint32: from 0.25 Hz up)."""
    from .ingest.hub_protocol import SENSOR_IDS

    name, sep, rate_text = text.partition("=")
    if not sep or name not in SENSOR_IDS:
        raise argparse.ArgumentTypeError(
            f"expected STREAM=HZ with STREAM one of {', '.join(SENSOR_IDS)}: {text!r}"
        )
    rate = _positive(float)(rate_text)
    if not 0.25 <= rate <= 100_000:
        raise argparse.ArgumentTypeError(f"{name}: from 0.25 Hz to 100 kHz, got {rate_text}")
    return name, rate


_BLE_ADDRESS = re.compile(r"(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}")


def _ble_address(text: str) -> str:
    """An argparse type: six hex bytes with colons, refused here rather than after the
    Bluetooth stack has opened the controller (where bumble said "non-hexadecimal")."""
    if not _BLE_ADDRESS.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"not a Bluetooth address like C3:38:55:1D:AE:8A: {text!r}"
        )
    return text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fedwear", description=__doc__)
    p.add_argument("--version", action="version", version=f"fedwear {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="source -> ring -> windows -> detectors -> events "
        "(default: replay the bundled recording as fast as possible)",
    )
    run.add_argument("--config", type=Path, help="TOML configuration file")
    run.add_argument("--source", choices=["replay", "uart", "iio"], help="source.kind")
    run.add_argument("--path", help="replay: a recording or a folder of recordings")
    run.add_argument("--pace", choices=["asap", "realtime"], help="replay pace")
    run.add_argument("--port", help="uart: serial port (e.g. /dev/ttyS1)")
    run.add_argument(
        "--device",
        action="append",
        help="iio: a device's node or name (iio:device0, accel_3d); "
        "once per device where the stream is spread over several",
    )
    run.add_argument("--event-log", help="append-only event log path")
    run.add_argument("--quiet", action="store_true", help="no events on stdout")
    run.add_argument("--duration", type=_positive(float), help="stop after this many seconds")

    emu = sub.add_parser(
        "hub-emulator",
        help="serve a recording through a pseudo-terminal "
        "in the hub protocol (docs/hub-protocol.md)",
    )
    emu.add_argument("recording", nargs="?", help="recording file (default: bundled)")
    emu.add_argument("--link", type=Path, help="create this symlink to the pty")
    emu.add_argument(
        "--speed",
        type=_positive(float, or_zero=True),
        default=1.0,
        help="pace as a multiple of real time; 0 sends as fast as possible",
    )
    emu.add_argument("--loop", action="store_true", help="start over at the end")
    emu.add_argument(
        "--restart-after",
        type=_positive(float),
        metavar="SECONDS",
        help="restart once after this much of the recording: 0.5 s without frames, then "
        "count and clock from 0 again, as a hub does after a power cycle",
    )
    emu.add_argument(
        "--rate",
        type=_stream_rate,
        action="append",
        default=[],
        metavar="STREAM=HZ",
        help="send STREAM at this rate instead of its configured one, as a hub set to "
        "another rate would (the host resamples it; docs/hub-protocol.md); repeatable",
    )
    emu.add_argument(
        "--settle",
        type=_positive(float, or_zero=True),
        default=0.3,
        help="seconds to wait after the host opens the port before streaming (default 0.3)",
    )
    emu.add_argument(
        "--linger",
        type=_positive(float, or_zero=True),
        default=1.0,
        help="seconds to stay plugged in after the last frame (default 1)",
    )
    emu.add_argument("--config", type=Path, help="TOML configuration (stream rates)")

    ev = sub.add_parser(
        "eval",
        help="figures of a shipped detector on a folder laid out like ../shared/data/<set>/",
    )
    ev.add_argument("detector", choices=["fall", "beats", "ppg-hr", "normal"])
    ev.add_argument("path", type=Path, help="folder of recordings (subjects or records)")
    ev.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    ev.add_argument("--plots", type=Path, metavar="DIR", help="write PNG figures here")
    ev.add_argument("--models", default="", help="models folder (default: the shipped ones)")
    ev.add_argument(
        "--learning-period",
        type=_positive(float, or_zero=True),
        default=0.0,
        metavar="SECONDS",
        help="beats only: leave each record's first SECONDS out of the figures "
        "(AAMI EC57 uses 300); default 0, every beat counts",
    )
    ev.add_argument(
        "--lead",
        metavar="NAME",
        help="beats only: the ECG lead to read, as the records' headers name it (e.g. V1); "
        "default MLII where a record has it, the model's training lead",
    )
    ev.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first recording that cannot be read (exit 30) instead of "
        "skipping it; skipped recordings are listed in the output either way",
    )

    lis = sub.add_parser(
        "listen",
        help="receive a wearable's events over Bluetooth LE and print them (docs/ble.md)",
    )
    lis.add_argument(
        "--transport",
        required=True,
        help="bluez or bluez:hci1 (the host's own Bluetooth, through bluetoothd), or a "
        "controller of our own as a bumble transport: usb:0, serial:/dev/ttyUSB0, hci-socket:0",
    )
    lis.add_argument(
        "--address", type=_ble_address, help="connect to this address instead of scanning"
    )
    lis.add_argument("--count", type=_positive(int), help="stop after this many events")
    lis.add_argument("--timeout", type=_positive(float), help="stop after this many seconds")
    lis.add_argument(
        "--bonds",
        type=Path,
        help="the keys of paired wearables (default: listen-bonds.json in the state "
        "directory; with bluez, BlueZ keeps them)",
    )

    cfg = sub.add_parser("config", help="print the effective configuration as TOML")
    cfg.add_argument("--config", type=Path, help="TOML configuration file")
    return p


class _StopFlag:
    """Set by SIGINT/SIGTERM so the main loop ends cleanly and still prints its summary."""

    def __init__(self) -> None:
        self.set = False
        self.deadline: float | None = None

    def __call__(self) -> bool:
        return self.set or (self.deadline is not None and time.monotonic() >= self.deadline)

    def install(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            self.set = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "source.kind": args.source,
        "source.path": args.path,
        "source.pace": args.pace,
        "source.uart.port": args.port,
        "source.iio.device": args.device[0]
        if args.device and len(args.device) == 1
        else args.device,
        "events.log_path": args.event_log,
    }
    out: dict[str, Any] = {k: v for k, v in pairs.items() if v is not None}
    if args.quiet:
        out["events.stdout"] = False
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .detect import build_rule_detectors
    from .detect.models import build_model_detectors, describe_kernels
    from .events import EventLog, JsonLinesSink
    from .ingest import open_source
    from .pipeline import RunSummary, run_pipeline
    from .progress import ProgressBar

    config = load_config(args.config, _overrides(args))
    stop = _StopFlag()
    stop.install()
    if args.duration is not None:
        stop.deadline = time.monotonic() + args.duration
    source = open_source(config)
    rates = {name: spec.rate_hz for name, spec in source.streams().items()}
    models = config.detectors.models
    loaded: list[QuantizedModel] = []
    try:
        detectors = build_rule_detectors(config, rates) + build_model_detectors(
            models.enabled, models.dir, rates, models.on_error, loaded
        )
    except BaseException:
        source.close()
        raise
    stdout_sink = JsonLinesSink(sys.stdout)
    sinks: list[Any] = [EventLog(config.event_log_path())]
    if config.events.stdout:
        sinks.append(stdout_sink)
    if config.ble.enabled:
        sinks.append(_ble_uplink(config))
    bar = ProgressBar(sys.stderr, "replay" if config.source.kind == "replay" else "run")
    notifier = Notifier()

    def ready() -> None:
        notifier.ready(f"reading {config.source.kind}")
        log.info("running: source %s, events to %s", config.source.kind, config.event_log_path())
        if loaded:
            log.info("%s", describe_kernels(loaded))

    def progress(fraction: float, s: RunSummary) -> None:
        bar.update(fraction, f"{s.events} events")
        notifier.watchdog()  # from the main loop: a hung loop stops the pings

    try:
        summary = run_pipeline(
            config,
            source,
            detectors,
            sinks,
            should_stop=stop,
            on_progress=progress,
            on_ready=ready,
        )
    finally:
        notifier.stopping()
        notifier.close()
        bar.close()
        for sink in sinks:
            sink.close()
    stdout_sink.emit(summary.to_dict())
    by_detector = ", ".join(f"{k} {v}" for k, v in sorted(summary.events_by_detector.items()))
    flagged = ", ".join(f"{k} {v}" for k, v in sorted(summary.flagged_by_detector.items()))
    unscored = f"windows unscored for gaps or non-finite samples ({flagged}), " if flagged else ""
    log.log(
        logging.WARNING if summary.source_lost else logging.INFO,
        f"summary: {summary.samples} samples, {summary.windows} windows, "
        f"{summary.events} events ({by_detector or 'none'}), {unscored}"
        f"{summary.dropped} dropped, "
        f"{summary.lost} lost at the source; {summary.recording_s:.1f} s of data in "
        f"{summary.wall_s:.2f} s ({summary.realtime_factor:.0f}x real time); "
        f"ended: {summary.ended}; events logged to {config.event_log_path()}",
    )
    return ExitCode.SOURCE_LOST if summary.source_lost else ExitCode.OK


def _ble_uplink(config: Any) -> Any:
    """The BLE event sink; it starts in the background and degrades on its own."""
    try:
        from .ble.uplink import EventUplink
    except ImportError as exc:  # bumble missing from the image: run without BLE
        from .events import NullSink

        log.warning("Bluetooth off: %s; running without the BLE uplink", exc)
        return NullSink()
    uplink = EventUplink(
        config.ble.transport,
        name=config.ble.name,
        backlog=config.ble.backlog,
        bonds=config.ble_bonds_path(),
        pairing=config.ble.pairing,
    )
    uplink.start()
    return uplink


# How long a signalled `fedwear listen` may take to disconnect and return by itself.
_LISTEN_GRACE_S = 5.0


def _cmd_listen(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from .config import state_dir
    from .errors import BleError, describe

    async def receive() -> dict[str, int]:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        receiving = asyncio.current_task()
        assert receiving is not None

        def interrupt() -> None:
            # A subscribed central sees `done`, disconnects and returns its counts. One
            # still scanning, connecting or pairing does not look: it is cancelled after
            # a grace (it ignored SIGINT and SIGTERM until its own timeout, or for ever).
            done.set()
            loop.call_later(_LISTEN_GRACE_S, receiving.cancel)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        if args.timeout is not None:
            loop.call_later(args.timeout, done.set)
        received = 0

        def show(message: dict[str, Any]) -> None:
            nonlocal received
            print(json.dumps(message, separators=(",", ":")), flush=True)
            received += 1
            if args.count is not None and received >= args.count:
                done.set()

        try:
            return await session(show, done)
        except asyncio.CancelledError:
            log.info(
                "listen: cut short %g s after the signal (still scanning, connecting or "
                "pairing, or the link did not close)",
                _LISTEN_GRACE_S,
            )
            return {"messages": received, "duplicates": 0, "rejected": 0}

    async def session(
        show: Callable[[dict[str, Any]], None], done: asyncio.Event
    ) -> dict[str, int]:
        scan_s = args.timeout if args.timeout is not None else 30.0
        stack, _, adapter = args.transport.partition(":")
        if stack == "bluez":
            from .ble.bluez import listen_bluez

            return await listen_bluez(
                adapter or None, show, address=args.address, scan_timeout=scan_s, stop=done
            )
        from .ble.listener import listen

        return await listen(
            args.transport,
            show,
            address=args.address,
            scan_timeout=scan_s,
            stop=done,
            bonds=args.bonds or state_dir() / "listen-bonds.json",
        )

    try:
        counts = asyncio.run(receive())
    except Exception as exc:  # whatever the stack raised: one line (the trace with -v)
        log.debug("listen failed", exc_info=True)
        raise BleError(f"{args.transport}: {describe(exc)}", code="link") from None
    log.info(
        "listen: %d events, %d repeats dropped, %d bad messages",
        counts["messages"],
        counts["duplicates"],
        counts["rejected"],
    )
    return ExitCode.OK


def _cmd_hub_emulator(args: argparse.Namespace) -> int:
    from .config import load_config
    from .ingest.emulator import HubEmulator, PtyLink, sleep_unless
    from .ingest.recordings import read_recording
    from .ingest.replay import bundled_recording

    config = load_config(args.config)
    path = Path(args.recording) if args.recording else bundled_recording()
    rates = config.stream_rates()
    unknown = sorted(dict(args.rate).keys() - rates.keys())
    if unknown:
        print(
            f"hub-emulator: --rate: {', '.join(unknown)} not enabled in the config", file=sys.stderr
        )
        return ExitCode.USAGE
    rates |= dict(args.rate)
    emulator = HubEmulator(read_recording(path, rates), restart_after_s=args.restart_after)
    stop = _StopFlag()
    stop.install()
    link = PtyLink(args.link)
    print(
        f"hub-emulator: serving {path.name} on {link.path} ({link.slave_name})",
        file=sys.stderr,
        flush=True,
    )
    sent = 0
    try:
        if link.wait_for_reader(stop):
            print("hub-emulator: the host opened the port", file=sys.stderr, flush=True)
            sleep_unless(args.settle, stop)  # the host configures the port, flushes its input
            if not stop():
                sent = emulator.serve(link, args.speed, loop=args.loop, should_stop=stop)
            sleep_unless(args.linger, stop)  # the host drains what is in flight, then unplug
    finally:
        link.close()
    print(f"hub-emulator: sent {sent} frames", file=sys.stderr)
    return ExitCode.OK


def _cmd_config(args: argparse.Namespace) -> int:
    from .config import load_config, to_toml

    print(to_toml(load_config(args.config)), end="")
    return ExitCode.OK


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from .evaluate.command import evaluate, format_table

    period = args.learning_period
    if period and args.detector != "beats":
        print("fedwear eval: --learning-period is only for beats", file=sys.stderr)
        return ExitCode.USAGE
    if args.lead is not None and args.detector != "beats":
        print("fedwear eval: --lead is only for beats", file=sys.stderr)
        return ExitCode.USAGE
    if args.plots is not None:
        from .evaluate.plots import open_plot_folder, write_plots

        open_plot_folder(args.plots)  # fails now, not after the evaluation
    result = evaluate(args.detector, args.path, args.models, period, args.lead, args.strict)
    if args.plots is not None:
        result["plots"] = [str(p) for p in write_plots(result, args.plots)]
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    else:
        print(format_table(result))
        for p in result.get("plots", []):
            print(f"plot: {p}")
    return ExitCode.OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JournalFormatter("%(message)s")
        if under_journal()
        else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    # bumble logs every HCI step at INFO; its warnings and errors still reach the journal.
    logging.getLogger("bumble").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    commands = {
        "run": _cmd_run,
        "hub-emulator": _cmd_hub_emulator,
        "config": _cmd_config,
        "eval": _cmd_eval,
        "listen": _cmd_listen,
    }
    try:
        return int(commands[args.command](args))
    except FedwearError as exc:
        log.error("%s", exc)
        return int(exc.exit_code)
    except BrokenPipeError:
        return ExitCode.OK  # stdout closed by the reader (e.g. `| head`)


if __name__ == "__main__":
    sys.exit(main())
