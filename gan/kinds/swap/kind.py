"""The swap kind (`train-swap`): the camera's aligned face becomes the target's.

One shared encoder, one decoder per person (the deepfakes recipe): each decoder learns to give
back its own person's face from a randomly warped copy, with a masked loss (the face's hull and a
forehead band) and Adam, beta_1 0.5, at the preset's rate (quick: 2e-4; gpu: the reference's
5e-5). At use time the user's face goes through the target's decoder. Two recipes (RECIPES),
both with a variational bottleneck (--kl-weight): the default "sharp" (SSIM plus squared error, a
light discriminator per person once the warps end, a quarter of each batch blinks, the eyes drawn
from the landmarks and how open they are to every decoder stage) and "vae-gan", the default
before it (the masked L1 and a discriminator per person as wide as the networks from the first
step); --no-variational --adversarial-weight 0 is the plain autoencoder. Its settings,
presets and flags, and what it checks and reads before TensorFlow loads; the networks and step are
in trainer.py (and variational.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan.core.devices import Devices
from gan.core.run_dir import CONFIG_FILE
from gan.core.settings import flag
from gan.errors import InputError
from gan.faces.data import EYE_INPUTS, SHUT_EYES, SwapDataset
from gan.faces.losses import LOSSES
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
    # 64 px, width 32 (5.1 M weights), batch 8 per person: the sharp recipe's mean step (a light
    # discriminator in the second half only) costs 0.35 of the VAE-GAN's at batch 16 on 2 AVX-512
    # cores (scripts/bench, "swap sharp: mean step"). lr 2e-4, not the reference's 5e-5: at
    # 600 steps on the samples the plain autoencoder reaches a held-out masked L1 of 0.040 /
    # 0.035 (target / user) against 0.048 / 0.043.
    "quick": {
        "size": 64,
        "width": 32,
        "bottleneck": 256,
        "batch_size": 8,
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
# What the quick preset was until the sharp recipe: batch 16. `--recipe vae-gan` trains with it:
# today's VAE-GAN, as it was.
QUICK_BEFORE_SHARP = {"batch_size": 16}
# The recipes: the loss, the bottleneck, the GAN and the blinks a batch draws (and, for the
# VAE-GAN, the quick preset's batch it was measured with). A flag given on the command line wins
# over its recipe's value.
RECIPES: dict[str, dict[str, Any]] = {
    # The variational code (on franck and cap12 it kept the swap the target's: identity 0.404
    # against 0.446 with a plain one), with faceswap's and DeepFaceLab's loss, SSIM plus squared
    # error, and a light patch discriminator (16 filters, one stride-2 block: 16 px patches, a
    # lid or a lip) that starts with the unwarped half, as DeepFaceLab's GAN starts once random
    # warps are off; a quarter of each batch the person's blinks (docs/results.md, "The swap:
    # sharp, blinking, a third of the cost": franck's tail through his own decoder follows 6 of 6
    # blinks with them, none without); the eyes drawn from the points (common.eyes), their
    # openings handed to the decoders' 8 and 16 px stages: the woman's eyes through franck's
    # decoder r 0.67 against 0.37 with pixels, identity to franck on cap12 0.412-0.418 against 0.423
    # (docs/results.md, "The eyes drawn"); how open they are to every stage (--eye-opening: the
    # woman's blinks close franck's eyes in 3 of 3 against none, at the price of cap12's brows,
    # r 0.05-0.29 against 0.66-0.86: "The lids").
    "sharp": {
        "variational": True,
        "loss": "dssim-mse",
        "adversarial_weight": ADVERSARIAL_WEIGHT,
        "gan_from": WARP_UNTIL,
        "disc_width": 16,
        "disc_layers": 1,
        "shut_eyes": 0.25,
        "eyes": "drawn",
        "eye_opening": True,
    },
    # The VAE-GAN of before: a variational code, the masked L1, a discriminator per person as
    # wide as the networks, three stride-2 blocks, from the first step; batch 16 with the quick
    # preset.
    "vae-gan": {
        "variational": True,
        "loss": "l1",
        "adversarial_weight": ADVERSARIAL_WEIGHT,
        "gan_from": 0.0,
        "disc_width": None,
        "disc_layers": 3,
        "shut_eyes": 0.0,
        "eyes": "pixels",
        "eye_opening": False,
    },
}
RECIPE = "sharp"
RECIPE_BEFORE = "vae-gan"  # what a config.json without "recipe" trained with
# Settings that make a run what it is: a run directory with other values is another run.
IDENTITY = (
    "target",
    "user",
    "recipe",
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
    "shut_eyes",
    "eyes",
    "eye_opening",
    "variational",
    "kl_weight",
    "loss",
    "adversarial_weight",
    "gan_from",
    "disc_width",
    "disc_layers",
    "seed",
)
# What a config.json written before these settings existed trained with: the hull, plain L1, a
# plain autoencoder, no discriminators; and before the recipes, the VAE-GAN's loss and
# discriminators.
SETTINGS_BEFORE_BAND = {
    "forehead": 0.0,
    "feature_weight": 1.0,
    "variational": False,
    "kl_weight": KL_WEIGHT,
    "adversarial_weight": 0.0,
    "warp_until": 1.0,
    "recipe": RECIPE_BEFORE,
    "loss": "l1",
    "gan_from": 0.0,
    "disc_width": None,
    "disc_layers": 3,
    "shut_eyes": 0.0,
    "eyes": "pixels",
    "eye_opening": False,
}
# Left at None on the command line, these come from the run folder's config.json when it holds
# a run (rerunning the same command resumes it, whatever the defaults became since), else from
# the recipe and the preset.
RESUMED = ("recipe", *RECIPES[RECIPE], *PRESETS["quick"])


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
    shut_eyes: float | None = flag(
        "the share of each batch drawn from the person's faces with shut eyes (below "
        f"{SHUT_EYES} of their median openness: the blinks), so that a decoder learns the lids "
        "as well as the open eye (0: every face alike; default: from the recipe)",
        None,
        type=float,
    )
    eyes: str | None = flag(
        "what the networks see of the eyes: pixels, or drawn (each eye covered and its six "
        "points drawn on it, an open eye a white almond, a shut one a line, as open as against "
        "the person's own open eye; the openings also go to each decoder past the code: every "
        "person's blink the same drawing, so the user's reaches the target's face; the gaze is "
        "not carried) (default: from the recipe)",
        None,
        choices=EYE_INPUTS,
    )
    eye_opening: bool | None = flag(
        "with --eyes drawn, how open the eyes are (one number a face, the drawn openings' area) "
        "also reaches every stage of each decoder: the user's shut eyes shut the target's, "
        "whose lids keep their own shape (default: from the recipe; off with --eyes pixels)",
        None,
        action=argparse.BooleanOptionalAction,
    )
    recipe: str | None = flag(
        "sharp: the variational code, SSIM plus squared error, a light discriminator from "
        "--gan-from on, --shut-eyes of each batch blinks, the eyes drawn and how open to every "
        "decoder stage (--eyes, --eye-opening) (with the "
        "quick preset: batch 8); "
        "vae-gan: the variational code, the masked L1 and a discriminator as wide as the "
        "networks from the first step (with the quick preset: batch 16), the default until "
        f"December 2026 (default: {RECIPE}, or the run folder's)",
        None,
        choices=tuple(RECIPES),
    )
    variational: bool | None = flag(
        "a variational bottleneck: the encoder gives a mean and a log-variance, training decodes "
        "samples of the code and adds --kl-weight times its KL to N(0, 1); the bundle decodes "
        "the mean (the same face for the same crop) (default: from the recipe)",
        None,
        action=argparse.BooleanOptionalAction,
    )
    kl_weight: float = flag(
        "--variational's KL weight: the KL is a mean per code dimension, on the masked L1's scale",
        KL_WEIGHT,
    )
    loss: str | None = flag(
        "each face's masked loss: l1, or dssim-mse (1 - SSIM over a Gaussian window of about "
        "size/11.6 px, halved, plus the squared error) (default: from the recipe)",
        None,
        choices=LOSSES,
    )
    adversarial_weight: float | None = flag(
        "a PatchGAN per person judges each decoder's face inside the face mask (least "
        "squares) and its loss, times this, joins the face loss (0: no discriminators; "
        "default: from the recipe)",
        None,
        type=float,
    )
    gan_from: float | None = flag(
        "the share of the steps before the discriminators start (0: from the first step); "
        "until then a step costs the autoencoder alone (default: from the recipe)",
        None,
        type=float,
    )
    disc_width: int | None = flag(
        "the discriminators' first filters (default: from the recipe; the vae-gan's: --width)",
        None,
        type=int,
    )
    disc_layers: int | None = flag(
        "the discriminators' stride-2 blocks: 1 judges 16 px patches, 3 judge 70 px ones "
        "(default: from the recipe)",
        None,
        type=int,
    )

    def resolved(self, target: SwapDataset, user: SwapDataset) -> SwapConfig:
        """Fill what the flags left open: from the run folder's config.json when it holds a run
        of this preset (so the same command resumes it), else from the recipe, then the preset;
        check the values."""
        cfg = dataclasses.replace(self)
        asked_opening = cfg.eye_opening  # on the command line, not from a run folder or recipe
        if cfg.output is None:
            cfg.output = str(Path("runs") / f"swap-{user.root.name}-as-{target.root.name}")
        saved = {} if cfg.force else saved_run(Path(cfg.output), cfg.preset)
        if cfg.recipe is not None and saved.get("recipe", cfg.recipe) != cfg.recipe:
            saved = {}  # another recipe asked for: another run, whose settings are its own
        for name in RESUMED:
            if getattr(cfg, name) is None and name in saved:
                setattr(cfg, name, saved[name])
        cfg.recipe = cfg.recipe or RECIPE
        if cfg.recipe not in RECIPES:
            raise InputError(f"--recipe must be one of {', '.join(RECIPES)}")
        before = QUICK_BEFORE_SHARP if (cfg.recipe, cfg.preset) == ("vae-gan", "quick") else {}
        for name, value in {**RECIPES[cfg.recipe], **before}.items():
            if getattr(cfg, name) is None:
                setattr(cfg, name, value)
        cfg = cfg.with_people(PRESETS, target, user, "swap")
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
        if cfg.loss not in LOSSES:
            raise InputError(f"--loss must be one of {', '.join(LOSSES)}")
        if cfg.eyes not in EYE_INPUTS:
            raise InputError(f"--eyes must be one of {', '.join(EYE_INPUTS)}")
        if cfg.eyes != "drawn":
            if asked_opening:
                raise InputError("--eye-opening needs --eyes drawn: it is the drawn eyes' area")
            cfg.eye_opening = False
        if not 0 <= cfg.shut_eyes <= 1:
            raise InputError("--shut-eyes must be between 0 and 1")
        if not 0 <= cfg.gan_from <= 1:
            raise InputError("--gan-from must be between 0 and 1")
        if cfg.disc_width is not None and cfg.disc_width < 1:
            raise InputError("--disc-width must be at least 1")
        most = cfg.size.bit_length() - 4  # the blocks leave at least 4x4 patches
        if not 1 <= cfg.disc_layers <= most:
            raise InputError(f"--disc-layers must be between 1 and {most} at {cfg.size} px")
        return cfg


def saved_run(run_dir: Path, preset: str) -> dict[str, Any]:
    """The settings of the run in `run_dir` (what its config.json leaves out read as it was
    trained: SETTINGS_BEFORE_BAND) when it was a run of `preset`; {} when there is none."""
    try:
        saved = json.loads((run_dir / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or saved.get("preset", "quick") != preset:
        return {}
    return {**SETTINGS_BEFORE_BAND, **saved}


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
