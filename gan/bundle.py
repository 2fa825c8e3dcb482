"""The model bundle: save a trained generator with what the app needs, and load it as a callable.

Only keras and numpy at module level (gan.data imports TensorFlow lazily), so loading also
works under the JAX Keras backend.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from common.files import atomic_path, write_json_atomic
from gan.data import to_model_range, to_uint8
from gan.errors import InputError

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "face-mirror-model"
BUNDLE_VERSION = 1
GENERATOR_FILE = "generator.keras"
BUNDLE_FILE = "bundle.json"
MAX_BATCH = 16  # frames per generator call when a big batch comes in; bounds memory


def save_bundle(model_dir: str | Path, generator: keras.Model, info: dict[str, Any]) -> Path:
    """Write generator.keras then bundle.json, each atomically (common.files).

    bundle.json goes last, so a reader that finds it also finds the matching generator.
    `info` is the bundle.json content; "format" and "version" are filled in here.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / GENERATOR_FILE) as tmp:  # keeps .keras, which Keras insists on
        generator.save(tmp)
    content = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, **info}
    write_json_atomic(model_dir / BUNDLE_FILE, content)
    return model_dir


def make_inference_fn(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """float32 [-1, 1] batch -> float32 [-1, 1] batch, compiled once for the current backend.

    training=False: no dropout; instance norm has no batch statistics, so output is
    deterministic and independent of what else is in the batch.
    """
    backend = keras.backend.backend()
    size = model.input_shape[1]
    if backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(
            lambda x: model(x, training=False),
            reduce_retracing=True,
            input_signature=[tf.TensorSpec((None, size, size, 3), tf.float32)],
        )
        return lambda x: fn(x).numpy()
    if backend == "jax":
        import jax

        @jax.jit
        def jitted(trainable, non_trainable, x):
            return model.stateless_call(trainable, non_trainable, x, training=False)[0]

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return lambda x: np.asarray(jitted(trainable, non_trainable, x))
    return lambda x: keras.ops.convert_to_numpy(model(x, training=False))


class Bundle:
    """A loaded model bundle: call it with drawings (uint8 RGB), get faces (uint8 RGB)."""

    def __init__(self, path: Path, info: dict[str, Any], model: keras.Model) -> None:
        self.path = path
        self.info = info
        self.model = model
        self.size: int = int(info["size"])
        self.mode: str = str(info.get("mode", "frame"))
        self.drawing: dict = dict(info.get("drawing") or {})
        self.alignment: dict = dict(info.get("alignment") or {})
        ref = info.get("reference_shape")
        self.reference_shape: np.ndarray | None = (
            None if ref is None else np.asarray(ref, dtype=np.float32).reshape(68, 2)
        )
        self.steps: int = int(info.get("steps", 0))
        self.metrics: dict = dict(info.get("metrics") or {})
        self._infer = make_inference_fn(model)

    def __call__(self, drawings: np.ndarray) -> np.ndarray:
        """(H, W, 3) or (N, H, W, 3) uint8 RGB at the bundle size -> the same shape, uint8 RGB."""
        drawings = np.asarray(drawings)
        single = drawings.ndim == 3
        batch = drawings[None] if single else drawings
        if batch.ndim != 4 or batch.shape[1:] != (self.size, self.size, 3):
            raise ValueError(
                f"expected ({self.size}, {self.size}, 3) or "
                f"(N, {self.size}, {self.size}, 3) drawings, got {drawings.shape}"
            )
        if batch.dtype != np.uint8:
            raise ValueError(f"expected uint8 drawings, got {batch.dtype}")
        x = to_model_range(batch)
        out = (
            np.concatenate([self._infer(x[i : i + MAX_BATCH]) for i in range(0, len(x), MAX_BATCH)])
            if len(x)
            else x
        )
        faces = to_uint8(out)
        return faces[0] if single else faces

    def __repr__(self) -> str:
        return (
            f"Bundle({str(self.path)!r}, size={self.size}, mode={self.mode!r}, steps={self.steps})"
        )


def read_bundle_info(path: str | Path) -> dict[str, Any]:
    """bundle.json of a bundle folder, checked; raises InputError."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise InputError(f"model bundle not found: {path}")
    try:
        info = json.loads((path / BUNDLE_FILE).read_text())
    except FileNotFoundError:
        raise InputError(f"not a model bundle (no {BUNDLE_FILE}): {path}") from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path / BUNDLE_FILE}: {e}") from None
    if not isinstance(info, dict) or info.get("format") != BUNDLE_FORMAT:
        raise InputError(f"{path / BUNDLE_FILE} is not a {BUNDLE_FORMAT} bundle")
    if info.get("version") != BUNDLE_VERSION:
        raise InputError(
            f"{path / BUNDLE_FILE} has version {info.get('version')!r}; "
            f"this program reads version {BUNDLE_VERSION}"
        )
    ref = info.get("reference_shape")
    if ref is not None and np.asarray(ref).shape != (68, 2):
        raise InputError(f"{path / BUNDLE_FILE}: reference_shape must be 68 [x, y] pairs")
    if not isinstance(info.get("size"), int):
        raise InputError(f"{path / BUNDLE_FILE} has no integer size")
    return info


def load_bundle(path: str | Path) -> Bundle:
    """Load MODEL_DIR (generator.keras + bundle.json) in Keras safe mode; raises InputError."""
    path = Path(path).expanduser()
    info = read_bundle_info(path)
    model_file = path / GENERATOR_FILE
    if not model_file.is_file():
        raise InputError(f"model bundle has no {GENERATOR_FILE}: {path}")
    try:
        model = keras.models.load_model(model_file, safe_mode=True, compile=False)
    except Exception as e:  # Keras raises many types for a damaged file; all mean the same here
        raise InputError(
            f"cannot load {model_file}: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    if tuple(model.input_shape[1:]) != (info["size"], info["size"], 3):
        raise InputError(
            f"{model_file} takes {model.input_shape[1:]}, but {BUNDLE_FILE} says "
            f"size {info['size']}"
        )
    log.info("loaded %s (size %d, %s steps)", path, info["size"], info.get("steps"))
    return Bundle(path.resolve(), info, model)
