"""`train-swap`: train a face-swap autoencoder on two people's datasets and write the swap bundle.

One shared encoder, one decoder per person (the deepfakes recipe): each decoder learns to give
back its own person's face from a randomly warped copy, with a masked L1 (the face's hull) and
Adam 5e-5, beta_1 0.5. At use time the user's face goes through the target's decoder.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import import_tensorflow, quiet_native_stderr, run_command
from common.outline import FOREHEAD
from gan import run_dir as run_folder
from gan.errors import InputError
from gan.swap_data import (
    SWAP_CENTRE_Y,
    SWAP_CROP_SCALE,
    SWAP_SIZES,
    Faces,
    SwapDataset,
    check_crop_fits,
    find_swap_dataset,
    load_faces,
    masked_l1,
    prefetched,
    reference_shape,
    swap_alignment,
    to_model_range,
    training_batch,
)
from gan.train import (
    MAX_STEPS_ENV,
    _HelpFormatter,
    _setup_logging,
    _step_limit,
    _write_png,
    fit_loop,
    summary_image,
    summary_scalar,
)

# Keras and TensorFlow are imported after the flags and both datasets are checked (and read):
# a mistyped path is one line at once, not TensorFlow's start-up notes first.

log = logging.getLogger("gan.swap_train")

PROG = "train-swap"
INTERRUPTED = "interrupted; checkpoint saved, rerun the same command to resume"
ADAM_BETA_1 = 0.5
FEATURE_WEIGHT = 3.0  # the L1 on the eyes, brows and mouth, against 1 on the rest of the face
MAX_LOSS = 10.0  # the masked L1 on a [0, 1] scale is at most 1 per person: past this it exploded
MAX_VAL_FACES = 64
PREVIEW_FACES = 4
__all__ = ["MAX_STEPS_ENV", "main", "train"]

PRESETS: dict[str, dict[str, Any]] = {
    # About 9 minutes on 2 idle CPU cores: 64 px, width 32 (5.1 M weights), batch 16 per person,
    # ~0.17 s a step. lr 2e-4, not the reference's 5e-5: at 600 steps on the samples it reaches a
    # held-out masked L1 of 0.040 / 0.035 (target / user) against 0.048 / 0.043.
    "quick": {
        "size": 64,
        "width": 32,
        "bottleneck": 256,
        "batch_size": 16,
        "steps": 3000,
        "lr": 2e-4,
        "checkpoint_every": 500,
        "val_every": 500,
    },
    # A GPU model: 128 px, width 64, a wider bottleneck, tens of thousands of steps.
    "gpu": {
        "size": 128,
        "width": 64,
        "bottleneck": 512,
        "batch_size": 32,
        "steps": 50000,
        "lr": 5e-5,
        "checkpoint_every": 2000,
        "val_every": 1000,
    },
}
# Settings that make a run what it is: a run directory with other values is another run.
IDENTITY = (
    "target",
    "user",
    "size",
    "width",
    "bottleneck",
    "batch_size",
    "lr",
    "crop_scale",
    "centre_y",
    "forehead",
    "feature_weight",
    "warp",
    "flip",
    "seed",
)

# What a config.json written before these settings existed trained with: the hull, plain L1.
SETTINGS_BEFORE_BAND = {"forehead": 0.0, "feature_weight": 1.0}

# Tests set this to interrupt or poke a run: called with the step number after each step.
after_step_hook: Callable[[int], None] | None = None


@dataclass
class SwapConfig:
    """Every setting of a face-swap run; each field is one command-line flag."""

    target: str
    user: str
    output: str | None = None
    preset: str = "quick"
    steps: int | None = None
    size: int | None = None
    width: int | None = None
    bottleneck: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    crop_scale: float = SWAP_CROP_SCALE
    centre_y: float = SWAP_CENTRE_Y
    forehead: float = FOREHEAD
    feature_weight: float = FEATURE_WEIGHT
    warp: bool = True
    flip: bool = False
    checkpoint_every: int | None = None
    val_every: int | None = None
    xla: str = "auto"
    onnx: bool = True
    force: bool = False
    seed: int = 0
    quiet: bool = False
    verbose: bool = False

    def resolved(self, target: SwapDataset, user: SwapDataset) -> SwapConfig:
        """Fill what the flags left open from the preset; check the values."""
        cfg = dataclasses.replace(self)
        for name, value in PRESETS[self.preset].items():
            if getattr(cfg, name) is None:
                setattr(cfg, name, value)
        cfg.target, cfg.user = str(target.root), str(user.root)
        if cfg.output is None:
            cfg.output = str(Path("runs") / f"swap-{user.root.name}-as-{target.root.name}")
        if cfg.size not in SWAP_SIZES:
            raise InputError(f"--size must be one of {', '.join(map(str, SWAP_SIZES))}")
        for name in ("steps", "width", "bottleneck", "batch_size", "checkpoint_every", "val_every"):
            if getattr(cfg, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1")
        if not cfg.lr > 0:
            raise InputError("--lr must be positive")
        if not 0 < cfg.crop_scale:
            raise InputError("--crop-scale must be positive")
        if not 1 <= cfg.feature_weight <= 100:
            raise InputError("--feature-weight must be between 1 and 100")
        if not 0 <= cfg.forehead <= 1:
            raise InputError("--forehead must be between 0 and 1 eye-widths")
        return cfg


def build_parser() -> argparse.ArgumentParser:
    """The flags: one per SwapConfig field, each default shown once in --help."""
    p = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_HelpFormatter,
        description="Train a face swap (one shared encoder, a decoder per person) on two "
        "make-dataset folders and write a swap bundle to RUN_DIR/model: the user's face in, the "
        "target's face out, with the user's expression and pose. Rerun the same command to resume.",
    )
    d = SwapConfig.__dataclass_fields__
    p.add_argument("target", help="make-dataset folder of the face to become (aligned mode)")
    p.add_argument("user", help="make-dataset folder of the person who drives it (aligned mode)")
    p.add_argument(
        "-o", "--output", metavar="RUN_DIR", help="run folder (default: runs/swap-USER-as-TARGET)"
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=d["preset"].default,
        help="defaults for the flags below; "
        + "; ".join(
            f"{k}: " + ", ".join(f"{n}={v}" for n, v in v.items()) for k, v in PRESETS.items()
        ),
    )
    p.add_argument("--steps", type=int, help="training steps (default: from the preset)")
    p.add_argument(
        "--size", type=int, help=f"model size, one of {SWAP_SIZES} (default: from the preset)"
    )
    p.add_argument("--width", type=int, help="the networks' base width (default: from the preset)")
    p.add_argument(
        "--bottleneck", type=int, help="the encoder's dense code size (default: from the preset)"
    )
    p.add_argument(
        "--batch-size", type=int, help="faces of each person per step (default: from the preset)"
    )
    p.add_argument(
        "--lr", type=float, help="Adam learning rate, beta_1 0.5 (default: from the preset)"
    )
    _add_crop_and_run_flags(p, d)
    return p


def _add_crop_and_run_flags(p: argparse.ArgumentParser, d: dict) -> None:
    """The crop, the augmentation, how often to save, and what is printed."""
    p.add_argument(
        "--crop-scale",
        type=float,
        default=d["crop_scale"].default,
        help="the swap crop's width in eye-widths (make-dataset's crops are 2.6); the app cuts "
        "camera frames the same way",
    )
    p.add_argument(
        "--centre-y",
        type=float,
        default=d["centre_y"].default,
        help="how far below the eyes the swap crop is centred, in eye-widths (make-dataset: 0.5; "
        "lower, because the chin reaches further than the brows)",
    )
    p.add_argument(
        "--forehead",
        type=float,
        default=d["forehead"].default,
        help="the swapped region: the face's hull and a band this many eye-widths above the "
        "brows (0: the hull alone); the loss is masked to it and the app blends it",
    )
    p.add_argument(
        "--feature-weight",
        type=float,
        default=d["feature_weight"].default,
        help="the L1's weight on the eyes, brows and mouth against 1 on the rest of the face",
    )
    p.add_argument(
        "--warp",
        action=argparse.BooleanOptionalAction,
        default=d["warp"].default,
        help="random smooth warps of the inputs, which each decoder learns to undo",
    )
    p.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=d["flip"].default,
        help="random left-right flips (faces are not symmetric: a parting, a mole)",
    )
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
        "--xla",
        choices=("auto", "on", "off"),
        default=d["xla"].default,
        help="XLA-compile the train step; auto = on a GPU",
    )
    p.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=d["onnx"].default,
        help="at the end, also write swap_target.onnx and swap_user.onnx (ONNX Runtime, no "
        "TensorFlow)",
    )
    p.add_argument(
        "--force", action="store_true", help="start afresh in a run folder that holds another run"
    )
    p.add_argument("--seed", type=int, default=d["seed"].default, help="random seed")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, only warnings and errors"
    )
    p.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own start-up notes"
    )


def parse_args(argv: list[str] | None = None) -> SwapConfig:
    return SwapConfig(**vars(build_parser().parse_args(argv)))


# --- inputs and the run folder (no TensorFlow yet) ---


def check_datasets(cfg: SwapConfig) -> tuple[SwapDataset, SwapDataset]:
    """Both datasets found, aligned, the same size, and wide enough for the swap crop."""
    target = find_swap_dataset(cfg.target, "target")
    user = find_swap_dataset(cfg.user, "user")
    if target.root == user.root:
        raise InputError(f"target and user are the same dataset ({target.root}): give two people")
    if target.size != user.size:
        raise InputError(
            f"the datasets' crops differ: target {target.root} is {target.size} px, user "
            f"{user.root} is {user.size} px; make both with the same make-dataset --size"
        )
    swap = swap_alignment(cfg.crop_scale, cfg.centre_y)
    for role, dataset in (("the target dataset", target), ("the user dataset", user)):
        check_crop_fits(dataset.alignment, swap, f"{role} ({dataset.root})")
    return target, user


def _identity(cfg: SwapConfig | dict) -> dict[str, Any]:
    values = cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg)
    return {k: values.get(k) for k in IDENTITY}


def prepare_run_dir(cfg: SwapConfig) -> Path:
    """Create RUN_DIR, or check that it holds this same run (then training resumes)."""
    return run_folder.prepare_run_dir(
        cfg.output, dataclasses.asdict(cfg), IDENTITY, cfg.force, SETTINGS_BEFORE_BAND
    )


@dataclass
class People:
    """Both people's faces at the swap size, read once: training and validation sets."""

    target: Faces
    user: Faces
    target_val: Faces
    user_val: Faces
    val_split: dict[str, str]  # person -> "val", or "train" when a dataset has no val pairs


