"""A training run's folder, the same for every kind: create it, or check that it holds this
same run (then training resumes), or with --force start afresh; and its lock, so that two
trainings never write one folder (the window's and a terminal's alike)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from common.files import write_json_atomic
from gan.errors import InputError

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
LOCK_FILE = "lock.json"  # {pid, host, since, prog} of the training that writes the folder
RUN_PARTS = (
    CONFIG_FILE,
    "ckpt",
    "logs",
    "previews",
    "model",
)  # what a run writes, and --force drops


def prepare_run_dir(
    run_dir: str | Path,
    config: dict[str, Any],
    identity: Iterable[str],
    force: bool,
    saved_defaults: dict[str, Any] | None = None,
) -> Path:
    """Create `run_dir` and write `config` to its config.json, or check that the run already there
    has the same `identity` settings; InputError when it does not, unless `force`, which removes
    that run's outputs (never anything else in the folder). `saved_defaults`: what a config.json
    written before a setting existed means by leaving it out."""
    run_dir = Path(run_dir)
    config_file = run_dir / CONFIG_FILE
    differ: list[str] = []
    if config_file.exists():
        try:
            saved = json.loads(config_file.read_text())
        except (OSError, ValueError):
            saved = {}
        saved = {**(saved_defaults or {}), **saved}
        differ = [k for k in identity if saved.get(k) != config.get(k)]
        if differ and not force:
            was = ", ".join(f"{k}={saved.get(k)}" for k in differ)
            raise InputError(
                f"{run_dir} holds another run ({', '.join(differ)} differ; it has {was}): "
                "give those to resume it, pass --force to start afresh or choose another -o"
            )
    elif run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir()) and not force:
        raise InputError(
            f"{run_dir} is not empty and holds no run (no {CONFIG_FILE}); "
            "pass --force to use it anyway or choose another -o"
        )
    if differ:
        log.warning("--force: removing the previous run in %s", run_dir)
        for name in RUN_PARTS:
            part = run_dir / name
            if part.is_dir():
                shutil.rmtree(part)
            elif part.exists():
                part.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(config_file, config)
    return run_dir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _holder(lock: Path) -> dict[str, Any] | None:
    """Who holds `lock`, or None when nobody does: no lock, an unreadable one, or a stale one
    (its process on this host is gone; it is then removed)."""
    try:
        held = json.loads(lock.read_text())
        pid, host = int(held["pid"]), str(held["host"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("%s is unreadable: taking it over", lock)
        lock.unlink(missing_ok=True)
        return None
    if host == socket.gethostname() and not _alive(pid):
        log.warning("%s: process %d is gone, taking the run folder over", lock, pid)
        lock.unlink(missing_ok=True)
        return None
    return held


def _create(lock: Path, content: dict[str, Any]) -> bool:
    """Write `lock` whole, or nothing when it exists: a hard link of a finished temporary file,
    so a reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(prefix=".lock.", dir=lock.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(content, f)
        os.link(tmp, lock)
    except FileExistsError:
        return False
    finally:
        os.remove(tmp)
    return True


@contextlib.contextmanager
def run_lock(run_dir: str | Path, prog: str) -> Iterator[None]:
    """Hold `run_dir`'s lock while the body trains: InputError, one line that names the holder,
    when another training holds it; a stale lock (its process gone) is taken over."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / LOCK_FILE
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "prog": prog, "since": time.time()}
    for _ in range(3):  # a stale lock removed by another taker in between: look again
        held = _holder(lock)
        if held is not None:
            since = time.strftime("%Y-%m-%d %H:%M", time.localtime(held.get("since", 0)))
            raise InputError(
                f"{run_dir} is in use by another training ({held.get('prog', 'a training')}, "
                f"process {held['pid']} on {held['host']}, since {since}); stop it first, or "
                f"remove {lock} if that process is gone"
            )
        if _create(lock, mine):
            break
    else:
        raise InputError(f"{run_dir}: could not take its lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
