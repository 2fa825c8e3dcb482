"""The drawing kind's run: generator and discriminator, their optimizers and one compiled step
for both, the data of either recipe, validation and what the bundle holds (gan.core.kind)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from gan.bundle.pictures import predict_uint8
from gan.core.dataset import DatasetInfo
from gan.core.devices import Devices
from gan.core.kind import BundleParts, Validation
from gan.core.schedule import lr_at, make_optimizer
from gan.core.step import compile_step, share
from gan.kinds.drawing.options import LAMBDA_L1
from gan.metrics import image_metrics

MAX_VAL_PAIRS = 64  # validation cost stays bounded on long validation tails
PREVIEW_PAIRS = 4


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

    def follow() -> None:
        step = tf.cast(g_opt.iterations, tf.float32)
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
            shares = {"g_total": share(g_total), "g_gan": share(g_gan), "g_l1": share(g_l1)}
            shares["d"] = share(d_loss)
            g_obj = g_opt.scale_loss(shares["g_total"])
            d_obj = d_opt.scale_loss(shares["d"])
        g_grads = g_tape.gradient(g_obj, generator.trainable_variables)
        d_grads = d_tape.gradient(d_obj, discriminator.trainable_variables)
        g_opt.apply(g_grads, generator.trainable_variables)
        d_opt.apply(d_grads, discriminator.trainable_variables)
        return shares

    return compile_step(replica_step, strategy, xla, follow if ema_generator is not None else None)


def preview_grid(a: Any, fake: Any, b: Any) -> Any:
    """Rows of drawing | generated | real, uint8."""
    return np.concatenate(
        [np.concatenate([x, y, z], axis=1) for x, y, z in zip(a, fake, b, strict=True)]
    )


def _shape_at(shape: Any, size: int, dataset_size: int) -> list[list[float]] | None:
    """68 points from the dataset's crop pixels to the model's, as bundle.json lists them."""
    if shape is None:
        return None
    if size != dataset_size:
        shape = shape * (size / dataset_size)
    return [[float(x), float(y)] for x, y in shape]


def bundle_info(
    cfg: Any,
    info: DatasetInfo,
    step: int,
    metrics: dict[str, float],
    validation: dict[str, Any],
) -> dict[str, Any]:
    """bundle.json's content for a generator trained `step` steps on `info`."""
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


@dataclasses.dataclass
class Pairs:
    """What validation runs on (at most MAX_VAL_PAIRS), and the reference recipe's data."""

    inputs: np.ndarray  # the generator's inputs: drawings, or the reference recipe's channels
    photos: np.ndarray
    drawings: np.ndarray  # for previews
    split: str  # "val", or "train" when the dataset has no validation pairs
    bank: Any = None  # reference recipe: the retrieval bank the bundle carries
    train: Any = None  # reference recipe: the training split (gan.kinds.drawing.pairs.Split)
    target_change: float | None = None  # the held-out video's own frame-to-frame change


