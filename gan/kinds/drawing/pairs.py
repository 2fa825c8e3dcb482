"""A make-dataset folder's split for the reference recipe: points in memory, pictures on disk.

The points of every pair are held (68 × 2 floats each); the drawings and photos are read from
their PNG files when asked for, a few kept. A 200-second video gives 4,318 training pairs, 424 MB
at 128 px, which the trainer used to hold in full (its resident memory was 2.2 GB): held this
way, training's memory no longer grows with the video, and the operating system's file cache
keeps the files a short run reads again.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gan.errors import InputError
from gan.kinds.drawing.options import REFERENCES
from gan.kinds.drawing.reference import MAX_BANK_BYTES, ReferenceBank, spread_rows

# Pairs decoded and kept: a training visit reads a frame's drawing and photo and its candidates'
# photos, so the last few are asked for again at once. 64 pairs at 128 px: 6 MB.
KEPT_PAIRS = 64


def read_pair(path: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(drawing, photo) of an A|B pair file, uint8 RGB at `size`."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read {path}")
    image = image[..., ::-1]
    half = image.shape[1] // 2
    a, b = image[:, :half], image[:, half:]
    if a.shape[0] != size:
        a = cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


class PairFiles:
    """The pair files of one split at `size`, read when asked for (a few kept: KEPT_PAIRS)."""

    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths, self.size = paths, size
        self.read = functools.lru_cache(maxsize=KEPT_PAIRS)(self._read)

    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return read_pair(self.paths[i], self.size)

    def __len__(self) -> int:
        return len(self.paths)


class Pictures:
    """One half of every pair of a PairFiles (0: the drawings, 1: the photos), indexed like an
    (N, S, S, 3) uint8 array: an int gives one picture, a slice or an array of rows a stack."""

    def __init__(self, files: PairFiles, half: int) -> None:
        self.files, self.half = files, half

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.files), self.files.size, self.files.size, 3)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, rows: int | slice | np.ndarray) -> np.ndarray:
        if isinstance(rows, int | np.integer):
            return self.files.read(int(rows))[self.half]
        picked = range(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows).ravel()
        empty = np.zeros((0, *self.shape[1:]), np.uint8)
        return np.stack([self[int(r)] for r in picked]) if len(picked) else empty

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))


@dataclass
class Split:
    """One split of a make-dataset folder at model size: its points in memory, its drawings and
    photos read from the files (Pictures)."""

    drawings: Pictures
    photos: Pictures
    points: np.ndarray
    frames: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.points)

    def change(self) -> float | None:
        """The mean absolute change (0-255) from each photo to the next of the same video, where
        the frames are neighbours: how much the real video moves, which an output driven by
        anyone should match (evaluate --driver: "change vs the target's own"). None for fewer
        than two such pairs."""
        near = (np.diff(self.frames) <= 2) & (np.diff(self.sources) == 0)
        steps = [
            float(np.abs(self.photos[i + 1].astype(np.float32) - self.photos[i]).mean())
            for i in np.flatnonzero(near)
        ]
        return float(np.mean(steps)) if steps else None

    def take(self, n: int) -> Split:
        """The first `n` pairs, their pictures read into memory."""
        return Split(
            self.drawings[:n], self.photos[:n], self.points[:n], self.frames[:n], self.sources[:n]
        )

    def bank(
        self, max_bytes: int = MAX_BANK_BYTES, region: str = "face", references: int = REFERENCES
    ) -> ReferenceBank:
        """The split as the retrieval bank a bundle carries: its photos in memory, thinned to
        `max_bytes` by spread_rows."""
        size = self.photos.shape[1]
        rows = spread_rows(self.points, max(1, max_bytes // (size * size * 3)))
        return ReferenceBank(
            self.photos[rows],
            self.points[rows],
            self.frames[rows],
            self.sources[rows],
            region,
            references,
        )

    def training_bank(self, region: str, references: int) -> ReferenceBank:
        """Every pair as a retrieval bank for training, its photos left on disk."""
        return ReferenceBank(
            self.photos, self.points, self.frames, self.sources, region, references
        )


def load_split(root: str | Path, split: str, size: int) -> Split:
    """A make-dataset folder's `split` ("train" or "val") at `size` pixels; InputError when the
    folder has no landmarks.npz (plain pix2pix A|B folders cannot use the reference recipe)."""
    root = Path(root)
    npz_path = root / "landmarks.npz"
    manifest = root / "manifest.json"
    if not npz_path.is_file() or not manifest.is_file():
        raise InputError(
            f"{root}: the reference recipe needs a make-dataset folder (landmarks.npz); "
            "use --recipe pix2pix for plain A|B folders"
        )
    try:
        dataset_size = int(json.loads(manifest.read_text())["size"])
        with np.load(npz_path) as npz:
            points, split_of, index = npz["points"], npz["split"], npz["index"]
            frames, sources = npz["frame"], npz["source"]
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"cannot read {npz_path}: {e}") from None
    rows = np.flatnonzero(split_of == ("train", "val").index(split))
    files = PairFiles([root / split / f"{int(index[r]):06d}.png" for r in rows], size)
    return Split(
        Pictures(files, 0),
        Pictures(files, 1),
        (points[rows] * (size / dataset_size)).astype(np.float32).reshape(-1, 68, 2),
        frames[rows].astype(np.int64),
        sources[rows].astype(np.int64),
    )
