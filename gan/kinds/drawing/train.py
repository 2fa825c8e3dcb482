"""`train-pix2pix`: train the U-Net + PatchGAN on an A|B dataset and write the model bundle."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.cli import import_tensorflow, quiet_native_stderr, run_command
from common.files import atomic_path
from gan.bundle.pictures import to_model_range, to_uint8
from gan.core import run_dir as run_folder
from gan.core.dataset import DatasetInfo, find_dataset
from gan.errors import InputError, TrainingDiverged
from gan.kinds.drawing.data import choose_size, load_pairs, train_dataset
from gan.kinds.drawing.options import (
    GAN_LOSSES,
    LAMBDA_L1,
    MAX_REFERENCES,
    RECIPES,
    REFERENCES,
    REGIONS,
)
from gan.metrics import image_metrics

# Keras and TensorFlow are imported inside the functions that need them, after the flags and the
# dataset are checked: a mistyped path is one line at once, not TensorFlow's start-up notes first.

log = logging.getLogger("gan.kinds.drawing.train")  # also under `python -m gan.kinds.drawing.train`

PROG = "train-pix2pix"
INTERRUPTED = "interrupted; checkpoint saved, rerun the same command to resume"
ADAM_BETA_1 = 0.5
MAX_LOSS = 1e4  # well past any healthy value (L1 term <= 2 * lambda): the run has exploded
MAX_VAL_PAIRS = 64  # validation cost stays bounded on long validation tails
PREVIEW_PAIRS = 4
MAX_STEPS_ENV = "FACE_MIRROR_MAX_STEPS"

QUICK_LAMBDA_L1 = 1000.0  # the reference recipe's L1 weight: see README, "Recipes"
# Flags a preset fills in when the command line leaves them out.
PRESETS: dict[str, dict[str, Any]] = {
    # Isola et al. 2017: 256 px, 64 filters, batch 1, 200 epochs (facades).
    "paper": {
        "size": 256,
        "ngf": 64,
        "ndf": 64,
        "batch_size": 1,
        "epochs": 200.0,
        "checkpoint_every": 2000,
        "val_every": 1000,
        "recipe": "pix2pix",
        "ema": 0.0,
        "region": "face",
        "references": 1,
        "lambda_l1": LAMBDA_L1,
    },
    # ~5 minutes on a 2-core CPU: 128 px, ngf/ndf 32 at ~170 ms a step in the real loop; ndf 64
    # would triple the step, ngf 64 would make it 650 ms. The reference recipe is ahead of
    # retrieval after 1,500 steps (README, "Recipes"); more did not help (3,500: identity lost).
    "quick": {
        "size": 128,
        "ngf": 32,
        "ndf": 32,
        "batch_size": 1,
        "steps": 1500,
        "checkpoint_every": 500,
        "val_every": 500,
        "recipe": "reference",
        "ema": 0.999,
        "region": "mouth",
        "references": REFERENCES,
        "lambda_l1": QUICK_LAMBDA_L1,
    },
    # The quick recipe at the paper's size and width, for a GPU (1.7 s a step on 2 CPU cores).
    "gpu": {
        "size": 256,
        "ngf": 64,
        "ndf": 64,
        "batch_size": 1,
        "steps": 40000,
        "checkpoint_every": 2000,
        "val_every": 1000,
        "recipe": "reference",
        "ema": 0.999,
        "region": "mouth",
        "references": REFERENCES,
        "lambda_l1": QUICK_LAMBDA_L1,
    },
}
# Settings that make a run what it is: a run directory with other values is another run.
IDENTITY = (
    "dataset",
    "size",
    "ngf",
    "ndf",
    "batch_size",
    "lambda_l1",
    "lr",
    "gan_loss",
    "direction",
    "jitter",
    "flip",
    "seed",
    "recipe",
    "ema",
    "region",
    "references",
)

# What runs written before these settings existed did: they resume with these values.
SETTINGS_BEFORE_RECIPES = {"recipe": "pix2pix", "ema": 0.0, "region": "face", "references": 1}

# Tests set this to interrupt or poke a run: called with the step number after each step.
after_step_hook: Callable[[int], None] | None = None


@dataclass
class TrainConfig:
    """Every setting of a training run; each field is one command-line flag."""

    dataset: str
    output: str | None = None
    preset: str = "quick"
    recipe: str | None = None
    ema: float | None = None
    region: str | None = None
    references: int | None = None
    steps: int | None = None
    epochs: float | None = None
    size: int | None = None
    ngf: int | None = None
    ndf: int | None = None
    batch_size: int | None = None
    lambda_l1: float | None = None
    lr: float = 2e-4
    gan_loss: str = "bce"
    direction: str = "AtoB"
    jitter: bool = True
    flip: bool = False
    checkpoint_every: int | None = None
    val_every: int | None = None
    mixed_precision: str = "auto"
    xla: str = "auto"
    onnx: bool = True
    force: bool = False
    seed: int = 0
    quiet: bool = False
    verbose: bool = False

    def resolved(self, info: DatasetInfo) -> TrainConfig:
        """Fill what the flags left open from the preset and the dataset."""
        preset = PRESETS[self.preset]
        cfg = dataclasses.replace(self)
        names = (
            "size",
            "ngf",
            "ndf",
            "batch_size",
            "checkpoint_every",
            "val_every",
            "recipe",
            "ema",
            "region",
            "references",
            "lambda_l1",
        )
        for name in names:
            if getattr(cfg, name) is None:
                setattr(cfg, name, preset[name])
        if self.recipe is None and info.kind != "face-mirror":
            cfg.recipe = "pix2pix"  # a plain A|B folder has no points to retrieve by
        if cfg.steps is None and cfg.epochs is None:
            cfg.steps, cfg.epochs = preset.get("steps"), preset.get("epochs")
        if cfg.steps is None:
            cfg.steps = max(1, math.ceil(cfg.epochs * len(info.train_files) / cfg.batch_size))
        cfg.size = choose_size(info, cfg.size)
        cfg.dataset = str(info.root)
        if cfg.output is None:
            cfg.output = str(Path("runs") / info.root.name)
        for name in ("steps", "ngf", "ndf", "batch_size", "checkpoint_every", "val_every"):
            if getattr(cfg, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1")
        if not cfg.lr > 0 or cfg.lambda_l1 < 0:
            raise InputError("--lr must be positive and --lambda-l1 not negative")
        if not 0 <= cfg.ema < 1:
            raise InputError("--ema must be in [0, 1)")
        if not 1 <= cfg.references <= MAX_REFERENCES:
            raise InputError(f"--references must be 1 to {MAX_REFERENCES}")
        if cfg.recipe == "reference" and info.kind != "face-mirror":
            raise InputError(
                f"{info.root}: the reference recipe needs a make-dataset folder (its points); "
                "use --recipe pix2pix for plain A|B folders"
            )
        return cfg


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every default, except None ones, whose help says where the value comes from."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The flags: one per TrainConfig field, each default shown once in --help."""
    p = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_HelpFormatter,
        description="Train pix2pix (U-Net + 70x70 PatchGAN) on an A|B dataset and write a model "
        "bundle to RUN_DIR/model. Rerun the same command to resume. Recipes: pix2pix (the "
        "drawing alone, as in the paper) or reference (the drawing plus the nearest training "
        "photo, warped onto the drawing's points; the generator changes that photo inside the "
        "face).",
    )
    d = TrainConfig.__dataclass_fields__
    p.add_argument("dataset", help="a make-dataset folder, or a pix2pix A|B folder (e.g. facades)")
    p.add_argument("-o", "--output", metavar="RUN_DIR", help="run folder (default: runs/<dataset>)")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=d["preset"].default,
        help="defaults for the flags below; "
        + "; ".join(
            f"{k}: " + ", ".join(f"{n}={v}" for n, v in v.items()) for k, v in PRESETS.items()
        ),
    )
    _add_training_flags(p, d)
    _add_augmentation_flags(p, d)
    _add_run_flags(p, d)
    return p


