"""A face that stays a face: the live stage's guard against covered and broken landmarks.

dlib returns 68 points on a face a hand covers, partly on the fingers. The guard judges each part
of the shape the generator would be given (the retargeted shape, or the driver's own when not
retargeting) against the target's own shapes (landmarks.plausible.ShapeRange), and holds the
parts outside their range at their last plausible shape (landmarks.plausible.PartHold) while
the parts still seen keep following. It works on the tracker's points, before smoothing, so the
held parts glide back when the face returns.

The target's shapes come from its dataset's landmarks.npz (`--dataset`, else the dataset the
bundle records), else from the reference bank's points; without either the guard does nothing.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import numpy as np

from common.alignment import transform_points
from common.dataset_format import SPLITS, read_landmarks
from common.errors import InputError
from landmarks.plausible import PartHold, ShapeRange, normalised, normaliser

log = logging.getLogger(__name__)

COVERED = "face covered"
NEW_PERSON = "new person"
NOTE_SECONDS = 2.0  # how long the status bar says "new person"
FADE_STEP = 0.25  # the swap fades over four frames (a sixth of a second at 25 fps)


@functools.lru_cache(maxsize=4)
def dataset_range(dataset: str) -> ShapeRange:
    """The target's range from a dataset's training points, spread over its held-out tail."""
    columns = read_landmarks(dataset)
    points, split = columns["points"], columns["split"]
    train, held = points[split == SPLITS.index("train")], points[split == SPLITS.index("val")]
    if len(train) == 0:
        raise InputError(f"{dataset}: no training points")
    return ShapeRange.fit(train, held) if len(held) else ShapeRange.split(train)


def shape_range(bundle: Any, dataset: str | Path | None = None) -> ShapeRange | None:
    """The target's shapes for `bundle`: `dataset`'s, the recorded dataset's, or the reference
    bank's points (the tail of its frames held out); None when none is at hand."""
    info = getattr(bundle, "info", None) or {}
    for where in (dataset, info.get("dataset")):
        if where is None:
            continue
        try:
            if (Path(where) / "landmarks.npz").is_file():
                return dataset_range(str(Path(where).resolve()))
        except (InputError, OSError) as e:  # a dataset changed since: the model still works
            log.warning("target shapes from %s: %s", where, e)
    bank = getattr(bundle, "bank", None)
    if bank is not None and len(bank.points) > 1:
        return ShapeRange.split(bank.points[np.argsort(bank.frames, kind="stable")])
    log.info("no target shapes: covered faces will be drawn as dlib reads them")
    return None


class OcclusionGuard:
    """Per frame: the tracker's points with the implausible parts held (see the module).

    `figures` are the last frame's per-part figures (None when nothing was judged), `covered`
    whether any part is held now.
    """

    def __init__(self, hold: PartHold | None = None) -> None:
        self.hold = hold or PartHold()
        self.figures: np.ndarray | None = None
        self._target: np.ndarray | None = None  # the target's neutral, normalised
        self._target_of: np.ndarray | None = None
        self._rest: np.ndarray | None = None  # the driver's neutral, normalised
        self._rest_of: np.ndarray | None = None

    @property
    def covered(self) -> bool:
        return bool(self.hold.holding)

    def reset(self) -> None:
        self.hold.reset()
        self.figures = None

    def __call__(
        self,
        points: np.ndarray,
        shapes: ShapeRange | None,
        target_neutral: np.ndarray | None,
        driver_neutral: np.ndarray | None,
        t: float,
    ) -> np.ndarray:
        """`points` (68, 2, frame pixels) with the held parts replaced. `target_neutral` and
        `driver_neutral` (any frame) when retargeting, so that the judged shape is the drawn one;
        while retargeting has no driver neutral yet, nothing is judged."""
        self.figures = None
        if shapes is None or (target_neutral is not None and driver_neutral is None):
            return points
        matrix = normaliser(points)
        shape = transform_points(points, matrix).astype(np.float64)
        rest = None
        if target_neutral is not None and driver_neutral is not None:
            rest = self._driver_shape(driver_neutral)
            judged = self._target_shape(target_neutral) + (shape - rest)
        else:
            judged = shape
        self.figures = shapes.figures(judged, normalised_already=True)
        held = self.hold(shape, self.figures, t, rest)
        if not self.hold.holding:
            return points
        back = np.vstack([matrix, [0.0, 0.0, 1.0]])
        return transform_points(held, np.linalg.inv(back)[:2]).astype(np.float32)

    def _driver_shape(self, driver_neutral: np.ndarray) -> np.ndarray:
        # The estimate is refreshed every few frames, as a new array: normalised once each.
        if self._rest_of is not driver_neutral:
            self._rest, self._rest_of = normalised(driver_neutral), driver_neutral
        assert self._rest is not None
        return self._rest

    def _target_shape(self, target_neutral: np.ndarray) -> np.ndarray:
        if self._target_of is not target_neutral:
            self._target, self._target_of = normalised(target_neutral), target_neutral
        assert self._target is not None
        return self._target


