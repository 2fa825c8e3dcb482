"""The CycleGAN kind: its parts alone (attention mask, mess-up, history pool), a tiny real run
(trains, resumes, bundle, ONNX), the app's face-crop mode on its bundle, and bad inputs.

Real datasets (the sample's man as the target, the astronaut clip as the user), real TensorFlow
at tiny widths, dlib and Qt offscreen; the run is built once for the module.
"""

from __future__ import annotations

import contextlib
import io
import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import reenact_changes

from common.regions import FACIAL_PARTS, REGIONS, region_points
from gan.core import main as core
from gan.faces.data import FEATURE_DILATE, find_swap_dataset, hull_mask, load_faces, swap_alignment
from gan.kinds.cyclegan import train as cycle_train
from gan.kinds.cyclegan.data import ATTENTION_PARTS, attention_mask
from gan.kinds.cyclegan.kind import KIND as CYCLE

STEPS, RESUMED = 6, 8
TINY = ["--size", "64", "--ngf", "4", "--blocks", "1", "--ndf", "8", "--batch-size", "2"]
SEEDS = ["--attention-weight", "10", "--mess-up", "0.2", "--cycle-1-5-weight", "1", "--pool", "3"]
SEEDS += ["--recycle", "1"]
HANG_MS = 120_000


