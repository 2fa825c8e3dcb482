"""The window's controls: actions with their shortcuts, the toolbar, the menus and the pickers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QComboBox,
    QLabel,
    QMainWindow,
    QSlider,
    QSpinBox,
    QToolBar,
)

from app.face import RETARGET_MODES
from app.ui.settings import WindowSettings
from app.ui.views import VIEWS

CAMERAS = 4  # camera indices offered in the picker
RETARGET_KEY = "T"  # cycles auto → on → off
RETARGET_CHOICES = {  # the menu's words for each --retarget mode
    "auto": "Retarget auto: your own points when you are the target",
    "on": "Retarget on: the target's face moved by your expression",
    "off": "Retarget off: your own points",
}


class Handlers(Protocol):
    """What the controls do: the window's slots."""

    def start(self) -> None: ...
    def new_target(self) -> None: ...
    def choose_model(self) -> None: ...
    def choose_video(self) -> None: ...
    def next_camera(self) -> None: ...
    def toggle_running(self, on: bool) -> None: ...
    def calibrate(self) -> None: ...
    def mirror_changed(self, on: bool) -> None: ...
    def toggle_recording(self, on: bool) -> None: ...
    def toggle_face_recording(self, on: bool) -> None: ...
    def toggle_virtual_camera(self, on: bool) -> None: ...
    def set_view_visible(self, name: str, on: bool) -> None: ...
    def next_retarget(self) -> None: ...
    def set_retarget(self, mode: str) -> None: ...
    def smoothing_changed(self, value: int) -> None: ...
    def close(self) -> bool: ...


def show_checked(action: QAction, on: bool, text: str | None = None) -> None:
    """Set a toggle's state (and text) without running its slot: the state came from elsewhere."""
    action.blockSignals(True)
    action.setChecked(on)
    if text is not None:
        action.setText(text)
    action.blockSignals(False)


