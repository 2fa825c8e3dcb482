"""The reference recipe's training pipeline: what TrainingInputs keeps per frame gives the samples
the per-visit warp gave, never from the excluded window, and the same seed the same batches."""

from __future__ import annotations

import numpy as np
import pytest

SIZE = 64


@pytest.fixture(scope="module")
def split(sample_dataset):
    from gan.kinds.drawing.pairs import load_split

    return load_split(sample_dataset, "train", SIZE)


@pytest.fixture(scope="module")
def bank(split):
    return split.training_bank("mouth", 2)  # training retrieves from every frame, photos on disk


def _take(dataset, batches: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first batches of a fresh iterator, as numpy; the iterator goes with the call (a
    generator dataset's iterator alive at interpreter exit can hang it)."""
    return [(x.numpy(), y.numpy()) for _, (x, y) in zip(range(batches), dataset, strict=False)]


@pytest.mark.parametrize("references", [1, 2, 3])
def test_the_cached_samples_are_the_per_visit_warps_of_the_same_draws(split, bank, references):
    from gan.kinds.drawing.pairs import TrainingInputs
    from gan.kinds.drawing.reference import ReferenceBank, mix, region_mask, to_channels

    bank = ReferenceBank(
        bank.photos, bank.points, bank.frames, bank.sources, bank.region, references
    )
    inputs = TrainingInputs(split, bank)
    cached, uncached = np.random.default_rng(7), np.random.default_rng(7)
    for i in [*inputs.usable, *inputs.usable[::3]]:  # second visits read the cache
        drawing, reference, mask, photo = inputs.sample(int(i), cached)
        rows, weights = bank.training_choice(int(i), uncached)
        # Training mixes the photos as they are: the eyes of a blink (ReferenceBank._with_eyes)
        # are the live path's, where a drawing's lids and its photos' disagree.
        points = split.points[i]
        photos = mix(rows, weights, lambda row, p=points: bank.warped(row, p))
        their_mask = region_mask(points, bank.size, bank.region)
        expected = to_channels(split.drawings[i], photos, their_mask)
        np.testing.assert_array_equal(to_channels(drawing, reference, mask), expected)
        np.testing.assert_array_equal(photo, split.photos[i])
    assert 0 < len(inputs.cache) and inputs.cached_bytes <= inputs.max_bytes


def test_every_choice_leaves_one_candidate_out_and_none_is_near_in_time(split, bank):
    from gan.kinds.drawing.pairs import TrainingInputs
    from gan.kinds.drawing.reference import CANDIDATES, EXCLUDE_FRAMES

    inputs = TrainingInputs(split, bank)
    assert len(inputs.usable) == len(split.photos)  # the sample is long enough for every frame
    for i, choices in enumerate(inputs.choices):
        candidates = bank.candidates(i)
        assert len(candidates) == CANDIDATES
        left_out = set()
        for rows, weights in choices:
            assert len(rows) == bank.references + 1 and set(rows) <= set(candidates)
            far = (bank.sources[rows] != bank.sources[i]) | (
                np.abs(bank.frames[rows] - bank.frames[i]) > EXCLUDE_FRAMES
            )
            assert far.all() and i not in rows  # never the answer, nor its neighbours
            assert weights.sum() == pytest.approx(1) and (weights >= 0).all()
            assert (weights > 0).sum() <= bank.references
            left_out |= set(candidates) - set(rows)
        assert left_out == set(candidates)  # each candidate is the one left out once


def test_the_cache_keeps_each_warp_and_mask_once_and_stays_in_its_bound(split, bank):
    from gan.kinds.drawing.pairs import TrainingInputs
    from gan.kinds.drawing.reference import region_mask

    inputs = TrainingInputs(split, bank)
    row = int(inputs.choices[0][0][0][0])
    first = inputs.warped(0, row)
    assert inputs.warped(0, row) is first  # kept: not warped again
    np.testing.assert_array_equal(first, bank.warped(row, split.points[0]))
    np.testing.assert_array_equal(inputs.mask(0), region_mask(split.points[0], SIZE, bank.region))
    # A cache too small for one photo keeps nothing and still gives the same arrays.
    tiny = TrainingInputs(split, bank, max_bytes=first.nbytes - 1)
    np.testing.assert_array_equal(tiny.warped(0, row), first)
    assert tiny.warped(0, row) is not tiny.warped(0, row) and tiny.cached_bytes == 0


def test_batches_have_the_generators_shapes_and_ranges_and_follow_the_seed(split, bank):
    from gan.kinds.drawing.pairs import reference_train_dataset

    first = _take(reference_train_dataset(split, bank, 4, seed=3), 3)
    again = _take(reference_train_dataset(split, bank, 4, seed=3), 3)
    other = _take(reference_train_dataset(split, bank, 4, seed=4), 3)
    for (x, y), (x2, y2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, x2)  # the same seed, the same batches
        np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(first[0][0], other[0][0])
    x, y = first[0]
    assert x.shape == (4, SIZE, SIZE, 7) and y.shape == (4, SIZE, SIZE, 3)
    assert x.dtype == y.dtype == np.float32
    ulp = 1e-5  # the jitter's bilinear resize may round a 1 a little over
    assert -1 - ulp <= x[..., :6].min() < -0.9 and 0.9 < x[..., :6].max() <= 1 + ulp
    assert x[..., 6].min() >= 0 and x[..., 6].max() <= 1 + ulp and (x[..., 6] > 0.99).any()
    assert -1 - ulp <= y.min() and y.max() <= 1 + ulp


def test_jitter_crops_inputs_and_photo_together_at_the_drawn_offset(split, bank):
    import tensorflow as tf

    from gan.kinds.drawing.data import JITTER_SCALE
    from gan.kinds.drawing.pairs import TrainingInputs, reference_train_dataset
    from gan.kinds.drawing.reference import to_channels

    big = int(round(SIZE * JITTER_SCALE))
    plain = _take(reference_train_dataset(split, bank, 2, seed=5, jitter=False), 2)
    jittered = _take(reference_train_dataset(split, bank, 2, seed=5), 2)
    samples = TrainingInputs(split, bank).samples(5, big - SIZE)
    offsets = []
    for k in range(4):
        drawing, reference, mask, photo, offset = next(samples)
        x, y = plain[k // 2][0][k % 2], plain[k // 2][1][k % 2]
        np.testing.assert_array_equal(x, to_channels(drawing, reference, mask))
        np.testing.assert_array_equal(y, photo.astype(np.float32) / 127.5 - 1.0)
        # The jittered sample is the same stack, resized and cropped at the offset drawn for it.
        stack = tf.image.resize(np.concatenate([x, y], -1), (big, big), method="bilinear")
        (oy, ox), n = offset, SIZE
        cropped = stack.numpy()[oy : oy + n, ox : ox + n]
        np.testing.assert_allclose(jittered[k // 2][0][k % 2], cropped[..., :7], atol=1e-6)
        np.testing.assert_allclose(jittered[k // 2][1][k % 2], cropped[..., 7:], atol=1e-6)
        offsets.append(tuple(offset))
    assert all(0 <= o <= big - SIZE for pair in offsets for o in pair)
    assert len(set(offsets)) > 1
