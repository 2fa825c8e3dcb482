"""The bundle of every face_crop kind (the autoencoder swap, CycleGAN): the camera's aligned face
in, the target's face out in the same crop, and the way back to the user for previews and checks.

A kind's bundle module subclasses FaceCropBundle with its kind and network files and loads with
load_face_crop; the app composites every such bundle the same way (app.modes.FaceCropMode).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gan.bundle.backend import LoadedBundle, Network, keras_network, open_network
from gan.bundle.files import BUNDLE_FILE
from gan.bundle.pictures import to_model_range, uint8_pictures
from gan.errors import InputError

INPUT = "face_crop"  # what the bundle is called with: the camera's aligned face


def load_network(path: Path, info: dict[str, Any], name: str) -> Any:
    """A face-crop model in Keras safe mode (no code from the file), checked against
    bundle.json: RGB in, or RGB and the eyes' drawing (common.eyes) when it says so."""
    from common.eyes import CHANNELS

    return keras_network(path, info, name, channels=CHANNELS if info.get("eyes") == "drawn" else 3)


class FaceCropBundle(LoadedBundle):
    """A loaded face-crop bundle: call it with the user's aligned crops, get the target's face.

    Crops are uint8 RGB, `size` square, cut from the camera frame with `alignment` (a
    common.alignment.Alignment dict). `backend`: "onnx" or "keras"; `note` says why auto did not
    take ONNX when it could not. Deterministic: the same crop gives the same face.
    """

    input = INPUT
    target_file: ClassVar[str]  # the user's face -> the target's: what the app runs
    user_file: ClassVar[str]  # the way back to the user's face (reconstruction or cycle)

    def __init__(
        self, path: Path, info: dict[str, Any], network: Network, threads: int | None = None
    ) -> None:
        super().__init__(path, info, network, default_mode="aligned")
        self._user: Network | None = None
        self._threads = threads

    @property
    def eyes(self) -> str:
        """What the network's encoder sees of the eyes (the swap's --eyes): "pixels", or
        "drawn", covered and drawn from the crop's points (common.eyes)."""
        return str(self.info.get("eyes") or "pixels")

    @property
    def eye_scale(self) -> float:
        """What the user's lids are scaled by when drawn: OPEN_EYE ÷ the openness of the user's
        open eye in their training faces (common.eyes.eye_scale), which the bundle keeps."""
        return float((self.info.get("eye_scale") or {}).get("user", 1.0))

    def inputs(self, points: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
        """What makes the network's input of a checked uint8 batch of crops: with the eyes drawn
        from `points` (the crops' pixels, (68, 2) or (N, 68, 2)) when the bundle was trained
        so (4 channels: common.eyes); the crops as they are otherwise. A bundle with drawn eyes
        given no points (a blank warm-up crop) sees the crops' eyes and no drawing."""
        if self.eyes != "drawn":
            return to_model_range
        from common.eyes import draw_eyes

        pts = None if points is None else np.asarray(points, np.float64).reshape(-1, 68, 2)
        return lambda batch: to_model_range(draw_eyes(batch, pts, self.eye_scale))

    @property
    def forehead(self) -> float:
        """How far above the brows the model learned the target's face (common.outline), in
        eye-widths: the region the app blends. 0 for bundles trained on the hull alone."""
        return float(self.info.get("forehead") or 0.0)

    def warm_up(self) -> None:
        """One crop through the model, so the first real one does not pay for tracing."""
        self(np.zeros((self.size, self.size, 3), np.uint8))

    def __call__(self, crops: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
        """The user's aligned crops, (S, S, 3) or (N, S, S, 3) uint8 RGB -> the target's face;
        `points`: the 68 points in the crops' pixels, which a bundle with drawn eyes needs."""
        return uint8_pictures(crops, self.size, "crops", self._infer, self.inputs(points))

    def reconstruct(self, crops: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
        """The crops through the bundle's second network (loaded on first use, by the backend
        that runs the first); `points` as for a call."""
        if self._user is None:
            backend = "auto" if self.backend == "onnx" else "keras"
            self._user = open_network(
                self.path, self.info, self.user_file, backend, self._threads, load_network
            )
        return uint8_pictures(crops, self.size, "crops", self._user.infer, self.inputs(points))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, size={self.size}, steps={self.steps})"


def load_face_crop(
    cls: type[FaceCropBundle],
    path: Path,
    info: dict[str, Any],
    backend: str,
    threads: int | None,
) -> FaceCropBundle:
    """The bundle at `path` as `cls` (gan.bundle.load_bundle has read `info`); InputError."""
    if info.get("mode", "aligned") != "aligned":
        raise InputError(f"{path / BUNDLE_FILE}: a {cls.kind} bundle works on aligned crops only")
    network = open_network(path, info, cls.target_file, backend, threads, load_network)
    return cls(path.resolve(), info, network, threads)
