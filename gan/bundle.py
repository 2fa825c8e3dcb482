"""The model bundle: save a trained generator with what the app needs, and load it as a callable.

A bundle is generator.keras, optionally generator.onnx, for the reference recipe the retrieval
bank (reference_bank.npz), and bundle.json (written last), which lists every extra file with its
checksum. Loading picks the backend: ONNX Runtime when the bundle
has the ONNX file (no TensorFlow needed), Keras otherwise. Nothing here imports Keras or
TensorFlow until a Keras model is saved or loaded, so the ONNX path starts fast and quiet, and the
Keras path also works under the JAX backend.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from common.files import atomic_path, write_json_atomic
from gan.data import to_model_range, to_uint8
from gan.errors import InputError
from gan.onnx_model import ONNX_FILE, export_onnx, file_record, open_session, sha256_of
from gan.reference import BANK_FILE, ReferenceBank

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "face-mirror-model"
BUNDLE_VERSION = 1
GENERATOR_FILE = "generator.keras"
BUNDLE_FILE = "bundle.json"
MAX_BATCH = 16  # frames per generator call when a big batch comes in; bounds memory
BACKENDS = ("auto", "onnx", "keras")


def save_bundle(
    model_dir: str | Path,
    generator: Any,
    info: dict[str, Any],
    onnx: bool = False,
    bank: ReferenceBank | None = None,
) -> Path:
    """Write generator.keras (and generator.onnx when `onnx`), then bundle.json, each atomically.

    bundle.json goes last and lists the ONNX file with its checksum, so a reader that finds it
    also finds matching generators; an ONNX file from an earlier save is removed after it, since
    it no longer matches. `bank`: the reference recipe's retrieval bank. `info` is the bundle.json
    content; "format", "version" and "files" are filled in here.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / GENERATOR_FILE) as tmp:  # keeps .keras, which Keras insists on
        generator.save(tmp)
    files = {ONNX_FILE: export_onnx(generator, model_dir / ONNX_FILE)} if onnx else {}
    if bank is not None:
        bank.save(model_dir / BANK_FILE)
        files[BANK_FILE] = file_record(model_dir / BANK_FILE)
    content = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, **info, "files": files}
    write_json_atomic(model_dir / BUNDLE_FILE, content)
    if not onnx:
        (model_dir / ONNX_FILE).unlink(missing_ok=True)
    return model_dir


def add_onnx(model_dir: str | Path) -> dict[str, Any]:
    """Export a saved bundle's generator.keras to generator.onnx and list it in bundle.json.

    For bundles written before ONNX, or trained with --no-onnx. Returns the file record.
    """
    model_dir = Path(model_dir).expanduser()
    info = read_bundle_info(model_dir)
    model = _load_keras(model_dir, info)
    record = export_onnx(model, model_dir / ONNX_FILE)
    info["files"] = {**dict(info.get("files") or {}), ONNX_FILE: record}
    write_json_atomic(model_dir / BUNDLE_FILE, info)
    return record


def make_inference_fn(model: Any) -> Callable[[np.ndarray], np.ndarray]:
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


class LoadedBundle:
    """What every loaded bundle says about itself, read from bundle.json: where it is, what runs
    it, its size, crop and drawing, the target's mean shape, steps and metrics."""

    def __init__(
        self,
        path: Path,
        info: dict[str, Any],
        infer: Callable[[np.ndarray], np.ndarray],
        backend: str,
        note: str | None = None,
        default_mode: str = "frame",
    ) -> None:
        self.path = path
        self.info = info
        self.backend = backend
        self.provider: str = getattr(infer, "provider", "")
        self.note = note
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
        self._infer = infer

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


