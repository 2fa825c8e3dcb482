"""`make-dataset`: speech videos become a pix2pix dataset of (line drawing | face photo) pairs.

The files are the contract in landmarks/dataset_format.py: train/NNNNNN.png and val/NNNNNN.png
hold A|B side by side, landmarks.npz the 68 points of every pair in crop pixels, manifest.json
(written last) says how it was made. Every file is written under a temporary name and renamed; a
checkpoint of the progress is kept beside them, so an interrupted build continues where it stopped
and ends with the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from common.cli import run_command
from common.errors import InputError
from common.files import atomic_path, write_atomic, write_json_atomic
from landmarks.align import MODES, Alignment, align_frame
from landmarks.capture import CAPTURE, DEFAULT_SECONDS, Opener, capture_for_dataset
from landmarks.dataset_format import (
    FORMAT,
    LANDMARKS,
    MANIFEST,
    SPLITS,
    VERSION,
    pair_path,
    read_pair,
)
from landmarks.draw import DrawingParams, draw_landmarks
from landmarks.identity import mean_descriptor, spread
from landmarks.retarget import neutral_shape
from landmarks.track import FaceTracker, TrackResult
from landmarks.video import FrameSource, open_source

STATE = ".make-dataset-state.npz"
SKIP_REASONS = ("no_face", "off_crop", "unreadable")
# After these the next frame starts with a detection: the track is from before a gap. A second
# face does not skip the frame: the tracker keeps the face it follows (the largest at first).
LOSES_TRACK = ("unreadable",)
# Seconds of work between progress checkpoints: at most this much is redone after an interruption.
# By time, not by pairs: the checkpoint holds every pair's points so far, and rewriting it every
# few pairs would grow quadratically on a long video.
CHECKPOINT_SECONDS = 5.0
# Full detections while tracking, to notice a second face walking in (about once a second).
REDETECT_EVERY = 30
# One pair's row in landmarks.npz, and the type each column is stored as.
COLUMNS = {
    "points": np.float32,
    "frame": np.int32,
    "source": np.int32,
    "split": np.uint8,
    "index": np.int32,
}


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
    force: bool = False
    quiet: bool = False
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


# -- files ------------------------------------------------------------------------------------


def _write_png(path: str, rgb: np.ndarray) -> None:
    # cv2 picks the encoder by the suffix, which atomic_path keeps.
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")


def _write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        # A file object, so that numpy adds no suffix of its own.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    write_atomic(path, write)


# -- the progress record ----------------------------------------------------------------------


def _no_skips() -> Counter[str]:
    return Counter({r: 0 for r in SKIP_REASONS})


@dataclass
class Progress:
    """How far a build has come: every pair so far, why frames were skipped, where to go on.

    Saved as STATE beside the pairs; `position` is the (source, frame) to continue from and
    `tracker` the face tracker's state there, so a resumed build tracks as an unbroken one would.
    """

    fingerprint: str
    points: list[np.ndarray] = field(default_factory=list)
    frame: list[int] = field(default_factory=list)
    source: list[int] = field(default_factory=list)
    split: list[int] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=_no_skips)
    several_seen: int = 0
    position: tuple[int, int] = (0, 0)
    tracker: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return len(self.index)

    def add(self, points: np.ndarray, frame: int, source: int, split: int) -> int:
        """Record one more pair; returns its file number."""
        index = self.pairs
        for column, value in zip(COLUMNS, (points, frame, source, split, index), strict=True):
            getattr(self, column).append(value)
        return index

    def arrays(self) -> dict[str, np.ndarray]:
        """The pairs so far as landmarks.npz holds them."""
        arrays = {column: np.asarray(getattr(self, column), t) for column, t in COLUMNS.items()}
        arrays["points"] = arrays["points"].reshape(self.pairs, 68, 2)
        return arrays

    def save(self, path: str) -> None:
        """Checkpoint to `path` (STATE), atomically: a killed build leaves the last one whole."""
        _write_npz(
            path,
            {
                **self.arrays(),
                "fingerprint": np.array(self.fingerprint),
                "skipped": np.array(json.dumps(dict(self.skipped))),
                "several_seen": np.array(self.several_seen),
                "position": np.array(list(self.position)),
                **{f"tracker_{k}": v for k, v in self.tracker.items()},
            },
        )

    @classmethod
    def load(cls, path: str) -> Progress:
        """The progress a checkpoint at `path` saved."""
        with np.load(path, allow_pickle=False) as saved:
            st = {k: saved[k] for k in saved.files}
        n = len(st["index"])
        skipped = _no_skips()
        skipped.update(json.loads(str(st["skipped"])))
        source, frame = (int(v) for v in st["position"])
        return cls(
            str(st["fingerprint"]),
            **{column: list(st[column]) if n else [] for column in COLUMNS},
            skipped=skipped,
            several_seen=int(st["several_seen"]),
            position=(source, frame),
            tracker={k[len("tracker_") :]: v for k, v in st.items() if k.startswith("tracker_")},
        )


# -- planning ---------------------------------------------------------------------------------


def _fingerprint(cfg: DatasetConfig, sources: list[FrameSource]) -> str:
    """What makes a dataset this dataset: the settings and the inputs (not where it is written)."""
    desc = {
        "format": VERSION,
        "size": cfg.size,
        "mode": cfg.mode,
        "every": cfg.every,
        "max_pairs": cfg.max_pairs,
        "val_fraction": cfg.val_fraction,
        "drawing": DrawingParams().to_dict(),
        "alignment": Alignment(cfg.mode).to_dict(),
        "inputs": [(os.path.abspath(s.path), s.frames, _content_size(s)) for s in sources],
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]


def _content_size(source: FrameSource) -> int:
    paths = source.images if source.images is not None else [source.path]
    return sum(os.path.getsize(p) for p in paths)


def sampled_frames(frames: int, every: int, max_pairs: int | None) -> list[int]:
    """The frame indices to use: every N-th, spread further apart to stay within max_pairs."""
    stride = every if max_pairs is None else max(every, math.ceil(frames / max_pairs))
    return list(range(0, frames, stride))


def val_start(sampled: list[int], val_fraction: float) -> int:
    """First frame index of the held-out tail (neighbouring frames would leak, so not random)."""
    n_val = math.ceil(len(sampled) * val_fraction) if val_fraction > 0 and len(sampled) > 1 else 0
    return sampled[len(sampled) - n_val] if n_val else sampled[-1] + 1


def _frames_done(plans: list[list[int]], position: tuple[int, int]) -> int:
    """How many planned frames lie before `position`: where the progress bar starts."""
    first_source, first_frame = position
    return sum(
        sum(1 for f in p if f < first_frame) if i == first_source else len(p)
        for i, p in enumerate(plans)
        if i <= first_source
    )


# -- the output directory ---------------------------------------------------------------------


def _already_built(cfg: DatasetConfig, fingerprint: str) -> BuildResult | None:
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


def _prepare_output(cfg: DatasetConfig, fingerprint: str) -> Progress | None:
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


def _check_before_recording(cfg: DatasetConfig) -> None:
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


def _discard(out: str) -> None:
    """Undo a build that found no pair: remove what it made, and only that (a recording stays)."""
    only_ours = _only_ours_and_empty(out)
    os.remove(os.path.join(out, STATE))
    if only_ours:
        for split in SPLITS:
            os.rmdir(os.path.join(out, split))
        if not os.listdir(out):
            os.rmdir(out)


# -- the build --------------------------------------------------------------------------------


def _pair(
    frame: np.ndarray, found: TrackResult, size: int, drawing: DrawingParams, alignment: Alignment
) -> tuple[np.ndarray, np.ndarray] | str:
    """One frame's pair (the A|B image, and the points in crop pixels), or why it is skipped."""
    if not found.found:
        return "no_face"
    crop, _, points = align_frame(frame, found.points, size, alignment)
    if points.min() < 0 or points.max() > size - 1:
        return "off_crop"
    pair = np.hstack([draw_landmarks(points, size, drawing), cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)])
    return pair, points


