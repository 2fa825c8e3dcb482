"""Loading a model bundle for the app, with TensorFlow's start-up noise held back."""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path
from typing import Any

from common.cli import quiet_native_stderr

log = logging.getLogger(__name__)

_first_load = True


def check_model_path(path: str | Path) -> None:
    """Fail on a mistyped path or a folder that is no bundle now, before TensorFlow loads."""
    from gan.bundle import read_bundle_info  # numpy only: Keras loads with the model

    read_bundle_info(path)


def load_model(
    path: str | Path,
    warm_up: bool = True,
    verbose: bool = False,
    backend: str = "auto",
    threads: int | None = None,
) -> Any:
    """The model bundle at `path`, of whatever kind (gan.bundle.load_bundle: its `input` says
    what it is called with); raises InputError with a one-line message.

    `backend`: auto (ONNX Runtime when the bundle has its ONNX export, else Keras), onnx or keras.
    `threads`: the ONNX networks' intra-op threads (None: one per core).
    `warm_up`: run one input through it now, so the first live frame does not pay for tracing.
    `verbose`: let TensorFlow's start-up notes through.
    """
    from gan.bundle import load_bundle

    def load() -> Any:
        bundle = load_bundle(path, backend=backend, threads=threads)
        if warm_up:
            bundle.warm_up()  # each kind knows what its input needs
        return bundle

    global _first_load
    # The first model to load initialises the devices, where TensorFlow prints its CUDA probe.
    with quiet_native_stderr(verbose) if _first_load else contextlib.nullcontext():
        bundle = load()
    _first_load = False
    log.info(
        "model %s: %d px, %s, %d steps, %s",
        bundle.path,
        bundle.size,
        bundle.mode,
        bundle.steps,
        bundle.backend_label,
    )
    return bundle


BACKENDS = ("auto", "onnx", "keras")  # gan.bundle.BACKENDS, spelled here so --help needs no gan


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """--backend and --threads, the same for every command that runs a generator."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="what runs the generator: ONNX Runtime or Keras; auto (the default) = ONNX Runtime "
        "when the bundle has generator.onnx",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="threads for the ONNX Runtime generator (default: one per core)",
    )
