"""Face-swap networks: one shared encoder, one decoder per person (the deepfakes autoencoder).

The encoder squeezes an aligned face through a dense bottleneck, so it can keep only what both
people share (pose, expression, light); each decoder learns to paint its own person from that.
At use time the user's face goes through the encoder and the target's decoder. A variational
encoder (--variational) ends in two dense heads, the code's mean and log-variance, and its second
half (dense expand, 4×4, upscale to 8×8) is a model of its own, so training can decode a sample of
the code while the swap and reconstruction models decode the mean. With --eyes drawn the input
has a fourth channel, the eyes' openings drawn from the landmarks (common.eyes), which the
decoders' coarse stages also take past the code (Almonds, EYES_FINEST), and with --eye-opening
every stage how open they are. Plain Keras 3 layers
only (pixel shuffle is Reshape + Permute), so a saved model loads in safe mode and runs under the
JAX or PyTorch backends too.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from common.eyes import CHANNELS as EYE_CHANNELS
from gan.faces.data import SWAP_SIZES

BOTTOM = 4  # the encoder's convolutions stop at 4×4, as in the 64 px original
KERNEL = 5  # the original's encoder kernels
INPUT_NAME = "face"  # float32 (N, S, S, 3) in [-1, 1]; (N, S, S, 4) with --eyes drawn
LEAK = 0.1
# --eyes drawn: the decoder stages up to size ÷ this see the eyes' openings (at 64 px: 8 and 16).
# Every stage (1) followed the woman's blinks deeper (depth ratio 0.41-0.53 against 0.26) but
# drew franck's eyes in the user's shape: identity to franck 0.451-0.453 against 0.412 on cap12
# (docs/results.md, "The eyes drawn").
EYES_FINEST = 4
# --eye-opening: how open the drawn eyes are, one number a face, reaches every decoder stage: the
# openings' mean over the face (in [-1, 1]) to [0, 1] times this, about 1 for an open pair of eyes
# (franck's 90th percentile 0.0095 of the face, the woman's 0.0100). Without it, franck's decoder
# given the woman's face with her eyes drawn shut drew his eyes open; with it, shut
# (docs/results.md, "The lids").
OPENING_SCALE = 100.0


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


def _convolutions(size: int, width: int, channels: int = 3):
    """The encoder's input and its convolutions down to 4×4, flattened."""
    inputs = keras.Input((size, size, channels), name=INPUT_NAME)
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


def Encoder(  # noqa: N802 - a network
    size: int, width: int, bottleneck: int, channels: int = 3
) -> keras.Model:
    """Face -> convolutions to 4×4 -> dense bottleneck -> 4×4 -> upscale to 8×8 (shared)."""
    check_swap_size(size)
    inputs, x = _convolutions(size, width, channels)
    x = layers.Dense(bottleneck, name="bottleneck")(x)
    return keras.Model(inputs, _expand(x, size, width), name="encoder")


def VariationalEncoder(  # noqa: N802
    size: int, width: int, bottleneck: int, channels: int = 3
) -> keras.Model:
    """Face -> convolutions to 4×4 -> [mu, log-variance], two dense heads of `bottleneck`: the
    code's distribution, which training samples and a bundle takes the mean of (shared)."""
    check_swap_size(size)
    inputs, x = _convolutions(size, width, channels)
    mu = layers.Dense(bottleneck, name="mu")(x)
    logvar = layers.Dense(bottleneck, name="logvar")(x)
    return keras.Model(inputs, [mu, logvar], name="encoder")


def Expand(size: int, width: int, bottleneck: int) -> keras.Model:  # noqa: N802
    """A variational encoder's second half: a code -> 4×4 -> upscale to 8×8 (shared)."""
    code = keras.Input((bottleneck,), name="z")
    return keras.Model(code, _expand(code, size, width), name="expand")


def Almonds(size: int) -> keras.Model:  # noqa: N802
    """--eyes drawn's input (S, S, 4) -> its fourth channel, the eyes' openings alone (S, S, 1)
    (common.eyes): channels to the front, flattened, the first three cropped off, reshaped back
    (plain layers: a safe-mode load and every backend)."""
    x = inputs = keras.Input((size, size, EYE_CHANNELS), name=INPUT_NAME)
    x = layers.Permute((3, 1, 2), name="channels_first")(x)
    x = layers.Reshape((EYE_CHANNELS, size * size), name="flat")(x)
    x = layers.Cropping1D((EYE_CHANNELS - 1, 0), name="last_channel")(x)
    return keras.Model(inputs, layers.Reshape((size, size, 1), name="almonds")(x), name="almonds")


def _with_almonds(x, almonds, size: int, name: str):
    """`x` with the eyes' openings averaged down to its resolution as one more channel."""
    scale = size // x.shape[1]
    if scale > 1:
        almonds = layers.AveragePooling2D(scale, name=f"{name}_pool")(almonds)
    return layers.Concatenate(name=f"{name}_eyes")([x, almonds])


