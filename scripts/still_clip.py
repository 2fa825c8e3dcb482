#!/usr/bin/env python3
"""A still photo as a short video, as a webcam would see a still face: slow pan, zoom and roll.

Gives a second identity for tests and the demo from a single photo (make-dataset reads videos):

    python scripts/still_clip.py astronaut.png astronaut.mp4 --frames 90
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np

FPS = 30.0
VIEW = 0.7  # the view's height as a share of the photo's shorter side, at zoom 1
ZOOM = 0.12  # the view breathes in and out by this share
PAN = 0.06  # the view's centre wanders this share of the photo's shorter side
ROLL_DEGREES = 8.0


def view_matrix(
    photo_shape: tuple[int, ...],
    t: float,
    size: tuple[int, int],
    centre: tuple[float, float] = (0.5, 0.5),
) -> np.ndarray:
    """The 2×3 matrix taking photo pixels to frame `t` (0..1 along the clip) of `size` (w, h)."""
    h, w = photo_shape[:2]
    side = min(h, w)
    phase = 2 * math.pi * t
    cx = centre[0] * w + PAN * side * math.sin(phase)
    cy = centre[1] * h + PAN * side * math.sin(2 * phase) / 2
    view_h = VIEW * side * (1 + ZOOM * math.sin(3 * phase))
    scale = size[1] / view_h
    m = cv2.getRotationMatrix2D((cx, cy), ROLL_DEGREES * math.sin(phase + 1.0), scale)
    m[:, 2] += (size[0] / 2 - cx, size[1] / 2 - cy)
    return m


def make_still_clip(
    image_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    frames: int = 90,
    size: tuple[int, int] = (320, 240),
    centre: tuple[float, float] = (0.5, 0.5),
) -> Path:
    """Write `frames` frames of the photo panned, zoomed and rolled to an mp4v video; its path.

    `centre`: where in the photo (shares of width and height) the view circles, e.g. the face.
    Written to a temporary name and renamed, so a half-written clip never looks finished.
    """
    photo = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if photo is None:
        raise ValueError(f"cannot read an image from {image_path}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.stem}.part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    if not writer.isOpened():
        raise ValueError(f"cannot write a video to {out_path}")
    try:
        for i in range(frames):
            m = view_matrix(photo.shape, i / max(frames, 1), size, centre)
            writer.write(
                cv2.warpAffine(photo, m, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
            )
    finally:
        writer.release()
    os.replace(tmp, out_path)
    return out_path


def _pair(text: str, kind: type = float) -> tuple:
    try:
        a, b = (kind(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers as A,B, not {text!r}") from None
    return a, b


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Turn a still photo into a short video: slow pan, zoom and roll.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("image", help="the photo (PNG or JPEG)")
    p.add_argument("output", help="the video to write (.mp4)")
    p.add_argument("--frames", type=int, default=90, help="frames to write (at 30 fps)")
    p.add_argument(
        "--size", type=lambda s: _pair(s.replace("x", ","), int), default=(320, 240), help="W,H"
    )
    p.add_argument(
        "--centre",
        type=_pair,
        default=(0.5, 0.5),
        help="where the view circles, as shares of the photo's width and height (X,Y)",
    )
    args = p.parse_args(argv)
    if args.frames < 1:
        p.error("--frames must be at least 1")
    try:
        path = make_still_clip(args.image, args.output, args.frames, args.size, args.centre)
    except ValueError as e:
        print(f"still_clip: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.frames} frames in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
