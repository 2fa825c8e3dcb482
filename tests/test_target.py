"""The target in the dataset and the bundle: who they are (descriptor) and their face at rest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from app.face import ModelSpec, dataset_descriptor, target_descriptor
from app.model import load_model
from common.errors import InputError
from gan.core.dataset import find_dataset
from gan.kinds.drawing.trainer import bundle_info
from landmarks import FaceTracker
from landmarks.identity import SAME_PERSON_DISTANCE, FaceDescriptor
from landmarks.retarget import mouth_opening, neutral_shape


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def edit_json(path: Path, **fields) -> None:
    """Set (or, with None, remove) fields of a JSON file, as an older or damaged one would be."""
    content = read_json(path)
    for key, value in fields.items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    path.write_text(json.dumps(content))


@pytest.fixture(scope="module")
def manifest(sample_dataset) -> dict:
    return read_json(sample_dataset / "manifest.json")


def test_the_manifest_says_who_the_target_is(manifest, sample_frames):
    target = np.asarray(manifest["target_descriptor"])
    assert target.shape == (128,) and np.isfinite(target).all() and np.abs(target).max() > 0
    # The man in a whole video frame (not one of the dataset's crops) is the same person.
    frame = sample_frames[60]
    points = FaceTracker()(frame).points
    seen = FaceDescriptor()(np.ascontiguousarray(frame[..., ::-1]), points)
    assert np.linalg.norm(seen - target) < SAME_PERSON_DISTANCE


def test_the_neutral_shape_is_the_target_with_the_mouth_at_rest(manifest, sample_dataset):
    neutral = np.asarray(manifest["neutral_shape"], np.float32)
    assert neutral.shape == (68, 2)
    assert neutral.min() >= 0 and neutral.max() <= manifest["size"] - 1
    with np.load(sample_dataset / "landmarks.npz") as lm:
        train = lm["points"][lm["split"] == 0]
    np.testing.assert_allclose(neutral, neutral_shape(train), atol=1e-4)  # the live driver's rule
    openings = mouth_opening(train)
    assert mouth_opening(neutral) <= np.percentile(openings, 15)
    # The mean shape, all bundles had before, holds a talking mouth half open.
    assert mouth_opening(train.mean(axis=0)) > np.percentile(openings, 40)


def test_the_bundle_carries_both_at_the_model_size(tiny_model, sample_dataset, manifest):
    info = read_json(tiny_model / "bundle.json")
    np.testing.assert_allclose(info["target_descriptor"], manifest["target_descriptor"], atol=1e-6)
    np.testing.assert_allclose(info["neutral_shape"], manifest["neutral_shape"], atol=1e-4)
    spec = ModelSpec.from_bundle(load_model(tiny_model))
    np.testing.assert_array_equal(spec.target_shape, spec.neutral_shape)
    assert not np.allclose(spec.target_shape, spec.reference_shape, atol=0.1)
    # A model twice the dataset's size: both shapes scaled alike, the descriptor as it is.
    doubled = bundle_info(
        SimpleNamespace(size=128, ngf=8, recipe="reference", region="mouth", references=2, ema=0.0),
        find_dataset(sample_dataset),
        1,
        {},
        {},
    )
    np.testing.assert_allclose(
        doubled["neutral_shape"], 2 * np.asarray(manifest["neutral_shape"]), atol=1e-3
    )
    np.testing.assert_allclose(
        doubled["reference_shape"], 2 * np.asarray(info["reference_shape"]), atol=1e-3
    )
    assert doubled["target_descriptor"] == info["target_descriptor"]


def test_auto_knows_the_target_without_the_dataset(tiny_model, manifest, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    edit_json(model / "bundle.json", dataset=str(tmp_path / "deleted-dataset"))
    descriptor = target_descriptor(load_model(model))
    np.testing.assert_allclose(descriptor, manifest["target_descriptor"], atol=1e-6)


def test_older_bundles_and_datasets_keep_working(tiny_model, sample_dataset, manifest, tmp_path):
    model, dataset = tmp_path / "model", tmp_path / "dataset"
    shutil.copytree(tiny_model, model)
    shutil.copytree(sample_dataset, dataset)
    fields = {"neutral_shape": None, "target_descriptor": None}
    edit_json(model / "bundle.json", dataset=str(tmp_path / "deleted-dataset"), **fields)
    edit_json(dataset / "manifest.json", **fields)
    bundle = load_model(model)
    spec = ModelSpec.from_bundle(bundle)
    assert spec.neutral_shape is None and spec.target_descriptor is None
    np.testing.assert_array_equal(spec.target_shape, spec.reference_shape)
    assert target_descriptor(bundle) is None  # auto then retargets, as before
    # The descriptor from the old dataset's photos is the one make-dataset writes today.
    computed = target_descriptor(bundle, dataset)
    np.testing.assert_allclose(computed, manifest["target_descriptor"], atol=1e-4)
    info = find_dataset(dataset)
    assert info.neutral_shape is None and info.target_descriptor is None
    cfg = SimpleNamespace(size=64, ngf=8, recipe="pix2pix", region="face", references=1, ema=0.0)
    old = bundle_info(cfg, info, 1, {}, {})
    assert old["neutral_shape"] is None and old["target_descriptor"] is None


def test_damaged_fields_are_one_clear_error(tiny_model, sample_dataset, tmp_path):
    model, dataset = tmp_path / "model", tmp_path / "dataset"
    shutil.copytree(tiny_model, model)
    shutil.copytree(sample_dataset, dataset)
    edit_json(model / "bundle.json", neutral_shape=[[1.0, 2.0]])
    with pytest.raises(InputError, match="neutral_shape must be 68 × 2 numbers"):
        ModelSpec.from_bundle(load_model(model))
    edit_json(dataset / "manifest.json", target_descriptor=["x"] * 128)
    with pytest.raises(InputError, match="target_descriptor must be 128 numbers"):
        find_dataset(dataset)
    with pytest.raises(InputError, match="target_descriptor must be 128 numbers"):
        dataset_descriptor(str(dataset))
