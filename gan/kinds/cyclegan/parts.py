"""The CycleGAN seed's training parts, each alone so it can be tested: the history pool of fakes,
and the mess-up of a translated face."""

from __future__ import annotations

from typing import Any

POOL_RATE = 0.5  # once the pool is full, the share of fakes swapped for an older one (the paper's)


def mess_up(images: Any, fraction: float, seed: Any = None) -> Any:
    """`images` (N, S, S, C) with about `fraction` of their pixels (all channels of each) set to 0,
    the middle of [-1, 1]: the backward generator gets a damaged translation, so the two
    generators cannot agree on a code hidden in faint pixel noise. `seed`: a stateless seed
    (shape (2,) int) or None for the global generator."""
    import tensorflow as tf

    if fraction <= 0:
        return images
    shape = tf.concat([tf.shape(images)[:-1], [1]], 0)
    draw = (
        tf.random.uniform(shape) if seed is None else tf.random.stateless_uniform(shape, seed=seed)
    )
    return images * tf.cast(draw >= fraction, images.dtype)


class HistoryPool:
    """The last `capacity` fakes a discriminator saw, as in Shrivastava et al. and CycleGAN: until
    it is full each fake goes in and comes back; then each is swapped, at POOL_RATE, for a random
    older one, which comes back instead. The discriminator so sees the generator's history, not
    only its latest trick. TensorFlow variables, one pool per replica; not checkpointed (a
    resumed run refills it within capacity/batch steps)."""

    def __init__(self, capacity: int, shape: tuple[int, ...], rate: float = POOL_RATE) -> None:
        import tensorflow as tf

        self.capacity, self.rate = capacity, rate
        local = {
            "trainable": False,
            "synchronization": tf.VariableSynchronization.ON_READ,
            "aggregation": tf.VariableAggregation.NONE,
        }
        self.images = tf.Variable(tf.zeros((max(capacity, 1), *shape)), **local)
        self.count = tf.Variable(0, dtype=tf.int32, **local)

    def __call__(self, fakes: Any) -> Any:
        """The fakes the discriminator judges, (N, S, S, C), for this step's `fakes`."""
        import tensorflow as tf

        if self.capacity <= 0:
            return fakes
        out = []
        for i in range(fakes.shape[0]):  # a few faces: unrolled, each in turn as the paper does
            fake = tf.cast(fakes[i], self.images.dtype)
            filled = self.count.read_value()
            not_full = filled < self.capacity
            old_one = tf.logical_and(~not_full, tf.random.uniform([]) < self.rate)
            at = tf.where(not_full, filled, tf.random.uniform([], 0, self.capacity, dtype=tf.int32))
            old = self.images[at]
            out.append(tf.where(old_one, old, fake))
            kept = tf.where(tf.logical_or(not_full, old_one), fake, old)
            # A whole-pool assign: replica-local variables have no scatter (a few MB a step).
            pooled = self.images.read_value()
            self.images.assign(
                tf.tensor_scatter_nd_update(pooled, tf.reshape(at, (1, 1)), kept[None])
            )
            self.count.assign(tf.minimum(filled + 1, self.capacity))
        return tf.cast(tf.stack(out), fakes.dtype)