def read_people(
    target: SwapDataset, user: SwapDataset, swap: dict, size: int, forehead: float = FOREHEAD
) -> People:
    faces, val, split = {}, {}, {}
    for role, dataset in (("target", target), ("user", user)):
        faces[role] = load_faces(dataset, "train", swap, size, forehead)
        has_val = len(dataset.rows("val")) > 0
        val[role] = (
            load_faces(dataset, "val", swap, size, forehead) if has_val else faces[role]
        ).take(MAX_VAL_FACES)
        split[role] = "val" if has_val else "train"
        crop = dataset.size * swap["crop_scale"] / dataset.alignment["crop_scale"]
        if crop < 0.75 * size:
            log.warning(
                "%s: the swap crop is %.0f px in %s's %d px photos, upscaled to %d: "
                "make the dataset with a larger --size for a sharper model",
                role,
                crop,
                dataset.root.name,
                dataset.size,
                size,
            )
    return People(faces["target"], faces["user"], val["target"], val["user"], split)


# --- the compiled step ---


def make_train_step(net: Any, optimizer: Any, xla: bool = False) -> Callable[..., dict[str, Any]]:
    """One compiled step: both autoencoders forward, the masked L1 of each, one update of all."""
    import tensorflow as tf

    variables = net.trainable_variables

    def face_l1(fake, real, mask):
        # On a [0, 1] scale (half the [-1, 1] difference), as the validation metric.
        weighted = tf.abs(fake - real) * mask / 2.0
        return tf.reduce_sum(weighted) / (tf.reduce_sum(mask) * 3.0 + 1e-6)

    @tf.function(jit_compile=xla)
    def step(x_target, y_target, m_target, x_user, y_user, m_user):
        with tf.GradientTape() as tape:
            l_target = face_l1(net.to_target(x_target, training=True), y_target, m_target)
            l_user = face_l1(net.to_user(x_user, training=True), y_user, m_user)
            total = l_target + l_user
        optimizer.apply(tape.gradient(total, variables), variables)
        return {"target_l1": l_target, "user_l1": l_user}

    return step


