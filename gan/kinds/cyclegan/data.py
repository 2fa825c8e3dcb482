"""CycleGAN's data: each person's face crops (gan.faces) with two weight maps, the face's outline
(where the cycle and identity L1s count) and the facial parts (where the attention L1 counts),
moved with the face by a small random affine. numpy and OpenCV only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.regions import FACIAL_PARTS
from gan.bundle.pictures import to_model_range
from gan.faces.data import Faces, augment_batch, feature_mask, random_affines

# The attention loss's regions: every facial part common.regions names (each brow with its eye,
# the nose, the mouth): where a face parser would have put its masks.
ATTENTION_PARTS = tuple(FACIAL_PARTS)


def attention_mask(points: np.ndarray, size: int) -> np.ndarray:
    """255 on the facial parts (ATTENTION_PARTS' hulls, grown a little), 0 elsewhere."""
    return feature_mask(points, size, ATTENTION_PARTS)


MAX_FRAME_STEP = 3  # Recycle-GAN's triplets: frames at most this far apart (make-dataset --every)


def triplets(frame: np.ndarray | None, source: np.ndarray | None) -> np.ndarray:
    """(M, 3) positions (previous, this, next) of evenly spaced neighbouring frames of one video,
    at most MAX_FRAME_STEP apart, from each pair's frame and source; none without them."""
    if frame is None or source is None or len(frame) < 3:
        return np.zeros((0, 3), int)
    f, s = np.asarray(frame, int), np.asarray(source)
    before, after = f[1:-1] - f[:-2], f[2:] - f[1:-1]
    same = (s[:-2] == s[1:-1]) & (s[1:-1] == s[2:])
    ok = same & (before == after) & (before > 0) & (before <= MAX_FRAME_STEP)
    middle = np.flatnonzero(ok) + 1
    return np.stack([middle - 1, middle, middle + 1], -1)


@dataclass
class Person:
    """One person's crops with both maps as uint8 channels: (N, S, S, 2) outline, parts; and the
    triplets of neighbouring frames Recycle-GAN learns motion from."""

    faces: Faces
    maps: np.ndarray
    triplets: np.ndarray

    @classmethod
    def of(cls, faces: Faces, frame: np.ndarray | None = None, source: np.ndarray | None = None):
        size = faces.images.shape[1]
        parts = np.stack([attention_mask(p, size) for p in faces.points])
        return cls(faces, np.stack([faces.masks, parts], -1), triplets(frame, source))


def cycle_batch(
    person: Person, batch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(faces in [-1, 1], outline weights, parts weights) for one step, the last two
    (N, S, S, 1) in [0, 1]; random faces, each with a random affine (no warp: CycleGAN learns
    from the faces as they are)."""
    faces = person.faces
    picks = rng.integers(0, len(faces), batch)
    matrices = random_affines(faces.images.shape[1], batch, rng)
    flips = np.zeros(batch, bool)
    images, _, maps = augment_batch(faces.images[picks], person.maps[picks], flips, matrices, None)
    maps = maps.astype(np.float32) / 255.0
    return to_model_range(images), maps[..., :1], maps[..., 1:]


def temporal_batch(person: Person, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """cycle_batch's three arrays for the middle frames of random triplets, then the previous and
    next frames and the next one's outline weights: one affine moves all three frames alike."""
    faces = person.faces
    chosen = person.triplets[
        rng.integers(0, len(person.triplets), batch)
    ].T.ravel()  # prev, this, next
    matrices = np.tile(random_affines(faces.images.shape[1], batch, rng), (3, 1, 1))
    flips = np.zeros(3 * batch, bool)
    images, _, maps = augment_batch(
        faces.images[chosen], person.maps[chosen], flips, matrices, None
    )
    images, maps = to_model_range(images), maps.astype(np.float32) / 255.0
    prev, this, after = np.split(images, 3)
    _, this_maps, after_maps = np.split(maps, 3)
    return this, this_maps[..., :1], this_maps[..., 1:], prev, after, after_maps[..., :1]
