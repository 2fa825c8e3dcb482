"""Write to a temporary name in the same folder, then rename: a reader never sees half a file."""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common.errors import InputError


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix, so writers that go by it still work).

    `suffix` overrides the temporary name's suffix, for writers that need one `path` lacks.

    The body writes the temporary file; on a clean exit it replaces `path`, and on an error it
    is removed and `path` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _mode_for_new_files())  # mkstemp's 0600 would make every output private
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@functools.cache
def _mode_for_new_files() -> int:
    """0o666 less the umask: what open() would have given the file (read once: umask is global)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> None:
    """Call `write(tmp)` to fill a temporary file, then rename it to `path`."""
    with atomic_path(path) as tmp:
        write(tmp)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """`path` holds exactly `data`, or what it held before."""
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """`path` holds exactly `text`, or what it held before."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], value: Any) -> None:
    """`value` as indented JSON with a final newline, written atomically."""
    write_text_atomic(path, json.dumps(value, indent=2) + "\n")


def read_json_of(path: str | os.PathLike[str], format: str, version: int, noun: str) -> dict:
    """A JSON file this project wrote: a dict whose "format" is `format` (a `noun`: manifest,
    bundle) at `version`; InputError, one line, when it is missing, unreadable or another."""
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    if not isinstance(content, dict) or content.get("format") != format:
        raise InputError(f"{path} is not a {format} {noun}")
    if content.get("version") != version:
        raise InputError(
            f"{path} has version {content.get('version')!r}; this program reads version {version}"
        )
    return content
