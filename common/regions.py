"""The 68-point regions of dlib's iBUG-300W layout, named once and used by name everywhere."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    name: str
    start: int
    stop: int  # inclusive, as the regions are usually written (jaw 0-16)
    closed: bool  # drawn as a closed polygon (eyes, lips) or an open polyline (jaw, brows)

    @property
    def indices(self) -> list[int]:
        return list(range(self.start, self.stop + 1))


# The nose bridge and the lower nose share point 30 (the tip), so the nose reads as one stroke.
REGIONS: dict[str, Region] = {
    r.name: r
    for r in (
        Region("jaw", 0, 16, closed=False),
        Region("right_brow", 17, 21, closed=False),
        Region("left_brow", 22, 26, closed=False),
        Region("nose_bridge", 27, 30, closed=False),
        Region("lower_nose", 30, 35, closed=True),
        Region("right_eye", 36, 41, closed=True),
        Region("left_eye", 42, 47, closed=True),
        Region("outer_lips", 48, 59, closed=True),
        Region("inner_lips", 60, 67, closed=True),
    )
}


def region_points(*names: str):
    """The indices of the named regions' points, in order, each once (numpy int array)."""
    import numpy as np

    return np.unique(np.concatenate([REGIONS[n].indices for n in names]))


# The facial parts, as the swap's loss weighs them and CycleGAN's attention loss sees them: each
# brow with its eye, the nose (bridge and lower nose) and the mouth, each a hull of its points.
BROW_AND_EYE = (("right_brow", "right_eye"), ("left_brow", "left_eye"))
NOSE = ("nose_bridge", "lower_nose")
MOUTH = ("outer_lips",)
FACIAL_PARTS: dict[str, tuple[str, ...]] = {
    "right_brow_and_eye": BROW_AND_EYE[0],
    "left_brow_and_eye": BROW_AND_EYE[1],
    "nose": NOSE,
    "mouth": MOUTH,
}

# Points that move little with expression: what alignment and tracking checks lean on.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 36, 39
LEFT_EYE_INNER, LEFT_EYE_OUTER = 42, 45
NOSE_TIP = 30
MOUTH_RIGHT, MOUTH_LEFT = 48, 54
N_POINTS = 68


def inter_ocular(points) -> float:
    """Distance between the outer eye corners: the scale that landmark errors are divided by."""
    d = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    return float((d[0] ** 2 + d[1] ** 2) ** 0.5)


def eye_openness(points):
    """Mean lid gap of both eyes (two upper-lower pairs each) ÷ inter-ocular distance; points
    (..., 68, 2) → (...). Open eyes read about 0.07-0.11, shut ones 0.01-0.05."""
    import numpy as np

    points = np.asarray(points, np.float64)

    def dist(a: int, b: int):
        return np.linalg.norm(points[..., a, :] - points[..., b, :], axis=-1)

    # An eye runs outer corner, two upper lid points, inner corner, two lower lid points.
    eyes = (REGIONS["right_eye"], REGIONS["left_eye"])
    gaps = [dist(e.start + 1, e.start + 5) for e in eyes] + [
        dist(e.start + 2, e.start + 4) for e in eyes
    ]
    return np.mean(gaps, axis=0) / dist(LEFT_EYE_OUTER, RIGHT_EYE_OUTER)