def _add_training_flags(p: argparse.ArgumentParser, d: dict[str, dataclasses.Field]) -> None:
    """How long and how big: steps, sizes, widths, loss weights and the learning rate."""
    steps = p.add_mutually_exclusive_group()
    steps.add_argument("--steps", type=int, help="training steps (default: from the preset)")
    steps.add_argument(
        "--epochs", type=float, help="passes over the training pairs, instead of --steps"
    )
    p.add_argument(
        "--size",
        type=int,
        help="image size, 64..512, a power of two (default: "
        "the preset's); pairs of another size are resized",
    )
    p.add_argument("--ngf", type=int, help="generator width (default: from the preset)")
    p.add_argument("--ndf", type=int, help="discriminator width (default: from the preset)")
    p.add_argument(
        "--batch-size", type=int, help="pairs per step and GPU (default: from the preset)"
    )
    p.add_argument(
        "--lambda-l1",
        type=float,
        help="weight of the L1 term against the adversarial one (default: from the preset)",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=d["lr"].default,
        help="Adam learning rate (beta_1 0.5); constant, then linear decay to 0 over "
        "the second half",
    )
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        help="what the generator sees: the drawing alone (pix2pix) or the drawing and a retrieved "
        "photo of the target (reference) (default: from the preset)",
    )
    p.add_argument(
        "--region",
        choices=REGIONS,
        help="reference recipe: what the generator may change, the whole face or only the mouth "
        "and jaw; the rest is the warped reference photo (default: from the preset)",
    )
    p.add_argument(
        "--references",
        type=int,
        help="reference recipe: how many of the nearest training photos are warped and mixed "
        "into the reference, with weights that change smoothly as the points move (1: the "
        "nearest alone, which flickers when the nearest changes; default: from the preset)",
    )
    p.add_argument(
        "--ema",
        type=float,
        help="decay of the moving average of the generator's weights that is validated and "
        "exported; 0: the weights themselves (default: from the preset)",
    )
    p.add_argument(
        "--gan-loss",
        choices=GAN_LOSSES,
        default=d["gan_loss"].default,
        help="adversarial loss",
    )


