"""train-pix2pix end to end on tiny synthetic datasets: learning, resume, bundles, bad input."""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from test_gan_synthetic import make_aligned, make_face_mirror  # noqa: E402

from gan import metrics  # noqa: E402
from gan.bundle import load_bundle  # noqa: E402
from gan.bundle.pictures import predict_uint8  # noqa: E402
from gan.core import loop  # noqa: E402
from gan.core import main as core  # noqa: E402
from gan.core.dataset import find_dataset  # noqa: E402
from gan.kinds.drawing import bench, losses, train  # noqa: E402
from gan.kinds.drawing.data import load_pairs  # noqa: E402
from gan.kinds.drawing.kind import KIND, PRESETS  # noqa: E402
from gan.kinds.drawing.models import Generator  # noqa: E402

TINY = ["--size", "64", "--ngf", "8", "--ndf", "8"]


def run(args, capsys) -> tuple[int, str]:
    """main() in-process: (exit status, stderr without progress bars)."""
    try:
        code = train.main([str(a) for a in args])
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    lines = [
        ln
        for ln in err.replace("\r", "\n").splitlines()
        if ln.strip()
        and not ln.startswith("train-pix2pix: ")
        or "error" in ln
        or "interrupted" in ln
    ]
    return code, "\n".join(lines)


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("train-pix2pix: ")]


@pytest.fixture(scope="module")
def face_dataset(tmp_path_factory):
    return make_face_mirror(tmp_path_factory.mktemp("face") / "ds", size=64, n_train=8, n_val=4)


@pytest.fixture(autouse=True)
def _no_hook(monkeypatch):
    monkeypatch.setattr(loop, "after_step_hook", None)
    monkeypatch.delenv(loop.MAX_STEPS_ENV, raising=False)


def test_tiny_model_learns_and_bundle_round_trips(face_dataset, tmp_path, capsys):
    info = find_dataset(face_dataset)
    a, b = load_pairs(info.train_files, 64)
    keras.utils.set_random_seed(0)
    before = metrics.l1(predict_uint8(Generator(64, 16), a), b)

    code, err = run(
        [
            face_dataset,
            "-o",
            tmp_path / "run",
            "--size",
            64,
            "--ngf",
            16,
            "--ndf",
            16,
            "--steps",
            250,
            "--no-jitter",
            "--lr",
            1e-3,
            "--checkpoint-every",
            100,
            "--val-every",
            125,
            "--recipe",
            "pix2pix",
        ],
        capsys,
    )
    assert code == 0, err
    bundle = load_bundle(tmp_path / "run" / "model")
    after = metrics.l1(bundle(a), b)
    assert after < 0.5 * before, (before, after)

    assert (bundle.size, bundle.mode, bundle.steps) == (64, "aligned", 250)
    assert bundle.drawing == {"thickness": 1, "color": [255, 255, 255]}
    assert bundle.alignment == {"margin": 0.4}
    np.testing.assert_allclose(bundle.reference_shape, info.reference_shape, rtol=1e-6)
    assert set(bundle.metrics) >= {"val_l1", "val_psnr", "val_ssim"}
    assert bundle.info["ngf"] == 16 and bundle.info["direction"] == "AtoB"
    np.testing.assert_array_equal(bundle(a), bundle(a))
    run_dir = tmp_path / "run"
    assert json.loads((run_dir / "config.json").read_text())["ngf"] == 16
    assert sorted(p.name for p in (run_dir / "previews").iterdir()) == [
        "step_0000125.png",
        "step_0000250.png",
    ]
    assert list((run_dir / "logs").iterdir())


def test_interrupt_then_resume_continues_steps_and_optimizer(
    face_dataset, tmp_path, capsys, monkeypatch
):
    def interrupt(step):
        if step == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "after_step_hook", interrupt)
    args = [
        face_dataset,
        "-o",
        tmp_path / "run",
        *TINY,
        "--steps",
        8,
        "--checkpoint-every",
        100,
        "--val-every",
        100,
    ]
    code, err = run(args, capsys)
    assert code == 130
    assert len(error_lines(err)) == 1 and "interrupted" in err and "Traceback" not in err
    assert tf.train.latest_checkpoint(tmp_path / "run" / "ckpt").endswith("ckpt-5")
    info = json.loads((tmp_path / "run" / "model" / "bundle.json").read_text())
    assert info["steps"] == 5 and info["recipe"] == "reference" and info["ema"] > 0
    # The default recipe's weight average is part of the checkpoint, so a resumed run goes on
    # averaging instead of starting the average afresh.
    saved = [
        name
        for name, _ in tf.train.list_variables(
            tf.train.latest_checkpoint(tmp_path / "run" / "ckpt")
        )
    ]
    assert any(name.startswith("ema_generator/") for name in saved)

    monkeypatch.setattr(loop, "after_step_hook", None)
    summary = core.train(KIND, core.parse_args(KIND, [str(a) for a in args]))
    assert (summary["start_step"], summary["step"]) == (5, 8)
    assert summary["g_optimizer_iterations"] == summary["d_optimizer_iterations"] == 8


