"""The settings every face_crop kind has: its two people, the model size, and the crop and outline
the app cuts and blends the same way; checked once for every such kind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.outline import FOREHEAD
from gan.core.settings import RunSettings, apply_preset, check_run_settings, flag
from gan.errors import InputError
from gan.faces.data import SWAP_CENTRE_Y, SWAP_CROP_SCALE, SWAP_SIZES, SwapDataset


@dataclass(kw_only=True)
class TwoPeopleSettings(RunSettings):
    """The fields of a face_crop kind's settings; a kind's dataclass adds its own."""

    target: str = flag("make-dataset folder of the face to become (aligned mode)")
    user: str = flag("make-dataset folder of the person who drives it (aligned mode)")
    size: int | None = flag(
        f"model size, one of {SWAP_SIZES} (default: the preset's)", None, type=int
    )
    crop_scale: float = flag(
        "the swap crop's width in eye-widths (make-dataset's crops are 2.6); the app cuts "
        "camera frames the same way",
        SWAP_CROP_SCALE,
    )
    centre_y: float = flag(
        "how far below the eyes the swap crop is centred, in eye-widths (make-dataset: 0.5; "
        "lower, because the chin reaches further than the brows)",
        SWAP_CENTRE_Y,
    )
    forehead: float = flag(
        "the swapped region: the face's hull and a band this many eye-widths above the brows "
        "(0: the hull alone); the loss is masked to it and the app blends it",
        FOREHEAD,
    )

    def with_people(
        self, presets: dict[str, dict[str, Any]], target: SwapDataset, user: SwapDataset, name: str
    ) -> Any:
        """A copy with the preset's values filled in, both datasets' paths, the run folder
        (default runs/NAME-USER-as-TARGET), and the shared fields checked (InputError)."""
        cfg = apply_preset(self, presets)
        cfg.target, cfg.user = str(target.root), str(user.root)
        if cfg.output is None:
            cfg.output = str(Path("runs") / f"{name}-{user.root.name}-as-{target.root.name}")
        if cfg.size not in SWAP_SIZES:
            raise InputError(f"--size must be one of {', '.join(map(str, SWAP_SIZES))}")
        check_run_settings(cfg)
        if not 0 < cfg.crop_scale:
            raise InputError("--crop-scale must be positive")
        if not 0 <= cfg.forehead <= 1:
            raise InputError("--forehead must be between 0 and 1 eye-widths")
        return cfg