class Controls:
    """Every action of the window (shortcuts work with the toolbar hidden), the toolbar and the
    menus that show them, the camera picker, the smoothing slider and Record my face's seconds.

    Built on `window`, wired to `handlers`, set up from `settings`.
    """

    def __init__(self, window: QMainWindow, handlers: Handlers, settings: WindowSettings) -> None:
        self.window, self.handlers = window, handlers
        self._build_actions(settings)
        self._build_pickers(settings)
        self._build_toolbar()
        self._build_menus()

    def _action(
        self,
        text: str,
        shortcut: str,
        slot: Callable[..., object],
        checkable: bool = False,
        checked: bool = False,
    ) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{text} ({shortcut})")
        action.setCheckable(checkable)
        if checkable:
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        self.window.addAction(action)  # shortcuts work even with the toolbar hidden
        return action

    def _build_actions(self, settings: WindowSettings) -> None:
        h, act = self.handlers, self._action
        self.act_new_target = act("New target…", "Ctrl+N", h.new_target)
        self.act_model = act("Model…", "Ctrl+O", h.choose_model)
        self.act_video = act("Video…", "Ctrl+Shift+O", h.choose_video)
        self.act_next_camera = act("Next camera", "Ctrl+K", h.next_camera)
        self.act_start = act("Start", "Space", h.toggle_running, checkable=True)
        self.act_calibrate = act("Calibrate", "C", h.calibrate)
        self.act_mirror = act("Mirror", "M", h.mirror_changed, True, settings.mirror)
        self.act_record = act("Record", "R", h.toggle_recording, checkable=True)
        self.act_record_face = act(
            "Record my face", "Ctrl+Shift+R", h.toggle_face_recording, checkable=True
        )
        self.act_vcam = act("Virtual camera", "V", h.toggle_virtual_camera, checkable=True)
        self.act_views = {
            spec.name: act(
                f"Show {spec.title}",
                spec.key,
                lambda on, n=spec.name: h.set_view_visible(n, on),
                True,
                settings.shown(spec.name),
            )
            for spec in VIEWS
        }
        self._build_retarget_actions(settings.retarget)
        self.act_less = act("Less smoothing", "[", lambda: self.nudge_smoothing(-10))
        self.act_more = act("More smoothing", "]", lambda: self.nudge_smoothing(10))
        self.act_quit = act("Quit", "Ctrl+Q", h.close)

    def _build_retarget_actions(self, mode: str) -> None:
        """One toolbar button that cycles the mode (T), and the three modes as menu choices."""
        self.act_retarget = self._action("Retarget", RETARGET_KEY, self.handlers.next_retarget)
        group = QActionGroup(self.window)
        group.setExclusive(True)
        self.act_retarget_modes = {}
        for choice in RETARGET_MODES:
            action = QAction(RETARGET_CHOICES[choice], self.window, checkable=True)
            action.triggered.connect(lambda _=False, m=choice: self.handlers.set_retarget(m))
            group.addAction(action)
            self.act_retarget_modes[choice] = action
        self.show_retarget(mode)

    def _build_pickers(self, settings: WindowSettings) -> None:
        self.camera_picker = QComboBox()
        self.camera_picker.setToolTip("camera or video (Ctrl+K: next)")
        for i in range(CAMERAS):
            self.camera_picker.addItem(f"Camera {i}", str(i))
        self.camera_picker.activated.connect(lambda _: self.handlers.start())
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 100)
        self.smoothing.setValue(round(100 * settings.smoothing))
        self.smoothing.setFixedWidth(120)
        self.smoothing.setToolTip("landmark smoothing ([ less, ] more)")
        self.smoothing.valueChanged.connect(self.handlers.smoothing_changed)
        self.face_seconds = QSpinBox()
        self.face_seconds.setRange(1, 600)
        self.face_seconds.setSuffix(" s")
        self.face_seconds.setValue(settings.face_seconds)
        self.face_seconds.setToolTip("how long Record my face records")

    def _build_toolbar(self) -> None:
        bar = QToolBar("controls")
        bar.setObjectName("controls")
        self.window.addToolBar(bar)
        for item in (
            self.act_new_target,
            self.act_model,
            self.camera_picker,
            self.act_video,
            None,
            self.act_start,
            self.act_calibrate,
            self.act_retarget,
            QLabel(" smoothing "),
            self.smoothing,
            None,
            self.act_mirror,
            self.act_record,
            self.act_record_face,
            self.face_seconds,
            self.act_vcam,
        ):
            if item is None:
                bar.addSeparator()
            elif isinstance(item, QAction):
                bar.addAction(item)
            else:
                bar.addWidget(item)

    def _build_menus(self) -> None:
        file_menu = [self.act_new_target, self.act_model, self.act_video, None, self.act_record]
        file_menu += [self.act_record_face, self.act_vcam, None, self.act_quit]
        camera_menu = [self.act_start, self.act_next_camera, self.act_calibrate, self.act_less]
        camera_menu += [self.act_more, None, self.act_retarget, *self.act_retarget_modes.values()]
        for title, actions in (
            ("&File", file_menu),
            ("&Camera", camera_menu),
            ("&View", [self.act_mirror, None, *self.act_views.values()]),
        ):
            menu = self.window.menuBar().addMenu(title)
            for action in actions:
                menu.addSeparator() if action is None else menu.addAction(action)

    # -- what the controls show ------------------------------------------------------------------

    def show_retarget(self, mode: str) -> None:
        self.act_retarget.setText(f"Retarget: {mode}")
        self.act_retarget.setToolTip(f"retarget {mode}: {RETARGET_KEY} for the next mode")
        self.act_retarget_modes[mode].setChecked(True)

    def show_running(self, on: bool) -> None:
        show_checked(self.act_start, on, "Stop" if on else "Start")

    def nudge_smoothing(self, step: int) -> None:
        self.smoothing.setValue(self.smoothing.value() + step)

    def select_source(self, spec: str) -> None:
        """Pick `spec` in the camera picker, adding it (a video file) when it is not there."""
        i = self.camera_picker.findData(spec)
        if i < 0:
            self.camera_picker.addItem(Path(spec).name, spec)
            i = self.camera_picker.count() - 1
        self.camera_picker.setCurrentIndex(i)

    def next_source(self) -> None:
        picker = self.camera_picker
        picker.setCurrentIndex((picker.currentIndex() + 1) % picker.count())
