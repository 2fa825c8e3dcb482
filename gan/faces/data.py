"""Face-swap data: two make-dataset folders as tight face crops, hull masks and random warps.

The datasets' photos are aligned crops `crop_scale` eye-widths wide; a swap model works on a
tighter square around the face, so more of its pixels are face. Each person's decoder
learns to undo a random warp of its own person's face (the deepfakes recipe); the loss counts
only the face's hull, so the background is not learned. numpy and OpenCV only: the datasets are
checked before TensorFlow loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.alignment import Alignment, crop_between, transform_points, warp_crop
from common.dataset_format import LANDMARKS, DatasetIndex, read_pair
from common.eyes import draw_eyes
from common.outline import FOREHEAD, face_outline
from common.regions import FACIAL_PARTS, region_points
from gan.bundle.files import BUNDLE_FILE
from gan.bundle.pictures import to_model_range
from gan.core.dataset import DatasetInfo, find_dataset
from gan.errors import InputError

SWAP_SIZES = (64, 128, 256)  # the encoder halves down to 4×4; models.py builds these
# The swap crop, in eye-widths (make-dataset's crop is 2.6 wide, centred 0.5 below the eyes).
# The 68 points reach 0.93 eye-widths from that centre on the astronaut and up to 1.19 on the
# carphone sample (head turned, mouth wide open): the chin drops, so the face's middle sits
# lower than the eyes-and-hair crop's. With 2.2 wide, 0.6 below the eyes, the whole hull stays
# 2 px inside a 64 px crop in 85 % of carphone frames and all astronaut ones; 1.9 centred at 0.5
# would cut the chin in most frames, and a hull cut by the crop's edge shows as a seam when
# pasted back.
SWAP_CROP_SCALE = 2.2
SWAP_CENTRE_Y = 0.6
HULL_DILATE = 1 / 32  # the hull mask grows by this share of the size (2 px at 64)
# Random warp, as the deepfakes trainer does it at 64 px: a 5×5 grid over 1.25× the crop, each
# node moved by a normal of this share of the size, interpolated smoothly between nodes.
WARP_GRID = 5
WARP_SIGMA = 0.04
WARP_SPAN = 1.25
# Small random affine, applied to a face and its mask alike (input and loss target).
ROTATE_DEGREES, ZOOM, SHIFT = 10.0, 0.05, 0.05


@dataclass
class Faces:
    """One person's crops at the swap size, their points and face masks."""

    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    points: np.ndarray  # (N, 68, 2) float32, swap-crop pixels
    masks: np.ndarray  # (N, S, S) uint8, 255 inside the dilated outline (hull + forehead band)
    features: np.ndarray | None = None  # (N, S, S) uint8, 255 on the eyes, brows and mouth
    drawn: np.ndarray | None = None  # (N, S, S, 4) uint8: --eyes drawn's inputs (common.eyes)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def inputs(self) -> np.ndarray:
        """What the encoder sees of each face: the eyes drawn (common.eyes) when they are."""
        return self.images if self.drawn is None else self.drawn

    def take(self, n: int) -> Faces:
        features = None if self.features is None else self.features[:n]
        drawn = None if self.drawn is None else self.drawn[:n]
        return Faces(self.images[:n], self.points[:n], self.masks[:n], features, drawn)


@dataclass
class SwapDataset:
    """A make-dataset folder, checked for face swapping: aligned mode, with points."""

    info: DatasetInfo

    @property
    def landmarks(self) -> DatasetIndex:
        assert self.info.index is not None  # find_swap_dataset checks it
        return self.info.index

    @property
    def root(self) -> Path:
        return self.info.root

    @property
    def size(self) -> int:
        return self.info.image_size

    @property
    def points(self) -> np.ndarray:
        """(N, 68, 2) in the dataset's crop pixels."""
        return self.landmarks.points

    @property
    def alignment(self) -> dict:
        return Alignment.of_crop(self.info.alignment).to_dict()

    def rows(self, split: str) -> np.ndarray:
        return self.landmarks.rows(split)

    def pair_file(self, row: int) -> Path:
        return self.landmarks.path(row)


def find_swap_dataset(path: str | Path, role: str) -> SwapDataset:
    """A make-dataset folder in aligned mode, with its points; InputError naming `role` if not."""
    path = Path(path).expanduser()
    if (path / BUNDLE_FILE).is_file():
        raise InputError(f"{role} {path} is a model bundle; give the make-dataset folder")
    if path.is_dir() and (path / "config.json").is_file() and (path / "model").is_dir():
        raise InputError(f"{role} {path} is a training run; give the make-dataset folder")
    try:
        info = find_dataset(path)
    except InputError as e:
        raise InputError(f"{role} dataset: {e}") from None
    if info.kind != "face-mirror":
        raise InputError(
            f"{role} {info.root} is a plain pix2pix A|B folder; face swapping needs a "
            f"make-dataset folder (it has the 68 points in {LANDMARKS})"
        )
    if info.mode != "aligned":
        raise InputError(
            f"{role} {info.root} was made with --mode {info.mode}; face swapping needs "
            "aligned crops (make-dataset --mode aligned, the default)"
        )
    if info.index is None:
        raise InputError(f"{role} {info.root} has no {LANDMARKS}")
    return SwapDataset(info)  # find_dataset made sure it has training rows


