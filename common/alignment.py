"""The face's canonical frame, one for the live crop and for training: the template of stable
points, the similarity transform onto it, and the square crops cut around it.

Units are eye-widths (the distance between the outer eye corners), origin midway between them,
y down. A crop is `crop_scale` eye-widths wide and centred `centre_y` eye-widths below the eyes.
landmarks.align cuts camera frames (and make-dataset's photos) with Alignment.matrix; gan's swap
kind re-cuts a dataset's crops into its own with crop_between, derived from the same
canonical_to_crop: the training crop and the live crop cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

# Points that expression barely moves, so a smile does not shift the crop (dlib's 68-point
# layout, named in common.regions): the right eye's outer and inner corners, the left eye's
# inner and outer corners, the nose tip, the right and left mouth corners.
STABLE_POINTS = np.array([36, 39, 42, 45, 30, 48, 54])
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
        to_crop = canonical_to_crop(self.crop_scale, self.centre_y, size)
        dst = TEMPLATE @ to_crop[:, :2].T + to_crop[:, 2]
        return similarity_transform(np.asarray(points, np.float64)[STABLE_POINTS], dst)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> Alignment:
        return cls(**(d or {}))

    @classmethod
    def of_crop(cls, d: dict | None) -> Alignment:
        """An aligned crop as a manifest or bundle.json records it; what it leaves out (older
        files, other tools' keys) takes the defaults."""
        known = {f.name for f in fields(cls)} - {"mode"}
        return cls(**{k: float(v) for k, v in (d or {}).items() if k in known})


def canonical_to_crop(crop_scale: float, centre_y: float, size: int) -> np.ndarray:
    """The 2×3 matrix from canonical units to the pixels of a `size` crop `crop_scale`
    eye-widths wide, centred `centre_y` below the eyes: a scale and a shift."""
    k = size / crop_scale
    return np.array([[k, 0.0, size / 2], [0.0, k, size / 2 - centre_y * k]], np.float64)


def crop_between(source: Alignment, source_size: int, target: Alignment, size: int) -> np.ndarray:
    """The 2×3 matrix from the pixels of one aligned crop to another's: both are squares on the
    same canonical face, so it is the one crop's canonical_to_crop after the other's inverse."""
    src = canonical_to_crop(source.crop_scale, source.centre_y, source_size)
    dst = canonical_to_crop(target.crop_scale, target.centre_y, size)
    k = dst[0, 0] / src[0, 0]
    return np.array(
        [[k, 0.0, dst[0, 2] - k * src[0, 2]], [0.0, k, dst[1, 2] - k * src[1, 2]]], np.float64
    )


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
    """Apply a 2×3 affine matrix to (..., 2) points."""
    points = np.asarray(points, np.float64)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def warp_crop(
    image: np.ndarray, matrix: np.ndarray, size: int, antialias: bool = False
) -> np.ndarray:
    """The `size` square crop of `image` that `matrix` takes it to (bilinear, edges repeated).

    `antialias`: where the crop shrinks the image, shrink it by area first, so fine detail does
    not alias (training's crops of crops; the live path keeps the plain warp for speed).
    """
    k = math.hypot(matrix[0, 0], matrix[1, 0])
    if antialias and k < 1:
        h, w = image.shape[:2]
        small = cv2.resize(
            image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA
        )
        kx, ky = small.shape[1] / w, small.shape[0] / h
        matrix = matrix @ np.array([[1 / kx, 0, 0], [0, 1 / ky, 0], [0, 0, 1]])
        image = small
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
