"""Loading a model bundle for the app: gan's errors become app's, TensorFlow's start-up noise stays quiet."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import InputError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code writes straight to file descriptor 2 (TensorFlow's CUDA probe lines).

    TF_CPP_MIN_LOG_LEVEL does not reach the lines absl prints before it is initialised, and they
    would break the command line's promise of one line per error.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded consoles): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_first_load = True


def import_gan() -> Any:
    """gan.bundle, imported once with TensorFlow quiet."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "gan.bundle" not in sys.modules:
        with quiet_native_stderr():
            import gan.bundle  # noqa: F401
    return sys.modules["gan.bundle"]


def load_model(path: str | Path, warm_up: bool = True) -> Any:
    """The model bundle at `path` (gan.bundle.Bundle); raises app InputError with gan's one-line message.

    `warm_up`: run one drawing through it now, so the first live frame does not pay for tracing.
    """
    bundle_mod = import_gan()
    from gan.errors import InputError as GanInputError

    global _first_load
    # The first model to load initialises the devices, where TensorFlow prints its CUDA probe.
    with quiet_native_stderr() if _first_load else contextlib.nullcontext():
        try:
            bundle = bundle_mod.load_bundle(path)
        except GanInputError as e:
            raise InputError(str(e)) from None
        if warm_up:
            bundle(np.zeros((bundle.size, bundle.size, 3), np.uint8))
        _first_load = False
    log.info("model %s: %d px, %s, %d steps", bundle.path, bundle.size, bundle.mode, bundle.steps)
    return bundle