@dataclasses.dataclass
class DrawingTrainer:
    """A drawing run's networks, optimizers, step and data (gan.core.kind.Trainer)."""

    cfg: Any
    info: DatasetInfo
    generator: Any
    discriminator: Any
    g_opt: Any
    d_opt: Any
    ema_generator: Any  # the weights' moving average (None without --ema): validated, exported
    train_step: Callable[..., dict[str, Any]]
    val: Pairs
    replicas: int

    @classmethod
    def build(cls, cfg: Any, info: DatasetInfo, devices: Devices) -> DrawingTrainer:
        """Networks and optimizers in the strategy's scope, the step and the validation data."""
        from gan.kinds.drawing.models import REFERENCE_CHANNELS, Discriminator, Generator

        channels = REFERENCE_CHANNELS if cfg.recipe == "reference" else 3
        total = cfg.steps  # this run's, the step cap included
        with devices.strategy.scope():
            generator = Generator(cfg.size, cfg.ngf, cfg.recipe)
            discriminator = Discriminator(cfg.size, cfg.ndf, channels)
            g_opt = make_optimizer(cfg.lr, total, devices.mixed)
            d_opt = make_optimizer(cfg.lr, total, devices.mixed)
            # Built now so a checkpoint restores into existing slots, not deferred ones.
            g_opt.build(generator.trainable_variables)
            d_opt.build(discriminator.trainable_variables)
            ema_generator = None
            if cfg.ema > 0:
                ema_generator = Generator(cfg.size, cfg.ngf, cfg.recipe)
                ema_generator.set_weights(generator.get_weights())
        step = make_train_step(
            generator,
            discriminator,
            g_opt,
            d_opt,
            cfg.lambda_l1,
            cfg.gan_loss,
            devices.xla,
            devices.strategy,
            cfg.recipe,
            ema_generator,
            cfg.ema,
        )
        val = _reference_pairs(cfg, info) if cfg.recipe == "reference" else _pairs(cfg, info)
        nets = (generator, discriminator, g_opt, d_opt, ema_generator)
        return cls(cfg, info, *nets, step, val, devices.replicas)

    @property
    def checkpoint(self) -> dict[str, Any]:
        parts = {"ema_generator": self.ema_generator} if self.ema_generator is not None else {}
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_opt,
            "d_optimizer": self.d_opt,
            **parts,
        }

    @property
    def exported(self) -> Any:
        """The generator that is validated and saved: the moving average when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def batches(self, start: int) -> Any:
        """Global batches: --batch-size per replica, each replica sees that many pairs."""
        cfg, train = self.cfg, self.val.train
        batch, seed = cfg.batch_size * self.replicas, cfg.seed + start
        if cfg.recipe == "reference":
            from gan.kinds.drawing.pairs import reference_train_dataset

            # Training retrieves from every frame.
            everything = train.training_bank(cfg.region, cfg.references)
            return reference_train_dataset(train, everything, batch, seed, cfg.jitter)
        from gan.kinds.drawing.data import train_dataset

        files, direction = self.info.train_files, cfg.direction
        return train_dataset(files, cfg.size, batch, direction, seed, cfg.jitter, cfg.flip)

    def validate(self, step: int) -> Validation:
        """L1, PSNR and SSIM on the validation pairs, and rows of drawing | generated | real."""
        v, n = self.val, PREVIEW_PAIRS
        fake = predict_uint8(self.exported, v.inputs)
        m = image_metrics(fake, v.photos)
        line = (
            f"val L1 {m['l1']:.4f}, PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f} "
            f"({v.split} split, {len(v.inputs)} pairs)"
        )
        return Validation(
            {"val_l1": m["l1"], "val_psnr": m["psnr"], "val_ssim": m["ssim"]},
            {"split": v.split, "pairs": len(v.inputs), "step": step},
            preview_grid(v.drawings[:n], fake[:n], v.photos[:n]),
            "drawing | generated | real",
            line,
        )

    def bundle(self, step: int) -> BundleParts:
        from gan.kinds.drawing.bundle import GENERATOR_FILE
        from gan.kinds.drawing.reference import BANK_FILE

        info = bundle_info(self.cfg, self.info, step, {}, {})
        info["target_change"] = self.val.target_change
        bank = self.val.bank
        files = {} if bank is None else {BANK_FILE: bank.save}
        return BundleParts({GENERATOR_FILE: self.exported}, info, files)

    def progress(self, values: dict[str, float]) -> dict[str, str]:
        return {
            "G": f"{values['g_total']:.3f}",
            "L1": f"{values['g_l1']:.3f}",
            "D": f"{values['d']:.3f}",
        }

    def learning_rate(self, step: int) -> float:
        return lr_at(self.cfg.lr, self.cfg.steps, step)

    def summary(self) -> dict[str, Any]:
        return {
            "g_optimizer_iterations": int(np.asarray(self.g_opt.iterations)),
            "d_optimizer_iterations": int(np.asarray(self.d_opt.iterations)),
        }


def _pairs(cfg: Any, info: DatasetInfo) -> Pairs:
    """pix2pix's validation pairs; no val split (plain folder): the first training pairs."""
    from gan.kinds.drawing.data import load_pairs

    files = (info.val_files or info.train_files)[:MAX_VAL_PAIRS]
    drawings, photos = load_pairs(files, cfg.size, cfg.direction)
    return Pairs(drawings, photos, drawings, "val" if info.val_files else "train")


def _reference_pairs(cfg: Any, info: DatasetInfo) -> Pairs:
    """The reference recipe's validation inputs (each drawing with its references from the bank
    the bundle carries), and the training split the batches come from."""
    from gan.kinds.drawing.pairs import load_split, validation_inputs

    train = load_split(info.root, "train", cfg.size)
    val = load_split(info.root, "val", cfg.size)
    if not len(val):  # no val split: validate on the first training pairs, and say so
        val = train
    change = val.change()  # before take(): the whole held-out video
    val = val.take(MAX_VAL_PAIRS)
    bank = train.bank(region=cfg.region, references=cfg.references)
    split = "val" if info.val_files else "train"
    inputs = validation_inputs(val, bank)
    return Pairs(inputs, val.photos, val.drawings, split, bank, train, change)
