"""`reenact`: a driving video through the landmark and generator stages into an mp4, every frame.

With a swap bundle each written frame is the driving frame with the target's face in it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from app.face import (
    DEFAULT_RETARGET,
    DEFAULT_SMOOTHING,
    RETARGET_MODES,
    FaceStage,
    GeneratorStage,
    ModelSpec,
    target_descriptor,
)
from app.model import add_backend_flags, load_model
from app.modes import require_swap_path
from app.occlusion import shape_range
from app.pipeline import Frame, run_sequential
from app.sinks import Recorder, RecorderSink
from app.sources import add_span_argument, open_video
from app.swap import DEFAULT_SHARPEN, add_sharpen_argument, blend_params
from common.cli import run_command
from common.errors import InputError
from landmarks.blend import BLEND_METHODS

log = logging.getLogger("reenact")


@dataclass
class ReenactConfig:
    """One reenact run; the command's flags map onto these fields one to one."""

    model: str
    source: str
    output: str
    side_by_side: bool = False
    retarget: str = DEFAULT_RETARGET  # auto | on | off
    dataset: str | None = None  # where the target's descriptor comes from, for auto
    smoothing: float = DEFAULT_SMOOTHING
    progress: bool = True
    verbose: bool = False
    backend: str = "auto"
    threads: int | None = None
    blend: str = "alpha"  # a swap bundle's blend: alpha or poisson
    sharpen: float = DEFAULT_SHARPEN  # a swap bundle's face: the unsharp mask's amount
    span: tuple[float, float] | None = None  # seconds [start, end) of the source, else all of it


def reenact(cfg: ReenactConfig) -> dict:
    """Write cfg.output, one frame per source frame at the source's rate; returns the run's stats.

    Raises InputError for a bad model, source or output, before any frame is processed.
    """
    blend = blend_params(cfg.blend, cfg.sharpen)  # a bad --sharpen: one line, before anything
    source = open_video(cfg.source, "--source", cfg.span)
    try:
        if cfg.blend != "alpha":
            # Only a swap blends: say so before anything loads.
            require_swap_path(cfg.model, f"--blend {cfg.blend}")
        recorder = Recorder(cfg.output, source.fps)  # checks the path before the slow model load
        bundle = load_model(
            cfg.model, verbose=cfg.verbose, backend=cfg.backend, threads=cfg.threads
        )
        face = FaceStage(
            face_spec(bundle, cfg.retarget, cfg.dataset),
            smoothing=cfg.smoothing,
            retarget=cfg.retarget,
        )
        generator = GeneratorStage(bundle, blend)
        width, height = generator.mode.output_size(source.frame_shape, cfg.side_by_side)
        sink = RecorderSink(recorder, height, generator.mode, cfg.side_by_side)
        # Open the file before the first frame, so an unwritable output fails now and not later.
        sink.recorder.open(width, height)
        fps, first = source.fps, source.first
        # Frame times from the file, not the wall clock: the same video gives the same output.
        stages = [
            ("landmarks", lambda f: face(f, (f.index + first) / fps)),
            ("generator", generator),
        ]
        with tqdm(
            total=source.frames or None, unit="frame", desc="reenact", disable=not cfg.progress
        ) as bar:

            def progress(_: Frame) -> None:
                bar.update()

            try:
                stats = run_sequential(source, stages, [sink, progress], stop=threading.Event())
            except BaseException:
                sink.recorder.abort()
                raise
        if stats["faces"] == 0:
            sink.recorder.abort()  # a video of black frames is no answer
            raise InputError(f"no face found in any frame of {cfg.source}")
        sink.close()
    finally:
        source.close()
    log.info("%d frames (%d with a face) → %s", stats["frames_out"], stats["faces"], cfg.output)
    return stats


def face_spec(bundle: object, retarget: str, dataset: str | None) -> ModelSpec:
    """The bundle's spec, with the target's descriptor when auto retargeting needs one."""
    spec = ModelSpec.from_bundle(bundle)
    if dataset is not None:  # the target's shapes too (app.occlusion): the named dataset's
        spec = dataclasses.replace(spec, shapes=shape_range(bundle, dataset))
    if retarget != "auto":
        return spec
    return dataclasses.replace(spec, target_descriptor=target_descriptor(bundle, dataset))


def add_retarget_arguments(p: argparse.ArgumentParser) -> None:
    """--retarget (and its older --no-retarget), --dataset, --smoothing: how the driver is drawn."""
    p.add_argument(
        "--retarget",
        choices=RETARGET_MODES,
        default=DEFAULT_RETARGET,
        help="move the target's own face shape by the driver's expression (on), draw the "
        "driver's points (off), or off when the driver is the target, on otherwise "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--no-retarget",
        dest="retarget",
        action="store_const",
        const="off",
        help="the same as --retarget off",
    )
    p.add_argument(
        "--smoothing",
        type=float,
        default=DEFAULT_SMOOTHING,
        help="landmark smoothing, 0 (none) to 1 (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reenact",
        description="Drive a trained target face with a video: "
        "every frame, at the video's rate, into an mp4.",
    )
    p.add_argument(
        "--model", required=True, help="model bundle directory (generator.keras + bundle.json)"
    )
    p.add_argument("--source", required=True, help="driving video")
    p.add_argument("-o", "--output", required=True, help="output mp4")
    p.add_argument(
        "--side-by-side",
        action="store_true",
        help="write driver | drawing | generated (a swap bundle: the composited frame)",
    )
    add_retarget_arguments(p)
    add_span_argument(p, "reenact")
    p.add_argument(
        "--dataset",
        help="the model's dataset, for the target's identity in --retarget auto "
        "(default: the bundle's own, or the dataset it was trained on if still there)",
    )
    p.add_argument(
        "--blend",
        choices=BLEND_METHODS,
        default="alpha",
        help="a swap bundle's blend into the frame: a feathered alpha blend, or Poisson "
        "(cv2.seamlessClone, then the same feather; about 7x the alpha blend's time)",
    )
    add_sharpen_argument(p)
    add_backend_flags(p)
    p.add_argument("-q", "--quiet", dest="progress", action="store_false", help="no progress bar")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show TensorFlow's own start-up messages"
    )
    return p


def _report(stats: dict, output: str) -> None:
    """One line on what was written and what a frame cost."""
    sm = stats["stage_ms"]
    print(
        f"{stats['frames_out']} frames → {Path(output)}  "
        f"(landmarks {sm['landmarks']['mean']:.1f} ms, "
        f"generator {sm['generator']['mean']:.1f} ms a frame)",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    cfg = ReenactConfig(**vars(args))

    def body() -> None:
        stats = reenact(cfg)
        if cfg.progress:
            _report(stats, cfg.output)

    return run_command("reenact", body, interrupted="interrupted; no output written")


if __name__ == "__main__":
    sys.exit(main())
