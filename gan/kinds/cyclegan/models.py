"""CycleGAN's networks: the ResNet generator (Johnson et al., as the CycleGAN paper uses it) at the
face crop's size, and gan.blocks' PatchGAN as each person's discriminator. Plain Keras 3 layers,
so the saved generator loads in safe mode, exports to ONNX and runs under any backend."""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from gan.blocks import PatchGAN, instance_norm, normal_init

INPUT_NAME = "face"  # float32 (N, S, S, 3) in [-1, 1]


def _conv(x, filters: int, kernel: int, name: str, strides: int = 1, relu: bool = True, up=False):
    """Convolution (transposed when `up`), instance norm and, unless `relu` is False, ReLU: the
    paper's c7s1-k, dk, uk and the halves of Rk."""
    conv = layers.Conv2DTranspose if up else layers.Conv2D
    x = conv(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=normal_init(),
        name=name,
    )(x)
    x = instance_norm(name=f"{name}_norm")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def ResnetGenerator(  # noqa: N802 - a network
    size: int, ngf: int, blocks: int, name: str, channels: int = 3
) -> keras.Model:
    """c7s1-ngf, d2ngf, d4ngf, `blocks` residual blocks at a quarter of the size, u2ngf, ungf,
    c7s1-3 with tanh: a face crop in [-1, 1] -> the other person's face in the same crop (or, with
    6 channels, two frames -> the next: Recycle-GAN's predictor)."""
    inputs = keras.Input((size, size, channels), name=INPUT_NAME)
    x = _conv(inputs, ngf, 7, "c7")
    x = _conv(x, 2 * ngf, 3, "down1", strides=2)
    x = _conv(x, 4 * ngf, 3, "down2", strides=2)
    for i in range(blocks):
        y = _conv(x, 4 * ngf, 3, f"res{i + 1}a")
        y = _conv(y, 4 * ngf, 3, f"res{i + 1}b", relu=False)
        x = layers.Add(name=f"res{i + 1}")([x, y])
    x = _conv(x, 2 * ngf, 3, "up1", strides=2, up=True)
    x = _conv(x, ngf, 3, "up2", strides=2, up=True)
    x = layers.Conv2D(3, 7, padding="same", kernel_initializer=normal_init(), name="to_rgb")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)


@dataclass
class CycleNetworks:
    """The two generators and the two discriminators."""

    to_target: keras.Model  # G: the user's face -> the target's (the swap)
    to_user: keras.Model  # F: the target's face -> the user's
    judge_target: keras.Model  # D_T: is this the target's face?
    judge_user: keras.Model  # D_U: is this the user's face?
    # Recycle-GAN's temporal predictors (two frames -> the next), or None without --recycle.
    predict_target: keras.Model | None = None
    predict_user: keras.Model | None = None

    @property
    def predictors(self) -> list[keras.Model]:
        return [p for p in (self.predict_target, self.predict_user) if p is not None]

    @property
    def generator_variables(self) -> list:
        """What the generators' optimizer updates: both generators and the predictors."""
        nets = [self.to_target, self.to_user, *self.predictors]
        return [v for net in nets for v in net.trainable_variables]

    @property
    def discriminator_variables(self) -> list:
        return [*self.judge_target.trainable_variables, *self.judge_user.trainable_variables]


def cycle_networks(
    size: int, ngf: int, blocks: int, ndf: int, layers_down: int, recycle: bool = False
) -> CycleNetworks:
    """Fresh generators and discriminators (and the predictors, for Recycle-GAN)."""
    predictors = (
        [
            ResnetGenerator(size, ngf, blocks, f"predict_{who}", channels=6)
            for who in ("target", "user")
        ]
        if recycle
        else [None, None]
    )
    return CycleNetworks(
        ResnetGenerator(size, ngf, blocks, "to_target"),
        ResnetGenerator(size, ngf, blocks, "to_user"),
        PatchGAN(size, ndf, layers_down, name="judge_target"),
        PatchGAN(size, ndf, layers_down, name="judge_user"),
        *predictors,
    )
