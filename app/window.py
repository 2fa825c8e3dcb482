"""`live-mirror`: the Qt window, one view per stage (camera | drawing | face) and its controls."""

from __future__ import annotations

import argparse
import logging
import math
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt5.QtCore import QObject, QSettings, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QImage, QKeySequence, QPixmap
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.face import DEFAULT_RETARGET, DEFAULT_SMOOTHING, RETARGET_MODES
from app.live import LiveSession
from app.model import add_backend_flags
from app.pipeline import Frame
from app.qt_platform import platform_problem
from app.swap import is_swap, swap_output
from common.cli import run_command
from common.errors import InputError
from landmarks.capture import DEFAULT_SECONDS, cue

log = logging.getLogger(__name__)

ORGANISATION, APPLICATION = "face-mirror", "live-mirror"
CAMERAS = 4  # camera indices offered in the picker
VIEW_SIZE = 320
STATUS_MS = 250
STAGE_LABELS = (("landmarks", "landmarks"), ("generator", "generator"), ("sinks", "view"))
RETARGET_KEY = "T"  # cycles auto → on → off
FACE_TICK_MS = 200  # how often the countdown and prompt of "Record my face" are brought up to date
RETARGET_CHOICES = {  # the menu's words for each --retarget mode
    "auto": "Retarget auto: your own points when you are the target",
    "on": "Retarget on: the target's face moved by your expression",
    "off": "Retarget off: your own points",
}


@dataclass(frozen=True)
class FaceCapture:
    """A "Record my face" in progress: the camera's frames go to `path` for `seconds`."""

    path: Path
    seconds: float
    started: float  # time.monotonic()


@dataclass(frozen=True)
class ViewSpec:
    """One stage's view: its name, title, show/hide key, first message and picture in a frame."""

    name: str
    title: str
    key: str
    waiting: str
    picture: Callable[[Frame], np.ndarray | None]  # RGB, or None to keep what is shown


