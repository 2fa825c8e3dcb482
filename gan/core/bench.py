"""Timings of the training core for every kind: the trainer's loop (its input pipeline, then the
step) against the bare step, for scripts/bench."""

from __future__ import annotations

import importlib
import shutil
import time
from typing import Any

import numpy as np

from gan.kinds import KINDS


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


def _kind_loop(kind: str, args: list[str]) -> tuple[Any, Any]:
    """(train step, a fresh iterator of batches) of a kind's trainer with the command line `args`,
    built as the training core builds a run (gan.core.main.train): the kind's networks, its
    compiled step and the input pipeline it trains with, on one device."""
    import dataclasses

    from gan.core.devices import choose_devices
    from gan.core.main import parse_args
    from gan.core.step import distribute

    trainer_kind = importlib.import_module(f"{KINDS[kind]}.kind").KIND
    cfg, read = trainer_kind.prepare(parse_args(trainer_kind, args))
    data = read()
    devices = choose_devices("off", "off", 1, False)
    trainer = trainer_kind.build(dataclasses.replace(cfg, steps=cfg.steps), data, devices)
    return trainer.train_step, lambda: iter(distribute(devices.strategy, trainer.batches(0)))


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
    "swap" or "cyclegan" (--preset quick, `dataset` the target, `user` the user: default the same
    folder). ms per step, wall and CPU (this process, every thread: the work, whoever else holds
    the cores). Blocks of `steps` alternate `rounds` times so that others' load hits both alike;
    each loop block starts a fresh pipeline, warmed `warmup` steps, and ends it, so that none of
    its work is done, or counted, in a bare block. ratio = loop ms / bare ms: 1 when the input
    pipeline costs the step nothing."""
    import tempfile

    import keras
    import tensorflow as tf

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    policy = keras.config.dtype_policy()
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    totals = np.zeros((2, 2))  # (bare, loop) x (wall, CPU) seconds
    try:
        with tempfile.TemporaryDirectory() as workdir:
            if kind == "pix2pix":
                people = [dataset]
            else:  # two-people kinds refuse one folder as both: a copy stands in for the user
                people = [dataset, user or shutil.copytree(dataset, f"{workdir}/user")]
            quick = ["-o", f"{workdir}/run", "--preset", "quick", "--no-onnx", "-q"]
            step, feeds = _kind_loop(kind, [*people, *quick])
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
    """End a pipeline's work ahead of the step: a tf.data iterator stops when the last reference
    to it goes, which the caller drops; an iterator with close() is closed."""
    close = getattr(feed, "close", None)
    if close is not None:
        close()


def time_training_loops(dataset: str, fast: bool = False) -> dict[str, dict[str, float]]:
    """time_training_loop for every kind's quick preset on one make-dataset folder (as target and
    user both for the two-people kinds: what a pipeline costs does not depend on who is in it)."""
    steps, rounds = (5, 2) if fast else (10, 6)  # blocks vary ±15 % on shared cores
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
