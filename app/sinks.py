"""Where frames go: an mp4 recorder, a virtual camera, and the side-by-side picture."""

from __future__ import annotations

import logging
import os
import threading
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np

from app.images import fit
from app.modes import Mode
from app.pipeline import Frame
from common.errors import InputError
from common.files import atomic_path

log = logging.getLogger(__name__)

VIRTUALCAM_HINT = (
    "the virtual camera needs pyvirtualcam: pip install pyvirtualcam "
    "(on Linux also the v4l2loopback kernel module: sudo modprobe v4l2loopback)"
)


def side_by_side(frame: Frame, mode: Mode, height: int | None = None) -> np.ndarray:
    """driver | drawing | output, RGB, all `height` tall (default: the camera frame's height).

    The output panel is the mode's: a square face, or the composited camera frame at its aspect.
    """
    height = height or frame.image.shape[0]
    camera = fit(np.ascontiguousarray(frame.image[..., ::-1]), height)
    return np.hstack([camera, fit(frame.drawing, height, height), mode.panel(frame, height)])


def shown(frame: Frame, mode: Mode) -> np.ndarray | None:
    """What a sink sends: the mode's output, else the drawing (no model yet), else None."""
    image = mode.output(frame)
    return frame.drawing if image is None else image


def _even(n: int) -> int:
    return n + (n & 1)  # most mp4 encoders want even sides


def writable_path(path: str | Path) -> Path:
    """`path` (~ expanded) where a recording can be written; InputError saying why not."""
    path = Path(path).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: no such directory {parent}")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {path}: directory is not writable")
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a directory")
    return path


class _Discarded(Exception):
    """Thrown into atomic_path to make it remove the temporary file instead of renaming it."""


class Recorder:
    """Writes RGB images to an mp4, under a temporary name renamed at close().

    The size is taken from the first image; later images of another size are scaled to it, so a
    model switched mid-recording does not break the file. Raises InputError if the file cannot
    be written.
    """

    def __init__(self, path: str | Path, fps: float, fourcc: str = "mp4v") -> None:
        self.path = writable_path(path)
        self.fps = fps if fps and fps > 0 else 30.0
        self.fourcc = fourcc
        self.frames = 0
        # The temporary file (named by atomic_path, keeping the suffix that picks the container)
        # lives from open to close, across threads, so its context is held open in a stack.
        self.tmp_path: Path | None = None
        self._file: ExitStack | None = None
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._lock = threading.Lock()  # write() from the sink thread, close() from the UI

    def open(self, width: int, height: int) -> None:
        """Open the file now (rather than at the first image), so a bad path fails early."""
        with self._lock:
            self._open(width, height)

    def _open(self, width: int, height: int) -> None:
        self._size = (_even(width), _even(height))
        self._file = ExitStack()
        # The encoder picks the container by the name it writes to: no suffix is still an mp4.
        self.tmp_path = self._file.enter_context(
            atomic_path(self.path, suffix=self.path.suffix or ".mp4")
        )
        self._writer = cv2.VideoWriter(
            str(self.tmp_path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, self._size
        )
        if not self._writer.isOpened():
            self._writer = None
            self._end_file(keep=False)
            container = self.path.suffix or "mp4"
            raise InputError(f"cannot write {self.path}: no {self.fourcc} encoder for {container}")

    def _end_file(self, keep: bool) -> None:
        """Rename the temporary file onto `path` (keep), or remove it."""
        file, self._file = self._file, None
        if file is None:
            return
        if keep:
            file.close()
        else:
            file.__exit__(_Discarded, _Discarded(), None)

    def write(self, rgb: np.ndarray) -> None:
        with self._lock:
            if self._writer is None:
                if self._size is not None:
                    return  # closed
                self._open(rgb.shape[1], rgb.shape[0])
            assert self._writer is not None and self._size is not None
            if (rgb.shape[1], rgb.shape[0]) != self._size:
                rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_LINEAR)
            self._writer.write(np.ascontiguousarray(rgb[..., ::-1]))
            self.frames += 1

    def close(self) -> Path | None:
        """Finish the file and move it into place; None when nothing was written."""
        with self._lock:
            writer, self._writer = self._writer, None
            if self._size is None:
                self._size = (0, 0)  # closed before the first image: later writes are ignored
            if writer is None:
                return None
            writer.release()
        self._end_file(keep=self.frames > 0)
        if self.frames == 0:
            return None
        log.info("wrote %d frames to %s", self.frames, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the file: an interrupted run must not leave one that looks complete."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.release()
        self._end_file(keep=False)


class RecorderSink:
    """A pipeline sink: records what the mode shows, or driver | drawing | output side by side.

    `mode` (app.modes) says what that is: the generated face, or the whole camera frame with the
    target's face in it; without a model, the drawing. `size`: the picture's height (black until
    the first face, so that the file keeps one frame per source frame).
    """

    def __init__(self, recorder: Recorder, size: int, mode: Mode, side_by_side: bool = False):
        self.recorder = recorder
        self.size = size
        self.mode = mode  # replaced when another model loads (LiveSession)
        self.side_by_side = side_by_side

    @property
    def swap(self) -> bool:
        """Whether the whole camera frame is recorded, the target's face composited in it."""
        return self.mode.composites

    def __call__(self, frame: Frame) -> None:
        mode = self.mode
        if self.side_by_side:
            self.recorder.write(side_by_side(frame, mode, self.size))
            return
        image = shown(frame, mode)
        black = np.zeros((self.size, self.size, 3), np.uint8)
        self.recorder.write(black if image is None else image)

    def close(self) -> Path | None:
        return self.recorder.close()


def virtual_camera_available() -> str | None:
    """None when pyvirtualcam can be imported, else what to install."""
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        return VIRTUALCAM_HINT
    return None


class VirtualCameraSink:
    """Sends the generated face to a virtual camera (pyvirtualcam), so video-call apps can use it.

    The device opens at the first frame, at that frame's size. Raises InputError when pyvirtualcam
    is missing; a missing device shows up in `error` and the sink then does nothing.
    """

    def __init__(self, mode: Mode, fps: float = 30.0) -> None:
        hint = virtual_camera_available()
        if hint:
            raise InputError(hint)
        self.fps = fps
        self.mode = mode  # what to send (see RecorderSink); replaced when another model loads
        self.error: str | None = None
        self._cam = None
        self._size: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def __call__(self, frame: Frame) -> None:
        image = shown(frame, self.mode)
        if image is None or self.error:
            return
        with self._lock:
            if self._cam is None:
                import pyvirtualcam

                try:
                    self._cam = pyvirtualcam.Camera(
                        image.shape[1], image.shape[0], self.fps, fmt=pyvirtualcam.PixelFormat.RGB
                    )
                except Exception as e:  # no loopback device, or one in use
                    self.error = f"virtual camera unavailable: {e}. {VIRTUALCAM_HINT}"
                    log.warning("%s", self.error)
                    return
                self._size = (image.shape[1], image.shape[0])
                log.info("virtual camera %s at %d×%d", self._cam.device, *self._size)
            if (image.shape[1], image.shape[0]) != self._size:
                image = cv2.resize(image, self._size)
            self._cam.send(np.ascontiguousarray(image))

    def close(self) -> None:
        with self._lock:
            if self._cam is not None:
                self._cam.close()
                self._cam = None
