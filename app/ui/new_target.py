"""New target (Ctrl+N): from videos of a target to a mirrored face without a terminal.

A dock beside the live views: the form (app.ui.target_form), then the project's own commands one
after another in a child process (app.ui.child: make-dataset, the trainer, evaluate, each with
`--progress json`), what each says as it runs (the dataset's progress and summary; the step, the
losses, the time left and the latest preview of held-out frames; the evaluation's figures and
contact sheet), and at the end the window mirrors the new bundle through ONNX Runtime: the
window's process never loads TensorFlow. Stop saves a checkpoint and a bundle, which is evaluated
and mirrored as a finished one is; Start again resumes the same target's run.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFont, QPixmap
from PyQt5.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.target_plan import Command, TargetPlan, from_run
from app.ui.child import ChildCommand
from app.ui.target_form import TargetForm, VideoList
from common.errors import InputError
from landmarks.dataset_config import BuildResult, summary

log = logging.getLogger(__name__)

PICTURE_HEIGHT = 260  # the preview's and the sheet's height on screen
STAGE_WORDS = {
    "dataset": "making the target's dataset",
    "user-dataset": "making your dataset",
    "train": "training",
    "evaluate": "evaluating the model on held-out frames",
}
INTERRUPTED = 130  # a command's exit status after Ctrl-C's signal (common.cli.INTERRUPTED)


def about(seconds: float | None) -> str:
    """The time left as the trainer's log says it: "about N minutes here"."""
    if seconds is None or not math.isfinite(seconds):
        return "timing the first steps…"
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} minute{'s' * (minutes != 1)} here"


def picture(label: QLabel, path: str | Path) -> bool:
    """Show the PNG at `path` in `label`, scaled to PICTURE_HEIGHT; False when unreadable."""
    pixmap = QPixmap(str(path))
    if pixmap.isNull():
        return False
    label.setPixmap(pixmap.scaledToHeight(PICTURE_HEIGHT, Qt.SmoothTransformation))
    return True


