"""train-swap's recipes: the sharp default and the VAE-GAN before it, what a flag, the recipe, the
preset and a run folder's config.json each decide, a run folder of the old default resuming with
the same command, the new options' refusals, and the SSIM loss itself."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_swap_train import TINY, _main  # noqa: E402

from gan.core import loop  # noqa: E402
from gan.core import main as core  # noqa: E402
from gan.core.run_dir import prepare_run_dir  # noqa: E402
from gan.kinds.swap.kind import ADVERSARIAL_WEIGHT, KL_WEIGHT, PRESETS  # noqa: E402
from gan.kinds.swap.kind import KIND as SWAP  # noqa: E402

PROG = SWAP.prog
SAVED = SWAP.saved_defaults
NEW_SETTINGS = (
    "recipe",
    "loss",
    "gan_from",
    "disc_width",
    "disc_layers",
    "shut_eyes",
    "eyes",
    "eye_opening",
)


def parse(args: list) -> object:
    return core.parse_args(SWAP, [str(a) for a in args])


def resolved(args: list) -> object:
    """The settings a command line trains with (the datasets checked, not read)."""
    cfg, _ = SWAP.prepare(parse(args))
    return cfg


def shape(cfg) -> tuple:
    return (cfg.size, cfg.width, cfg.batch_size)


def recipe_of(cfg) -> tuple:
    return (cfg.recipe, cfg.variational, cfg.loss, cfg.gan_from, cfg.disc_width, cfg.disc_layers)


def test_the_default_is_the_sharp_recipe_and_the_vae_gan_is_one_flag_away(
    sample_dataset, astronaut_clip_dataset, tmp_path
):
    people = [sample_dataset, astronaut_clip_dataset, "-o", tmp_path / "run"]
    cfg = resolved(people)
    assert recipe_of(cfg) == ("sharp", True, "dssim-mse", 0.5, 16, 1) and cfg.shut_eyes == 0.25
    assert cfg.eyes == "drawn" and cfg.eye_opening is True
    quick = tuple(PRESETS["quick"][k] for k in ("size", "width", "batch_size"))
    assert shape(cfg) == (64, 32, 8) == quick
    assert cfg.adversarial_weight == ADVERSARIAL_WEIGHT
    # Today's default before the recipes, with the quick preset's sizes it was measured at.
    old = resolved([*people, "--recipe", "vae-gan"])
    assert recipe_of(old) == ("vae-gan", True, "l1", 0.0, None, 3) and old.shut_eyes == 0.0
    assert old.eyes == "pixels" and old.eye_opening is False
    assert shape(old) == (64, 32, 16) and old.adversarial_weight == ADVERSARIAL_WEIGHT
    # A flag wins over its recipe and the preset; the gpu preset keeps its own sizes.
    mixed = resolved([*people, "--recipe", "vae-gan", "--size", "128", "--loss", "dssim-mse"])
    assert (mixed.size, mixed.width, mixed.loss, mixed.variational) == (128, 32, "dssim-mse", True)
    gpu = resolved([*people, "--preset", "gpu"])
    assert shape(gpu) == (128, 64, 32) and gpu.recipe == "sharp"
    assert shape(resolved([*people, "--preset", "gpu", "--recipe", "vae-gan"])) == (128, 64, 32)
    assert set(NEW_SETTINGS) <= set(SWAP.identity)


def old_default_config(run_dir, target, user, **changes) -> dict:
    """config.json as train-swap wrote it for the quick preset's default before the recipes: the
    VAE-GAN at 64 px, width 32, batch 16, and none of the recipes' settings."""
    config = {
        "output": str(run_dir),
        "preset": "quick",
        "steps": 3000,
        "batch_size": 16,
        "checkpoint_every": 500,
        "val_every": 500,
        "mixed_precision": "auto",
        "xla": "auto",
        "cpu_devices": 1,
        "onnx": True,
        "force": False,
        "seed": 0,
        "quiet": False,
        "first_preview": None,
        "progress": "bar",
        "verbose": False,
        "target": str(target),
        "user": str(user),
        "size": 64,
        "crop_scale": 2.2,
        "centre_y": 0.6,
        "forehead": 0.25,
        "width": 32,
        "bottleneck": 256,
        "lr": 0.0002,
        "feature_weight": 3.0,
        "warp": True,
        "warp_until": 0.5,
        "flip": False,
        "variational": True,
        "kl_weight": KL_WEIGHT,
        "adversarial_weight": ADVERSARIAL_WEIGHT,
    }
    return {**config, **changes}


