"""The swap's training step as it is computed, against the arithmetic it stands for: the fused
Adam against Keras' Adam (and a checkpoint of either restoring into the other), both people's
faces through the shared encoder and the loss map at once against each alone, and the
discriminator's one call on real and fake faces against two."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from gan.core.schedule import fused_adam, linear_decay_schedule  # noqa: E402
from gan.faces.losses import face_dssim_mse, face_l1  # noqa: E402
from gan.kinds.swap.models import swap_networks  # noqa: E402
from gan.kinds.swap.trainer import people_terms  # noqa: E402
from gan.kinds.swap.variational import Discriminators, adversarial  # noqa: E402


def _adam_run(make_optimizer, steps: int = 15) -> tuple[list[np.ndarray], object]:
    """Weights after `steps` updates with the same gradients, and the optimizer."""
    rng = np.random.default_rng(1)
    weights = [
        keras.Variable(rng.normal(size=(6, 5)).astype("float32")),
        keras.Variable(np.zeros(5, "float32")),
    ]
    opt = make_optimizer()
    opt.build(weights)

    @tf.function
    def update(grads):
        opt.apply(grads, weights)

    for _ in range(steps):
        update([tf.constant(rng.normal(size=w.shape).astype("float32")) for w in weights])
    return [w.numpy() for w in weights], opt


@pytest.mark.parametrize("rate", ["constant", "decaying"])
def test_the_fused_adam_updates_as_keras_adam_does(rate):
    def lr():
        return 1e-2 if rate == "constant" else linear_decay_schedule(1e-2, 20)

    expected, _ = _adam_run(lambda: keras.optimizers.Adam(lr(), beta_1=0.5))
    found, opt = _adam_run(lambda: fused_adam(lr(), 0.5))
    assert type(opt).__name__ == "FusedAdam"
    for a, b in zip(expected, found, strict=True):
        assert np.abs(a - b).max() < 1e-5
    assert np.abs(found[0] - _adam_run(lambda: fused_adam(lr(), 0.5), 14)[0][0]).max() > 1e-4


def test_a_checkpoint_of_keras_adam_restores_into_the_fused_one(tmp_path):
    _, before = _adam_run(lambda: keras.optimizers.Adam(1e-2, beta_1=0.5))
    path = tf.train.Checkpoint(opt=before).save(str(tmp_path / "ckpt"))
    _, after = _adam_run(lambda: fused_adam(1e-2, 0.5), steps=3)
    tf.train.Checkpoint(opt=after).restore(path).assert_consumed()
    assert int(after.iterations) == 15
    for a, b in zip(before.variables, after.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _faces(rng, n: int, channels: int = 3) -> tf.Tensor:
    return tf.constant(rng.uniform(-1, 1, size=(n, 64, 64, channels)).astype("float32"))


@pytest.mark.parametrize("loss", ["l1", "dssim-mse"])
def test_both_people_at_once_give_each_persons_terms_alone(loss):
    """A plain autoencoder (no sampling): the shared encoder and the loss map run on both
    people's faces put together, and each person's terms are what their faces alone give."""
    keras.utils.set_random_seed(0)
    net = swap_networks(64, 4, 16, variational=False, eyes=True)
    rng = np.random.default_rng(0)
    n = 3
    masks = [tf.constant((rng.random((n, 64, 64, 1)) > 0.3).astype("float32")) for _ in "tu"]
    people = [
        (_faces(rng, n, 4), _faces(rng, n) * k, m) for k, m in zip((1.0, 0.1), masks, strict=True)
    ]
    face = {"l1": face_l1, "dssim-mse": face_dssim_mse}[loss]
    t, u = people_terms(net, None, tuple(people), loss)
    for terms, decoder, (x, y, m) in zip(
        (t, u), (net.decoder_target, net.decoder_user), people, strict=True
    ):
        alone = face(net.decode(decoder, net.encoder(x, training=True), x, training=True), y, m)
        assert float(terms["l1"]) == pytest.approx(float(alone), rel=1e-5)
        assert set(terms) == {"l1"}
    assert float(t["l1"]) != pytest.approx(float(u["l1"]), rel=1e-3)


def test_the_variational_terms_are_each_persons_own_kl():
    keras.utils.set_random_seed(0)
    net = swap_networks(64, 4, 16, variational=True, eyes=False)
    rng = np.random.default_rng(0)
    ones = tf.ones((2, 64, 64, 1))
    people = ((_faces(rng, 2), _faces(rng, 2), ones), (_faces(rng, 2) * 0.2, _faces(rng, 2), ones))
    t, u = people_terms(net, None, people, "l1")
    from gan.kinds.swap.variational import kl_divergence

    for terms, (x, _, _) in zip((t, u), people, strict=True):
        mu, logvar = net.encoder(x, training=True)
        assert float(terms["kl"]) == pytest.approx(float(kl_divergence(mu, logvar)), rel=1e-5)
    assert float(t["kl"]) != pytest.approx(float(u["kl"]), rel=1e-3)


def test_one_discriminator_call_judges_as_two_would():
    from gan.blocks import gan_loss

    keras.utils.set_random_seed(0)
    discs = Discriminators.build(64, 8, keras.optimizers.Adam(1e-3), layers_down=1)
    rng = np.random.default_rng(0)
    fake, real = _faces(rng, 3), _faces(rng, 3)
    weights = tf.constant((rng.random((3, 64, 64, 1)) > 0.5).astype("float32"))
    g_loss, d_loss = adversarial(discs.target, fake, real, weights)
    d_real = discs.target(real * weights, training=True)
    d_fake = discs.target(fake * weights, training=True)
    assert float(g_loss) == pytest.approx(float(gan_loss(d_fake, True, "lsgan")), rel=1e-5)
    two = 0.5 * (gan_loss(d_real, True, "lsgan") + gan_loss(d_fake, False, "lsgan"))
    assert float(d_loss) == pytest.approx(float(two), rel=1e-5)


MIRRORED_ADAM = """
import sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from gan.core.schedule import fused_adam

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
found = []
for make in (lambda: keras.optimizers.Adam(1e-2, beta_1=0.5), lambda: fused_adam(1e-2, 0.5)):
    with strategy.scope():
        w = keras.Variable(np.arange(6, dtype="float32").reshape(2, 3))
        opt = make()
        opt.build([w])

    @tf.function
    def step():
        def replica():  # each replica its own gradient: the update takes their sum
            r = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.float32)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(w.value - r))
            opt.apply(tape.gradient(loss, [w.value]), [w])
        strategy.run(replica)

    for _ in range(5):
        step()
    copies = [np.asarray(v) for v in strategy.experimental_local_results(w.value)]
    assert np.array_equal(copies[0], copies[1]), copies
    found.append(copies[0])
moved = np.abs(found[1].ravel() - np.arange(6)).max()
print(float(np.abs(found[0] - found[1]).max()), float(moved))
"""


def test_the_fused_adam_updates_every_replica_alike():
    """Two replicas (MirroredStrategy over two logical CPUs, in a process of its own): the fused
    update leaves both copies of a weight equal, and equal to Keras' Adam's."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(
        [sys.executable, "-c", MIRRORED_ADAM], capture_output=True, text=True, env=env, cwd=root
    )
    assert run.returncode == 0, run.stderr[-3000:]
    apart, moved = (float(v) for v in run.stdout.split())
    assert apart < 1e-5 and moved > 1e-3
