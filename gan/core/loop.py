"""The training loop of every kind: steps, the loss check, validation, checkpoints and bundles
on the run's schedule, the step cap for demos and tests, and this machine's time estimate."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from gan.core.report import Report
from gan.errors import TrainingDiverged

log = logging.getLogger(__name__)

MAX_STEPS_ENV = "FACE_MIRROR_MAX_STEPS"
RATE_STEPS = 20  # steps timed, after the first (compiled) one, for the estimate of the rest

# Tests set this to interrupt or poke a run: called with the step number after each step.
after_step_hook: Callable[[int], None] | None = None


def step_limit(steps: int) -> int:
    """`steps`, or fewer where MAX_STEPS_ENV caps it (demos and tests)."""
    cap = os.environ.get(MAX_STEPS_ENV)
    if not cap:
        return steps
    total = min(steps, max(1, int(cap)))
    log.info("%s=%s: training at most %d steps", MAX_STEPS_ENV, cap, total)
    return total


def check_losses(values: dict[str, float], step: int, run: Any, limit: float) -> None:
    """Stop with TrainingDiverged when a loss at `step` is NaN, infinite or past `limit`; `run`
    has the checkpoint manager and the run folder."""
    bad = [k for k, v in values.items() if not math.isfinite(v) or v > limit]
    if not bad:
        return
    last = run.manager.latest_checkpoint
    kept = (
        f"kept the last good checkpoint (step {int(last.rsplit('-', 1)[1])})"
        if last
        else "no checkpoint had been saved"
    )
    name = bad[0]
    raise TrainingDiverged(
        f"loss {name} = {values[name]:g} at step {step}; "
        f"stopped and {kept} in {run.run_dir / 'ckpt'}"
    )


class Pace:
    """Times RATE_STEPS steps after the first (which compiles) and says once, in the log, how
    long the rest will take on this machine."""

    def __init__(self, start: int, total: int) -> None:
        self.first, self.total = start + 1, total
        self.t0: float | None = None
        self.said = False

    def step(self, step: int) -> None:
        if self.said:
            return
        if step == self.first:
            self.t0 = time.perf_counter()
        elif self.t0 is not None and step == self.first + RATE_STEPS:
            rate = RATE_STEPS / max(time.perf_counter() - self.t0, 1e-9)
            left = self.total - step
            minutes = max(1, round(left / rate / 60))
            log.info(
                "about %d minute%s here (%.2f steps/s, %d steps to go)",
                minutes,
                "s" * (minutes != 1),
                rate,
                left,
            )
            self.said = True


def fit(run: Any, batches: Iterable[tuple[Any, ...]]) -> tuple[int, float]:
    """Train `run` (gan.core.run.Run) from run.start to run.total, one batch of `batches` a
    step; returns (the last step, seconds spent). Losses checked against the kind's limit,
    validation (an early one for the first preview), checkpoints and bundle writes on the run's
    schedule, and on Ctrl-C a checkpoint of the steps since the last one and a bundle with its
    ONNX export before KeyboardInterrupt goes on up."""
    cfg, step = run.cfg, run.start
    if step >= run.total:
        log.info("already trained %d of %d steps", step, run.total)
    report = Report(cfg, run.kind.prog, step, run.total)
    pace = Pace(step, run.total)
    t0 = time.perf_counter()
    try:
        feed = iter(batches)
        while step < run.total:
            values = {k: float(v) for k, v in run.trainer.train_step(*next(feed)).items()}
            check_losses(values, step + 1, run, run.kind.max_loss)
            step += 1
            pace.step(step)
            run.log_step(report, step, values)
            _scheduled(run, report, step)
            if after_step_hook is not None:
                after_step_hook(step)
    except KeyboardInterrupt:
        report.close()
        report.saved(step, run.bundle_file.parent, run.save(step, stopped=True))
        raise
    finally:
        report.close()
        run.writer.flush()
    if run.start >= run.total and not run.bundle_file.exists():
        report.saved(step, run.bundle_file.parent, run.save(step))
    return step, time.perf_counter() - t0


def _scheduled(run: Any, report: Report, step: int) -> None:
    """What is due after `step`: validation and its preview, a checkpoint and its bundle."""
    cfg = run.cfg
    if step % cfg.val_every == 0 or step == run.total or report.early_preview_due(step):
        preview = run.validate(step)
        if preview is not None:
            report.preview(preview, step, run.metrics)
    if step % cfg.checkpoint_every == 0 or step == run.total:
        report.saved(step, run.bundle_file.parent, run.save(step))
