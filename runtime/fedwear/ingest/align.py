"""One stream at one rate from devices that sample on their own clocks.

Many IMUs show their accelerometer and gyroscope as two IIO devices (ST's LSM6DS*,
HID sensor hubs), each with its own buffer and timestamps, while a detector needs one
frame per instant; and a device may run at a rate the stream does not (an LSM6DS* at
104 Hz for a 100 Hz stream), while the models' windows count samples. So the aligner
gives out frames at a set of instants, each device's channels interpolated linearly
between its two samples around each instant. The instants are:

- the first device's own sample times, where every device runs at the stream's rate
  (its samples pass through untouched);
- a grid at the stream's period (``period_ns``), where a device runs at another rate.

All stamps come from one clock (boot time), so no offset is estimated.

Nothing is made up: an instant is given out only once every device has a sample at or
after it, instants before a device's first sample are dropped, and where a device's two
neighbouring samples lie more than its ``max_gap_ns`` apart its channels are NaN (the
dropout rule reports them) rather than a line drawn across the hole. Where every device
has a hole (a suspend, say), the grid jumps it instead of filling it with NaN frames.
"""

from __future__ import annotations

__all__ = ["TimeAligner"]

from collections.abc import Sequence

import numpy as np

_EMPTY_T = np.empty(0, np.int64)


class TimeAligner:
    """Collects each device's frames; ``take`` gives the frames every device covers."""

    def __init__(
        self,
        widths: Sequence[int],
        max_gaps_ns: Sequence[int],
        limit: int,
        period_ns: int | None = None,
    ) -> None:
        if len(max_gaps_ns) != len(widths):
            raise ValueError("one max gap per device")
        self.widths = list(widths)
        self.max_gaps_ns = list(max_gaps_ns)
        self.limit = limit  # frames kept per device while another lags; then the oldest go
        self.period_ns = period_ns  # None: the first device's instants; else a grid
        self._t = [_EMPTY_T for _ in widths]
        self._v = [np.empty((0, w), np.float32) for w in widths]
        self._next: int | None = None  # the grid's next instant
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
        empty = (_EMPTY_T, np.empty((0, sum(self.widths)), np.float32))
        if any(len(t) == 0 for t in self._t):
            return empty
        if self.period_ns is None:
            return self._take_at_first_device() or empty
        parts = []  # one part per stretch between holes that every device has
        while (part := self._take_on_grid()) is not None:
            parts.append(part)
        if not parts:
            return empty
        return np.concatenate([t for t, _ in parts]), np.vstack([v for _, v in parts])

    def _take_at_first_device(self) -> tuple[np.ndarray, np.ndarray] | None:
        t0, v0 = self._t[0], self._v[0]
        others = range(1, len(self.widths))
        first = max(int(self._t[k][0]) for k in others)
        last = min(int(self._t[k][-1]) for k in others)
        early = int(np.searchsorted(t0, first, side="left"))
        ready = int(np.searchsorted(t0, last, side="right"))
        self.dropped += early
        if ready <= early:
            self._t[0], self._v[0] = t0[early:], v0[early:]
            return None
        t_out = t0[early:ready]
        columns = [v0[early:ready], *(self._values(k, t_out)[0] for k in others)]
        self._t[0], self._v[0] = t0[ready:], v0[ready:]
        self._keep_from(others, int(t_out[-1]))
        return t_out, np.hstack(columns)

    def _take_on_grid(self) -> tuple[np.ndarray, np.ndarray] | None:
        assert self.period_ns is not None
        devices = range(len(self.widths))
        if self._next is None:  # the first instant every device has reached
            self._next = max(int(t[0]) for t in self._t)
            self.dropped += int(np.searchsorted(self._t[0], self._next, side="left"))
        last = min(int(t[-1]) for t in self._t)
        self._jump_common_hole(last)
        if self._next > last:
            return None
        n = min((last - self._next) // self.period_ns + 1, self.limit)
        t_out = self._next + np.arange(n, dtype=np.int64) * self.period_ns
        parts = [self._values(k, t_out) for k in devices]
        # stop before a hole every device has: the next take jumps it
        common = np.ones(n, bool)
        for _, gap in parts:
            common &= gap
        end = int(np.argmax(common)) if common.any() else n
        if end == 0:  # _jump_common_hole leaves none here; were there one, step past it
            self._next += self.period_ns
            return None
        t_out = t_out[:end]
        self._next = int(t_out[-1]) + self.period_ns
        self._keep_from(devices, int(t_out[-1]))
        return t_out, np.hstack([values[:end] for values, _ in parts])

    def _jump_common_hole(self, last: int) -> None:
        """Move the grid past a hole every device has at its next instant (a suspend):
        to the first grid instant at or after the earliest device's return."""
        assert self._next is not None and self.period_ns is not None
        while self._next <= last:
            resumes = []
            for k, tk in enumerate(self._t):
                after = int(np.searchsorted(tk, self._next, side="left"))
                if after == 0 or tk[after] == self._next:
                    return  # on a sample (or not yet started): no hole here
                if tk[after] - tk[after - 1] <= self.max_gaps_ns[k]:
                    return
                resumes.append(int(tk[after]))
            steps = -(-(min(resumes) - self._next) // self.period_ns)
            self._next += steps * self.period_ns

    def _values(self, k: int, instants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Device ``k``'s channels at ``instants`` (all within its span), and where it
        had a hole (those are NaN)."""
        tk, vk = self._t[k], self._v[k]
        # tk[after - 1] <= t < tk[after]
        after = np.searchsorted(tk, instants, side="right")
        exact = tk[after - 1] == instants
        span = tk[np.minimum(after, len(tk) - 1)] - tk[after - 1]
        gap = ~exact & (span > self.max_gaps_ns[k])
        values = np.column_stack([np.interp(instants, tk, vk[:, c]) for c in range(vk.shape[1])])
        values[exact] = vk[after[exact] - 1]  # a sample's own values, even beside a NaN
        values[gap] = np.nan
        return values.astype(np.float32), gap

    def _keep_from(self, devices: range, newest: int) -> None:
        """Keep each device's last sample at or before the newest instant given out: the
        next instant's left neighbour."""
        for k in devices:
            tk = self._t[k]
            keep = max(int(np.searchsorted(tk, newest, side="right")) - 1, 0)
            self._t[k], self._v[k] = tk[keep:], self._v[k][keep:]
