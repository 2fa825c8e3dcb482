"""Timings for scripts/bench: our compiled train step, the three-call Keras baseline, inference,
and each trainer's loop against its bare step."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gan.kinds.drawing.options import LAMBDA_L1


def _batch(
    size: int, batch_size: int, seed: int = 0, channels: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(generator inputs with `channels`, target photos), random in [-1, 1]."""
    rng = np.random.default_rng(seed)
    shape = (batch_size, size, size, 3)
    return (
        rng.uniform(-1, 1, (*shape[:3], channels)).astype(np.float32),
        rng.uniform(-1, 1, shape).astype(np.float32),
    )


def _channels(recipe: str) -> int:
    from gan.kinds.drawing.models import REFERENCE_CHANNELS

    return REFERENCE_CHANNELS if recipe == "reference" else 3


def _timed(fn, steps: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):  # tracing and first-call allocation are not steady state
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    seconds = (time.perf_counter() - t0) / steps
    return {"ms_per_step": seconds * 1e3, "steps_per_s": 1.0 / seconds}


def time_train_steps(
    size: int,
    ngf: int,
    ndf: int,
    steps: int = 10,
    batch_size: int = 1,
    warmup: int = 2,
    xla: bool = False,
    recipe: str = "pix2pix",
    ema: float = 0.0,
) -> dict[str, float]:
    """Our step (one tf.function updating D and G), the way train-pix2pix runs it; for the
    reference recipe with its wider input, masked discriminator and (`ema` > 0) weight average."""
    import keras
    import tensorflow as tf

    from gan.core.schedule import make_optimizer
    from gan.kinds.drawing.models import Discriminator, Generator
    from gan.kinds.drawing.trainer import make_train_step

    keras.utils.set_random_seed(0)
    channels = _channels(recipe)
    g, d = Generator(size, ngf, recipe), Discriminator(size, ndf, channels)
    g_opt = make_optimizer(2e-4, 10**6, mixed=False)
    d_opt = make_optimizer(2e-4, 10**6, mixed=False)
    average = None
    if ema > 0:
        average = Generator(size, ngf, recipe)
        average.set_weights(g.get_weights())
    step = make_train_step(
        g, d, g_opt, d_opt, xla=xla, recipe=recipe, ema_generator=average, ema=ema
    )
    a, b = (tf.constant(x) for x in _batch(size, batch_size, channels=channels))

    def one():
        float(step(a, b)["g_total"])  # wait for the result, as the trainer does

    return _timed(one, steps, warmup)


def time_baseline_steps(
    size: int, ngf: int, ndf: int, steps: int = 10, batch_size: int = 1, warmup: int = 2
) -> dict[str, float]:
    """The Packt chapter's step: G.predict, D.train_on_batch on real and on fake, then
    combined.train_on_batch (D frozen) with MSE + 100 * MAE; same networks as ours."""
    import keras

    from gan.kinds.drawing.models import Discriminator, Generator

    keras.utils.set_random_seed(0)
    g, d = Generator(size, ngf), Discriminator(size, ndf)
    d.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="mse", loss_weights=[0.5])
    a, b = _batch(size, batch_size)
    patch = d.output_shape[1:]
    valid = np.ones((batch_size, *patch), np.float32)
    fake_label = np.zeros((batch_size, *patch), np.float32)
    # Keras 3 captures trainable variables when a train function is first traced: trace D's
    # own step while it is trainable, then freeze it for the combined model.
    d.train_on_batch([a, b], valid)
    d.trainable = False
    drawing = keras.Input((size, size, 3))
    fake = g(drawing)
    combined = keras.Model(drawing, [d([drawing, fake]), fake])
    combined.compile(
        optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss=["mse", "mae"],
        loss_weights=[1, LAMBDA_L1],
    )

    def one():
        generated = g.predict(a, verbose=0)
        d.train_on_batch([a, b], valid)
        d.train_on_batch([a, generated], fake_label)
        combined.train_on_batch(a, [valid, b])

    return _timed(one, steps, warmup)


