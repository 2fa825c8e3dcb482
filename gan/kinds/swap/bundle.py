"""The face-swap bundle: the two autoencoders with what the app needs, loaded as the swap.

A swap bundle is a model bundle of kind "swap": swap_target.keras (the user's aligned face -> the
target's face), swap_user.keras (the user's face -> the user's, for previews and checks),
optionally their ONNX exports, and bundle.json, written last, listing every file with its
checksum (gan.bundle.files). What runs them is gan.bundle.backend's choice, as for every kind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gan.bundle.face_crop import INPUT, FaceCropBundle, load_face_crop, load_network
from gan.bundle.files import onnx_name
from gan.bundle.registry import load_bundle
from gan.bundle.write import write_bundle

# What gan.bundle.registry reads from a kind's bundle module.
__all__ = ["INPUT", "KIND", "NETWORKS", "SwapBundle", "load", "load_network", "save_swap_bundle"]

KIND = "swap"
TARGET_FILE = "swap_target.keras"  # encoder + the target's decoder: the swap itself
USER_FILE = "swap_user.keras"  # encoder + the user's decoder: reconstruction
NETWORKS = (TARGET_FILE, USER_FILE)
TARGET_ONNX, USER_ONNX = onnx_name(TARGET_FILE), onnx_name(USER_FILE)


def save_swap_bundle(
    model_dir: str | os.PathLike[str],
    to_target: Any,
    to_user: Any,
    info: dict[str, Any],
    onnx: bool = False,
) -> Path:
    """Write swap_target.keras, swap_user.keras (and their ONNX exports when `onnx`), then
    bundle.json (`info`, with "format", "version", "kind" and "files" filled in)."""
    return write_bundle(model_dir, KIND, {TARGET_FILE: to_target, USER_FILE: to_user}, info, onnx)


def load(path: Path, info: dict[str, Any], backend: str, threads: int | None) -> SwapBundle:
    """The bundle at `path` (gan.bundle.load_bundle has read `info`); raises InputError."""
    return load_face_crop(SwapBundle, path, info, backend, threads)  # type: ignore[return-value]


def load_swap_bundle(
    path: str | os.PathLike[str], backend: str = "auto", threads: int | None = None
) -> SwapBundle:
    """gan.bundle.load_bundle for a bundle that must be a swap bundle."""
    return load_bundle(path, backend, threads, kind=KIND)


class SwapBundle(FaceCropBundle):
    """A loaded swap bundle (gan.bundle.face_crop): the user's aligned crops in, the target's face
    out; `reconstruct` runs the user's own decoder."""

    kind = KIND
    target_file = TARGET_FILE
    user_file = USER_FILE
