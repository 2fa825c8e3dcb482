"""`live-mirror`: the Qt window, one view per stage (camera | drawing | face) and its controls.

The window wires its parts (app.ui: views, controls, typed settings, Record my face, the status
line) around a LiveSession (app.live), which runs the pipeline without any Qt.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from PyQt5.QtCore import QSettings, Qt, QTimer
from PyQt5.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSpinBox,
)

from app.face import RETARGET_MODES
from app.live import LiveSession
from app.model import add_backend_flags
from app.qt_platform import platform_problem
from app.sinks import writable_path
from app.ui.controls import RETARGET_CHOICES, Controls, show_checked
from app.ui.face_capture import FaceCapture, FaceRecording
from app.ui.interrupt import BY_SIGNAL, closed_by_signals
from app.ui.new_target import NewTarget
from app.ui.settings import APPLICATION, ORGANISATION, WindowSettings
from app.ui.status import model_name, status_text
from app.ui.views import VIEW_SIZE, FrameBridge, Views, to_pixmap
from common.cli import run_command
from common.errors import InputError

__all__ = ["MirrorWindow", "build_parser", "main", "to_pixmap"]

log = logging.getLogger(__name__)

STATUS_MS = 250
CLOSE_WAIT_MS = 180_000  # a training stopped by the window's closing saves, then it closes
STOP_QUESTION = (
    "A training is running. Stop it and close? Stopping saves a checkpoint: New target's Start "
    "resumes it."
)


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
        record: str | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("live-mirror")
        self.choices = WindowSettings(settings)
        self.bridge = FrameBridge()
        self.bridge.frame_ready.connect(self._show_frame)
        self.bridge.model_done.connect(self._model_done)
        self.session = LiveSession(
            self.bridge.push,
            lambda path, err: self.bridge.model_done.emit(path, err or ""),
            smoothing=self.choices.smoothing,
            verbose=verbose,
            backend=backend,
            threads=threads,
            retarget=self.choices.retarget,
        )
        self.frames_shown = 0
        self.record_at_start = Path(record) if record else None  # --record, until it starts
        self.last_face = False
        self.pictures = Views()
        self.views, self.notice = self.pictures.views, self.pictures.notice
        self.setCentralWidget(self.pictures)
        self.resize(3 * VIEW_SIZE + 160, VIEW_SIZE + 170)
        self.controls = Controls(self, self, self.choices)
        for name, view in self.views.items():
            view.setVisible(self.choices.shown(name))
        self.stats_label = QLabel("stopped")
        self.stats_label.setWordWrap(True)
        self.statusBar().addWidget(self.stats_label, 1)
        self.face_recording = FaceRecording(
            self,
            self.session,
            self.choices,
            self.controls,
            self.views["camera"],
            self.say,
            self.update_status,
        )
        self.new_target_dock = NewTarget(self, self.load_model, self._record_into, self._folder_of)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.new_target_dock)
        self.new_target_dock.hide()
        self._restore(model, source, loop)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.update_status)
        self.timer.start(STATUS_MS)

    # What the controls and Record my face hold, by the names the shortcuts and tests know.
    act_new_target = property(lambda self: self.controls.act_new_target)
    act_mirror = property(lambda self: self.controls.act_mirror)
    act_record = property(lambda self: self.controls.act_record)
    act_record_face = property(lambda self: self.controls.act_record_face)
    act_vcam = property(lambda self: self.controls.act_vcam)
    act_retarget = property(lambda self: self.controls.act_retarget)
    act_retarget_modes = property(lambda self: self.controls.act_retarget_modes)

    @property
    def face_seconds(self) -> QSpinBox:
        return self.controls.face_seconds

    @property
    def face_capture(self) -> FaceCapture | None:
        return self.face_recording.capture

    def _restore(self, model: str | None, source: str | None, loop: bool | None) -> None:
        self.loop = loop if loop is not None else self.choices.loop
        self.controls.select_source(source if source is not None else self.choices.source)
        if self.choices.geometry is not None:
            self.restoreGeometry(self.choices.geometry)
        model = model or self.choices.model
        if model:
            self.load_model(str(model))
        else:
            self.say(
                "no model yet: open a model bundle with Ctrl+O; showing the camera and landmarks"
            )
        # Start once the event loop runs, so the window is up before the camera opens.
        QTimer.singleShot(0, self.start)

    # -- source and model ------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.notice.setText(text)
        log.info("%s", text)

    def start(self) -> None:
        spec = self.controls.camera_picker.currentData()
        try:
            self.session.start(spec, loop=self.loop)
        except InputError as e:
            self.say(str(e))
            self.views["camera"].show_message(str(e))
            self.controls.show_running(False)  # the error stays on screen
            return
        self.choices.source = spec
        self.controls.show_running(True)
        self._record_when_ready()

    def stop(self) -> None:
        self.session.stop()
        self.controls.show_running(False)
        self.views["camera"].show_message("stopped (Space to start)")

    def toggle_running(self, on: bool) -> None:
        self.start() if on else self.stop()

    def next_camera(self) -> None:
        self.controls.next_source()
        self.start()

    def new_target(self) -> None:
        """New target: make a dataset, train, evaluate and mirror, from this window."""
        self.new_target_dock.show()
        self.new_target_dock.raise_()

    def _folder_of(self, stem: str) -> Path:
        """A target's folder when none is chosen: beside the settings, under targets/."""
        return self.choices.folder / "targets" / stem

    def _record_into(self, videos) -> None:  # noqa: ANN001 - app.ui.target_form.VideoList
        """New target's Record…: Record my face, the file added to `videos` when it ends."""
        if not self.session.running:
            self.say("start the camera first (Space), then record a video for New target")
            return
        self.face_recording.recorded = videos.add
        self.act_record_face.setChecked(True)

    def choose_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model bundle", self.choices.model)
        if path:
            self.load_model(path)

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Driving video", "", "Videos (*.mp4 *.avi *.mov *.mkv);;All (*)"
        )
        if path:
            self.controls.select_source(path)
            self.start()

    def load_model(self, path: str) -> None:
        self.say(f"loading model {path}…")
        self.views["generated"].show_message(f"loading {Path(path).name}…")
        self.session.load_model(path)

    def _model_done(self, path: str, error: str) -> None:
        self._show_model(path, error)
        self._record_when_ready()  # what the model makes, or the drawing when it did not load

    def _show_model(self, path: str, error: str) -> None:
        generated = self.views["generated"]
        if error:
            self.say(f"model not loaded: {error}")
            generated.show_message(f"model not loaded:\n{error}\n\nopen another with Ctrl+O")
            return
        self.choices.model = path
        bundle, mode = self.session.bundle, self.session.mode
        generated.title.setText(mode.title)
        said = f"{mode.model_label} {model_name(path)}: {bundle.size} px, {bundle.steps} steps, "
        self.say(said + f"on {bundle.backend_label}" + (f" ({bundle.note})" if bundle.note else ""))
        generated.show_message("waiting for a face…")

    # -- the driver's face -----------------------------------------------------------------------

    def calibrate(self) -> None:
        self.session.calibrate()
        self.say("calibrating: look at the camera with a neutral face for a second")

    def next_retarget(self) -> None:
        modes = RETARGET_MODES
        self.set_retarget(modes[(modes.index(self.session.retarget) + 1) % len(modes)])

    def set_retarget(self, mode: str) -> None:
        """auto, on or off: how the driver's points become the drawing (see app.face.FaceStage)."""
        self.session.set_retarget(mode)
        self.choices.retarget = mode
        self.controls.show_retarget(mode)
        self.say(RETARGET_CHOICES[mode])

    def smoothing_changed(self, value: int) -> None:
        self.session.set_smoothing(value / 100)
        self.choices.smoothing = value / 100

    # -- views -----------------------------------------------------------------------------------

    def mirror_changed(self, on: bool) -> None:
        self.choices.mirror = on

    def set_view_visible(self, name: str, on: bool) -> None:
        self.views[name].setVisible(on)
        self.choices.show(name, on)

    def _show_frame(self) -> None:
        frame = self.bridge.take()
        if frame is None:
            return
        self.pictures.show_frame(frame, self.session.mode, self.act_mirror.isChecked())
        self.frames_shown += 1
        self.last_face = frame.face

    # -- outputs ---------------------------------------------------------------------------------

    def toggle_recording(self, on: bool) -> None:
        if not on:
            path = self.session.stop_recording()
            self.say(f"recorded {path}" if path else "recording stopped, nothing recorded")
            return
        folder = Path(self.choices.record_dir)
        folder = folder if folder.is_dir() else Path.cwd()
        self._start_recording(folder / time.strftime("live-mirror-%Y%m%d-%H%M%S.mp4"))

    def _start_recording(self, path: Path) -> None:
        try:
            path = self.session.start_recording(path)
        except InputError as e:
            self.say(str(e))
            show_checked(self.act_record, False)  # the error stays on screen
            return
        show_checked(self.act_record, True)
        self.say(f"recording to {path} (R to stop)")

    def _record_when_ready(self) -> None:
        """--record: start once the source runs and the model asked for is in (or failed), so
        that the file holds one kind of picture, at the model's size, from its first frame."""
        path = self.record_at_start
        if path is None or not self.session.running or self.session.loading is not None:
            return
        self.record_at_start = None
        self._start_recording(path)

    def toggle_face_recording(self, on: bool) -> None:
        """Record the camera's own frames for the chosen seconds: footage for make-dataset."""
        self.face_recording.toggle(on)

    def toggle_virtual_camera(self, on: bool) -> None:
        try:
            self.session.set_virtual_camera(on)
        except InputError as e:
            self.say(str(e))
            show_checked(self.act_vcam, False)
            return
        self.say("virtual camera on" if on else "virtual camera off")

    # -- status ----------------------------------------------------------------------------------

    def status_text(self) -> str:
        return status_text(self.session, self.face_recording.cue)

    def update_status(self) -> None:
        self.stats_label.setText(self.status_text())
        if "retrying" in self.session.source_status:
            self.views["camera"].show_message(self.session.source_status)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        dock = self.new_target_dock
        if dock.busy and not self.property(BY_SIGNAL):
            asked = QMessageBox.question(self, "Stop the training?", STOP_QUESTION)
            if asked != QMessageBox.Yes:
                event.ignore()
                return
        dock.shutdown(CLOSE_WAIT_MS)  # a training saves its checkpoint before the window goes
        self.timer.stop()
        self.face_recording.stop()  # a face recording cut short keeps what it has
        self.choices.geometry = self.saveGeometry()
        self.choices.loop = self.loop
        self.choices.sync()
        if not self.session.close(1.0):
            log.warning("some threads did not stop within a second")
        super().closeEvent(event)


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
    p.add_argument(
        "--record",
        metavar="PATH",
        help="record the output to PATH (mp4) from the start, as R does; "
        "the file is finished when the window closes (also on Ctrl-C)",
    )
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
        if args.record:
            writable_path(args.record)  # a path that cannot be written: one line, before the window
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
            record=args.record,
        )
        window.show()
        try:
            # Ctrl-C and SIGTERM close the window as its close button does (app.ui.interrupt).
            with closed_by_signals(window):
                return app.exec_()
        finally:
            window.session.close()  # however the loop ended: the identity helper process too

    return run_command("live-mirror", body)


if __name__ == "__main__":
    sys.exit(main())
