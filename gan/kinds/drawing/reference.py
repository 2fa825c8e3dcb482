"""The reference recipe's retrieval bank: real photos of the target, found by their points.

For every drawing the bank finds the training photos whose 68 points are nearest, moves each onto
the drawing's points with a piecewise-affine warp (common.warp) of the points that speech, blinks
and brows move (past the landmarks' own noise), mixes them, and hands the generator the drawing,
the mixed photo and a soft mask of what it may change. The bundle carries the bank (points and
photos at model size, compressed, at most MAX_BANK_BYTES of photos), so the live path retrieves
in microseconds and warps in about 2 ms at 128 px; over a video, ReferenceTrack retrieves by the
points low-passed over the frames.

In training (gan.kinds.drawing.pairs), the reference for a frame is one of the CANDIDATES nearest
photos more than EXCLUDE_FRAMES frames away from it in the same video: never the answer itself,
nor its neighbour.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.files import atomic_path
from common.regions import REGIONS as PARTS
from common.regions import eye_openness, inter_ocular
from common.warp import PiecewiseAffine, hull_mask
from gan.errors import InputError
from gan.kinds.drawing.options import MAX_REFERENCES, REFERENCES, REGIONS

BANK_FILE = "reference_bank.npz"
MAX_BANK_BYTES = 64 * 2**20  # photos at model size: 1,365 frames at 128 px, 341 at 256 px
EXCLUDE_FRAMES = 2  # in training, references within this many frames of the target are skipped
CANDIDATES = 4  # in training, the reference is one of this many nearest (a fresh pick each time)
# REFERENCES photos are mixed into one reference, with weights continuous in the points
# (blend_weights): a hard nearest photo jumps when another overtakes it, and the output flickers.
# Bundles from before this (no "references" in bundle.json) used 1.
assert MAX_REFERENCES == CANDIDATES - 1  # training mixes from CANDIDATES less one left out
# The points the warp moves: the jaw line, the brows, the eyelids and the mouth, what speech,
# blinks and a raised brow move; the nose and the eye corners stay where the photo has them.
EYELIDS = np.array([37, 38, 40, 41, 43, 44, 46, 47])
BROWS = np.r_[17:27]
MOVED_POINTS = np.r_[0:17, BROWS, EYELIDS, 48:68]
# A point moves only as far as it is off by more than SETTLE eye widths (a soft threshold): the
# predictor's points wander about a pixel at 128 px (0.02 eye widths) on a face that holds still,
# and a photo warped by that noise loses its likeness. On franck's held-out tail (480 frames) the
# nearest photo warped the whole way was 0.016 further from the real frame than the photo itself
# (dlib's identity distance), and 0.000 with this threshold; the two nearest mixed went from a
# loss to retrieval (+0.009) to a win (-0.005). Moving the brows costs nothing then (+0.009
# without the threshold), and when another face drives, brows follow (cap12: r 0.47 -> 0.87).
# The eyelids move the whole way: the lids of a blink or a squint travel about a pixel, which the
# threshold would swallow (cap12's eye openness r 0.75 -> 0.24).
SETTLE = 0.02
EXACT_POINTS = EYELIDS
# Blinks. The photos are found by all 68 points, among which a blink moves eight lids by a pixel or
# two, so the mix's photos keep their eyes open and a shut eye is an open one warped flat, which
# dlib still reads as open (franck ← the woman: 1 of 14 blinks followed, at 0.21 of the depth).
# Where the drawing's eyes are more than EYE_MARGIN more or less open (÷ inter-ocular distance)
# than the mix's photos', the eyes come from other photos: those nearest in openness among the
# EYE_CANDIDATES whose eye corners and nose bridge (EYE_PLACE: where the eyes sit) are nearest,
# fully from twice the margin on. Candidates near in the whole face held no shut eye for the
# woman's crying face (0.075 chosen for 0.022 asked); near where the eyes sit, 0.03-0.04.
EYE_MARGIN = 0.012  # the lids' noise on a still face is about a third of this
EYE_CANDIDATES = 100
EYE_PLACE = np.r_[27:31, 36, 39, 42, 45]
# The eyes' patch: each eye's hull grown by an eye width and feathered by 0.3 of one, lids to
# brows. Grown by 0.3, the mix's creases above a shut eye stayed and dlib read the lids 0.054
# apart on the woman's shut frames (franck's own shut photos read 0.03); grown by 1.0, 0.039.
EYE_GROW, EYE_FEATHER = 1.0, 0.3
EYES = (PARTS["right_eye"].indices, PARTS["left_eye"].indices)
NOT_LIDS = np.setdiff1d(np.arange(68), EYELIDS)
LOWER_FACE = np.r_[4:13, 48:68]  # the region "mouth": the chin, the jaw below the ears, the mouth
# What the generator may change (options.REGIONS): the whole face (the hull of the 68 points)
# or only the lower face (the hull of LOWER_FACE); the rest is the warped reference.


def region_mask(points: np.ndarray, size: int, region: str = "face") -> np.ndarray:
    """The soft mask of what the generator may change, for a face at `points`."""
    points = np.asarray(points, np.float32)
    if region == "mouth":
        return hull_mask(points[LOWER_FACE], size, grow=0.1, feather=0.05)
    return hull_mask(points, size)


def to_channels(drawing: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The generator's input (S, S, 7) float32: drawing and reference in [-1, 1], mask in [0, 1]."""
    return np.concatenate(
        [
            drawing.astype(np.float32) / 127.5 - 1.0,
            reference.astype(np.float32) / 127.5 - 1.0,
            mask[..., None].astype(np.float32),
        ],
        axis=-1,
    )