VIEWS = (
    ViewSpec("camera", "camera", "1", "starting the camera…", lambda f: f.image[..., ::-1]),
    ViewSpec("drawing", "landmarks", "2", "no face yet", lambda f: f.drawing),
    ViewSpec(
        "generated",
        "generated",
        "3",
        "no model: open a model bundle (Ctrl+O)",
        lambda f: f.generated,
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


class MirrorWindow(QMainWindow):
    """The live-mirror window. `settings`: where choices are kept (tests pass a temporary file)."""

    def __init__(
        self,
        settings: QSettings | None = None,
        model: str | None = None,
        source: str | None = None,
        loop: bool | None = None,
        verbose: bool = False,
        backend: str = "auto",
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or QSettings(
            QSettings.IniFormat, QSettings.UserScope, ORGANISATION, APPLICATION
        )
        self.setWindowTitle("live-mirror")
        self.bridge = FrameBridge()
        self.bridge.frame_ready.connect(self._show_frame)
        self.bridge.model_done.connect(self._model_done)
        smoothing = float(self.settings.value("smoothing", DEFAULT_SMOOTHING))
        retarget = str(self.settings.value("retarget", DEFAULT_RETARGET))
        retarget = retarget if retarget in RETARGET_MODES else DEFAULT_RETARGET
        self.session = LiveSession(
            self.bridge.push,
            lambda path, err: self.bridge.model_done.emit(path, err or ""),
            smoothing=smoothing,
            verbose=verbose,
            backend=backend,
            threads=threads,
            retarget=retarget,
        )
        self.frames_shown = 0
        self.last_face = False
        self.face_capture: FaceCapture | None = None
        self.face_cue = ""  # the countdown and prompt shown while recording a face
        self._build_views()
        self._build_actions()
        self._build_toolbar(smoothing)
        self._build_menus()
        self._build_status()
        self._restore(model, source, loop)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.update_status)
        self.timer.start(STATUS_MS)
        self.face_timer = QTimer(self)
        self.face_timer.setInterval(FACE_TICK_MS)
        self.face_timer.timeout.connect(self._face_tick)

    # -- building ----------------------------------------------------------------------------

    def _build_views(self) -> None:
        self.views = {spec.name: View(spec.title) for spec in VIEWS}
        central = QWidget()
        column = QVBoxLayout(central)
        row = QHBoxLayout()
        for spec in VIEWS:
            self.views[spec.name].setMinimumWidth(VIEW_SIZE // 2)
            self.views[spec.name].show_message(spec.waiting)
            row.addWidget(self.views[spec.name], 1)
        column.addLayout(row, 1)
        # What happened last (a model loaded, a recording saved, an error), under the views.
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        column.addWidget(self.notice)
        self.setCentralWidget(central)
        self.resize(3 * VIEW_SIZE + 160, VIEW_SIZE + 170)

    def _action(
        self,
        text: str,
        shortcut: str,
        slot: Callable[..., object],
        checkable: bool = False,
        checked: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{text} ({shortcut})")
        action.setCheckable(checkable)
        if checkable:
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the toolbar hidden
        return action

    def _build_actions(self) -> None:
        s = self.settings
        self.act_model = self._action("Model…", "Ctrl+O", self.choose_model)
        self.act_video = self._action("Video…", "Ctrl+Shift+O", self.choose_video)
        self.act_next_camera = self._action("Next camera", "Ctrl+K", self.next_camera)
        self.act_start = self._action("Start", "Space", self.toggle_running, checkable=True)
        self.act_calibrate = self._action("Calibrate", "C", self.calibrate)
        mirror = _bool(s.value("mirror", True))
        self.act_mirror = self._action("Mirror", "M", self._mirror_changed, True, mirror)
        self.act_record = self._action("Record", "R", self.toggle_recording, checkable=True)
        self.act_record_face = self._action(
            "Record my face", "Ctrl+Shift+R", self.toggle_face_recording, checkable=True
        )
        self.act_vcam = self._action(
            "Virtual camera", "V", self.toggle_virtual_camera, checkable=True
        )
        self.act_views = {}
        for spec in VIEWS:
            shown = _bool(s.value(f"show_{spec.name}", True))
            self.act_views[spec.name] = self._action(
                f"Show {spec.title}",
                spec.key,
                lambda on, n=spec.name: self.set_view_visible(n, on),
                True,
                shown,
            )
            self.views[spec.name].setVisible(shown)
        self._build_retarget_actions()
        self.act_less = self._action("Less smoothing", "[", lambda: self.nudge_smoothing(-10))
        self.act_more = self._action("More smoothing", "]", lambda: self.nudge_smoothing(10))
        self.act_quit = self._action("Quit", "Ctrl+Q", self.close)

    def _build_retarget_actions(self) -> None:
        """One toolbar button that cycles the mode (T), and the three modes as menu choices."""
        self.act_retarget = self._action("Retarget", RETARGET_KEY, self.next_retarget)
        group = QActionGroup(self)
        group.setExclusive(True)
        self.act_retarget_modes = {}
        for mode in RETARGET_MODES:
            action = QAction(RETARGET_CHOICES[mode], self, checkable=True)
            action.triggered.connect(lambda _=False, m=mode: self.set_retarget(m))
            group.addAction(action)
            self.act_retarget_modes[mode] = action
        self._show_retarget(self.session.retarget)

    def _build_toolbar(self, smoothing: float) -> None:
        self.camera_picker = QComboBox()
        self.camera_picker.setToolTip("camera or video (Ctrl+K: next)")
        for i in range(CAMERAS):
            self.camera_picker.addItem(f"Camera {i}", str(i))
        self.camera_picker.activated.connect(lambda _: self.start())
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 100)
        self.smoothing.setValue(round(100 * smoothing))
        self.smoothing.setFixedWidth(120)
        self.smoothing.setToolTip("landmark smoothing ([ less, ] more)")
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self.face_seconds = QSpinBox()
        self.face_seconds.setRange(1, 600)
        self.face_seconds.setSuffix(" s")
        self.face_seconds.setValue(int(self.settings.value("face_seconds", DEFAULT_SECONDS)))
        self.face_seconds.setToolTip("how long Record my face records")
        bar = QToolBar("controls")
        bar.setObjectName("controls")
        self.addToolBar(bar)
        bar.addAction(self.act_model)
        bar.addWidget(self.camera_picker)
        bar.addAction(self.act_video)
        bar.addSeparator()
        bar.addAction(self.act_start)
        bar.addAction(self.act_calibrate)
        bar.addAction(self.act_retarget)
        bar.addWidget(QLabel(" smoothing "))
        bar.addWidget(self.smoothing)
        bar.addSeparator()
        bar.addAction(self.act_mirror)
        bar.addAction(self.act_record)
        bar.addAction(self.act_record_face)
        bar.addWidget(self.face_seconds)
        bar.addAction(self.act_vcam)

    def _build_menus(self) -> None:
        file_menu = [
            self.act_model,
            self.act_video,
            None,
            self.act_record,
            self.act_record_face,
            self.act_vcam,
        ]
        camera_menu = [self.act_start, self.act_next_camera, self.act_calibrate]
        retarget_menu = [self.act_retarget, *self.act_retarget_modes.values()]
        for title, actions in (
            ("&File", [*file_menu, None, self.act_quit]),
            ("&Camera", [*camera_menu, self.act_less, self.act_more, None, *retarget_menu]),
            ("&View", [self.act_mirror, None, *self.act_views.values()]),
        ):
            menu = self.menuBar().addMenu(title)
            for action in actions:
                menu.addSeparator() if action is None else menu.addAction(action)

    def _build_status(self) -> None:
        self.stats_label = QLabel("stopped")
        self.stats_label.setWordWrap(True)
        self.statusBar().addWidget(self.stats_label, 1)

    def _restore(self, model: str | None, source: str | None, loop: bool | None) -> None:
        s = self.settings
        source = source if source is not None else str(s.value("source", "0"))
        self.loop = loop if loop is not None else _bool(s.value("loop", True))
        self._select_source(source)
        geometry = s.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        model = model or s.value("model") or None
        if model:
            self.load_model(str(model))
        else:
            self.say(
                "no model yet: open a model bundle with Ctrl+O; showing the camera and landmarks"
            )
        # Start once the event loop runs, so the window is up before the camera opens.
        QTimer.singleShot(0, self.start)

    # -- actions --------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.notice.setText(text)
        log.info("%s", text)

    def _select_source(self, spec: str) -> None:
        i = self.camera_picker.findData(spec)
        if i < 0:
            self.camera_picker.addItem(Path(spec).name, spec)
            i = self.camera_picker.count() - 1
        self.camera_picker.setCurrentIndex(i)

    def start(self) -> None:
        spec = self.camera_picker.currentData()
        try:
            self.session.start(spec, loop=self.loop)
        except InputError as e:
            self.say(str(e))
            self.views["camera"].show_message(str(e))
            _show_checked(self.act_start, False, "Start")  # the error stays on screen
            return
        self.settings.setValue("source", spec)
        _show_checked(self.act_start, True, "Stop")

    def stop(self) -> None:
        self.session.stop()
        _show_checked(self.act_start, False, "Start")
        self.views["camera"].show_message("stopped (Space to start)")

    def toggle_running(self, on: bool) -> None:
        self.start() if on else self.stop()

    def next_camera(self) -> None:
        self.camera_picker.setCurrentIndex(
            (self.camera_picker.currentIndex() + 1) % self.camera_picker.count()
        )
        self.start()

    def choose_model(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Model bundle", str(self.settings.value("model", ""))
        )
        if path:
            self.load_model(path)

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Driving video", "", "Videos (*.mp4 *.avi *.mov *.mkv);;All (*)"
        )
        if path:
            self._select_source(path)
            self.start()

    def load_model(self, path: str) -> None:
        self.say(f"loading model {path}…")
        self.views["generated"].show_message(f"loading {Path(path).name}…")
        self.session.load_model(path)

    def _sinks_follow_model(self) -> None:
        """The recording and the virtual camera take what the model shows: for a swap bundle,
        the whole composited camera frame."""
        swap = is_swap(self.session.bundle)
        for sink in (self.session.recorder, self.session.virtual_camera):
            if sink is not None:
                sink.swap = swap

    def _model_done(self, path: str, error: str) -> None:
        self._sinks_follow_model()
        if error:
            self.say(f"model not loaded: {error}")
            self.views["generated"].show_message(
                f"model not loaded:\n{error}\n\nopen another with Ctrl+O"
            )
            return
        self.settings.setValue("model", path)
        bundle = self.session.bundle
        swap = is_swap(bundle)
        # A swap bundle shows the whole camera frame with the target's face in it.
        self.views["generated"].title.setText("swapped" if swap else "generated")
        kind = "swap " if swap else ""
        said = f"{kind}model {model_name(path)}: {bundle.size} px, {bundle.steps} steps, "
        self.say(said + f"on {bundle.backend_label}" + (f" ({bundle.note})" if bundle.note else ""))
        self.views["generated"].show_message("waiting for a face…")

    def calibrate(self) -> None:
        self.session.calibrate()
        self.say("calibrating: look at the camera with a neutral face for a second")

    def next_retarget(self) -> None:
        modes = RETARGET_MODES
        self.set_retarget(modes[(modes.index(self.session.retarget) + 1) % len(modes)])

    def set_retarget(self, mode: str) -> None:
        """auto, on or off: how the driver's points become the drawing (see app.face.FaceStage)."""
        self.session.set_retarget(mode)
        self.settings.setValue("retarget", mode)
        self._show_retarget(mode)
        self.say(RETARGET_CHOICES[mode])

    def _show_retarget(self, mode: str) -> None:
        self.act_retarget.setText(f"Retarget: {mode}")
        self.act_retarget.setToolTip(f"retarget {mode}: {RETARGET_KEY} for the next mode")
        self.act_retarget_modes[mode].setChecked(True)

    def nudge_smoothing(self, step: int) -> None:
        self.smoothing.setValue(self.smoothing.value() + step)

    def _smoothing_changed(self, value: int) -> None:
        self.session.set_smoothing(value / 100)
        self.settings.setValue("smoothing", value / 100)

    def _mirror_changed(self, on: bool) -> None:
        self.settings.setValue("mirror", on)

    def set_view_visible(self, name: str, on: bool) -> None:
        self.views[name].setVisible(on)
        self.settings.setValue(f"show_{name}", on)

    def toggle_recording(self, on: bool) -> None:
        if not on:
            path = self.session.stop_recording()
            self.say(f"recorded {path}" if path else "recording stopped, nothing recorded")
            return
        folder = Path(str(self.settings.value("record_dir", Path.home() / "Videos")))
        folder = folder if folder.is_dir() else Path.cwd()
        path = folder / time.strftime("live-mirror-%Y%m%d-%H%M%S.mp4")
        try:
            path = self.session.start_recording(path)
        except InputError as e:
            self.say(str(e))
            _show_checked(self.act_record, False)  # the error stays on screen
            return
        self._sinks_follow_model()
        self.say(f"recording to {path} (R to stop)")

    def toggle_face_recording(self, on: bool) -> None:
        """Record the camera's own frames for the chosen seconds: footage for make-dataset.

        While it runs, the camera view's title and the status bar count down and say what to do;
        unchecking it ends the recording early, keeping what was recorded.
        """
        if not on:
            self._finish_face_recording()
            return
        if not self.session.running:
            self.say("start the camera first (Space), then record your face")
            _show_checked(self.act_record_face, False)
            return
        folder = Path(str(self.settings.value("face_dir", "")) or self._data_folder())
        default = folder / time.strftime("my-face-%Y%m%d-%H%M%S.mp4")
        path, _ = QFileDialog.getSaveFileName(
            self, "Record my face to", str(default), "Videos (*.mp4);;All (*)"
        )
        if not path:
            _show_checked(self.act_record_face, False)
            return
        if self.act_record.isChecked():
            self.act_record.setChecked(False)  # one recording at a time: the output's ends here
        seconds = self.face_seconds.value()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            path = self.session.start_recording(path, camera=True)
        except (InputError, OSError) as e:
            self.say(str(e))
            _show_checked(self.act_record_face, False)
            return
        self.settings.setValue("face_dir", str(path.parent))
        self.settings.setValue("face_seconds", seconds)
        self.act_record.setEnabled(False)
        self.face_seconds.setEnabled(False)
        self.face_capture = FaceCapture(path, seconds, time.monotonic())
        self.face_timer.start()
        self._face_tick()

    def _data_folder(self) -> Path:
        """Where the window keeps its settings: the default home of face recordings."""
        return Path(self.settings.fileName()).parent / "faces"

    def _face_tick(self) -> None:
        capture = self.face_capture
        if capture is None:
            return
        elapsed = time.monotonic() - capture.started
        if elapsed >= capture.seconds:
            self._finish_face_recording()
            return
        self.face_cue = cue(elapsed, capture.seconds)
        self.views["camera"].title.setText(f"● recording your face, {self.face_cue}")
        self.stats_label.setText(self.status_text())

    def _finish_face_recording(self) -> None:
        capture, self.face_capture = self.face_capture, None
        if capture is None:
            return
        self.face_timer.stop()
        frames = self.session.recorded_frames or 0
        path = self.session.stop_recording()
        self.face_cue = ""
        self.views["camera"].title.setText("camera")
        self.act_record.setEnabled(True)
        self.face_seconds.setEnabled(True)
        _show_checked(self.act_record_face, False)
        if path is None:
            self.say("nothing recorded: no camera frames came")
            return
        q = shlex.quote(str(path))
        self.say(
            f"recorded {frames} frames of your face to {path}. Next, in a terminal: "
            f"make-dataset {q} -o me-data --size 128, then "
            "train-swap target-data me-data -o runs/me-as-target "
            "(target-data: make-dataset of the face to become)"
        )

    def toggle_virtual_camera(self, on: bool) -> None:
        try:
            self.session.set_virtual_camera(on)
        except InputError as e:
            self.say(str(e))
            _show_checked(self.act_vcam, False)
            return
        self._sinks_follow_model()
        self.say("virtual camera on" if on else "virtual camera off")

    # -- frames and status ------------------------------------------------------------------

    def _show_frame(self) -> None:
        frame = self.bridge.take()
        if frame is None:
            return
        mirror = self.act_mirror.isChecked()
        swap = is_swap(self.session.bundle)
        for spec in VIEWS:
            view = self.views[spec.name]
            if not view.isVisible():
                continue
            if swap and spec.name == "generated":
                picture = swap_output(frame)  # no face in this frame: the camera as it is
            else:
                picture = spec.picture(frame)
            if picture is not None:
                view.show_image(picture, mirror)
        self.frames_shown += 1
        self.last_face = frame.face

    def status_text(self) -> str:
        stats = self.session.stats()
        swap = is_swap(self.session.bundle)
        held = "showing the camera" if swap else "holding the last output"
        parts = [] if stats is None else _pipeline_status(stats, self.session.calibrating, held)
        if stats is not None and swap:
            parts.append("swap")  # the camera's face becomes the target's: no drawing to retarget
        elif stats is not None:
            drawn = "retargeted" if self.session.retargeting else "self"
            parts.append(f"retarget {self.session.retarget}: {drawn}")
        parts.append(self.session.source_status)
        if self.session.loading:
            parts.append("loading model…")
        elif self.session.model_path:
            bundle = self.session.bundle
            backend = f" on {bundle.backend_label}" if bundle is not None else ""
            kind = "swap " if swap else ""
            parts.append(f"{kind}model {model_name(self.session.model_path)}{backend}")
        else:
            parts.append("no model")
        if self.face_cue:
            parts.insert(0, f"recording your face, {self.face_cue}")
        if self.session.recorded_frames is not None:
            parts.append(f"REC {self.session.recorded_frames}")
        cam = self.session.virtual_camera
        if cam is not None:
            parts.append(cam.error or "virtual camera")
        return " | ".join(parts)

    def update_status(self) -> None:
        self.stats_label.setText(self.status_text())
        if "retrying" in self.session.source_status:
            self.views["camera"].show_message(self.session.source_status)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.timer.stop()
        self.face_timer.stop()  # a face recording cut short keeps what it has (session.close)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("loop", self.loop)
        self.settings.sync()
        if not self.session.close(1.0):
            log.warning("some threads did not stop within a second")
        super().closeEvent(event)


def _show_checked(action: QAction, on: bool, text: str | None = None) -> None:
    """Set a toggle's state (and text) without running its slot: the state came from elsewhere."""
    action.blockSignals(True)
    action.setChecked(on)
    if text is not None:
        action.setText(text)
    action.blockSignals(False)


def _pipeline_status(
    stats: dict, calibrating: bool, held: str = "holding the last output"
) -> list[str]:
    """The running pipeline's part of the status bar: stage times, rate, latency, face."""
    sm = stats["stage_ms"]
    parts = [" · ".join(f"{label} {_ms(sm[name]['mean'])}" for name, label in STAGE_LABELS)]
    lat = stats["latency_ms"]
    parts.append(f"{stats['fps']:.1f} FPS")
    parts.append(f"latency {_ms(lat['p50'])} (p95 {_ms(lat['p95'])})")
    parts.append("face" if stats["face"] else f"NO FACE: {held}")
    if calibrating and stats["face"]:
        parts.append("calibrating")
    return parts


def model_name(path: str) -> str:
    """A short name for a bundle: train-pix2pix writes RUN/model, so the run's name says more."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.name == "model" and p.parent.name else p.name


def _bool(value) -> bool:
    """QSettings gives back "true"/"false" strings from INI files."""
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="live-mirror",
        description="The webcam drives the target's face live: "
        "camera | landmarks | generated face.",
    )
    p.add_argument("--model", help="model bundle directory (default: the last one used)")
    p.add_argument(
        "--source", help="camera index or video file (default: the last one used, else camera 0)"
    )
    p.add_argument(
        "--loop",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="play a video source in a loop (default: the last choice, else on)",
    )
    p.add_argument("--settings", help="settings file (INI) instead of the user's QSettings")
    add_backend_flags(p)
    p.add_argument(
        "-v", "--verbose", action="store_true", help="log what happens, TensorFlow's notes too"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )

    def body() -> int:
        if QApplication.instance() is None:
            problem = platform_problem()  # Qt would print a paragraph and abort instead
            if problem:
                raise InputError(problem)
        app = QApplication.instance() or QApplication(sys.argv[:1])
        app.setOrganizationName(ORGANISATION)
        app.setApplicationName(APPLICATION)
        settings = QSettings(args.settings, QSettings.IniFormat) if args.settings else None
        window = MirrorWindow(
            settings,
            model=args.model,
            source=args.source,
            loop=args.loop,
            verbose=args.verbose,
            backend=args.backend,
            threads=args.threads,
        )
        window.show()
        return app.exec_()

    return run_command("live-mirror", body)


if __name__ == "__main__":
    sys.exit(main())
