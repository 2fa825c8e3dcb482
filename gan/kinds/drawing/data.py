"""pix2pix datasets: the training size, and the tf.data pipelines that feed training.

Only numpy at module level: a dataset is checked before TensorFlow loads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan.bundle.pictures import to_unit_range
from gan.core.dataset import DatasetInfo
from gan.errors import InputError
from gan.kinds.drawing.options import SUPPORTED_SIZES

JITTER_SCALE = 1.12  # 256 -> 286 in the paper: resize up, then random-crop back


def choose_size(info: DatasetInfo, size: int | None) -> int:
    """The training size: the one asked for, else the dataset's, which must suit the U-Net."""
    chosen = size if size is not None else info.image_size
    if chosen not in SUPPORTED_SIZES:
        hint = "" if size is not None else " (pass --size to resize the pairs)"
        raise InputError(
            f"size {chosen} is not supported: use one of "
            f"{', '.join(map(str, SUPPORTED_SIZES))}{hint}"
        )
    return chosen


# --- tf.data (TensorFlow is imported here, not at module level, so the checks stay light) ---


def _decode_pairs(files: list[Path], size: int, direction: str):
    """Dataset of (input, target) uint8 pairs at `size`, decoded once."""
    import tensorflow as tf

    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        half = tf.shape(image)[1] // 2
        a, b = image[:, :half], image[:, half:]
        pair = tf.concat([a, b], axis=-1)  # one tensor, so A and B get the same resize and crop
        pair = tf.image.resize(pair, (size, size), method="area")
        pair = tf.cast(tf.clip_by_value(tf.round(pair), 0, 255), tf.uint8)
        pair.set_shape((size, size, 6))
        a, b = pair[..., :3], pair[..., 3:]
        return (a, b) if direction == "AtoB" else (b, a)

    paths = tf.data.Dataset.from_tensor_slices([str(p) for p in files])
    return paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def train_dataset(
    files: list[Path],
    size: int,
    batch_size: int,
    direction: str = "AtoB",
    seed: int = 0,
    jitter: bool = True,
    flip: bool = False,
):
    """Endless shuffled batches of (input, target) in [-1, 1], jittered as in the paper.

    The jitter's crop and flip are stateless, each pair's from its own seed of a stream drawn
    with `seed`: with the map running in parallel, a stateful random op would hand its numbers
    to whichever pair came first, and the same seed would not give the same batches.
    """
    import tensorflow as tf

    big = int(round(size * JITTER_SCALE))

    def augment(pair, seeds):
        a, b = pair
        crop, mirror = tf.unstack(tf.random.experimental.stateless_split(seeds, 2))
        pair = tf.concat([to_unit_range(a), to_unit_range(b)], axis=-1)
        if jitter:
            pair = tf.image.resize(pair, (big, big), method="bilinear")
            pair = tf.image.stateless_random_crop(pair, (size, size, 6), seed=crop)
        if flip:
            pair = tf.image.stateless_random_flip_left_right(pair, seed=mirror)
        return pair[..., :3], pair[..., 3:]

    ds = _decode_pairs(files, size, direction).cache()
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
    seeds = tf.data.Dataset.random(seed=seed).batch(2)  # a stateless seed (2,) for each pair
    ds = tf.data.Dataset.zip((ds, seeds)).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def load_pairs(
    files: list[Path], size: int, direction: str = "AtoB"
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs as uint8 arrays (N, size, size, 3): inputs and targets, for validation."""
    a_list, b_list = [], []
    for a, b in _decode_pairs(files, size, direction).as_numpy_iterator():
        a_list.append(a)
        b_list.append(b)
    return np.stack(a_list), np.stack(b_list)