def time_generator(
    size: int, ngf: int, frames: int = 20, warmup: int = 2, recipe: str = "pix2pix"
) -> float:
    """Milliseconds per frame of the Keras generator under tf.function (batch 1)."""
    import keras

    from gan.bundle.backend import make_inference_fn
    from gan.kinds.drawing.models import Generator

    keras.utils.set_random_seed(0)
    infer = make_inference_fn(Generator(size, ngf, recipe))
    x = _batch(size, 1, channels=_channels(recipe))[0]
    return _timed(lambda: infer(x), frames, warmup)["ms_per_step"]


def compare(size: int, ngf: int, ndf: int, steps: int = 10) -> dict[str, float]:
    """Ours vs the baseline, side by side in one process; speedup = baseline ms / our ms."""
    ours = time_train_steps(size, ngf, ndf, steps)
    base = time_baseline_steps(size, ngf, ndf, steps)
    return {
        "ours_ms": ours["ms_per_step"],
        "baseline_ms": base["ms_per_step"],
        "speedup": base["ms_per_step"] / ours["ms_per_step"],
        "generator_ms": time_generator(size, ngf),
    }


def compare_recipes(size: int, ngf: int, ndf: int, ema: float, steps: int = 10) -> dict[str, float]:
    """The reference recipe's train step against pix2pix's at the same size and widths, in one
    process; ratio = reference ms / pix2pix ms (the data pipeline's warp is not included)."""
    plain = time_train_steps(size, ngf, ndf, steps)
    reference = time_train_steps(size, ngf, ndf, steps, recipe="reference", ema=ema)
    return {
        "pix2pix_ms": plain["ms_per_step"],
        "reference_ms": reference["ms_per_step"],
        "ratio": reference["ms_per_step"] / plain["ms_per_step"],
    }


def time_reference_inputs(bank: Any, frames: int = 50) -> float:
    """Milliseconds the reference recipe spends before its generator, per frame: retrieval, the
    piecewise-affine warp and the mask (what the live path adds to the generator's call)."""
    drawing = np.zeros((bank.size, bank.size, 3), np.uint8)
    points = bank.points[len(bank) // 2] + 1.0
    bank.inputs(drawing, points)
    t0 = time.perf_counter()
    for _ in range(frames):
        bank.inputs(drawing, points)
    return (time.perf_counter() - t0) / frames * 1e3


def time_bundle(
    model_dir: str, backend: str, frames: int = 30, warmup: int = 3, threads: int | None = None
) -> dict[str, Any]:
    """A bundle's own call (uint8 drawing in, uint8 face out, batch 1) under one backend.

    The figure the live path's generator stage is judged against: median and mean ms.
    """
    from gan.bundle import load_bundle

    bundle = load_bundle(model_dir, backend=backend, threads=threads)
    drawing = np.random.default_rng(0).integers(0, 256, (bundle.size, bundle.size, 3), np.uint8)
    points = bundle.reference_shape  # the reference recipe retrieves and warps by them
    for _ in range(warmup):
        bundle(drawing, points=points)
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        bundle(drawing, points=points)
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "backend": bundle.backend_label,
        "median_ms": float(np.median(times)),
        "mean_ms": float(np.mean(times)),
    }


def compare_backends(model_dir: str, frames: int = 30) -> dict[str, Any]:
    """Keras against ONNX Runtime on one bundle, interleaved so that load drifts hit both alike;
    outputs compared on the same drawings. speedup = Keras median ms / ONNX median ms."""
    from gan.bundle import load_bundle

    keras_runs, onnx_runs = [], []
    for _ in range(2):
        keras_runs.append(time_bundle(model_dir, "keras", frames // 2))
        onnx_runs.append(time_bundle(model_dir, "onnx", frames // 2))
    keras_ms = float(np.median([r["median_ms"] for r in keras_runs]))
    onnx_ms = float(np.median([r["median_ms"] for r in onnx_runs]))
    k, o = load_bundle(model_dir, backend="keras"), load_bundle(model_dir, backend="onnx")
    x = np.random.default_rng(1).uniform(-1, 1, (2, k.size, k.size, k.channels)).astype(np.float32)
    diff = float(np.max(np.abs(k.raw(x) - o.raw(x))))
    return {
        "keras_ms": keras_ms,
        "onnx_ms": onnx_ms,
        "speedup": keras_ms / onnx_ms,
        "onnx_backend": onnx_runs[0]["backend"],
        "max_abs_diff": diff,
    }
