"""One stream from several devices: the others' samples at the first device's times.

Many IMUs show their accelerometer and gyroscope as two IIO devices (ST's LSM6DS*,
HID sensor hubs), each with its own buffer and timestamps, while a detector needs one
frame per instant. The first device sets the instants; each other device's channels are
interpolated linearly between its two samples around each instant. All stamps come from
one clock (boot time), so no offset is estimated.

Nothing is made up: an instant is given out only once every device has a sample at or
after it, instants before a device's first sample are dropped, and where a device's two
neighbouring samples lie more than ``max_gap_ns`` apart its channels are NaN (the
dropout rule reports them) rather than a line drawn across the hole.
"""

from __future__ import annotations

__all__ = ["TimeAligner"]

import numpy as np


class TimeAligner:
    """Collects each device's frames; ``take`` gives the frames every device covers."""

    def __init__(self, widths: list[int], max_gap_ns: int, limit: int) -> None:
        self.widths = widths
        self.max_gap_ns = max_gap_ns
        self.limit = limit  # frames kept per device while another lags; then the oldest go
        self._t = [np.empty(0, np.int64) for _ in widths]
        self._v = [np.empty((0, w), np.float32) for w in widths]
        self.dropped = 0  # first-device frames no other device could be aligned with

    def add(self, device: int, t: np.ndarray, v: np.ndarray) -> None:
        if len(t) == 0:
            return
        t_all = np.concatenate([self._t[device], t.astype(np.int64)])
        v_all = np.concatenate([self._v[device], v.astype(np.float32).reshape(len(t), -1)])
        if len(t_all) > self.limit:
            if device == 0:
                self.dropped += len(t_all) - self.limit
            t_all, v_all = t_all[-self.limit :], v_all[-self.limit :]
        self._t[device], self._v[device] = t_all, v_all

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (n,) and values (n, sum of widths) ready to go out, oldest first."""
        t0, v0 = self._t[0], self._v[0]
        others = range(1, len(self.widths))
        empty = (np.empty(0, np.int64), np.empty((0, sum(self.widths)), np.float32))
        if len(t0) == 0 or any(len(self._t[k]) == 0 for k in others):
            return empty
        first = max(int(self._t[k][0]) for k in others)
        last = min(int(self._t[k][-1]) for k in others)
        early = int(np.searchsorted(t0, first, side="left"))
        ready = int(np.searchsorted(t0, last, side="right"))
        self.dropped += early
        if ready <= early:
            self._t[0], self._v[0] = t0[early:], v0[early:]
            return empty
        t_out = t0[early:ready]
        columns = [v0[early:ready]]
        for k in others:
            tk, vk = self._t[k], self._v[k]
            # tk[after - 1] <= t < tk[after]; every instant lies within tk's span
            after = np.searchsorted(tk, t_out, side="right")
            exact = tk[after - 1] == t_out
            span = tk[np.minimum(after, len(tk) - 1)] - tk[after - 1]
            gap = ~exact & (span > self.max_gap_ns)
            values = np.column_stack([np.interp(t_out, tk, vk[:, c]) for c in range(vk.shape[1])])
            values[gap] = np.nan
            columns.append(values.astype(np.float32))
            # keep the last sample at or before the newest instant: the next one's left
            keep = max(int(np.searchsorted(tk, t_out[-1], side="right")) - 1, 0)
            self._t[k], self._v[k] = tk[keep:], vk[keep:]
        self._t[0], self._v[0] = t0[ready:], v0[ready:]
        return t_out, np.hstack(columns)
