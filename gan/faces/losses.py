"""The face_crop kinds' masked L1, as one replica's share of the global batch's loss."""

from __future__ import annotations

from typing import Any

from gan.core.step import global_sum


def face_l1(fake: Any, real: Any, mask: Any) -> Any:
    """This replica's share of the masked L1 of the global batch, on a [0, 1] scale (half the
    [-1, 1] difference): its masked error over every replica's mask area, so the shares add up
    to the loss one device computes on the whole batch. `mask` (N, S, S, 1) weighs each pixel."""
    import tensorflow as tf

    weighted = tf.abs(tf.cast(fake, tf.float32) - real) * mask / 2.0
    return tf.reduce_sum(weighted) / (global_sum(tf.reduce_sum(mask)) * 3.0 + 1e-6)