def _add_augmentation_flags(p: argparse.ArgumentParser, d: dict[str, dataclasses.Field]) -> None:
    """Which half is the input, and how pairs are jittered."""
    p.add_argument(
        "--direction",
        choices=("AtoB", "BtoA"),
        default=d["direction"].default,
        help="AtoB: the left half is the input drawing, the right half the target",
    )
    p.add_argument(
        "--jitter",
        action=argparse.BooleanOptionalAction,
        default=d["jitter"].default,
        help="resize to 1.12x and random-crop back (same crop for both halves)",
    )
    p.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=d["flip"].default,
        help="random left-right flips; off because faces are not symmetric (a "
        "parting, a mole) and a flipped target blends two identities",
    )


def _add_run_flags(p: argparse.ArgumentParser, d: dict[str, dataclasses.Field]) -> None:
    """How often to save and validate, the machine's features, and what is printed."""
    p.add_argument(
        "--checkpoint-every",
        type=int,
        help="steps between checkpoints and bundle writes (default: from the preset)",
    )
    p.add_argument(
        "--val-every",
        type=int,
        help="steps between validations and previews (default: from the preset)",
    )
    p.add_argument(
        "--mixed-precision",
        choices=("auto", "on", "off"),
        default=d["mixed_precision"].default,
        help="float16 compute; auto = on a GPU",
    )
    p.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default=d["xla"].default,
        help="XLA-compile the train step; auto = on a GPU",
    )
    p.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=d["onnx"].default,
        help="at the end, also write generator.onnx: inference with ONNX Runtime, no TensorFlow "
        "(seconds at 128 px, a minute or two at 256)",
    )
    p.add_argument(
        "--force", action="store_true", help="start afresh in a run folder that holds another run"
    )
    p.add_argument("--seed", type=int, default=d["seed"].default, help="random seed")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar, only warnings and errors on stderr",
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="also show TensorFlow's own start-up and device notes",
    )


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    args = build_parser().parse_args(argv)
    return TrainConfig(**vars(args))


# --- the run folder ---


def _identity(cfg: TrainConfig | dict) -> dict[str, Any]:
    values = cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg)
    return {k: values.get(k) for k in IDENTITY}


def prepare_run_dir(cfg: TrainConfig) -> Path:
    """Create RUN_DIR, or check that it holds this same run (then training resumes)."""
    return run_folder.prepare_run_dir(
        cfg.output, dataclasses.asdict(cfg), IDENTITY, cfg.force, SETTINGS_BEFORE_RECIPES
    )


# --- models, optimizers and the compiled step ---


def _clip_unit(x: float) -> float:
    return min(1.0, max(0.0, x))


def lr_at(lr: float, total_steps: int, step: Any, clip: Callable[[Any], Any] = _clip_unit) -> Any:
    """The paper's rate: constant for the first half, then linear decay to 0 at `total_steps`.

    `step` may be a tensor, with a tensor `clip`, so the optimizer's schedule and the logged
    value are this one formula.
    """
    half = total_steps / 2.0
    return lr * clip((total_steps - step) / max(total_steps - half, 1.0))


