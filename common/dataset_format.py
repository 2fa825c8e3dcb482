"""The dataset's file contract, spelled once: names, the A|B pair layout and a reader for it.

`make-dataset` writes it (landmarks/dataset.py); `evaluate` and anything else that reads a dataset's
points goes through here. gan/ reads the same files through their manifest only (see DESIGN.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.errors import InputError

FORMAT = "face-mirror-dataset"
VERSION = 1
MANIFEST = "manifest.json"
LANDMARKS = "landmarks.npz"
SPLITS = ("train", "val")  # landmarks.npz's `split` holds the position in this tuple


def pair_path(root: str | os.PathLike[str], split: str, index: int) -> str:
    """Where pair `index` of `split` lives: split/NNNNNN.png."""
    return os.path.join(root, split, f"{index:06d}.png")


def read_pair(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """An A|B pair file as (drawing, photo), each uint8 RGB size × size."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path}: unreadable image")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    half = img.shape[1] // 2
    return img[:, :half], img[:, half:]


@dataclass
class DatasetIndex:
    """What a finished dataset says of itself: its manifest and every pair's points and place."""

    root: Path
    manifest: dict
    points: np.ndarray  # (N, 68, 2) float, crop pixels at manifest["size"]
    split: np.ndarray  # (N,) position in SPLITS
    index: np.ndarray  # (N,) the pair's file number

    @property
    def size(self) -> int:
        return int(self.manifest["size"])

    def rows(self, split: str) -> np.ndarray:
        """Row numbers of one split, in file order."""
        return np.flatnonzero(self.split == SPLITS.index(split))

    def path(self, row: int) -> Path:
        """The pair file of row `row`."""
        return Path(pair_path(self.root, SPLITS[int(self.split[row])], int(self.index[row])))


def load_index(root: str | os.PathLike[str]) -> DatasetIndex:
    """Read a dataset made by make-dataset; InputError if it is not one or cannot be read."""
    root = Path(root)
    manifest_path, npz_path = root / MANIFEST, root / LANDMARKS
    if not manifest_path.is_file() or not npz_path.is_file():
        raise InputError(
            f"{root}: not a dataset made by make-dataset (no {MANIFEST} / {LANDMARKS})"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        with np.load(npz_path) as lm:
            points, split, index = lm["points"], lm["split"], lm["index"]
        int(manifest["size"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{root}: unreadable dataset ({e})") from None
    return DatasetIndex(root, manifest, points, split, index)
