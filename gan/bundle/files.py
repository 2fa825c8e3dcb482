"""A bundle's files, for every kind: bundle.json read and checked, each file listed with its
SHA-256, and the whole folder written so that a reader never sees half of it.

numpy only at module level: a mistyped path fails before Keras or TensorFlow load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from common.files import atomic_path, write_json_atomic
from gan.errors import InputError

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "face-mirror-model"
BUNDLE_VERSION = 1
BUNDLE_FILE = "bundle.json"
DEFAULT_KIND = "pix2pix"  # what a bundle.json without "kind" is: bundles written before kinds


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The file's SHA-256, read in 1 MiB blocks (the paper model's ONNX file is 218 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """How bundle.json lists a file: its SHA-256 and size in bytes."""
    return {"sha256": sha256_of(path), "bytes": Path(path).stat().st_size}


def onnx_name(network: str) -> str:
    """The ONNX export of a Keras network file: generator.keras -> generator.onnx."""
    return str(Path(network).with_suffix(".onnx"))


def read_bundle_info(path: str | os.PathLike[str]) -> dict[str, Any]:
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


def bundle_kind(info: dict[str, Any]) -> str:
    """A bundle's kind: "pix2pix" when bundle.json says none (bundles written before kinds)."""
    return str(info.get("kind") or DEFAULT_KIND)


def require_kind(info: dict[str, Any], kind: str, path: str | os.PathLike[str]) -> None:
    """InputError (one line) unless the bundle at `path` is of `kind`."""
    found = bundle_kind(info)
    if found != kind:
        raise InputError(f"{path} is a {found} bundle; this needs a {kind} bundle")


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


def check_listed(path: Path, info: dict[str, Any], name: str) -> None:
    """Where bundle.json lists file `name`, it must match its checksum there (bundles written
    before every file was listed have nothing to check)."""
    if name in (info.get("files") or {}):
        checked_file(path, info, name)


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
    from gan.bundle.onnx import export_onnx

    log.info("exporting %s to ONNX ...", path.name)
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
