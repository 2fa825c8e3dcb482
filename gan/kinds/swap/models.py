"""Face-swap networks: one shared encoder, one decoder per person (the deepfakes autoencoder).

The encoder squeezes an aligned face through a dense bottleneck, so it can keep only what both
people share (pose, expression, light); each decoder learns to paint its own person from that.
At use time the user's face goes through the encoder and the target's decoder. A variational
encoder (--variational) ends in two dense heads, the code's mean and log-variance, and its second
half (dense expand, 4×4, upscale to 8×8) is a model of its own, so training can decode a sample of
the code while the swap and reconstruction models decode the mean. Plain Keras 3 layers only
(pixel shuffle is Reshape + Permute), so a saved model loads in safe mode and runs under the JAX
or PyTorch backends too.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from gan.faces.data import SWAP_SIZES

BOTTOM = 4  # the encoder's convolutions stop at 4×4, as in the 64 px original
KERNEL = 5  # the original's encoder kernels
INPUT_NAME = "face"  # float32 (N, S, S, 3) in [-1, 1]
LEAK = 0.1


def check_swap_size(size: int) -> int:
    """The encoder's number of stride-2 convolutions for `size`; ValueError if unsupported."""
    if size not in SWAP_SIZES:
        raise ValueError(f"size must be one of {SWAP_SIZES}, not {size}")
    return (size // BOTTOM).bit_length() - 1


def pixel_shuffle(x, r: int = 2, name: str | None = None):
    """Depth to space (Shi et al. 2016): (h, w, r·r·c) -> (h·r, w·r, c), TensorFlow's order."""
    h, w, depth = x.shape[1:]
    c = depth // (r * r)
    x = layers.Reshape((h, w, r, r, c), name=None if name is None else f"{name}_split")(x)
    x = layers.Permute((1, 3, 2, 4, 5), name=None if name is None else f"{name}_interleave")(x)
    return layers.Reshape((h * r, w * r, c), name=name)(x)


def conv(x, filters: int, name: str):
    """The encoder's step down: 5×5 convolution stride 2, LeakyReLU 0.1."""
    x = layers.Conv2D(filters, KERNEL, strides=2, padding="same", name=name)(x)
    return layers.LeakyReLU(negative_slope=LEAK, name=f"{name}_act")(x)


def upscale(x, filters: int, name: str):
    """The step up: 3×3 convolution to 4× the filters, LeakyReLU 0.1, pixel shuffle ×2."""
    x = layers.Conv2D(filters * 4, 3, padding="same", name=name)(x)
    x = layers.LeakyReLU(negative_slope=LEAK, name=f"{name}_act")(x)
    return pixel_shuffle(x, 2, name=f"{name}_shuffle")


def encoder_filters(size: int, width: int) -> list[int]:
    """width, 2·width, 4·width, 8·width (capped there) down to 4×4."""
    return [width * min(2**i, 8) for i in range(check_swap_size(size))]


def decoder_filters(size: int, width: int) -> list[int]:
    """From 8×8 up to `size`: 2·width, width, then width/2 for the rest."""
    ups = check_swap_size(size) - 1
    return [max(width // 2, (4 * width) >> (i + 1)) for i in range(ups)]


def _convolutions(size: int, width: int):
    """The encoder's input and its convolutions down to 4×4, flattened."""
    inputs = keras.Input((size, size, 3), name=INPUT_NAME)
    x = inputs
    for i, f in enumerate(encoder_filters(size, width)):
        x = conv(x, f, name=f"conv{i + 1}")
    return inputs, layers.Flatten(name="flatten")(x)


def _expand(x, size: int, width: int):
    """The code back to 4×4 (dense), then upscaled to the decoders' 8×8 input."""
    depth = encoder_filters(size, width)[-1]
    x = layers.Dense(BOTTOM * BOTTOM * depth, name="expand")(x)
    x = layers.Reshape((BOTTOM, BOTTOM, depth), name="unflatten")(x)
    return upscale(x, 4 * width, name="up0")


def Encoder(size: int, width: int, bottleneck: int) -> keras.Model:  # noqa: N802 - a network
    """Face -> convolutions to 4×4 -> dense bottleneck -> 4×4 -> upscale to 8×8 (shared)."""
    check_swap_size(size)
    inputs, x = _convolutions(size, width)
    x = layers.Dense(bottleneck, name="bottleneck")(x)
    return keras.Model(inputs, _expand(x, size, width), name="encoder")


def VariationalEncoder(size: int, width: int, bottleneck: int) -> keras.Model:  # noqa: N802
    """Face -> convolutions to 4×4 -> [mu, log-variance], two dense heads of `bottleneck`: the
    code's distribution, which training samples and a bundle takes the mean of (shared)."""
    check_swap_size(size)
    inputs, x = _convolutions(size, width)
    mu = layers.Dense(bottleneck, name="mu")(x)
    logvar = layers.Dense(bottleneck, name="logvar")(x)
    return keras.Model(inputs, [mu, logvar], name="encoder")


def Expand(size: int, width: int, bottleneck: int) -> keras.Model:  # noqa: N802
    """A variational encoder's second half: a code -> 4×4 -> upscale to 8×8 (shared)."""
    code = keras.Input((bottleneck,), name="z")
    return keras.Model(code, _expand(code, size, width), name="expand")


def Decoder(size: int, width: int, name: str) -> keras.Model:  # noqa: N802
    """8×8 code -> upscales to `size` -> 5×5 convolution to RGB, tanh, in [-1, 1]."""
    code = keras.Input((2 * BOTTOM, 2 * BOTTOM, 4 * width), name="code")
    x = code
    for i, f in enumerate(decoder_filters(size, width)):
        x = upscale(x, f, name=f"up{i + 1}")
    x = layers.Conv2D(3, KERNEL, padding="same", name="to_rgb")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(code, outputs, name=name)


@dataclass
class SwapNetworks:
    """The trained parts and the two whole models built from them (shared weights).

    Variational: `encoder` gives [mu, logvar] and `expand` takes a code to the decoders' input;
    training decodes samples of the code, the whole models decode its mean (deterministic).
    """

    encoder: keras.Model
    decoder_target: keras.Model
    decoder_user: keras.Model
    to_target: keras.Model  # face -> encoder -> target's decoder: the swap
    to_user: keras.Model  # face -> encoder -> user's decoder: reconstruction
    expand: keras.Model | None = None  # variational: the code -> 8×8

    @property
    def variational(self) -> bool:
        return self.expand is not None

    @property
    def trainable_variables(self) -> list:
        parts = (self.encoder, self.decoder_target, self.decoder_user)
        if self.expand is not None:
            parts = (self.encoder, self.expand, self.decoder_target, self.decoder_user)
        return [v for part in parts for v in part.trainable_variables]


def _whole(stages: list[keras.Model], name: str) -> keras.Model:
    """One model of `stages` applied in turn to a face (each a nested model: shared weights)."""
    inputs = keras.Input(stages[0].input_shape[1:], name=INPUT_NAME)
    x = inputs
    for stage in stages:
        x = stage(x)
    return keras.Model(inputs, x, name=name)


def swap_networks(
    size: int = 64, width: int = 32, bottleneck: int = 256, variational: bool = False
) -> SwapNetworks:
    """A fresh encoder, two decoders, and the swap and reconstruction models over them.

    Variational: the whole models go face -> mu -> expand -> decoder, through a view of the
    encoder without its log-variance head, so a bundle holds plain layers and no sampling."""
    if not variational:
        encoder = Encoder(size, width, bottleneck)
        expand, encode = None, [encoder]
    else:
        encoder = VariationalEncoder(size, width, bottleneck)
        expand = Expand(size, width, bottleneck)
        encode = [keras.Model(encoder.inputs, encoder.outputs[0], name="encoder_mu"), expand]
    decoder_target = Decoder(size, width, "decoder_target")
    decoder_user = Decoder(size, width, "decoder_user")
    return SwapNetworks(
        encoder,
        decoder_target,
        decoder_user,
        _whole([*encode, decoder_target], "swap_target"),
        _whole([*encode, decoder_user], "swap_user"),
        expand,
    )
