"""The reference recipe's data: a make-dataset split (points in memory, pictures on disk) and the
training samples made from it (each frame with references retrieved away from it).

The points of every pair are held (68 × 2 floats each); the drawings and photos are read from
their PNG files when asked for, a few kept. A 200-second video gives 4,318 training pairs, 424 MB
at 128 px, which the trainer used to hold in full (its resident memory was 2.2 GB): held this
way, training's memory no longer grows with the video, and the operating system's file cache
keeps the files a short run reads again.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gan.errors import InputError
from gan.kinds.drawing.options import REFERENCES
from gan.kinds.drawing.reference import (
    EXCLUDE_FRAMES,
    MAX_BANK_BYTES,
    ReferenceBank,
    mix,
    region_mask,
    spread_rows,
)

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


# TrainingInputs' warps and masks: every frame of 1,024 at 128 px. A long video's frames are
# visited once or twice in a quick run, so keeping more would buy little and cost memory.
MAX_CACHE_BYTES = 2**28


class TrainingInputs:
    """The reference recipe's training samples for a split, with what is fixed per frame kept:
    its choices (ReferenceBank.training_choices), each candidate warped onto its points, and its
    mask. A warp is made when a visit first needs it, so training never makes more than it did
    uncached (two a visit) nor more than CANDIDATES a frame: in the quick preset's 1,500 steps
    on the sample's 108 frames, 432 instead of 3,000. Kept while the cache holds under
    `max_bytes` (a frame's four warps and mask: 256 KiB at 128 px, 1 MiB at 256), made again at
    each visit beyond. Built lazily rather than all at start: a long video visited once or
    twice in a short run would pay four warps a frame for two."""

    def __init__(self, split: Split, bank: ReferenceBank, max_bytes: int = MAX_CACHE_BYTES):
        self.split, self.bank, self.max_bytes = split, bank, max_bytes
        self.choices = [bank.training_choices(i) for i in range(len(split.photos))]
        self.usable = np.array([i for i, c in enumerate(self.choices) if c], np.int64)
        self.cache: dict[tuple[int, int], np.ndarray] = {}  # (frame, row) or (frame, -1): mask
        self.cached_bytes = 0

    def _kept(self, key: tuple[int, int], make: Callable[[], np.ndarray]) -> np.ndarray:
        value = self.cache.get(key)
        if value is None:
            value = make()
            if self.cached_bytes + value.nbytes <= self.max_bytes:
                self.cache[key] = value
                self.cached_bytes += value.nbytes
        return value

    def warped(self, i: int, row: int) -> np.ndarray:
        """Bank photo `row` warped onto frame `i`'s points."""
        return self._kept((i, row), lambda: self.bank.warped(row, self.split.points[i]))

    def mask(self, i: int) -> np.ndarray:
        points, bank = self.split.points[i], self.bank
        return self._kept((i, -1), lambda: region_mask(points, bank.size, bank.region))

    def sample(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """(drawing, reference, mask, photo) for a visit of frame `i`: uint8, uint8, float32
        (S, S), uint8; the reference mixed from one of its choices, drawn with `rng`."""
        choices = self.choices[i]
        rows, weights = choices[int(rng.integers(len(choices)))]
        reference = mix(rows, weights, lambda row: self.warped(i, row))
        return self.split.drawings[i], reference, self.mask(i), self.split.photos[i]

    def samples(self, seed: int, crop: int = 0) -> Iterator[tuple[np.ndarray, ...]]:
        """Endless samples in shuffled epochs, each with a (y, x) offset in [0, crop] for the
        jitter's crop, drawn from its own stream: the references drawn do not depend on it."""
        rng, crops = np.random.default_rng(seed), np.random.default_rng([seed, 1])
        while True:
            for i in rng.permutation(self.usable):
                yield (*self.sample(int(i), rng), crops.integers(0, crop + 1, 2))


def reference_train_dataset(
    split: Split, bank: ReferenceBank, batch_size: int, seed: int = 0, jitter: bool = True
):
    """Endless shuffled batches of (generator input (S, S, 7), photo in [-1, 1]) for training.

    Each pair gets a fresh reference mixed from its CANDIDATES (never itself nor a near neighbour
    in time; ReferenceBank.training_choices), warped onto its points (TrainingInputs keeps the
    warps); jitter (resize to 1.12× and crop back at an offset drawn with `seed`) moves the
    drawing, the reference, the mask and the photo together. The samples are made in tf.data's
    thread, ahead of the step; the same seed gives the same batches.
    """
    import tensorflow as tf

    from gan.bundle.pictures import to_unit_range
    from gan.kinds.drawing.data import JITTER_SCALE

    size = bank.size
    inputs = TrainingInputs(split, bank)
    if not len(inputs.usable):
        raise InputError(
            f"every training frame is within {EXCLUDE_FRAMES} frames of every other: "
            "the reference recipe needs a longer video (or --recipe pix2pix)"
        )
    big = int(round(size * JITTER_SCALE))

    def augment(drawing, reference, mask, photo, offset):
        # As to_channels, in the graph: the step's input and the photo, side by side.
        stack = tf.concat(
            [
                to_unit_range(drawing),
                to_unit_range(reference),
                mask[..., None],
                to_unit_range(photo),
            ],
            axis=-1,
        )
        if jitter:
            stack = tf.image.resize(stack, (big, big), method="bilinear")
            stack = tf.slice(stack, [offset[0], offset[1], 0], [size, size, stack.shape[-1]])
        return stack[..., :-3], stack[..., -3:]

    image = tf.TensorSpec((size, size, 3), tf.uint8)
    ds = tf.data.Dataset.from_generator(
        lambda: inputs.samples(seed, big - size if jitter else 0),
        output_signature=(
            image,
            image,
            tf.TensorSpec((size, size), tf.float32),
            image,
            tf.TensorSpec((2,), tf.int64),
        ),
    )
    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def validation_inputs(split: Split, bank: ReferenceBank) -> np.ndarray:
    """The generator's inputs for held-out pairs: each with its nearest photo in the bank."""
    return np.stack([bank.inputs(d, p) for d, p in zip(split.drawings, split.points, strict=True)])
