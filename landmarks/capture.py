"""Record a webcam into a video file, with prompts that make the footage a good face dataset.

A face-swap dataset needs the person talking, turning, looking up and down and pulling faces; the
prompts cycle through those while the seconds run down. The file is written under a temporary name
and renamed when complete, so an interrupted recording leaves nothing behind.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# FFmpeg's own log lines would follow our one-line errors; silence them before cv2 loads.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from common.errors import InputError  # noqa: E402
from common.files import atomic_path  # noqa: E402

log = logging.getLogger(__name__)

CAPTURE = "capture.mp4"  # the recording's name inside a dataset folder
DEFAULT_SECONDS = 60.0
PROMPTS = (
    "talk, as in a video call",
    "turn your head slowly left and right",
    "look up and down",
    "smile, raise your eyebrows, blink",
)
# Each prompt's turn; a recording shorter than four turns gives each prompt an equal share.
PROMPT_SECONDS = 5.0
FOURCC = "mp4v"
FALLBACK_FPS = 30.0  # when the camera does not say, or says something implausible

Opener = Callable[[int], Any]  # camera index -> a cv2.VideoCapture-like object
OnCue = Callable[[int, str], None]  # (whole seconds left, what to do now)


@dataclass
class Recording:
    """What record_camera wrote: `frames` frames over `seconds`, and whether the camera gave out."""

    path: Path
    frames: int
    seconds: float
    fps: float
    size: tuple[int, int]  # width, height
    ended_early: bool = False


def prompt_at(elapsed: float, seconds: float) -> str:
    """What to do `elapsed` seconds into a recording of `seconds`: the prompts in turn."""
    turn = min(PROMPT_SECONDS, seconds / len(PROMPTS))
    if turn <= 0:
        return PROMPTS[0]
    return PROMPTS[int(max(0.0, elapsed) // turn) % len(PROMPTS)]


def seconds_left(elapsed: float, seconds: float) -> int:
    """Whole seconds left, rounded up: a countdown that shows 1 until the very end."""
    return math.ceil(max(0.0, seconds - elapsed))


def cue(elapsed: float, seconds: float) -> str:
    """One line for a person being recorded: the countdown and what to do now."""
    return f"{seconds_left(elapsed, seconds)} s left: {prompt_at(elapsed, seconds)}"


def _even(frame: np.ndarray) -> np.ndarray:
    """Cropped to even sides, which mp4 encoders want (one row or column at most)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def _read(cap: Any) -> np.ndarray | None:
    try:
        ok, frame = cap.read()
    except Exception:  # an unplugged device can raise from the driver instead of returning False
        return None
    return frame if ok and frame is not None else None


def _open(index: int, opener: Opener) -> Any:
    # OpenCV warns on stderr for each backend that fails to open a missing camera; our one-line
    # error says it, so its warnings are held back for the attempt.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        cap = opener(index)
    except Exception as e:  # a driver error is one more way for a camera to be missing
        log.debug("camera %d: open failed: %s", index, e)
        cap = None
    finally:
        cv2.utils.logging.setLogLevel(level)
    if cap is None or not cap.isOpened():
        if cap is not None:
            cap.release()
        raise InputError(f"camera {index} did not open")
    return cap


def record_camera(
    path: str | os.PathLike[str],
    index: int = 0,
    seconds: float = DEFAULT_SECONDS,
    opener: Opener = cv2.VideoCapture,
    on_cue: OnCue | None = None,
) -> Recording:
    """Record camera `index` for `seconds` into `path` (an mp4), calling `on_cue` at each prompt.

    Raises InputError when the camera does not open or gives no picture, or the file cannot be
    written. A camera that stops mid-way ends the recording early with what it gave. On any
    exception (Ctrl-C included) the partial file is removed and `path` is left as it was.
    """
    path = Path(path)
    cap = _open(index, opener)
    try:
        frame = _read(cap)
        if frame is None:
            raise InputError(f"camera {index} opened but gave no picture")
        frame = _even(frame)
        size = (frame.shape[1], frame.shape[0])
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = fps if 1.0 <= fps <= 240.0 else FALLBACK_FPS
        log.info(
            "recording %.0f s from camera %d (%d×%d) into %s; Ctrl-C cancels",
            seconds,
            index,
            *size,
            path,
        )
        with atomic_path(path) as tmp:
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), fps, size)
            if not writer.isOpened():
                raise InputError(f"cannot write {path}: no {FOURCC} encoder")
            try:
                frames, elapsed, ended_early = _record(cap, writer, frame, seconds, on_cue)
            finally:
                writer.release()
    finally:
        cap.release()
    if ended_early:
        log.warning("camera %d stopped after %.1f s; keeping %d frames", index, elapsed, frames)
    return Recording(path, frames, elapsed, fps, size, ended_early)


def _record(
    cap: Any, writer: Any, frame: np.ndarray, seconds: float, on_cue: OnCue | None
) -> tuple[int, float, bool]:
    """Write frames from `frame` on until `seconds` have passed: (frames, seconds, ended early)."""
    size = (frame.shape[1], frame.shape[0])
    frames, shown = 0, None
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        prompt = prompt_at(elapsed, seconds)
        if on_cue is not None and prompt != shown:
            on_cue(seconds_left(elapsed, seconds), prompt)
            shown = prompt
        if (frame.shape[1], frame.shape[0]) != size:  # the camera changed mode mid-way
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        writer.write(np.ascontiguousarray(frame))
        frames += 1
        next_frame = _read(cap)
        if next_frame is None:
            return frames, time.monotonic() - start, True
        frame = _even(next_frame)
    return frames, elapsed, False


def capture_for_dataset(
    output: str,
    index: int,
    seconds: float = DEFAULT_SECONDS,
    opener: Opener = cv2.VideoCapture,
    on_cue: OnCue | None = None,
) -> tuple[str, Recording | None]:
    """The recording inside dataset folder `output`: made now, or the one an earlier run left.

    Returns its path and the Recording (None when an earlier one was reused). A folder made for
    a recording that failed or was interrupted is removed again.
    """
    path = os.path.join(output, CAPTURE)
    if os.path.isfile(path):
        return path, None
    made = not os.path.exists(output)
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as e:
        raise InputError(f"{output}: cannot write there ({e.strerror or e})") from None
    try:
        recording = record_camera(path, index, seconds, opener, on_cue)
    except BaseException:
        if made and not os.listdir(output):
            os.rmdir(output)
        raise
    return path, recording
