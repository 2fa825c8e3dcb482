"""A bundle written for any kind: its networks (with their ONNX exports at the end of training),
its other files, then bundle.json listing each with its checksum, so that a reader that finds
bundle.json also finds whole files that match it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.files import atomic_path, write_json_atomic
from gan.bundle.files import BUNDLE_FILE, BUNDLE_FORMAT, BUNDLE_VERSION, file_record, onnx_name
from gan.bundle.onnx import export_onnx

log = logging.getLogger(__name__)


def write_bundle(
    model_dir: str | os.PathLike[str],
    kind: str,
    networks: dict[str, Any],
    info: dict[str, Any],
    onnx: bool = False,
    extra: dict[str, Callable[[Path], None]] | None = None,
) -> Path:
    """Write a bundle: each of `networks` (file name -> Keras model), with its ONNX export when
    `onnx`, each of `extra` (file name -> a writer of that path), then bundle.json listing every
    file with its checksum; every file atomically, bundle.json last, so a reader that finds it
    also finds the files it lists.

    An ONNX file from an earlier save no longer matches the weights and is removed after it. A
    failed export is a warning: the bundle is whole without it (Keras runs it, and `export-onnx`
    can try again). `info` is the rest of bundle.json; "format", "version", "kind" and "files"
    are filled in here.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    for name, model in networks.items():
        with atomic_path(model_dir / name) as tmp:  # keeps .keras, which Keras insists on
            model.save(tmp)
            files[name] = file_record(tmp)
        if onnx:
            exported = _try_export(model, model_dir / onnx_name(name))
            if exported is not None:
                files[onnx_name(name)] = exported
    for name, write in (extra or {}).items():
        write(model_dir / name)
        files[name] = file_record(model_dir / name)
    content = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "kind": kind, **info}
    write_json_atomic(model_dir / BUNDLE_FILE, {**content, "files": files})
    for name in networks:
        if onnx_name(name) not in files:
            (model_dir / onnx_name(name)).unlink(missing_ok=True)
    return model_dir


def _try_export(model: Any, path: Path) -> dict[str, Any] | None:
    """`model` to ONNX at `path` (checked against Keras); None, with a warning, if that fails."""
    log.info("writing %s ...", path.name)
    try:
        return export_onnx(model, path)
    except (ImportError, RuntimeError, ValueError, KeyError) as e:
        log.warning(
            "no ONNX export of %s (%s: %s); the bundle runs on Keras, `export-onnx %s` tries again",
            path.name,
            type(e).__name__,
            e,
            path.parent,
        )
        path.unlink(missing_ok=True)
        return None
