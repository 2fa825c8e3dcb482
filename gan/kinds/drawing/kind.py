"""The drawing kind (`train-pix2pix`): a line drawing of the 68 points becomes the target's face.

pix2pix (U-Net + 70x70 PatchGAN) on an A|B dataset, or the reference recipe: the drawing plus
the target's nearest training photos warped onto its points, which the generator changes inside
the face. Its settings, presets and flags, and what it checks before TensorFlow loads; the
networks, step and bundle are in trainer.py.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan.core.dataset import DatasetInfo, find_dataset
from gan.core.devices import Devices
from gan.core.settings import RunSettings, apply_preset, check_run_settings, flag
from gan.errors import InputError
from gan.kinds.drawing.data import choose_size
from gan.kinds.drawing.options import (
    GAN_LOSSES,
    LAMBDA_L1,
    MAX_REFERENCES,
    RECIPES,
    REFERENCES,
    REGIONS,
)

log = logging.getLogger(__name__)

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
    # 128 px, ngf/ndf 32 at ~110-230 ms a step on 2 CPU cores; ndf 64 would triple the step, ngf
    # 64 would make it 650 ms. 1,500 steps whatever the video's length: see seen_line.
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
# The quick preset's 1,500 steps see a third of a 200-second video's 4,318 pairs, and the run says
# so (seen_line). Growing them to one pass (4,318 steps, 2.9x the time) changed no figure of
# evaluate on franck's held-out tail in the third decimal: the generator's last layer starts at
# zero and its change to the warped photos stays under a grey level, while retrieval uses every
# training photo at any step count (docs/results.md).


def seen_line(steps: int, pairs: int, batch_size: int) -> str:
    """How much of the training pairs `steps` steps see, for the run's log."""
    passes = steps * batch_size / max(pairs, 1)
    line = f"{steps:,} steps of {batch_size}: {passes:.2f} passes over the {pairs:,} training pairs"
    return line if passes >= 1 else f"{line} (--epochs 1 for one whole pass)"


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


@dataclass(kw_only=True)
class TrainConfig(RunSettings):
    """Every setting of a drawing run; each field is one command-line flag."""

    dataset: str = flag("a make-dataset folder, or a pix2pix A|B folder (e.g. facades)")
    epochs: float | None = flag(
        "passes over the training pairs, instead of --steps", None, type=float, exclusive="len"
    )
    size: int | None = flag(
        "image size, 64..512, a power of two (default: the preset's); pairs of another size are "
        "resized",
        None,
        type=int,
    )
    ngf: int | None = flag("generator width (default: from the preset)", None, type=int)
    ndf: int | None = flag("discriminator width (default: from the preset)", None, type=int)
    lambda_l1: float | None = flag(
        "weight of the L1 term against the adversarial one (default: from the preset)",
        None,
        type=float,
    )
    lr: float = flag(
        "Adam learning rate (beta_1 0.5); constant, then linear decay to 0 over the second half",
        2e-4,
    )
    gan_loss: str = flag("adversarial loss", "bce", choices=GAN_LOSSES)
    recipe: str | None = flag(
        "what the generator sees: the drawing alone (pix2pix) or the drawing and retrieved "
        "photos of the target (reference) (default: from the preset)",
        None,
        choices=RECIPES,
    )
    region: str | None = flag(
        "reference recipe: what the generator may change, the whole face or only the mouth and "
        "jaw; the rest is the warped reference photo (default: from the preset)",
        None,
        choices=REGIONS,
    )
    references: int | None = flag(
        "reference recipe: how many of the nearest training photos are warped and mixed into "
        "the reference, with weights that change smoothly as the points move (1: the nearest "
        "alone, which flickers when the nearest changes; default: from the preset)",
        None,
        type=int,
    )
    ema: float | None = flag(
        "decay of the moving average of the generator's weights that is validated and "
        "exported; 0: the weights themselves (default: from the preset)",
        None,
        type=float,
    )
    direction: str = flag(
        "AtoB: the left half is the input drawing, the right half the target",
        "AtoB",
        choices=("AtoB", "BtoA"),
    )
    jitter: bool = flag("resize to 1.12x and random-crop back (same crop for both halves)", True)
    flip: bool = flag(
        "random left-right flips; off because faces are not symmetric (a parting, a mole) and a "
        "flipped target blends two identities",
        False,
    )

    def resolved(self, info: DatasetInfo) -> TrainConfig:
        """Fill what the flags left open from the preset and the dataset; check the values."""
        # --steps and --epochs come from the preset together, or not at all.
        cfg = apply_preset(self, PRESETS, skip=("steps", "epochs"))
        if self.recipe is None and info.kind != "face-mirror":
            cfg.recipe = "pix2pix"  # a plain A|B folder has no points to retrieve by
        if cfg.steps is None and cfg.epochs is None:
            cfg.steps, cfg.epochs = (
                PRESETS[cfg.preset].get("steps"),
                PRESETS[cfg.preset].get("epochs"),
            )
        if cfg.steps is None:
            cfg.steps = max(1, math.ceil(cfg.epochs * len(info.train_files) / cfg.batch_size))
        cfg.size = choose_size(info, cfg.size)
        cfg.dataset = str(info.root)
        if cfg.output is None:
            cfg.output = str(Path("runs") / info.root.name)
        cfg.check(info)
        return cfg

    def check(self, info: DatasetInfo) -> None:
        check_run_settings(self)
        for name in ("ngf", "ndf"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name} must be at least 1")
        if not self.lr > 0 or self.lambda_l1 < 0:
            raise InputError("--lr must be positive and --lambda-l1 not negative")
        if not 0 <= self.ema < 1:
            raise InputError("--ema must be in [0, 1)")
        if not 1 <= self.references <= MAX_REFERENCES:
            raise InputError(f"--references must be 1 to {MAX_REFERENCES}")
        if self.recipe == "reference" and info.kind != "face-mirror":
            raise InputError(
                f"{info.root}: the reference recipe needs a make-dataset folder (its points); "
                "use --recipe pix2pix for plain A|B folders"
            )


