"""`evaluate --driver`: a driving video through the live mirror's own stages, in numbers.

Every frame goes through the same FaceStage and GeneratorStage as the window and `reenact`, with
their defaults for smoothing and retargeting. Then the landmark stage and dlib's identity network
are run on each output: is a face there, is it the target, does it follow the driver's
expression (mouth opening, eye openness and brow raise, each ÷ inter-ocular distance, correlated
over the clip), does it draw what was drawn (NME), and does it move as much as the driver does.
What is kept and measured is the bundle's mode's (app.modes): a swap bundle is measured on its
own terms (app.modes.face_crop). The pictures (app.pictures): a contact sheet of frames spread over
the clip, its columns the mode's, and a plot of the per-frame series over time.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from app.blinks import blink_figures
from app.face import DEFAULT_RETARGET, DEFAULT_SMOOTHING, FaceStage, GeneratorStage
from app.model import check_model_path, load_model
from app.modes import Run, mode_named
from app.pictures import Measured, plot_picture, sheet_picture
from app.pipeline import Frame, run_sequential
from app.reenact import add_retarget_arguments, face_spec
from app.sources import VideoSource, add_span_argument, open_video
from app.swap import DEFAULT_SHARPEN, add_sharpen_argument, blend_params
from common.errors import InputError

# The blink figures (app.blinks) every mode's table ends with.
BLINK_ROWS = [
    (("blinks", "count"), "driver's blinks", "events the rest rest on"),
    (("blinks", "followed_share"), "blinks followed", ">= 0.8"),
    (("blinks", "mean_depth_ratio"), "blink depth, output ÷ driver", "near 1"),
    (("blinks", "invented_per_minute"), "blinks invented per minute", "<= 1"),
    (("blinks", "eye_amplitude"), "eye amplitude, output ÷ driver", "0.8-1.25"),
    (("blinks", "shut", "frames"), "driver's shut-eye frames", ""),
    (("blinks", "shut", "ratio"), "output's eyes there ÷ its median", "<= 0.5"),
]


@dataclass
class DriveConfig:
    """One `evaluate --driver` run; the command's flags map onto these fields."""

    model: str
    driver: str
    dataset: str | None = None
    retarget: str = DEFAULT_RETARGET
    smoothing: float = DEFAULT_SMOOTHING
    limit: int | None = None  # frames
    span: tuple[float, float] | None = None  # seconds [start, end) of the driver, else all of it
    progress: bool = True
    verbose: bool = False
    backend: str = "auto"
    threads: int | None = None
    sharpen: float = DEFAULT_SHARPEN  # a swap bundle's face: the unsharp mask's amount


