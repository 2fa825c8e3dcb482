"""gan without training: networks, metrics, dataset checks and the model bundle."""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from test_gan_synthetic import (  # noqa: E402
    drawing,
    make_aligned,
    make_face_mirror,
    photo,
    write_pair,
)

from gan import metrics  # noqa: E402
from gan.bundle import load_bundle  # noqa: E402
from gan.core.dataset import find_dataset  # noqa: E402
from gan.errors import InputError  # noqa: E402
from gan.kinds.drawing.bundle import save_bundle  # noqa: E402
from gan.kinds.drawing.data import load_pairs  # noqa: E402
from gan.kinds.drawing.models import Discriminator, Generator, downsample, upsample  # noqa: E402


def test_parameter_counts_match_the_paper():
    g = Generator(256, 64)
    d = Discriminator(256, 64)
    # Built, never run: the counts come from the layer shapes alone.
    assert round(g.count_params() / 1e6, 1) == 54.4
    assert round(d.count_params() / 1e6, 2) == 2.77
    assert g.output_shape == (None, 256, 256, 3)
    assert d.output_shape == (None, 30, 30, 1)  # 70x70 patches at 256 px
    downs = [layer for layer in g.layers if layer.name.startswith("down")]
    assert len(downs) == 8 and downs[-1].output.shape[1:3] == (1, 1)


@pytest.mark.parametrize("size", [64, 128, 512])
def test_depth_follows_size(size):
    g = Generator(size, 4)
    assert g.output_shape == (None, size, size, 3)
    assert len([la for la in g.layers if la.name.startswith("down")]) == size.bit_length() - 1


def test_blocks_and_bad_size():
    assert downsample(8)(np.zeros((1, 16, 16, 3), np.float32)).shape == (1, 8, 8, 8)
    assert upsample(8, dropout=True)(np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 16, 16, 8)
    with pytest.raises(ValueError):
        Generator(100, 8)


def test_generator_is_deterministic_and_batch_independent():
    keras.utils.set_random_seed(1)
    g = Generator(64, 8)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
    once, twice = g(x, training=False), g(x, training=False)
    np.testing.assert_array_equal(once, twice)
    # Instance norm: an image's output does not depend on its batch neighbours.
    np.testing.assert_allclose(g(x[:1], training=False), once[:1], atol=1e-5)
    # Dropout is on while training only.
    assert not np.allclose(g(x, training=True), once)


def test_metrics_match_tensorflow():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    ta, tb = tf.constant(a), tf.constant(b)
    assert metrics.ssim(a, b) == pytest.approx(
        float(tf.reduce_mean(tf.image.ssim(ta, tb, 255))), abs=1e-5
    )
    assert metrics.psnr(a, b) == pytest.approx(
        float(tf.reduce_mean(tf.image.psnr(ta, tb, 255))), abs=1e-4
    )
    assert metrics.l1(a, b) == pytest.approx(np.abs(a / 255 - b / 255).mean())
    # [-1, 1] floats and uint8 agree; single images work; identical images are perfect.
    af = a.astype(np.float32) / 127.5 - 1
    bf = b.astype(np.float32) / 127.5 - 1
    assert metrics.ssim(af, bf) == pytest.approx(metrics.ssim(a, b), abs=1e-5)
    m = metrics.image_metrics(a[0], a[0])
    assert m == {"l1": 0.0, "psnr": metrics.PSNR_CAP, "ssim": pytest.approx(1.0)}


# --- datasets ---


def test_face_mirror_dataset_is_read(tmp_path):
    root = make_face_mirror(tmp_path / "ds", n_train=5, n_val=2)
    info = find_dataset(root)
    assert info.kind == "face-mirror" and info.mode == "aligned" and info.image_size == 64
    assert len(info.train_files) == 5 and len(info.val_files) == 2
    with np.load(root / "landmarks.npz") as npz:
        expected = npz["points"][npz["split"] == 0].mean(axis=0)
    np.testing.assert_allclose(info.reference_shape, expected, rtol=1e-6)
    a, b = load_pairs(info.train_files[:2], 64)
    np.testing.assert_array_equal(a[0], drawing(64, 0))
    assert np.abs(b[0].astype(int) - photo(drawing(64, 0))).max() <= 2  # PNG is lossless


def test_plain_folder_and_direction(tmp_path):
    root = make_aligned(tmp_path / "facades", n=3, ext=".jpg", swap=True)
    info = find_dataset(root)
    assert info.kind == "aligned" and info.mode == "frame" and info.reference_shape is None
    a, b = load_pairs(info.train_files, 64, direction="BtoA")
    assert a.mean() < b.mean()  # the drawing (mostly black) is the input after the swap


