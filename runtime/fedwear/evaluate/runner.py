"""Runs one recording through the runtime's own pipeline, as `fedwear run` would."""

from __future__ import annotations

__all__ = ["EventCollector", "run_recording"]

from pathlib import Path

from ..config import Config
from ..detect.base import Detector, Event
from ..ingest.replay import ReplaySource
from ..pipeline import RunSummary, run_pipeline


class EventCollector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def event(self, event: Event) -> None:
        self.events.append(event)


def run_recording(
    path: Path, config: Config, detectors: list[Detector], ecg_lead: str | None = None
) -> tuple[list[Event], RunSummary]:
    """Replay ``path`` as fast as possible through the pipeline; its events and summary."""
    source = ReplaySource(path, config.stream_rates(), realtime=False, ecg_lead=ecg_lead)
    sink = EventCollector()
    for d in detectors:
        d.reset()
    summary = run_pipeline(config, source, detectors, [sink])
    return sink.events, summary
