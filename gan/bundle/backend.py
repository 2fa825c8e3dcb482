"""What runs a bundle's networks, for every kind: ONNX Runtime when the bundle has the export
(no TensorFlow needed), Keras in safe mode otherwise, and "auto" falling back from a damaged
ONNX file to Keras with a note that says why.

Nothing here imports Keras or TensorFlow until a Keras network is loaded, so the ONNX path starts
fast and quiet, and the Keras path also works under the JAX backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan.bundle.files import check_listed, checked_file, onnx_name
from gan.errors import InputError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "keras")
Infer = Callable[[np.ndarray], np.ndarray]  # float32 [-1, 1] batch -> float32 [-1, 1] batch


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")


def load_keras_file(file: Path) -> Any:
    """A saved Keras model in safe mode (no code from the file); InputError, one line, when it
    does not load. A kind with its own layers imports (registers) them before calling this."""
    import keras

    try:
        return keras.models.load_model(file, safe_mode=True, compile=False)
    except Exception as e:  # Keras raises many types for a damaged file; all mean the same here
        first = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"cannot load {file}: {type(e).__name__}: {first}") from None


def keras_network(path: Path, info: dict[str, Any], name: str, channels: int | None = 3) -> Any:
    """Network file `name` of the bundle at `path`, loaded in safe mode, then checked: against
    its checksum where bundle.json lists it, and its input against the bundle's size (and
    `channels`, unless None)."""
    file = path / name
    if not file.is_file():
        raise InputError(f"model bundle has no {name}: {path}")
    model = load_keras_file(file)  # first: a file that is no model says so, not "checksum"
    check_listed(path, info, name)
    size = info["size"]
    want = (size, size, model.input_shape[-1] if channels is None else channels)
    if tuple(model.input_shape[1:]) != want:
        raise InputError(f"{file} takes {model.input_shape[1:]}, but bundle.json says size {size}")
    return model


def make_inference_fn(model: Any) -> Infer:
    """float32 [-1, 1] batch -> float32 [-1, 1] batch, compiled once for the current backend.

    training=False: no dropout; instance norm has no batch statistics, so output is
    deterministic and independent of what else is in the batch.
    """
    import keras

    backend = keras.backend.backend()
    size = model.input_shape[1]
    channels = model.input_shape[-1]
    if backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(
            lambda x: model(x, training=False),
            reduce_retracing=True,
            input_signature=[tf.TensorSpec((None, size, size, channels), tf.float32)],
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


@dataclass
class Network:
    """One of a bundle's networks, opened: what runs it and, on Keras, the model itself."""

    infer: Infer
    backend: str  # "onnx" or "keras"
    model: Any = None  # the Keras model (None on ONNX Runtime)
    note: str | None = None  # why auto did not take ONNX when the bundle has it


def open_network(
    path: Path,
    info: dict[str, Any],
    name: str,
    backend: str,
    threads: int | None,
    load_keras: Callable[[Path, dict[str, Any], str], Any],
) -> Network:
    """Network file `name` (a .keras file) of the bundle at `path`, run by `backend`: "onnx"
    (its export must be listed), "keras" (`load_keras`), or "auto": ONNX when bundle.json lists
    the export, else Keras; a damaged export under auto falls back to Keras with a warning and a
    note. `threads`: ONNX Runtime's intra-op threads (None: one per core)."""
    check_backend(backend)
    exported = onnx_name(name)
    note = None
    if backend == "onnx" or (backend == "auto" and exported in (info.get("files") or {})):
        from gan.bundle.onnx import open_session

        unlisted = f"{path} has no {exported}: add one with `export-onnx {path}`"
        try:
            infer = open_session(checked_file(path, info, exported, unlisted), threads)
            log.info("loaded %s with ONNX Runtime (%s)", path / exported, infer.provider)
            return Network(infer, "onnx")
        except InputError as e:
            if backend == "onnx":
                raise
            note = f"{e}; using {name}"
            log.warning("%s", note)
    model = load_keras(path, info, name)
    log.info("loaded %s (size %d, %s steps)", path / name, info["size"], info.get("steps"))
    return Network(make_inference_fn(model), "keras", model, note)


class LoadedBundle:
    """What every loaded bundle says about itself, read from bundle.json: where it is, what runs
    it, its size, crop and drawing, the target's mean shape, steps and metrics.

    Each kind's class sets `kind` (bundle.json's) and `input`, what it is called with: "drawing"
    (a line drawing becomes the face) or "face_crop" (the camera's aligned face becomes the
    target's); the app picks its mode from `input`.
    """

    kind: str
    input: str

    def __init__(
        self,
        path: Path,
        info: dict[str, Any],
        network: Network,
        default_mode: str = "frame",
    ) -> None:
        self.path = path
        self.info = info
        self.backend = network.backend
        self.provider: str = getattr(network.infer, "provider", "")
        self.note = network.note
        self.size: int = int(info["size"])
        self.mode: str = str(info.get("mode", default_mode))
        self.drawing: dict = dict(info.get("drawing") or {})
        self.alignment: dict = dict(info.get("alignment") or {})
        ref = info.get("reference_shape")
        self.reference_shape: np.ndarray | None = (
            None if ref is None else np.asarray(ref, dtype=np.float32).reshape(68, 2)
        )
        self.steps: int = int(info.get("steps", 0))
        self.metrics: dict = dict(info.get("metrics") or {})
        self._infer = network.infer

    @property
    def backend_label(self) -> str:
        """What runs the model, for people: "ONNX Runtime (CPU)", "Keras (tensorflow)"."""
        if self.backend == "onnx":
            device = self.provider.removesuffix("ExecutionProvider") or "CPU"
            return f"ONNX Runtime ({device})"
        import keras

        return f"Keras ({keras.backend.backend()})"

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The model itself: float32 [-1, 1] batch in, float32 [-1, 1] batch out."""
        return self._infer(x)