class Bundle(LoadedBundle):
    """A loaded model bundle: call it with drawings (uint8 RGB) and their points, get faces.

    `recipe`: "pix2pix" (the drawing alone) or "reference" (the drawing, and the bank's nearest
    photos warped onto the points and mixed). `backend` says what runs the generator: "onnx" (ONNX
    Runtime, `provider` names the device) or "keras"; `note` says why auto did not take ONNX when
    it could not.
    """

    kind = "pix2pix"
    input = "drawing"  # its input contract: the app draws the face for it (app.modes)

    def __init__(
        self,
        path: Path,
        info: dict[str, Any],
        infer: Callable[[np.ndarray], np.ndarray],
        backend: str,
        model: Any = None,
        note: str | None = None,
        bank: ReferenceBank | None = None,
    ) -> None:
        super().__init__(path, info, infer, backend, note)
        self.recipe: str = str(info.get("recipe", "pix2pix"))
        self.bank = bank
        self._model = model

    @property
    def model(self) -> Any:
        """The Keras generator (loaded on first use when ONNX Runtime runs the bundle)."""
        if self._model is None:
            self._model = _load_keras(self.path, self.info)
        return self._model

    @property
    def channels(self) -> int:
        """The generator's input channels (raw()): 3, or 7 for the reference recipe."""
        return 3 if self.bank is None else 7

    def warm_up(self) -> None:
        """One face through the generator, so the first real one does not pay for tracing."""
        self(np.zeros((self.size, self.size, 3), np.uint8), points=self.reference_shape)

    def inputs(self, drawings: np.ndarray, points: np.ndarray | None) -> np.ndarray:
        """What the generator takes for a uint8 batch of drawings: [-1, 1], and for the reference
        recipe the nearest photo warped onto each drawing's points and the face's mask."""
        if self.bank is None:
            return to_model_range(drawings)
        if points is None:
            raise ValueError(f"{self.path}: a reference-recipe model needs the drawings' points")
        points = np.asarray(points, np.float32).reshape(len(drawings), 68, 2)
        return np.stack([self.bank.inputs(d, p) for d, p in zip(drawings, points, strict=True)])

    def __call__(self, drawings: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 3) or (N, H, W, 3) uint8 RGB at the bundle size -> the same shape, uint8 RGB.

        `points`: the drawings' 68 points in model pixels, (68, 2) or (N, 68, 2); the reference
        recipe needs them (it retrieves by them), pix2pix ignores them.
        """
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
        x = self.inputs(batch, points)
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


def checked_file(path: Path, info: dict[str, Any], name: str, unlisted: str | None = None) -> Path:
    """File `name` of the bundle at `path`: listed in bundle.json (else InputError `unlisted`, or
    one saying it is not listed), present, and matching its checksum there."""
    record = (info.get("files") or {}).get(name)
    file = path / name
    if record is None:
        raise InputError(unlisted or f"{path / BUNDLE_FILE} does not list {name}")
    if not file.is_file():
        raise InputError(f"{file} is missing (listed in {BUNDLE_FILE})")
    if sha256_of(file) != record.get("sha256"):
        raise InputError(f"{file} does not match its checksum in {BUNDLE_FILE} (damaged?)")
    return file


def load_keras_file(file: Path) -> Any:
    """A saved Keras model in safe mode (no code from the file); InputError, one line, when it
    does not load."""
    import keras

    import gan.models  # noqa: F401 - registers the reference recipe's OverReference layer

    try:
        return keras.models.load_model(file, safe_mode=True, compile=False)
    except Exception as e:  # Keras raises many types for a damaged file; all mean the same here
        first = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"cannot load {file}: {type(e).__name__}: {first}") from None


def _load_keras(path: Path, info: dict[str, Any]) -> Any:
    """generator.keras in Keras safe mode (no code from the file), checked against bundle.json."""
    model_file = path / GENERATOR_FILE
    if not model_file.is_file():
        raise InputError(f"model bundle has no {GENERATOR_FILE}: {path}")
    model = load_keras_file(model_file)
    channels = 3 if info.get("recipe", "pix2pix") == "pix2pix" else model.input_shape[-1]
    if tuple(model.input_shape[1:]) != (info["size"], info["size"], channels):
        raise InputError(
            f"{model_file} takes {model.input_shape[1:]}, but {BUNDLE_FILE} says "
            f"size {info['size']}"
        )
    return model


def _load_onnx(path: Path, info: dict[str, Any], threads: int | None) -> Callable:
    """generator.onnx through ONNX Runtime, after its checksum matches bundle.json's."""
    unlisted = f"{path} has no {ONNX_FILE}: add one with `export-onnx {path}`"
    return open_session(checked_file(path, info, ONNX_FILE, unlisted), threads)


def load_bundle(path: str | Path, backend: str = "auto", threads: int | None = None) -> Bundle:
    """Load a model bundle; raises InputError.

    `backend`: "onnx" (ONNX Runtime; the bundle must have generator.onnx), "keras"
    (generator.keras), or "auto": ONNX when the bundle lists it, else Keras. A damaged ONNX file
    under auto falls back to Keras and says so (a warning, and `Bundle.note`). `threads`: ONNX
    Runtime's intra-op threads (None: one per core).
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    path = Path(path).expanduser()
    info = read_bundle_info(path)
    bank = _load_bank(path, info)
    note = None
    if backend == "onnx" or (backend == "auto" and ONNX_FILE in (info.get("files") or {})):
        try:
            infer = _load_onnx(path, info, threads)
            log.info("loaded %s with ONNX Runtime (%s)", path, infer.provider)
            return Bundle(path.resolve(), info, infer, "onnx", bank=bank)
        except InputError as e:
            if backend == "onnx":
                raise
            note = f"{e}; using {GENERATOR_FILE}"
            log.warning("%s", note)
    model = _load_keras(path, info)
    log.info("loaded %s (size %d, %s steps)", path, info["size"], info.get("steps"))
    return Bundle(path.resolve(), info, make_inference_fn(model), "keras", model, note, bank)


def _load_bank(path: Path, info: dict[str, Any]) -> ReferenceBank | None:
    """The reference recipe's retrieval bank, after its checksum matches bundle.json's."""
    recipe = info.get("recipe", "pix2pix")
    if recipe == "pix2pix":
        return None
    if recipe != "reference":
        raise InputError(f"{path / BUNDLE_FILE}: unknown recipe {recipe!r}")
    missing = f"{path}: the reference recipe's {BANK_FILE} is missing"
    bank_file = checked_file(path, info, BANK_FILE, missing)
    try:
        references = int(info.get("references", 1))  # bundles from before mixing: 1
    except (TypeError, ValueError):
        raise InputError(f"{path / BUNDLE_FILE}: references must be a whole number") from None
    bank = ReferenceBank.load(bank_file, str(info.get("region", "face")), references)
    if bank.size != info["size"]:
        raise InputError(f"{bank_file} holds {bank.size} px photos; the model is {info['size']} px")
    return bank