def _with_opening(x, amount, name: str):
    """`x` with how open the eyes are, one number a face (N, 1, 1, 1), as one more channel."""
    wide = layers.UpSampling2D(int(x.shape[1]), name=f"{name}_opening_up")(amount)
    return layers.Concatenate(name=f"{name}_opening")([x, wide])


def Decoder(  # noqa: N802 - a network
    size: int, width: int, name: str, eyes: bool = False, opening: bool = False
) -> keras.Model:
    """8×8 code -> upscales to `size` -> 5×5 convolution to RGB, tanh, in [-1, 1]. With `eyes`,
    it takes [code, the eyes' openings (S, S, 1)] and its stages up to size ÷ EYES_FINEST see
    the openings at their own resolution, past the bottleneck: the lids come from the drawing.
    With `opening` too, every stage also sees how open the eyes are, one number a face (their
    openings' area), not their shape: the target's lids, as open as the user's."""
    code = keras.Input((2 * BOTTOM, 2 * BOTTOM, 4 * width), name="code")
    almonds = keras.Input((size, size, 1), name="almonds") if eyes else None
    x = code
    amount = None  # how open the eyes are: (N, 1, 1, 1)
    if opening and almonds is not None:
        amount = layers.GlobalAveragePooling2D(keepdims=True, name="opening_mean")(almonds)
        half = OPENING_SCALE / 2
        amount = layers.Rescaling(half, offset=half, name="opening")(amount)
    for i, f in enumerate(decoder_filters(size, width)):
        if almonds is not None and x.shape[1] <= size // EYES_FINEST:
            x = _with_almonds(x, almonds, size, f"up{i + 1}")
        if amount is not None:
            x = _with_opening(x, amount, f"up{i + 1}")
        x = upscale(x, f, name=f"up{i + 1}")
    if almonds is not None and EYES_FINEST == 1:
        x = _with_almonds(x, almonds, size, "to_rgb")
    if amount is not None:
        x = _with_opening(x, amount, "to_rgb")
    x = layers.Conv2D(3, KERNEL, padding="same", name="to_rgb")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(code if almonds is None else [code, almonds], outputs, name=name)


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
    almonds: keras.Model | None = None  # --eyes drawn: the input's eye drawing, to the decoders

    @property
    def variational(self) -> bool:
        return self.expand is not None

    def decode(self, decoder: keras.Model, code, x, training: bool = False):
        """`decoder`'s face from the 8×8 `code` of inputs `x` (and, with drawn eyes, x's
        drawing of them)."""
        if self.almonds is None:
            return decoder(code, training=training)
        return decoder([code, self.almonds(x)], training=training)

    @property
    def trainable_variables(self) -> list:
        parts = (self.encoder, self.decoder_target, self.decoder_user)
        if self.expand is not None:
            parts = (self.encoder, self.expand, self.decoder_target, self.decoder_user)
        return [v for part in parts for v in part.trainable_variables]


def _whole(
    stages: list[keras.Model], decoder: keras.Model, almonds: keras.Model | None, name: str
) -> keras.Model:
    """One model of `stages` applied in turn to a face, then `decoder` (with `almonds`, given
    the input's eye drawing too); each a nested model: shared weights."""
    inputs = keras.Input(stages[0].input_shape[1:], name=INPUT_NAME)
    x = inputs
    for stage in stages:
        x = stage(x)
    x = decoder(x) if almonds is None else decoder([x, almonds(inputs)])
    return keras.Model(inputs, x, name=name)


def swap_networks(
    size: int = 64,
    width: int = 32,
    bottleneck: int = 256,
    variational: bool = False,
    eyes: bool = False,
    opening: bool = False,
) -> SwapNetworks:
    """A fresh encoder, two decoders, and the swap and reconstruction models over them.

    Variational: the whole models go face -> mu -> expand -> decoder, through a view of the
    encoder without its log-variance head, so a bundle holds plain layers and no sampling.
    `eyes` (--eyes drawn): the input has the eyes drawn and a fourth channel, their openings,
    which each decoder also takes (Almonds); `opening` (--eye-opening), how open they are at
    every decoder stage."""
    channels = EYE_CHANNELS if eyes else 3
    if not variational:
        encoder = Encoder(size, width, bottleneck, channels)
        expand, encode = None, [encoder]
    else:
        encoder = VariationalEncoder(size, width, bottleneck, channels)
        expand = Expand(size, width, bottleneck)
        encode = [keras.Model(encoder.inputs, encoder.outputs[0], name="encoder_mu"), expand]
    almonds = Almonds(size) if eyes else None
    decoder_target = Decoder(size, width, "decoder_target", eyes, opening)
    decoder_user = Decoder(size, width, "decoder_user", eyes, opening)
    return SwapNetworks(
        encoder,
        decoder_target,
        decoder_user,
        _whole(encode, decoder_target, almonds, "swap_target"),
        _whole(encode, decoder_user, almonds, "swap_user"),
        expand,
        almonds,
    )
