"""A bundle's files, for every kind: bundle.json read and checked, each file listed with its
SHA-256 and checked against it.

numpy only at module level: a mistyped path fails before Keras or TensorFlow load.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from common.files import read_json_of
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
        info = read_json_of(path / BUNDLE_FILE, BUNDLE_FORMAT, BUNDLE_VERSION, "bundle")
    except FileNotFoundError:
        raise InputError(f"not a model bundle (no {BUNDLE_FILE}): {path}") from None
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