def linear_decay_schedule(lr: float, total_steps: int) -> Any:
    """lr_at as a Keras schedule, for the optimizers."""
    import keras

    class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            step = keras.ops.cast(step, "float32")
            return lr_at(lr, total_steps, step, clip=lambda x: keras.ops.clip(x, 0.0, 1.0))

        def get_config(self) -> dict:
            return {"lr": lr, "total_steps": total_steps}

    return LinearDecay()


def make_optimizer(lr: float, total_steps: int, mixed: bool) -> Any:
    import keras

    opt = keras.optimizers.Adam(linear_decay_schedule(lr, total_steps), beta_1=ADAM_BETA_1)
    return keras.optimizers.LossScaleOptimizer(opt) if mixed else opt


def make_train_step(
    generator,
    discriminator,
    g_opt,
    d_opt,
    lambda_l1: float = LAMBDA_L1,
    gan_loss: str = "bce",
    xla: bool = False,
    strategy: Any = None,
    recipe: str = "pix2pix",
    ema_generator: Any = None,
    ema: float = 0.0,
) -> Callable[[Any, Any], dict[str, Any]]:
    """One compiled step: forward once, update D and G together; returns the losses.

    recipe "reference": the discriminator sees the real photo inside the face mask over the
    warped reference outside it, as the generator's output is made, so it judges the face and
    not the background. `ema_generator`: a copy whose weights follow the generator's as an
    exponential moving average with decay `ema` (less at first, so it starts close).
    """
    import tensorflow as tf

    from gan.kinds.drawing import losses

    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync

    def follow(step):
        decay = tf.minimum(tf.constant(ema, tf.float32), (1.0 + step) / (10.0 + step))
        for e, w in zip(ema_generator.weights, generator.weights, strict=True):
            e.assign(decay * e + (1.0 - decay) * tf.cast(w, e.dtype))

    def replica_step(a, b):
        if recipe == "reference":
            mask = a[..., 6:7]
            b_judged = mask * b + (1.0 - mask) * a[..., 3:6]
        else:
            b_judged = b
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(a, training=True)
            d_real = discriminator([a, b_judged], training=True)
            d_fake = discriminator([a, fake], training=True)
            g_total, g_gan, g_l1 = losses.generator_loss(d_fake, fake, b, lambda_l1, gan_loss)
            d_loss = losses.discriminator_loss(d_real, d_fake, gan_loss)
            # Gradients are summed over replicas, so each replica's share of the mean is 1/n.
            g_obj = g_opt.scale_loss(g_total / replicas)
            d_obj = d_opt.scale_loss(d_loss / replicas)
        g_grads = g_tape.gradient(g_obj, generator.trainable_variables)
        d_grads = d_tape.gradient(d_obj, discriminator.trainable_variables)
        g_opt.apply(g_grads, generator.trainable_variables)
        d_opt.apply(d_grads, discriminator.trainable_variables)
        return {"g_total": g_total, "g_gan": g_gan, "g_l1": g_l1, "d": d_loss}

    def average() -> None:
        if ema_generator is not None:
            follow(tf.cast(g_opt.iterations, tf.float32))

    if replicas == 1:

        def step(a, b):
            out = replica_step(a, b)
            average()
            return out

        return tf.function(step, jit_compile=xla)

    @tf.function
    def distributed_step(a, b):
        out = strategy.run(replica_step, args=(a, b))
        average()  # in the cross-replica context: one update of every mirror of the average
        return {
            k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in out.items()
        }

    return distributed_step


def _devices(cfg: TrainConfig) -> tuple[Any, bool, bool]:
    """(strategy, mixed precision?, XLA?) for the machine: GPU features only on a GPU."""
    import tensorflow as tf

    with quiet_native_stderr(cfg.verbose):  # the first device query is where CUDA speaks up
        gpus = tf.config.list_physical_devices("GPU")
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    mixed = {"on": True, "off": False}.get(cfg.mixed_precision, bool(gpus))
    # XLA does not compile a cross-replica step; with several GPUs the step runs un-jitted.
    xla = {"on": True, "off": False}.get(cfg.xla, bool(gpus)) and len(gpus) <= 1
    log.info("devices: %d GPU(s); mixed precision %s; XLA %s", len(gpus), mixed, xla)
    if not gpus and cfg.size is not None and cfg.ngf is not None and cfg.size * cfg.ngf >= 256 * 64:
        log.warning(
            "a paper-size model on a CPU takes ~1.7 s a step (2 cores); "
            "--preset quick is made for CPUs"
        )
    return strategy, mixed, xla


# --- validation, previews, bundle ---


