"""The window's pictures: one view per stage (camera | drawing | output) and the notice below."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.modes import Mode
from app.pipeline import Frame

VIEW_SIZE = 320


@dataclass(frozen=True)
class ViewSpec:
    """One stage's view: its name, title, show/hide key, first message and picture in a frame."""

    name: str
    title: str
    key: str
    waiting: str
    picture: Callable[[Frame, Mode], np.ndarray | None]  # RGB, or None to keep what is shown


VIEWS = (
    ViewSpec("camera", "camera", "1", "starting the camera…", lambda f, m: f.image[..., ::-1]),
    ViewSpec("drawing", "landmarks", "2", "no face yet", lambda f, m: f.drawing),
    ViewSpec(
        "generated",
        "generated",
        "3",
        "no model: open a model bundle (Ctrl+O)",
        lambda f, m: m.output(f),  # the generated face, or the camera with the face put in
    ),
)


def to_pixmap(rgb: np.ndarray, mirror: bool) -> QPixmap:
    """An RGB uint8 image as a QPixmap, flipped left-right when mirroring."""
    if mirror:
        rgb = rgb[:, ::-1]
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    # QImage borrows the buffer; copy() makes the pixmap independent of the numpy array.
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy())


class View(QWidget):
    """One stage's picture with its title; shows a message instead when there is no picture."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignCenter)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignCenter)
        self.picture.setMinimumSize(160, 160)
        self.picture.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.picture.setStyleSheet("background: #111; color: #ccc;")
        self.picture.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.picture, 1)
        self.has_picture = False

    def show_image(self, rgb: np.ndarray, mirror: bool) -> None:
        pixmap = to_pixmap(rgb, mirror)
        size = self.picture.size()
        self.picture.setPixmap(pixmap.scaled(size, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        self.has_picture = True

    def show_message(self, text: str) -> None:
        self.picture.clear()
        self.picture.setText(text)
        self.has_picture = False

    def pixmap(self) -> QPixmap | None:
        return self.picture.pixmap() if self.has_picture else None


class Views(QWidget):
    """The row of stage views, and under it the notice: what happened last (a model loaded, a
    recording saved, an error)."""

    def __init__(self) -> None:
        super().__init__()
        self.views = {spec.name: View(spec.title) for spec in VIEWS}
        column = QVBoxLayout(self)
        row = QHBoxLayout()
        for spec in VIEWS:
            self.views[spec.name].setMinimumWidth(VIEW_SIZE // 2)
            self.views[spec.name].show_message(spec.waiting)
            row.addWidget(self.views[spec.name], 1)
        column.addLayout(row, 1)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        column.addWidget(self.notice)

    def show_frame(self, frame: Frame, mode: Mode, mirror: bool) -> None:
        """Each visible view's picture of `frame`; a view without one keeps what it shows."""
        for spec in VIEWS:
            view = self.views[spec.name]
            if not view.isVisible():
                continue
            picture = spec.picture(frame, mode)
            if picture is not None:
                view.show_image(picture, mirror)


class FrameBridge(QObject):
    """Carries frames from the sink thread to the GUI thread, newest only.

    A queued signal per frame would pile up whenever painting is slower than the camera, so the
    sink thread just replaces the pending frame and signals only when none was pending.
    """

    frame_ready = pyqtSignal()
    model_done = pyqtSignal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self._frame: Frame | None = None
        self._lock = threading.Lock()

    def push(self, frame: Frame) -> None:  # sink thread
        with self._lock:
            pending = self._frame is not None
            self._frame = frame
        if not pending:
            self.frame_ready.emit()

    def take(self) -> Frame | None:  # GUI thread
        with self._lock:
            frame, self._frame = self._frame, None
        return frame
