"""The CycleGAN bundle: its two generators, loaded as a face_crop bundle.

A bundle of kind "cyclegan": to_target.keras (the user's aligned face -> the target's face: what
the app runs), to_user.keras (the way back), optionally their ONNX exports, and bundle.json
(gan.bundle.files). The app composites it as every face_crop bundle (app.modes.FaceCropMode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gan.bundle.face_crop import INPUT, FaceCropBundle, load_face_crop, load_network
from gan.bundle.files import onnx_name

# What gan.bundle.registry reads from a kind's bundle module.
__all__ = ["INPUT", "KIND", "NETWORKS", "CycleBundle", "load", "load_network"]

KIND = "cyclegan"
TARGET_FILE = "to_target.keras"  # G: the user's face -> the target's
USER_FILE = "to_user.keras"  # F: the target's face -> the user's
NETWORKS = (TARGET_FILE, USER_FILE)
TARGET_ONNX = onnx_name(TARGET_FILE)


class CycleBundle(FaceCropBundle):
    """A loaded CycleGAN bundle: the user's aligned crops in, the target's face out;
    `reconstruct` runs the target→user generator."""

    kind = KIND
    target_file = TARGET_FILE
    user_file = USER_FILE


def load(path: Path, info: dict[str, Any], backend: str, threads: int | None) -> CycleBundle:
    """The bundle at `path` (gan.bundle.load_bundle has read `info`); raises InputError."""
    return load_face_crop(CycleBundle, path, info, backend, threads)  # type: ignore[return-value]
