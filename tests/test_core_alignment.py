"""The face geometry and the dataset reader in common/: one crop for training and the live path."""

from __future__ import annotations

import numpy as np
import pytest

from common import regions
from common.alignment import (
    STABLE_POINTS,
    TEMPLATE,
    Alignment,
    canonical_to_crop,
    crop_between,
    transform_points,
)
from common.dataset_format import read_landmarks
from common.errors import InputError


def face_in_frame(angle: float = 0.3, scale: float = 90.0, shift=(300.0, 220.0)) -> np.ndarray:
    """68 points whose stable points are the template, rotated, scaled and moved into a frame."""
    rng = np.random.default_rng(0)
    canonical = rng.uniform(-0.6, 1.2, (68, 2))
    canonical[STABLE_POINTS] = TEMPLATE
    c, s = np.cos(angle), np.sin(angle)
    return canonical @ (scale * np.array([[c, -s], [s, c]])).T + shift


def test_the_stable_points_are_the_named_ones():
    named = [
        regions.RIGHT_EYE_OUTER,
        regions.RIGHT_EYE_INNER,
        regions.LEFT_EYE_INNER,
        regions.LEFT_EYE_OUTER,
        regions.NOSE_TIP,
        regions.MOUTH_RIGHT,
        regions.MOUTH_LEFT,
    ]
    assert STABLE_POINTS.tolist() == named


def test_a_crop_of_the_dataset_crop_is_the_live_crop():
    """Training cuts the swap crop out of make-dataset's crop; the app cuts it out of the camera
    frame. Both matrices must take the frame to the same pixels."""
    points = face_in_frame()
    dataset, swap = Alignment(crop_scale=2.6, centre_y=0.5), Alignment(crop_scale=2.2, centre_y=0.6)
    frame_shape = (480, 640, 3)
    to_dataset = dataset.matrix(points, 128, frame_shape)
    two_steps = crop_between(dataset, 128, swap, 64) @ np.vstack([to_dataset, [0, 0, 1]])
    live = swap.matrix(points, 64, frame_shape)
    np.testing.assert_allclose(two_steps, live, atol=1e-9)
    # The template's eyes land where canonical_to_crop puts them, in both crops.
    eyes = transform_points(points[[36, 45]], live)
    want = transform_points(TEMPLATE[[0, 3]], canonical_to_crop(2.2, 0.6, 64))
    np.testing.assert_allclose(eyes, want, atol=1e-4)


def test_a_manifest_crop_takes_the_defaults_for_what_it_leaves_out():
    assert Alignment.of_crop({"margin": 0.4}) == Alignment()
    assert Alignment.of_crop({"mode": "aligned", "crop_scale": 2.2}).crop_scale == 2.2


def test_landmarks_are_read_once_with_one_set_of_checks(tmp_path):
    with pytest.raises(InputError, match="has no landmarks.npz"):
        read_landmarks(tmp_path)
    np.savez(tmp_path / "landmarks.npz", points=np.zeros((3, 5, 2)), split=np.zeros(3))
    with pytest.raises(InputError, match=r"expected points \(N, 68, 2\)"):
        read_landmarks(tmp_path)
    (tmp_path / "landmarks.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read") as caught:
        read_landmarks(tmp_path)
    assert "\n" not in str(caught.value)
    n = 4
    np.savez(
        tmp_path / "landmarks.npz",
        points=np.ones((n, 68, 2), np.float64),
        split=np.zeros(n, np.uint8),
        index=np.arange(n),
    )
    columns = read_landmarks(tmp_path)
    assert columns["points"].dtype == np.float32 and "frame" not in columns
