"""The face-swap bundle: save the two autoencoders with what the app needs, load the swap.

A swap bundle is a model bundle (gan/bundle.py) of kind "swap": swap_target.keras (the user's
aligned face -> the target's face), swap_user.keras (the user's face -> the user's, for previews
and checks), optionally their ONNX exports, and bundle.json, written last, listing every model
file with its checksum. Nothing here imports Keras or TensorFlow until a Keras model is saved or
loaded, so the ONNX path starts without them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from common.files import atomic_path, write_json_atomic
from gan.bundle import (
    BACKENDS,
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    MAX_BATCH,
    LoadedBundle,
    checked_file,
    load_keras_file,
    make_inference_fn,
    read_bundle_info,
)
from gan.errors import InputError
from gan.onnx_model import file_record, open_session

log = logging.getLogger(__name__)

KIND = "swap"
TARGET_FILE = "swap_target.keras"  # encoder + the target's decoder: the swap itself
USER_FILE = "swap_user.keras"  # encoder + the user's decoder: reconstruction
TARGET_ONNX = "swap_target.onnx"  # its graph input is named "drawing", as gan.onnx_model names it
USER_ONNX = "swap_user.onnx"
ONNX_FILES = {TARGET_FILE: TARGET_ONNX, USER_FILE: USER_ONNX}


def bundle_kind(info: dict[str, Any]) -> str:
    """A bundle's kind: "pix2pix" when bundle.json says none (bundles written before kinds)."""
    return str(info.get("kind") or "pix2pix")


def require_kind(info: dict[str, Any], kind: str, path: str | Path) -> None:
    """InputError (one line) unless the bundle at `path` is of `kind`."""
    found = bundle_kind(info)
    if found != kind:
        raise InputError(f"{path} is a {found} bundle; this needs a {kind} bundle")


def _export_onnx(model: Any, path: Path) -> dict[str, Any] | None:
    """model -> ONNX through gan.onnx_model (checked against Keras); None, and a warning, if the
    export fails: the bundle is whole without it."""
    from gan.onnx_model import export_onnx

    try:
        return export_onnx(model, path)
    except (ImportError, RuntimeError, ValueError, KeyError) as e:
        log.warning("no ONNX export of %s: %s: %s", path.name, type(e).__name__, e)
        path.unlink(missing_ok=True)
        return None


