"""Settings of `make-dataset`, its command line, and what a finished run says."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from common.errors import InputError
from common.progress import PROGRESS_MODES
from landmarks.align import MODES
from landmarks.capture import CAPTURE, DEFAULT_SECONDS


@dataclass
class DatasetConfig:
    """Settings of `make-dataset`; each field is one command-line flag."""

    inputs: list[str] = field(default_factory=list)
    output: str = "dataset"
    size: int = 256
    mode: str = "aligned"
    every: int = 1
    max_pairs: int | None = None
    val_fraction: float = 0.1
    val_span: tuple[float, float] | None = None  # seconds [start, end) of each video, held out
    force: bool = False
    quiet: bool = False
    progress: str = "bar"  # bar, json (lines on stderr for the window) or none
    camera: int | None = None
    seconds: float = DEFAULT_SECONDS

    def validate(self) -> None:
        if self.camera is not None:
            if self.inputs:
                raise InputError("give input videos or --camera, not both")
            if self.camera < 0:
                raise InputError(f"--camera {self.camera}: must be 0 or more")
            if not self.seconds > 0:
                raise InputError(f"--seconds {self.seconds}: must be more than 0")
        elif not self.inputs:
            raise InputError("no input: give one or more videos or image folders, or --camera")
        if self.size < 64 or self.size > 1024 or self.size & (self.size - 1):
            raise InputError(f"--size {self.size}: must be a power of two from 64 to 1024")
        if self.mode not in MODES:
            raise InputError(f"--mode {self.mode}: must be one of {', '.join(MODES)}")
        if self.every < 1:
            raise InputError(f"--every {self.every}: must be 1 or more")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise InputError(f"--max-pairs {self.max_pairs}: must be 1 or more")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"--val-fraction {self.val_fraction}: must be in [0, 1)")
        if self.val_span is not None:
            start, end = self.val_span
            if not 0 <= start < end:
                raise InputError(f"--val-span {start:g}:{end:g}: needs 0 <= START < END seconds")


@dataclass
class BuildResult:
    output: str
    pairs: dict[str, int]
    skipped: dict[str, int]
    several_faces_seen: int
    seconds: float
    frames_read: int
    resumed_from: int = 0
    already_built: bool = False


DESCRIPTION = (
    "Turn speech videos (or folders of images) of one target person into a pix2pix "
    "dataset: each frame paired with a drawing of its 68 dlib landmarks."
)


def parse_args(argv: list[str] | None) -> DatasetConfig:
    return DatasetConfig(**vars(_parser().parse_args(argv)))


def span(text: str) -> tuple[float, float]:
    """--val-span's START:END in seconds, e.g. 5:16 or 5.5:16."""
    try:
        start, end = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give START:END in seconds, e.g. 5:16"
        ) from None
    return start, end


def _parser() -> argparse.ArgumentParser:
    d = DatasetConfig()
    p = argparse.ArgumentParser(prog="make-dataset", description=DESCRIPTION)
    p.add_argument(
        "inputs", nargs="*", metavar="VIDEO_OR_DIR", help="speech videos or folders of images"
    )
    p.add_argument(
        "--camera",
        type=int,
        metavar="INDEX",
        default=d.camera,
        help=f"record this webcam into OUTPUT/{CAPTURE} instead of reading videos, then build "
        "from that (a rerun reuses the recording; delete it to record again)",
    )
    _valued(p, "--seconds", float, d.seconds, "how long --camera records (default: %(default)s)")
    p.add_argument(
        "-o", "--output", default=d.output, help="dataset directory to write (default: %(default)s)"
    )
    _valued(
        p,
        "--size",
        int,
        d.size,
        "side of each image, a power of two from 64 to 1024 (default: %(default)s)",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default=d.mode,
        help="aligned (the default): rotate and scale each face onto a template; "
        "frame: the whole frame",
    )
    _valued(p, "--every", int, d.every, "use every N-th frame (default: every frame)")
    _valued(
        p, "--max-pairs", int, d.max_pairs, "at most this many pairs per video (default: no limit)"
    )
    _valued(
        p,
        "--val-fraction",
        float,
        d.val_fraction,
        "share of each video's tail held out for validation (default: %(default)s)",
    )
    p.add_argument(
        "--val-span",
        type=span,
        metavar="START:END",
        default=d.val_span,
        help="hold out this span of each video instead of its tail, in seconds (e.g. 5:16; an "
        "image folder counts frames): "
        "for a video whose tail does not show what you want to measure, such as a calm end",
    )
    p.add_argument(
        "--force", action="store_true", help="replace a different dataset in the output directory"
    )
    _output_flags(p, d)
    return p


def _output_flags(p: argparse.ArgumentParser, d: DatasetConfig) -> None:
    """What the command shows as it runs."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--progress",
        choices=PROGRESS_MODES,
        default=d.progress,
        help="how progress shows: the terminal's bar, json (one JSON object a line on stderr, "
        "for a program such as the window: progress, then the summary), or none "
        "(default: %(default)s)",
    )


def _valued(p: argparse.ArgumentParser, flag: str, kind: type, default: object, text: str) -> None:
    """An option that takes a value of `kind`, with a default."""
    p.add_argument(flag, type=kind, default=default, help=text)


def summary(result: BuildResult) -> str:
    """What a finished run says on stdout."""
    pairs = f"{result.pairs['train']} train + {result.pairs['val']} val pairs"
    if result.already_built:
        return (
            f"make-dataset: {result.output} is already built from these inputs ({pairs}); "
            "nothing to do"
        )
    skipped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.skipped.items())
    fps = result.frames_read / result.seconds if result.seconds else 0.0
    resumed = f" (continued after {result.resumed_from} pairs)" if result.resumed_from else ""
    return (
        f"make-dataset: {pairs} in {result.output}{resumed}\n"
        f"  skipped: {skipped}\n"
        f"  frames with several faces seen: {result.several_faces_seen}\n"
        f"  {result.frames_read} frames in {result.seconds:.1f} s ({fps:.1f} frames/s)"
    )
