"""Which face the tracker takes when a frame shows two: the largest, or the one near the last face.

Frames built from real faces: the sample's man and the astronaut photo, pasted at two sizes onto
a grey canvas, the larger one rolled so that only a rotated pass finds it while the upright pass
finds the smaller one (the order of the passes used to decide).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.regions import inter_ocular
from landmarks import FaceTracker

# Face centres and widths (jaw, px) in the sources, from the tracker's points.
SAMPLE_FACE = ((87.0, 73.0), 46.0)
ASTRONAUT_FACE = ((225.0, 132.0), 94.0)
GREY = 100


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    # find_spec, not import: the photo is a data file of scikit-image, whose import is slow.
    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.origin is not None
    image = cv2.imread(str(Path(spec.origin).parent / "data" / "astronaut.png"))
    assert image is not None
    return image


def face_square(image: np.ndarray, face: tuple, width: float, roll: float) -> np.ndarray:
    """A square around the image's face, scaled so the face is `width` px wide, rolled `roll`°."""
    (cx, cy), source_width = face
    side = int(2.2 * width)
    m = cv2.getRotationMatrix2D((cx, cy), roll, width / source_width)
    m[:, 2] += np.array([side / 2 - cx, side / 2 - cy])
    return cv2.warpAffine(image, m, (side, side), borderMode=cv2.BORDER_REFLECT)


def paste(canvas: np.ndarray, square: np.ndarray, x: int) -> tuple[int, int]:
    """The square pasted at column x, centred vertically; returns its top-left corner."""
    y = (canvas.shape[0] - square.shape[0]) // 2
    canvas[y : y + square.shape[0], x : x + square.shape[1]] = square
    return x, y


@pytest.fixture(scope="module")
def tracker() -> FaceTracker:
    """One tracker for the module (loading the predictor takes a second), reset before each use."""
    return FaceTracker()


@pytest.fixture(scope="module")
def upright_only() -> FaceTracker:
    return FaceTracker(rolls=())


def fresh(tracker: FaceTracker) -> FaceTracker:
    tracker.reset()
    return tracker


def points_on_crop(
    tracker: FaceTracker, canvas: np.ndarray, corner: tuple[int, int], side: int
) -> np.ndarray:
    """The points a fresh tracker finds on the square at `corner` alone, in canvas pixels."""
    x, y = corner
    alone = np.full_like(canvas, GREY)
    alone[y : y + side, x : x + side] = canvas[y : y + side, x : x + side]
    result = fresh(tracker)(alone)
    assert result.found
    return result.points


def error(points: np.ndarray, reference: np.ndarray) -> float:
    """Mean point distance in the reference face's eye distances."""
    return float(np.linalg.norm(points - reference, axis=1).mean() / inter_ocular(reference))


# (canvas width, height), the large face's width and roll, the small face's width. Below 400 px
# the upright pass upsamples (it sees faces from 40 px); at 640×480 it sees faces from 100 px.
SCENES = {"cif": ((352, 288), 80, 40.0, 45), "vga": ((640, 480), 150, 40.0, 100)}


@pytest.mark.parametrize("large_left", [True, False], ids=["large-left", "large-right"])
@pytest.mark.parametrize("scene", list(SCENES))
def test_the_largest_face_is_taken_whichever_pass_finds_it(
    tracker, upright_only, sample_frames, astronaut, scene, large_left
):
    (w, h), large, roll, small = SCENES[scene]
    canvas = np.full((h, w, 3), GREY, np.uint8)
    big = face_square(sample_frames[0], SAMPLE_FACE, large, roll)
    little = face_square(astronaut, ASTRONAUT_FACE, small, 0.0)
    big_at = paste(canvas, big, 0 if large_left else w - big.shape[1])
    little_at = paste(canvas, little, w - little.shape[1] if large_left else 0)
    on_big = points_on_crop(tracker, canvas, big_at, big.shape[0])
    on_little = points_on_crop(tracker, canvas, little_at, little.shape[0])

    # The hard case: the upright pass alone sees only the small face (so taking the first pass
    # that finds anything took it).
    upright = fresh(upright_only)(canvas)
    assert upright.found and upright.faces == 1 and error(upright.points, on_little) < 0.1

    result = fresh(tracker)(canvas)
    assert result.found and result.faces == 2 and result.fallback == "roll"
    assert error(result.points, on_big) < 0.1, error(result.points, on_big)


def lose_a_small_face(tracker: FaceTracker, astronaut: np.ndarray, x: int) -> None:
    """A fresh tracker follows a small face at column x for a few frames, then the face leaves."""
    alone = np.full((288, 396, 3), GREY, np.uint8)
    paste(alone, face_square(astronaut, ASTRONAUT_FACE, 45, 0.0), x)
    fresh(tracker)
    assert all(tracker(alone).found for _ in range(4))
    for _ in range(8):  # the face leaves: the track is lost, the last face remembered
        lost = tracker(np.full_like(alone, GREY))
    assert not lost.found and not tracker.tracking


def two_faces(
    tracker: FaceTracker, sample_frames: list, astronaut: np.ndarray, small_x: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 45-px face at column small_x and an 80-px one at the right; and their own points."""
    frame = np.full((288, 396, 3), GREY, np.uint8)
    little = face_square(astronaut, ASTRONAUT_FACE, 45, 0.0)
    big = face_square(sample_frames[0], SAMPLE_FACE, 80, 0.0)
    little_at = paste(frame, little, small_x)
    big_at = paste(frame, big, frame.shape[1] - big.shape[1])
    return (
        frame,
        points_on_crop(tracker, frame, little_at, little.shape[0]),
        points_on_crop(tracker, frame, big_at, big.shape[0]),
    )


# The small face comes back 0.8 of its width to the right of where it was lost: its box and the
# last one overlap little (intersection over union 0.1).
LOST_AT, BACK_AT = 20, 20 + int(0.8 * 45)


def test_after_a_loss_the_face_near_the_last_one_is_taken(tracker, sample_frames, astronaut):
    both, on_little, on_big = two_faces(tracker, sample_frames, astronaut, BACK_AT)
    lose_a_small_face(tracker, astronaut, LOST_AT)
    result = tracker(both)  # a larger face is in the frame too
    assert result.found and result.faces == 2 and not result.ambiguous
    assert error(result.points, on_little) < 0.1
    # Without a last face (a fresh tracker) the larger face is taken.
    assert error(fresh(tracker)(both).points, on_big) < 0.1


def test_far_from_the_last_face_the_largest_is_taken(tracker, sample_frames, astronaut):
    both, _, on_big = two_faces(tracker, sample_frames, astronaut, 150)
    lose_a_small_face(tracker, astronaut, 0)  # 3 face widths from where the small face is now
    result = tracker(both)
    assert result.found and error(result.points, on_big) < 0.1


def test_a_resumed_tracker_remembers_the_lost_face(tracker, sample_frames, astronaut):
    """make-dataset saves the tracker's state: a resumed build looks near the lost face too."""
    both, on_little, _ = two_faces(tracker, sample_frames, astronaut, BACK_AT)
    lose_a_small_face(tracker, astronaut, LOST_AT)
    saved = tracker.state()
    fresh(tracker).set_state(saved)  # as a new process would
    assert error(tracker(both).points, on_little) < 0.1
