"""The GAN kinds' learning rate and optimizer: the pix2pix and CycleGAN papers' linear decay
(constant for the first half, then down to 0), Adam with beta_1 0.5, loss-scaled under mixed
precision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ADAM_BETA_1 = 0.5


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
