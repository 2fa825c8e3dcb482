"""train-swap on the sample and a second identity: crops, warps, training, resume, the bundle."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_gan_synthetic import make_aligned, make_face_mirror  # noqa: E402

from common.cli import run_command  # noqa: E402
from common.errors import InputError  # noqa: E402
from common.outline import FOREHEAD, face_outline  # noqa: E402
from common.regions import inter_ocular  # noqa: E402
from gan.bundle import require_kind  # noqa: E402
from gan.core import loop  # noqa: E402
from gan.core import main as core  # noqa: E402
from gan.faces.data import (  # noqa: E402
    augment,
    check_crop_fits,
    crop_matrix,
    find_swap_dataset,
    hull_mask,
    load_faces,
    random_warp_maps,
    swap_alignment,
    transform_points,
)
from gan.kinds.swap import train as swap_train  # noqa: E402
from gan.kinds.swap.bundle import (  # noqa: E402
    TARGET_FILE,
    TARGET_ONNX,
    USER_FILE,
    USER_ONNX,
    SwapBundle,
    load_swap_bundle,
)
from gan.kinds.swap.kind import ADVERSARIAL_WEIGHT  # noqa: E402
from gan.kinds.swap.kind import KIND as SWAP  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROG = SWAP.prog
TINY = ["--size", "64", "--width", "8", "--bottleneck", "32", "--batch-size", "4"]
# The default recipe's discriminators start at gan_from 0.5 of the steps: step 4 of 6 (the 4th
# update); the run is interrupted before it and resumed across it.
STEPS, INTERRUPT_AT, VAL_EVERY = 6, 2, 3
GAN_START = 3  # updates before the discriminators' first


def astronaut_path() -> Path | None:
    """A second, real identity: the photo scikit-image's wheel carries, read without importing."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "astronaut.png"
    return path if path.is_file() else None


def still_clip():
    """scripts/still_clip.py as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("still_clip", ROOT / "scripts" / "still_clip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def astronaut_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut photo panned, zoomed and rolled into a 40-frame clip, as a 64 px dataset."""
    import cv2

    from landmarks.dataset import DatasetConfig, build_dataset

    photo = astronaut_path()
    if photo is None:
        pytest.skip("scikit-image is not installed: its astronaut.png is the second identity")
    tmp = tmp_path_factory.mktemp("astronaut")
    clip = tmp / "astronaut.mp4"
    code = still_clip().main(
        [str(photo), str(clip), "--frames", "40", "--size", "480,360", "--centre", "0.45,0.32"]
    )
    assert code == 0 and cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT) == 40
    out = tmp / "dataset"
    build_dataset(DatasetConfig(inputs=[str(clip)], output=str(out), size=64), progress=False)
    return out