def _bad_datasets(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    mixed = make_aligned(tmp_path / "mixed", n=2, ext=".png")
    write_pair(mixed / "odd.png", np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8))
    square = tmp_path / "square"
    square.mkdir()
    write_pair(square / "0.png", np.zeros((64, 32, 3), np.uint8), np.zeros((64, 32, 3), np.uint8))
    wrong = make_face_mirror(tmp_path / "wrong", n_train=2, n_val=1)
    manifest = json.loads((wrong / "manifest.json").read_text())
    (wrong / "manifest.json").write_text(json.dumps({**manifest, "size": 128}))
    empty_train = tmp_path / "empty_train"
    (empty_train / "train").mkdir(parents=True)
    foreign = make_face_mirror(tmp_path / "foreign", n_train=1, n_val=0)
    (foreign / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    return {
        "missing": (tmp_path / "nope", "not found"),
        "empty": (tmp_path / "empty", "empty"),
        "not a dataset": (tmp_path / "notes", "not a dataset"),
        "sizes differ": (mixed, "sizes differ"),
        "not A|B": (square, "twice as wide"),
        "manifest size": (wrong, "manifest says size 128"),
        "empty train": (empty_train, "empty"),
        "other format": (foreign, "not a face-mirror-dataset"),
    }


def test_bad_datasets_raise_input_error(tmp_path):
    for name, (path, words) in _bad_datasets(tmp_path).items():
        with pytest.raises(InputError, match=words):
            find_dataset(path)
        assert name


# --- the bundle ---


def _tiny_bundle(path, **info):
    keras.utils.set_random_seed(0)
    base = {
        "size": 64,
        "mode": "frame",
        "drawing": {},
        "alignment": {},
        "reference_shape": None,
        "steps": 0,
        "direction": "AtoB",
        "ngf": 4,
        "dataset": "x",
        "metrics": {},
    }
    return save_bundle(path, Generator(64, 4), {**base, **info})


def test_bundle_round_trip(tmp_path):
    ref = np.arange(136, dtype=np.float32).reshape(68, 2)
    model_dir = _tiny_bundle(
        tmp_path / "model",
        reference_shape=ref.tolist(),
        steps=7,
        drawing={"thickness": 1},
        metrics={"val_l1": 0.1},
    )
    assert sorted(p.name for p in model_dir.iterdir()) == ["bundle.json", "generator.keras"]
    bundle = load_bundle(model_dir)
    assert (bundle.size, bundle.mode, bundle.steps) == (64, "frame", 7)
    assert bundle.drawing == {"thickness": 1} and bundle.metrics == {"val_l1": 0.1}
    assert bundle.reference_shape.dtype == np.float32
    np.testing.assert_array_equal(bundle.reference_shape, ref)
    assert bundle.info["format"] == "face-mirror-model" and bundle.path == model_dir.resolve()
    single = drawing(64, 3)
    out = bundle(single)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, bundle(single))
    batch = bundle(np.stack([single, drawing(64, 4)]))
    assert batch.shape == (2, 64, 64, 3)
    assert np.abs(batch[0].astype(int) - out).max() <= 1
    with pytest.raises(ValueError):
        bundle(np.zeros((32, 32, 3), np.uint8))


def test_bad_bundles_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_bundle(tmp_path / "nope")
    model_dir = _tiny_bundle(tmp_path / "model")
    bundle_file = model_dir / "bundle.json"
    good = bundle_file.read_text()
    bundle_file.write_text("{not json")
    with pytest.raises(InputError, match="cannot read"):
        load_bundle(model_dir)
    bundle_file.write_text(json.dumps({**json.loads(good), "version": 99}))
    with pytest.raises(InputError, match="version 99"):
        load_bundle(model_dir)
    bundle_file.write_text(json.dumps({**json.loads(good), "format": "other"}))
    with pytest.raises(InputError, match="not a face-mirror-model"):
        load_bundle(model_dir)
    bundle_file.write_text(good)
    (model_dir / "generator.keras").write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot load"):
        load_bundle(model_dir)
    (model_dir / "generator.keras").unlink()
    with pytest.raises(InputError, match="no generator.keras"):
        load_bundle(model_dir)
    bundle_file.unlink()
    with pytest.raises(InputError, match="no bundle.json"):
        load_bundle(model_dir)
