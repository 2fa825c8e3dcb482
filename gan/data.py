"""pix2pix datasets: find and check an A|B folder; the tf.data pipelines that feed training.

Only numpy at module level: a dataset is checked before TensorFlow loads.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.arrays import json_array
from gan.errors import InputError
from gan.options import SUPPORTED_SIZES

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LANDMARKS = "landmarks.npz"
DATASET_FORMAT = "face-mirror-dataset"
DATASET_VERSION = 1
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
JITTER_SCALE = 1.12  # 256 -> 286 in the paper: resize up, then random-crop back


@dataclass
class DatasetInfo:
    """What a dataset holds, found from its files alone."""

    root: Path
    kind: str  # "face-mirror" (has manifest.json) or "aligned" (a plain pix2pix A|B folder)
    train_files: list[Path]
    val_files: list[Path]
    image_size: int  # the height of each pair, = the width of each half
    mode: str = "frame"
    drawing: dict = field(default_factory=dict)
    alignment: dict = field(default_factory=dict)
    reference_shape: np.ndarray | None = None  # (68, 2) in crop pixels of image_size
    neutral_shape: np.ndarray | None = None  # (68, 2) the target at rest, as reference_shape
    target_descriptor: np.ndarray | None = None  # (128,) dlib's descriptor: who the target is


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG or JPEG header, without decoding the image."""
    with open(path, "rb") as f:
        head = f.read(26)
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", head[16:24])
        if head[:2] == b"\xff\xd8":
            f.seek(2)
            while True:
                marker = f.read(2)
                if len(marker) < 2 or marker[0] != 0xFF:
                    break
                length = struct.unpack(">H", f.read(2))[0]
                # SOF0..SOF15 carry the frame size; C4, C8 and CC are other tables.
                if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">xHH", f.read(5))
                    return width, height
                f.seek(length - 2, 1)
    raise InputError(f"not a PNG or JPEG image: {path}")


def _check_sizes(files: list[Path], expected: int | None) -> int:
    """All pairs must be the same size and exactly twice as wide as tall; returns the height."""
    first_w, first_h = image_size(files[0])
    if first_w != 2 * first_h:
        raise InputError(
            f"{files[0]} is {first_w}x{first_h}: an A|B pair must be twice as wide as it is tall"
        )
    if expected is not None and first_h != expected:
        raise InputError(
            f"{files[0]} is {first_w}x{first_h}, but the manifest says size "
            f"{expected} (expected {2 * expected}x{expected})"
        )
    for path in files[1:]:
        w, h = image_size(path)
        if (w, h) != (first_w, first_h):
            raise InputError(
                f"image sizes differ: {path} is {w}x{h}, {files[0]} is {first_w}x{first_h}"
            )
    return first_h


def _read_manifest(root: Path) -> dict:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {root / MANIFEST}: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != DATASET_FORMAT:
        raise InputError(f"{root / MANIFEST} is not a {DATASET_FORMAT} manifest")
    if manifest.get("version") != DATASET_VERSION:
        raise InputError(
            f"{root / MANIFEST} has version {manifest.get('version')!r}; "
            f"this trainer reads version {DATASET_VERSION}"
        )
    return manifest


def _reference_shape(root: Path) -> np.ndarray | None:
    """Mean of the training pairs' 68 points: the target's neutral-ish face shape."""
    path = root / LANDMARKS
    if not path.exists():
        log.warning("%s is missing: the bundle will have no reference shape", path)
        return None
    try:
        with np.load(path) as npz:
            points, split = npz["points"], npz["split"]
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    train = points[split == 0]
    if points.ndim != 3 or points.shape[1:] != (68, 2) or len(train) == 0:
        raise InputError(
            f"{path}: expected points (N, 68, 2) with training rows, got {points.shape}"
        )
    return train.mean(axis=0).astype(np.float32)


def _manifest_array(
    root: Path, manifest: dict, key: str, shape: tuple[int, ...]
) -> np.ndarray | None:
    """A float array the manifest may carry (datasets made before it was added do not)."""
    return json_array(manifest.get(key), shape, f"{root / MANIFEST}: {key}")


def find_dataset(path: str | Path) -> DatasetInfo:
    """Recognise a face-mirror dataset or a plain pix2pix A|B folder; raise InputError if neither.

    Plain folders: DIR/train/*.{png,jpg} (+ optional DIR/val/), or DIR/*.{png,jpg}.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise InputError(f"dataset not found: {root}")
    if not root.is_dir():
        raise InputError(f"not a dataset (not a folder): {root}")
    manifest = None
    if (root / MANIFEST).exists():
        manifest = _read_manifest(root)
    if (root / "train").is_dir():
        train = _images(root / "train")
        val = _images(root / "val") if (root / "val").is_dir() else []
        if not train:
            raise InputError(f"empty dataset: no PNG or JPEG pairs in {root / 'train'}")
    elif manifest is not None:
        raise InputError(f"empty dataset: {root / MANIFEST} but no train/ folder")
    else:
        train, val = _images(root), []
        if not train:
            if not any(root.iterdir()):
                raise InputError(f"empty dataset: {root} is an empty folder")
            raise InputError(
                f"not a dataset: {root} has no {MANIFEST}, no train/ folder and no "
                "PNG or JPEG A|B pairs"
            )
    expected = None
    if manifest is not None:
        try:
            expected = int(manifest["size"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{root / MANIFEST} has no valid size") from None
    size = _check_sizes(train + val, expected)
    info = DatasetInfo(
        root=root.resolve(), kind="aligned", train_files=train, val_files=val, image_size=size
    )
    if manifest is not None:
        info.kind = "face-mirror"
        info.mode = str(manifest.get("mode", "aligned"))
        info.drawing = dict(manifest.get("drawing") or {})
        info.alignment = dict(manifest.get("alignment") or {})
        info.reference_shape = _reference_shape(root)
        info.neutral_shape = _manifest_array(root, manifest, "neutral_shape", (68, 2))
        info.target_descriptor = _manifest_array(root, manifest, "target_descriptor", (128,))
    return info


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


def to_model_range(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] pictures -> float32 [-1, 1], what the generator takes."""
    return np.asarray(images).astype(np.float32) / 127.5 - 1.0


def to_uint8(model_output: np.ndarray) -> np.ndarray:
    """The generator's [-1, 1] output -> uint8 [0, 255] pictures, rounded to nearest."""
    return np.clip((np.asarray(model_output) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def to_unit_range(x):
    """uint8 [0, 255] -> float32 [-1, 1]: to_model_range for tensors in the tf.data graph."""
    import tensorflow as tf

    return tf.cast(x, tf.float32) / 127.5 - 1.0


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
