"""Retargeting: the driver's expression, measured from their neutral face, moves the target."""

from __future__ import annotations

from collections import deque

import numpy as np

from common.regions import LEFT_EYE_OUTER, REGIONS, RIGHT_EYE_OUTER, eye_openness

# Inner lips run 60-67 from the right corner over the top: 62 is the top middle, 66 the bottom.
LIP_TOP, LIP_BOTTOM = REGIONS["inner_lips"].start + 2, REGIONS["inner_lips"].start + 6
EYES = (REGIONS["right_eye"], REGIONS["left_eye"])
BROWS = (REGIONS["right_brow"], REGIONS["left_brow"])
# What opening the mouth moves: the lips, and the chin with the jaw below the ears.
MOUTH_POINTS = [*range(5, 12), *REGIONS["outer_lips"].indices, *REGIONS["inner_lips"].indices]
# An eye runs outer corner, two upper lid points, inner corner, two lower lid points: each upper
# point faces a lower one.
LID_PAIRS = [(e.start + 1, e.start + 5) for e in EYES] + [(e.start + 2, e.start + 4) for e in EYES]
MAX_LID_SHARE = 1.6  # a driver's eyes wide open (surprise) open the target's by at most this


def retarget(
    driver: np.ndarray,
    driver_neutral: np.ndarray,
    target_reference: np.ndarray,
    strength: float = 1.0,
) -> np.ndarray:
    """target = reference + strength · (driver − neutral), all (68, 2) in one aligned crop space,
    the lids apart as much as the driver's share of their neutral gap.

    Alignment has already removed the driver's position, roll and scale, so what is left of
    (driver − neutral) is expression and out-of-plane head motion, which the target then wears
    on its own face shape instead of the driver's.
    """
    driver, neutral = np.asarray(driver, np.float64), np.asarray(driver_neutral, np.float64)
    reference = np.asarray(target_reference, np.float64)
    target = reference + strength * (driver - neutral)
    # The lids open by the driver's share of their own rest: a blink shuts the target's eye as far
    # as it shuts the driver's, whatever the two eyes' sizes. Added as a difference, a lid gap
    # closed by the driver's pixels left the target's larger eye a third open (franck driven by the
    # woman: depth 0.48 of hers). The gap's middle moves as the difference says (gaze, head).
    for upper, lower in LID_PAIRS:
        share = _dist(driver, upper, lower) / max(float(_dist(neutral, upper, lower)), 1e-3)
        share = 1.0 + strength * (min(float(share), MAX_LID_SHARE) - 1.0)
        middle = (target[upper] + target[lower]) / 2
        rest = (reference[upper] - reference[lower]) / 2
        target[upper], target[lower] = middle + share * rest, middle - share * rest
    return target.astype(np.float32)


def _dist(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[..., a, :] - points[..., b, :], axis=-1)