def blend_weights(distances: np.ndarray, count: int = REFERENCES) -> np.ndarray:
    """Weights for photos at ascending `distances` from a drawing: the first `count` get the
    distance of the next one beyond them minus their own, normalised; the rest get 0. A photo's
    weight falls to 0 just as another overtakes it, so the mix changes continuously as the points
    move. Fewer photos than count + 1, or all at one distance: equal weights."""
    d = np.asarray(distances, np.float64)
    weights = np.zeros(len(d))
    if len(d) <= count:
        weights[:] = 1.0
    else:
        weights[:count] = d[count] - d[:count]
        if weights.sum() <= 0:
            weights[:count] = 1.0
    return weights / weights.sum()


def mix(rows: np.ndarray, weights: np.ndarray, warped: Callable[[int], np.ndarray]) -> np.ndarray:
    """The photos `warped(row)` of `rows` mixed by `weights`, uint8 RGB; a photo of weight 0 is
    not asked for at all, one of weight 1 is returned as it is."""
    mixed, total = None, 0.0
    for row, weight in zip(rows, weights, strict=True):
        if weight <= 0:
            continue
        photo = warped(int(row))
        if weight >= 1:
            return photo
        term = photo.astype(np.float32) * float(weight)
        mixed = term if mixed is None else mixed + term
        total += float(weight)
    return np.clip(mixed / total + 0.5, 0, 255).astype(np.uint8)


