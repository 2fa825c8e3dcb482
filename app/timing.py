"""Rolling timings: per-stage milliseconds, latency and frame rate over the last few seconds."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

WINDOW = 120  # samples kept per statistic: about four seconds at camera rate


class Rolling:
    """The last `window` samples of one quantity, with mean, p50 and p95; safe across threads."""

    def __init__(self, window: int = WINDOW) -> None:
        self._values: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, value: float) -> None:
        with self._lock:
            self._values.append(value)
            self.count += 1

    def summary(self) -> dict[str, float]:
        """mean, p50, p95 and last of the window (NaN while empty)."""
        with self._lock:
            values = np.array(self._values, np.float64)
        if not len(values):
            return {
                "mean": float("nan"),
                "p50": float("nan"),
                "p95": float("nan"),
                "last": float("nan"),
            }
        return {
            "mean": float(values.mean()),
            "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95)),
            "last": float(values[-1]),
        }


class RateMeter:
    """Events per second over the last `seconds`, from the events' own timestamps."""

    def __init__(self, seconds: float = 2.0) -> None:
        self.seconds = seconds
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, t: float | None = None) -> None:
        t = time.perf_counter() if t is None else t
        with self._lock:
            self._times.append(t)
            while self._times and self._times[0] < t - self.seconds:
                self._times.popleft()

    def rate(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        with self._lock:
            times = [t for t in self._times if t >= now - self.seconds]
        if len(times) < 2:
            return 0.0
        # Count intervals, not events: n frames span n-1 frame times.
        span = max(now - times[0], times[-1] - times[0])
        return (len(times) - 1) / span if span > 0 else 0.0


class TimedCall:
    """A callable wrapped so that each call's milliseconds are kept in `ms`; its other attributes
    read through (the measuring scripts wrap a stage's part with it)."""

    def __init__(self, wrapped) -> None:
        self.wrapped, self.ms = wrapped, []

    def __call__(self, *args):
        t0 = time.perf_counter()
        out = self.wrapped(*args)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        return out

    def __getattr__(self, name):
        return getattr(self.wrapped, name)
