"""Pictures in and out of the networks: uint8 RGB outside, float32 [-1, 1] inside, one convention
for training, previews and every kind's bundle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

MAX_BATCH = 16  # pictures per network call when a big batch comes in; bounds memory


def to_model_range(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] pictures -> float32 [-1, 1], what the networks take."""
    return np.asarray(images).astype(np.float32) / 127.5 - 1.0


def to_uint8(model_output: np.ndarray) -> np.ndarray:
    """A network's [-1, 1] output -> uint8 [0, 255] pictures, rounded to nearest."""
    return np.clip((np.asarray(model_output) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def to_unit_range(x: Any) -> Any:
    """uint8 [0, 255] -> float32 [-1, 1]: to_model_range for tensors in a tf.data graph."""
    import tensorflow as tf

    return tf.cast(x, tf.float32) / 127.5 - 1.0


def in_batches(
    infer: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch: int = MAX_BATCH
) -> np.ndarray:
    """`infer` over `x` (N, ...) float32, at most `batch` at a time, as float32 [-1, 1]."""
    if not len(x):
        return x
    return np.concatenate(
        [np.asarray(infer(x[i : i + batch]), np.float32) for i in range(0, len(x), batch)]
    )


def uint8_pictures(
    pictures: np.ndarray,
    size: int,
    what: str,
    infer: Callable[[np.ndarray], np.ndarray],
    inputs: Callable[[np.ndarray], np.ndarray] = to_model_range,
) -> np.ndarray:
    """(S, S, 3) or (N, S, S, 3) uint8 RGB `what` (drawings, crops) -> the same shape, uint8
    RGB, through `infer`; `inputs` makes the network's input from a uint8 batch. ValueError for
    another shape or type."""
    pictures = np.asarray(pictures)
    single = pictures.ndim == 3
    batch = pictures[None] if single else pictures
    if batch.ndim != 4 or batch.shape[1:] != (size, size, 3):
        raise ValueError(
            f"expected ({size}, {size}, 3) or (N, {size}, {size}, 3) {what}, got {pictures.shape}"
        )
    if batch.dtype != np.uint8:
        raise ValueError(f"expected uint8 {what}, got {batch.dtype}")
    out = to_uint8(in_batches(infer, inputs(batch)))
    return out[0] if single else out


def predict_uint8(model: Any, pictures: np.ndarray, batch: int = 8) -> np.ndarray:
    """A Keras network over uint8 pictures (or inputs already in [-1, 1]) in training's
    inference mode, as uint8 pictures: validation and previews."""
    x = to_model_range(pictures) if pictures.dtype == np.uint8 else pictures

    def infer(chunk: np.ndarray) -> np.ndarray:
        return np.asarray(model(chunk, training=False), np.float32)

    return to_uint8(in_batches(infer, x, batch))
