"""What a model kind gives the training core (gan/core): the one protocol every kind implements.

The core owns the rest: the flags every run has, presets, the run folder (config, checkpoints,
resume, TensorBoard, previews, bundles), the loop, the loss check and step cap, the devices and
their distribution strategy, mixed precision, `main`. A kind is a folder, gan/kinds/<kind>/, with
its networks, losses and data; kind.py there implements Kind, and the console script is
`main(KIND)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gan.core.devices import Devices


@dataclass
class Validation:
    """What one validation found: metrics for bundle.json and TensorBoard, where they came from,
    a preview (uint8 RGB grid), its caption, and the log line."""

    metrics: dict[str, float]
    record: dict[str, Any]
    preview: np.ndarray
    caption: str
    line: str


@dataclass
class BundleParts:
    """What a kind's bundle holds: its Keras networks (file name -> model; the core saves a
    float32 single-device copy of each), its bundle.json fields, and other files (name -> a
    writer of that path)."""

    networks: dict[str, Any]
    info: dict[str, Any]
    files: dict[str, Callable[[Path], None]] = field(default_factory=dict)


class Trainer(Protocol):
    """A kind's networks, optimizers, data and step for one run, built in the strategy's scope."""

    checkpoint: dict[str, Any]  # what the checkpoint holds: networks, optimizers, averages

    def train_step(self, *batch: Any) -> dict[str, Any]:
        """One step on a global batch split over the replicas (gan.core.step.compile_step);
        returns the losses."""

    def batches(self, start: int) -> Any:
        """Endless tf.data batches of the global batch size, for a run resumed at `start`."""

    def validate(self, step: int) -> Validation: ...

    def bundle(self, step: int) -> BundleParts: ...

    def progress(self, values: dict[str, float]) -> dict[str, str]:
        """The losses for the progress bar."""

    def learning_rate(self, step: int) -> float | None:
        """The rate at `step`, for TensorBoard, or None where it does not change."""

    def summary(self) -> dict[str, Any]:
        """What the finished run's summary adds (the optimizers' iterations)."""


class Kind(Protocol):
    """A model kind, as the training core sees it."""

    name: str  # bundle.json's "kind"
    prog: str  # the console command
    description: str  # --help's opening
    settings: type  # a dataclass extending RunSettings: a field a flag (gan.core.settings.flag)
    presets: dict[str, dict[str, Any]]  # preset -> the fields it fills in
    identity: tuple[str, ...]  # settings that make a run what it is: another value, another run
    saved_defaults: dict[str, Any]  # what a config.json from before a setting meant by its absence
    max_loss: float  # a loss past this (or not finite) stops the run: it has diverged
    batch_unit: str  # what --batch-size counts
    output_default: str  # where the run folder goes when -o is not given
    bundle_name: str  # what the finished run's line calls the bundle
    report_line: str  # its metrics, as str.format fields of Validation.metrics

    def prepare(self, cfg: Any) -> tuple[Any, Callable[[], Any]]:
        """(the settings resolved from the preset and the inputs, a reader of the inputs), the
        inputs checked: InputError for the user's mistakes. The core checks the run folder, then
        reads; both before TensorFlow loads."""

    def build(self, cfg: Any, data: Any, devices: Devices) -> Trainer:
        """The run's trainer, its variables made in devices.strategy's scope."""
