"""Line drawings of the 68 points: white polylines on black, the generator's input."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from common.regions import REGIONS

# 3 px at 256 px in the reference demos; scaled with the image so every size looks alike.
THICKNESS_AT_256 = 3


@dataclass(frozen=True)
class DrawingParams:
    thickness_at_256: float = THICKNESS_AT_256
    antialiased: bool = True

    def thickness(self, size: int) -> int:
        return max(1, round(self.thickness_at_256 * size / 256))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> DrawingParams:
        return cls(**(d or {}))


def draw_landmarks(
    points: np.ndarray,
    size: int | tuple[int, int],
    params: DrawingParams = DrawingParams(),
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Draw 68 points (x, y in pixels) as white lines on a black RGB image.

    `size` is the side of a square image, or (h, w).
    """
    h, w = (size, size) if isinstance(size, int) else size
    if out is None:
        out = np.zeros((h, w, 3), np.uint8)
    # cv2 draws with sub-pixel precision when given fixed-point coordinates.
    shift = 4
    pts = np.round(np.asarray(points, np.float64) * (1 << shift)).astype(np.int32)
    polylines = [pts[r.indices] for r in REGIONS.values() if not r.closed]
    polygons = [pts[r.indices] for r in REGIONS.values() if r.closed]
    line = cv2.LINE_AA if params.antialiased else cv2.LINE_8
    thickness = params.thickness(min(h, w))
    cv2.polylines(out, polylines, False, (255, 255, 255), thickness, line, shift)
    cv2.polylines(out, polygons, True, (255, 255, 255), thickness, line, shift)
    return out