def moved_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Where the warp sends `source`'s points for a face at `target`: MOVED_POINTS towards
    theirs, each less SETTLE eye widths (noise), EXACT_POINTS the whole way; the rest stay."""
    moved = np.array(source, np.float32, copy=True)
    step = np.asarray(target, np.float32)[MOVED_POINTS] - moved[MOVED_POINTS]
    length = np.linalg.norm(step, axis=-1, keepdims=True)
    kept = np.clip(1.0 - SETTLE * inter_ocular(moved) / np.maximum(length, 1e-6), 0.0, 1.0)
    kept[np.isin(MOVED_POINTS, EXACT_POINTS)] = 1.0
    moved[MOVED_POINTS] += kept * step
    return moved


@dataclass
class ReferenceBank:
    """Photos of the target (M, S, S, 3) uint8 RGB with their points (M, 68, 2) at size S."""

    photos: np.ndarray
    points: np.ndarray
    frames: np.ndarray  # (M,) the frame each photo came from
    sources: np.ndarray  # (M,) the video it came from
    region: str = "face"  # what the generator may change (REGIONS)
    references: int = REFERENCES  # photos mixed into each reference (blend_weights)

    def __post_init__(self) -> None:
        self.size = int(self.photos.shape[1])
        self.openness = eye_openness(self.points)  # (M,) each photo's, for its eyes (EYE_MARGIN)
        self.warp = PiecewiseAffine.for_shape(self.points.mean(axis=0), self.size)

    def __len__(self) -> int:
        return len(self.photos)

    def distances(self, points: np.ndarray, which: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Mean point-to-point distance (pixels) from `points` to every photo's points, over
        the points `which` (default: all)."""
        d = self.points[:, which] - np.asarray(points, np.float32)[None, which]
        return np.sqrt((d**2).sum(-1)).mean(-1)

    def nearest(self, points: np.ndarray) -> int:
        return int(self.distances(points).argmin())

    def choose(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weights) of the photos mixed into the reference for `points`: the
        `references` nearest by every point but the lids, weighted by blend_weights. The lids
        are the eyes' to follow (_with_eyes): a blink that moved the retrieval swapped the whole
        face for another photo's for its three frames, a jump of the head and the light."""
        d = self.distances(points, NOT_LIDS)
        rows = np.argsort(d, kind="stable")[: self.references + 1]
        return rows, blend_weights(d[rows], self.references)

    def training_choices(self, row: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every (rows, weights) that training on photo `row` may mix, each as likely: as
        `choose`, over its candidates (never itself nor a near neighbour in time) with one of
        them left out, so that each visit mixes a fresh set. Fixed per row: the cache of
        TrainingInputs is built on it."""
        rows = self.candidates(row)
        if self.references == 1:  # the recipe before mixing: one of the candidates, at random
            return [(r[None], np.ones(1)) for r in rows]
        distances = self.distances(self.points[row])
        sets = [rows]
        if len(rows) > self.references + 1:
            sets = [np.delete(rows, drop)[: self.references + 1] for drop in range(len(rows))]
        return [(s, blend_weights(distances[s], self.references)) for s in sets]

    def training_choice(self, row: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weights) for training on photo `row`: one of training_choices, at random."""
        choices = self.training_choices(row)
        return choices[int(rng.integers(len(choices)))]  # integers(1) draws nothing

    def candidates(self, row: int, count: int = CANDIDATES) -> np.ndarray:
        """For training on photo `row`: the `count` nearest photos, none within EXCLUDE_FRAMES."""
        d = self.distances(self.points[row])
        near = (self.sources == self.sources[row]) & (
            np.abs(self.frames - self.frames[row]) <= EXCLUDE_FRAMES
        )
        d[near] = np.inf
        order = np.argsort(d, kind="stable")[:count]
        return order[np.isfinite(d[order])]

    def reference(
        self,
        points: np.ndarray,
        rows: np.ndarray | int | None = None,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """Photos `rows` (default: `choose`) each warped onto `points` and mixed by `weights`
        (default: equal), uint8 RGB. Photos of weight 0 are not warped at all."""
        if rows is None:
            rows, weights = self.choose(points)
        rows = np.atleast_1d(rows)
        weights = np.full(len(rows), 1 / len(rows)) if weights is None else np.asarray(weights)
        mixed = mix(rows, weights, lambda row: self.warped(row, points))
        return self._with_eyes(mixed, points, rows, weights)

    def eye_photos(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weights) of the photos whose eyes are mixed in for a face at `points`: those
        nearest its eye openness among the EYE_CANDIDATES nearest where the eyes sit."""
        near = np.argsort(self.distances(points, EYE_PLACE), kind="stable")[:EYE_CANDIDATES]
        gap = np.abs(self.openness[near] - float(eye_openness(points)))
        order = np.argsort(gap, kind="stable")[: self.references + 1]
        return near[order], blend_weights(gap[order], self.references)

    def _with_eyes(
        self, mixed: np.ndarray, points: np.ndarray, rows: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """`mixed` with its eyes from eye_photos where the drawing's eyes are more than
        EYE_MARGIN more or less open than those of the photos mixed (`rows`, `weights`)."""
        have = float(np.sum(weights * self.openness[rows]) / np.sum(weights))
        alpha = np.clip(abs(float(eye_openness(points)) - have) / EYE_MARGIN - 1.0, 0.0, 1.0)
        if alpha <= 0:
            return mixed
        eyes = mix(*self.eye_photos(points), lambda row: self.warped(row, points))
        eyes_mask = (hull_mask(points[e], self.size, EYE_GROW, EYE_FEATHER) for e in EYES)
        mask = alpha * np.maximum(*eyes_mask)
        out = mixed.astype(np.float32) * (1 - mask[..., None]) + eyes * mask[..., None]
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def warped(self, row: int, points: np.ndarray) -> np.ndarray:
        """Photo `row` moved onto `points` (MOVED_POINTS only), uint8 RGB."""
        source = self.points[row]
        return self.warp(self.photos[row], source, moved_points(source, points))

    def inputs(
        self,
        drawing: np.ndarray,
        points: np.ndarray,
        rows: np.ndarray | int | None = None,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """The generator's (S, S, 7) input for one drawing at `points` (model pixels)."""
        mask = region_mask(points, self.size, self.region)
        return to_channels(drawing, self.reference(points, rows, weights), mask)

    # -- the file in the bundle ------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, photos=self.photos, points=self.points, frames=self.frames, sources=self.sources
        )
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path, region: str = "face", references: int = 1) -> ReferenceBank:
        """The bank saved at `path`; `region` and `references` come from bundle.json (a bundle
        without "references" mixed 1)."""
        if region not in REGIONS:
            raise InputError(f"unknown region {region!r}: one of {', '.join(REGIONS)}")
        if not 1 <= references <= MAX_REFERENCES:
            raise InputError(f"references must be 1 to {MAX_REFERENCES}, not {references}")
        try:
            with np.load(path) as npz:
                arrays = {k: npz[k] for k in ("photos", "points", "frames", "sources")}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"cannot read {path}: {e}") from None
        photos, points = arrays["photos"], arrays["points"]
        if (
            photos.ndim != 4
            or len(photos) == 0
            or photos.dtype != np.uint8
            or photos.shape[1:] != (photos.shape[1], photos.shape[1], 3)
            or points.shape != (len(photos), 68, 2)
            or arrays["frames"].shape != (len(photos),)
            or arrays["sources"].shape != (len(photos),)
        ):
            raise InputError(f"{path}: not a reference bank")
        return cls(
            photos,
            points.astype(np.float32),
            arrays["frames"],
            arrays["sources"],
            region,
            references,
        )


