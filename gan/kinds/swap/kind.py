"""The swap kind (`train-swap`): the camera's aligned face becomes the target's.

One shared encoder, one decoder per person (the deepfakes recipe): each decoder learns to give
back its own person's face from a randomly warped copy, with a masked L1 (the face's hull and a
forehead band) and Adam, beta_1 0.5, at the preset's rate (quick: 2e-4; gpu: the reference's
5e-5). At use time the user's face goes through the target's decoder. By default it is the
VAE-GAN: a variational bottleneck (--variational, --kl-weight) and a discriminator per person
(--adversarial-weight); --no-variational --adversarial-weight 0 is the plain autoencoder. Its
settings, presets and flags, and what it checks and reads before TensorFlow loads; the networks
and step are in trainer.py (and variational.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gan.core.devices import Devices
from gan.core.settings import flag
from gan.errors import InputError
from gan.faces.data import SwapDataset
from gan.faces.people import People, check_datasets, read_two
from gan.faces.settings import TwoPeopleSettings

log = logging.getLogger(__name__)

FEATURE_WEIGHT = 3.0  # the L1 on the eyes, brows and mouth, against 1 on the rest of the face
# --variational's KL weight. The KL is a mean per latent dimension (variational.kl_divergence),
# on the masked L1's scale: a quick run's L1 ends near 0.04 a person, and a code held at one nat
# a dimension then costs 0.01, a quarter of it: enough pull to keep both people's codes in one
# smooth region around N(0, 1), not so much that the code stops carrying the face. At 1 it does:
# on the tiny test model the KL falls to 1e-4 nat within 30 steps (posterior collapse, an
# average face); at 0.01 a quick-preset VAE-GAN's codes sit near 1 nat after 60 steps.
KL_WEIGHT = 0.01
# The VAE-GAN is the default: --variational with discriminators at this weight. On the sample's man
# as the target and the astronaut clip as the user (README, "Which swap model"), it was the most
# the target's in both seeds (identity 0.485 and 0.451 against the plain autoencoder's 0.494 and
# 0.476), with the same expression NME and a sharper face (0.16-0.19 of the camera's against 0.10).
ADVERSARIAL_WEIGHT = 0.05
# --warp-until: the first half of the steps warp, the second half learn the faces as they are. On
# franck as the target and cap12 as the user (docs/results.md, "Which swap model"), against every
# step warped: identity to franck 0.377 against 0.431, brow r 0.79 against 0.36, mouth r 0.85
# against 0.82, the same change, seam and sharpness, in 0.65 of the time (an unwarped step costs
# less); on the sample at 1,000 steps 0.553 against 0.569.
WARP_UNTIL = 0.5

PRESETS: dict[str, dict[str, Any]] = {
    # 64 px, width 32 (5.1 M weights), batch 16 per person. On 2 AVX-512 CPU cores: the plain
    # autoencoder about 9 minutes (~0.17 s a step), the default VAE-GAN 1.7 times that. lr 2e-4,
    # not the reference's 5e-5: at 600 steps on the samples the plain autoencoder reaches a
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
    "warp_until",
    "flip",
    "variational",
    "kl_weight",
    "adversarial_weight",
    "seed",
)
# What a config.json written before these settings existed trained with: the hull, plain L1, a
# plain autoencoder, no discriminators.
SETTINGS_BEFORE_BAND = {
    "forehead": 0.0,
    "feature_weight": 1.0,
    "variational": False,
    "kl_weight": KL_WEIGHT,
    "adversarial_weight": 0.0,
    "warp_until": 1.0,
}


@dataclass(kw_only=True)
class SwapConfig(TwoPeopleSettings):
    """Every setting of a face-swap run; each field is one command-line flag."""

    width: int | None = flag("the networks' base width (default: from the preset)", None, type=int)
    bottleneck: int | None = flag(
        "the encoder's dense code size (default: from the preset)", None, type=int
    )
    lr: float | None = flag(
        "Adam learning rate, beta_1 0.5 (default: from the preset)", None, type=float
    )
    feature_weight: float = flag(
        "the L1's weight on the eyes, brows and mouth against 1 on the rest of the face",
        FEATURE_WEIGHT,
    )
    warp: bool = flag("random smooth warps of the inputs, which each decoder learns to undo", True)
    warp_until: float = flag(
        "the share of the steps that warp their inputs; the rest train on unwarped faces, as "
        "DeepFaceLab ends its training: the warp moves a 64 px eye's lids by more than a blink "
        "does, so a decoder that only ever undoes warps learns an average eye",
        WARP_UNTIL,
    )
    flip: bool = flag("random left-right flips (faces are not symmetric: a parting, a mole)", False)
    variational: bool = flag(
        "a variational bottleneck: the encoder gives a mean and a log-variance, training decodes "
        "samples of the code and adds --kl-weight times its KL to N(0, 1); the bundle decodes "
        "the mean (the same face for the same crop). --no-variational --adversarial-weight 0: "
        "the plain autoencoder",
        True,
    )
    kl_weight: float = flag(
        "--variational's KL weight: the KL is a mean per code dimension, on the masked L1's scale",
        KL_WEIGHT,
    )
    adversarial_weight: float = flag(
        "the VAE-GAN: a PatchGAN per person judges each decoder's face inside the face mask "
        "(least squares) and its loss, times this, joins the L1 (0: no discriminators)",
        ADVERSARIAL_WEIGHT,
    )

    def resolved(self, target: SwapDataset, user: SwapDataset) -> SwapConfig:
        """Fill what the flags left open from the preset; check the values."""
        cfg = self.with_people(PRESETS, target, user, "swap")
        for name in ("width", "bottleneck"):
            if getattr(cfg, name) < 1:
                raise InputError(f"--{name} must be at least 1")
        if not cfg.lr > 0:
            raise InputError("--lr must be positive")
        if not 0 <= cfg.warp_until <= 1:
            raise InputError("--warp-until must be between 0 and 1")
        if not 1 <= cfg.feature_weight <= 100:
            raise InputError("--feature-weight must be between 1 and 100")
        for name in ("kl_weight", "adversarial_weight"):
            if not 0 <= getattr(cfg, name) < math.inf:
                raise InputError(f"--{name.replace('_', '-')} must be a number, 0 or more")
        return cfg


class SwapKind:
    """train-swap, as gan.core.kind.Kind."""

    name = "swap"
    prog = "train-swap"
    description = (
        "Train a face swap (one shared encoder, a decoder per person; by default a VAE-GAN) on "
        "two make-dataset folders and write a swap bundle to RUN_DIR/model: the user's face in, "
        "the target's face out, with the user's expression and pose. Rerun the same command to "
        "resume."
    )
    settings = SwapConfig
    presets = PRESETS
    identity = IDENTITY
    saved_defaults = SETTINGS_BEFORE_BAND
    max_loss = 10.0  # the masked L1 on a [0, 1] scale is at most 1 per person: past it, exploded
    batch_unit = "faces of each person"
    output_default = "runs/swap-USER-as-TARGET"
    bundle_name = "swap bundle"
    report_line = " (val masked L1 target {val_l1_target:.4f}, user {val_l1_user:.4f})"

    def prepare(self, cfg: SwapConfig) -> tuple[SwapConfig, Callable[[], People]]:
        """Both datasets checked; reading them at the swap size waits for the run folder's
        check (both before TensorFlow loads)."""
        target, user = check_datasets(cfg)
        cfg = cfg.resolved(target, user)
        return cfg, lambda: self.read(cfg, target, user)

    def read(self, cfg: SwapConfig, target: SwapDataset, user: SwapDataset) -> People:
        return read_two(cfg, target, user)

    def build(self, cfg: SwapConfig, people: People, devices: Devices) -> Any:
        from gan.kinds.swap.trainer import SwapTrainer

        return SwapTrainer.build(cfg, people, devices)


KIND = SwapKind()