def _main(args: list) -> tuple[int, list[str]]:
    """main() in-process: (exit status, the lines it wrote to stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = swap_train.main([str(a) for a in args])
        except SystemExit as e:  # argparse
            code = e.code
    return code, [ln for ln in err.getvalue().splitlines() if ln.strip()]


@pytest.fixture(scope="session")
def swap_run(tmp_path_factory, sample_dataset: Path, astronaut_dataset: Path) -> SimpleNamespace:
    """A tiny swap model: interrupted after INTERRUPT_AT steps, then resumed to STEPS."""
    run_dir = tmp_path_factory.mktemp("swap") / "run"
    args = [
        sample_dataset,
        astronaut_dataset,
        "-o",
        run_dir,
        *TINY,
        "--steps",
        STEPS,
        "--checkpoint-every",
        100,
        "--val-every",
        VAL_EVERY,
        "-q",
    ]

    def interrupt(step: int) -> None:
        if step == INTERRUPT_AT:
            raise KeyboardInterrupt

    cap = os.environ.pop(loop.MAX_STEPS_ENV, None)
    loop.after_step_hook = interrupt
    try:
        code, err = _main(args)
        first_bundle = json.loads((run_dir / "model" / "bundle.json").read_text())
        first_ckpt = sorted(p.name for p in (run_dir / "ckpt").glob("ckpt-*.index"))
        loop.after_step_hook = None
        summary = core.train(SWAP, core.parse_args(SWAP, [str(a) for a in args]))
    finally:
        loop.after_step_hook = None
        if cap is not None:
            os.environ[loop.MAX_STEPS_ENV] = cap
    return SimpleNamespace(
        run_dir=run_dir,
        model=run_dir / "model",
        args=args,
        first=(code, err, first_bundle, first_ckpt),
        summary=summary,
    )


# --- the crop, the hull and the warp: numbers, no TensorFlow ---


def test_crop_matrix_maps_the_canonical_face_between_crops():
    dataset = {"mode": "aligned", "crop_scale": 2.6, "centre_y": 0.5}
    swap = swap_alignment(2.2, 0.6)
    m = crop_matrix(dataset, 128, swap, 64)
    # Canonical points (eye-widths, eyes at y = 0) in each crop's pixels.
    in_dataset = lambda u: (np.asarray(u) - [0, 0.5]) * 128 / 2.6 + 64  # noqa: E731
    in_swap = lambda u: (np.asarray(u) - [0, 0.6]) * 64 / 2.2 + 32  # noqa: E731
    canon = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, 0.5], [0.28, 0.85], [0.0, 1.4]])
    np.testing.assert_allclose(transform_points(in_dataset(canon), m), in_swap(canon), atol=1e-4)
    check_crop_fits(dataset, swap, "the dataset")
    with pytest.raises(InputError, match="reaches past"):
        check_crop_fits(dataset, swap_alignment(2.5, 0.6), "the dataset")


def test_hull_mask_fills_the_points_hull_grown_a_little():
    square = np.array([[20, 20], [44, 20], [44, 44], [20, 44], [32, 32]], np.float32)
    square = np.concatenate([square] * 14)[:68]
    mask = hull_mask(square, 64, forehead=0.0)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    assert mask[20:45, 20:45].all()  # inside the hull
    assert mask[18, 32] == 255 and mask[32, 18] == 255  # grown by 2 px at 64
    assert not mask[:15].any() and not mask[:, 50:].any()


def test_warp_is_smooth_and_the_identity_without_noise():
    rng = np.random.default_rng(0)
    grid = np.arange(64, dtype=np.float32)
    mx, my = random_warp_maps(64, rng, sigma=0.0)
    np.testing.assert_array_equal(mx, np.broadcast_to(grid, (64, 64)))
    np.testing.assert_array_equal(my, np.broadcast_to(grid[:, None], (64, 64)))
    mx, my = random_warp_maps(64, rng)
    dx, dy = mx - grid, my - grid[:, None]
    assert 0.5 < np.abs(dx).max() < 12 and 0.5 < np.abs(dy).max() < 12
    # Smooth: neighbours move almost alike (a 5×5 grid interpolated over 80 px).
    assert np.abs(np.diff(dx, axis=1)).max() < 1.0 and np.abs(np.diff(dy, axis=0)).max() < 1.0


def test_the_loss_mask_covers_the_brows_and_a_band_above_them(astronaut_dataset):
    dataset = find_swap_dataset(astronaut_dataset, "user")
    banded = load_faces(dataset, "train", swap_alignment(), 64)
    hull_only = load_faces(dataset, "train", swap_alignment(), 64, forehead=0.0)
    for i in range(0, len(banded), 5):
        points, band, hull = banded.points[i], banded.masks[i] > 0, hull_only.masks[i] > 0
        raised = face_outline(points)[68:]
        lift = np.linalg.norm(raised - points[17:27], axis=1) / inter_ocular(points)
        np.testing.assert_allclose(lift, FOREHEAD, rtol=1e-6)
        assert (raised[:, 1] < points[17:27, 1]).all()  # above the brows: she is upright
        assert (band >= hull).all() and band.sum() > 1.1 * hull.sum()
        # Three quarters of the way from the inner brows to the band's top: learned now, not before.
        brows, top = (points[21] + points[22]) / 2, (raised[4] + raised[5]) / 2
        x, y = np.round(brows + 0.75 * (top - brows)).astype(int)
        assert band[y, x] and not hull[y, x]
    # The band follows the head's roll: the outline of a rotated face is the rotated outline.
    points = banded.points[0].astype(np.float64)
    turn = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    np.testing.assert_allclose(face_outline(points @ turn.T), face_outline(points) @ turn.T)
    assert face_outline(points, 0.0).shape == (68, 2)


def test_warp_keeps_the_face_inside_and_moves_face_and_mask_alike(astronaut_dataset):
    dataset = find_swap_dataset(astronaut_dataset, "user")
    # The 68 points' hull: the forehead band may reach the crop's top, where the blend stops too.
    faces = load_faces(dataset, "train", swap_alignment(), 64, forehead=0.0)
    border = np.ones((64, 64), bool)
    border[2:-2, 2:-2] = False
    inside = [i for i, m in enumerate(faces.masks) if not m[border].any()]
    assert len(inside) >= 0.9 * len(faces)  # the swap crop holds the whole face
    rng = np.random.default_rng(1)
    for n in range(60):
        i = inside[n % len(inside)]
        mask = faces.masks[i]
        # A picture of the mask goes through the same affine as the mask: the same pixels.
        warped, target, target_mask = augment(np.repeat(mask[..., None], 3, -1), mask, rng)
        np.testing.assert_array_equal(target[..., 0], target_mask)
        kept = target_mask.sum() / mask.sum()
        assert 0.85 < kept < 1.15, kept  # the zoom is ±5 %: the face is not pushed out
        a, b = warped[..., 0] > 127, target_mask > 127
        assert (a & b).sum() / (a | b).sum() > 0.75  # the warp bends the face, does not move it
        assert not (warped[..., 0][border] > 127).all()
    # And the photo moves with them: where the mask is, the warped face is the face.
    image, mask = faces.images[inside[0]], faces.masks[inside[0]]
    _, target, target_mask = augment(image, mask, np.random.default_rng(2), warp_inputs=False)
    assert target.shape == image.shape and target_mask.shape == mask.shape


def test_pixel_shuffle_is_depth_to_space():
    import keras
    import tensorflow as tf

    from gan.kinds.swap.models import pixel_shuffle

    x = np.random.default_rng(0).normal(size=(2, 4, 5, 12)).astype(np.float32)
    inputs = keras.Input((4, 5, 12))
    model = keras.Model(inputs, pixel_shuffle(inputs, 2))
    np.testing.assert_array_equal(np.asarray(model(x)), tf.nn.depth_to_space(x, 2).numpy())


# --- a tiny real run ---


def test_tiny_swap_trains_resumes_and_writes_its_bundle(swap_run):
    code, err, first_bundle, first_ckpt = swap_run.first
    assert code == 130
    assert len(err) == 1 and err[0].startswith(f"{PROG}: interrupted"), err
    assert first_ckpt == [f"ckpt-{INTERRUPT_AT}.index"] and first_bundle["steps"] == INTERRUPT_AT

    s = swap_run.summary
    assert (s["start_step"], s["step"], s["optimizer_iterations"]) == (INTERRUPT_AT, STEPS, STEPS)
    # Resumed before the GAN's start, the run starts it where one without a break does: the
    # discriminators trained on the last STEPS - GAN_START steps alone.
    assert s["disc_optimizer_iterations"] == STEPS - GAN_START
    info = json.loads((swap_run.model / "bundle.json").read_text())
    assert (info["format"], info["version"], info["kind"]) == ("face-mirror-model", 1, "swap")
    assert (info["size"], info["mode"], info["steps"]) == (64, "aligned", STEPS)
    assert info["alignment"] == {"mode": "aligned", "crop_scale": 2.2, "centre_y": 0.6}
    assert info["forehead"] == FOREHEAD  # the region the decoder learned, which the app blends
    assert np.asarray(info["reference_shape"]).shape == (68, 2)
    assert 0 < np.min(info["reference_shape"]) and np.max(info["reference_shape"]) < 64
    assert len(info["target_descriptor"]) == 128 and len(info["user_descriptor"]) == 128
    assert info["target_descriptor"] != info["user_descriptor"]
    # The default model is the sharp recipe: a variational code, SSIM and squared error, a light
    # discriminator per person from the unwarped half.
    assert (info["recipe"], info["variational"], info["loss"]) == ("sharp", True, "dssim-mse")
    assert info["adversarial_weight"] == ADVERSARIAL_WEIGHT
    assert set(info["metrics"]) == {"val_l1_target", "val_l1_user", "val_kl"}
    assert 0 < info["metrics"]["val_l1_target"] < 1 and 0 < info["metrics"]["val_l1_user"] < 1
    assert 0 <= info["metrics"]["val_kl"] < np.inf
    assert info["validation"]["split"] == {"target": "val", "user": "val"}
    assert info["drawing"] and set(info["datasets"]) == {"target", "user"}
    from gan.bundle.files import sha256_of

    assert {TARGET_FILE, USER_FILE} <= set(info["files"])
    for name, record in info["files"].items():
        path = swap_run.model / name
        assert record == {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    run_dir = swap_run.run_dir
    assert sorted(p.name for p in (run_dir / "previews").iterdir()) == [
        f"step_{VAL_EVERY:07d}.png",
        f"step_{STEPS:07d}.png",
    ]
    assert list((run_dir / "logs").iterdir())
    assert json.loads((run_dir / "config.json").read_text())["width"] == 8


def test_swap_bundle_round_trips_uint8_and_deterministic(swap_run):
    bundle = load_swap_bundle(swap_run.model, backend="keras")
    assert isinstance(bundle, SwapBundle) and bundle.kind == "swap"
    assert (bundle.size, bundle.mode, bundle.steps, bundle.backend) == (
        64,
        "aligned",
        STEPS,
        "keras",
    )
    assert bundle.reference_shape.shape == (68, 2) and bundle.reference_shape.dtype == np.float32
    assert bundle.alignment["crop_scale"] == 2.2 and bundle.backend_label.startswith("Keras")
    assert bundle.forehead == FOREHEAD
    crops = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    out = bundle(crops)
    assert out.shape == crops.shape and out.dtype == np.uint8
    assert np.array_equal(bundle(crops), out)  # deterministic
    assert np.array_equal(bundle(crops[1]), out[1])  # single crop, and batch-independent
    mine = bundle.reconstruct(crops)
    assert mine.shape == crops.shape and mine.dtype == np.uint8
    assert not np.array_equal(mine, out)  # two decoders
    with pytest.raises(ValueError, match="uint8"):
        bundle(crops.astype(np.float32))
    if importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime"):
        assert {TARGET_ONNX, USER_ONNX} <= set(bundle.info["files"])  # the final save exports
        onnx = load_swap_bundle(swap_run.model)  # auto takes ONNX when the bundle has it
        assert onnx.backend == "onnx" and onnx.backend_label.startswith("ONNX Runtime")
        assert np.abs(onnx(crops).astype(int) - out).max() <= 1
        assert np.abs(onnx.reconstruct(crops).astype(int) - mine).max() <= 1


def test_the_bundle_draws_the_eyes_of_the_crops_it_is_given(swap_run):
    """The default recipe's bundle (--eyes drawn): the user's crops and their points in, the
    network fed the drawing training fed it (common.eyes, the user's eye_scale)."""
    from test_swap_eyes import face_points

    from common.eyes import CHANNELS, draw_eyes
    from gan.bundle.pictures import to_model_range, to_uint8

    bundle = load_swap_bundle(swap_run.model, backend="keras")
    assert bundle.eyes == "drawn" and bundle.steps == STEPS
    assert set(bundle.info["eye_scale"]) == {"target", "user"} and bundle.eye_scale > 0
    crops = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    points = np.stack([face_points(4.0), face_points(0.5)])
    x = to_model_range(draw_eyes(crops, points, bundle.eye_scale))
    assert np.array_equal(bundle.inputs(points)(crops), x) and x.shape[-1] == CHANNELS
    want = to_uint8(bundle.raw(x))  # the network takes the four channels
    assert np.abs(bundle(crops, points).astype(int) - want).max() <= 1
    assert np.array_equal(bundle(crops[1], points[1]), bundle(crops, points)[1])
    # The points matter: the eyes drawn open and shut are two inputs (the network's answer to
    # them, after 6 steps, may not differ yet).
    swapped = np.stack([points[1], points[0]])
    assert not np.array_equal(bundle.inputs(points)(crops), bundle.inputs(swapped)(crops))
    assert bundle.reconstruct(crops, points).shape == crops.shape
    # A blank warm-up crop without points: its own eyes, no drawing.
    assert np.array_equal(bundle.inputs(None)(crops), to_model_range(draw_eyes(crops, None)))
    assert bundle(crops).shape == crops.shape
    with pytest.raises(ValueError, match="uint8"):
        bundle(crops.astype(np.float32), points)


def test_the_app_loads_a_swap_bundle(swap_run):
    from app.model import load_model

    bundle = load_model(swap_run.model, backend="keras")
    assert isinstance(bundle, SwapBundle) and bundle.steps == STEPS


def test_another_runs_settings_are_refused_and_the_step_cap_applies(
    swap_run, tmp_path, monkeypatch, sample_dataset, astronaut_dataset
):
    code, err = _main([*swap_run.args, "--width", 16])
    assert code == 2 and len(err) == 1, err
    assert "holds another run (width differ; it has width=8)" in err[0], err

    monkeypatch.setenv(loop.MAX_STEPS_ENV, "2")
    args = [sample_dataset, astronaut_dataset, "-o", tmp_path / "run", *TINY, "--no-onnx"]
    summary = core.train(SWAP, core.parse_args(SWAP, [str(a) for a in args]))
    assert summary["step"] == 2 and summary["total_steps"] == 2
    files = json.loads((tmp_path / "run" / "model" / "bundle.json").read_text())["files"]
    assert set(files) == {TARGET_FILE, USER_FILE}


# --- the user's mistakes: one line, exit 2, before TensorFlow ---


@pytest.fixture(scope="module")
def wrong_datasets(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("wrong")
    big = make_face_mirror(root / "big", size=128, n_train=2, n_val=1)
    frame = make_face_mirror(root / "frame", size=64, n_train=2, n_val=1)
    manifest = json.loads((frame / "manifest.json").read_text())
    (frame / "manifest.json").write_text(json.dumps({**manifest, "mode": "frame"}))
    plain = make_aligned(root / "facades", size=64, n=2)
    bundle = root / "bundle"
    bundle.mkdir()
    (bundle / "bundle.json").write_text(
        json.dumps({"format": "face-mirror-model", "version": 1, "size": 64})
    )
    return SimpleNamespace(big=big, frame=frame, plain=plain, bundle=bundle, root=root)


@pytest.mark.parametrize(
    ("target", "user", "message"),
    [
        ("sample", "missing", "user dataset: dataset not found"),
        ("missing", "sample", "target dataset: dataset not found"),
        ("sample", "big", "crops differ: target"),
        ("sample", "frame", "--mode frame"),
        ("plain", "sample", "plain pix2pix A|B folder"),
        ("sample", "bundle", "is a model bundle"),
        ("sample", "sample", "the same dataset"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(
    target, user, message, wrong_datasets, sample_dataset, tmp_path
):
    paths = {
        "sample": sample_dataset,
        "missing": tmp_path / "nowhere",
        "big": wrong_datasets.big,
        "frame": wrong_datasets.frame,
        "plain": wrong_datasets.plain,
        "bundle": wrong_datasets.bundle,
    }
    code, err = _main([paths[target], paths[user], "-o", tmp_path / "run", "-q"])
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"{PROG}: error: ") and message in err[0], err
    assert not (tmp_path / "run").exists()


def test_swap_code_refuses_a_pix2pix_bundle_and_back(wrong_datasets, swap_run, capsys):
    pix2pix = wrong_datasets.bundle  # bundle.json without a kind: written before kinds
    with pytest.raises(InputError, match="is a pix2pix bundle; this needs a swap bundle"):
        require_kind(json.loads((pix2pix / "bundle.json").read_text()), "swap", pix2pix)
    assert run_command(PROG, lambda: load_swap_bundle(pix2pix)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{PROG}: error: {pix2pix} is a pix2pix bundle; this needs a swap bundle"]
    info = json.loads((swap_run.model / "bundle.json").read_text())
    with pytest.raises(InputError, match="is a swap bundle; this needs a pix2pix bundle"):
        require_kind(info, "pix2pix", swap_run.model)
