"""One of the project's commands in a child process, read as it runs: the window's thread never
waits on it, and a crash in it never takes the window down.

The commands run with `--progress json` (common.progress): each JSON line on their stderr becomes
a `said` event, every other line a `line`; the `prog: error: ...` line a command prints for a user's
mistake is kept as the error, word for word. Stop is Ctrl-C's signal, which the commands answer by
saving (a trainer: a checkpoint and its bundle) and exiting; past a timeout, SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal

from PyQt5.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, pyqtSignal

from app.target_plan import Command

log = logging.getLogger(__name__)

# The child runs at a lower priority: when the cores are short, the window's frames come first
# (the training waits a frame's time), and a long training never makes the mirror stutter.
CHILD_NICE = 10
STOP_TIMEOUT_MS = 120_000  # a stopped training saves, and writes its ONNX export, before it ends
KEPT_LINES = 40  # the last lines kept, for a crash's one-line reason
ERROR_LINE = re.compile(r"^[\w.-]+: error: ")


def niced(argv: list[str]) -> list[str]:
    """`argv` under `nice -n CHILD_NICE` where nice is found (it execs: the pid stays)."""
    found = shutil.which("nice")
    return [found, "-n", str(CHILD_NICE), *argv] if found else argv


class ChildCommand(QObject):
    """A Command run in a QProcess. `finished(code, reason)`: its exit status, and for a failure
    the line to show (the command's own error line, else the last line it wrote)."""

    said = pyqtSignal(dict)  # one JSON event (not "event": QObject.event is a method)
    line = pyqtSignal(str)
    finished = pyqtSignal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self.command: Command | None = None
        self.lines: list[str] = []
        self.stdout: list[str] = []
        self.error = ""
        self.stopping = False
        self._partial = {QProcess.StandardError: b"", QProcess.StandardOutput: b""}
        # Stop's deadline, owned here: it dies with this object, never firing at a deleted one.
        self.deadline = QTimer(self)
        self.deadline.setSingleShot(True)
        self.deadline.timeout.connect(self._terminate)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.NotRunning

    def start(self, command: Command) -> None:
        if self.process is not None:
            self.process.deleteLater()  # the last command's, ended: one QProcess at a time
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()  # PYTHONPATH and the rest, inherited
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        process.readyReadStandardError.connect(lambda: self._read(QProcess.StandardError))
        process.readyReadStandardOutput.connect(lambda: self._read(QProcess.StandardOutput))
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed_to_start)
        self.process, self.command, self.stopping = process, command, False
        self.lines, self.stdout, self.error = [], [], ""
        self._partial = {QProcess.StandardError: b"", QProcess.StandardOutput: b""}
        argv = niced(command.argv())
        log.info("running %s", command.shown())
        process.start(argv[0], argv[1:])

    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """Ctrl-C's signal: the command saves and ends; SIGTERM after `timeout_ms`."""
        if not self.running or self.stopping:
            return
        self.stopping = True
        os.kill(int(self.process.processId()), signal.SIGINT)
        self.deadline.start(timeout_ms)

    def wait(self, ms: int) -> bool:
        """Block until the command ends (the window closing), at most `ms`; then SIGTERM."""
        if self.process is None:
            return True
        if self.process.waitForFinished(ms):
            return True
        self._terminate()
        return self.process.waitForFinished(5000)

    def _terminate(self) -> None:
        if self.running:
            log.warning("%s did not stop in time: terminating it", self.command.prog)
            self.process.terminate()

    def _read(self, channel: int) -> None:
        process = self.process
        process.setReadChannel(channel)
        data = self._partial[channel] + bytes(process.readAll())
        *whole, self._partial[channel] = data.split(b"\n")
        for raw in whole:
            self._line(raw.decode("utf-8", "replace").rstrip("\r"), channel)

    def _line(self, text: str, channel: int) -> None:
        if channel == QProcess.StandardOutput:
            self.stdout.append(text)
            return
        if text.startswith("{"):
            try:
                found = json.loads(text)
            except ValueError:
                found = None
            if isinstance(found, dict) and "event" in found:
                self.said.emit(found)
                return
        if ERROR_LINE.match(text):
            self.error = text
        if text.strip():
            self.lines = [*self.lines[-KEPT_LINES + 1 :], text]
            self.line.emit(text)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self.deadline.stop()
        for channel in (QProcess.StandardError, QProcess.StandardOutput):
            self._read(channel)
            rest = self._partial[channel].decode("utf-8", "replace")
            if rest:
                self._line(rest, channel)
            self._partial[channel] = b""
        if status == QProcess.CrashExit:
            code = code or -1
        self.finished.emit(code, "" if code == 0 else self.reason(code))

    def reason(self, code: int) -> str:
        if self.error:
            return self.error
        last = self.lines[-1] if self.lines else "no output"
        return f"{self.command.prog} ended with exit status {code}: {last}"

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.FailedToStart:
            self.finished.emit(-1, f"{self.command.prog}: could not start {self.command.argv()[0]}")
