"""Detectors: turn windows of frames into events."""

from .base import Detector, Event, Window
from .rules import build_rule_detectors

__all__ = ["Detector", "Event", "Window", "build_rule_detectors"]
