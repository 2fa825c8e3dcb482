"""The landmark and generator stages: camera frame → 68 points → the target's drawing → face."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.pipeline import Frame
from landmarks import (
    Alignment,
    DrawingParams,
    FaceTracker,
    OneEuroFilter,
    align_frame,
    draw_landmarks,
    retarget,
    transform_points,
)

log = logging.getLogger(__name__)

DEFAULT_SIZE = 256  # the drawing's size while no model is loaded
NEUTRAL_SECONDS = 1.0  # the driver's neutral face is their mean shape over this long
DEFAULT_SMOOTHING = 0.5


@dataclass(frozen=True)
class ModelSpec:
    """What the landmark stage needs from a bundle: how to crop, draw and whose shape to wear."""

    size: int = DEFAULT_SIZE
    alignment: Alignment = Alignment()
    drawing: DrawingParams = DrawingParams()
    reference_shape: np.ndarray | None = None

    @classmethod
    def from_bundle(cls, bundle: Any) -> ModelSpec:
        ref = bundle.reference_shape
        return cls(
            int(bundle.size),
            Alignment.from_dict(bundle.alignment),
            DrawingParams.from_dict(bundle.drawing),
            None if ref is None else np.asarray(ref, np.float32).reshape(68, 2),
        )


def smoothing_filter(strength: float) -> OneEuroFilter | None:
    """A One Euro filter for a smoothing strength in [0, 1] (0: none).

    Strength maps onto the rest cutoff on a log scale, 10 Hz (barely any) down to 0.1 Hz (heavy);
    beta keeps fast motion responsive at every strength.
    """
    strength = float(np.clip(strength, 0.0, 1.0))
    if strength <= 0:
        return None
    return OneEuroFilter(min_cutoff=10 ** (1 - 2 * strength), beta=0.05)


class FaceStage:
    """FaceTracker → One Euro smoothing → alignment → retargeting → drawing, as the bundle says.

    Without a face the last drawing is held and `frame.face` is False. The driver's neutral shape is
    the mean of their aligned points over the first second with a face, or over the second after
    `calibrate()`. `retarget=False`: self-reenactment, the driver's own aligned points are drawn.
    """

    def __init__(
        self,
        spec: ModelSpec | None = None,
        smoothing: float = DEFAULT_SMOOTHING,
        retarget: bool = True,
        tracker: FaceTracker | None = None,
    ) -> None:
        self.tracker = tracker or FaceTracker()
        self.retarget = retarget
        self._spec = spec or ModelSpec()
        self._pending_spec: ModelSpec | None = None
        self._smoothing = smoothing
        self._filter = smoothing_filter(smoothing)
        self._lock = threading.Lock()  # settings change from the UI thread, frames run in a worker
        self._neutral: np.ndarray | None = None
        self._collecting = True
        self._neutral_sum: np.ndarray | None = None
        self._neutral_n = 0
        self._neutral_start: float | None = None
        self._last_drawing: np.ndarray | None = None

    # -- settings, safe to change from any thread while frames flow ---------------------------

    @property
    def spec(self) -> ModelSpec:
        return self._pending_spec or self._spec

    def set_spec(self, spec: ModelSpec) -> None:
        """Use another model's crop, drawing and reference shape from the next frame on."""
        with self._lock:
            self._pending_spec = spec

    @property
    def smoothing(self) -> float:
        return self._smoothing

    def set_smoothing(self, strength: float) -> None:
        with self._lock:
            self._smoothing = float(np.clip(strength, 0.0, 1.0))
            self._filter = smoothing_filter(self._smoothing)

    def calibrate(self) -> None:
        """Take the driver's neutral face again, from the next second of frames with a face."""
        with self._lock:
            self._collecting = True
            self._neutral_sum, self._neutral_n, self._neutral_start = None, 0, None

    @property
    def calibrating(self) -> bool:
        """Still taking the driver's neutral face (only when retargeting onto a reference shape)."""
        return self._collecting and self.retarget and self.spec.reference_shape is not None

    # -- the stage ------------------------------------------------------------------------------

    def __call__(self, frame: Frame, t: float | None = None) -> Frame:
        """Fill in frame.points, .drawing and .face; `t` (seconds) defaults to the capture time."""
        with self._lock:
            if self._pending_spec is not None:
                self._spec, self._pending_spec = self._pending_spec, None
                self._last_drawing = None
            spec, smoother = self._spec, self._filter
        t = frame.captured if t is None else t
        points = self.tracker(frame.image).points
        if points is None:
            if smoother is not None:
                smoother.reset()  # the next face may be somewhere else entirely: no glide
            frame.face, frame.drawing = False, self._last_drawing
            return frame
        if smoother is not None:
            # A jump of a quarter face width is a new face or a cut, not motion to smooth.
            smoother.reset_distance = 0.25 * float(np.ptp(points[:, 0]))
            points = smoother(points, t).astype(np.float32)
        frame.points = points
        matrix = spec.alignment.matrix(points, spec.size, frame.image.shape)
        aligned = transform_points(points, matrix)
        drawn = self._retargeted(aligned, spec, t)
        frame.drawing = draw_landmarks(drawn, spec.size, spec.drawing)
        frame.face = True
        self._last_drawing = frame.drawing
        return frame

    def _retargeted(self, aligned: np.ndarray, spec: ModelSpec, t: float) -> np.ndarray:
        if not self.retarget or spec.reference_shape is None:
            return aligned
        with self._lock:
            if self._collecting:
                if self._neutral_start is None:
                    self._neutral_start = t
                if t - self._neutral_start <= NEUTRAL_SECONDS:
                    self._neutral_sum = aligned.astype(np.float64) + (
                        0.0 if self._neutral_sum is None else self._neutral_sum
                    )
                    self._neutral_n += 1
                    # Until the second is over, the mean so far is the best neutral there is.
                    self._neutral = (self._neutral_sum / self._neutral_n).astype(np.float32)
                else:
                    self._collecting = False
                    log.info("driver's neutral face: the mean of %d frames", self._neutral_n)
            neutral = self._neutral
        return retarget(aligned, neutral, spec.reference_shape)

    def crop(self, frame: Frame) -> np.ndarray | None:
        """The camera frame cropped the way the model sees faces (RGB), for side-by-side views."""
        if frame.points is None and self._spec.alignment.mode != "frame":
            return None
        crop, _, _ = align_frame(
            frame.image[..., ::-1], frame.points, self._spec.size, self._spec.alignment
        )
        return crop


class GeneratorStage:
    """The model bundle on the drawing. Without a face (or a model) the last face is held."""

    def __init__(self, bundle: Any = None) -> None:
        self._bundle = bundle
        self._last: np.ndarray | None = None

    @property
    def bundle(self) -> Any:
        return self._bundle

    def set_bundle(self, bundle: Any) -> None:
        self._bundle = bundle  # one reference swap: the worker sees the old model or the new
        self._last = None

    def __call__(self, frame: Frame) -> Frame:
        bundle = self._bundle
        drawing = frame.drawing
        if bundle is None or drawing is None or drawing.shape[0] != bundle.size:
            # A drawing made for the previous model is the wrong size for the new one: skip it.
            frame.generated = self._last if bundle is not None else None
            return frame
        if frame.face or self._last is None:
            self._last = bundle(drawing)
        frame.generated = self._last
        return frame
