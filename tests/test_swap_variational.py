"""train-swap's options: the variational bottleneck (its KL term falls, its bundle is plain and
deterministic) and the VAE-GAN's discriminators, on the sample and the astronaut."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import reenact_changes  # noqa: E402
from test_swap_train import TINY, _main  # noqa: E402

from gan.core import loop  # noqa: E402
from gan.core import main as core  # noqa: E402
from gan.core.run_dir import prepare_run_dir  # noqa: E402
from gan.errors import InputError  # noqa: E402
from gan.kinds.swap.bundle import TARGET_FILE, TARGET_ONNX, USER_FILE  # noqa: E402
from gan.kinds.swap.kind import KIND as SWAP  # noqa: E402
from gan.kinds.swap.kind import KL_WEIGHT  # noqa: E402

PROG = SWAP.prog
KL_STEPS = 30
STEPS = 4


def test_the_kl_term_is_finite_and_falls(sample_dataset, astronaut_clip_dataset, tmp_path):
    """The trainer itself, step by step: with --kl-weight 1 the KL pulls the codes to N(0, 1)."""
    import keras

    from gan.core.devices import choose_devices

    args = [sample_dataset, astronaut_clip_dataset, "-o", tmp_path / "run", *TINY, "--variational"]
    more = ["--kl-weight", "1", "--adversarial-weight", "0"]  # the VAE alone
    cfg, read = SWAP.prepare(core.parse_args(SWAP, [*map(str, args), *more]))
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    trainer = SWAP.build(cfg, read(), choose_devices("off", "off"))
    assert trainer.net.variational and "expand" in trainer.checkpoint
    assert "disc_target" not in trainer.checkpoint  # no discriminators without their weight
    feed = iter(trainer.batches(0))
    kl = []
    for _ in range(KL_STEPS):
        values = {k: float(v) for k, v in trainer.train_step(*next(feed)).items()}
        assert set(values) == {"target_l1", "user_l1", "kl"}
        kl.append(values["kl"])
    assert np.isfinite(kl).all() and min(kl) >= 0
    assert np.mean(kl[-3:]) < 0.5 * np.mean(kl[:3]), kl
    found = trainer.validate(KL_STEPS)
    assert 0 <= found.metrics["val_kl"] < kl[0] and "KL" in found.line
    assert set(trainer.progress(values)) == {"target", "user", "kl"}


@pytest.fixture(scope="module")
def vae_gan(tmp_path_factory, sample_dataset, astronaut_clip_dataset):
    """A tiny VAE-GAN run to STEPS, with its ONNX export."""
    run_dir = tmp_path_factory.mktemp("vae") / "run"
    plain = [sample_dataset, astronaut_clip_dataset, "-o", run_dir, *TINY, "--steps", STEPS, "-q"]
    args = [*plain, "--val-every", STEPS, "--recipe", "vae-gan", "--adversarial-weight", "0.1"]
    cap = os.environ.pop(loop.MAX_STEPS_ENV, None)
    try:
        summary = core.train(SWAP, core.parse_args(SWAP, [str(a) for a in args]))
    finally:
        if cap is not None:
            os.environ[loop.MAX_STEPS_ENV] = cap
    # The plain autoencoder, both options off: the same run folder holds another run.
    return run_dir, [*plain, "--no-variational", "--adversarial-weight", "0"], summary


def checkpointed(run_dir: Path) -> set[str]:
    """The names of what the run's latest checkpoint holds (its root's children)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    reader = tf.train.load_checkpoint(str(run_dir / "ckpt"))
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return {child.local_name for child in graph.nodes[0].children}