@dataclass
class _Build:
    """One run over the sources, from the saved position on: what each frame's work needs."""

    cfg: DatasetConfig
    progress: Progress
    bar: tqdm
    stop_after: int | None = None
    # The roll and fine-scale searches on every faceless frame: every pair counts here.
    tracker: FaceTracker = field(
        default_factory=lambda: FaceTracker(redetect_every=REDETECT_EVERY, fallback_every=1)
    )
    drawing: DrawingParams = field(default_factory=DrawingParams)
    frames_read: int = 0
    alignment: Alignment = field(init=False)
    resumed_from: int = field(init=False)  # pairs made before this run

    def __post_init__(self) -> None:
        self.alignment = Alignment(self.cfg.mode)
        self.resumed_from = self.progress.pairs
        self.tracker.set_state(self.progress.tracker)

    def run(self, sources: list[FrameSource], plans: list[list[int]]) -> None:
        first_source, first_frame = self.progress.position
        for si, (source, plan) in enumerate(zip(sources, plans, strict=True)):
            if si < first_source:
                continue
            start = first_frame if si == first_source else 0
            if start == 0:
                self.tracker.reset()  # each video starts with a detection, resumed or not
            self._source(si, source, plan, start)
            self._checkpoint(si + 1, 0)

    def _source(self, si: int, source: FrameSource, plan: list[int], start: int) -> None:
        wanted, tail = set(plan), val_start(plan, self.cfg.val_fraction)
        last_checkpoint = time.perf_counter()
        for fi, frame in source.read(start=start):
            if fi not in wanted:
                continue
            self.frames_read += 1
            self.bar.update(1)
            if not self._take(si, fi, frame, split=int(fi >= tail)):
                continue
            if self._stop_requested():
                self._checkpoint(si, fi + 1)
                raise KeyboardInterrupt
            if time.perf_counter() - last_checkpoint >= CHECKPOINT_SECONDS:
                self._checkpoint(si, fi + 1)
                last_checkpoint = time.perf_counter()

    def _take(self, si: int, fi: int, frame: np.ndarray | None, split: int) -> bool:
        """Write one frame's pair and record it, or count why not; True if a pair was made."""
        if frame is None:
            made = "unreadable"
        else:
            found = self.tracker(frame)
            self.progress.several_seen += found.faces > 1
            made = _pair(frame, found, self.cfg.size, self.drawing, self.alignment)
        if isinstance(made, str):
            self.progress.skipped[made] += 1
            if made in LOSES_TRACK:
                self.tracker.reset()
            return False
        image, points = made
        _write_png(pair_path(self.cfg.output, SPLITS[split], self.progress.pairs), image)
        self.progress.add(points, fi, si, split)
        return True

    def _stop_requested(self) -> bool:
        """Whether the test's simulated interruption is due."""
        made = self.progress.pairs - self.resumed_from
        return self.stop_after is not None and made >= self.stop_after

    def _checkpoint(self, source: int, next_frame: int) -> None:
        self.progress.position = (source, next_frame)
        self.progress.tracker = self.tracker.state()
        self.progress.save(os.path.join(self.cfg.output, STATE))


