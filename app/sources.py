"""Frame sources for the pipeline: a camera by index, or a video file standing in for one."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

# FFmpeg's own log lines would follow our one-line errors; silence them before cv2 loads.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import landmarks.video  # noqa: E402
from common.errors import InputError  # noqa: E402

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class Source(Protocol):
    """What the pipeline reads frames from."""

    name: str
    fps: float
    status: (
        str  # one line for the status bar: "camera 0: 640×480", "camera 0 unavailable, retrying"
    )
    finished: bool  # no frame will ever come again (the end of a file that does not loop)
    read_ms: float  # how long the last read took, waits for pacing or retries excluded

    def read(self, stop: threading.Event) -> np.ndarray | None:
        """The next BGR frame; None when there is none now (lost camera) or ever (`finished`)."""
        ...

    def close(self) -> None: ...


class Pacer:
    """Frame times at `fps` like a camera's: waits for the next one, never bursts after a stall."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._start: float | None = None
        self._count = 0

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until the next frame is due; False when `stop` was set meanwhile."""
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        due = self._start + self._count / self.fps
        # Behind by more than a few frames (the machine stalled): restart the clock, as a camera
        # would just deliver its newest frame, instead of bursting through the backlog.
        if now - due > 0.2:
            self._start, self._count, due = now, 0, now
        self._count += 1
        return not (due > now and stop.wait(due - now))


class CameraSource:
    """A camera by index. Unavailable or unplugged: says so in `status` and retries every second.

    `opener` makes the capture object (cv2.VideoCapture by default); tests pass a stand-in.
    """

    def __init__(
        self,
        index: int = 0,
        size: tuple[int, int] | None = None,
        opener: Callable[[int], Any] = cv2.VideoCapture,
    ) -> None:
        self.index = index
        self.name = f"camera {index}"
        self.size = size
        self.fps = 30.0
        self.status = f"{self.name}: opening"
        self.finished = False
        self.read_ms = 0.0
        self.lost = False
        self._opener = opener
        self._cap: Any = None
        self._next_try = 0.0

    def _open(self) -> bool:
        try:
            cap = self._opener(self.index)
            if cap is None or not cap.isOpened():
                if cap is not None:
                    cap.release()
                return False
        except Exception as e:  # a driver error is one more way for a camera to be missing
            log.debug("%s: open failed: %s", self.name, e)
            return False
        if self.size:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self._cap = cap
        return True

    def _lose(self, why: str) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if not self.lost:
            log.warning("%s %s; retrying every %.0f s", self.name, why, RETRY_SECONDS)
        self.lost = True
        self.status = f"{self.name} {why}, retrying…"
        self._next_try = time.monotonic() + RETRY_SECONDS

    def read(self, stop: threading.Event) -> np.ndarray | None:
        if self._cap is None:
            wait = self._next_try - time.monotonic()
            if wait > 0 and stop.wait(wait):
                return None
            if not self._open():
                self._lose("unavailable")
                return None
        t0 = time.perf_counter()
        try:
            ok, frame = self._cap.read()
        except (
            Exception
        ):  # an unplugged device can raise from the driver instead of returning False
            ok, frame = False, None
        self.read_ms = (time.perf_counter() - t0) * 1000
        if not ok or frame is None:
            self._lose("lost")
            return None
        status = f"{self.name}: {frame.shape[1]}×{frame.shape[0]}"
        if status != self.status:
            log.info("%s", status)
        self.lost = False
        self.status = status
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoSource:
    """A video file standing in for a camera.

    `paced`: frames come at the file's rate, as a camera's would (live use); otherwise as fast as
    they are asked for (reenact reads every frame). `loop`: start again at the end.
    `size`: resize every frame to (width, height), e.g. 640×480 for the benchmark.
    `span`: seconds [start, end) of the file to play instead of all of it; `first` is then the
    file's number of the first frame played (frames are read up to it, not sought: a seek in an
    mp4 lands on a keyframe, not on the frame asked for).
    """

    def __init__(
        self,
        path: str,
        loop: bool = False,
        paced: bool = True,
        size: tuple[int, int] | None = None,
        span: tuple[float, float] | None = None,
    ) -> None:
        self.path = str(path)
        self.name = os.path.basename(self.path)
        self.loop = loop
        self.paced = paced
        self.size = size
        self.finished = False
        self.read_ms = 0.0
        self._cap = cv2.VideoCapture(self.path) if os.path.isfile(self.path) else None
        if self._cap is None or not self._cap.isOpened():
            raise InputError(f"cannot open video: {self.path}")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self.frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if size is not None:
            self.frame_shape = (size[1], size[0], 3)
        else:
            self.frame_shape = (
                int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                3,
            )
        self.status = f"{self.name}: {self.fps:.2f} fps"
        self._pacer = Pacer(self.fps)
        self.first, self._end = 0, None
        if span is not None:
            self._play_span(*span)

    def _play_span(self, start: float, end: float) -> None:
        first, stop = round(start * self.fps), round(end * self.fps)
        if self.frames and first >= self.frames:
            raise InputError(
                f"{self.path}: --span starts at {start:g} s, after the video's end "
                f"({self.frames / self.fps:.1f} s)"
            )
        for _ in range(first):
            if not self._cap.grab():
                raise InputError(f"{self.path}: --span starts at {start:g} s, after its end")
        self.first, self._end = first, stop
        self.frames = max(0, (min(stop, self.frames) if self.frames else stop) - first)
        self._played = 0

    def read(self, stop: threading.Event) -> np.ndarray | None:
        if self.finished or self._cap is None:
            return None
        if self.paced and not self._pacer.wait(stop):
            return None
        if self._end is not None and self.first + self._played >= self._end:
            self.finished = True
            self.status = f"{self.name}: end of the span"
            return None
        t0 = time.perf_counter()
        ok, frame = self._cap.read()
        if self._end is not None:
            self._played += 1
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok or frame is None:
            self.finished = True
            self.status = f"{self.name}: end of file"
            return None
        if self.size is not None and (frame.shape[1], frame.shape[0]) != tuple(self.size):
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_LINEAR)
        self.read_ms = (time.perf_counter() - t0) * 1000
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class MemorySource:
    """Frames held in memory, cycled: the benchmark's source, so decoding does not count."""

    def __init__(
        self, frames: list[np.ndarray], fps: float, loop: bool = True, paced: bool = True
    ) -> None:
        if not frames:
            raise InputError("no frames to play")
        self.frames = frames
        self.fps = fps
        self.loop = loop
        self.paced = paced
        self.name = "memory"
        self.status = f"{len(frames)} frames in memory"
        self.finished = False
        self.read_ms = 0.0
        self._i = 0
        self._pacer = Pacer(fps)

    def read(self, stop: threading.Event) -> np.ndarray | None:
        if self._i >= len(self.frames) and not self.loop:
            self.finished = True
            return None
        if self.paced and not self._pacer.wait(stop):
            return None
        frame = self.frames[self._i % len(self.frames)]
        self._i += 1
        return frame

    def close(self) -> None:
        pass


