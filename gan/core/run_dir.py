"""A training run's folder, the same for every kind: create it, or check that it holds this
same run (then training resumes), or with --force start afresh."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common.files import write_json_atomic
from gan.errors import InputError

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
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
    elif run_dir.is_dir() and any(run_dir.iterdir()) and not force:
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
