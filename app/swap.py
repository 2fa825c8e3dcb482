"""Face-swap mode: the camera's face, aligned, becomes the target's, and goes back into the frame.

A swap bundle (gan.swap_bundle) answers an aligned crop of the user's face with the target's face
in the same pose and expression. Here the crop is cut from the camera frame at the smoothed points,
run through the bundle, colour-matched to the user's skin, and blended back inside the face's
feathered hull (landmarks.blend): outside the face, the frame is the camera's, pixel for pixel.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.pipeline import Frame
from common.errors import InputError
from landmarks import Alignment, align_frame
from landmarks.blend import (
    BlendParams,
    Box,
    crop_outline,
    feathered_mask,
    match_colour,
    paste_face,
    skin_mask,
)

SWAP_KIND = "swap"
DEFAULT_BLEND = BlendParams()


def bundle_kind(bundle: Any) -> str:
    """What a loaded bundle answers: "pix2pix" (a drawing → a face) or "swap" (a face → another)."""
    return str(getattr(bundle, "kind", "pix2pix"))


def is_swap(bundle: Any) -> bool:
    return bundle is not None and bundle_kind(bundle) == SWAP_KIND


def require_swap(bundle: Any, what: str = "this") -> None:
    """InputError, one line, unless `bundle` is a swap bundle: for code that only swaps."""
    if not is_swap(bundle):
        where = getattr(bundle, "path", "the model")
        raise InputError(
            f"{where} is a {bundle_kind(bundle)} bundle, and {what} needs a swap bundle "
            "(made by train-swap)"
        )


def check_swap_path(path: str | Path) -> None:
    """InputError, one line, unless the bundle at `path` says it is a swap bundle: read from
    bundle.json alone, before any model loads."""
    from gan.bundle import read_bundle_info, require_kind

    require_kind(read_bundle_info(path), SWAP_KIND, path)


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
    face = bundle(crop)
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
    otherwise the camera as it is (the generator stage holds its last output, which for a swap
    is a stale camera frame)."""
    if frame.face and frame.generated is not None:
        return frame.generated
    return camera_rgb(frame)
