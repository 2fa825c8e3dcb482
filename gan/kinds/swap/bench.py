"""Timings of the swap's recipes for scripts/bench: each phase's step (the autoencoders alone,
then with the discriminators) and the share of it that is the discriminators, and each recipe's
mean step over a whole run, every phase counted."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np

from gan.core.bench import _clocked, _losses
from gan.kinds.swap.kind import RECIPES


def _trainer(args: list[str]) -> Any:
    from gan.core.devices import choose_devices
    from gan.core.main import parse_args
    from gan.kinds.swap.kind import KIND

    cfg, read = KIND.prepare(parse_args(KIND, args))
    return KIND.build(cfg, read(), choose_devices("off", "off", 1, False))


def _autoencoder_step(trainer: Any) -> Any:
    """The trainer's autoencoders' step without discriminators (its own first phase, or, when
    the GAN runs from the first step, one built for the comparison)."""
    from gan.kinds.swap.trainer import make_train_step

    if trainer.gan_start > 0 or trainer.gan_step is None:
        return trainer.plain_step
    cfg = trainer.cfg
    return make_train_step(trainer.net, trainer.optimizer, kl_weight=cfg.kl_weight, loss=cfg.loss)


def time_swap_recipes(
    dataset: str, user: str | None = None, steps: int = 10, rounds: int = 3, warmup: int = 2
) -> dict[str, dict[str, Any]]:
    """Per recipe (quick preset, `dataset` the target, `user` the user: default a copy): the bare
    step's ms and CPU ms of each phase, fixed batches, blocks of `steps` alternating `rounds`
    times so that others' load hits all alike; the discriminators' share of the GAN phase's
    step; the mean step over a run (each phase weighted by its steps); and that mean against the
    vae-gan recipe's ("vs_vae_gan")."""
    import keras
    import tensorflow as tf

    found: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        user = user or shutil.copytree(dataset, f"{workdir}/user")
        phases: dict[str, dict[str, Any]] = {}
        for recipe in RECIPES:
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            args = [dataset, user, "-o", f"{workdir}/{recipe}", "--recipe", recipe, "-q"]
            trainer = _trainer([*args, "--no-onnx"])
            batch = [tf.convert_to_tensor(x) for x in next(iter(trainer.batches(0)))]
            phases[recipe] = {"autoencoder": _autoencoder_step(trainer), "trainer": trainer}
            if trainer.gan_step is not None:
                phases[recipe]["gan"] = trainer.gan_step
            phases[recipe]["batch"] = batch
        totals = {
            (r, p): np.zeros(2) for r, v in phases.items() for p in ("autoencoder", "gan") if p in v
        }
        for _ in range(rounds):
            for r, p in totals:
                step, batch = phases[r][p], phases[r]["batch"]
                totals[r, p] += _clocked(lambda s=step, b=batch: _losses(s(*b)), steps, warmup)
    for r, v in phases.items():
        cfg, trainer = v["trainer"].cfg, v["trainer"]
        ms = {p: totals[r, p] / (rounds * steps) * 1e3 for p in ("autoencoder", "gan") if p in v}
        gan_share = (cfg.steps - trainer.gan_start) / cfg.steps if "gan" in ms else 0.0
        gan_ms = ms.get("gan", ms["autoencoder"])[0]
        mean = ms["autoencoder"][0] * (1 - gan_share) + gan_ms * gan_share
        found[r] = {
            "size": cfg.size,
            "width": cfg.width,
            "batch_size": cfg.batch_size,
            "phases": {p: {"ms": float(m[0]), "cpu_ms": float(m[1])} for p, m in ms.items()},
            "gan_from": cfg.gan_from if "gan" in ms else None,
            "disc_share": float(1 - ms["autoencoder"][0] / ms["gan"][0]) if "gan" in ms else 0.0,
            "mean_ms": float(mean),
        }
    for r in found:
        found[r]["vs_vae_gan"] = found[r]["mean_ms"] / found["vae-gan"]["mean_ms"]
    return found


def swap_recipe_rows(recipes: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """scripts/bench's rows for time_swap_recipes' figures: one per recipe and phase, then each
    recipe's mean step."""
    rows = []
    for r, e in recipes.items():
        shape = f"{e['size']} px, width {e['width']}, batch {e['batch_size']}"
        for phase, m in e["phases"].items():
            share = f"; the discriminators {e['disc_share']:.0%} of it" if phase == "gan" else ""
            rows.append(
                (
                    f"swap {r} (quick, {shape}): {phase} step ms",
                    f"{m['ms']:.0f}",
                    f"CPU {m['cpu_ms']:.0f} ms{share}",
                )
            )
        start = "" if e["gan_from"] is None else f", GAN from {e['gan_from']:.0%} of the steps"
        rows.append(
            (
                f"swap {r}: mean step ms over a run",
                f"{e['mean_ms']:.0f}",
                f"{e['vs_vae_gan']:.2f}x the vae-gan's (goal for sharp <= 0.33x){start}",
            )
        )
    return rows
