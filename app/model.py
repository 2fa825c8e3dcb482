"""Loading a model bundle for the app, with TensorFlow's start-up noise held back."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from common.cli import quiet_native_stderr
from common.errors import InputError

log = logging.getLogger(__name__)

T = TypeVar("T")

_first_load = True


def check_model_path(path: str | Path) -> None:
    """Fail on a mistyped model path now, before TensorFlow is imported and prints its notes.

    The message is gan.bundle's own for the same mistake; the rest is checked when it loads.
    """
    if not Path(path).expanduser().is_dir():
        raise InputError(f"model bundle not found: {Path(path).expanduser()}")


def import_gan(verbose: bool = False) -> Any:
    """gan.bundle, imported once with TensorFlow quiet (unless `verbose`)."""
    if "gan.bundle" not in sys.modules:
        with quiet_native_stderr(verbose):
            import gan.bundle  # noqa: F401
    return sys.modules["gan.bundle"]


def _held_back(work: Callable[[], T], verbose: bool) -> T:
    """`work()` with native stderr held back; a user error leaves the held notes unprinted.

    quiet_native_stderr replays what it held when its body fails, which is right for a bug but
    would put TensorFlow's notes after a user's one-line error: that error leaves the block first.
    """
    with quiet_native_stderr(verbose):
        try:
            return work()
        except InputError as e:
            error = e
    raise error


def load_model(path: str | Path, warm_up: bool = True, verbose: bool = False) -> Any:
    """The model bundle at `path` (gan.bundle.Bundle); raises InputError with a one-line message.

    `warm_up`: run one drawing through it now, so the first live frame does not pay for tracing.
    `verbose`: let TensorFlow's start-up notes through.
    """
    check_model_path(path)
    bundle_mod = import_gan(verbose)

    def load() -> Any:
        bundle = bundle_mod.load_bundle(path)
        if warm_up:
            bundle(np.zeros((bundle.size, bundle.size, 3), np.uint8))
        return bundle

    global _first_load
    # The first model to load initialises the devices, where TensorFlow prints its CUDA probe.
    bundle = _held_back(load, verbose) if _first_load else load()
    _first_load = False
    log.info("model %s: %d px, %s, %d steps", bundle.path, bundle.size, bundle.mode, bundle.steps)
    return bundle
