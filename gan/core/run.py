"""One training run, for every kind: its checkpoint (restored to resume), TensorBoard, previews,
validation and bundle writes, around the kind's trainer.

Only the chief writes the run folder; another worker checkpoints into a temporary folder that it
removes after each save (TensorFlow's rule for multi-worker checkpoints) and resumes from the
chief's checkpoint, as every worker does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from common.files import atomic_path
from gan.bundle.write import write_bundle
from gan.core.devices import Devices
from gan.core.kind import Kind, Trainer
from gan.core.step import float32_copy

log = logging.getLogger(__name__)

MAX_CHECKPOINTS = 2


@dataclasses.dataclass
class Run:
    """A run's trainer, checkpoint, TensorBoard writer and last metrics: what the loop works
    with."""

    kind: Kind
    cfg: Any
    run_dir: Path
    total: int  # the step to stop at
    start: int  # the step the checkpoint resumed at
    trainer: Trainer
    devices: Devices
    step_var: Any  # the checkpointed step counter
    manager: Any  # tf.train.CheckpointManager: the run's (chief) or a temporary folder's
    writer: Any  # TensorBoard summary writer (a no-op one off the chief)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    validation: dict[str, Any] = dataclasses.field(default_factory=dict)  # the metrics' source

    @property
    def saved_step(self) -> int:
        """The step of the last checkpoint (or of the one resumed from)."""
        return int(self.step_var.numpy())

    @property
    def bundle_file(self) -> Path:
        return self.run_dir / "model" / "bundle.json"

    def log_step(self, report: Any, step: int, values: dict[str, float]) -> None:
        """The step on `report` (gan.core.report.Report); every 10 steps and at the end, the
        losses on the progress bar and in TensorBoard."""
        due = step % 10 == 0 or step == self.total
        report.step(step, values, self.trainer.progress(values) if due else None)
        if not due:
            return
        with self.writer.as_default(step=step):
            for k, v in values.items():
                summary_scalar(f"loss/{k}", v)
            lr = self.trainer.learning_rate(step)
            if lr is not None:
                summary_scalar("lr", lr)

    def validate(self, step: int) -> Path | None:
        """The kind's validation (on the chief): metrics, a preview PNG, TensorBoard, a line;
        returns the PNG's path (None off the chief)."""
        if not self.devices.chief:
            return None
        found = self.trainer.validate(step)
        self.metrics, self.validation = found.metrics, found.record
        preview = self.run_dir / "previews" / f"step_{step:07d}.png"
        write_png(preview, found.preview)
        with self.writer.as_default(step=step):
            for k, v in found.metrics.items():
                summary_scalar(f"val/{k.removeprefix('val_')}", v)
            summary_image(found.caption, found.preview)
        log.info("step %d: %s", step, found.line)
        return preview

    def save(self, step: int, stopped: bool = False) -> bool:
        """Checkpoint at `step` (unless `stopped` finds one there already) and, on the chief,
        write the bundle beside it; returns whether that bundle has its ONNX export.

        `stopped`: the run was interrupted (Ctrl-C, the window's Stop): the bundle gets its
        ONNX export as a finished run's does, so the window can mirror it without TensorFlow."""
        if not stopped or step > self.saved_step or not self.manager.latest_checkpoint:
            self.step_var.assign(step)
            self.manager.save(checkpoint_number=step)
        if not self.devices.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            return False
        parts = self.trainer.bundle(step)
        # Trained in float16 or across devices: a float32 single-device copy runs anywhere.
        plain = not self.devices.mixed and self.devices.replicas == 1
        networks = {k: m if plain else float32_copy(m) for k, m in parts.networks.items()}
        info = {
            **parts.info,
            "steps": step,
            "metrics": self.metrics,
            "validation": self.validation,
            "training": self.devices.record(),
        }
        # ONNX only for the finished (or stopped) model: exporting at every checkpoint would cost
        # more than it is worth, and bundle.json never lists an ONNX file that lags behind.
        final = self.cfg.onnx and (step >= self.total or stopped)
        write_bundle(self.run_dir / "model", self.kind.name, networks, info, final, parts.files)
        return final


def open_run(
    kind: Kind, cfg: Any, run_dir: Path, total: int, trainer: Trainer, devices: Devices
) -> Run:
    """The run around `trainer`: its checkpoint restored where the run folder has one (every
    worker reads the chief's), TensorBoard, and the last metrics of a resumed run."""
    import tensorflow as tf

    with devices.strategy.scope():
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    ckpt = tf.train.Checkpoint(step=step_var, **trainer.checkpoint)
    latest = tf.train.latest_checkpoint(run_dir / "ckpt")
    if latest:
        ckpt.restore(latest).assert_existing_objects_matched()
        log.info("resuming %s at step %d", run_dir, int(step_var.numpy()))
    start = devices.agree(int(step_var.numpy()), "the step to resume at")
    if devices.chief:
        folder = run_dir / "ckpt"
        writer = tf.summary.create_file_writer(str(run_dir / "logs"))
        (run_dir / "previews").mkdir(exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix=f"ckpt-worker{devices.role.task}-"))
        writer = tf.summary.create_noop_writer()
    manager = tf.train.CheckpointManager(ckpt, folder, max_to_keep=MAX_CHECKPOINTS)
    run = Run(
        kind=kind,
        cfg=cfg,
        run_dir=run_dir,
        total=total,
        start=start,
        trainer=trainer,
        devices=devices,
        step_var=step_var,
        manager=manager,
        writer=writer,
    )
    if devices.chief and run.bundle_file.exists():  # a resumed run keeps its last metrics
        previous = json.loads(run.bundle_file.read_text())
        run.metrics, run.validation = previous.get("metrics", {}), previous.get("validation", {})
    return run


def _summary_metadata(plugin: str) -> bytes:
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    return meta.SerializeToString()


def summary_scalar(tag: str, value: float) -> None:
    """A TensorBoard scalar via core tf.summary.write: the tensorboard package is not needed."""
    import tensorflow as tf

    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=_summary_metadata("scalars"))


def summary_image(tag: str, image: Any) -> None:
    """A TensorBoard image (the images plugin's layout: width, height, PNG bytes)."""
    import tensorflow as tf

    h, w = image.shape[:2]
    tensor = tf.stack([tf.as_string(w), tf.as_string(h), tf.io.encode_png(image)])
    tf.summary.write(tag, tensor, metadata=_summary_metadata("images"))


def write_png(path: Path, image: Any) -> None:
    import tensorflow as tf

    with atomic_path(path) as tmp:
        tf.io.write_file(str(tmp), tf.io.encode_png(image))
