"""The building blocks the kinds' networks share: pix2pix's convolution blocks, instance norm, an
unconditional PatchGAN, and the GAN losses. Plain Keras 3 layers, so saved models load in safe
mode under any backend."""

from __future__ import annotations

import keras
from keras import layers, ops

KERNEL = 4


def normal_init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def instance_norm(name: str | None = None) -> layers.Layer:
    """Per-image, per-channel normalisation: the same at training and inference, any batch size.

    The paper's batch norm at batch size 1 with test-time batch statistics *is* instance norm;
    this keeps that behaviour without depending on what else is in the batch.
    """
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def downsample(filters: int, norm: bool = True, name: str | None = None) -> keras.Sequential:
    """Ck: 4x4 convolution stride 2, instance norm, LeakyReLU 0.2."""
    block = keras.Sequential(name=name)
    # A bias before a norm is cancelled by the mean subtraction, so only un-normed convs get one.
    block.add(
        layers.Conv2D(
            filters,
            KERNEL,
            strides=2,
            padding="same",
            kernel_initializer=normal_init(),
            use_bias=not norm,
        )
    )
    if norm:
        block.add(instance_norm())
    block.add(layers.LeakyReLU(negative_slope=0.2))
    return block


def upsample(filters: int, dropout: bool = False, name: str | None = None) -> keras.Sequential:
    """CDk / Ck: 4x4 transposed convolution stride 2, instance norm, [dropout 0.5], ReLU."""
    block = keras.Sequential(name=name)
    block.add(
        layers.Conv2DTranspose(
            filters,
            KERNEL,
            strides=2,
            padding="same",
            kernel_initializer=normal_init(),
            use_bias=False,
        )
    )
    block.add(instance_norm())
    if dropout:
        block.add(layers.Dropout(0.5))
    block.add(layers.ReLU())
    return block


def gan_loss(logits, real: bool, kind: str = "bce"):
    """How far the patch logits are from all-real (1) or all-fake (0)."""
    logits = ops.cast(logits, "float32")
    target = ops.ones_like(logits) if real else ops.zeros_like(logits)
    if kind == "lsgan":
        return ops.mean(ops.square(logits - target))
    return ops.mean(ops.binary_crossentropy(target, logits, from_logits=True))


def PatchGAN(  # noqa: N802 - a network
    size: int, ndf: int = 64, layers_down: int = 3, channels: int = 3, name: str = "patchgan"
) -> keras.Model:
    """An unconditional PatchGAN on one image (CycleGAN's): `layers_down` stride-2 blocks from
    `ndf` filters (doubling, capped at 8·ndf), a stride-1 block, then a 1-channel patch map of
    logits (float32, for least squares or BCE). 3 blocks at 64 px judge 34-px patches."""
    image = keras.Input(shape=(size, size, channels), name="image")
    x = image
    for i in range(layers_down):
        x = downsample(ndf * min(2**i, 8), norm=i > 0, name=f"down{i + 1}")(x)
    x = layers.Conv2D(
        ndf * min(2**layers_down, 8),
        KERNEL,
        padding="same",
        kernel_initializer=normal_init(),
        use_bias=False,
        name="conv",
    )(x)
    x = instance_norm(name="norm")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="lrelu")(x)
    logits = layers.Conv2D(
        1, KERNEL, padding="same", kernel_initializer=normal_init(), dtype="float32", name="logits"
    )(x)
    return keras.Model(image, logits, name=name)
