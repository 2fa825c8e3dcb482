"""make-dataset's output directory: what it holds; resume, replace or refuse; cleaning up."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from common.errors import InputError
from landmarks.capture import CAPTURE
from landmarks.dataset_config import BuildResult, DatasetConfig
from landmarks.dataset_format import LANDMARKS, MANIFEST, SPLITS
from landmarks.dataset_state import STATE, Progress


def already_built(cfg: DatasetConfig, fingerprint: str) -> BuildResult | None:
    """The finished dataset's counts, if the output already holds this very dataset."""
    manifest_path = os.path.join(cfg.output, MANIFEST)
    if not os.path.exists(manifest_path) or cfg.force:
        return None
    with open(manifest_path) as f:
        manifest = json.load(f)
    if manifest.get("fingerprint") != fingerprint:
        return None
    counts = manifest["counts"]
    return BuildResult(
        cfg.output,
        {s: counts[s] for s in SPLITS},
        counts["skipped"],
        counts.get("several_faces_seen", 0),
        0.0,
        0,
        already_built=True,
    )


def _fingerprint_in(out: str) -> str | None:
    """Which dataset a non-empty output holds: its fingerprint, "unreadable", or None."""
    manifest_path, state_path = os.path.join(out, MANIFEST), os.path.join(out, STATE)
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path) as f:
                return json.load(f).get("fingerprint")
        except (OSError, ValueError):
            return "unreadable"
    if os.path.exists(state_path):
        try:
            with np.load(state_path) as st:
                return str(st["fingerprint"])
        except (OSError, ValueError, KeyError):
            return "unreadable"
    return None


def _is_leftover_temporary(name: str) -> bool:
    """A temporary name of one of our files (see common.files), left by a killed write."""
    return any(
        name.startswith(f".{Path(ours).stem}.") and name.endswith(Path(ours).suffix)
        for ours in (MANIFEST, LANDMARKS, STATE, CAPTURE)
    )


def _remove_ours(out: str) -> None:
    """Clear a dataset out of `out`, leaving whatever else is there."""
    ours = {MANIFEST, LANDMARKS, STATE, *SPLITS}
    for name in os.listdir(out):
        if name in ours or _is_leftover_temporary(name):
            path = os.path.join(out, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)


def prepare_output(cfg: DatasetConfig, fingerprint: str) -> Progress | None:
    """Check the output directory; return the saved progress to resume from, if any."""
    out = cfg.output
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out}: exists and is not a directory")
    state_path = os.path.join(out, STATE)
    if _holds_something(out):
        theirs = _fingerprint_in(out)
        if theirs != fingerprint:
            if not cfg.force:
                _refuse(out, theirs)
            _remove_ours(out)
        elif os.path.exists(state_path) and not os.path.exists(os.path.join(out, MANIFEST)):
            return Progress.load(state_path)
    try:
        for split in SPLITS:
            os.makedirs(os.path.join(out, split), exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".probe.", delete=True)
        probe.close()
    except OSError as e:
        raise InputError(f"{out}: cannot write there ({e.strerror or e})") from None
    return None


def _holds_something(out: str) -> bool:
    """Whether `out` holds anything besides a camera recording (which a dataset may be made of)."""
    return os.path.isdir(out) and any(name != CAPTURE for name in os.listdir(out))


def _refuse(out: str, theirs: str | None) -> None:
    what = "another dataset" if theirs else "files that are not a dataset"
    raise InputError(f"{out}: holds {what}; use --force to replace it, or choose another -o")


def check_before_recording(cfg: DatasetConfig) -> None:
    """Refuse now an output the build would refuse after the recording: a minute not wasted."""
    out = cfg.output
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out}: exists and is not a directory")
    recorded = os.path.isfile(os.path.join(out, CAPTURE))
    if not recorded and not cfg.force and _holds_something(out):
        _refuse(out, _fingerprint_in(out))


def _only_ours_and_empty(out: str) -> bool:
    return all(
        name in (STATE, CAPTURE, *SPLITS)
        and (name in (STATE, CAPTURE) or not os.listdir(os.path.join(out, name)))
        for name in os.listdir(out)
    )


def discard(out: str) -> None:
    """Undo a build that found no pair: remove what it made, and only that (a recording stays)."""
    only_ours = _only_ours_and_empty(out)
    os.remove(os.path.join(out, STATE))
    if only_ours:
        for split in SPLITS:
            os.rmdir(os.path.join(out, split))
        if not os.listdir(out):
            os.rmdir(out)