# --- the swap crop ---


def swap_alignment(crop_scale: float = SWAP_CROP_SCALE, centre_y: float = SWAP_CENTRE_Y) -> dict:
    """The swap crop as the app's landmarks.Alignment reads it from bundle.json."""
    return {"mode": "aligned", "crop_scale": float(crop_scale), "centre_y": float(centre_y)}


def crop_matrix(dataset_alignment: dict, dataset_size: int, swap: dict, size: int) -> np.ndarray:
    """The 2×3 matrix from a dataset's crop pixels to the swap crop's (common.alignment: both
    crops are squares on the same canonical face)."""
    return crop_between(
        Alignment.of_crop(dataset_alignment), dataset_size, Alignment.of_crop(swap), size
    )


def check_crop_fits(dataset_alignment: dict, swap: dict, where: str) -> None:
    """The swap crop must lie inside the dataset's crop: beyond it there are no pixels."""
    outer, inner = Alignment.of_crop(dataset_alignment), Alignment.of_crop(swap)
    cs_d, cy_d = outer.crop_scale, outer.centre_y
    reach = inner.crop_scale / 2 + abs(inner.centre_y - cy_d)
    if reach > cs_d / 2 + 1e-6:
        raise InputError(
            f"the swap crop (--crop-scale {inner.crop_scale:g}, --centre-y "
            f"{inner.centre_y:g}) reaches past {where}'s crop ({cs_d:g} eye-widths wide, centred "
            f"{cy_d:g} below the eyes): use --crop-scale at most "
            f"{cs_d - 2 * abs(inner.centre_y - cy_d):g}"
        )


