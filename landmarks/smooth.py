"""One Euro filter (Casiez et al. 2012) for landmark points: steady when still, quick in motion."""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff_hz: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


def _alpha_array(cutoff_hz: np.ndarray, dt: float) -> np.ndarray:
    return 1.0 / (1.0 + 1.0 / (2 * np.pi * cutoff_hz * dt))


class OneEuroFilter:
    """Causal low-pass whose cutoff rises with speed, applied to an array of any shape.

    `min_cutoff` (Hz) sets how much jitter is removed at rest; `beta` how fast the cutoff opens
    when the points move. A jump larger than `reset_distance` (in the points' units, mean over
    points) restarts the filter, so a new face or a cut does not glide across the frame.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.05,
        d_cutoff: float = 1.0,
        reset_distance: float | None = None,
    ) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset_distance = reset_distance
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample `x` taken at time `t` seconds; returns the smoothed value."""
        x = np.asarray(x, np.float64)
        if self._x is not None and self.reset_distance is not None:
            jump = np.linalg.norm((x - self._x).reshape(-1, x.shape[-1]), axis=-1).mean()
            if jump > self.reset_distance:
                self.reset()
        if self._x is None or self._dx is None or self._t is None:
            self._x, self._dx, self._t = x, np.zeros_like(x), t
            return x.copy()
        if t <= self._t:  # the same instant again: nothing new to learn from
            return self._x.copy()
        dt = t - self._t
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = a_d * (x - self._x) / dt + (1 - a_d) * self._dx
        # Each point opens its own cutoff: lips moving must not be smoothed like a still jaw.
        speed = np.linalg.norm(self._dx, axis=-1, keepdims=True) if x.ndim > 1 else np.abs(self._dx)
        a = _alpha_array(self.min_cutoff + self.beta * speed, dt)
        self._x = a * x + (1 - a) * self._x
        self._t = t
        return self._x.copy()