def _predict(generator, a_uint8, batch: int = 8):
    import numpy as np

    out = []
    for i in range(0, len(a_uint8), batch):
        chunk = a_uint8[i : i + batch]
        x = to_model_range(chunk) if chunk.dtype == np.uint8 else chunk
        y = np.asarray(generator(x, training=False), dtype=np.float32)
        out.append(to_uint8(y))
    return np.concatenate(out)


def validate(generator: Any, a: Any, b: Any) -> tuple[dict[str, float], Any]:
    """Metrics of G(a) against b (uint8 arrays), and the generated images."""
    fake = _predict(generator, a)
    m = image_metrics(fake, b)
    return {"val_l1": m["l1"], "val_psnr": m["psnr"], "val_ssim": m["ssim"]}, fake


def preview_grid(a: Any, fake: Any, b: Any) -> Any:
    """Rows of drawing | generated | real, uint8."""
    import numpy as np

    return np.concatenate(
        [np.concatenate([x, y, z], axis=1) for x, y, z in zip(a, fake, b, strict=True)]
    )


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


def _write_png(path: Path, image) -> None:
    import tensorflow as tf

    with atomic_path(path) as tmp:
        tf.io.write_file(str(tmp), tf.io.encode_png(image))


def _export_generator(generator, cfg: TrainConfig, plain: bool):
    """The generator to save: itself if `plain`, else a float32 single-device copy, so a bundle
    trained in mixed precision or on several GPUs runs at full precision anywhere."""
    import keras

    from gan.kinds.drawing.models import Generator

    if plain:
        return generator
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        clone = Generator(cfg.size, cfg.ngf, cfg.recipe)
    finally:
        keras.config.set_dtype_policy(policy)
    clone.set_weights(generator.get_weights())
    return clone


def _shape_at(shape: Any, size: int, dataset_size: int) -> list[list[float]] | None:
    """68 points from the dataset's crop pixels to the model's, as bundle.json lists them."""
    if shape is None:
        return None
    if size != dataset_size:
        shape = shape * (size / dataset_size)
    return [[float(x), float(y)] for x, y in shape]


def bundle_info(
    cfg: TrainConfig,
    info: DatasetInfo,
    step: int,
    metrics: dict[str, float],
    validation: dict[str, Any],
) -> dict[str, Any]:
    descriptor = info.target_descriptor
    return {
        "size": cfg.size,
        "mode": info.mode,
        "drawing": info.drawing,
        "alignment": info.alignment,
        "reference_shape": _shape_at(info.reference_shape, cfg.size, info.image_size),
        "neutral_shape": _shape_at(info.neutral_shape, cfg.size, info.image_size),
        "target_descriptor": None if descriptor is None else [float(v) for v in descriptor],
        "steps": step,
        "direction": "AtoB",
        "recipe": cfg.recipe,
        "region": cfg.region,
        "references": cfg.references,
        "ema": cfg.ema,
        "ngf": cfg.ngf,
        "dataset": str(info.root),
        "dataset_size": info.image_size,
        "metrics": metrics,
        "validation": validation,
    }


# --- one run: what the loop needs, built once ---


