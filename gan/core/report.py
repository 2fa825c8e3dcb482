"""What a run shows while it trains: the terminal's progress bar, or with `--progress json` one
JSON line per update on stderr for the window (common.progress), or nothing (-q).

The JSON events: "start" (the step resumed at and the steps), "progress" (step, steps, losses,
steps/s and the seconds left on this machine, at most every common.progress.EVERY_SECONDS),
"preview" (the PNG written and the validation's figures), "saved" (a checkpoint and its bundle,
and whether the bundle has its ONNX export).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common.progress import EVERY_SECONDS, emit, progress_mode

# With --progress json the first preview comes this many seconds into training, before the first
# scheduled one: a user watching the window sees the face coming within a minute, not after
# val_every steps. The terminal's default keeps the schedule alone (--first-preview sets it).
FIRST_PREVIEW_SECONDS = 20.0


class Report:
    """The bar (or JSON lines) of one run from `start` to `total`."""

    def __init__(self, cfg: Any, prog: str, start: int, total: int) -> None:
        self.mode = progress_mode(getattr(cfg, "progress", "bar"), cfg.quiet)
        self.start, self.total = start, total
        self.t0 = time.monotonic()
        self.timed: tuple[int, float] | None = None  # the first step after the compiled one
        self.last = 0.0
        first = getattr(cfg, "first_preview", None)
        if first is None and self.mode == "json":
            first = FIRST_PREVIEW_SECONDS
        self.first_preview = first
        self.previewed = first is None  # nothing early to come
        self.bar = None
        if self.mode == "json":
            emit("start", stage="train", prog=prog, step=start, steps=total)
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=start,
            unit="step",
            desc=prog,
            dynamic_ncols=True,
            mininterval=1.0,
            disable=self.mode == "none",
        )

    def step(self, step: int, values: dict[str, float], postfix: dict[str, str] | None) -> None:
        """After each step; `postfix`: the kind's short losses, when due for the bar."""
        now = time.monotonic()
        if self.timed is None and step > self.start + 1:
            self.timed = (step - 1, now)  # the first step compiles: timing starts after it
        if self.bar is not None:
            self.bar.update(1)
            if postfix:
                self.bar.set_postfix(**postfix)
            return
        if now - self.last < EVERY_SECONDS and step != self.total:
            return
        self.last = now
        rate = self.rate(step, now)
        left = None if rate is None else (self.total - step) / rate
        emit(
            "progress",
            stage="train",
            step=step,
            steps=self.total,
            losses={k: round(v, 5) for k, v in values.items()},
            steps_per_s=rate,
            eta_s=left,
        )

    def rate(self, step: int, now: float) -> float | None:
        if self.timed is None or now <= self.timed[1] or step <= self.timed[0]:
            return None
        return (step - self.timed[0]) / (now - self.timed[1])

    def early_preview_due(self, step: int) -> bool:
        """Whether this step should validate early: the first preview's seconds have passed
        and no preview was made yet in this process."""
        if self.previewed:
            return False
        return time.monotonic() - self.t0 >= self.first_preview

    def preview(self, path: Path, step: int, metrics: dict[str, float]) -> None:
        self.previewed = True
        if self.mode == "json":
            emit("preview", stage="train", step=step, path=str(path), metrics=metrics)

    def saved(self, step: int, model_dir: Path, onnx: bool) -> None:
        if self.mode == "json":
            emit("saved", stage="train", step=step, model=str(model_dir), onnx=onnx)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
