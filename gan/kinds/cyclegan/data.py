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


@dataclass
class Person:
    """One person's crops with both maps as uint8 channels: (N, S, S, 2) outline, parts."""

    faces: Faces
    maps: np.ndarray

    @classmethod
    def of(cls, faces: Faces) -> Person:
        size = faces.images.shape[1]
        parts = np.stack([attention_mask(p, size) for p in faces.points])
        return cls(faces, np.stack([faces.masks, parts], -1))


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