class DrawingKind:
    """train-pix2pix, as gan.core.kind.Kind."""

    name = "pix2pix"
    prog = "train-pix2pix"
    description = (
        "Train pix2pix (U-Net + 70x70 PatchGAN) on an A|B dataset and write a model bundle to "
        "RUN_DIR/model. Rerun the same command to resume. Recipes: pix2pix (the drawing alone, "
        "as in the paper) or reference (the drawing plus the nearest training photos, warped "
        "onto the drawing's points and mixed; the generator changes that reference inside the "
        "face)."
    )
    settings = TrainConfig
    presets = PRESETS
    identity = IDENTITY
    saved_defaults = SETTINGS_BEFORE_RECIPES
    max_loss = 1e4  # well past any healthy value (L1 term <= 2 * lambda): the run has exploded
    batch_unit = "pairs"
    output_default = "runs/<dataset>"
    bundle_name = "model bundle"
    report_line = " (val L1 {val_l1:.4f}, PSNR {val_psnr:.2f} dB, SSIM {val_ssim:.4f})"

    def prepare(self, cfg: TrainConfig) -> tuple[TrainConfig, Callable[[], DatasetInfo]]:
        info = find_dataset(cfg.dataset)
        cfg = cfg.resolved(info)
        log.info(
            "dataset %s (%s): %d train / %d val pairs of %d px",
            info.root,
            info.kind,
            len(info.train_files),
            len(info.val_files),
            info.image_size,
        )
        log.info(seen_line(cfg.steps, len(info.train_files), cfg.batch_size))
        return cfg, lambda: info  # find_dataset has read its points; build loads the pairs

    def build(self, cfg: TrainConfig, info: DatasetInfo, devices: Devices) -> Any:
        from gan.kinds.drawing.trainer import DrawingTrainer

        if not devices.gpus and cfg.size * cfg.ngf >= 256 * 64:
            log.warning(
                "a paper-size model on a CPU takes ~1.7 s a step (2 cores); "
                "--preset quick is made for CPUs"
            )
        return DrawingTrainer.build(cfg, info, devices)


KIND = DrawingKind()