def open_source(spec: str | int, loop: bool = False, paced: bool = True) -> Source:
    """A camera for an index ("0", 1), else a video file; InputError for an unreadable file."""
    if isinstance(spec, int) or str(spec).strip().isdigit():
        return CameraSource(int(spec))
    path = os.path.expanduser(str(spec))
    checked = landmarks.video.open_source(path)  # reads a first frame: a corrupt file fails here
    if checked.images is not None:
        raise InputError(
            f"{path}: a folder of images; live use needs a camera index or a video file"
        )
    return VideoSource(path, loop=loop, paced=paced)


def open_video(path: str, flag: str, span: tuple[float, float] | None = None) -> VideoSource:
    """A video file read as fast as it is asked (`reenact`, `evaluate --driver`), all of it or
    `span`'s seconds; InputError for a camera (`flag` names the option that took it) or a bad
    span."""
    source = open_source(path, loop=False, paced=False)
    if not isinstance(source, VideoSource):
        source.close()
        raise InputError(f"{flag} must be a video file, not a camera: {path}")
    if span is None:
        return source
    source.close()
    start, end = span
    if not 0 <= start < end:
        raise InputError(f"--span {start:g}:{end:g}: needs 0 <= START < END seconds")
    return VideoSource(path, paced=False, span=span)


def add_span_argument(p: Any, what: str) -> None:
    """--span START:END (seconds), for the commands that read a video file through the stages."""
    from landmarks.dataset_config import span

    p.add_argument(
        "--span",
        type=span,
        metavar="START:END",
        help=f"{what} only these seconds of the video (e.g. 10:17); frames keep the video's "
        "numbers",
    )