def test_a_run_folder_of_the_old_default_resumes_with_the_same_command(
    sample_dataset, astronaut_clip_dataset, tmp_path
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = old_default_config(run_dir, sample_dataset, astronaut_clip_dataset)
    (run_dir / "config.json").write_text(json.dumps(config))
    same = [sample_dataset, astronaut_clip_dataset, "-o", run_dir]
    cfg = resolved(same)
    assert recipe_of(cfg) == ("vae-gan", True, "l1", 0.0, None, 3) and cfg.eyes == "pixels"
    assert shape(cfg) == (64, 32, 16) and (cfg.steps, cfg.bottleneck) == (3000, 256)
    prepare_run_dir(run_dir, dataclasses.asdict(cfg), SWAP.identity, False, SAVED)
    rewritten = json.loads((run_dir / "config.json").read_text())
    assert rewritten["recipe"] == "vae-gan" and rewritten["size"] == 64  # now says what it is
    # A flag still says what the user wants: another run, refused as before.
    other = resolved([*same, "--recipe", "sharp"])
    with pytest.raises(
        Exception,
        match=r"another run \(recipe, batch_size, shut_eyes, eyes, eye_opening, loss, gan_from, di",
    ):
        prepare_run_dir(run_dir, dataclasses.asdict(other), SWAP.identity, False, SAVED)
    # --force starts afresh: with today's default, not the folder's.
    assert resolved([*same, "--force"]).recipe == "sharp"
    # A folder of another preset lends nothing: the gpu preset's run is another run.
    assert shape(resolved([*same, "--preset", "gpu"])) == (128, 64, 32)


def test_a_sharp_run_from_before_the_drawn_eyes_resumes_with_its_pixels(
    sample_dataset, astronaut_clip_dataset, tmp_path
):
    """A run folder of the sharp recipe as it first shipped (its config.json has no "eyes"):
    the same command resumes it with the eyes as pixels, its networks' RGB input."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sharp = {"recipe": "sharp", "batch_size": 8, "loss": "dssim-mse", "gan_from": 0.5}
    sharp |= {"disc_width": 16, "disc_layers": 1, "shut_eyes": 0.25}
    config = old_default_config(run_dir, sample_dataset, astronaut_clip_dataset, **sharp)
    (run_dir / "config.json").write_text(json.dumps(config))
    same = [sample_dataset, astronaut_clip_dataset, "-o", run_dir]
    cfg = resolved(same)
    assert (cfg.recipe, cfg.eyes, cfg.shut_eyes, cfg.batch_size) == ("sharp", "pixels", 0.25, 8)
    prepare_run_dir(run_dir, dataclasses.asdict(cfg), SWAP.identity, False, SAVED)
    assert json.loads((run_dir / "config.json").read_text())["eyes"] == "pixels"
    # Asked for, the drawn eyes are another run; --force starts one with today's default.
    drawn = resolved([*same, "--eyes", "drawn"])
    with pytest.raises(Exception, match=r"holds another run \(eyes differ; it has eyes=pixels\)"):
        prepare_run_dir(run_dir, dataclasses.asdict(drawn), SWAP.identity, False, SAVED)
    assert resolved([*same, "--force"]).eyes == "drawn"


def test_a_drawn_eyes_run_from_before_the_eye_opening_resumes_without_it(
    sample_dataset, astronaut_clip_dataset, tmp_path
):
    """A run folder of the sharp recipe with the eyes drawn, from before --eye-opening (its
    config.json has no "eye_opening"): the same command resumes it without, as its decoders
    were built; --force starts today's default, with it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sharp = {"recipe": "sharp", "batch_size": 8, "loss": "dssim-mse", "gan_from": 0.5}
    sharp |= {"disc_width": 16, "disc_layers": 1, "shut_eyes": 0.25, "eyes": "drawn"}
    config = old_default_config(run_dir, sample_dataset, astronaut_clip_dataset, **sharp)
    (run_dir / "config.json").write_text(json.dumps(config))
    same = [sample_dataset, astronaut_clip_dataset, "-o", run_dir]
    cfg = resolved(same)
    assert (cfg.recipe, cfg.eyes, cfg.eye_opening) == ("sharp", "drawn", False)
    prepare_run_dir(run_dir, dataclasses.asdict(cfg), SWAP.identity, False, SAVED)
    assert json.loads((run_dir / "config.json").read_text())["eye_opening"] is False
    asked = resolved([*same, "--eye-opening"])
    with pytest.raises(Exception, match=r"another run \(eye_opening differ; it has eye_openi"):
        prepare_run_dir(run_dir, dataclasses.asdict(asked), SWAP.identity, False, SAVED)
    assert resolved([*same, "--force"]).eye_opening is True


def test_the_eye_opening_needs_the_eyes_drawn(sample_dataset, astronaut_clip_dataset, tmp_path):
    people = [sample_dataset, astronaut_clip_dataset]
    # Left to the recipe, it goes with the pixels' eyes; asked for, it is refused in one line.
    assert resolved([*people, "-o", tmp_path / "a", "--eyes", "pixels"]).eye_opening is False
    run = tmp_path / "run"
    code, err = _main([*people, "-o", run, *TINY, "--eyes", "pixels", "--eye-opening"])
    assert code == 2 and len(err) == 1, err
    assert err[0] == f"{PROG}: error: --eye-opening needs --eyes drawn: it is the drawn eyes' area"
    assert not run.exists()
    # A run folder's eye opening is not the command line's: --eyes pixels there is another run.
    folder = tmp_path / "folder"
    folder.mkdir()
    sharp = {"recipe": "sharp", "batch_size": 8, "eyes": "drawn", "eye_opening": True}
    config = old_default_config(folder, sample_dataset, astronaut_clip_dataset, **sharp)
    (folder / "config.json").write_text(json.dumps(config))
    other = resolved([*people, "-o", folder, "--eyes", "pixels"])
    assert (other.eyes, other.eye_opening) == ("pixels", False)


def test_an_old_default_run_trains_on_after_the_change(
    sample_dataset, astronaut_clip_dataset, tmp_path, monkeypatch
):
    """A real run: trained 2 steps as the old default was (its config.json stripped of what the
    old code did not write), then the same command, without a recipe, trains it on from its
    checkpoint as the VAE-GAN it is."""
    monkeypatch.delenv(loop.MAX_STEPS_ENV, raising=False)
    run_dir = tmp_path / "run"
    same = [sample_dataset, astronaut_clip_dataset, "-o", run_dir, *TINY, "-q", "--no-onnx"]
    first = core.train(SWAP, parse([*same, "--recipe", "vae-gan", "--steps", 2]))
    assert first["step"] == 2
    saved = json.loads((run_dir / "config.json").read_text())
    for name in NEW_SETTINGS:
        del saved[name]
    (run_dir / "config.json").write_text(json.dumps(saved))
    summary = core.train(SWAP, parse([*same, "--steps", 3]))
    assert (summary["start_step"], summary["step"]) == (2, 3)
    assert summary["disc_optimizer_iterations"] == 3  # the VAE-GAN's discriminators: every step
    info = json.loads((run_dir / "model" / "bundle.json").read_text())
    assert (info["recipe"], info["variational"], info["loss"]) == ("vae-gan", True, "l1")
    assert info["eyes"] == "pixels"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--gan-from", "1.5", "--gan-from must be between 0 and 1"),
        ("--gan-from", "-0.1", "--gan-from must be between 0 and 1"),
        ("--gan-from", "nan", "--gan-from must be between 0 and 1"),
        ("--shut-eyes", "1.5", "--shut-eyes must be between 0 and 1"),
        ("--disc-width", "0", "--disc-width must be at least 1"),
        ("--disc-layers", "0", "--disc-layers must be between 1 and 3 at 64 px"),
        ("--disc-layers", "4", "--disc-layers must be between 1 and 3 at 64 px"),
        ("--adversarial-weight", "-1", "--adversarial-weight must be a number, 0 or more"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(
    flag, value, message, sample_dataset, astronaut_clip_dataset, tmp_path
):
    run = tmp_path / "run"
    code, err = _main([sample_dataset, astronaut_clip_dataset, "-o", run, *TINY, flag, value])
    assert code == 2 and len(err) == 1, err
    assert err[0] == f"{PROG}: error: {message}", err
    assert not run.exists()


@pytest.mark.parametrize(
    ("flag", "value"), [("--loss", "l2"), ("--recipe", "vae"), ("--eyes", "closed")]
)
def test_unknown_names_are_refused_by_the_command_line(
    flag, value, sample_dataset, astronaut_clip_dataset, tmp_path
):
    run = tmp_path / "run"
    code, err = _main([sample_dataset, astronaut_clip_dataset, "-o", run, flag, value])
    assert code == 2
    assert err[-1].startswith(f"{PROG}: error: argument {flag}: invalid choice: '{value}'"), err
    assert not run.exists()


def test_the_ssim_loss_is_zero_for_the_same_face_and_grows_with_blur():
    import tensorflow as tf

    from gan.faces.losses import face_dssim_mse, face_l1, gaussian_1d, ssim_window

    assert (ssim_window(64), ssim_window(128), ssim_window(256)) == (5, 11, 23)
    assert np.isclose(gaussian_1d(11).sum(), 1.0) and gaussian_1d(11).argmax() == 5
    rng = np.random.default_rng(0)
    face = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    face = tf.constant(tf.nn.avg_pool2d(face, 3, 1, "SAME"))  # some structure to keep
    blurred = tf.nn.avg_pool2d(face, 5, 1, "SAME")
    noisy = face + tf.constant(rng.normal(0, 0.05, face.shape).astype(np.float32))
    mask = np.zeros((2, 64, 64, 1), np.float32)
    mask[:, 16:48, 16:48] = 1.0
    assert float(face_dssim_mse(face, face, mask)) == pytest.approx(0.0, abs=1e-6)
    # Blur loses the local contrast that SSIM asks for: against an L1 of the same size, it costs
    # SSIM more than noise does.
    ratio = {
        name: float(face_dssim_mse(x, face, mask)) / float(face_l1(x, face, mask))
        for name, x in (("blur", blurred), ("noise", noisy))
    }
    assert ratio["blur"] > ratio["noise"], ratio
    # Only the mask counts: a change outside it costs nothing.
    outside = face.numpy().copy()
    outside[:, :8] = 0.0
    assert float(face_dssim_mse(tf.constant(outside), face, mask)) == pytest.approx(0.0, abs=1e-6)


def test_the_bench_times_each_recipes_phases(sample_dataset, astronaut_clip_dataset):
    from gan.kinds.swap.bench import swap_recipe_rows, time_swap_recipes

    found = time_swap_recipes(
        str(sample_dataset), str(astronaut_clip_dataset), steps=1, rounds=1, warmup=1
    )
    assert set(found) == {"sharp", "vae-gan"}
    sharp, old = found["sharp"], found["vae-gan"]
    assert set(sharp["phases"]) == set(old["phases"]) == {"autoencoder", "gan"}
    assert (sharp["batch_size"], old["batch_size"], sharp["gan_from"], old["gan_from"]) == (
        8,
        16,
        0.5,
        0.0,
    )
    for e in (sharp, old):
        assert all(p["ms"] > 0 and p["cpu_ms"] > 0 for p in e["phases"].values())
        assert e["disc_share"] < 1
    assert old["mean_ms"] == old["phases"]["gan"]["ms"] and old["vs_vae_gan"] == 1.0
    low, high = sorted(p["ms"] for p in sharp["phases"].values())
    assert low <= sharp["mean_ms"] <= high  # each phase weighted by its share of the steps
    rows = swap_recipe_rows(found)
    assert len(rows) == 6 and "the discriminators" in rows[1][2] and "x the vae-gan's" in rows[2][2]


def test_shut_eye_faces_are_the_blinks_and_a_share_of_each_batch():
    from gan.faces.data import draw_faces, shut_eye_faces

    points = np.random.default_rng(0).uniform(20, 40, (100, 68, 2)).astype(np.float32)
    # Each eye: outer corner, two upper lid points, inner corner, two lower lid points (dlib).
    eye = np.array([[0, 30], [3, 28], [7, 28], [10, 30], [7, 32], [3, 32]], np.float32)
    points[:, 36:42] = eye
    points[:, 42:48] = eye + [30, 0]
    blinks = [10, 11, 50]
    for start in (36, 42):  # lids 1 px apart instead of 4
        points[blinks, start + 1 : start + 3, 1] = 29.5
        points[blinks, start + 4 : start + 6, 1] = 30.5
    shut = shut_eye_faces(points)
    assert list(shut) == blinks
    assert len(shut_eye_faces(points[:0])) == 0
    uniform = draw_faces(100, 4000, np.random.default_rng(1))
    assert np.isin(uniform, shut).mean() == pytest.approx(0.03, abs=0.01)
    tilted = draw_faces(100, 4000, np.random.default_rng(1), shut, 0.25)
    assert np.isin(tilted, shut).mean() == pytest.approx(0.25 + 0.75 * 0.03, abs=0.02)
    no_blinks = draw_faces(100, 50, np.random.default_rng(2), shut[:0], 0.25)
    assert np.array_equal(no_blinks, draw_faces(100, 50, np.random.default_rng(2)))  # uniform


def test_the_swaps_sharpening_steepens_the_faces_own_edges():
    import cv2

    from app.measures import laplacian_variance
    from landmarks.blend import BlendParams, sharpen

    rng = np.random.default_rng(0)
    face = cv2.resize(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), (64, 64))
    soft = cv2.GaussianBlur(face, (0, 0), 1.5)
    everywhere = np.ones((64, 64), bool)
    before = laplacian_variance(soft, everywhere)
    after = [laplacian_variance(sharpen(soft, a), everywhere) for a in (1.0, 2.0)]
    assert before < after[0] < after[1]
    assert np.array_equal(sharpen(soft, 0.0), soft)  # 0: the decoder's face as it is
    flat = np.full((64, 64, 3), 120, np.uint8)
    assert np.array_equal(sharpen(flat, 2.0), flat)  # no edge, nothing added
    assert abs(float(sharpen(soft, 1.0).mean()) - float(soft.mean())) < 1.0  # the same light
    with pytest.raises(ValueError, match="sharpen must be between 0 and 3"):
        BlendParams(sharpen=3.5)


@pytest.mark.parametrize("value", ["-1", "3.5", "nan"])
def test_a_bad_sharpen_is_one_line_and_exit_2(value, tmp_path, capsys):
    from app.reenact import main as reenact_main

    out = tmp_path / "out.mp4"
    args = ["--model", str(tmp_path), "--source", str(tmp_path / "none.mp4"), "-o", str(out)]
    assert reenact_main([*args, "--sharpen", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["reenact: error: --sharpen must be between 0 and 3"], err
    assert not out.exists()


def test_side_by_side_puts_pictures_under_their_labels(tmp_path, capsys):
    import importlib.util

    import cv2

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("sbs", root / "scripts" / "side_by_side.py")
    sbs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sbs)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((40, 30, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.full((80, 40, 3), 200, np.uint8))
    out = tmp_path / "ab.png"
    args = [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(out)]
    assert sbs.main([*args, "--labels", "before", "after"]) == 0
    joined = cv2.imread(str(out))
    # b scaled to a's 40 px height (20 px wide), a label band above both, a gap between.
    assert joined.shape == (40 + sbs.LABEL_HEIGHT, 30 + sbs.GAP + 20, 3)
    assert (
        joined[sbs.LABEL_HEIGHT + 5, 5].max() == 0 and joined[sbs.LABEL_HEIGHT + 5, -5].min() == 200
    )
    capsys.readouterr()
    assert sbs.main([str(tmp_path / "gone.png"), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"side_by_side: error: {tmp_path / 'gone.png'}: no such file"], err
    assert not (tmp_path / "x.png").exists()
