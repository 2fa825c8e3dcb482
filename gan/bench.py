"""Timings for scripts/bench: our compiled train step, the three-call Keras baseline, inference,
and each trainer's loop against its bare step."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gan.options import LAMBDA_L1

KINDS = ("pix2pix", "swap")  # time_training_loop's kinds of training: train-pix2pix, train-swap


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
    from gan.models import REFERENCE_CHANNELS

    return REFERENCE_CHANNELS if recipe == "reference" else 3


def _timed(fn, steps: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):  # tracing and first-call allocation are not steady state
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    seconds = (time.perf_counter() - t0) / steps
    return {"ms_per_step": seconds * 1e3, "steps_per_s": 1.0 / seconds}


def _clocked(fn, steps: int, warmup: int = 0) -> np.ndarray:
    """(wall, CPU) seconds of `steps` calls of fn after `warmup` more: the CPU time is this
    process's, every thread, so it counts the work done and not the waits for cores that other
    processes hold."""
    for _ in range(warmup):
        fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        fn()
    return np.array([time.perf_counter() - wall, time.process_time() - cpu])


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

    from gan.models import Discriminator, Generator
    from gan.train import make_optimizer, make_train_step

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

    from gan.models import Discriminator, Generator

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

    from gan.bundle import make_inference_fn
    from gan.models import Generator

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


# --- the training loop against its bare step ---


def _pix2pix_loop(dataset: str, workdir: str) -> tuple[Any, Any]:
    """(train step, a fresh iterator of batches) of train-pix2pix's quick preset on `dataset`,
    built by the trainer's own _build: the networks, the step and the input pipeline it trains
    with."""
    from pathlib import Path

    from gan import train
    from gan.data import find_dataset

    info = find_dataset(dataset)
    cfg = train.TrainConfig(dataset, workdir, onnx=False, quiet=True).resolved(info)
    run = train._build(cfg, info, Path(workdir), cfg.steps)
    return run.train_step, lambda: iter(run.batches)


def _swap_loop(dataset: str, user: str, workdir: str) -> tuple[Any, Any]:
    """(train step, a fresh iterator of batches) of train-swap's quick preset, `dataset` the
    target and `user` the user (one folder may be both: the pipeline's cost is not who)."""
    import itertools
    from pathlib import Path

    import keras

    from gan import swap_train
    from gan.swap_data import find_swap_dataset, prefetched, swap_alignment

    target, other = find_swap_dataset(dataset, "target"), find_swap_dataset(user, "user")
    cfg = swap_train.SwapConfig(dataset, user, workdir, onnx=False, quiet=True)
    cfg = cfg.resolved(target, other)
    swap = swap_alignment(cfg.crop_scale, cfg.centre_y)
    people = swap_train.read_people(target, other, swap, cfg.size, cfg.forehead)
    keras.config.set_dtype_policy("float32")
    run = swap_train._build(cfg, target, other, people, swap, Path(workdir), cfg.steps)
    return run.train_step, lambda: prefetched(run.batches() for _ in itertools.count())


def time_training_loop(
    kind: str,
    dataset: str,
    user: str | None = None,
    steps: int = 20,
    rounds: int = 3,
    warmup: int = 3,
) -> dict[str, float]:
    """The trainer's loop (the next batch from its input pipeline, then the step, the losses read
    back as fit_loop does) against the bare step (the same step on one batch held fixed, no
    pipeline running), for `kind` "pix2pix" (train-pix2pix --preset quick on `dataset`) or
    "swap" (train-swap --preset quick, `dataset` the target, `user` the user: default the same
    folder). ms per step, wall and CPU (this process, every thread: the work, whoever else holds
    the cores). Blocks of `steps` alternate `rounds` times so that others' load hits both alike;
    each loop block starts a fresh pipeline, warmed `warmup` steps, and ends it, so that none of
    its work is done, or counted, in a bare block. ratio = loop ms / bare ms: 1 when the input
    pipeline costs the step nothing."""
    import tempfile

    import keras
    import tensorflow as tf

    if kind not in KINDS:
        raise ValueError(f"kind must be pix2pix or swap, not {kind!r}")
    policy = keras.config.dtype_policy()
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    totals = np.zeros((2, 2))  # (bare, loop) x (wall, CPU) seconds
    try:
        with tempfile.TemporaryDirectory() as workdir:
            if kind == "pix2pix":
                step, feeds = _pix2pix_loop(dataset, workdir)
            else:
                step, feeds = _swap_loop(dataset, user or dataset, workdir)
            feed = feeds()
            fixed = [tf.convert_to_tensor(x) for x in next(feed)]  # as a dataset hands them
            _stop(feed)
            feed = None
            for _ in range(rounds):
                totals[0] += _clocked(lambda: _losses(step(*fixed)), steps, warmup)
                feed = feeds()
                totals[1] += _clocked(lambda f=feed: _losses(step(*next(f))), steps, warmup)
                _stop(feed)
                feed = None
    finally:
        keras.config.set_dtype_policy(policy)
    (bare_ms, bare_cpu), (loop_ms, loop_cpu) = totals / (rounds * steps) * 1e3
    return {
        "loop_ms": loop_ms,
        "bare_ms": bare_ms,
        "ratio": loop_ms / bare_ms,
        "loop_cpu_ms": loop_cpu,
        "bare_cpu_ms": bare_cpu,
        "cpu_ratio": loop_cpu / bare_cpu,
    }


def _losses(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}  # waits for the step, as fit_loop does


def _stop(feed: Any) -> None:
    """End a pipeline's work ahead of the step: swap's producer thread is told to stop; a
    tf.data iterator stops when the last reference to it goes, which the caller drops."""
    close = getattr(feed, "close", None)
    if close is not None:
        close()


def time_training_loops(dataset: str, fast: bool = False) -> dict[str, dict[str, float]]:
    """time_training_loop for both kinds' quick presets on one make-dataset folder (the swap's
    target and user both: what its pipeline costs does not depend on who is in the photos)."""
    steps, rounds = (5, 2) if fast else (10, 4)
    return {k: time_training_loop(k, dataset, steps=steps, rounds=rounds) for k in KINDS}


def training_loop_rows(loops: dict[str, dict[str, float]]) -> list[tuple[str, str, str]]:
    """scripts/bench's rows for time_training_loops' figures."""
    return [
        (
            f"{kind} (quick): training loop · bare step ms",
            f"{e['loop_ms']:.0f} · {e['bare_ms']:.0f}",
            f"{e['ratio']:.2f}x the bare step (goal <= 1.25x); CPU {e['loop_cpu_ms']:.0f} · "
            f"{e['bare_cpu_ms']:.0f} ms, {e['cpu_ratio']:.2f}x",
        )
        for kind, e in loops.items()
    ]
