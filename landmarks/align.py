"""Alignment: one similarity transform (rotation, scale, shift) takes a frame to the crop.

The geometry (template, transform, crop matrices) is common.alignment's, the same that training
cuts its crops with; here it meets the frames.
"""

from __future__ import annotations

import numpy as np

from common.alignment import (
    MODES,
    STABLE_POINTS,
    TEMPLATE,
    Alignment,
    similarity_transform,
    transform_points,
    warp_crop,
)

__all__ = [
    "MODES",
    "STABLE_POINTS",
    "TEMPLATE",
    "Alignment",
    "align_frame",
    "similarity_transform",
    "transform_points",
]

DEFAULT = Alignment()  # make-dataset's crop


def align_frame(
    frame: np.ndarray, points: np.ndarray | None, size: int, alignment: Alignment = DEFAULT
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Crop a frame as `alignment` says: the crop, its matrix and the points in crop pixels."""
    m = alignment.matrix(points, size, frame.shape)
    crop = warp_crop(frame, m, size)
    return crop, m, None if points is None else transform_points(points, m)
