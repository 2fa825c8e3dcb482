"""pix2pix networks: the U-Net generator and the 70x70 PatchGAN discriminator, plain Keras 3."""

from __future__ import annotations

import keras
from keras import layers

from gan.blocks import KERNEL, downsample, instance_norm, normal_init, upsample
from gan.kinds.drawing.options import SUPPORTED_SIZES

MIN_SIZE, MAX_SIZE = 64, 512
DROPOUT_BLOCKS = 3  # the first three decoder blocks drop out while training, as in the paper


def check_size(size: int) -> int:
    """Return the U-Net depth for `size` (log2), or raise ValueError for unsupported sizes."""
    if size not in SUPPORTED_SIZES:
        raise ValueError(f"size must be one of {SUPPORTED_SIZES}, not {size}")
    return size.bit_length() - 1


def encoder_filters(size: int, ngf: int) -> list[int]:
    """C64-C128-C256-C512-C512... down to 1x1 (8 blocks at 256 px)."""
    return [ngf * min(2**i, 8) for i in range(check_size(size))]


REFERENCE_CHANNELS = 7  # drawing (3) + the warped reference photo (3) + the face mask (1)


@keras.saving.register_keras_serializable(package="face_mirror")
class OverReference(layers.Layer):
    """The reference recipe's output: the warped reference photo, changed inside the face mask.

    Inputs: the generator's input (drawing, reference, mask channels) and the U-Net's change;
    output: clip(reference + mask · change, -1, 1). Outside the mask the output is the reference.
    """

    def call(self, inputs):
        x, change = inputs
        reference, mask = x[..., 3:6], x[..., 6:7]
        return keras.ops.clip(reference + mask * keras.ops.cast(change, reference.dtype), -1.0, 1.0)


def Generator(  # noqa: N802 - named as in the paper
    size: int = 256, ngf: int = 64, recipe: str = "pix2pix"
) -> keras.Model:
    """U-Net: encoder down to 1x1, decoder back up with skips, tanh out in [-1, 1].

    recipe "reference": the input also carries a reference photo of the target, warped to the
    drawing's points, and a soft face mask (REFERENCE_CHANNELS); the U-Net's last layer starts at
    zero and its output changes the reference inside the mask (OverReference), so training starts
    from the warped reference and learns what the drawing asks of the face.
    """
    filters = encoder_filters(size, ngf)
    reference = recipe == "reference"
    channels = REFERENCE_CHANNELS if reference else 3
    inputs = keras.Input(shape=(size, size, channels), name="drawing")
    x = inputs
    skips = []
    for i, f in enumerate(filters):
        # No norm on the first block (paper) nor on the 1x1 bottleneck, where instance norm
        # over a single pixel would zero every activation (the reference code skips it too).
        x = downsample(f, norm=0 < i < len(filters) - 1, name=f"down{i + 1}")(x)
        skips.append(x)
    for i, (f, skip) in enumerate(zip(reversed(filters[:-1]), reversed(skips[:-1]), strict=True)):
        x = upsample(f, dropout=i < DROPOUT_BLOCKS, name=f"up{i + 1}")(x)
        x = layers.Concatenate(name=f"skip{i + 1}")([x, skip])
    x = layers.Conv2DTranspose(
        3,
        KERNEL,
        strides=2,
        padding="same",
        kernel_initializer="zeros" if reference else normal_init(),
        name="to_rgb",
    )(x)
    # float32 out, so a mixed-precision generator still returns full-precision images.
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    if reference:
        outputs = OverReference(dtype="float32", name="over_reference")([inputs, outputs])
    suffix = "_ref" if reference else ""
    return keras.Model(inputs, outputs, name=f"unet{size}_ngf{ngf}{suffix}")


def Discriminator(  # noqa: N802
    size: int = 256, ndf: int = 64, condition_channels: int = 3
) -> keras.Model:
    """70x70 PatchGAN: C64-C128-C256-C512 then a 1-channel logit map, on concat(drawing, image).

    `condition_channels`: what the generator took (the reference recipe's drawing, reference and
    mask: REFERENCE_CHANNELS).
    """
    check_size(size)
    drawing = keras.Input(shape=(size, size, condition_channels), name="drawing")
    image = keras.Input(shape=(size, size, 3), name="image")
    x = layers.Concatenate(name="pair")([drawing, image])
    x = downsample(ndf, norm=False, name="down1")(x)
    x = downsample(ndf * 2, name="down2")(x)
    x = downsample(ndf * 4, name="down3")(x)
    x = layers.ZeroPadding2D(name="pad1")(x)
    x = layers.Conv2D(
        ndf * 8, KERNEL, strides=1, kernel_initializer=normal_init(), use_bias=False, name="conv4"
    )(x)
    x = instance_norm(name="norm4")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="lrelu4")(x)
    x = layers.ZeroPadding2D(name="pad2")(x)
    logits = layers.Conv2D(
        1, KERNEL, strides=1, kernel_initializer=normal_init(), dtype="float32", name="logits"
    )(x)
    return keras.Model([drawing, image], logits, name=f"patchgan{size}_ndf{ndf}")
