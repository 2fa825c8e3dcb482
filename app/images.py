"""Pictures for panels: an RGB image scaled to a height, or black where there is none yet."""

from __future__ import annotations

import cv2
import numpy as np


def fit(image: np.ndarray | None, height: int, width: int | None = None) -> np.ndarray:
    """`image` (RGB) scaled to `height` keeping its aspect, or black of height × width when None."""
    if image is None:
        return np.zeros((height, width or height, 3), np.uint8)
    if image.shape[0] == height and (width is None or image.shape[1] == width):
        return image
    w = width or max(1, round(image.shape[1] * height / image.shape[0]))
    interp = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_LINEAR
    return cv2.resize(image, (w, height), interpolation=interp)
