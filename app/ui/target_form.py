"""New target's form: the kind, the target's videos (and the user's, for a swap), the folder, the
preset, the size and the steps; `plan()` reads it as an app.target_plan.TargetPlan."""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable
from pathlib import Path

from PyQt5.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.target_plan import KINDS, TRAINERS, TargetPlan
from common.errors import InputError

KIND_WORDS = {
    "pix2pix": "pix2pix: a drawing of your points becomes the target's face",
    "swap": "swap: your face becomes the target's",
}
SIZES = (64, 128, 256)
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All (*)"


def presets(kind: str) -> dict:
    """The kind's presets (its kind module loads no TensorFlow)."""
    return importlib.import_module(TRAINERS[kind].rsplit(".", 1)[0] + ".kind").PRESETS


class VideoList(QWidget):
    """A list of videos with Add… and Record… (the window's Record my face)."""

    def __init__(self, title: str, record: Callable[[VideoList], None]) -> None:
        super().__init__()
        self.title = title
        self.videos = QListWidget()
        self.videos.setMaximumHeight(52)
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self.ask)
        self.record_button = QPushButton("Record…")
        self.record_button.setToolTip("record one with the camera (Record my face)")
        self.record_button.clicked.connect(lambda: record(self))
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.videos.clear)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.videos, 1)
        for b in (self.add_button, self.record_button, self.clear_button):
            row.addWidget(b)

    def ask(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.title, "", VIDEO_FILTER)
        for p in paths:
            self.add(p)

    def add(self, path: str | Path) -> None:
        self.videos.addItem(str(path))

    def paths(self) -> list[str]:
        return [self.videos.item(i).text() for i in range(self.videos.count())]

    def set_paths(self, paths: list[str]) -> None:
        self.videos.clear()
        for p in paths:
            self.add(p)


class TargetForm(QWidget):
    """The flow's inputs. `default_folder(stem)`: where a target's folder goes when none is
    chosen; `record(list)`: record a video into `list` with the camera."""

    def __init__(
        self, default_folder: Callable[[str], Path], record: Callable[[VideoList], None]
    ) -> None:
        super().__init__()
        self.default_folder = default_folder
        self.opened: TargetPlan | None = None  # a run opened from its folder
        self.kind = QComboBox()
        for k in KINDS:
            self.kind.addItem(KIND_WORDS[k], k)
        self.targets = VideoList("Videos of the target", record)
        self.users = VideoList("Videos of you", record)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("default: from the first video's name")
        choose = QPushButton("…")
        choose.clicked.connect(self.ask_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(choose)
        self.preset, self.size, self.steps = QComboBox(), QComboBox(), QSpinBox()
        for s in SIZES:
            self.size.addItem(f"{s} px", s)
        self.steps.setRange(0, 1_000_000)
        self.steps.setSpecialValueText("the preset's")
        self.extra = QLineEdit()
        self.extra.setPlaceholderText("more training flags, e.g. --ngf 16")
        form = QFormLayout(self)
        form.addRow("Kind", self.kind)
        form.addRow("Target", self.targets)
        form.addRow("You", self.users)
        form.addRow("Folder", folder_row)
        for label, widget in (("Preset", self.preset), ("Size", self.size)):
            form.addRow(label, widget)
        form.addRow("Steps", self.steps)
        form.addRow("Flags", self.extra)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.users.setEnabled(kind == "swap")
        self.preset.blockSignals(True)
        self.preset.clear()
        for name in presets(kind):
            self.preset.addItem(name, name)
        self.preset.setCurrentIndex(max(0, self.preset.findData("quick")))
        self.preset.blockSignals(False)
        self._preset_changed()

    def _preset_changed(self) -> None:
        chosen = presets(self.kind.currentData()).get(self.preset.currentData(), {})
        self.size.setCurrentIndex(max(0, self.size.findData(chosen.get("size", 128))))
        self.steps.setValue(chosen.get("steps") or 0)

    def ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "The target's folder", self.folder.text())
        if path:
            self.folder.setText(path)

    def plan(self) -> TargetPlan:
        """The form as a plan; InputError, one line, for flags that do not parse."""
        kind, targets = self.kind.currentData(), self.targets.paths()
        folder = self.folder.text().strip()
        if not folder and targets:
            folder = str(self.default_folder(Path(targets[0]).stem))
            self.folder.setText(folder)
        try:
            extra = tuple(shlex.split(self.extra.text()))
        except ValueError as e:
            raise InputError(f"flags: {e}") from None
        opened = self.opened
        same = opened is not None and opened.kind == kind and opened.folder == folder
        return TargetPlan(
            kind=kind,
            folder=folder,
            targets=targets,
            users=self.users.paths() if kind == "swap" else [],
            preset=self.preset.currentData(),
            size=int(self.size.currentData()),
            steps=self.steps.value(),
            extra=extra,
            run_dir=opened.run_dir if same else "",
            data=opened.data if same and not targets else "",
            user_data=opened.user_data if same else "",
        )

    def load(self, plan: TargetPlan) -> None:
        """Show an opened run's plan: its kind, folder, preset, size, steps and flags."""
        self.opened = plan
        self.kind.setCurrentIndex(self.kind.findData(plan.kind))
        self.preset.setCurrentIndex(max(0, self.preset.findData(plan.preset)))
        self.size.setCurrentIndex(max(0, self.size.findData(plan.size)))
        self.steps.setValue(plan.steps)
        self.extra.setText(shlex.join(plan.extra))
        self.folder.setText(plan.folder)
        self.targets.set_paths(plan.targets)
        self.users.set_paths(plan.users)
