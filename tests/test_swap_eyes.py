"""--eyes drawn: each eye covered and drawn from its points, for the encoder (common.eyes), in
training (gan.faces.data) and at use (the bundle's inputs, app.swap), the same drawing. The
default recipe's bundle draws them: test_swap_train's test_the_bundle_draws_the_eyes_..."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from common.eyes import CHANNELS, COVER_FILL, EYE_FILL, OPEN_EYE, draw_eyes, eye_scale  # noqa: E402

# One eye as dlib gives it: outer corner, two upper lid points, inner corner, two lower ones.
EYE = np.array([[14, 26], [17, 24], [21, 24], [24, 26], [21, 28], [17, 28]], np.float64)


def face_points(lid_gap: float = 4.0) -> np.ndarray:
    """68 points on a 64 px crop, the eyes' lids `lid_gap` px apart, the rest far below them."""
    points = np.tile([32.0, 52.0], (68, 1))
    eye = EYE.copy()
    eye[1:3, 1] = 26 - lid_gap / 2
    eye[4:6, 1] = 26 + lid_gap / 2
    points[36:42] = eye
    points[42:48] = eye + [26, 0]
    return points


def white(image: np.ndarray) -> float:
    """The eyes' openings' area in pixels: the fourth channel's sum (anti-aliased edges count in
    part)."""
    return float(image[..., 3].astype(np.float64).sum() / EYE_FILL)


def test_the_drawing_hides_the_eyes_pixels_and_shows_their_opening():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 200, (2, 64, 64, 3), dtype=np.uint8)  # two people, nothing white
    kept = faces.copy()
    open_, shut = face_points(4.0), face_points(0.0)
    drawn = draw_eyes(faces, np.stack([open_, open_]))
    assert drawn.shape == (2, 64, 64, CHANNELS) and drawn.dtype == np.uint8
    # The covers hide each eye, lids and all (its anti-aliased rim aside): there the drawing is
    # the points', whoever's face it was drawn on.
    on_black, on_white = (draw_eyes(np.full((64, 64, 3), v, np.uint8), open_) for v in (0, 255))
    solid = (on_black == on_white)[..., :3].all(-1) & (on_black[..., :3] > 0).all(-1)
    assert solid[24:29, 14:25].all() and solid[24:29, 40:51].all()  # the eyes, lid to lid
    assert np.array_equal(drawn[0][solid], drawn[1][solid])
    grey = (drawn[0, ..., :3] == COVER_FILL).all(-1)
    assert grey.sum() > 0 and white(drawn[0]) > 0
    # Beyond the covers (the brows, the mouth) the face is as it was.
    rgb = drawn[..., :3]
    assert np.array_equal(rgb[:, 40:], faces[:, 40:]) and np.array_equal(rgb[:, :18], faces[:, :18])
    # The fourth channel: the openings alone, white where the RGB's almond is, black elsewhere.
    almonds = drawn[..., 3]
    assert set(np.unique(almonds[:, 40:])) == {0} and white(drawn[0]) > 40
    assert np.array_equal((rgb[0] == EYE_FILL).all(-1), almonds[0] == EYE_FILL)
    # An open eye is a white almond; a shut one a line (its anti-aliased pixels: less than half).
    one_shut = draw_eyes(faces[0], shut)
    assert one_shut.shape == (64, 64, CHANNELS) and white(one_shut) < 0.5 * white(drawn[0])
    # Scaled lids: half as open, about half the almond; wider than WIDEST times the open eye
    # (4 px of 36: 0.11), drawn at that, however wide.
    half, wide = draw_eyes(faces[0], open_, 0.5), draw_eyes(faces[0], open_, 1.5)
    assert white(half) < 0.7 * white(drawn[0]) and white(wide) > 0.9 * white(drawn[0])
    assert np.array_equal(wide, draw_eyes(faces[0], open_, 3.0))
    assert white(draw_eyes(faces[0], open_, 0.8)) < white(drawn[0])
    assert np.array_equal(faces, kept)  # the inputs are left alone
    # No points: the faces as they are, no openings (a blank warm-up crop).
    bare = draw_eyes(faces, None)
    assert np.array_equal(bare[..., :3], faces) and not bare[..., 3].any()
    with pytest.raises(ValueError, match="2 images but 1 sets of points"):
        draw_eyes(faces, open_[None])


