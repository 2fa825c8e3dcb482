"""Who is this face: dlib's face-recognition ResNet, 128-d descriptors (0.6 apart: another one)."""

from __future__ import annotations

import dlib
import numpy as np

from landmarks.track import RECOGNITION_FILE, model_path

SAME_PERSON_DISTANCE = 0.6  # dlib's own threshold


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
