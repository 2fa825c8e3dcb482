"""Who is this face: dlib's face-recognition ResNet, 128-d descriptors (0.6 apart: another one)."""

from __future__ import annotations

from collections.abc import Iterable

import dlib
import numpy as np

from landmarks.track import RECOGNITION_FILE, model_path

SAME_PERSON_DISTANCE = 0.6  # dlib's own threshold
# Photos averaged into a target's descriptor: spread over the video, enough for the mean to
# settle, few enough to cost a second or two on a CPU.
TARGET_PHOTOS = 16


class FaceDescriptor:
    """128-d descriptor of the face whose 68 points are given."""

    def __init__(self) -> None:
        self._net = dlib.face_recognition_model_v1(model_path(RECOGNITION_FILE))

    def __call__(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        lo, hi = points.min(0), points.max(0)
        box = dlib.rectangle(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        shape = dlib.full_object_detection(
            box, [dlib.point(int(round(x)), int(round(y))) for x, y in points]
        )
        return np.asarray(
            self._net.compute_face_descriptor(np.ascontiguousarray(rgb), shape), np.float32
        )


def spread(rows: np.ndarray, count: int = TARGET_PHOTOS) -> np.ndarray:
    """Up to `count` of `rows`, spread evenly from the first to the last."""
    rows = np.asarray(rows)
    if len(rows) == 0:
        return rows
    return rows[np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int)]


def mean_descriptor(faces: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Who a target is: the mean descriptor of their (RGB photo, 68 points) faces."""
    descriptor = FaceDescriptor()
    return np.mean([descriptor(rgb, points) for rgb, points in faces], axis=0).astype(np.float32)
