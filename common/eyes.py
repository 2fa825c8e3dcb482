"""The eyes drawn from the landmarks: what a face swap's encoder sees of them with --eyes drawn.

A shared encoder carries what both people's faces show alike. Their open eyes look alike, but a
blink is a few frames of a hundred and each person's lids close differently, so a code learned
from pixels puts one person's shut eye where the other's decoder has never been (franck's own
decoder followed 6 of 6 of his blinks; the woman's, through it, 0 of 3: docs/results.md). Here
each eye, lids and all, is covered by a flat grey ellipse and its six points are filled white
on it: an open eye is a white almond, a shut one a line, the same drawing for anyone. The
almonds alone, white on black, are a fourth channel, which the swap's networks hand to each
decoder past the bottleneck (gan.kinds.swap.models): the code carries the face, the drawing the
lids, and each decoder paints its own person's eyes from it, as pix2pix paints a face from its
landmarks. The gaze goes: the 68 points do not hold the iris.

People's eyes open differently wide, so the lids are drawn as open as the eye is against its
person's open eye (the 90th percentile of their openness: a blinker may have her eyes shut a
third of the time): scaled by OPEN_EYE ÷ that (`eye_scale`), every person's open eye is about
the same almond and every blink the same thinning.
"""

from __future__ import annotations

import cv2
import numpy as np

from common.regions import REGIONS, eye_openness

EYES = (REGIONS["right_eye"], REGIONS["left_eye"])
COVER_FILL = 128  # the cover's grey, the middle of the model's [-1, 1]
EYE_FILL = 255  # the eye's opening, white
CHANNELS = 4  # RGB with the eyes drawn, and the almonds alone
# The cover: an ellipse about each eye's points, along the line between its corners, this many
# eye lengths across and high. It hides the lids of an open eye and stops short of the brow.
COVER_LENGTH, COVER_HEIGHT = 1.5, 0.9
SHIFT = 4  # sub-pixel bits for cv2's drawing
SUPER = 4  # the masks are drawn this many times finer, then averaged down
# Every person's open eye (OPEN_PERCENTILE of their openness) is drawn this open
# (common.regions.eye_openness: the mean lid gap ÷ the outer corners' distance; open eyes read
# 0.07-0.11; franck's, the woman's and cap12's 90th percentiles 0.110, 0.105, 0.089), and no lid
# further from the line between the corners than MAX_LID eye lengths, inside the cover.
OPEN_EYE = 0.1
OPEN_PERCENTILE = 90
MAX_LID = 0.4
# An eye opened wider than its person's open eye is drawn at most this much wider: wider than
# anything the target's decoder saw, it drew franck's eyes narrower, not wider (cap12's widened
# eyes, docs/results.md).
WIDEST = 1.1


def eye_scale(points: np.ndarray) -> float:
    """What a person's lids are scaled by to be drawn: OPEN_EYE ÷ the OPEN_PERCENTILE of their
    faces' openness (`points` (N, 68, 2)); 1.0 without faces or open eyes."""
    points = np.asarray(points, np.float64).reshape(-1, 68, 2)
    if len(points) == 0:
        return 1.0
    open_eye = float(np.percentile(eye_openness(points), OPEN_PERCENTILE))
    return OPEN_EYE / open_eye if open_eye > 1e-3 else 1.0


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * (1 << SHIFT)).astype(np.int32)


def draw_eye(cover: np.ndarray, almond: np.ndarray, eye: np.ndarray, scale: float = 1.0) -> None:
    """One eye's cover and opening, filled 255 on the one-channel masks `cover` and `almond`
    (drawn SUPER times finer than the eye's six points, image pixels), in place; the lids'
    distances from the line between the corners times `scale`."""
    outer, inner = eye[0], eye[3]
    length = float(np.hypot(*(inner - outer)))
    if length < 1e-3:
        return
    along = (inner - outer) / length
    across = np.array([-along[1], along[0]])
    offsets = (eye - outer) @ np.stack([along, across], 1)  # (6, 2): along, across the line
    offsets[:, 1] = np.clip(offsets[:, 1] * scale, -MAX_LID * length, MAX_LID * length)
    eye = outer + offsets[:, :1] * along + offsets[:, 1:] * across
    # Pixel centres: a point at (x, y) is at (x + 0.5) · SUPER - 0.5 on the fine canvas.
    fine = lambda q: _fixed((np.asarray(q) + 0.5) * SUPER - 0.5)  # noqa: E731
    centre = fine((outer + inner) / 2)
    axes = _fixed(np.array([COVER_LENGTH, COVER_HEIGHT]) * length * SUPER / 2)
    angle = float(np.degrees(np.arctan2(along[1], along[0])))
    cv2.ellipse(
        cover, (int(centre[0]), int(centre[1])), (int(axes[0]), int(axes[1])), angle, 0, 360,
        255, -1, cv2.LINE_8, SHIFT,
    )  # fmt: skip
    cv2.fillPoly(almond, [fine(eye)], 255, cv2.LINE_8, SHIFT)


def draw_eyes(images: np.ndarray, points: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """uint8 RGB faces `images` ((S, S, 3) or (N, S, S, 3)) as the encoder takes them, (S, S, 4)
    or (N, S, S, 4) uint8: the faces with both eyes covered and drawn from their 68 `points`
    ((68, 2) or (N, 68, 2), the images' pixels), then the eyes' openings alone; the lids'
    distance from the corners' line times `scale` (their person's eye_scale). Without `points`
    (None): the faces as they are and no openings."""
    images = np.asarray(images)
    one = images.ndim == 3
    batch = images[None] if one else images
    out = np.zeros((*batch.shape[:3], CHANNELS), np.uint8)
    out[..., :3] = batch
    if points is not None:
        pts = np.asarray(points, np.float64)
        pts = pts[None] if pts.ndim == 2 else pts
        if len(out) != len(pts):
            raise ValueError(f"{len(out)} images but {len(pts)} sets of points")
        # Each face's lids at most WIDEST times the open eye's openness.
        with np.errstate(invalid="ignore", divide="ignore"):  # points in a heap: no eyes to draw
            drawn = np.nan_to_num(eye_openness(pts) * scale, posinf=0.0)
        scales = scale * np.minimum(1.0, WIDEST * OPEN_EYE / np.maximum(drawn, 1e-9))
        h, w = out.shape[1:3]
        for k, p in enumerate(pts):
            cover, almond = np.zeros((2, h * SUPER, w * SUPER), np.uint8)
            for region in EYES:
                draw_eye(cover, almond, p[region.start : region.stop + 1], float(scales[k]))
            # Each mask's share of each pixel (area averaging): a lid a tenth of a pixel lower
            # is a tenth of a pixel's more white.
            c, a = (
                cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)[..., None] / 255.0
                for m in (cover, almond)
            )
            rgb = out[k, ..., :3] * (1 - c) + COVER_FILL * c
            rgb = rgb * (1 - a) + EYE_FILL * a
            out[k, ..., :3] = np.round(rgb).astype(np.uint8)
            out[k, ..., 3] = np.round(a[..., 0] * EYE_FILL).astype(np.uint8)
    return out[0] if one else out
