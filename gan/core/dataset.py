"""Finding and checking a training dataset, for every kind: a make-dataset folder (its manifest
and points through common.dataset_format, read once) or a plain pix2pix A|B folder.

Only numpy at module level: a dataset is checked before TensorFlow loads.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.arrays import json_array
from common.dataset_format import LANDMARKS, MANIFEST, DatasetIndex, load_index, read_manifest
from gan.errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class DatasetInfo:
    """What a dataset holds, found from its files alone."""

    root: Path
    kind: str  # "face-mirror" (has manifest.json) or "aligned" (a plain pix2pix A|B folder)
    train_files: list[Path]
    val_files: list[Path]
    image_size: int  # the height of each pair, = the width of each half
    mode: str = "frame"
    drawing: dict = field(default_factory=dict)
    alignment: dict = field(default_factory=dict)
    reference_shape: np.ndarray | None = None  # (68, 2) in crop pixels of image_size
    neutral_shape: np.ndarray | None = None  # (68, 2) the target at rest, as reference_shape
    target_descriptor: np.ndarray | None = None  # (128,) dlib's descriptor: who the target is
    index: DatasetIndex | None = None  # the manifest and landmarks.npz (make-dataset folders)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG or JPEG header, without decoding the image."""
    with open(path, "rb") as f:
        head = f.read(26)
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", head[16:24])
        if head[:2] == b"\xff\xd8":
            f.seek(2)
            while True:
                marker = f.read(2)
                if len(marker) < 2 or marker[0] != 0xFF:
                    break
                length = struct.unpack(">H", f.read(2))[0]
                # SOF0..SOF15 carry the frame size; C4, C8 and CC are other tables.
                if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">xHH", f.read(5))
                    return width, height
                f.seek(length - 2, 1)
    raise InputError(f"not a PNG or JPEG image: {path}")


def _check_sizes(files: list[Path], expected: int | None) -> int:
    """All pairs must be the same size and exactly twice as wide as tall; returns the height."""
    first_w, first_h = image_size(files[0])
    if first_w != 2 * first_h:
        raise InputError(
            f"{files[0]} is {first_w}x{first_h}: an A|B pair must be twice as wide as it is tall"
        )
    if expected is not None and first_h != expected:
        raise InputError(
            f"{files[0]} is {first_w}x{first_h}, but the manifest says size "
            f"{expected} (expected {2 * expected}x{expected})"
        )
    for path in files[1:]:
        w, h = image_size(path)
        if (w, h) != (first_w, first_h):
            raise InputError(
                f"image sizes differ: {path} is {w}x{h}, {files[0]} is {first_w}x{first_h}"
            )
    return first_h


def _read_index(root: Path, manifest: dict) -> DatasetIndex | None:
    """The dataset's points (landmarks.npz), checked; None, with a warning, when it has none."""
    if not (root / LANDMARKS).exists():
        log.warning("%s is missing: the bundle will have no reference shape", root / LANDMARKS)
        return None
    index = load_index(root, manifest)
    if not len(index.rows("train")):
        raise InputError(f"{root / LANDMARKS}: expected points (N, 68, 2) with training rows")
    return index


def _manifest_array(
    root: Path, manifest: dict, key: str, shape: tuple[int, ...]
) -> np.ndarray | None:
    """A float array the manifest may carry (datasets made before it was added do not)."""
    return json_array(manifest.get(key), shape, f"{root / MANIFEST}: {key}")


def find_dataset(path: str | Path) -> DatasetInfo:
    """Recognise a face-mirror dataset or a plain pix2pix A|B folder; raise InputError if neither.

    Plain folders: DIR/train/*.{png,jpg} (+ optional DIR/val/), or DIR/*.{png,jpg}.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise InputError(f"dataset not found: {root}")
    if not root.is_dir():
        raise InputError(f"not a dataset (not a folder): {root}")
    manifest = None
    if (root / MANIFEST).exists():
        manifest = read_manifest(root)
    if (root / "train").is_dir():
        train = _images(root / "train")
        val = _images(root / "val") if (root / "val").is_dir() else []
        if not train:
            raise InputError(f"empty dataset: no PNG or JPEG pairs in {root / 'train'}")
    elif manifest is not None:
        raise InputError(f"empty dataset: {root / MANIFEST} but no train/ folder")
    else:
        train, val = _images(root), []
        if not train:
            if not any(root.iterdir()):
                raise InputError(f"empty dataset: {root} is an empty folder")
            raise InputError(
                f"not a dataset: {root} has no {MANIFEST}, no train/ folder and no "
                "PNG or JPEG A|B pairs"
            )
    expected = None
    if manifest is not None:
        try:
            expected = int(manifest["size"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{root / MANIFEST} has no valid size") from None
    size = _check_sizes(train + val, expected)
    info = DatasetInfo(
        root=root.resolve(), kind="aligned", train_files=train, val_files=val, image_size=size
    )
    if manifest is not None:
        _add_manifest(info, manifest)
    return info


def _add_manifest(info: DatasetInfo, manifest: dict) -> None:
    """What a make-dataset folder adds: its mode, drawing and crop, the target's shapes and
    descriptor, and every pair's points."""
    root = info.root
    info.kind = "face-mirror"
    info.mode = str(manifest.get("mode", "aligned"))
    info.drawing = dict(manifest.get("drawing") or {})
    info.alignment = dict(manifest.get("alignment") or {})
    info.index = _read_index(root, manifest)
    info.reference_shape = None if info.index is None else info.index.mean_shape("train")
    info.neutral_shape = _manifest_array(root, manifest, "neutral_shape", (68, 2))
    info.target_descriptor = _manifest_array(root, manifest, "target_descriptor", (128,))