def _predict(model: Any, images: np.ndarray, batch: int = 16) -> np.ndarray:
    out = []
    for i in range(0, len(images), batch):
        y = np.asarray(model(to_model_range(images[i : i + batch]), training=False), np.float32)
        out.append(np.clip((y + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8))
    return np.concatenate(out)


def preview_grid(rows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """One row per (inputs, outputs): input | output side by side for each face, uint8."""
    return np.concatenate(
        [
            np.concatenate([np.concatenate([a, b], axis=1) for a, b in zip(x, y, strict=True)], 1)
            for x, y in rows
        ]
    )


# --- one run ---


@dataclass
class Run:
    """A run's networks, optimizer, checkpoint, data and step: what the loop works with."""

    cfg: SwapConfig
    target: SwapDataset
    user: SwapDataset
    people: People
    swap: dict  # the swap crop's alignment
    run_dir: Path
    total: int
    start: int
    net: Any  # gan.swap_models.SwapNetworks
    optimizer: Any
    step_var: Any
    manager: Any
    train_step: Callable[..., dict[str, Any]]
    writer: Any
    rng: np.random.Generator
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    validation: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def bundle_file(self) -> Path:
        return self.run_dir / "model" / "bundle.json"

    def bundle_info(self, step: int) -> dict[str, Any]:
        """bundle.json's content (save_swap_bundle adds format, version, kind and files)."""
        cfg = self.cfg
        descriptors = {  # make-dataset's target_descriptor: who each dataset shows
            key: None if (v := d.info.target_descriptor) is None else [float(x) for x in v]
            for key, d in (("target_descriptor", self.target), ("user_descriptor", self.user))
        }
        shape = reference_shape(self.target, self.swap, cfg.size)
        return {
            "size": cfg.size,
            "mode": "aligned",
            "alignment": self.swap,
            "forehead": cfg.forehead,
            "drawing": self.target.info.drawing,
            "reference_shape": [[float(x), float(y)] for x, y in shape],
            **descriptors,
            "steps": step,
            "metrics": self.metrics,
            "validation": self.validation,
            "width": cfg.width,
            "bottleneck": cfg.bottleneck,
            "datasets": {"target": str(self.target.root), "user": str(self.user.root)},
            "dataset_size": self.target.size,
        }

    def save(self, step: int) -> None:
        """Checkpoint at `step` and write the swap bundle beside it (ONNX only at the end)."""
        from gan.swap_bundle import save_swap_bundle

        self.step_var.assign(step)
        self.manager.save(checkpoint_number=step)
        final = self.cfg.onnx and step >= self.total
        if final:
            log.info("exporting the swap models to ONNX ...")
        save_swap_bundle(
            self.run_dir / "model",
            self.net.to_target,
            self.net.to_user,
            self.bundle_info(step),
            onnx=final,
        )

    def validate(self, step: int) -> None:
        """Masked L1 of each person's reconstruction on held-out faces; a preview PNG."""
        p = self.people
        t_out = _predict(self.net.to_target, p.target_val.images)
        u_out = _predict(self.net.to_user, p.user_val.images)
        self.metrics = {
            "val_l1_target": masked_l1(t_out, p.target_val.images, p.target_val.masks),
            "val_l1_user": masked_l1(u_out, p.user_val.images, p.user_val.masks),
        }
        self.validation = {
            "split": dict(p.val_split),
            "faces": {"target": len(p.target_val), "user": len(p.user_val)},
            "step": step,
            "metric": "mean absolute error inside the dilated hull, [0, 1] scale",
        }
        pick_t = _spread(len(p.target_val), PREVIEW_FACES)
        pick_u = _spread(len(p.user_val), PREVIEW_FACES)
        swapped = _predict(self.net.to_target, p.user_val.images[pick_u])
        grid = preview_grid(
            [
                (p.target_val.images[pick_t], t_out[pick_t]),
                (p.user_val.images[pick_u], u_out[pick_u]),
                (p.user_val.images[pick_u], swapped),
            ]
        )
        _write_png(self.run_dir / "previews" / f"step_{step:07d}.png", grid)
        with self.writer.as_default(step=step):
            for k, v in self.metrics.items():
                summary_scalar(f"val/{k[4:]}", v)
            summary_image("target→target | user→user | user→target", grid)
        log.info(
            "step %d: val masked L1 target %.4f, user %.4f",
            step,
            self.metrics["val_l1_target"],
            self.metrics["val_l1_user"],
        )

    def batches(self) -> tuple[np.ndarray, ...]:
        cfg, p = self.cfg, self.people
        w = cfg.feature_weight
        t = training_batch(p.target, cfg.batch_size, self.rng, cfg.warp, cfg.flip, w)
        u = training_batch(p.user, cfg.batch_size, self.rng, cfg.warp, cfg.flip, w)
        return (*t, *u)


def _spread(n: int, k: int) -> np.ndarray:
    """k indices spread over range(n) (fewer when n < k)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def _xla(cfg: SwapConfig) -> bool:
    import tensorflow as tf

    with quiet_native_stderr(cfg.verbose):  # the first device query is where CUDA speaks up
        gpus = tf.config.list_physical_devices("GPU")
    xla = {"on": True, "off": False}.get(cfg.xla, bool(gpus))
    log.info("devices: %d GPU(s); XLA %s", len(gpus), xla)
    return xla


def _build(
    cfg: SwapConfig,
    target: SwapDataset,
    user: SwapDataset,
    people: People,
    swap: dict,
    run_dir: Path,
    total: int,
) -> Run:
    """Networks and optimizer (restored if the run has a checkpoint), the step and the writer."""
    import keras
    import tensorflow as tf

    from gan.swap_models import swap_networks

    xla = _xla(cfg)
    net = swap_networks(cfg.size, cfg.width, cfg.bottleneck)
    optimizer = keras.optimizers.Adam(cfg.lr, beta_1=ADAM_BETA_1)
    optimizer.build(net.trainable_variables)  # so a checkpoint restores into existing slots
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    ckpt = tf.train.Checkpoint(
        step=step_var,
        encoder=net.encoder,
        decoder_target=net.decoder_target,
        decoder_user=net.decoder_user,
        optimizer=optimizer,
    )
    manager = tf.train.CheckpointManager(ckpt, run_dir / "ckpt", max_to_keep=2)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log.info("resuming %s at step %d", run_dir, int(step_var))
    start = int(step_var)
    run = Run(
        cfg=cfg,
        target=target,
        user=user,
        people=people,
        swap=swap,
        run_dir=run_dir,
        total=total,
        start=start,
        net=net,
        optimizer=optimizer,
        step_var=step_var,
        manager=manager,
        train_step=make_train_step(net, optimizer, xla),
        writer=tf.summary.create_file_writer(str(run_dir / "logs")),
        rng=np.random.default_rng(cfg.seed + start),  # a resumed run draws new batches
    )
    (run_dir / "previews").mkdir(exist_ok=True)
    if run.bundle_file.exists():  # a resumed run keeps its last metrics until it validates
        previous = json.loads(run.bundle_file.read_text())
        run.metrics, run.validation = previous.get("metrics", {}), previous.get("validation", {})
    return run


# --- the loop ---


def _log(run: Run, bar: Any, step: int, values: dict[str, float]) -> None:
    if step % 10 != 0 and step != run.total:
        return
    bar.set_postfix(target=f"{values['target_l1']:.4f}", user=f"{values['user_l1']:.4f}")
    with run.writer.as_default(step=step):
        for k, v in values.items():
            summary_scalar(f"loss/{k}", v)


def _fit(run: Run) -> tuple[int, float]:
    """Train from run.start to run.total; returns (the last step, seconds spent)."""
    batches = prefetched(run.batches() for _ in itertools.count())  # fresh warps every step
    return fit_loop(run, batches, _log, after_step_hook, MAX_LOSS, PROG, log)


def train(cfg: SwapConfig) -> dict[str, Any]:
    """Train (or resume) a swap run; returns a summary. Raises InputError for the user's mistakes.

    Everything a user can get wrong is checked, and both datasets read, before TensorFlow loads.
    """
    target, user = check_datasets(cfg)
    cfg = cfg.resolved(target, user)
    swap = swap_alignment(cfg.crop_scale, cfg.centre_y)
    run_dir = prepare_run_dir(cfg)
    total = _step_limit(cfg)
    log.info("%s: %s", PROG, json.dumps(dataclasses.asdict(cfg)))
    people = read_people(target, user, swap, cfg.size, cfg.forehead)
    log.info(
        "target %s: %d train / %d val faces; user %s: %d / %d; "
        "swap crop %g eye-widths, centred %g below the eyes, at %d px",
        target.root,
        len(people.target),
        len(people.target_val),
        user.root,
        len(people.user),
        len(people.user_val),
        cfg.crop_scale,
        cfg.centre_y,
        cfg.size,
    )
    import_tensorflow(cfg.verbose)
    import keras

    keras.backend.clear_session()  # also resets the dtype policy: the swap trains in float32
    keras.utils.set_random_seed(cfg.seed)
    old_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        run = _build(cfg, target, user, people, swap, run_dir, total)
        step, elapsed = _fit(run)
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
        "optimizer_iterations": int(np.asarray(run.optimizer.iterations)),
        "metrics": run.metrics,
        "steps_per_s": rate,
        "seconds": elapsed,
    }


def _report(summary: dict[str, Any]) -> None:
    m = summary["metrics"]
    print(
        f"{summary['step']} steps; swap bundle in {summary['model_dir']}"
        + (
            f" (val masked L1 target {m['val_l1_target']:.4f}, user {m['val_l1_user']:.4f})"
            if "val_l1_target" in m
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