def test_plain_ab_folder_trains_btoa(tmp_path, capsys):
    root = make_aligned(tmp_path / "facades", size=64, n=4, ext=".jpg", swap=True)
    code, err = run(
        [root, "-o", tmp_path / "run", *TINY, "--steps", 3, "--direction", "BtoA"], capsys
    )
    assert code == 0, err
    bundle = load_bundle(tmp_path / "run" / "model")
    assert (bundle.mode, bundle.drawing, bundle.alignment) == ("frame", {}, {})
    assert bundle.reference_shape is None and bundle.info["direction"] == "AtoB"
    # No val/ folder: validated on training pairs, and the bundle says so.
    assert bundle.info["validation"]["split"] == "train"
    assert set(bundle.metrics) == {"val_l1", "val_psnr", "val_ssim"}


def test_max_steps_env_and_resize(face_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv(loop.MAX_STEPS_ENV, "2")
    cfg = core.parse_args(
        KIND,
        [
            str(face_dataset),
            "-o",
            str(tmp_path / "run"),
            "--preset",
            "quick",
            "--size",
            "64",
            "--ngf",
            "4",
            "--ndf",
            "4",
        ],
    )
    summary = core.train(KIND, cfg)
    assert summary["step"] == 2
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["steps"] == PRESETS["quick"]["steps"] and saved["size"] == 64


def test_mixed_precision_path_exports_float32(face_dataset, tmp_path):
    cfg = core.parse_args(
        KIND,
        [
            str(face_dataset),
            "-o",
            str(tmp_path / "run"),
            *TINY,
            "--steps",
            "2",
            "--mixed-precision",
            "on",
        ],
    )
    core.train(KIND, cfg)
    assert keras.config.dtype_policy().name == "float32"  # restored for whoever runs next
    bundle = load_bundle(tmp_path / "run" / "model")
    assert bundle.model.dtype_policy.name == "float32"


def test_bad_inputs_exit_2_with_one_line(face_dataset, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    for path, words in [
        (tmp_path / "missing", "not found"),
        (tmp_path / "empty", "empty"),
        (tmp_path / "notes", "not a dataset"),
    ]:
        code, err = run([path, "-o", tmp_path / "run", *TINY], capsys)
        assert code == 2 and "Traceback" not in err
        assert len(error_lines(err)) == 1 and words in err, err
    code, err = run([face_dataset, "-o", tmp_path / "run", "--size", "100"], capsys)
    assert code == 2 and "size 100 is not supported" in err


def test_run_dir_of_another_run_is_refused_unless_force(face_dataset, tmp_path, capsys):
    code, _ = run([face_dataset, "-o", tmp_path / "run", *TINY, "--steps", 2], capsys)
    assert code == 0
    code, err = run(
        [face_dataset, "-o", tmp_path / "run", *TINY, "--steps", 2, "--lr", 1e-3], capsys
    )
    assert code == 2 and len(error_lines(err)) == 1
    assert "holds another run (lr differ; it has lr=0.0002): give those to resume it" in err
    code, err = run(
        [face_dataset, "-o", tmp_path / "run", *TINY, "--steps", 2, "--lr", 1e-3, "--force"], capsys
    )
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr"] == 1e-3


def test_nan_loss_stops_and_keeps_last_good_checkpoint(face_dataset, tmp_path, capsys, monkeypatch):
    args = [face_dataset, "-o", tmp_path / "run", *TINY, "--checkpoint-every", 2]
    assert run([*args, "--steps", 4], capsys)[0] == 0
    good = tf.train.latest_checkpoint(tmp_path / "run" / "ckpt")

    real_loss = losses.generator_loss

    def poisoned(*a, **k):
        total, gan, l1 = real_loss(*a, **k)
        return total * np.float32("nan"), gan, l1

    monkeypatch.setattr(losses, "generator_loss", poisoned)
    code, err = run([*args, "--steps", 8], capsys)
    assert code == 2 and "Traceback" not in err and len(error_lines(err)) == 1
    assert "at step 5" in err and "last good checkpoint (step 4)" in err, err
    assert tf.train.latest_checkpoint(tmp_path / "run" / "ckpt") == good
    assert load_bundle(tmp_path / "run" / "model").steps == 4


def test_bench_functions_return_numbers():
    ours = bench.time_train_steps(64, 4, 4, steps=2)
    base = bench.time_baseline_steps(64, 4, 4, steps=2)
    assert ours["ms_per_step"] > 0 and base["ms_per_step"] > 0
    assert bench.time_generator(64, 4, frames=2) > 0
    ref = bench.time_train_steps(64, 4, 4, steps=2, recipe="reference", ema=0.999)
    assert ref["ms_per_step"] > 0
    assert bench.time_generator(64, 4, frames=2, recipe="reference") > 0
