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

import numpy as np

from gan.bundle.backend import LoadedBundle, Network, keras_network, open_network
from gan.bundle.files import BUNDLE_FILE, onnx_name
from gan.bundle.pictures import uint8_pictures
from gan.bundle.registry import load_bundle
from gan.bundle.write import write_bundle
from gan.errors import InputError

KIND = "swap"
INPUT = "face_crop"  # what the bundle is called with: the camera's aligned face
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


def load_network(path: Path, info: dict[str, Any], name: str) -> Any:
    """A swap model in Keras safe mode (no code from the file), checked against bundle.json."""
    return keras_network(path, info, name, channels=3)


def load(path: Path, info: dict[str, Any], backend: str, threads: int | None) -> SwapBundle:
    """The bundle at `path` (gan.bundle.load_bundle has read `info`); raises InputError."""
    if info.get("mode", "aligned") != "aligned":
        raise InputError(f"{path / BUNDLE_FILE}: a swap bundle works on aligned crops only")
    network = open_network(path, info, TARGET_FILE, backend, threads, load_network)
    return SwapBundle(path.resolve(), info, network, threads)


def load_swap_bundle(
    path: str | os.PathLike[str], backend: str = "auto", threads: int | None = None
) -> SwapBundle:
    """gan.bundle.load_bundle for a bundle that must be a swap bundle."""
    return load_bundle(path, backend, threads, kind=KIND)


class SwapBundle(LoadedBundle):
    """A loaded swap bundle: call it with the user's aligned crops, get the target's face.

    Crops are uint8 RGB, `size` square, cut from the camera frame with `alignment` (a
    common.alignment.Alignment dict). `backend`: "onnx" or "keras"; `note` says why auto did not
    take ONNX when it could not. Deterministic: the same crop gives the same face.
    """

    kind = KIND
    input = INPUT

    def __init__(
        self, path: Path, info: dict[str, Any], network: Network, threads: int | None = None
    ) -> None:
        super().__init__(path, info, network, default_mode="aligned")
        self._user: Network | None = None
        self._threads = threads

    @property
    def forehead(self) -> float:
        """How far above the brows the decoder learned the target's face (common.outline), in
        eye-widths: the region the app blends. 0 for bundles trained on the hull alone."""
        return float(self.info.get("forehead") or 0.0)

    def warm_up(self) -> None:
        """One crop through the swap model, so the first real one does not pay for tracing."""
        self(np.zeros((self.size, self.size, 3), np.uint8))

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """The user's aligned crops, (S, S, 3) or (N, S, S, 3) uint8 RGB -> the target's face."""
        return uint8_pictures(crops, self.size, "crops", self._infer)

    def reconstruct(self, crops: np.ndarray) -> np.ndarray:
        """The user's crops through the user's own decoder (loaded on first use, by the backend
        that runs the swap)."""
        if self._user is None:
            backend = "auto" if self.backend == "onnx" else "keras"
            self._user = open_network(
                self.path, self.info, USER_FILE, backend, self._threads, load_network
            )
        return uint8_pictures(crops, self.size, "crops", self._user.infer)

    def __repr__(self) -> str:
        return f"SwapBundle({str(self.path)!r}, size={self.size}, steps={self.steps})"
