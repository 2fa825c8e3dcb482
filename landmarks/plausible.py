"""Is a 68-point shape one the target's face can make, part by part? And what to draw when not.

dlib returns 68 points on every face it finds, covered or not: a hand over the mouth gives a
mouth squeezed into a tall slot and a narrowed jaw, still "a face found". What tells them apart is
the target's own training shapes. Each part of a shape (jaw, mouth, nose, each eye, each brow) is
normalised (a similarity fit on the eye corners and the nose tip, which a hand on the mouth or a
cheek rarely moves, onto a fixed frame one eye distance wide) and centred on its own mean; its
distance to the nearest training shape's part, over that distance's high percentile on the
target's held-out tail, is its figure: about 1 or less for the target's own faces, well above 1
for a part the target cannot make.

`PartHold` is what the live stage does with the figures: a flagged part holds its last plausible
shape, easing toward the driver's neutral while the cover lasts, and is let go after a few
plausible frames, while the parts still seen keep following.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from common.alignment import transform_points
from common.regions import REGIONS

# The points the normalising fit uses: both eyes' corners and the nose tip (not the mouth corners,
# which a hand on the mouth drags along).
ANCHORS = np.array([36, 39, 42, 45, 30])
ANCHOR_FRAME = np.array([[-0.5, 0.0], [-0.17, 0.0], [0.17, 0.0], [0.5, 0.0], [0.0, 0.5]])
PARTS: dict[str, np.ndarray] = {
    "jaw": np.arange(0, 17),
    "mouth": np.arange(48, 68),
    "nose": np.arange(27, 36),
    "right_eye": np.array(REGIONS["right_eye"].indices),
    "left_eye": np.array(REGIONS["left_eye"].indices),
    "right_brow": np.array(REGIONS["right_brow"].indices),
    "left_brow": np.array(REGIONS["left_brow"].indices),
}
# What holds together: the chin is both the jaw's and the mouth's (an open mouth drops it), so a
# held mouth under a moving jaw (or the reverse) would tear the drawing.
HOLD_GROUPS: tuple[tuple[str, ...], ...] = (
    ("jaw", "mouth"),
    ("nose",),
    ("right_eye",),
    ("left_eye",),
    ("right_brow",),
    ("left_brow",),
)
EYE_GROUPS = (("right_eye",), ("left_eye",))
EYE_PARTS = np.array([p.endswith("_eye") for p in PARTS])
PERCENTILE = 99.0  # the held-out distance that counts as 1
BANK_SIZE = 800  # training shapes kept: nearest-shape search within a fraction of a millisecond
# A part this many held-out spreads from every training shape is not one the target makes. Set on
# the franck model's data: cap12 retargeted onto franck passes 4 in no frame (3.5: 0.8 %, its
# wide mouth; 2: 6.7 %), the woman's hand over her mouth in 48 % of frames 170-225 (3.5: 55 %).
THRESHOLD = 4.0
# An eye's figure is mostly how open it is, which retargeting reads against the driver's neutral:
# a driver whose eyes were shut while the neutral formed (the woman's first 4 s) draws open eyes
# beyond the target's range (figures 3-4.3) for seconds, while her hand over an eye (frames
# 100-160) kept it under 2. Eyes hold only when grossly broken.
EYE_THRESHOLD = 6.0
# The target's own face (the generated one, read by dlib) needs no retargeting allowance: its
# parts are judged against this. Franck's output under the woman's hand (frames 170-225): the
# largest part figure's median 2.5, 64 % of frames above 2; with the guard, median 1.2, none.
OWN_THRESHOLD = 2.0
# A held part is let go once this close again. The neutral holds still while a part is held, so
# an expression the neutral never saw (the woman laughing after her hand left, mouth and jaw at
# 2.3-2.7 against the crying neutral of before) kept her mouth held to the clip's end at 2.0
# (62 % of her frames); at 3.0, 13 %, the hand's frames, and cap12 the same 0.5 %.
RELEASE = 3.0


def normalised(shapes: np.ndarray) -> np.ndarray:
    """(..., 68, 2) shapes, each moved (rotation, scale, shift) so that its eye corners and nose
    tip fit ANCHOR_FRAME: one eye distance wide, the eyes' line at y = 0."""
    shapes = np.asarray(shapes, np.float64)
    flat = shapes.reshape(-1, 68, 2)
    out = np.empty_like(flat)
    for i, shape in enumerate(flat):
        out[i] = transform_points(shape, normaliser(shape))
    return out.reshape(shapes.shape)