def test_each_persons_open_eye_is_drawn_alike():
    wide, narrow = face_points(6.0), face_points(3.0)
    # Openness: the lid gap ÷ the outer corners' distance (36 px here).
    assert eye_scale(np.stack([wide] * 9 + [face_points(0.5)] * 5)) == pytest.approx(
        OPEN_EYE / (6.0 / 36), rel=1e-6
    )  # a third of the faces blinking: the 90th percentile is still the open eye
    assert eye_scale(np.stack([narrow] * 4)) == pytest.approx(2 * eye_scale(np.stack([wide] * 4)))
    blank = np.zeros((64, 64, 3), np.uint8)
    a = draw_eyes(blank, wide, eye_scale(wide[None]))
    b = draw_eyes(blank, narrow, eye_scale(narrow[None]))
    assert abs(white(a) - white(b)) <= 0.1 * white(a)
    assert eye_scale(np.zeros((0, 68, 2))) == 1.0


def test_a_training_batch_draws_the_inputs_eyes_and_learns_the_real_ones(sample_dataset):
    from gan.faces.data import (
        find_swap_dataset,
        load_faces,
        swap_alignment,
        training_batch,
    )

    dataset = find_swap_dataset(sample_dataset, "target")
    pixels = load_faces(dataset, "train", swap_alignment(), 64)
    drawn = load_faces(dataset, "train", swap_alignment(), 64, eyes="drawn")
    assert pixels.drawn is None and pixels.inputs is pixels.images
    assert np.array_equal(drawn.images, pixels.images) and drawn.drawn is not None
    assert np.array_equal(drawn.inputs, draw_eyes(drawn.images, drawn.points))
    assert drawn.take(2).drawn.shape == (2, 64, 64, CHANNELS)
    for warp in (False, True):
        picks = np.arange(4) % len(drawn)
        same = [np.random.default_rng(1), np.random.default_rng(1)]
        x_p, y_p, m_p = training_batch(pixels, 4, same[0], warp, True, 3.0, picks)
        x_d, y_d, m_d = training_batch(drawn, 4, same[1], warp, True, 3.0, picks)
        # The loss's side is the real face; only the encoder's input has the drawing, moved by
        # the same flips, affines and warps.
        assert np.array_equal(y_p, y_d) and np.array_equal(m_p, m_d)
        assert x_d.shape == (4, 64, 64, CHANNELS) and y_d.shape == (4, 64, 64, 3)
        changed = np.abs(x_d[..., :3] - x_p).max(-1) > 0.02
        almond = x_d[..., 3] > 0  # the fourth channel's openings, where the RGB has its almonds
        assert almond.any() and changed[almond].mean() > 0.95
        assert changed.any(), warp
        rows = np.flatnonzero(changed.any(axis=(0, 2)))
        assert rows.max() < 40  # the eyes are in the crop's upper part: the mouth is untouched
        if not warp:
            assert np.array_equal(x_p, y_p)


def test_a_pixels_bundle_ignores_the_points(swap_model):
    from gan.kinds.swap.bundle import load_swap_bundle

    bundle = load_swap_bundle(swap_model, backend="keras")
    assert bundle.eyes == "pixels"  # the vae-gan recipe, and every bundle from before --eyes
    crops = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    points = np.stack([face_points(4.0)] * 2)
    assert np.array_equal(bundle(crops, points), bundle(crops))


def test_with_the_eye_opening_every_decoder_stage_sees_how_open_the_drawn_eyes_are():
    """--eye-opening: the drawing's openings, one number a face (about 1 for open eyes, near 0
    for shut: the line left of a shut eye), reach each stage of the decoder, and its face
    changes with it."""
    import keras

    from gan.bundle.pictures import to_model_range
    from gan.kinds.swap.models import Decoder, decoder_filters

    keras.utils.set_random_seed(0)
    decoder = Decoder(64, 8, "decoder", eyes=True, opening=True)
    stages = [f"up{i + 1}_opening" for i in range(len(decoder_filters(64, 8)))] + ["to_rgb_opening"]
    assert all(decoder.get_layer(name).output.shape[-1] > 1 for name in stages)
    amount = keras.Model(decoder.inputs, decoder.get_layer("opening").output)
    drawn = draw_eyes(
        np.zeros((3, 64, 64, 3), np.uint8), np.stack([face_points(g) for g in (4, 2, 0)])
    )
    almonds = to_model_range(drawn)[..., 3:]
    code = np.zeros((3, 8, 8, 32), np.float32)
    found = np.asarray(amount([code, almonds])).ravel()
    assert found[0] > found[1] > found[2] and found[2] < 0.25 * found[0]
    assert 0.3 < found[0] < 3.0  # two open 10 px eyes on a 64 px face: about 1
    faces = np.asarray(decoder([code, almonds]))
    assert np.abs(faces[0] - faces[2]).max() > 1e-4
    plain = Decoder(64, 8, "plain", eyes=True)
    assert not any("opening" in layer.name for layer in plain.layers)
