"""fedwear: an on-device runtime for Linux wearables.

Sensors go through a C ring buffer into detectors; see docs/architecture.md.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