class ReferenceTrack:
    """The bank's references for a sequence of drawings, one frame after another (the live path,
    `reenact`, `evaluate`): the photos are retrieved by the points low-passed over the frames,
    and warped onto each frame's own points.

    Retrieval by each frame's own points changes its photos on most frames of real footage (78 %
    on franck's held-out tail, 1,365 photos): the mix stays continuous in the points, but a
    photo's lighting, hair and background arrive with it, and the face shimmered (frame-to-frame
    change 1.86 times the real video's). The warp moves the jaw, brows, lids and mouth at once, so
    the photos only need to follow the slower rest: with FOLLOW 0.3 the change is about the real
    video's, and pixels, landmarks and identity are as before (docs/results.md, "Real footage").
    """

    FOLLOW = 0.3  # the share of the way the retrieval's points move towards each new frame's
    JUMP = 0.25  # a move of this many face widths is a new face or a cut: retrieval starts there

    def __init__(self, bank: ReferenceBank, follow: float = FOLLOW) -> None:
        self.bank, self.follow = bank, follow
        self.query: np.ndarray | None = None

    def reset(self) -> None:
        self.query = None

    def inputs(self, drawing: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The generator's (S, S, 7) input for the next frame, a drawing at `points`."""
        points = np.asarray(points, np.float32)
        if self.query is None or self._jumped(points):
            self.query = points.copy()
        else:
            self.query += self.follow * (points - self.query)
        rows, weights = self.bank.choose(self.query)
        return self.bank.inputs(drawing, points, rows, weights)

    def _jumped(self, points: np.ndarray) -> bool:
        width = float(np.ptp(points[:, 0])) or 1.0
        return float(np.linalg.norm(points - self.query, axis=-1).mean()) > self.JUMP * width


def spread_rows(points: np.ndarray, count: int) -> np.ndarray:
    """`count` rows of `points` (N, 68, 2) that cover its shapes: farthest-point sampling."""
    n = len(points)
    if count >= n:
        return np.arange(n)
    flat = points.reshape(n, -1)
    chosen = [int(np.linalg.norm(flat - flat.mean(0), axis=1).argmin())]
    d = np.linalg.norm(flat - flat[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(d.argmax()))
        d = np.minimum(d, np.linalg.norm(flat - flat[chosen[-1]], axis=1))
    return np.sort(np.asarray(chosen))
