"""Alignment: one similarity transform (rotation, scale, shift) takes a frame to the crop."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from landmarks.regions import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NOSE_TIP,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
)

# Stable points and where they sit on the canonical face, in units of the distance between the
# outer eye corners, origin midway between them, y down. Expression barely moves these points,
# so a smile does not shift the crop.
STABLE_POINTS = np.array(
    [
        RIGHT_EYE_OUTER,
        RIGHT_EYE_INNER,
        LEFT_EYE_INNER,
        LEFT_EYE_OUTER,
        NOSE_TIP,
        MOUTH_RIGHT,
        MOUTH_LEFT,
    ]
)
TEMPLATE = np.array(
    [[-0.5, 0.0], [-0.17, 0.0], [0.17, 0.0], [0.5, 0.0], [0.0, 0.5], [-0.28, 0.85], [0.28, 0.85]],
    np.float64,
)
MODES = ("aligned", "frame")


@dataclass(frozen=True)
class Alignment:
    """How a frame becomes the square crop the generator sees.

    `aligned`: the face is rotated, scaled and shifted onto the template; the crop is
    `crop_scale` eye-widths wide, centred `centre_y` eye-widths below the eyes, which keeps
    hair and chin. `frame`: the centre square of the whole frame, as in the reference demos.
    """

    mode: str = "aligned"
    crop_scale: float = 2.6
    centre_y: float = 0.5

    def matrix(
        self, points: np.ndarray | None, size: int, frame_shape: tuple[int, ...]
    ) -> np.ndarray:
        """The 2×3 matrix taking frame pixels to crop pixels."""
        if self.mode == "frame":
            h, w = frame_shape[:2]
            side = min(h, w)
            s = size / side
            return np.array([[s, 0, -s * (w - side) / 2], [0, s, -s * (h - side) / 2]], np.float64)
        if points is None:
            raise ValueError("aligned mode needs the face's points")
        dst = (TEMPLATE - [0.0, self.centre_y]) * (size / self.crop_scale) + size / 2
        return similarity_transform(np.asarray(points, np.float64)[STABLE_POINTS], dst)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> Alignment:
        return cls(**(d or {}))


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift taking src points onto dst (Umeyama 1991)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    # A reflection is never a head pose: flip the last axis if the best fit asks for one.
    fix = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ fix @ vt
    var = (s0**2).sum() / len(src)
    scale = (sig * np.diag(fix)).sum() / var
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine matrix to (N, 2) points."""
    points = np.asarray(points, np.float64)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def align_frame(
    frame: np.ndarray, points: np.ndarray | None, size: int, alignment: Alignment = Alignment()
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Crop a frame as `alignment` says: the crop, its matrix and the points in crop pixels."""
    m = alignment.matrix(points, size, frame.shape)
    crop = cv2.warpAffine(
        frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return crop, m, None if points is None else transform_points(points, m)
