"""`make-dataset`: speech videos become a pix2pix dataset of (line drawing | face photo) pairs.

The files are the contract in landmarks/dataset_format.py: train/NNNNNN.png and val/NNNNNN.png
hold A|B side by side, landmarks.npz the 68 points of every pair in crop pixels, manifest.json
(written last) says how it was made. Every file is written under a temporary name and renamed; a
checkpoint of the progress is kept beside them, so an interrupted build continues where it stopped
and ends with the same bytes.

Here the build from start to end and the command; its parts: dataset_config (settings, command
line, summary), dataset_output (the output directory), dataset_frames (the pass over the frames),
dataset_state (the progress record and its files), dataset_manifest (manifest.json).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict, replace

import cv2

from common.cli import run_command
from common.errors import InputError
from common.files import write_json_atomic
from common.progress import emit, progress_bar, progress_mode
from landmarks.align import Alignment
from landmarks.capture import Opener, capture_for_dataset
from landmarks.dataset_config import BuildResult, DatasetConfig, parse_args, summary
from landmarks.dataset_format import LANDMARKS, MANIFEST, SPLITS, VERSION
from landmarks.dataset_frames import Build, frames_done, sampled_frames, val_range, val_start
from landmarks.dataset_manifest import build_manifest
from landmarks.dataset_output import already_built, check_before_recording, discard, prepare_output
from landmarks.dataset_state import STATE, Progress, write_npz
from landmarks.draw import DrawingParams
from landmarks.video import FrameSource, open_source

__all__ = [
    "MANIFEST",
    "STATE",
    "BuildResult",
    "DatasetConfig",
    "build_dataset",
    "main",
    "parse_args",
    "sampled_frames",
    "val_start",
]


def _fingerprint(cfg: DatasetConfig, sources: list[FrameSource]) -> str:
    """What makes a dataset this dataset: the settings and the inputs (not where it is written)."""
    desc = {
        "format": VERSION,
        "size": cfg.size,
        "mode": cfg.mode,
        "every": cfg.every,
        "max_pairs": cfg.max_pairs,
        "val_fraction": cfg.val_fraction,
        **({} if cfg.val_span is None else {"val_span": list(cfg.val_span)}),
        "drawing": DrawingParams().to_dict(),
        "alignment": Alignment(cfg.mode).to_dict(),
        "inputs": [(os.path.abspath(s.path), s.frames, _content_size(s)) for s in sources],
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]


def _content_size(source: FrameSource) -> int:
    paths = source.images if source.images is not None else [source.path]
    return sum(os.path.getsize(p) for p in paths)


def build_dataset(
    cfg: DatasetConfig, progress: bool = True, stop_after: int | None = None
) -> BuildResult:
    """Build (or continue, or confirm) the dataset `cfg` describes.

    `stop_after` pairs simulates an interruption, for tests.
    """
    cfg.validate()
    sources = [open_source(p) for p in cfg.inputs]
    fingerprint = _fingerprint(cfg, sources)
    start = time.perf_counter()
    built = already_built(cfg, fingerprint)
    if built is not None:
        return built
    record = prepare_output(cfg, fingerprint) or Progress(fingerprint)
    plans = [sampled_frames(s.frames, cfg.every, cfg.max_pairs) for s in sources]
    _check_span(cfg, sources, plans)
    bar = progress_bar(
        progress_mode(cfg.progress, cfg.quiet) if progress else "none",
        "dataset",
        sum(len(p) for p in plans),
        frames_done(plans, record.position),
        unit="frame",
        desc="make-dataset",
        dynamic_ncols=True,
        file=sys.stderr,
    )
    build = Build(cfg, record, bar, stop_after)
    try:
        build.run(sources, plans)
    finally:
        bar.close()

    if record.pairs == 0:
        discard(cfg.output)
        skipped = dict(record.skipped)
        raise InputError(f"no face found in any frame of {', '.join(cfg.inputs)} ({skipped})")
    arrays = record.arrays()
    write_npz(os.path.join(cfg.output, LANDMARKS), arrays)
    manifest = build_manifest(cfg, sources, plans, record, arrays)
    write_json_atomic(os.path.join(cfg.output, MANIFEST), manifest)
    os.remove(os.path.join(cfg.output, STATE))
    return BuildResult(
        cfg.output,
        {s: manifest["counts"][s] for s in SPLITS},
        dict(record.skipped),
        record.several_seen,
        time.perf_counter() - start,
        build.frames_read,
        build.resumed_from,
    )


def _check_span(cfg: DatasetConfig, sources: list[FrameSource], plans: list[list[int]]) -> None:
    """--val-span must hold frames of some video, and leave some to train on: else one line."""
    if cfg.val_span is None:
        return
    held = [
        sum(first <= f < end for f in plan)
        for s, plan in zip(sources, plans, strict=True)
        for first, end in [val_range(plan, s.fps, cfg)]
    ]
    if not any(held):
        start, end = cfg.val_span
        raise InputError(f"--val-span {start:g}:{end:g}: no frame of the input lies in that span")
    if sum(held) >= sum(len(p) for p in plans):
        raise InputError("--val-span holds out every frame: nothing is left to train on")


def _record(cfg: DatasetConfig, opener: Opener) -> DatasetConfig:
    """Record the camera into the output folder (or reuse that recording): the build's input."""
    cfg.validate()
    check_before_recording(cfg)

    def say(left: int, prompt: str) -> None:
        print(f"make-dataset: {left} s left: {prompt}", file=sys.stderr, flush=True)

    path, recording = capture_for_dataset(cfg.output, cfg.camera, cfg.seconds, opener, say)
    if recording is None:
        print(f"make-dataset: using {path} from before; delete it to record again", file=sys.stderr)
    else:
        print(f"make-dataset: recorded {recording.frames} frames into {path}", file=sys.stderr)
    return replace(cfg, inputs=[path], camera=None)


def main(argv: list[str] | None = None, opener: Opener = cv2.VideoCapture) -> int:
    """`opener` opens --camera's webcam (tests pass one that opens a video file)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = parse_args(argv)
    if cfg.camera is not None:

        def record() -> None:
            nonlocal cfg
            cfg = _record(cfg, opener)

        code = run_command("make-dataset", record, interrupted="interrupted; nothing recorded")
        if code:
            return code

    def body() -> None:
        result = build_dataset(cfg, progress=not cfg.quiet or cfg.progress == "json")
        if cfg.progress == "json":
            emit("summary", stage="dataset", **asdict(result))
        print(summary(result))

    return run_command(
        "make-dataset",
        body,
        interrupted=f"interrupted; run the same command again to continue ({cfg.output})",
    )


if __name__ == "__main__":
    sys.exit(main())