def _target(out: str, arrays: dict[str, np.ndarray]) -> dict:
    """Who the target is and their face at rest, from the training pairs already written.

    The descriptor (mean of dlib's over a few photos spread across the training split) lets the
    app tell the target driving themself; the neutral shape (the live driver's rule, on every
    training shape) is what retargeting adds the driver's expression to. Both come from the
    files and points, so a resumed build computes them exactly as an unbroken one does.
    """
    split, index, points = arrays["split"], arrays["index"], arrays["points"]
    rows = np.flatnonzero(split == 0)
    if len(rows) == 0:  # every pair is held out: they still show the target
        rows = np.arange(len(index))
    faces = (
        (read_pair(pair_path(out, SPLITS[split[i]], int(index[i])))[1], points[i])
        for i in spread(rows)
    )
    return {
        "target_descriptor": [round(float(v), 6) for v in mean_descriptor(faces)],
        "neutral_shape": [
            [round(float(x), 4), round(float(y), 4)] for x, y in neutral_shape(points[rows])
        ],
    }


def _manifest(
    cfg: DatasetConfig,
    sources: list[FrameSource],
    plans: list[list[int]],
    progress: Progress,
    arrays: dict[str, np.ndarray],
) -> dict:
    """manifest.json: how the dataset was made, from what, what came of it, and who it shows."""
    pairs = {s: int((arrays["split"] == i).sum()) for i, s in enumerate(SPLITS)}
    return {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": progress.fingerprint,
        "mode": cfg.mode,
        "size": cfg.size,
        "layout": "A|B: A = line drawing (left), B = photo (right), RGB",
        "drawing": DrawingParams().to_dict(),
        "alignment": Alignment(cfg.mode).to_dict(),
        "settings": {
            k: v
            for k, v in asdict(cfg).items()
            if k not in ("inputs", "output", "force", "quiet", "camera", "seconds")
        },
        "sources": [
            {
                "path": os.path.abspath(s.path),
                "frames": s.frames,
                "fps": s.fps,
                "pairs": int((arrays["source"] == i).sum()),
                "val_from_frame": val_start(plans[i], cfg.val_fraction),
            }
            for i, s in enumerate(sources)
        ],
        "counts": {
            **pairs,
            "skipped": dict(progress.skipped),
            "several_faces_seen": progress.several_seen,
        },
        **_target(cfg.output, arrays),
    }


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
    built = _already_built(cfg, fingerprint)
    if built is not None:
        return built
    record = _prepare_output(cfg, fingerprint) or Progress(fingerprint)
    plans = [sampled_frames(s.frames, cfg.every, cfg.max_pairs) for s in sources]
    bar = tqdm(
        total=sum(len(p) for p in plans),
        initial=_frames_done(plans, record.position),
        unit="frame",
        desc="make-dataset",
        disable=not progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    build = _Build(cfg, record, bar, stop_after)
    try:
        build.run(sources, plans)
    finally:
        bar.close()

    if record.pairs == 0:
        _discard(cfg.output)
        skipped = dict(record.skipped)
        raise InputError(f"no face found in any frame of {', '.join(cfg.inputs)} ({skipped})")
    arrays = record.arrays()
    _write_npz(os.path.join(cfg.output, LANDMARKS), arrays)
    manifest = _manifest(cfg, sources, plans, record, arrays)
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


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> DatasetConfig:
    d = DatasetConfig()
    p = argparse.ArgumentParser(
        prog="make-dataset",
        description="Turn speech videos (or folders of images) of one target person into a pix2pix "
        "dataset: each frame paired with a drawing of its 68 dlib landmarks.",
    )
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
    p.add_argument(
        "--seconds",
        type=float,
        default=d.seconds,
        help="how long --camera records (default: %(default)s)",
    )
    p.add_argument(
        "-o", "--output", default=d.output, help="dataset directory to write (default: %(default)s)"
    )
    p.add_argument(
        "--size",
        type=int,
        default=d.size,
        help="side of each image, a power of two from 64 to 1024 (default: %(default)s)",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default=d.mode,
        help="aligned (the default): rotate and scale each face onto a template; "
        "frame: the whole frame",
    )
    p.add_argument(
        "--every", type=int, default=d.every, help="use every N-th frame (default: every frame)"
    )
    p.add_argument(
        "--max-pairs",
        type=int,
        default=d.max_pairs,
        help="at most this many pairs per video (default: no limit)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="share of each video's tail held out for validation (default: %(default)s)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace a different dataset in the output directory"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return DatasetConfig(**vars(p.parse_args(argv)))


def _summary(result: BuildResult) -> str:
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


def _record(cfg: DatasetConfig, opener: Opener) -> DatasetConfig:
    """Record the camera into the output folder (or reuse that recording): the build's input."""
    cfg.validate()
    _check_before_recording(cfg)

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
        print(_summary(build_dataset(cfg, progress=not cfg.quiet)))

    return run_command(
        "make-dataset",
        body,
        interrupted=f"interrupted; run the same command again to continue ({cfg.output})",
    )


if __name__ == "__main__":
    sys.exit(main())
