"""How a long command shows its progress: the terminal's bar, JSON lines for a program, or nothing.

`--progress json` writes one JSON object a line on stderr, each with an "event" (progress,
preview, saved, summary, ...), flushed at once: the window runs the commands in a child process
and reads these lines (app.ui.child). Stderr, so stdout keeps the command's own last lines; log
lines and the `prog: error: ...` line go to stderr too, and a reader tells them apart by the
leading "{". The bar stays the terminal's default.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

PROGRESS_MODES = ("bar", "json", "none")
EVERY_SECONDS = 0.5  # at most this often a progress line, so a fast loop does not flood its reader


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stderr: {"event": event, **fields}."""
    sys.stderr.write(json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stderr.flush()


def progress_mode(progress: str, quiet: bool) -> str:
    """-q means no bar; an explicit --progress json wins over it (the window asks for both)."""
    return "none" if quiet and progress == "bar" else progress


class JsonBar:
    """tqdm's part that the commands use (update, set_postfix, close, n, total), as JSON lines:
    {"event": "progress", "stage": stage, "done": n, "total": total, ...postfix}, at most every
    EVERY_SECONDS and always at the last unit."""

    def __init__(self, stage: str, total: int, initial: int = 0) -> None:
        self.stage, self.total, self.n = stage, total, initial
        self.postfix: dict[str, Any] = {}
        self.last = 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= EVERY_SECONDS or self.n >= self.total:
            self.last = now
            emit("progress", stage=self.stage, done=self.n, total=self.total, **self.postfix)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values

    def close(self) -> None:
        """Nothing to close: the last update said where it stopped."""


def progress_bar(mode: str, stage: str, total: int, initial: int = 0, **tqdm_options: Any) -> Any:
    """A tqdm bar (mode "bar"), a disabled one ("none"), or a JsonBar ("json")."""
    if mode == "json":
        return JsonBar(stage, total, initial)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=mode == "none", **tqdm_options)
