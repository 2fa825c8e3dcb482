"""Image quality metrics (L1, PSNR, SSIM) in numpy, for uint8 or [-1, 1] images, single or batch."""

from __future__ import annotations

import numpy as np

PSNR_CAP = 100.0  # identical images: a finite number that JSON can hold
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def to_unit(image: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] -> float64 [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    return (image.astype(np.float64) + 1.0) / 2.0


def _batch(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = to_unit(x), to_unit(y)
    if x.shape != y.shape:
        raise ValueError(f"image shapes differ: {x.shape} vs {y.shape}")
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.ndim != 4:
        raise ValueError(f"expected (H, W[, C]) or (N, H, W, C) images, got {x.shape}")
    return x, y


def l1(x: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error on a [0, 1] scale."""
    x, y = _batch(x, y)
    return float(np.mean(np.abs(x - y)))


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (peak 1.0 on the [0, 1] scale), mean over the batch."""
    x, y = _batch(x, y)
    mse = np.mean((x - y) ** 2, axis=(1, 2, 3))
    values = 10.0 * np.log10(1.0 / np.maximum(mse, 10 ** (-PSNR_CAP / 10)))
    return float(np.mean(values))


def _gaussian_filter(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filter over axes 1 and 2 of (N, H, W, C)."""
    from numpy.lib.stride_tricks import sliding_window_view

    x = sliding_window_view(x, len(kernel), axis=1) @ kernel
    return sliding_window_view(x, len(kernel), axis=2) @ kernel


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004; 11x11 Gaussian, sigma 1.5, as tf.image.ssim),
    averaged over channels and the batch."""
    x, y = _batch(x, y)
    half = SSIM_WINDOW // 2
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / SSIM_SIGMA) ** 2)
    kernel /= kernel.sum()
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    mx, my = _gaussian_filter(x, kernel), _gaussian_filter(y, kernel)
    sxx = _gaussian_filter(x * x, kernel) - mx * mx
    syy = _gaussian_filter(y * y, kernel) - my * my
    sxy = _gaussian_filter(x * y, kernel) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(np.mean(s))


def image_metrics(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """{"l1", "psnr", "ssim"} of generated images `x` against real images `y`."""
    return {"l1": l1(x, y), "psnr": psnr(x, y), "ssim": ssim(x, y)}
