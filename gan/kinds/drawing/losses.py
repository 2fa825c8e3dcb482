"""pix2pix losses: conditional GAN loss (BCE on logits, or LSGAN) plus lambda * L1."""

from __future__ import annotations

from keras import ops

from gan.blocks import gan_loss
from gan.kinds.drawing.options import GAN_LOSSES, LAMBDA_L1

__all__ = ["GAN_LOSSES", "LAMBDA_L1", "discriminator_loss", "gan_loss", "generator_loss"]


def generator_loss(disc_fake, fake, target, lambda_l1: float = LAMBDA_L1, kind: str = "bce"):
    """(total, gan, l1): fool the discriminator and stay close to the real photo."""
    adversarial = gan_loss(disc_fake, True, kind)
    l1 = ops.mean(ops.abs(ops.cast(target, "float32") - ops.cast(fake, "float32")))
    return adversarial + lambda_l1 * l1, adversarial, l1


def discriminator_loss(disc_real, disc_fake, kind: str = "bce"):
    """Real pairs -> 1, generated pairs -> 0; halved so D learns slower than G (paper)."""
    return 0.5 * (gan_loss(disc_real, True, kind) + gan_loss(disc_fake, False, kind))
