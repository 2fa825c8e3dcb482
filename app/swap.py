"""The face swap's compositing: the camera's face, aligned, becomes the target's, and goes back.

A swap bundle (gan.kinds.swap) answers an aligned crop of the user's face with the target's face
in the same pose and expression. Here the crop is cut from the camera frame at the smoothed points,
run through the bundle, colour-matched to the user's skin, and blended back inside the face's
feathered hull (landmarks.blend): outside the face, the frame is the camera's, pixel for pixel.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from app.pipeline import Frame
from common.errors import InputError
from landmarks import Alignment, FaceTracker, align_frame
from landmarks.blend import (
    BLEND_METHODS,
    MAX_SHARPEN,
    BlendParams,
    Box,
    crop_outline,
    feathered_mask,
    match_colour,
    paste_face,
    sharpen,
    skin_mask,
)

# The swap's face is sharpened by default: see docs/results.md, "The swap: sharp, blinking, a
# third of the cost".
DEFAULT_SHARPEN = 1.0
DEFAULT_BLEND = BlendParams(sharpen=DEFAULT_SHARPEN)
BLEND_FRAMES = 60  # frames time_blend times, each way


def blend_params(method: str = "alpha", sharpen: float = DEFAULT_SHARPEN) -> BlendParams:
    """BlendParams from the command line's --blend and --sharpen; InputError for a bad value."""
    if not 0 <= sharpen <= MAX_SHARPEN:
        raise InputError(f"--sharpen must be between 0 and {MAX_SHARPEN:g}")
    return BlendParams(method=method, sharpen=sharpen)


def add_sharpen_argument(p: Any) -> None:
    """--sharpen, for the commands that run a swap bundle."""
    p.add_argument(
        "--sharpen",
        type=float,
        default=DEFAULT_SHARPEN,
        metavar="AMOUNT",
        help="a swap bundle's face: an unsharp mask of this amount before the blend, which "
        "steepens the edges the decoder drew soft (faceswap's sharpen step; 0: the decoder's face "
        f"as it is; at most {MAX_SHARPEN:g}) (default: %(default)s)",
    )


def bundle_blend(bundle: Any, params: BlendParams = DEFAULT_BLEND) -> BlendParams:
    """`params` over the region `bundle` was trained on: the hull and its forehead band."""
    return dataclasses.replace(params, forehead=float(getattr(bundle, "forehead", 0.0)))


@dataclass
class Swapped:
    """One frame swapped: the picture and what went into it (for measures and benchmarks)."""

    image: np.ndarray  # RGB uint8, the camera frame's size
    crop: np.ndarray | None = None  # the user's aligned face, as the bundle saw it
    face: np.ndarray | None = None  # the bundle's answer, colour-matched
    matrix: np.ndarray | None = None  # frame pixels → crop pixels
    box: Box | None = None  # the part of the frame that was worked on
    alpha: np.ndarray | None = None  # the blend's mask over `box`
    ms: dict[str, float] = field(default_factory=dict)  # align, model, colour, blend


def swap_face(
    bundle: Any,
    rgb: np.ndarray,
    points: np.ndarray | None,
    params: BlendParams = DEFAULT_BLEND,
) -> Swapped:
    """The user's face in `rgb` (the points in its pixels) replaced by the bundle's answer, in
    the region the bundle learned (its forehead band) blended as `params` says."""
    if points is None:
        return Swapped(rgb)
    params = bundle_blend(bundle, params)
    t0 = time.perf_counter()
    alignment = Alignment.from_dict(bundle.alignment)
    crop, matrix, crop_points = align_frame(rgb, points, bundle.size, alignment)
    t1 = time.perf_counter()
    face = sharpen(bundle(crop, crop_points), params.sharpen)
    t2 = time.perf_counter()
    if params.colour and crop_points is not None:
        face = match_colour(face, crop, skin_mask(crop_points, bundle.size), params.max_gain)
    t3 = time.perf_counter()
    image, box, alpha = paste_face(rgb, face, matrix, points, params)
    t4 = time.perf_counter()
    ms = {"align": t1 - t0, "model": t2 - t1, "colour": t3 - t2, "blend": t4 - t3}
    return Swapped(image, crop, face, matrix, box, alpha, {k: v * 1000 for k, v in ms.items()})


def blend_mask(
    bundle: Any,
    points: np.ndarray,
    shape: tuple[int, ...],
    params: BlendParams = DEFAULT_BLEND,
) -> tuple[Box, np.ndarray] | None:
    """The (box, alpha) that swap_face blends through for a face at `points` in a frame of
    `shape`: the seam measures look where the blend was."""
    matrix = Alignment.from_dict(bundle.alignment).matrix(points, bundle.size, shape)
    return feathered_mask(
        points, shape, bundle_blend(bundle, params), crop_outline(matrix, bundle.size)
    )


def camera_rgb(frame: Frame) -> np.ndarray:
    return cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)


def render_swap(bundle: Any, frame: Frame, params: BlendParams = DEFAULT_BLEND) -> np.ndarray:
    """The camera frame (RGB uint8, its own size) with the target's face in place of the user's;
    the camera frame as it is when the frame has no points (no face)."""
    return swap_face(bundle, camera_rgb(frame), frame.points, params).image


def swap_output(frame: Frame) -> np.ndarray:
    """What a swap bundle shows for a frame: the composited frame when this frame had a face;
    otherwise the camera as it is (a held face belongs to where the face was, not here)."""
    if frame.face and frame.composited is not None:
        return frame.composited
    return camera_rgb(frame)


def time_blend(bundle: Any, frames: list[np.ndarray], limit: int = BLEND_FRAMES) -> dict[str, Any]:
    """What a swapped frame costs, part by part (ms: align, model, colour, blend), with the alpha
    blend and with Poisson (cv2.seamlessClone), on the same faces, turn about, on camera-size
    BGR `frames`. A swap bundle's (app.modes picks it); InputError when no frame shows a face."""
    tracker = FaceTracker()
    parts: dict[str, list[dict[str, float]]] = {m: [] for m in BLEND_METHODS}
    for image in frames[:limit]:
        points = tracker(image).points
        if points is None:
            continue
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for method in BLEND_METHODS:
            parts[method].append(swap_face(bundle, rgb, points, BlendParams(method=method)).ms)
    if not parts[BLEND_METHODS[0]]:
        raise InputError("no face in the video's frames: nothing to blend")
    for runs in parts.values():
        if len(runs) > 1:
            del runs[0]  # the first call of each pays for first-time setup
    result: dict[str, Any] = {"frames": len(parts[BLEND_METHODS[0]]), "size": list(frames[0].shape)}
    for method, runs in parts.items():
        result[method] = {k: round(float(np.mean([r[k] for r in runs])), 2) for k in runs[0]}
        result[method]["blend_p95"] = round(float(np.percentile([r["blend"] for r in runs], 95)), 2)
    result["poisson_vs_alpha"] = round(result["poisson"]["blend"] / result["alpha"]["blend"], 2)
    return result