class NewTarget(QDockWidget):
    """The flow's dock. `mirror(model)`: load a bundle into the window; `record(list)`: record a
    video into `list`; `default_folder(stem)`: a target's folder when none is chosen."""

    def __init__(
        self,
        parent: QWidget,
        mirror: Callable[[str], None],
        record: Callable[[VideoList], None],
        default_folder: Callable[[str], Path],
    ) -> None:
        super().__init__("New target", parent)
        self.setObjectName("new-target")
        self.mirror = mirror
        self.child = ChildCommand(self)
        self.child.said.connect(self._event)
        self.child.finished.connect(self._finished)
        self.plan: TargetPlan | None = None
        self.queue: list[Command] = []
        self.current: Command | None = None
        self.saved: dict | None = None  # the last "saved" event of the training
        self.report: dict | None = None  # the last evaluation's figures (evaluate's JSON)
        self.closing = False
        self.form = TargetForm(default_folder, record)
        self._build()

    def _build(self) -> None:
        self.start_button, self.stop_button = QPushButton("Start"), QPushButton("Stop")
        self.open_button = QPushButton("Open run…")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.open_button.clicked.connect(self.ask_run)
        self.stop_button.setEnabled(False)
        self.stage, self.bar = QLabel("pick videos of the target"), QProgressBar()
        self.detail, self.made = QLabel(), QLabel()  # made: the datasets' summaries
        self.command = QLabel()
        self.command.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.figures = QLabel()
        self.figures.setFont(QFont("monospace", 8))
        self.preview, self.sheet = QLabel(), QLabel()
        for label in (self.detail, self.command, self.made):
            label.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.open_button):
            buttons.addWidget(b)
        left = QVBoxLayout()
        left.addWidget(self.form)
        left.addLayout(buttons)
        middle = QVBoxLayout()
        for w in (self.stage, self.bar, self.detail, self.made, self.command, self.figures):
            middle.addWidget(w)
        middle.addStretch(1)
        body = QWidget()
        row = QHBoxLayout(body)
        row.addLayout(left, 3)
        row.addLayout(middle, 3)
        row.addWidget(self.preview)
        row.addWidget(self.sheet)
        self.setWidget(body)

    @property
    def busy(self) -> bool:
        return self.child.running

    # -- the flow --------------------------------------------------------------------------------

    def start(self) -> None:
        if self.busy:
            return
        try:
            plan = self.form.plan()
            commands = plan.commands()
        except InputError as e:
            self.say(str(e))
            return
        self.plan, self.queue, self.saved = plan, commands, None
        for label in (self.preview, self.sheet, self.figures, self.made, self.detail):
            label.clear()
        self._running(True)
        self._next()

    def stop(self) -> None:
        """Ctrl-C's signal to the command: a training saves a checkpoint and its bundle."""
        if self.busy:
            self.stage.setText(f"stopping: {STAGE_WORDS[self.current.stage]} saves and ends…")
            self.child.stop()

    def shutdown(self, wait_ms: int) -> None:
        """The window closes: stop the command and wait for it (a training saves first)."""
        self.closing = True
        if self.busy:
            self.child.stop()
            self.child.wait(wait_ms)

    def ask_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A training run's folder")
        if path:
            self.open_run(path)

    def open_run(self, path: str) -> None:
        """A run folder trained from the terminal (or here): Start resumes it."""
        try:
            plan = from_run(path)
        except InputError as e:
            self.say(str(e))
            return
        self.form.load(plan)
        self.say(f"opened {plan.run}: Start resumes it")
        shown = next(iter(sorted((plan.run / "previews").glob("step_*.png"))[-1:]), None)
        if shown is not None:
            picture(self.preview, shown)

    def _next(self) -> None:
        if not self.queue:
            self._done()
            return
        self.current = command = self.queue.pop(0)
        self.stage.setText(STAGE_WORDS[command.stage] + "…")
        self.command.setText(command.shown())
        self.bar.setRange(0, 0)  # busy until the command says how far it is
        self.child.start(command)

    def _finished(self, code: int, reason: str) -> None:
        command = self.current
        if self.closing or command is None:
            return
        if code == 0:
            if command.stage == "evaluate":
                self._show_evaluation()
            self._next()
            return
        stopped = self.child.stopping and code == INTERRUPTED
        if stopped and command.stage == "train" and self.saved and self.saved.get("onnx"):
            self.queue = [c for c in self.queue if c.stage == "evaluate"]
            self._next()  # what was saved is evaluated and mirrored, as a finished run's is
            return
        self._running(False)
        self.bar.setRange(0, 1)
        self.say("stopped; Start continues where it stopped" if stopped else reason)

    def _done(self) -> None:
        self._running(False)
        model = str(self.plan.model)
        self.stage.setText(f"done: mirroring {model}")
        self.mirror(model)

    def _running(self, on: bool) -> None:
        self.form.setEnabled(not on)
        self.start_button.setEnabled(not on)
        self.open_button.setEnabled(not on)
        self.stop_button.setEnabled(on)

    def say(self, text: str) -> None:
        self.stage.setText(text)
        log.info("%s", text)

    # -- what the commands say -------------------------------------------------------------------

    def _event(self, event: dict) -> None:
        """One JSON event; one the window cannot read is logged, never raised: an exception in
        a slot would end the window, and a child's odd line must not."""
        try:
            self._show_event(event)
        except (KeyError, TypeError, ValueError) as e:
            log.warning("unreadable event %r from %s: %s", event, self.child.command, e)

    def _show_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "progress" and event.get("stage") == "train":
            self._train_progress(event)
        elif kind == "progress":
            self.bar.setRange(0, max(1, int(event["total"])))
            self.bar.setValue(int(event["done"]))
            self.detail.setText(f"frame {event['done']} of {event['total']}")
        elif kind == "summary" and event.get("stage") == "dataset":
            fields = {k: v for k, v in event.items() if k not in ("event", "stage")}
            said = summary(BuildResult(**fields))
            self.made.setText("\n".join(filter(None, [self.made.text(), said])))
        elif kind == "start":
            self.bar.setRange(0, max(1, int(event["steps"])))
            self.bar.setValue(int(event["step"]))
            resumed = f"resuming at step {event['step']}" if event["step"] else "starting"
            self.detail.setText(f"{resumed} of {event['steps']}; loading TensorFlow…")
        elif kind == "preview":
            picture(self.preview, event["path"])
            self.preview.setToolTip(f"step {event['step']}: drawing | model | real, held out")
        elif kind == "saved":
            self.saved = event

    def _train_progress(self, event: dict) -> None:
        step, steps = int(event["step"]), int(event["steps"])
        self.bar.setRange(0, max(1, steps))
        self.bar.setValue(step)
        losses = " ".join(f"{k} {v:.3f}" for k, v in event.get("losses", {}).items())
        self.detail.setText(f"step {step} of {steps} · {losses} · {about(event.get('eta_s'))}")

    def _show_evaluation(self) -> None:
        """evaluate's table as it printed it, and its contact sheet."""
        self.figures.setText("\n".join(self.child.stdout[:12]))
        picture(self.sheet, self.plan.sheet)
        self.sheet.setToolTip(str(self.plan.sheet))
        try:
            self.report = json.loads(self.plan.report.read_text())
        except (OSError, ValueError):
            self.report = None