def crop_face(photo: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The swap crop of a photo, shrunk by area where it gets smaller (common.alignment)."""
    return warp_crop(photo, matrix, size, antialias=True)


def hull_mask(
    points: np.ndarray, size: int, dilate: float = HULL_DILATE, forehead: float = FOREHEAD
) -> np.ndarray:
    """255 inside the face's outline (the 68 points' hull and `forehead` inter-ocular distances
    above the brows: common.outline, crop pixels), grown by `dilate`·size."""
    mask = np.zeros((size, size), np.uint8)
    shift = 4  # sub-pixel corners: fillConvexPoly takes fixed point with this many bits
    outline = face_outline(points, forehead)
    hull = cv2.convexHull(np.round(outline * (1 << shift)).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_AA, shift)
    mask = np.where(mask >= 128, 255, 0).astype(np.uint8)
    radius = round(size * dilate)
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.dilate(mask, kernel)
    return mask


# What the swap's loss weighs up (faceswap's eye and mouth multipliers): each brow with its eye,
# and the mouth (common.regions' facial parts), as hulls grown by FEATURE_DILATE of the size.
# dlib's identity network, and people, look there first.
SWAP_FEATURE_PARTS = ("right_brow_and_eye", "left_brow_and_eye", "mouth")
FEATURE_DILATE = 1 / 32


def feature_mask(
    points: np.ndarray, size: int, parts: tuple[str, ...] = SWAP_FEATURE_PARTS
) -> np.ndarray:
    """255 on the named facial parts (common.regions.FACIAL_PARTS), each the hull of its points
    grown by FEATURE_DILATE·size; 0 elsewhere."""
    mask = np.zeros((size, size), np.uint8)
    for part in parts:
        indices = region_points(*FACIAL_PARTS[part])
        mask |= hull_mask(np.asarray(points)[indices], size, FEATURE_DILATE, forehead=0.0)
    return mask


def read_photo(path: Path) -> np.ndarray:
    """The B half (the photo) of an A|B pair, RGB."""
    return read_pair(path)[1]


# --eyes: what the encoder sees of the eyes, the pixels or a drawing of the points (common.eyes).
EYE_INPUTS = ("pixels", "drawn")


def load_faces(
    dataset: SwapDataset,
    split: str,
    swap: dict,
    size: int,
    forehead: float = FOREHEAD,
    eyes: str = "pixels",
    eye_scale: float = 1.0,
) -> Faces:
    """Every pair of `split` as a swap crop at `size`, with its points and hull mask (and with
    `eyes` "drawn", the encoder's inputs with the eyes drawn, lids scaled by `eye_scale`)."""
    m = crop_matrix(dataset.alignment, dataset.size, swap, size)
    rows = dataset.rows(split)
    images = np.zeros((len(rows), size, size, 3), np.uint8)
    points = np.zeros((len(rows), 68, 2), np.float32)
    masks = np.zeros((len(rows), size, size), np.uint8)
    features = np.zeros((len(rows), size, size), np.uint8)
    for i, row in enumerate(rows):
        images[i] = crop_face(read_photo(dataset.pair_file(row)), m, size)
        points[i] = transform_points(dataset.points[row], m)
        masks[i] = hull_mask(points[i], size, forehead=forehead)
        features[i] = feature_mask(points[i], size)
    drawn = draw_eyes(images, points, eye_scale) if eyes == "drawn" else None
    return Faces(images, points, masks, features, drawn)


def reference_shape(dataset: SwapDataset, swap: dict, size: int) -> np.ndarray:
    """The mean training shape in swap-crop pixels (68, 2): the target's face at rest, roughly."""
    m = crop_matrix(dataset.alignment, dataset.size, swap, size)
    return transform_points(dataset.points[dataset.rows("train")].mean(axis=0), m)


# --- augmentation ---


def random_affines(size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` small rotations, zooms and shifts about the crop's centre, (count, 2, 3) matrices
    as cv2.getRotationMatrix2D makes them, shifted."""
    angle = np.deg2rad(rng.uniform(-ROTATE_DEGREES, ROTATE_DEGREES, count))
    scale = rng.uniform(1 - ZOOM, 1 + ZOOM, count)
    shift = rng.uniform(-SHIFT, SHIFT, (count, 2)) * size
    a, b = scale * np.cos(angle), scale * np.sin(angle)
    c = size / 2
    return np.stack(
        [
            np.stack([a, b, (1 - a) * c - b * c + shift[:, 0]], -1),
            np.stack([-b, a, b * c + (1 - a) * c + shift[:, 1]], -1),
        ],
        1,
    )


def random_affine(size: int, rng: np.random.Generator) -> np.ndarray:
    """A small rotation, zoom and shift about the crop's centre, as a 2×3 matrix."""
    return random_affines(size, 1, rng)[0]


def random_warps(
    size: int, count: int, rng: np.random.Generator, sigma: float = WARP_SIGMA
) -> np.ndarray:
    """`count` cv2.remap maps of a smooth random displacement, (count, 2, S, S) float32 (x, y):
    a jittered coarse grid, interpolated, all in one resize.

    The grid spans WARP_SPAN× the crop so that the crop's edges move as smoothly as its middle;
    with sigma 0 the maps are the identity.
    """
    big = round(size * WARP_SPAN)
    lo = (big - size) // 2
    nodes = rng.normal(0, sigma * size, (count * 2, WARP_GRID, WARP_GRID)).astype(np.float32)
    # One resize of every grid as a channel (cv2 takes up to 512) is the resize of each alone.
    dense = np.empty((big, big, count * 2), np.float32)
    for at in range(0, count * 2, 512):
        part = np.ascontiguousarray(nodes[at : at + 512].transpose(1, 2, 0))
        dense[..., at : at + 512] = cv2.resize(part, (big, big), interpolation=cv2.INTER_LINEAR)
    maps = dense[lo : lo + size, lo : lo + size].transpose(2, 0, 1).reshape(count, 2, size, size)
    identity = np.arange(size, dtype=np.float32)
    maps[:, 0] += identity[None, :]
    maps[:, 1] += identity[:, None]
    return maps


def random_warp_maps(
    size: int, rng: np.random.Generator, sigma: float = WARP_SIGMA
) -> tuple[np.ndarray, np.ndarray]:
    """One random_warps map pair (x, y) for cv2.remap."""
    maps = random_warps(size, 1, rng, sigma)[0]
    return maps[0], maps[1]


def warp(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray], border: int) -> np.ndarray:
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=border)


def affine(image: np.ndarray, matrix: np.ndarray, border: int) -> np.ndarray:
    size = image.shape[0]
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)


def augment(
    image: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    warp_inputs: bool = True,
    flip: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(warped input, target, target mask) for one face: uint8, uint8, uint8.

    The affine moves the face and its mask alike (both sides of the loss); the smooth warp then
    bends only the input, so the decoder learns to give back the unwarped face.
    """
    flips = rng.random(1) < 0.5 if flip else np.zeros(1, bool)
    matrices = random_affines(image.shape[0], 1, rng)
    maps = random_warps(image.shape[0], 1, rng) if warp_inputs else None
    warped, target, target_mask = augment_batch(image[None], mask[None], flips, matrices, maps)
    return warped[0], target[0], target_mask[0]


def augment_batch(
    images: np.ndarray,
    masks: np.ndarray,
    flips: np.ndarray,
    matrices: np.ndarray,
    maps: np.ndarray | None,
    inputs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """augment for a batch, its random draws given: flips (N,) bool, matrices (N, 2, 3), maps
    (N, 2, S, S) or None (the inputs are the targets, unwarped). `inputs`: what the encoder sees
    of `images` when it is not the images themselves (the eyes drawn), moved alike."""
    if flips.any():
        images = np.where(flips[:, None, None, None], images[:, :, ::-1], images)
        masks = np.where(flips.reshape(-1, *[1] * (masks.ndim - 1)), masks[:, :, ::-1], masks)
        if inputs is not None:
            inputs = np.where(flips[:, None, None, None], inputs[:, :, ::-1], inputs)
    targets, target_masks = np.empty_like(images), np.empty_like(masks)
    if inputs is not None:
        warped = np.empty_like(inputs)
    else:
        warped = np.empty_like(images) if maps is not None else targets
    for k, m in enumerate(matrices):
        targets[k] = affine(images[k], m, cv2.BORDER_REPLICATE)
        target_masks[k] = affine(masks[k], m, cv2.BORDER_CONSTANT)
        source = targets[k] if inputs is None else affine(inputs[k], m, cv2.BORDER_REPLICATE)
        if maps is not None:
            warped[k] = warp(source, maps[k], cv2.BORDER_REPLICATE)
        elif inputs is not None:
            warped[k] = source
    return warped, targets, target_masks


# A face whose eyes are open less than this share of its person's median openness is a blink
# (common.regions.eye_openness: open eyes read 0.07-0.11 eye distances, shut ones 0.01-0.05).
SHUT_EYES = 0.6


def shut_eye_faces(points: np.ndarray) -> np.ndarray:
    """The indices of the faces (points (N, 68, 2)) whose eyes are shut: below SHUT_EYES of the
    person's median openness."""
    from common.regions import eye_openness

    if len(points) == 0:
        return np.zeros(0, np.int64)
    openness = eye_openness(points)
    return np.flatnonzero(openness < SHUT_EYES * np.median(openness))


def draw_faces(
    n: int, batch: int, rng: np.random.Generator, shut: np.ndarray | None = None, share: float = 0.0
) -> np.ndarray:
    """`batch` face indices of `n`, uniform; with `share` > 0 and any `shut` faces, each pick is
    one of those with probability `share`: a blink lasts a few frames of a hundred, so a decoder
    trained on uniform picks learns the open eye alone."""
    picks = rng.integers(0, n, batch)
    if share > 0 and shut is not None and len(shut):
        chosen = rng.random(batch) < share
        picks[chosen] = shut[rng.integers(0, len(shut), int(chosen.sum()))]
    return picks


def training_batch(
    faces: Faces,
    batch: int,
    rng: np.random.Generator,
    warp_inputs: bool = True,
    flip: bool = False,
    feature_weight: float = 1.0,
    picks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, weights) for one step: float32 [-1, 1], [-1, 1] and (N, S, S, 1) loss
    weights: 1 on the face, `feature_weight` on its eyes, brows and mouth, 0 elsewhere. `picks`:
    the faces (default: `batch` drawn uniformly).

    The batch's random draws are made together (faces, flips, affines, then warps), not face by
    face; each face's draws are distributed as augment's.
    """
    size = faces.images.shape[1]
    picks = rng.integers(0, len(faces), batch) if picks is None else picks
    flips = rng.random(batch) < 0.5 if flip else np.zeros(batch, bool)
    matrices = random_affines(size, batch, rng)
    maps = random_warps(size, batch, rng) if warp_inputs else None
    weigh = feature_weight != 1.0 and faces.features is not None
    # The feature map rides along as the mask's second channel: the same affine moves both.
    masks = np.stack([faces.masks[picks], faces.features[picks]], -1) if weigh else None
    masks = faces.masks[picks] if masks is None else masks
    drawn = None if faces.drawn is None else faces.drawn[picks]
    inputs, targets, masks = augment_batch(faces.images[picks], masks, flips, matrices, maps, drawn)
    masks = masks.astype(np.float32)
    masks /= 255.0
    if weigh:
        masks = masks[..., :1] * (1.0 + (feature_weight - 1.0) * masks[..., 1:])
    else:
        masks = masks[..., None]
    return to_model_range(inputs), to_model_range(targets), masks


def masked_l1(fake: np.ndarray, real: np.ndarray, masks: np.ndarray) -> float:
    """Mean absolute error inside the masks, on a [0, 1] scale; uint8 images, uint8 masks."""
    w = (np.asarray(masks, np.float64) / 255.0)[..., None]
    diff = np.abs(fake.astype(np.float64) - real.astype(np.float64)) / 255.0
    return float((diff * w).sum() / max(w.sum() * fake.shape[-1], 1e-9))