def normaliser(shape: np.ndarray) -> np.ndarray:
    """The 2×3 similarity taking `shape`'s anchors onto ANCHOR_FRAME (least squares, in closed
    form: in the plane the best rotation and scale need no SVD, which cost a millisecond here)."""
    src = np.asarray(shape, np.float64)[ANCHORS]
    mu_s, mu_d = src.mean(0), _ANCHOR_MEAN
    s, d = src - mu_s, _ANCHOR_CENTRED
    norm = float((s**2).sum())
    a = float((s * d).sum()) / norm
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (mu_d - rot @ mu_s)[:, None]])


_ANCHOR_MEAN = ANCHOR_FRAME.mean(0)
_ANCHOR_CENTRED = ANCHOR_FRAME - _ANCHOR_MEAN


def _centring() -> tuple[np.ndarray, np.ndarray]:
    """The linear map from a flattened (136,) shape to its part vector (each part centred on its
    own mean, the parts in PARTS order), and the (136, parts) sum of each part's coordinates: the
    live check is then two small matrix products."""
    order = np.concatenate(list(PARTS.values()))
    centre = np.zeros((2 * len(order), 136))
    sums = np.zeros((2 * len(order), len(PARTS)))
    row = 0
    for k, idx in enumerate(PARTS.values()):
        for i in idx:
            for axis in range(2):
                centre[row, 2 * i + axis] += 1.0
                centre[row, 2 * idx + axis] -= 1.0 / len(idx)
                sums[row, k] = 1.0
                row += 1
    return centre, sums


_CENTRE, _PART_SUMS = _centring()
_SIZES = np.array([len(idx) for idx in PARTS.values()])


def _part_vectors(norm: np.ndarray) -> np.ndarray:
    """(..., 68, 2) normalised shapes → (..., 136): each part centred on its own mean, the parts
    concatenated in PARTS order."""
    norm = np.asarray(norm)
    return (norm.reshape(*norm.shape[:-2], 136) @ _CENTRE.T).astype(np.float32)


def _nearest(
    vectors: np.ndarray, bank: np.ndarray, bank_sq: np.ndarray | None = None
) -> np.ndarray:
    """(K, V) part vectors against the (M, V) bank → (K, parts): the RMS point distance of each
    part to the nearest bank shape's same part (each part's nearest found on its own).

    |b - v|² per part = |b|² - 2 b·v + |v|², the cross terms of every part in one product with v
    spread block-diagonally (V, parts): no (M, V) temporary."""
    bank = np.asarray(bank, np.float32)
    if bank_sq is None:
        bank_sq = _squares(bank)
    sums = _PART_SUMS.astype(np.float32)
    out = np.empty((len(vectors), len(PARTS)))
    for k, v in enumerate(np.asarray(vectors, np.float32)):
        spread = v[:, None] * sums  # (V, parts)
        sq = bank_sq - 2.0 * (bank @ spread) + (v**2) @ sums
        out[k] = np.sqrt(np.maximum(sq.min(axis=0), 0.0) / _SIZES)
    return out


def _squares(bank: np.ndarray) -> np.ndarray:
    """(M, V) part vectors → (M, parts): each part's squared length."""
    return (np.asarray(bank, np.float32) ** 2) @ _PART_SUMS.astype(np.float32)