def _iod(points: np.ndarray) -> np.ndarray:
    return _dist(points, LEFT_EYE_OUTER, RIGHT_EYE_OUTER)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap (top middle to bottom middle) ÷ inter-ocular distance; (..., 68, 2) → (...)."""
    points = np.asarray(points, np.float64)
    return _dist(points, LIP_TOP, LIP_BOTTOM) / _iod(points)


def brow_raise(points: np.ndarray) -> np.ndarray:
    """Mean distance from each brow's centre to its eye's centre ÷ inter-ocular distance."""
    points = np.asarray(points, np.float64)
    gaps = [
        np.linalg.norm(
            points[..., b.indices, :].mean(-2) - points[..., e.indices, :].mean(-2), axis=-1
        )
        for b, e in zip(BROWS, EYES, strict=True)
    ]
    return np.mean(gaps, axis=0) / _iod(points)


EXPRESSION_FEATURES = {"mouth": mouth_opening, "eyes": eye_openness, "brows": brow_raise}


MOUTH_PERCENTILE = 10.0  # "shut" is the least open tenth of the frames
# The eyes of a neutral face are open: frames whose eye openness (÷ inter-ocular distance) is below
# this are no part of the eyes' neutral. Open eyes read 0.07-0.11 (cap12's 5th percentile 0.070,
# franck's median 0.101, the sample's 0.11); shut ones 0.01-0.05 (the woman's first seconds), and
# a blink seldom below half of the open eye. A driver whose eyes have been shut since the start
# would otherwise take shut eyes as rest, and their shut eyes would be drawn open.
OPEN_EYES = 0.06
EYE_POINTS = np.r_[REGIONS["right_eye"].start : REGIONS["left_eye"].stop + 1]  # 36-47


def neutral_shape(
    shapes: np.ndarray,
    openings: np.ndarray | None = None,
    mouth_percentile: float = MOUTH_PERCENTILE,
    eyes: np.ndarray | None = None,
) -> np.ndarray:
    """The robust neutral of (N, 68, 2) shapes: the per-point median, the mouth from shut frames,
    the eyes from open ones.

    A blink or a raised brow is brief, so the median passes over it; a talking mouth is open more
    often than shut, so the mouth is the mean of the frames whose opening is at or below a low
    percentile; eyes held shut for seconds are not rest, so the eyes are the median of the frames
    whose eyes are open (OPEN_EYES), or of all when none are. `openings` and `eyes`
    (mouth_opening and eye_openness of each shape) may be passed when at hand.
    """
    shapes = np.asarray(shapes, np.float32)
    openings = mouth_opening(shapes) if openings is None else np.asarray(openings)
    eyes = eye_openness(shapes) if eyes is None else np.asarray(eyes)
    neutral = np.median(shapes, axis=0)
    shut = openings <= np.percentile(openings, mouth_percentile)
    neutral[MOUTH_POINTS] = shapes[shut][:, MOUTH_POINTS].mean(axis=0)
    opened = eyes >= OPEN_EYES
    if opened.any():
        neutral[EYE_POINTS] = np.median(shapes[opened][:, EYE_POINTS], axis=0)
    return neutral.astype(np.float32)


class NeutralEstimator:
    """The driver's neutral shape, estimated from what the camera sees, no staged pose needed.

    neutral_shape() over a rolling window of aligned shapes: a median, or the mean of a first
    second spent mid-sentence, would take an open mouth as rest. make-dataset applies the same
    rule to the target's training points, so driver and target neutrals mean the same thing.

    The median over a full window costs about a millisecond, and one frame more barely moves it:
    the estimate is refreshed on each of the first `warmup` frames (a second at 30 fps, or the
    window if shorter), then on one frame in `refresh_every`, and held in between.
    """

    def __init__(
        self,
        window: int = 300,
        mouth_percentile: float = MOUTH_PERCENTILE,
        refresh_every: int = 10,
        warmup: int = 30,
    ) -> None:
        self.window = window  # frames: 10 s at 30 fps
        self.mouth_percentile = mouth_percentile
        self.refresh_every = max(1, refresh_every)
        self.warmup = min(warmup, window)
        self._shapes: deque[np.ndarray] = deque(maxlen=window)
        self._openings: deque[float] = deque(maxlen=window)
        self._eyes: deque[float] = deque(maxlen=window)
        self._seen = 0  # shapes added since the start or reset
        self.refreshes = 0  # estimates computed since the start or reset
        self.neutral: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._shapes)

    def reset(self) -> None:
        self._shapes.clear()
        self._openings.clear()
        self._eyes.clear()
        self._seen = self.refreshes = 0
        self.neutral = None

    @property
    def eyes_seen_open(self) -> bool:
        """Whether any shape in the window has open eyes: without, the neutral's eyes are shut
        ones, and say nothing of how this face looks at rest."""
        return any(e >= OPEN_EYES for e in self._eyes)

    def update(self, aligned: np.ndarray) -> np.ndarray:
        """Add one aligned (68, 2) shape; the neutral shape estimated from the window so far."""
        aligned = np.asarray(aligned, np.float32)
        self._shapes.append(aligned)
        self._openings.append(float(mouth_opening(aligned)))
        self._eyes.append(float(eye_openness(aligned)))
        self._seen += 1
        due = self._seen <= self.warmup or (self._seen - self.warmup) % self.refresh_every == 0
        if due or self.neutral is None:
            self.neutral = neutral_shape(
                np.stack(self._shapes),
                np.asarray(self._openings),
                self.mouth_percentile,
                np.asarray(self._eyes),
            )
            self.refreshes += 1
        return self.neutral
