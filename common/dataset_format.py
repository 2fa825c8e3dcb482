"""The dataset's file contract, spelled once: names, the A|B pair layout, and the one reader of
landmarks.npz.

`make-dataset` writes it (landmarks/dataset.py); the trainers (gan/) and `evaluate` read it
through here: a dataset's points are read in one place, with one set of checks.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.errors import InputError
from common.files import read_json_of

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
    points: np.ndarray  # (N, 68, 2) float32, crop pixels at manifest["size"]
    split: np.ndarray  # (N,) position in SPLITS
    index: np.ndarray  # (N,) the pair's file number
    frame: np.ndarray | None = None  # (N,) the frame of its video each pair was cut from
    source: np.ndarray | None = None  # (N,) which of the manifest's videos

    @property
    def size(self) -> int:
        return int(self.manifest["size"])

    def rows(self, split: str) -> np.ndarray:
        """Row numbers of one split, in file order."""
        return np.flatnonzero(self.split == SPLITS.index(split))

    def path(self, row: int) -> Path:
        """The pair file of row `row`."""
        return Path(pair_path(self.root, SPLITS[int(self.split[row])], int(self.index[row])))

    def mean_shape(self, split: str = "train") -> np.ndarray:
        """The mean of a split's 68 points (68, 2): the target's face at rest, roughly."""
        return self.points[self.rows(split)].mean(axis=0).astype(np.float32)


def read_landmarks(root: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """landmarks.npz's columns, checked: points (N, 68, 2) float32, split and index (N,), and
    frame and source (N,) where the file has them; InputError when it is missing or malformed."""
    path = Path(root) / LANDMARKS
    try:
        with np.load(path) as npz:
            columns = {
                k: npz[k] for k in ("points", "split", "index", "frame", "source") if k in npz
            }
    except FileNotFoundError:
        raise InputError(f"{Path(root)} has no {LANDMARKS}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    points = columns.get("points")
    if (
        points is None
        or points.ndim != 3
        or points.shape[1:] != (68, 2)
        or any(k not in columns or columns[k].shape != (len(points),) for k in ("split", "index"))
        or any(columns[k].shape != (len(points),) for k in ("frame", "source") if k in columns)
    ):
        raise InputError(f"{path}: expected points (N, 68, 2) with a split and an index for each")
    columns["points"] = points.astype(np.float32)
    return columns


def read_manifest(root: str | os.PathLike[str]) -> dict:
    """manifest.json of a make-dataset folder, checked for format and version."""
    try:
        return read_json_of(Path(root) / MANIFEST, FORMAT, VERSION, "manifest")
    except FileNotFoundError:
        raise InputError(f"{root}: no {MANIFEST}") from None


def load_index(root: str | os.PathLike[str], manifest: dict | None = None) -> DatasetIndex:
    """Read a dataset made by make-dataset (`manifest`: already read); InputError if it is not
    one or cannot be read."""
    root = Path(root)
    if not (root / MANIFEST).is_file() or not (root / LANDMARKS).is_file():
        raise InputError(
            f"{root}: not a dataset made by make-dataset (no {MANIFEST} / {LANDMARKS})"
        )
    if manifest is None:
        try:
            manifest = json.loads((root / MANIFEST).read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{root}: unreadable dataset ({e})") from None
    try:
        int(manifest["size"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{root / MANIFEST} has no valid size") from None
    return DatasetIndex(root, manifest, **read_landmarks(root))