@dataclass(eq=False)  # compared by identity: its arrays have no single truth value
class ShapeRange:
    """The target's shapes, part by part, and how far its own held-out faces fall from them."""

    bank: np.ndarray  # (M, 136) part vectors of training shapes
    spread: np.ndarray  # (parts,) the held-out nearest distance's PERCENTILE, eye distances
    threshold: float = THRESHOLD
    eye_threshold: float = EYE_THRESHOLD
    names: tuple[str, ...] = field(default=tuple(PARTS))

    def __post_init__(self) -> None:
        self._bank_sq = _squares(self.bank)

    @classmethod
    def fit(
        cls,
        train: np.ndarray,
        held_out: np.ndarray,
        bank_size: int = BANK_SIZE,
        threshold: float = THRESHOLD,
    ) -> ShapeRange:
        """From (N, 68, 2) training shapes and (K, 68, 2) held-out ones, in any one frame."""
        train = np.asarray(train, np.float64)
        if len(train) > bank_size:  # evenly over the video: every expression keeps its share
            train = train[np.linspace(0, len(train) - 1, bank_size).round().astype(int)]
        bank = _part_vectors(normalised(train))
        held = np.asarray(held_out, np.float64)
        if len(held) > 200:
            held = held[np.linspace(0, len(held) - 1, 200).round().astype(int)]
        distances = _nearest(_part_vectors(normalised(held)), bank)
        spread = np.maximum(np.percentile(distances, PERCENTILE, axis=0), 1e-3)
        return cls(bank.astype(np.float32), spread, threshold)

    @classmethod
    def split(cls, shapes: np.ndarray, held_share: float = 0.1, **kw) -> ShapeRange:
        """From one run of shapes in frame order: its last `held_share` held out (a tail, not
        random frames: neighbouring frames are near copies)."""
        shapes = np.asarray(shapes)
        cut = max(1, int(round(len(shapes) * (1 - held_share))))
        return cls.fit(shapes[:cut], shapes[cut:] if cut < len(shapes) else shapes, **kw)

    def figures(self, shape: np.ndarray, normalised_already: bool = False) -> np.ndarray:
        """(parts,) each part's distance to the nearest target shape ÷ the held-out spread."""
        norm = shape if normalised_already else normalised(shape)
        vector = _part_vectors(np.asarray(norm, np.float32)[None])
        return _nearest(vector, self.bank, self._bank_sq)[0] / self.spread

    def outside(self, figures: np.ndarray, own: bool = False) -> np.ndarray:
        """(..., parts) figures → (..., parts) bool: the parts outside the target's range. A
        drawn shape's eyes against EYE_THRESHOLD, its other parts against `threshold`; the
        target's `own` face (the output) against OWN_THRESHOLD."""
        if own:
            return np.asarray(figures) > OWN_THRESHOLD
        return np.asarray(figures) > np.where(EYE_PARTS, self.eye_threshold, self.threshold)


def group_figures(figures: np.ndarray) -> dict[tuple[str, ...], float]:
    """Per HOLD_GROUPS entry: the largest figure of its parts."""
    named = dict(zip(PARTS, np.asarray(figures, float), strict=True))
    return {group: max(named[p] for p in group) for group in HOLD_GROUPS}


def group_points(group: tuple[str, ...]) -> np.ndarray:
    return _GROUP_POINTS[group]


_GROUP_POINTS = {g: np.unique(np.concatenate([PARTS[p] for p in g])) for g in HOLD_GROUPS}


@dataclass
class PartHold:
    """Holds the implausible parts of a stream of shapes (all in one frame) and lets them go.

    A group of parts (HOLD_GROUPS) is held once its figure passes `on`; its points are then the
    last plausible ones, easing toward `neutral` (when given) with time constant `ease_seconds`,
    so a hand held over an open mouth closes it slowly instead of freezing it mid-word. It is
    let go after `recover_frames` frames in a row below `off` (lower than `on`: a covered mouth
    wavers about the line). Groups not held pass through untouched.
    """

    on: float = THRESHOLD
    off: float = RELEASE
    eye_on: float = EYE_THRESHOLD
    recover_frames: int = 3
    ease_seconds: float = 0.7

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._good: np.ndarray | None = None  # the last shape, its held groups excepted
        self._held: dict[tuple[str, ...], tuple[np.ndarray, float]] = {}  # points, since
        self._clear: dict[tuple[str, ...], int] = {}  # frames in a row below `off` while held

    @property
    def holding(self) -> tuple[tuple[str, ...], ...]:
        return tuple(self._held)

    def __call__(
        self, shape: np.ndarray, figures: np.ndarray, t: float, neutral: np.ndarray | None = None
    ) -> np.ndarray:
        """The shape to draw for `shape` (68, 2) with per-part `figures` at time `t` seconds."""
        shape = np.asarray(shape, np.float32)
        out = shape.copy()
        for group, figure in group_figures(figures).items():
            idx = group_points(group)
            if group in self._held:
                self._clear[group] = 0 if figure > self.off else self._clear[group] + 1
                if self._clear[group] >= self.recover_frames:
                    del self._held[group]
                    continue
            elif figure > (self.eye_on if group in EYE_GROUPS else self.on):
                last = shape if self._good is None else self._good
                self._held[group], self._clear[group] = (last[idx].copy(), t), 0
            else:
                continue
            points, since = self._held[group]
            if neutral is not None:
                keep = float(np.exp(-max(t - since, 0.0) / self.ease_seconds))
                points = neutral[idx] + keep * (points - neutral[idx])
            out[idx] = points
        # What a group starting to hold later holds: the newest shape, its held points excepted.
        if not self._held or self._good is None:
            self._good = shape
        else:
            good = shape.copy()
            for group in self._held:
                good[group_points(group)] = self._good[group_points(group)]
            self._good = good
        return out