def save_swap_bundle(
    model_dir: str | Path,
    to_target: Any,
    to_user: Any,
    info: dict[str, Any],
    onnx: bool = False,
) -> Path:
    """Write swap_target.keras, swap_user.keras (and their ONNX exports when `onnx`), then
    bundle.json listing each with its checksum; every file atomically, bundle.json last.

    ONNX files from an earlier save no longer match the weights and are removed after it.
    `info` is the bundle.json content; "format", "version", "kind" and "files" are filled in.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    for name, model in ((TARGET_FILE, to_target), (USER_FILE, to_user)):
        with atomic_path(model_dir / name) as tmp:
            model.save(tmp)
            record = file_record(tmp)
        files[name] = record
        if onnx:
            exported = _export_onnx(model, model_dir / ONNX_FILES[name])
            if exported is not None:
                files[ONNX_FILES[name]] = exported
    content = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "kind": KIND,
        **info,
        "files": files,
    }
    write_json_atomic(model_dir / BUNDLE_FILE, content)
    for name in ONNX_FILES.values():
        if name not in files:
            (model_dir / name).unlink(missing_ok=True)
    return model_dir


def _load_keras(path: Path, info: dict[str, Any], name: str) -> Any:
    """A swap model in Keras safe mode (no code from the file), checked against bundle.json."""
    file = checked_file(path, info, name)
    model = load_keras_file(file)
    size = info["size"]
    if tuple(model.input_shape[1:]) != (size, size, 3):
        raise InputError(
            f"{file} takes {model.input_shape[1:]}, but {BUNDLE_FILE} says size {size}"
        )
    return model


def _load_onnx(path: Path, info: dict[str, Any], name: str, threads: int | None) -> Callable:
    return open_session(checked_file(path, info, name), threads)


def _uint8_batches(
    crops: np.ndarray, size: int, infer: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """(S, S, 3) or (N, S, S, 3) uint8 RGB -> the same shape, uint8 RGB, through `infer`."""
    crops = np.asarray(crops)
    single = crops.ndim == 3
    batch = crops[None] if single else crops
    if batch.ndim != 4 or batch.shape[1:] != (size, size, 3):
        raise ValueError(
            f"expected ({size}, {size}, 3) or (N, {size}, {size}, 3) crops, got {crops.shape}"
        )
    if batch.dtype != np.uint8:
        raise ValueError(f"expected uint8 crops, got {batch.dtype}")
    x = batch.astype(np.float32) / 127.5 - 1.0
    out = (
        np.concatenate([infer(x[i : i + MAX_BATCH]) for i in range(0, len(x), MAX_BATCH)])
        if len(x)
        else x
    )
    faces = np.clip((out + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return faces[0] if single else faces


class SwapBundle(LoadedBundle):
    """A loaded swap bundle: call it with the user's aligned crops, get the target's face.

    Crops are uint8 RGB, `size` square, cut from the camera frame with `alignment` (a
    landmarks.Alignment dict). `backend`: "onnx" or "keras"; `note` says why auto did not take
    ONNX when it could not. Deterministic: the same crop gives the same face.
    """

    kind = KIND
    input = "face_crop"  # its input contract: the camera's aligned face (app.modes)

    def __init__(
        self,
        path: Path,
        info: dict[str, Any],
        infer: Callable[[np.ndarray], np.ndarray],
        backend: str,
        note: str | None = None,
        threads: int | None = None,
    ) -> None:
        super().__init__(path, info, infer, backend, note, default_mode="aligned")
        self._infer_user: Callable[[np.ndarray], np.ndarray] | None = None
        self._threads = threads

    @property
    def forehead(self) -> float:
        """How far above the brows the decoder learned the target's face (common.outline), in
        eye-widths: the region the app blends. 0 for bundles trained on the hull alone."""
        return float(self.info.get("forehead") or 0.0)

    def warm_up(self) -> None:
        """One crop through the swap model, so the first real one does not pay for tracing."""
        self(np.zeros((self.size, self.size, 3), np.uint8))

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """The user's aligned crops, (S, S, 3) or (N, S, S, 3) uint8 RGB -> the target's face."""
        return _uint8_batches(crops, self.size, self._infer)

    def reconstruct(self, crops: np.ndarray) -> np.ndarray:
        """The user's crops through the user's own decoder (loaded on first use)."""
        if self._infer_user is None:
            self._infer_user = self._user_model()
        return _uint8_batches(crops, self.size, self._infer_user)

    def _user_model(self) -> Callable[[np.ndarray], np.ndarray]:
        if self.backend == "onnx" and USER_ONNX in (self.info.get("files") or {}):
            return _load_onnx(self.path, self.info, USER_ONNX, self._threads)
        return make_inference_fn(_load_keras(self.path, self.info, USER_FILE))

    def __repr__(self) -> str:
        return f"SwapBundle({str(self.path)!r}, size={self.size}, steps={self.steps})"


def load_swap_bundle(
    path: str | Path, backend: str = "auto", threads: int | None = None
) -> SwapBundle:
    """Load a swap bundle; raises InputError with one line.

    `backend`: "onnx" (the bundle must list swap_target.onnx), "keras", or "auto": ONNX when
    the bundle lists it, else Keras; a damaged ONNX file under auto falls back to Keras and says
    so (a warning, and `SwapBundle.note`). `threads`: ONNX Runtime's intra-op threads.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    path = Path(path).expanduser()
    info = read_bundle_info(path)
    require_kind(info, KIND, path)
    if info.get("mode", "aligned") != "aligned":
        raise InputError(f"{path / BUNDLE_FILE}: a swap bundle works on aligned crops only")
    note = None
    if backend == "onnx" or (backend == "auto" and TARGET_ONNX in (info.get("files") or {})):
        try:
            infer = _load_onnx(path, info, TARGET_ONNX, threads)
            log.info("loaded %s with ONNX Runtime (%s)", path, infer.provider)
            return SwapBundle(path.resolve(), info, infer, "onnx", threads=threads)
        except InputError as e:
            if backend == "onnx":
                raise
            note = f"{e}; using {TARGET_FILE}"
            log.warning("%s", note)
    model = _load_keras(path, info, TARGET_FILE)
    log.info("loaded swap bundle %s (size %d, %s steps)", path, info["size"], info.get("steps"))
    return SwapBundle(path.resolve(), info, make_inference_fn(model), "keras", note, threads)
