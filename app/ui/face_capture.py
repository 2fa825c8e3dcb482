"""The window's "Record my face": the camera's own frames into a file, with a countdown and prompts.

Footage for `make-dataset`: while it runs, the camera view's title and the status bar count down
and say what to do (landmarks.capture's prompts); it ends on its own when the seconds are up, or
when unchecked, keeping what was recorded.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QFileDialog, QMainWindow

from app.live import LiveSession
from app.ui.controls import Controls, show_checked
from app.ui.settings import WindowSettings
from app.ui.views import View
from common.errors import InputError
from landmarks.capture import cue

TICK_MS = 200  # how often the countdown and the prompt are brought up to date


@dataclass(frozen=True)
class FaceCapture:
    """A "Record my face" in progress: the camera's frames go to `path` for `seconds`."""

    path: Path
    seconds: float
    started: float  # time.monotonic()


class FaceRecording:
    """Record my face's state: idle, or a FaceCapture with its countdown (`cue`).

    `say` puts a line in the window's notice; `refresh` brings the status bar up to date.
    """

    def __init__(
        self,
        window: QMainWindow,
        session: LiveSession,
        settings: WindowSettings,
        controls: Controls,
        camera: View,
        say: Callable[[str], None],
        refresh: Callable[[], None],
    ) -> None:
        self.window, self.session, self.settings = window, session, settings
        self.controls, self.camera, self.say, self.refresh = controls, camera, say, refresh
        self.capture: FaceCapture | None = None
        self.cue = ""  # the countdown and prompt shown while recording
        # New target's Record…: where the next recording goes when it ends (then forgotten).
        self.recorded: Callable[[Path], None] | None = None
        self.timer = QTimer(window)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    def toggle(self, on: bool) -> None:
        """Start (asking where to), or end early keeping what was recorded."""
        if not on:
            self.finish()
            return
        self._start()
        if self.capture is None:  # not started (no camera, cancelled): nothing for New target
            self.recorded = None

    def _start(self) -> None:
        action = self.controls.act_record_face
        if not self.session.running:
            self.say("start the camera first (Space), then record your face")
            show_checked(action, False)
            return
        path = self._ask_path()
        if not path:
            show_checked(action, False)
            return
        if self.controls.act_record.isChecked():
            self.controls.act_record.setChecked(False)  # one recording at a time
        seconds = self.controls.face_seconds.value()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            recorded = self.session.start_recording(path, camera=True)
        except (InputError, OSError) as e:
            self.say(str(e))
            show_checked(action, False)
            return
        self.settings.face_dir = str(recorded.parent)
        self.settings.face_seconds = seconds
        self.controls.act_record.setEnabled(False)
        self.controls.face_seconds.setEnabled(False)
        self.capture = FaceCapture(recorded, seconds, time.monotonic())
        self.timer.start()
        self.tick()

    def _ask_path(self) -> str:
        folder = Path(self.settings.face_dir or self.settings.folder / "faces")
        default = folder / time.strftime("my-face-%Y%m%d-%H%M%S.mp4")
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Record my face to", str(default), "Videos (*.mp4);;All (*)"
        )
        return path

    def tick(self) -> None:
        capture = self.capture
        if capture is None:
            return
        elapsed = time.monotonic() - capture.started
        if elapsed >= capture.seconds:
            self.finish()
            return
        self.cue = cue(elapsed, capture.seconds)
        self.camera.title.setText(f"● recording your face, {self.cue}")
        self.refresh()

    def finish(self) -> None:
        capture, self.capture = self.capture, None
        if capture is None:
            return
        self.timer.stop()
        frames = self.session.recorded_frames or 0
        path = self.session.stop_recording()
        self.cue = ""
        self.camera.title.setText("camera")
        self.controls.act_record.setEnabled(True)
        self.controls.face_seconds.setEnabled(True)
        show_checked(self.controls.act_record_face, False)
        recorded, self.recorded = self.recorded, None
        if path is None:
            self.say("nothing recorded: no camera frames came")
            return
        if recorded is not None:
            recorded(path)
            self.say(f"recorded {frames} frames to {path}: added to New target's videos")
            return
        q = shlex.quote(str(path))
        self.say(
            f"recorded {frames} frames of your face to {path}. Next: New target (Ctrl+N), a "
            "swap with this video as yours; or in a terminal: "
            f"make-dataset {q} -o me-data --size 128, then "
            "train-swap target-data me-data -o runs/me-as-target "
            "(target-data: make-dataset of the face to become)"
        )

    def stop(self) -> None:
        """The window closes: no more ticks (session.close keeps what was recorded)."""
        self.timer.stop()
