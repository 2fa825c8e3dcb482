"""The drawing kind's bundle: the generator with what the app needs, loaded as a callable that
turns drawings into faces.

A bundle is generator.keras, optionally generator.onnx, for the reference recipe the retrieval
bank (reference_bank.npz), and bundle.json (written last), which lists every file with its
checksum (gan.bundle.files). What runs the generator is gan.bundle.backend's choice: ONNX Runtime
when the bundle has the export (no TensorFlow needed), Keras otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from gan.bundle.backend import LoadedBundle, Network, keras_network, open_network
from gan.bundle.files import BUNDLE_FILE, checked_file
from gan.bundle.pictures import to_model_range, uint8_pictures
from gan.bundle.write import write_bundle
from gan.errors import InputError
from gan.kinds.drawing.reference import BANK_FILE, ReferenceBank, ReferenceTrack

KIND = "pix2pix"  # bundle.json's kind (and what a bundle.json without one is)
INPUT = "drawing"  # what the bundle is called with: the app draws the face for it
GENERATOR_FILE = "generator.keras"
NETWORKS = (GENERATOR_FILE,)


def save_bundle(
    model_dir: str | os.PathLike[str],
    generator: Any,
    info: dict[str, Any],
    onnx: bool = False,
    bank: ReferenceBank | None = None,
) -> Path:
    """Write generator.keras (and generator.onnx when `onnx`), the reference recipe's `bank`,
    then bundle.json (`info`, with "format", "version", "kind" and "files" filled in)."""
    extra = {} if bank is None else {BANK_FILE: bank.save}
    return write_bundle(model_dir, KIND, {GENERATOR_FILE: generator}, info, onnx, extra)


def load_network(path: Path, info: dict[str, Any], name: str = GENERATOR_FILE) -> Any:
    """generator.keras in Keras safe mode, checked against bundle.json."""
    import gan.kinds.drawing.models  # noqa: F401 - registers the reference recipe's OverReference

    recipe = info.get("recipe", "pix2pix")
    return keras_network(path, info, name, channels=3 if recipe == "pix2pix" else None)


def load(path: Path, info: dict[str, Any], backend: str, threads: int | None) -> Bundle:
    """The bundle at `path` (gan.bundle.load_bundle has read `info`); raises InputError."""
    bank = _load_bank(path, info)
    network = open_network(path, info, GENERATOR_FILE, backend, threads, load_network)
    return Bundle(path.resolve(), info, network, bank)


class Bundle(LoadedBundle):
    """A loaded model bundle: call it with drawings (uint8 RGB) and their points, get faces.

    `recipe`: "pix2pix" (the drawing alone) or "reference" (the drawing, and the bank's nearest
    photos warped onto the points and mixed). `backend` says what runs the generator: "onnx" (ONNX
    Runtime, `provider` names the device) or "keras"; `note` says why auto did not take ONNX when
    it could not.
    """

    kind = KIND
    input = INPUT

    def __init__(
        self, path: Path, info: dict[str, Any], network: Network, bank: ReferenceBank | None
    ) -> None:
        super().__init__(path, info, network)
        self.recipe: str = str(info.get("recipe", "pix2pix"))
        self.bank = bank
        self._model = network.model

    @property
    def model(self) -> Any:
        """The Keras generator (loaded on first use when ONNX Runtime runs the bundle)."""
        if self._model is None:
            self._model = load_network(self.path, self.info)
        return self._model

    @property
    def channels(self) -> int:
        """The generator's input channels (raw()): 3, or 7 for the reference recipe."""
        return 3 if self.bank is None else 7

    def warm_up(self) -> None:
        """One face through the generator, so the first real one does not pay for tracing."""
        self(np.zeros((self.size, self.size, 3), np.uint8), points=self.reference_shape)

    def sequence(self) -> ReferenceTrack | None:
        """What carries a video's frames from one call to the next (pass it as `track`): the
        reference recipe retrieves by the points low-passed over the frames; None otherwise."""
        return None if self.bank is None else ReferenceTrack(self.bank)

    def inputs(
        self,
        drawings: np.ndarray,
        points: np.ndarray | None,
        track: ReferenceTrack | None = None,
    ) -> np.ndarray:
        """What the generator takes for a uint8 batch of drawings: [-1, 1], and for the reference
        recipe the nearest photos warped onto each drawing's points and the face's mask. With
        a `track` (sequence()), the drawings are a video's next frames, in order."""
        if self.bank is None:
            return to_model_range(drawings)
        if points is None:
            raise ValueError(f"{self.path}: a reference-recipe model needs the drawings' points")
        points = np.asarray(points, np.float32).reshape(len(drawings), 68, 2)
        make = self.bank.inputs if track is None else track.inputs
        return np.stack([make(d, p) for d, p in zip(drawings, points, strict=True)])

    def __call__(
        self,
        drawings: np.ndarray,
        points: np.ndarray | None = None,
        track: ReferenceTrack | None = None,
    ) -> np.ndarray:
        """(H, W, 3) or (N, H, W, 3) uint8 RGB at the bundle size -> the same shape, uint8 RGB.

        `points`: the drawings' 68 points in model pixels, (68, 2) or (N, 68, 2); the reference
        recipe needs them (it retrieves by them), pix2pix ignores them. `track`: see inputs().
        Without one, the same drawing always gives the same face.
        """
        return uint8_pictures(
            drawings, self.size, "drawings", self._infer, lambda b: self.inputs(b, points, track)
        )

    def __repr__(self) -> str:
        return (
            f"Bundle({str(self.path)!r}, size={self.size}, mode={self.mode!r}, steps={self.steps})"
        )


def _load_bank(path: Path, info: dict[str, Any]) -> ReferenceBank | None:
    """The reference recipe's retrieval bank, after its checksum matches bundle.json's."""
    recipe = info.get("recipe", "pix2pix")
    if recipe == "pix2pix":
        return None
    if recipe != "reference":
        raise InputError(f"{path / BUNDLE_FILE}: unknown recipe {recipe!r}")
    missing = f"{path}: the reference recipe's {BANK_FILE} is missing"
    bank_file = checked_file(path, info, BANK_FILE, missing)
    try:
        references = int(info.get("references", 1))  # bundles from before mixing: 1
    except (TypeError, ValueError):
        raise InputError(f"{path / BUNDLE_FILE}: references must be a whole number") from None
    bank = ReferenceBank.load(bank_file, str(info.get("region", "face")), references)
    if bank.size != info["size"]:
        raise InputError(f"{bank_file} holds {bank.size} px photos; the model is {info['size']} px")
    return bank
