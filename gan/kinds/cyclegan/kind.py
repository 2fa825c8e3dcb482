"""The CycleGAN kind (`train-cyclegan`): unpaired face crops of two people, two generators, two
PatchGANs.

The recipe of Zhu et al.: least-squares GAN, cycle consistency in both directions (λ 10), the
identity loss (0.5 λ), a history pool of 50 fakes, Adam 2e-4 with beta_1 0.5 and linear decay.
The L1s count inside the face's outline (the hull and the forehead band the app blends), as the
swap's loss does. The seed's three additions are flags: the attention loss (the cycle L1 again,
over the facial parts of common.regions), the mess-up (part of a translation's pixels zeroed
before it goes back) and the 1.5-cycle (a translation sent around the other cycle, judged by the
discriminator). The bundle's user→target generator is a face_crop model the app composites as
the autoencoder swap's. Settings, presets, flags and what is checked before TensorFlow loads;
the step is in trainer.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gan.core.devices import Devices
from gan.core.settings import flag
from gan.errors import InputError
from gan.faces.data import SwapDataset
from gan.faces.people import People, check_datasets, read_two
from gan.faces.settings import TwoPeopleSettings

# Chosen by measurement (README, "Which swap model": the sample's man onto the astronaut clip,
# quick preset): the attention loss at 10 took the identity distance to the target from 0.552 to
# 0.536; mess-up (0.1) and the 1.5-cycle (1) made the face sharper and steadier but not more the
# target's (0.547, 0.626; all three 0.570), so they stay off. One run each: the attention recipe
# with another seed gave 0.623, so CycleGAN's runs spread far more than these differences.
ATTENTION_WEIGHT = 10.0

PRESETS: dict[str, dict[str, Any]] = {
    # 2 CPU cores: 64 px, generators of width 16 with 4 residual blocks, PatchGANs of width 32,
    # 4 faces of each person a step: 5.3 steps/s with the attention loss (6.3 minutes), 4.5 with
    # every seed term on, measured on the 2 cores while other work ran.
    "quick": {
        "size": 64,
        "ngf": 16,
        "blocks": 4,
        "ndf": 32,
        "batch_size": 4,
        "steps": 2000,
        "checkpoint_every": 500,
        "val_every": 500,
    },
    # A GPU: 128 px, the paper's widths (64 and 64) and 6 blocks (its 128-px generator).
    "gpu": {
        "size": 128,
        "ngf": 64,
        "blocks": 6,
        "ndf": 64,
        "batch_size": 8,
        "steps": 40000,
        "checkpoint_every": 2000,
        "val_every": 1000,
    },
}
IDENTITY = (
    "target",
    "user",
    "size",
    "ngf",
    "blocks",
    "ndf",
    "batch_size",
    "lr",
    "cycle_weight",
    "identity_weight",
    "attention_weight",
    "mess_up",
    "cycle_1_5_weight",
    "pool",
    "recycle",
    "crop_scale",
    "centre_y",
    "forehead",
    "seed",
)


@dataclass(kw_only=True)
class CycleConfig(TwoPeopleSettings):
    """Every setting of a CycleGAN run; each field is one command-line flag."""

    ngf: int | None = flag("the generators' base width (default: the preset's)", None, type=int)
    blocks: int | None = flag(
        "residual blocks in each generator (default: the preset's)", None, type=int
    )
    ndf: int | None = flag("the discriminators' base width (default: the preset's)", None, type=int)
    lr: float = flag("Adam learning rate, beta_1 0.5, constant then linear decay to 0", 2e-4)
    cycle_weight: float = flag("λ: the cycle L1's weight in both directions", 10.0)
    identity_weight: float = flag(
        "the identity L1's weight, as a share of λ (each generator gives its own person back)", 0.5
    )
    attention_weight: float = flag(
        "the attention loss: the cycle L1 again over the facial parts (brows and eyes, nose, "
        "mouth), this times; 0: off",
        ATTENTION_WEIGHT,
    )
    mess_up: float = flag(
        "the share of a translation's pixels zeroed before the other generator takes it back "
        "(0: off)",
        0.0,
    )
    cycle_1_5_weight: float = flag(
        "the 1.5-cycle: a face sent around the other cycle too, judged by the discriminator, "
        "at this weight (0: off)",
        0.0,
    )
    recycle: float = flag(
        "Recycle-GAN: temporal predictors learn each person's next frame from the two before, "
        "and the translation must keep that motion (recurrent and recycle L1s), at this weight "
        "(0: off); needs datasets of neighbouring video frames",
        0.0,
    )
    pool: int = flag("history pool: how many past fakes each discriminator draws from (0: off)", 50)

    def resolved(self, target: SwapDataset, user: SwapDataset) -> CycleConfig:
        """Fill what the flags left open from the preset; check the values."""
        cfg = self.with_people(PRESETS, target, user, "cyclegan")
        for name in ("ngf", "blocks", "ndf"):
            if getattr(cfg, name) < 1:
                raise InputError(f"--{name} must be at least 1")
        if not cfg.lr > 0:
            raise InputError("--lr must be positive")
        weights = ("cycle_weight", "identity_weight", "attention_weight", "cycle_1_5_weight")
        for name in (*weights, "recycle"):
            if not 0 <= getattr(cfg, name) <= 1000:
                raise InputError(f"--{name.replace('_', '-')} must be between 0 and 1000")
        if not 0 <= cfg.mess_up < 1:
            raise InputError("--mess-up must be at least 0 and below 1")
        if not 0 <= cfg.pool <= 1000:
            raise InputError("--pool must be between 0 and 1000")
        return cfg


class CycleKind:
    """train-cyclegan, as gan.core.kind.Kind."""

    name = "cyclegan"
    prog = "train-cyclegan"
    description = (
        "Train a CycleGAN face swap on two make-dataset folders (unpaired: no frame of one needs "
        "a frame of the other) and write a bundle to RUN_DIR/model: the user's face in, the "
        "target's face out, for live-mirror, reenact and evaluate --driver. Rerun the same "
        "command to resume."
    )
    settings = CycleConfig
    presets = PRESETS
    identity = IDENTITY
    saved_defaults: dict[str, Any] = {"recycle": 0.0}
    max_loss = 100.0  # a few least-squares terms and λ-weighted L1s on [0, 1]: past it, exploded
    batch_unit = "faces of each person"
    output_default = "runs/cyclegan-USER-as-TARGET"
    bundle_name = "CycleGAN bundle"
    report_line = " (val cycle L1 user {val_cycle_user:.4f}, target {val_cycle_target:.4f})"

    def prepare(self, cfg: CycleConfig) -> tuple[CycleConfig, Callable[[], People]]:
        """Both datasets checked (gan.faces.people); read after the run folder's check."""
        target, user = check_datasets(cfg)
        cfg = cfg.resolved(target, user)
        return cfg, lambda: read_two(cfg, target, user)

    def build(self, cfg: CycleConfig, people: People, devices: Devices) -> Any:
        from gan.kinds.cyclegan.trainer import CycleTrainer

        return CycleTrainer.build(cfg, people, devices)


KIND = CycleKind()
