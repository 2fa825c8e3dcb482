"""Piecewise-affine warps between two sets of 68 points, and soft masks from a face's hull.

A triangulation of the points (plus anchors on the image border, which stay put) is computed once
for a mean face and reused for every warp, as active appearance models do: each triangle of the
destination takes its pixels from the same triangle of the source, so a photo of the target with
one expression is moved onto another set of points while the background stays where it was.
Numpy and OpenCV only, so the trainer (gan/) and the app share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BORDER_ANCHORS = 4  # anchors per image side, corners included once


def border_anchors(size: int, per_side: int = BORDER_ANCHORS) -> np.ndarray:
    """Points along the border of a size × size image, a little outside it, so every pixel is in
    some triangle; they map to themselves."""
    lo, hi = -1.0, size + 0.0
    ticks = np.linspace(lo, hi, per_side + 1)[:-1]
    top = np.stack([ticks, np.full_like(ticks, lo)], 1)
    right = np.stack([np.full_like(ticks, hi), ticks], 1)
    bottom = np.stack([hi + lo - ticks, np.full_like(ticks, hi)], 1)
    left = np.stack([np.full_like(ticks, lo), hi + lo - ticks], 1)
    return np.concatenate([top, right, bottom, left]).astype(np.float32)


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (T, 3) of vertex indices into `points` (N, 2)."""
    points = np.asarray(points, np.float32)
    lo = points.min(axis=0) - 10
    hi = points.max(axis=0) + 10
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    for x, y in points:
        subdiv.insert((float(x), float(y)))
    triangles = []
    for t in subdiv.getTriangleList().reshape(-1, 3, 2):
        d = np.linalg.norm(points[None, :, :] - t[:, None, :], axis=-1)  # (3, N)
        index = d.argmin(axis=1)
        if d[np.arange(3), index].max() < 1e-3 and len(set(index.tolist())) == 3:
            triangles.append(index)
    return np.asarray(triangles, np.int32)


@dataclass(frozen=True)
class PiecewiseAffine:
    """Warps size × size images between sets of 68 points with one fixed triangulation."""

    size: int
    triangles: np.ndarray  # (T, 3) indices into the 68 points followed by the border anchors

    @classmethod
    def for_shape(cls, shape: np.ndarray, size: int) -> PiecewiseAffine:
        """The triangulation of a mean face `shape` (68, 2) in `size` pixels."""
        vertices = np.concatenate([np.asarray(shape, np.float32), border_anchors(size)])
        return cls(size, triangulate(vertices))

    def vertices(self, points: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(points, np.float32), border_anchors(self.size)])

    def maps(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps: for each pixel of the output (points `dst`), where to read in an image
        whose points are `src`."""
        s = self.size
        vs, vd = self.vertices(src), self.vertices(dst)
        index = np.full((s, s), -1, np.int32)
        # Later triangles win on shared edges; which one does not matter, the maps agree there.
        for k, tri in enumerate(self.triangles):
            cv2.fillConvexPoly(index, np.round(vd[tri] * 16).astype(np.int32), k, cv2.LINE_8, 4)
        affines = np.zeros((len(self.triangles) + 1, 2, 3), np.float32)
        affines[-1] = [[1, 0, 0], [0, 1, 0]]  # -1: a pixel no triangle covered reads itself
        for k, tri in enumerate(self.triangles):
            affines[k] = cv2.getAffineTransform(vd[tri], vs[tri])
        a = affines[index]  # (s, s, 2, 3)
        ys, xs = np.mgrid[0:s, 0:s].astype(np.float32)
        map_x = a[..., 0, 0] * xs + a[..., 0, 1] * ys + a[..., 0, 2]
        map_y = a[..., 1, 0] * xs + a[..., 1, 1] * ys + a[..., 1, 2]
        return map_x, map_y

    def __call__(self, image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """`image` (with its face at points `src`) moved so that its face is at points `dst`."""
        map_x, map_y = self.maps(src, dst)
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def hull_mask(
    points: np.ndarray, size: int, grow: float = 0.08, feather: float = 0.06
) -> np.ndarray:
    """A soft mask (size, size) float32 in [0, 1]: 1 on the face's convex hull, grown by `grow`
    and feathered by `feather` face widths."""
    points = np.asarray(points, np.float32)
    width = float(np.ptp(points[:, 0])) or 1.0
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, np.round(cv2.convexHull(points) * 16).astype(np.int32), 255, 8, 4)
    radius = int(round(grow * width))
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.dilate(mask, kernel)
    sigma = feather * width
    out = mask.astype(np.float32) / 255.0
    if sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    return out
