"""Measures of generated faces, shared by `evaluate` (held-out pairs) and `evaluate --driver`.

The landmark stage and dlib's identity network run on single images (FaceMeasures), and the small
statistics both reports are made of: expression error, correlation, frame-to-frame change.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from common.regions import inter_ocular
from landmarks import FaceTracker
from landmarks.identity import FaceDescriptor

# The HOG detector wants faces of 80 px and up: small outputs are enlarged before they are measured.
MEASURE_SIZE = 256


class FaceMeasures:
    """The landmark stage and the identity network, run on single images."""

    def __init__(self) -> None:
        self.tracker = FaceTracker(upsample=1)
        self.descriptor = FaceDescriptor()

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(points, descriptor) of the face in `rgb`, in `rgb`'s pixels; Nones without a face."""
        scale = MEASURE_SIZE / rgb.shape[0]
        big = (
            cv2.resize(rgb, (MEASURE_SIZE, MEASURE_SIZE), interpolation=cv2.INTER_CUBIC)
            if scale != 1
            else rgb
        )
        # Each image on its own: a track would carry a face into an image without one.
        self.tracker.reset()
        found = self.tracker(cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        if not found.found:
            return None, None
        return found.points / scale, self.descriptor(big, found.points)


def nme(found: np.ndarray, expected: np.ndarray) -> float:
    """Mean point error of `found` against `expected`, ÷ the expected face's eye distance."""
    return float(np.linalg.norm(found - expected, axis=-1).mean() / inter_ocular(expected))


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Their correlation; None with fewer than three values or either one constant."""
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def change(images: list[np.ndarray]) -> float:
    """Mean absolute change from each image to the next (NaN for fewer than two)."""
    if len(images) < 2:
        return math.nan
    stack = np.stack(images).astype(np.float32)
    return float(np.abs(np.diff(stack, axis=0)).mean())


def ratio(a: float | None, b: float | None) -> float | None:
    """a ÷ b; None when either is missing or NaN, or b is zero."""
    return None if a is None or not b or math.isnan(a) or math.isnan(b) else a / b


def mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def finite(value: float) -> float | None:
    """None for NaN: reports say "no figure" rather than carry a NaN into JSON."""
    return None if math.isnan(value) else value