class _RecordingTracker:
    """The stage's tracker, keeping the raw points it found: the driver before smoothing."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.points: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> Any:
        found = self.tracker(image)
        self.points = found.points
        return found

    def reset(self) -> None:
        self.tracker.reset()


def _runner(
    cfg: DriveConfig, source: VideoSource, face: FaceStage, generator: GeneratorStage
) -> Run:
    """Every frame of `source` through the face and generator stages in one thread, as `reenact`
    runs them, into a `keep` sink, with a progress bar; the run returns its statistics."""
    fps, first = source.fps, source.first

    def landmarks(frame: Frame) -> Frame:
        frame.index += first  # the video's own frame numbers, with or without --span
        return face(frame, frame.index / fps)

    stages = [("landmarks", landmarks), ("generator", generator)]

    def run(keep: Callable[[Frame], None]) -> dict:
        with tqdm(
            total=cfg.limit or source.frames or None,
            unit="frame",
            desc="drive",
            disable=not cfg.progress,
            file=sys.stderr,
        ) as bar:

            def sink(frame: Frame) -> None:
                bar.update()
                keep(frame)

            stop = threading.Event()
            return run_sequential(source, stages, [sink], max_frames=cfg.limit, stop=stop)

    return run


def drive_report(cfg: DriveConfig) -> Measured:
    """Run the driver through the live stages and measure what came out, with the pictures to
    write; InputError on bad input."""
    check_model_path(cfg.model)
    blend = blend_params(sharpen=cfg.sharpen)
    source = open_video(cfg.driver, "--driver", cfg.span)
    fps, first = source.fps, source.first
    try:
        bundle = load_model(
            cfg.model, warm_up=False, verbose=cfg.verbose, backend=cfg.backend, threads=cfg.threads
        )
        # The target's descriptor in every mode: the outputs' identity is measured against it.
        spec = face_spec(bundle, "auto", cfg.dataset)
        face = FaceStage(spec, smoothing=cfg.smoothing, retarget=cfg.retarget)
        face.tracker = _RecordingTracker(face.tracker)
        generator = GeneratorStage(bundle, blend)
        mode = generator.mode
        record = mode.record(_runner(cfg, source, face, generator), face)
    finally:
        source.close()
    if not record.outputs:
        raise InputError(f"no face found in any frame of {cfg.driver}")
    distances = face.identity.distances
    sm = record.stats["stage_ms"]
    measured = mode.measure(record, spec.target_descriptor, cfg.progress)
    series = measured["series"]
    # Frames whose parts the stage held as covered (a hand over the face) hold no blink.
    covered = (series.get("plausibility") or {}).get("covered") or []
    held = [f for f, c in zip(series["frame"], covered, strict=False) if c]
    eyes = series["eye_openness"]
    blinks = blink_figures(series["frame"], eyes["driver"], eyes["output"], fps, held)
    series["blinks"] = [event["frames"] for event in blinks["events"]]
    report = {
        "model": str(cfg.model),
        "kind": mode.name,
        "driver": str(cfg.driver),
        "frames": record.frames,
        "span": None if cfg.span is None else list(cfg.span),
        "first_frame": first,
        "fps": fps,
        "size": int(bundle.size),
        "retarget": cfg.retarget,
        "smoothing": cfg.smoothing,
        "target_descriptor": spec.target_descriptor is not None,
        "driver_identity_distance": float(np.median(distances)) if distances else None,
        "retargeting": face.retargeting,
        "driver_face_found": len(record.outputs) / record.frames,
        **measured,
        "blinks": blinks,
        "stage_ms": {name: float(sm[name]["mean"]) for name in ("landmarks", "generator")},
    }
    columns = mode.sheet(record)
    sheet = sheet_picture(
        f"sheet: {' | '.join(title for title, _ in columns)}, frames spread over the clip",
        columns,
        len(record.outputs),
        [f"frame {i}" for i in record.indices],
    )
    title = f"{Path(cfg.driver).name} through {cfg.model} ({mode.name})"
    return Measured(report, [sheet, plot_picture(measured["series"], title)])


def format_drive_table(report: dict) -> str:
    """The report as a table for people: one figure a line, the rows its mode measures."""
    mode = mode_named(str(report.get("kind")))
    lines = [mode.drive_title(report), f"{'figure':<30}{'value':>10}   good"]
    for path, label, good in [*mode.rows, *BLINK_ROWS]:
        value: Any = report
        for key in path:
            value = value[key]
        cell = "—" if value is None else str(value) if isinstance(value, int) else f"{value:.3f}"
        lines.append(f"{label:<30}{cell:>10}   {good}")
    return "\n".join(lines)


def add_driver_arguments(p: argparse.ArgumentParser) -> None:
    """`evaluate --driver` and the live path's settings it takes."""
    p.add_argument(
        "--driver",
        help="a driving video: measure the live path on it instead of the dataset's tail "
        "(--dataset then only says who the target is)",
    )
    add_span_argument(p, "with --driver: measure")
    add_retarget_arguments(p)
    add_sharpen_argument(p)


def drive_report_from_args(args: argparse.Namespace) -> Measured:
    """`evaluate --driver`'s flags as a DriveConfig, measured."""
    return drive_report(
        DriveConfig(
            model=args.model,
            driver=args.driver,
            dataset=args.dataset,
            retarget=args.retarget,
            smoothing=args.smoothing,
            limit=args.limit,
            span=args.span,
            progress=not args.quiet,
            verbose=args.verbose,
            backend=args.backend,
            threads=args.threads,
            sharpen=args.sharpen,
        )
    )