def _main(args: list) -> tuple[int, list[str]]:
    """train-cyclegan -q in-process: (exit status, the lines it wrote to stderr). Quiet, so the
    "gan" logger it sets up does not leave INFO lines on stderr for the tests that follow."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cycle_train.main([*map(str, args), "-q"])
        except SystemExit as e:  # argparse
            code = e.code
    return code, [ln for ln in err.getvalue().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory, sample_dataset, astronaut_clip_dataset) -> SimpleNamespace:
    """A tiny CycleGAN with every seed term on: STEPS steps, then resumed to RESUMED."""
    run_dir = tmp_path_factory.mktemp("cyclegan") / "run"
    args = [sample_dataset, astronaut_clip_dataset, "-o", run_dir, *TINY, *SEEDS, "-q"]
    args += ["--checkpoint-every", STEPS, "--val-every", STEPS]
    code, err = _main([*args, "--steps", STEPS])
    first = json.loads((run_dir / "model" / "bundle.json").read_text())
    summary = core.train(
        CYCLE, core.parse_args(CYCLE, [str(a) for a in args + ["--steps", RESUMED]])
    )
    return SimpleNamespace(
        run_dir=run_dir, model=run_dir / "model", first=(code, err, first), summary=summary
    )


# --- the seed's parts, alone ---


def test_the_attention_mask_covers_exactly_the_named_regions(astronaut_clip_dataset):
    dataset = find_swap_dataset(astronaut_clip_dataset, "user")
    faces = load_faces(dataset, "train", swap_alignment(), 64)
    assert set(ATTENTION_PARTS) == {"right_brow_and_eye", "left_brow_and_eye", "nose", "mouth"}
    grown = round(64 * FEATURE_DILATE)
    for points in faces.points[::20]:
        mask = attention_mask(points, 64) > 0
        inside = lambda p, m=mask: m[int(round(p[1])), int(round(p[0]))]  # noqa: E731
        named = region_points(*[r for part in ATTENTION_PARTS for r in FACIAL_PARTS[part]])
        assert all(inside(points[i]) for i in named)  # every point of every named part
        assert not any(inside(points[i]) for i in REGIONS["jaw"].indices[2:-2])  # not the jaw
        # Nothing beyond the parts' own hulls, grown by FEATURE_DILATE.
        hulls = np.zeros((64, 64), np.uint8)
        for part in ATTENTION_PARTS:
            hulls |= hull_mask(points[region_points(*FACIAL_PARTS[part])], 64, 0.0, forehead=0.0)
        far = cv2.distanceTransform((hulls == 0).astype(np.uint8), cv2.DIST_L2, 5)
        assert far[mask].max() <= grown + 1
        # And each part is its own: the cheeks between the eyes and the mouth are left out.
        cheek = (points[2] + points[31]) / 2  # between the jaw and the nose wing
        assert not inside(cheek)
        assert mask.mean() < 0.5 * (hull_mask(points, 64, forehead=0.0) > 0).mean()


def test_mess_up_zeroes_the_stated_fraction_of_pixels():
    import tensorflow as tf

    from gan.kinds.cyclegan.parts import mess_up

    images = tf.fill((8, 64, 64, 3), 0.7)
    assert mess_up(images, 0.0) is images
    for fraction in (0.1, 0.3, 0.6):
        out = mess_up(images, fraction, seed=tf.constant([1, 2])).numpy()
        zero = out == 0
        assert (zero.all(-1) == zero.any(-1)).all()  # a pixel loses all its channels or none
        assert zero[..., 0].mean() == pytest.approx(fraction, abs=0.01)
        assert np.allclose(out[~zero], 0.7)  # the rest untouched


def test_the_history_pool_returns_old_fakes_at_the_stated_rate():
    import tensorflow as tf

    from gan.kinds.cyclegan.parts import POOL_RATE, HistoryPool

    tf.random.set_seed(0)
    pool = HistoryPool(10, (1, 1, 1))
    fed, old_ones, seen = 0, 0, set()
    for step in range(600):
        batch = tf.reshape(tf.range(fed, fed + 4, dtype=tf.float32), (4, 1, 1, 1))
        out = pool(batch).numpy().ravel()
        values = batch.numpy().ravel()
        if step < 2:  # not full yet (8 of 10): every fake comes back as it is
            assert np.array_equal(out, values)
        seen.update(values.tolist())  # an earlier fake of this batch may already be in the pool
        if step > 3:
            old = out != values
            old_ones += int(old.sum())
            assert all(v in seen for v in out[old])  # an old one is one it was given before
        fed += 4
    assert old_ones / (596 * 4) == pytest.approx(POOL_RATE, abs=0.03)
    assert pool(tf.zeros((2, 1, 1, 1))).shape == (2, 1, 1, 1)
    off = HistoryPool(0, (1, 1, 1))
    assert off(batch) is batch


def test_recycle_learns_from_evenly_spaced_neighbouring_frames_of_one_video():
    from gan.kinds.cyclegan.data import triplets

    frame = np.array([0, 1, 2, 3, 5, 7, 9, 10, 11, 0, 1, 2])
    source = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
    found = triplets(frame, source).tolist()
    # 0-1-2, 1-2-3, 3-5-7 (every 2nd frame), 5-7-9, 9-10-11, and the second video's 0-1-2;
    # not 2-3-5 (uneven), 7-9-10 (uneven), nor across the videos.
    assert found == [[0, 1, 2], [1, 2, 3], [3, 4, 5], [4, 5, 6], [6, 7, 8], [9, 10, 11]]
    assert triplets(None, None).shape == (0, 3)
    assert triplets(np.array([0, 10, 20]), np.zeros(3)).shape == (0, 3)  # too far apart


# --- a tiny run ---


def test_a_cyclegan_trains_resumes_and_writes_a_bundle(cycle_run):
    code, err, first = cycle_run.first
    assert code == 0, err
    assert first["kind"] == "cyclegan" and first["steps"] == STEPS
    assert {"to_target.keras", "to_user.keras", "to_target.onnx"} <= set(first["files"])
    for name in ("attention_weight", "mess_up", "cycle_1_5_weight", "pool", "recycle"):
        assert first[name] > 0
    assert np.isfinite(first["metrics"]["val_cycle_user"])
    s = cycle_run.summary
    assert (s["start_step"], s["step"], s["optimizer_iterations"]) == (STEPS, RESUMED, RESUMED)
    info = json.loads((cycle_run.model / "bundle.json").read_text())
    assert info["steps"] == RESUMED and info["alignment"]["crop_scale"] == 2.2
    assert (cycle_run.run_dir / "previews").is_dir() and any(
        (cycle_run.run_dir / "previews").iterdir()
    )


def test_the_onnx_export_equals_keras(cycle_run):
    import keras
    import onnxruntime as ort

    crops = np.random.default_rng(0).uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
    model = keras.saving.load_model(cycle_run.model / "to_target.keras", safe_mode=True)
    session = ort.InferenceSession(str(cycle_run.model / "to_target.onnx"))
    feed = {session.get_inputs()[0].name: crops}
    diff = np.abs(session.run(None, feed)[0] - model.predict(crops, verbose=0)).max()
    assert diff <= 1e-4


def test_the_bundle_is_a_face_crop_model_the_app_composites(cycle_run, astronaut_clip, tmp_path):
    from app.modes import FaceCropMode, mode_for
    from gan.bundle.registry import load_bundle

    bundle = load_bundle(cycle_run.model)
    assert bundle.kind == "cyclegan" and bundle.input == "face_crop" and bundle.backend == "onnx"
    assert isinstance(mode_for(bundle), FaceCropMode)
    crop = np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)
    assert np.array_equal(bundle(crop), bundle(crop))  # deterministic
    assert bundle.reconstruct(crop).shape == (64, 64, 3)

    inside, outside = reenact_changes(cycle_run.model, astronaut_clip, tmp_path)
    assert inside > 0.2 and outside < 0.002


def test_the_window_opens_a_cyclegan_bundle(qtbot, cycle_run, astronaut_clip, tmp_path):
    from PyQt5.QtCore import QSettings

    from app.window import MirrorWindow

    settings = QSettings(str(tmp_path / "live-mirror.ini"), QSettings.IniFormat)
    settings.setValue("record_dir", str(tmp_path))
    model = str(cycle_run.model)
    window = MirrorWindow(settings, model=model, source=str(astronaut_clip), loop=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.views["generated"].title.text() == "swapped", timeout=HANG_MS)
    assert window.session.model_path == model
    qtbot.waitUntil(
        lambda: window.last_face and "swap" in window.stats_label.text(), timeout=HANG_MS
    )
    window.close()


# --- bad inputs: one line, exit 2 ---


def test_bad_inputs_are_one_line_and_exit_2(
    cycle_run, sample_dataset, astronaut_clip, astronaut_clip_dataset, tmp_path, capsys
):
    from app.evaluate import main as evaluate_main
    from landmarks.dataset import DatasetConfig, build_dataset

    code, err = _main([tmp_path / "missing", sample_dataset, "-o", tmp_path / "r1"])
    assert code == 2 and len(err) == 1 and "missing" in err[0], err
    bigger = tmp_path / "astronaut-128"
    build_dataset(DatasetConfig(inputs=[str(astronaut_clip)], output=str(bigger), size=128), False)
    code, err = _main([sample_dataset, bigger, "-o", tmp_path / "r2"])
    assert code == 2 and len(err) == 1 and "crops differ" in err[0], err
    for bad in (["--mess-up", "1"], ["--attention-weight", "-1"], ["--pool", "-2"]):
        code, err = _main([sample_dataset, astronaut_clip_dataset, "-o", tmp_path / "r3", *bad])
        assert code == 2 and len(err) == 1, (bad, err)
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()
    # A CycleGAN bundle where a drawing model is needed.
    out = tmp_path / "eval.json"
    args = ["--model", str(cycle_run.model), "--dataset", str(sample_dataset), "--json", str(out)]
    assert evaluate_main([*args, "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--driver" in lines[0], lines
    assert not out.exists()
