"""Arrays carried in JSON (a manifest's or a bundle's shapes and descriptors), checked on read."""

from __future__ import annotations

from typing import Any

import numpy as np

from common.errors import InputError


def json_array(value: Any, shape: tuple[int, ...], where: str) -> np.ndarray | None:
    """`value` as a float32 array of `shape`; None when absent (files written before it was
    added); InputError naming `where` (e.g. "bundle.json: neutral_shape") when it is not one."""
    if value is None:
        return None
    try:
        array = np.asarray(value, np.float32)
    except (TypeError, ValueError):
        array = None
    if array is None or array.size != int(np.prod(shape)) or not np.isfinite(array).all():
        raise InputError(f"{where} must be {' × '.join(map(str, shape))} numbers")
    return array.reshape(shape)
