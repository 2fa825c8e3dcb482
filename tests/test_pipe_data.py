"""The plain pix2pix pipeline follows its seed; the bench's loop-against-step figure runs for both
kinds of training (the figures themselves are the bench's business, not asserted here)."""

from __future__ import annotations

import numpy as np
import pytest


def test_plain_batches_follow_the_seed_and_keep_their_ranges(sample_dataset):
    from gan.core.dataset import find_dataset
    from gan.kinds.drawing.data import train_dataset

    files = find_dataset(sample_dataset).train_files

    def take(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        ds = train_dataset(files, 64, 2, seed=seed, flip=True)
        return [(a.numpy(), b.numpy()) for _, (a, b) in zip(range(6), ds, strict=False)]

    first, again, other = take(1), take(1), take(2)
    for (a, b), (a2, b2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, a2)  # crops and flips included
        np.testing.assert_array_equal(b, b2)
    assert any(not np.array_equal(a, a2) for (a, _), (a2, _) in zip(first, other, strict=True))
    a, b = first[0]
    assert a.shape == b.shape == (2, 64, 64, 3) and a.dtype == np.float32
    assert -1 <= a.min() and a.max() <= 1 and -1 <= b.min() and b.max() <= 1
    # The drawing is lines on black: most of it stays -1 through the jitter.
    assert (a < -0.9).mean() > 0.5 and (b < -0.9).mean() < 0.5


@pytest.mark.parametrize("kind", ["pix2pix", "swap", "cyclegan"])
def test_the_loop_against_its_bare_step_is_measured_for_each_kind(sample_dataset, kind):
    import keras

    from gan.core.bench import time_training_loop

    policy = keras.config.dtype_policy().name
    r = time_training_loop(kind, str(sample_dataset), steps=1, rounds=1, warmup=1)
    assert set(r) == {"loop_ms", "bare_ms", "ratio", "loop_cpu_ms", "bare_cpu_ms", "cpu_ratio"}
    assert all(np.isfinite(v) and v > 0 for v in r.values())
    assert r["ratio"] == pytest.approx(r["loop_ms"] / r["bare_ms"])
    assert keras.config.dtype_policy().name == policy  # the trainer's policy does not leak
    with pytest.raises(ValueError, match="kind must be one of"):
        time_training_loop("gan", str(sample_dataset))
