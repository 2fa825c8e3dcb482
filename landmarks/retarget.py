"""Retargeting: the driver's expression, measured from their neutral face, moves the target."""

from __future__ import annotations

import numpy as np


def retarget(
    driver: np.ndarray,
    driver_neutral: np.ndarray,
    target_reference: np.ndarray,
    strength: float = 1.0,
) -> np.ndarray:
    """target = reference + strength · (driver − neutral), all (68, 2) in one aligned crop space.

    Alignment has already removed the driver's position, roll and scale, so what is left of
    (driver − neutral) is expression and out-of-plane head motion, which the target then wears
    on its own face shape instead of the driver's.
    """
    driver = np.asarray(driver, np.float32)
    return (
        np.asarray(target_reference, np.float32)
        + strength * (driver - np.asarray(driver_neutral, np.float32))
    ).astype(np.float32)