def test_a_vae_gan_bundle_is_plain_deterministic_and_exports(vae_gan):
    from gan.bundle.onnx import TOLERANCE
    from gan.bundle.registry import load_bundle

    run_dir, _, summary = vae_gan
    assert summary["optimizer_iterations"] == summary["disc_optimizer_iterations"] == STEPS
    info = json.loads((run_dir / "model" / "bundle.json").read_text())
    assert (info["variational"], info["kl_weight"], info["adversarial_weight"]) == (
        True,
        KL_WEIGHT,
        0.1,
    )
    assert set(info["metrics"]) == {"val_l1_target", "val_l1_user", "val_kl"}
    assert np.isfinite(list(info["metrics"].values())).all()
    assert {"expand", "disc_target", "disc_user", "disc_optimizer"} < checkpointed(run_dir)

    keras_bundle = load_bundle(run_dir / "model", backend="keras")  # safe mode: plain layers
    crops = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    out = keras_bundle(crops)
    assert out.shape == crops.shape and np.array_equal(keras_bundle(crops), out)
    assert np.array_equal(keras_bundle(crops[1]), out[1])  # one crop alone: the same face
    assert not np.array_equal(keras_bundle.reconstruct(crops), out)
    import keras

    swap = keras.saving.load_model(run_dir / "model" / TARGET_FILE, safe_mode=True)
    assert [layer.name for layer in swap.layers] == [
        "face",
        "encoder_mu",
        "expand",
        "decoder_target",
    ]
    assert "logvar" not in [layer.name for layer in swap.get_layer("encoder_mu").layers]
    if TARGET_ONNX not in info["files"]:
        pytest.skip("tf2onnx or onnxruntime is not installed")
    onnx_bundle = load_bundle(run_dir / "model", backend="onnx")
    x = crops.astype(np.float32) / 127.5 - 1.0
    diff = np.abs(onnx_bundle.raw(x) - keras_bundle.raw(x)).max()
    assert diff <= TOLERANCE, diff
    assert {TARGET_FILE, USER_FILE} <= set(info["files"])


def test_the_options_make_another_run_and_an_old_config_is_a_plain_one(vae_gan, tmp_path):
    run_dir, plain, _ = vae_gan
    code, err = _main(plain)  # the same run folder
    assert code == 2 and len(err) == 1, err
    assert "holds another run (variational, adversarial_weight differ" in err[0], err
    assert "it has variational=True, adversarial_weight=0.1)" in err[0], err  # what resumes it
    # A config.json from before the options: a plain autoencoder without discriminators.
    old = json.loads((run_dir / "config.json").read_text())
    for name in ("variational", "kl_weight", "adversarial_weight"):
        del old[name]
    plain = {**old, "variational": False, "kl_weight": KL_WEIGHT, "adversarial_weight": 0.0}
    (tmp_path / "config.json").write_text(json.dumps(old))
    prepare_run_dir(tmp_path, plain, SWAP.identity, False, SWAP.saved_defaults)
    (tmp_path / "config.json").write_text(json.dumps(old))
    with pytest.raises(InputError, match=r"\(variational differ; it has variational=False\)"):
        prepare_run_dir(
            tmp_path, {**plain, "variational": True}, SWAP.identity, False, SWAP.saved_defaults
        )


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--kl-weight", "-1"), ("--adversarial-weight", "-0.5"), ("--kl-weight", "nan")],
)
def test_bad_weights_are_one_line_and_exit_2(
    flag,
    value,
    sample_dataset,
    astronaut_clip_dataset,
    tmp_path,
):
    run = tmp_path / "run"
    code, err = _main([sample_dataset, astronaut_clip_dataset, "-o", run, *TINY, flag, value])
    assert code == 2 and len(err) == 1, err
    assert err[0] == f"{PROG}: error: {flag} must be a number, 0 or more", err
    assert not run.exists()


def test_the_plain_networks_are_the_ones_before_the_options():
    assert {"variational", "kl_weight", "adversarial_weight"} <= set(SWAP.identity)
    # Off, the networks are today's: old checkpoints restore, old bundles load.
    from gan.kinds.swap.models import swap_networks

    net = swap_networks(64, 8, 32)
    assert net.expand is None and not net.variational
    assert [layer.name for layer in net.to_target.layers] == ["face", "encoder", "decoder_target"]
    convs = [name for i in range(1, 5) for name in (f"conv{i}", f"conv{i}_act")]
    assert [layer.name for layer in net.encoder.layers] == [
        "face",
        *convs,
        "flatten",
        "bottleneck",
        "expand",
        "unflatten",
        "up0",
        "up0_act",
        "up0_shuffle_split",
        "up0_shuffle_interleave",
        "up0_shuffle",
    ]


def test_a_vae_gan_bundle_through_reenact_changes_only_the_face(vae_gan, astronaut_clip, tmp_path):
    run_dir, _, _ = vae_gan
    inside, outside = reenact_changes(run_dir / "model", astronaut_clip, tmp_path)
    assert inside > 0.2 and outside < 0.002