class CoverFade:
    """The swap's face fades out while the face is covered and back in after: a hand behind a
    pasted face is worse than no paste. `step`: the share of the way a frame goes."""

    def __init__(self, step: float = FADE_STEP) -> None:
        self.step, self.weight = step, 1.0

    def __call__(self, covered: bool, camera: np.ndarray, swapped: np.ndarray) -> np.ndarray:
        """The frame to show: `swapped` (RGB uint8) mixed over `camera` by the current weight."""
        self.weight = float(np.clip(self.weight + (-self.step if covered else self.step), 0, 1))
        if self.weight >= 1.0:
            return swapped
        if self.weight <= 0.0:
            return camera
        mixed = swapped.astype(np.float32) * self.weight + camera * (1.0 - self.weight)
        return mixed.round().astype(np.uint8)


def figure_series(shapes: ShapeRange, points: list[np.ndarray | None], own: bool) -> dict:
    """Per frame: the largest part figure of each shape (None where there is none) and whether a
    part is outside the target's range; and the share of shapes with one outside."""
    figures = [None if p is None else shapes.figures(p) for p in points]
    outside = [None if f is None else bool(shapes.outside(f, own).any()) for f in figures]
    judged = [o for o in outside if o is not None]
    return {
        "figure": [None if f is None else round(float(f.max()), 3) for f in figures],
        "outside": outside,
        "share": float(np.mean(judged)) if judged else None,
    }


def plausibility(
    shapes: ShapeRange | None,
    drawn: list[np.ndarray],
    output: list[np.ndarray | None],
    covered: list[bool],
) -> tuple[dict, dict]:
    """evaluate --driver's figures for broken faces: (the report's shares, the per-frame series).

    `drawn`: the shapes the generator was given; `output`: dlib's points on each generated face
    (None where none was found); `covered`: the frames the live stage held parts in. Without the
    target's shapes only the covered share is known."""
    report: dict = {"covered": float(np.mean(covered)) if covered else None}
    series: dict = {"covered": [bool(c) for c in covered]}
    if shapes is None:
        return {**report, "drawn_outside": None, "output_outside": None}, series
    for who, points in (("drawn", list(drawn)), ("output", output)):
        figures = figure_series(shapes, points, own=who == "output")
        report[f"{who}_outside"] = figures["share"]
        series[f"{who}_figure"], series[f"{who}_outside"] = figures["figure"], figures["outside"]
    return report, series


def shade_frames(ax: Any, frames: np.ndarray, series: dict) -> None:
    """On a matplotlib axis: the frames held as covered (grey) and those whose output shape is
    outside the target's range (red), as bands: evaluate --driver's plot."""
    marks = series.get("plausibility") or {}
    for key, colour in (("covered", "0.6"), ("output_outside", "tab:red")):
        flags = np.array([bool(v) for v in marks.get(key) or []])
        if len(flags) != len(frames) or not flags.any():
            continue
        ax.fill_between(
            frames,
            0,
            1,
            where=flags,
            transform=ax.get_xaxis_transform(),
            color=colour,
            alpha=0.25,
            linewidth=0,
            step="mid",
        )
