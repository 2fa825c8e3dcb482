"""From bundle.json's "kind" to the kind's bundle module: one loader and one ONNX export for
every kind.

A kind's bundle module (gan/kinds/<kind>/bundle.py) has INPUT (what the bundle is called with:
"drawing", "face_crop"), NETWORKS (its Keras network files), load_network(path, info, name) and
load(path, info, backend, threads).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from common.files import write_json_atomic
from gan.bundle.backend import check_backend
from gan.bundle.files import (
    BUNDLE_FILE,
    bundle_kind,
    onnx_name,
    read_bundle_info,
    require_kind,
)
from gan.bundle.onnx import export_onnx
from gan.errors import InputError
from gan.kinds import KINDS


def kind_of(info: dict[str, Any], path: str | os.PathLike[str]) -> ModuleType:
    """The bundle module of the bundle's kind; InputError for a kind this program does not know."""
    kind = bundle_kind(info)
    if kind not in KINDS:
        raise InputError(
            f"{Path(path) / BUNDLE_FILE}: unknown kind {kind!r}; this program reads "
            f"{', '.join(KINDS)}"
        )
    return importlib.import_module(f"{KINDS[kind]}.bundle")


def input_of(path: str | os.PathLike[str]) -> str:
    """What the bundle at `path` is called with ("drawing", "face_crop"), from its bundle.json
    alone: the app picks its mode by it before any model loads."""
    info = read_bundle_info(path)
    return str(kind_of(info, path).INPUT)


def load_bundle(
    path: str | os.PathLike[str],
    backend: str = "auto",
    threads: int | None = None,
    kind: str | None = None,
) -> Any:
    """The bundle at `path`, loaded by its kind (gan.bundle.backend.LoadedBundle); InputError
    with one line when it cannot be, or is not of `kind` when one is asked for.

    `backend`: "onnx" (the bundle must have the export), "keras", or "auto": ONNX when the
    bundle lists it, else Keras; a damaged ONNX file under auto falls back to Keras and says so
    (a warning, and the bundle's `note`). `threads`: ONNX Runtime's intra-op threads.
    """
    check_backend(backend)
    path = Path(path).expanduser()
    info = read_bundle_info(path)
    if kind is not None:
        require_kind(info, kind, path)
    return kind_of(info, path).load(path, info, backend, threads)


def add_onnx(model_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Export every Keras network of a saved bundle to ONNX and list the exports in bundle.json
    (bundles written before ONNX, or trained with --no-onnx); returns their file records."""
    path = Path(model_dir).expanduser()
    info = read_bundle_info(path)
    kind = kind_of(info, path)
    records = {}
    for name in kind.NETWORKS:
        model = kind.load_network(path, info, name)
        records[onnx_name(name)] = export_onnx(model, path / onnx_name(name))
    info["files"] = {**dict(info.get("files") or {}), **records}
    write_json_atomic(path / BUNDLE_FILE, info)
    return records
