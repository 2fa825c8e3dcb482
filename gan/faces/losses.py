"""The face_crop kinds' masked losses, as one replica's share of the global batch's loss: the L1,
and the structural dissimilarity plus squared error that faceswap and DeepFaceLab train with."""

from __future__ import annotations

from typing import Any

import numpy as np

from gan.core.step import global_sum

LOSSES = ("l1", "dssim-mse")
# SSIM's window: DeepFaceLab's below 256 px is about size / 11.6 (odd); its Gaussian's sigma
# grows with it from the usual 1.5 at 11 px.
SSIM_WINDOW_PER_SIZE = 1 / 11.6
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # for values in [0, 1]


def ssim_window(size: int) -> int:
    """The odd Gaussian window, in pixels, of SSIM at a model `size`: 5 at 64, 11 at 128."""
    return max(3, int(size * SSIM_WINDOW_PER_SIZE) | 1)


def gaussian_1d(window: int) -> np.ndarray:
    """A normalised 1-D Gaussian of `window` taps, sigma 1.5 · window / 11 (1.5 at 11)."""
    sigma = 1.5 * window / 11
    x = np.arange(window) - (window - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def masked_mean(per_pixel: Any, mask: Any) -> Any:
    """This replica's share of the mask-weighted mean of a (N, S, S, 3) map over the global
    batch: its weighted sum over every replica's mask area."""
    import tensorflow as tf

    return tf.reduce_sum(per_pixel * mask) / (global_sum(tf.reduce_sum(mask)) * 3.0 + 1e-6)


def l1_map(fake: Any, real: Any) -> Any:
    """The per-pixel L1 of faces in [-1, 1], on a [0, 1] scale (half their difference)."""
    import tensorflow as tf

    return tf.abs(tf.cast(fake, tf.float32) - real) / 2.0


def face_l1(fake: Any, real: Any, mask: Any) -> Any:
    """This replica's share of the masked L1 of the global batch, on a [0, 1] scale (half the
    [-1, 1] difference): its masked error over every replica's mask area, so the shares add up
    to the loss one device computes on the whole batch. `mask` (N, S, S, 1) weighs each pixel."""
    return masked_mean(l1_map(fake, real), mask)


def dssim_mse_map(fake: Any, real: Any) -> Any:
    """The per-pixel (1 - SSIM) / 2 plus squared error of faces in [-1, 1], both on a [0, 1]
    scale: SSIM's local means, variances and covariance under a Gaussian window of
    ssim_window(size), so the loss asks for the face's local contrast and structure,
    which a per-pixel loss alone averages away."""
    import tensorflow as tf

    a = (tf.cast(fake, tf.float32) + 1.0) / 2.0
    b = (tf.cast(real, tf.float32) + 1.0) / 2.0
    g = gaussian_1d(ssim_window(int(a.shape[1])))
    maps = tf.concat([a, b, a * a, b * b, a * b], axis=-1)  # one filter pass for all five
    depth = int(maps.shape[-1])
    rows = tf.constant(np.tile(g[:, None, None, None], (1, 1, depth, 1)))
    cols = tf.constant(np.tile(g[None, :, None, None], (1, 1, depth, 1)))
    # The Gaussian is separable: a column pass then a row pass, 2k taps a pixel, not k².
    blurred = tf.nn.depthwise_conv2d(maps, rows, (1, 1, 1, 1), "SAME")
    blurred = tf.nn.depthwise_conv2d(blurred, cols, (1, 1, 1, 1), "SAME")
    mu_a, mu_b, aa, bb, ab = tf.split(blurred, 5, axis=-1)
    var_a, var_b = aa - mu_a * mu_a, bb - mu_b * mu_b
    cov = ab - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_a * mu_a + mu_b * mu_b + SSIM_C1) * (var_a + var_b + SSIM_C2)
    )
    return (1.0 - ssim) / 2.0 + tf.square(a - b)


def face_dssim_mse(fake: Any, real: Any, mask: Any) -> Any:
    """The masked (1 - SSIM) / 2 plus the masked squared error (dssim_mse_map), weighed by
    `mask` as face_l1."""
    return masked_mean(dssim_mse_map(fake, real), mask)


def loss_map(name: str) -> Any:
    """The per-pixel map of the loss called `name` (one of LOSSES), before masked_mean: one map
    of several batches put together is each batch's map, computed at once."""
    return {"l1": l1_map, "dssim-mse": dssim_mse_map}[name]
