"""Drawing, alignment, smoothing and retargeting, checked with numbers."""

from __future__ import annotations

import numpy as np
import pytest

from common.regions import N_POINTS, inter_ocular
from landmarks import (
    REGIONS,
    Alignment,
    OneEuroFilter,
    align_frame,
    draw_landmarks,
    retarget,
    transform_points,
)
from landmarks.align import STABLE_POINTS, TEMPLATE, similarity_transform
from landmarks.draw import DrawingParams


def template_face(size: int = 256) -> np.ndarray:
    """68 plausible points: the template's stable points, the rest spread on a face-like oval."""
    rng = np.random.default_rng(0)
    pts = np.zeros((N_POINTS, 2))
    angles = np.linspace(0, 2 * np.pi, N_POINTS, endpoint=False)
    pts[:] = np.c_[0.6 * np.cos(angles), 0.35 + 0.6 * np.sin(angles)] + rng.normal(
        0, 0.01, (N_POINTS, 2)
    )
    pts[STABLE_POINTS] = TEMPLATE
    return (pts * size / 2.5 + size / 2).astype(np.float32)


def rotation(deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array(
        [
            [scale * np.cos(a), -scale * np.sin(a), shift[0]],
            [scale * np.sin(a), scale * np.cos(a), shift[1]],
        ]
    )


def test_regions_cover_all_68_points_once_except_the_nose_tip():
    seen = [i for r in REGIONS.values() for i in r.indices]
    assert sorted(set(seen)) == list(range(68))
    assert len(seen) == 69  # 30, the nose tip, joins bridge and lower nose
    assert [r.name for r in REGIONS.values() if r.closed] == [
        "lower_nose",
        "right_eye",
        "left_eye",
        "outer_lips",
        "inner_lips",
    ]


@pytest.mark.parametrize("size", [64, 256, 512])
def test_drawing_is_white_lines_on_black_with_thickness_scaled(size):
    pts = template_face(size)
    img = draw_landmarks(pts, size)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()  # grey only
    assert img.max() == 255 and np.median(img) == 0
    # Every point lies on a stroke.
    ys, xs = np.round(pts[:, 1]).astype(int), np.round(pts[:, 0]).astype(int)
    assert (img[ys, xs, 0] > 100).mean() > 0.95
    assert DrawingParams().thickness(size) == max(1, round(3 * size / 256))
    ink = (img[..., 0] > 127).sum() / size  # ink per unit length grows with thickness
    ink_thin = (
        draw_landmarks(pts, size, DrawingParams(thickness_at_256=1))[..., 0] > 127
    ).sum() / size
    assert ink > 1.5 * ink_thin or size == 64


def test_similarity_transform_recovers_a_known_transform():
    src = np.random.default_rng(1).uniform(0, 300, (20, 2))
    m = rotation(23.0, 1.7, (12.0, -40.0))
    est = similarity_transform(src, transform_points(src, m))
    np.testing.assert_allclose(est, m, atol=1e-4)


def test_aligned_crop_puts_the_stable_points_on_the_template_whatever_the_pose():
    size = 256
    face = template_face(size)
    canonical = Alignment().matrix(face, size, (480, 640))
    target = transform_points(face, canonical)
    for deg, scale, shift in [(0, 1, (0, 0)), (30, 0.5, (200, 90)), (-15, 2.0, (-100, 30))]:
        posed = transform_points(face, rotation(deg, scale, shift))
        frame = np.zeros((480, 640, 3), np.uint8)
        crop, m, in_crop = align_frame(frame, posed, size)
        assert crop.shape == (size, size, 3)
        np.testing.assert_allclose(in_crop, target, atol=1e-2)
        # Image and points share the transform: a dot drawn at a point lands on it in the crop.
        x, y = posed[30]
        if 0 <= x < 638 and 0 <= y < 478:
            frame[int(y) : int(y) + 2, int(x) : int(x) + 2] = 255
            crop, _, in_crop = align_frame(frame, posed, size)
            cy, cx = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
            assert abs(cx - in_crop[30, 0]) < 3 * max(1, m[0, 0]) and abs(
                cy - in_crop[30, 1]
            ) < 3 * max(1, m[0, 0])


def test_aligned_crop_has_the_eyes_level_and_a_fixed_eye_distance():
    size = 128
    posed = transform_points(template_face(size), rotation(40, 0.8, (50, 60)))
    _, _, pts = align_frame(np.zeros((300, 300, 3), np.uint8), posed, size)
    assert abs(pts[36, 1] - pts[45, 1]) < 0.5
    assert inter_ocular(pts) == pytest.approx(size / Alignment().crop_scale, rel=0.01)


def test_frame_mode_is_the_centre_square_scaled():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = 200  # the centre square
    crop, m, pts = align_frame(
        frame, np.array([[80.0, 0.0], [559.0, 479.0]]), 256, Alignment("frame")
    )
    assert crop.min() == 200
    np.testing.assert_allclose(pts, [[0, 0], [559 - 80, 479]] * np.array(256 / 480), atol=1e-3)


def test_one_euro_passes_a_constant_signal_unchanged():
    f = OneEuroFilter()
    x = np.full((68, 2), 10.0)
    outs = [f(x, t / 30) for t in range(30)]
    np.testing.assert_allclose(outs[-1], x)


def test_one_euro_reduces_jitter_and_follows_a_step():
    rng = np.random.default_rng(2)
    t = np.arange(300) / 30
    clean = np.zeros((300, 68, 2))
    clean[150:] = 40.0  # the head moves 40 px at frame 150
    noisy = clean + rng.normal(0, 1.5, clean.shape)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    out = np.array([f(noisy[i], t[i]) for i in range(300)])
    still = slice(30, 150)
    assert np.std(out[still] - clean[still]) < 0.5 * np.std(noisy[still] - clean[still])
    # Low lag: within 5 frames of the step it has covered most of it, and it settles there.
    assert out[155].mean() > 30
    assert abs(out[-1].mean() - 40) < 1.0


def test_one_euro_resets_on_a_jump():
    f = OneEuroFilter(reset_distance=50)
    f(np.zeros((68, 2)), 0.0)
    f(np.zeros((68, 2)), 1 / 30)
    out = f(np.full((68, 2), 200.0), 2 / 30)
    np.testing.assert_allclose(out, 200.0)


def test_retarget_moves_the_reference_by_the_drivers_expression():
    ref = template_face(128)
    neutral = transform_points(ref, rotation(0, 1.1, (3, 4)))
    driver = neutral.copy()
    driver[REGIONS["inner_lips"].indices, 1] += 5  # the driver opens the mouth
    out = retarget(driver, neutral, ref)
    np.testing.assert_allclose(out - ref, driver - neutral, atol=1e-5)
    np.testing.assert_allclose(retarget(neutral, neutral, ref), ref)
