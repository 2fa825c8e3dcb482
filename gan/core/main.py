"""The command line and the whole run of every kind: flags, checks before TensorFlow, devices,
the trainer, the loop, the summary and the one line a finished run prints.

A kind's console script is `sys.exit(main(KIND))`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from common.cli import import_tensorflow, run_command
from common.progress import emit
from gan.core import loop
from gan.core.devices import choose_devices, cluster_role
from gan.core.kind import Kind
from gan.core.run import open_run
from gan.core.run_dir import prepare_run_dir, run_lock
from gan.core.settings import build_parser
from gan.core.step import distribute

# Keras and TensorFlow are imported after the flags and the inputs are checked (and read): a
# mistyped path is one line at once, not TensorFlow's start-up notes first.

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted; checkpoint saved, rerun the same command to resume"


def parse_args(kind: Kind, argv: list[str] | None = None) -> Any:
    return kind.settings(**vars(build_parser(kind).parse_args(argv)))


def train(kind: Kind, cfg: Any) -> dict[str, Any]:
    """Train (or resume) a run of `kind`; returns a summary. Raises InputError for the user's
    mistakes, all of which are checked before TensorFlow is imported."""
    cfg, read = kind.prepare(cfg)
    chief = cluster_role().chief  # the others never write the run folder
    with run_lock(cfg.output, kind.prog) if chief else contextlib.nullcontext():
        if chief:
            config = dataclasses.asdict(cfg)
            prepare_run_dir(cfg.output, config, kind.identity, cfg.force, kind.saved_defaults)
        return _train(kind, cfg, read)


def _train(kind: Kind, cfg: Any, read: Any) -> dict[str, Any]:
    """train()'s body, in the run folder prepared (and locked)."""
    run_dir = Path(cfg.output)
    total = loop.step_limit(cfg.steps)
    log.info("%s: %s", kind.prog, json.dumps(dataclasses.asdict(cfg)))
    data = read()
    import_tensorflow(cfg.verbose)
    import keras

    keras.backend.clear_session()  # also resets the dtype policy, so it is set after this
    keras.utils.set_random_seed(cfg.seed)
    old_policy = keras.config.dtype_policy()
    try:
        devices = choose_devices(cfg.mixed_precision, cfg.xla, cfg.cpu_devices, cfg.verbose)
        keras.config.set_dtype_policy("mixed_float16" if devices.mixed else "float32")
        # The trainer plans for the steps this run takes, the cap included (a decaying learning
        # rate ends there); config.json keeps the steps asked for.
        trainer = kind.build(dataclasses.replace(cfg, steps=total), data, devices)
        run = open_run(kind, cfg, run_dir, total, trainer, devices)
        batches = distribute(devices.strategy, trainer.batches(run.start))
        step, elapsed = loop.fit(run, batches)
    finally:
        keras.config.set_dtype_policy(old_policy)
    done = step - run.start
    rate = done / elapsed if elapsed > 0 else None
    log.info("trained %d steps in %.1f s (%.2f steps/s)", done, elapsed, rate or float("nan"))
    return {
        "run_dir": str(run_dir),
        "model_dir": str(run_dir / "model"),
        "step": step,
        "start_step": run.start,
        "total_steps": total,
        **trainer.summary(),
        "metrics": run.metrics,
        "steps_per_s": rate,
        "seconds": elapsed,
        **devices.record(),
        "chief": devices.chief,
    }


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (pytest swaps it between tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    logger = logging.getLogger("gan")
    for h in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def main(kind: Kind, argv: list[str] | None = None) -> int:
    """A kind's command line: 0 when done, 2 for a user error, 130 when interrupted
    (checkpoint saved)."""
    cfg = parse_args(kind, argv)
    setup_logging(cfg.quiet, cfg.verbose)

    def body() -> None:
        summary = train(kind, cfg)
        if cfg.progress == "json":
            emit("summary", stage="train", **summary)
        if cfg.quiet:
            return
        if not summary["chief"]:
            print(f"{summary['step']} steps; the chief worker writes the run folder")
            return
        line = f"{summary['step']} steps; {kind.bundle_name} in {summary['model_dir']}"
        with contextlib.suppress(KeyError):  # no metrics: the run never validated
            line += kind.report_line.format(**summary["metrics"])
        print(line)

    return run_command(kind.prog, body, interrupted=INTERRUPTED)