@dataclass
class Run:
    """A run's models, optimizers, checkpoint, data and step: what the loop works with."""

    cfg: TrainConfig
    info: DatasetInfo
    run_dir: Path
    total: int  # the step to stop at
    start: int  # the step the checkpoint resumed at
    generator: Any
    discriminator: Any
    g_opt: Any
    d_opt: Any
    step_var: Any  # the checkpointed step counter
    manager: Any  # tf.train.CheckpointManager
    train_step: Callable[[Any, Any], dict[str, Any]]
    batches: Any  # the distributed, endless training dataset
    val_a: Any
    val_b: Any
    val_split: str  # "val", or "train" when the dataset has no validation pairs
    writer: Any  # TensorBoard summary writer
    plain_export: bool  # the generator is saved as is (float32, one device)
    ema_generator: Any = None  # the weights' moving average: validated and exported when set
    val_drawings: Any = None  # the validation drawings, for previews (val_a may be more)
    bank: Any = None  # reference.ReferenceBank, saved with the bundle (reference recipe)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    validation: dict[str, Any] = dataclasses.field(default_factory=dict)  # the metrics' source

    @property
    def bundle_file(self) -> Path:
        return self.run_dir / "model" / "bundle.json"

    def save(self, step: int) -> None:
        """Checkpoint at `step` and write the model bundle beside it."""
        from gan.kinds.drawing.bundle import save_bundle

        self.step_var.assign(step)
        self.manager.save(checkpoint_number=step)
        exported = _export_generator(self.exported, self.cfg, self.plain_export)
        info = bundle_info(self.cfg, self.info, step, self.metrics, self.validation)
        # ONNX only for the finished model: exporting at every checkpoint would cost more than
        # it is worth, and bundle.json never lists an ONNX file that lags behind the weights.
        final = self.cfg.onnx and step >= self.total
        if final:
            log.info("exporting the generator to ONNX ...")
        save_bundle(self.run_dir / "model", exported, info, onnx=final, bank=self.bank)

    @property
    def exported(self) -> Any:
        """The generator that is validated and saved: the moving average when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def validate(self, step: int) -> None:
        """Metrics on the validation pairs, a preview PNG and their TensorBoard entries."""
        values, fake = validate(self.exported, self.val_a, self.val_b)
        self.metrics = values
        self.validation.update(split=self.val_split, pairs=len(self.val_a), step=step)
        n = PREVIEW_PAIRS
        shown = self.val_a if self.val_drawings is None else self.val_drawings
        grid = preview_grid(shown[:n], fake[:n], self.val_b[:n])
        _write_png(self.run_dir / "previews" / f"step_{step:07d}.png", grid)
        with self.writer.as_default(step=step):
            for k, v in values.items():
                summary_scalar(f"val/{k[4:]}", v)
            summary_image("drawing | generated | real", grid)
        log.info(
            "step %d: val L1 %.4f, PSNR %.2f dB, SSIM %.4f (%s split, %d pairs)",
            step,
            values["val_l1"],
            values["val_psnr"],
            values["val_ssim"],
            self.val_split,
            len(self.val_a),
        )


def _networks(cfg: TrainConfig, total: int, strategy: Any, mixed: bool) -> tuple[Any, ...]:
    """(generator, discriminator, g_opt, d_opt, step counter, EMA generator or None), made in the
    strategy's scope."""
    import tensorflow as tf

    from gan.kinds.drawing.models import REFERENCE_CHANNELS, Discriminator, Generator

    channels = REFERENCE_CHANNELS if cfg.recipe == "reference" else 3
    with strategy.scope():
        generator = Generator(cfg.size, cfg.ngf, cfg.recipe)
        discriminator = Discriminator(cfg.size, cfg.ndf, channels)
        g_opt = make_optimizer(cfg.lr, total, mixed)
        d_opt = make_optimizer(cfg.lr, total, mixed)
        # Built now so a checkpoint restores into existing slots, not deferred ones.
        g_opt.build(generator.trainable_variables)
        d_opt.build(discriminator.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        ema_generator = None
        if cfg.ema > 0:
            ema_generator = Generator(cfg.size, cfg.ngf, cfg.recipe)
            ema_generator.set_weights(generator.get_weights())
    return generator, discriminator, g_opt, d_opt, step_var, ema_generator


def _reference_data(
    cfg: TrainConfig, info: DatasetInfo, strategy: Any, start: int
) -> tuple[Any, ...]:
    """The reference recipe's data: (batches, val inputs, val photos, val drawings, bank)."""
    from gan.kinds.drawing.reference import load_split, reference_train_dataset, validation_inputs

    train = load_split(info.root, "train", cfg.size)
    # Training retrieves from every frame.
    everything = train.bank(max_bytes=2**62, region=cfg.region, references=cfg.references)
    ds = reference_train_dataset(
        train,
        everything,
        cfg.batch_size * strategy.num_replicas_in_sync,
        cfg.seed + start,
        cfg.jitter,
    )
    val = load_split(info.root, "val", cfg.size)
    if not len(val.photos):  # no val split: validate on the first training pairs, and say so
        val = train
    n = MAX_VAL_PAIRS
    bank = train.bank(region=cfg.region, references=cfg.references)
    val_x = validation_inputs(val, bank)[:n]
    return (
        strategy.experimental_distribute_dataset(ds),
        val_x,
        val.photos[:n],
        val.drawings[:n],
        bank,
    )


def _data(cfg: TrainConfig, info: DatasetInfo, strategy: Any, start: int) -> tuple[Any, Any, Any]:
    """(training batches spread over the replicas, validation inputs, validation targets)."""
    # --batch-size is per GPU: with several, each replica still sees that many pairs.
    ds = train_dataset(
        info.train_files,
        cfg.size,
        cfg.batch_size * strategy.num_replicas_in_sync,
        cfg.direction,
        cfg.seed + start,
        cfg.jitter,
        cfg.flip,
    )
    # No val split (plain folder): validate on the first training pairs, and say so.
    val_a, val_b = load_pairs(
        (info.val_files or info.train_files)[:MAX_VAL_PAIRS], cfg.size, cfg.direction
    )
    return strategy.experimental_distribute_dataset(ds), val_a, val_b


def _build(cfg: TrainConfig, info: DatasetInfo, run_dir: Path, total: int) -> Run:
    """Models and optimizers (restored if the run has a checkpoint), the data and the step.

    Sets the Keras dtype policy for the run (after the caller cleared the session and seeded
    it); the caller restores the policy.
    """
    import keras
    import tensorflow as tf

    strategy, mixed, xla = _devices(cfg)
    keras.config.set_dtype_policy("mixed_float16" if mixed else "float32")
    generator, discriminator, g_opt, d_opt, step_var, ema_generator = _networks(
        cfg, total, strategy, mixed
    )
    parts = {"ema_generator": ema_generator} if ema_generator is not None else {}
    ckpt = tf.train.Checkpoint(
        step=step_var,
        generator=generator,
        discriminator=discriminator,
        g_optimizer=g_opt,
        d_optimizer=d_opt,
        **parts,
    )
    manager = tf.train.CheckpointManager(ckpt, run_dir / "ckpt", max_to_keep=2)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log.info("resuming %s at step %d", run_dir, int(step_var))
    start = int(step_var)
    train_step = make_train_step(
        generator,
        discriminator,
        g_opt,
        d_opt,
        cfg.lambda_l1,
        cfg.gan_loss,
        xla,
        strategy,
        cfg.recipe,
        ema_generator,
        cfg.ema,
    )
    if cfg.recipe == "reference":
        batches, val_a, val_b, val_drawings, bank = _reference_data(cfg, info, strategy, start)
    else:
        (batches, val_a, val_b), val_drawings, bank = _data(cfg, info, strategy, start), None, None
    run = Run(
        cfg=cfg,
        info=info,
        run_dir=run_dir,
        total=total,
        start=start,
        generator=generator,
        discriminator=discriminator,
        g_opt=g_opt,
        d_opt=d_opt,
        step_var=step_var,
        manager=manager,
        train_step=train_step,
        batches=batches,
        val_a=val_a,
        val_b=val_b,
        val_split="val" if info.val_files else "train",
        writer=tf.summary.create_file_writer(str(run_dir / "logs")),
        plain_export=not mixed and strategy.num_replicas_in_sync == 1,
        ema_generator=ema_generator,
        val_drawings=val_drawings,
        bank=bank,
    )
    (run_dir / "previews").mkdir(exist_ok=True)
    if run.bundle_file.exists():  # a resumed run keeps its last metrics until it validates
        previous = json.loads(run.bundle_file.read_text())
        run.metrics, run.validation = previous.get("metrics", {}), previous.get("validation", {})
    return run


# --- the loop ---


def _check_losses(values: dict[str, float], step: int, run: Any, limit: float = MAX_LOSS) -> None:
    """Stop with TrainingDiverged when a loss at `step` is NaN, infinite or past `limit`; `run`
    has the checkpoint manager and the run folder (train-pix2pix's Run, or train-swap's)."""
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


def _log(run: Run, bar: Any, step: int, values: dict[str, float]) -> None:
    """Every 10 steps and at the end: the losses on the progress bar and in TensorBoard."""
    if step % 10 != 0 and step != run.total:
        return
    bar.set_postfix(
        G=f"{values['g_total']:.3f}",
        L1=f"{values['g_l1']:.3f}",
        D=f"{values['d']:.3f}",
    )
    with run.writer.as_default(step=step):
        for k, v in values.items():
            summary_scalar(f"loss/{k}", v)
        summary_scalar("lr", lr_at(run.cfg.lr, run.total, step))


def fit_loop(
    run: Any,
    batches: Iterable[tuple[Any, ...]],
    log_step: Callable[[Any, Any, int, dict[str, float]], None],
    after_step: Callable[[int], None] | None = None,
    limit: float = MAX_LOSS,
    prog: str = PROG,
    logger: logging.Logger = log,
) -> tuple[int, float]:
    """Train `run` from run.start to run.total, one batch of `batches` a step (each batch the
    train step's arguments); returns (the last step, seconds spent). The loop of both trainers
    (train-pix2pix's Run and train-swap's): losses checked against `limit`, `log_step` every step,
    validation, checkpoints and bundle writes on the run's schedule, and on Ctrl-C a checkpoint of
    the steps since the last one before KeyboardInterrupt goes on up."""
    from tqdm import tqdm

    cfg, step = run.cfg, run.start
    if step >= run.total:
        logger.info("already trained %d of %d steps", step, run.total)
    bar = tqdm(
        total=run.total,
        initial=step,
        unit="step",
        desc=prog,
        dynamic_ncols=True,
        mininterval=1.0,
        disable=cfg.quiet,
    )
    t0 = time.perf_counter()
    try:
        feed = iter(batches)
        while step < run.total:
            values = {k: float(v) for k, v in run.train_step(*next(feed)).items()}
            _check_losses(values, step + 1, run, limit)
            step += 1
            bar.update(1)
            log_step(run, bar, step, values)
            if step % cfg.val_every == 0 or step == run.total:
                run.validate(step)
            if step % cfg.checkpoint_every == 0 or step == run.total:
                run.save(step)
            if after_step is not None:
                after_step(step)
    except KeyboardInterrupt:
        bar.close()
        if step > int(run.step_var) or not run.manager.latest_checkpoint:
            run.save(step)
        raise
    finally:
        bar.close()
        run.writer.flush()
    if run.start >= run.total and not run.bundle_file.exists():
        run.save(step)
    return step, time.perf_counter() - t0


def _fit(run: Run) -> tuple[int, float]:
    """Train from run.start to run.total; returns (the last step, seconds spent)."""
    return fit_loop(run, run.batches, _log, after_step_hook)


def _step_limit(cfg: TrainConfig) -> int:
    """cfg.steps, or fewer where MAX_STEPS_ENV caps it (demos and tests)."""
    cap = os.environ.get(MAX_STEPS_ENV)
    if not cap:
        return cfg.steps
    total = min(cfg.steps, max(1, int(cap)))
    log.info("%s=%s: training at most %d steps", MAX_STEPS_ENV, cap, total)
    return total


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train (or resume) a run; returns a summary. Raises InputError for the user's mistakes.

    Everything a user can get wrong is checked before TensorFlow is imported.
    """
    info = find_dataset(cfg.dataset)
    cfg = cfg.resolved(info)
    run_dir = prepare_run_dir(cfg)
    total = _step_limit(cfg)
    log.info("%s: %s", PROG, json.dumps(dataclasses.asdict(cfg)))
    log.info(
        "dataset %s (%s): %d train / %d val pairs of %d px",
        info.root,
        info.kind,
        len(info.train_files),
        len(info.val_files),
        info.image_size,
    )
    import_tensorflow(cfg.verbose)
    import keras
    import numpy as np

    keras.backend.clear_session()  # also resets the dtype policy, so it is read after this
    keras.utils.set_random_seed(cfg.seed)
    old_policy = keras.config.dtype_policy()
    try:
        run = _build(cfg, info, run_dir, total)
        step, elapsed = _fit(run)
    finally:
        keras.config.set_dtype_policy(old_policy)
    done = step - run.start
    log.info(
        "trained %d steps in %.1f s (%.2f steps/s)",
        done,
        elapsed,
        done / elapsed if elapsed > 0 else float("nan"),
    )
    return {
        "run_dir": str(run_dir),
        "model_dir": str(run_dir / "model"),
        "step": step,
        "start_step": run.start,
        "total_steps": total,
        "g_optimizer_iterations": int(np.asarray(run.g_opt.iterations)),
        "d_optimizer_iterations": int(np.asarray(run.d_opt.iterations)),
        "metrics": run.metrics,
        "steps_per_s": done / elapsed if elapsed > 0 else None,
    }


# --- the command line ---


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (pytest swaps it between tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    logger = logging.getLogger("gan")
    for h in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _report(summary: dict[str, Any]) -> None:
    """The one line a finished run prints: where the bundle is and how good it is."""
    m = summary["metrics"]
    print(
        f"{summary['step']} steps; model bundle in {summary['model_dir']}"
        + (
            f" (val L1 {m['val_l1']:.4f}, PSNR {m['val_psnr']:.2f} dB, SSIM {m['val_ssim']:.4f})"
            if "val_l1" in m
            else ""
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: 0 when done, 2 for a user error, 130 when interrupted (checkpoint saved)."""
    cfg = parse_args(argv)
    _setup_logging(cfg.quiet, cfg.verbose)

    def body() -> None:
        summary = train(cfg)
        if not cfg.quiet:
            _report(summary)

    return run_command(PROG, body, interrupted=INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
