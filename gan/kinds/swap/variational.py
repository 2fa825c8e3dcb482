"""The swap kind's optional terms: a variational bottleneck (the code sampled with the
reparameterisation trick, a KL term towards N(0, 1)) and the VAE-GAN's discriminators (a PatchGAN
per person that judges each decoder's face inside the face mask, least squares).

Each term is one replica's share of its global-batch value (gan.core.step): a mean over the
batch divided by the number of replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gan.core.step import share

# The vae-gan recipe's discriminators judge patches of the masked face: 3 stride-2 blocks see 70 px
# patches, the sharp recipe's 1 block 16 px ones (gan.blocks.PatchGAN, its 4x4 kernels).
LAYERS_DOWN = 3


def kl_divergence(mu: Any, logvar: Any) -> Any:
    """KL(N(mu, exp(logvar)) || N(0, 1)), -0.5·mean(1 + logvar - mu² - exp(logvar)), as a mean
    over the latent dimensions and the faces (not a sum over the dimensions, the usual VAE
    form): a value per dimension, so a --kl-weight reads on the masked L1's scale whatever the
    bottleneck. Float32 under mixed precision."""
    import tensorflow as tf

    mu, logvar = tf.cast(mu, tf.float32), tf.cast(logvar, tf.float32)
    return -0.5 * tf.reduce_mean(1.0 + logvar - tf.square(mu) - tf.exp(logvar))


def sample_code(mu: Any, logvar: Any) -> Any:
    """z = mu + exp(0.5·logvar)·eps, eps ~ N(0, 1): a code drawn from the encoder's distribution
    that the gradient flows through (the reparameterisation trick)."""
    import tensorflow as tf

    mu32, logvar32 = tf.cast(mu, tf.float32), tf.cast(logvar, tf.float32)
    eps = tf.random.normal(tf.shape(mu32))
    return tf.cast(mu32 + tf.exp(0.5 * logvar32) * eps, mu.dtype)


def held_out_kl(encoder: Any, images: np.ndarray, batch: int = 16) -> float:
    """The KL term on uint8 faces (the mean over dimensions and faces), in inference mode."""
    from gan.bundle.pictures import to_model_range

    total, n = 0.0, 0
    for i in range(0, len(images), batch):
        part = to_model_range(images[i : i + batch])
        mu, logvar = encoder(part, training=False)
        total += float(kl_divergence(mu, logvar)) * len(part)
        n += len(part)
    return total / max(n, 1)


@dataclass
class Discriminators:
    """The VAE-GAN's discriminators, one per person, and their optimizer."""

    target: Any
    user: Any
    optimizer: Any

    @classmethod
    def build(
        cls, size: int, ndf: int, optimizer: Any, layers_down: int = LAYERS_DOWN
    ) -> Discriminators:
        from gan.blocks import PatchGAN

        target = PatchGAN(size, ndf, layers_down=layers_down, name="disc_target")
        user = PatchGAN(size, ndf, layers_down=layers_down, name="disc_user")
        optimizer.build([*target.trainable_variables, *user.trainable_variables])
        return cls(target, user, optimizer)

    @property
    def checkpoint(self) -> dict[str, Any]:
        return {
            "disc_target": self.target,
            "disc_user": self.user,
            "disc_optimizer": self.optimizer,
        }

    @property
    def trainable_variables(self) -> list:
        return [*self.target.trainable_variables, *self.user.trainable_variables]


def adversarial(disc: Any, fake: Any, real: Any, weights: Any) -> tuple[Any, Any]:
    """(the generator's, the discriminator's) shares of the least-squares GAN losses of one person:
    the discriminator sees the real face and the decoder's face inside the face mask (the loss
    weights made 0 or 1), so it judges the face alone, not the background the L1 ignores."""
    import tensorflow as tf

    from gan.blocks import gan_loss

    mask = tf.cast(weights > 0, fake.dtype)
    # One call on both halves: its instance norm sees each face alone, so the logits are what
    # two calls would give, at the cost of one.
    both = tf.concat([tf.cast(real, fake.dtype), fake], axis=0) * tf.concat([mask, mask], 0)
    d_real, d_fake = tf.split(disc(both, training=True), 2)
    g_loss = gan_loss(d_fake, True, "lsgan")
    d_loss = 0.5 * (gan_loss(d_real, True, "lsgan") + gan_loss(d_fake, False, "lsgan"))
    return share(g_loss), share(d_loss)
