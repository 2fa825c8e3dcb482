"""The face swap's training batches: drawn together for a batch, each face's affine and warp as
augment makes them alone, the same seed the same batches; and the thread that makes them ahead."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

SIZE = 64


@pytest.fixture(scope="module")
def faces(sample_dataset):
    from gan.faces.data import find_swap_dataset, load_faces, swap_alignment

    dataset = find_swap_dataset(sample_dataset, "target")
    return load_faces(dataset, "train", swap_alignment(), SIZE, forehead=0.0)


def test_a_batch_of_one_is_augment_of_the_face_it_picks(faces):
    from gan.faces.data import augment, training_batch

    for seed in range(5):
        batched, alone = np.random.default_rng(seed), np.random.default_rng(seed)
        x, y, w = training_batch(faces, 1, batched, flip=True)
        i = int(alone.integers(0, len(faces), 1)[0])
        warped, target, mask = augment(faces.images[i], faces.masks[i], alone, flip=True)
        np.testing.assert_array_equal(x[0], warped.astype(np.float32) / 127.5 - 1.0)
        np.testing.assert_array_equal(y[0], target.astype(np.float32) / 127.5 - 1.0)
        np.testing.assert_array_equal(w[0, ..., 0], mask.astype(np.float32) / 255.0)
        assert batched.random() == alone.random()  # and they drew as much


def test_a_batchs_affines_and_warps_are_each_faces_drawn_in_turn():
    from gan.faces.data import (
        ROTATE_DEGREES,
        SHIFT,
        ZOOM,
        random_affines,
        random_warp_maps,
        random_warps,
    )

    rng, draws = np.random.default_rng(1), np.random.default_rng(1)
    matrices = random_affines(SIZE, 8, rng)
    angles = draws.uniform(-ROTATE_DEGREES, ROTATE_DEGREES, 8)
    scales = draws.uniform(1 - ZOOM, 1 + ZOOM, 8)
    shifts = draws.uniform(-SHIFT, SHIFT, (8, 2)) * SIZE
    for m, angle, scale, shift in zip(matrices, angles, scales, shifts, strict=True):
        expected = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, scale)
        expected[:, 2] += shift
        np.testing.assert_allclose(m, expected, atol=1e-9)
    # One resize for the batch's grids: each face's maps as if drawn alone, to float rounding.
    maps = random_warps(SIZE, 8, rng)
    for k in range(8):
        np.testing.assert_allclose(maps[k], random_warp_maps(SIZE, draws), atol=1e-4)
    assert rng.random() == draws.random()


@pytest.mark.parametrize("warp_inputs", [True, False])
def test_batches_have_the_steps_shapes_ranges_and_weights(faces, warp_inputs):
    from gan.faces.data import training_batch

    x, y, w = training_batch(faces, 16, np.random.default_rng(0), warp_inputs, True, 3.0)
    assert x.shape == y.shape == (16, SIZE, SIZE, 3) and w.shape == (16, SIZE, SIZE, 1)
    assert x.dtype == y.dtype == w.dtype == np.float32
    assert -1 <= x.min() and x.max() <= 1 and -1 <= y.min() and y.max() <= 1
    assert w.min() == 0 and 1 <= np.median(w[w > 0]) and w.max() == pytest.approx(3.0)
    assert np.array_equal(x, y) != warp_inputs  # the warp bends the input only
    # The loss weights lie where the face is: the photo under them is not the background's.
    assert (w[..., 0] > 0).mean() < 0.8


def test_the_same_seed_gives_the_same_batches(faces):
    from gan.faces.data import training_batch

    def batches(seed):
        rng = np.random.default_rng(seed)
        return [training_batch(faces, 8, rng, True, True, 3.0) for _ in range(3)]

    for a, b in zip(batches(2), batches(2), strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    assert not np.array_equal(batches(2)[0][0], batches(3)[0][0])


def test_the_mask_moves_with_the_face_in_a_batch(faces):
    from gan.faces.data import Faces, training_batch

    border = np.ones((SIZE, SIZE), bool)
    border[2:-2, 2:-2] = False
    inside = [i for i, m in enumerate(faces.masks) if not m[border].any()]
    assert len(inside) > 10
    masks = faces.masks[inside]
    # Pictures of the masks go through the same affine as the masks: the same pixels.
    pictures = Faces(np.repeat(masks[..., None], 3, -1), faces.points[inside], masks)
    _, y, w = training_batch(pictures, 32, np.random.default_rng(4), warp_inputs=False)
    np.testing.assert_allclose((y[..., :1] + 1) / 2, w, atol=1e-6)


def test_warps_stop_after_warp_until_of_the_steps_also_on_resume(faces):
    from types import SimpleNamespace

    from gan.kinds.swap.trainer import SwapTrainer

    cfg = SimpleNamespace(
        batch_size=2,
        feature_weight=1.0,
        seed=0,
        warp=True,
        warp_until=0.5,
        shut_eyes=0.0,
        steps=6,
        flip=False,
        size=SIZE,
    )
    # What batches() reads of a trainer: its settings, both people's faces, the replicas.
    run = SimpleNamespace(cfg=cfg, people=SimpleNamespace(target=faces, user=faces), replicas=1)

    def warped(start: int, count: int) -> list[bool]:
        batches = SwapTrainer.batches(run, start)
        taken = zip(batches, range(count), strict=False)
        return [bool((x.numpy() != y.numpy()).any()) for (x, y, *_), _ in taken]

    # Unwarped, a face's input is its target (the affine moves both alike).
    assert warped(0, 6) == [True, True, True, False, False, False]
    assert warped(4, 2) == [False, False]  # resumed at step 4: still past the warps
