"""Face sharpness (the inner face's Laplacian variance, output ÷ camera) on the sample's real faces,
and in `evaluate --driver`'s report of a real swap bundle (test_swap_app's, trained once)."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from app.measures import (
    MEASURE_SIZE,
    face_sharpness,
    inner_face_mask,
    laplacian_variance,
    sharpness_ratio,
)
from landmarks import Alignment, FaceTracker, transform_points
from landmarks.blend import BlendParams, feathered_mask

# The session's swap bundle and the astronaut clip it was trained on, shared with test_swap_app.

HEADS = 12


@pytest.fixture(scope="module")
def heads(sample_frames) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Head crops of the sample at MEASURE_SIZE, RGB, as evaluate --driver cuts them, and the
    tracked points in them."""
    tracker, alignment = FaceTracker(), Alignment()
    crops, points = [], []
    for bgr in sample_frames[: 4 * HEADS : 4]:
        found = tracker(bgr).points
        if found is None:
            continue
        matrix = alignment.matrix(found, MEASURE_SIZE, bgr.shape)
        crop = cv2.warpAffine(bgr, matrix, (MEASURE_SIZE, MEASURE_SIZE), flags=cv2.INTER_LINEAR)
        crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        points.append(transform_points(found, matrix))
    assert len(crops) >= HEADS - 2
    return crops, points


def test_the_region_is_the_inner_face_without_the_jaw(heads):
    crops, points = heads
    p = points[0]
    mask = inner_face_mask(p, crops[0].shape)
    whole = inner_face_mask(p, crops[0].shape, shrink=0.0)
    assert 0 < mask.sum() < whole.sum()
    ys, xs = np.nonzero(mask)
    # Below the brows, above the lower lip: the chin and the jaw line are left out.
    assert ys.min() > p[17:27, 1].min() and ys.max() < p[57, 1] < p[8, 1]
    assert xs.min() > p[0, 0] and xs.max() < p[16, 0]


def test_the_region_stays_inside_a_swaps_feathered_edge(heads):
    """With the forehead band (train-swap's region) the blend is opaque over the whole region."""
    crops, points = heads
    shares = []
    for crop, p in zip(crops, points, strict=True):
        box, alpha = feathered_mask(p, crop.shape, BlendParams(forehead=0.25))
        full = np.zeros(crop.shape[:2], np.float32)
        full[box] = alpha
        shares.append(float((full[inner_face_mask(p, crop.shape)] < 1).mean()))
    assert np.mean(shares) < 0.01


def test_a_face_against_itself_is_exactly_as_sharp(heads):
    crops, points = heads
    found = sharpness_ratio(crops, crops, points)
    assert found["ratio"] == pytest.approx(1.0) and found["output"] == found["camera"] > 1


def test_a_blurred_face_is_clearly_less_sharp(heads):
    crops, points = heads
    blurred = [cv2.GaussianBlur(c, (0, 0), 1.5) for c in crops]
    found = sharpness_ratio(blurred, crops, points)
    assert found["ratio"] < 0.6
    slightly = [cv2.GaussianBlur(c, (0, 0), 0.7) for c in crops]
    assert found["ratio"] < sharpness_ratio(slightly, crops, points)["ratio"] < 1


def test_a_brightness_offset_leaves_the_sharpness(heads):
    crops, points = heads
    brighter = [np.clip(c.astype(np.int16) + 25, 0, 255).astype(np.uint8) for c in crops]
    darker = [np.clip(c.astype(np.int16) - 25, 0, 255).astype(np.uint8) for c in crops]
    assert sharpness_ratio(brighter, crops, points)["ratio"] == pytest.approx(1.0, abs=0.05)
    assert sharpness_ratio(darker, crops, points)["ratio"] == pytest.approx(1.0, abs=0.05)


def test_an_empty_region_or_a_flat_camera_has_no_figure(heads):
    crops, points = heads
    assert laplacian_variance(crops[0], np.zeros(crops[0].shape[:2], bool)) is None
    flat = np.full_like(crops[0], 128)
    assert face_sharpness(flat, points[0]) == 0
    assert sharpness_ratio([crops[0]], [flat], [points[0]]) == {
        "output": None,
        "camera": None,
        "ratio": None,
    }


def test_evaluate_driver_reports_the_swaps_sharpness(
    swap_model,
    astronaut_clip,  # noqa: F811
    tmp_path,
    capsys,
):
    from app.evaluate import main as evaluate_main

    out = tmp_path / "swap.json"
    args = ["--model", swap_model, "--driver", str(astronaut_clip), "--json", str(out)]
    assert evaluate_main([*args, "--limit", "10", "-q"]) == 0
    found = json.loads(out.read_text())["sharpness"]
    assert all(math.isfinite(found[k]) and found[k] > 0 for k in ("output", "camera", "ratio"))
    row = [line for line in capsys.readouterr().out.splitlines() if "face sharpness" in line]
    assert len(row) == 1 and f"{found['ratio']:.3f}" in row[0], row
