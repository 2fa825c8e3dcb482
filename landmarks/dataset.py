"""`make-dataset`: speech videos become a pix2pix dataset of (line drawing | face photo) pairs.

The contract (see README): train/NNNNNN.png and val/NNNNNN.png hold A|B side by side, landmarks.npz
the 68 points of every pair in crop pixels, manifest.json (written last) says how it was made.
Every file is written under a temporary name and renamed; a checkpoint of the progress is kept
beside them, so an interrupted build continues where it stopped and ends with the same bytes.
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
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from landmarks.align import MODES, Alignment, align_frame
from landmarks.draw import DrawingParams, draw_landmarks
from landmarks.errors import InputError
from landmarks.track import FaceTracker
from landmarks.video import FrameSource, open_source

log = logging.getLogger(__name__)

FORMAT = "face-mirror-dataset"
VERSION = 1
MANIFEST = "manifest.json"
LANDMARKS = "landmarks.npz"
STATE = ".make-dataset-state.npz"
SPLITS = ("train", "val")
SKIP_REASONS = ("no_face", "several_faces", "off_crop", "unreadable")
# Seconds of work between progress checkpoints: at most this much is redone after an interruption.
# By time, not by pairs: the checkpoint holds every pair's points so far, and rewriting it every
# few pairs would grow quadratically on a long video.
CHECKPOINT_SECONDS = 5.0
# Full detections while tracking, to notice a second face walking in (about once a second).
REDETECT_EVERY = 30


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

    def validate(self) -> None:
        if not self.inputs:
            raise InputError("no input: give one or more videos or image folders")
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


def _atomic_write(path: str, write) -> None:
    """Write through `write(tmp_path)` to a temporary name beside `path`, then rename."""
    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=os.path.splitext(name)[1], dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _write_png(path: str, rgb: np.ndarray) -> None:
    def write(tmp: str) -> None:
        if not cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")

    _atomic_write(path, write)


def _write_json(path: str, data: dict) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")

    _atomic_write(path, write)


def _write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    _atomic_write(path, write)


def pair_path(output: str, split: str, index: int) -> str:
    return os.path.join(output, split, f"{index:06d}.png")


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


# -- the build --------------------------------------------------------------------------------


def _prepare_output(cfg: DatasetConfig, fingerprint: str) -> dict | None:
    """Check the output directory; return the saved progress to resume from, if any."""
    out = cfg.output
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out}: exists and is not a directory")
    manifest_path = os.path.join(out, MANIFEST)
    state_path = os.path.join(out, STATE)
    ours = {MANIFEST, LANDMARKS, STATE, *SPLITS}
    if os.path.isdir(out) and os.listdir(out):
        theirs = None
        if os.path.exists(manifest_path):
            try:
                with open(manifest_path) as f:
                    theirs = json.load(f).get("fingerprint")
            except (OSError, ValueError):
                theirs = "unreadable"
        elif os.path.exists(state_path):
            try:
                with np.load(state_path) as st:
                    theirs = str(st["fingerprint"])
            except (OSError, ValueError, KeyError):
                theirs = "unreadable"
        same = theirs == fingerprint
        if not same and not cfg.force:
            what = "another dataset" if theirs else "files that are not a dataset"
            raise InputError(
                f"{out}: holds {what}; use --force to replace it, or choose another -o"
            )
        if not same:
            for name in os.listdir(out):
                if name in ours or name.startswith(f".{MANIFEST}."):
                    path = os.path.join(out, name)
                    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        elif os.path.exists(state_path) and not os.path.exists(manifest_path):
            with np.load(state_path, allow_pickle=False) as st:
                return {k: st[k] for k in st.files}
    try:
        for split in SPLITS:
            os.makedirs(os.path.join(out, split), exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".probe.", delete=True)
        probe.close()
    except OSError as e:
        raise InputError(f"{out}: cannot write there ({e.strerror or e})") from None
    return None


def build_dataset(
    cfg: DatasetConfig, progress: bool = True, stop_after: int | None = None
) -> BuildResult:
    """Build (or continue, or confirm) the dataset `cfg` describes. `stop_after` pairs simulates
    an interruption, for tests."""
    cfg.validate()
    sources = [open_source(p) for p in cfg.inputs]
    fingerprint = _fingerprint(cfg, sources)
    start = time.perf_counter()
    manifest_path = os.path.join(cfg.output, MANIFEST)
    if os.path.exists(manifest_path) and not cfg.force:
        with open(manifest_path) as f:
            manifest = json.load(f)
        if manifest.get("fingerprint") == fingerprint:
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
    saved = _prepare_output(cfg, fingerprint)

    drawing, alignment = DrawingParams(), Alignment(cfg.mode)
    tracker = FaceTracker(redetect_every=REDETECT_EVERY)
    records: dict[str, list] = {k: [] for k in ("points", "frame", "source", "split", "index")}
    skipped: Counter[str] = Counter({r: 0 for r in SKIP_REASONS})
    several_seen = 0
    first_source, first_frame = 0, 0
    if saved is not None:
        n = len(saved["index"])
        for k in records:
            records[k] = list(saved[k]) if n else []
        skipped.update(json.loads(str(saved["skipped"])))
        several_seen = int(saved["several_seen"])
        first_source, first_frame = (int(v) for v in saved["position"])
        tracker.set_state(
            {k[len("tracker_") :]: saved[k] for k in saved if k.startswith("tracker_")}
        )
    resumed_from = len(records["index"])

    def checkpoint(source_i: int, next_frame: int) -> None:
        arrays = _record_arrays(records)
        arrays.update(
            fingerprint=np.array(fingerprint),
            skipped=np.array(json.dumps(dict(skipped))),
            several_seen=np.array(several_seen),
            position=np.array([source_i, next_frame]),
            **{f"tracker_{k}": v for k, v in tracker.state().items()},
        )
        _write_npz(os.path.join(cfg.output, STATE), arrays)

    plans = [sampled_frames(s.frames, cfg.every, cfg.max_pairs) for s in sources]
    total = sum(len(p) for p in plans)
    done = sum(
        sum(1 for f in p if f < first_frame) if i == first_source else len(p)
        for i, p in enumerate(plans)
        if i <= first_source
    )
    frames_read = 0
    bar = tqdm(
        total=total,
        initial=done,
        unit="frame",
        desc="make-dataset",
        disable=not progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    try:
        for si, (source, plan) in enumerate(zip(sources, plans, strict=True)):
            if si < first_source:
                continue
            if si > first_source or saved is None or first_frame == 0:
                tracker.reset()  # each video starts with a detection, resumed or not
            wanted = set(plan)
            tail = val_start(plan, cfg.val_fraction)
            last_checkpoint = time.perf_counter()
            for fi, frame in source.read(start=first_frame if si == first_source else 0):
                if fi not in wanted:
                    continue
                frames_read += 1
                bar.update(1)
                if frame is None:
                    skipped["unreadable"] += 1
                    tracker.reset()
                    continue
                found = tracker(frame)
                several_seen += found.faces > 1
                if not found.found:
                    skipped["no_face"] += 1
                    continue
                if found.ambiguous:
                    skipped["several_faces"] += 1
                    tracker.reset()
                    continue
                crop, _, points = align_frame(frame, found.points, cfg.size, alignment)
                if points.min() < 0 or points.max() > cfg.size - 1:
                    skipped["off_crop"] += 1
                    continue
                split = int(fi >= tail)
                index = len(records["index"])
                pair = np.hstack(
                    [
                        draw_landmarks(points, cfg.size, drawing),
                        cv2.cvtColor(crop, cv2.COLOR_BGR2RGB),
                    ]
                )
                _write_png(pair_path(cfg.output, SPLITS[split], index), pair)
                for k, v in zip(records, (points, fi, si, split, index), strict=True):
                    records[k].append(v)
                if stop_after is not None and len(records["index"]) - resumed_from >= stop_after:
                    checkpoint(si, fi + 1)
                    raise KeyboardInterrupt
                if time.perf_counter() - last_checkpoint >= CHECKPOINT_SECONDS:
                    checkpoint(si, fi + 1)
                    last_checkpoint = time.perf_counter()
            checkpoint(si + 1, 0)
            first_frame = 0
    finally:
        bar.close()

    n_pairs = len(records["index"])
    if n_pairs == 0:
        shutil.rmtree(cfg.output) if _only_ours_and_empty(cfg.output) else os.remove(
            os.path.join(cfg.output, STATE)
        )
        raise InputError(f"no face found in any frame of {', '.join(cfg.inputs)} ({dict(skipped)})")
    arrays = _record_arrays(records)
    _write_npz(os.path.join(cfg.output, LANDMARKS), arrays)
    pairs = {s: int((arrays["split"] == i).sum()) for i, s in enumerate(SPLITS)}
    counts = {**pairs, "skipped": dict(skipped), "several_faces_seen": several_seen}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": fingerprint,
        "mode": cfg.mode,
        "size": cfg.size,
        "layout": "A|B: A = line drawing (left), B = photo (right), RGB",
        "drawing": drawing.to_dict(),
        "alignment": alignment.to_dict(),
        "settings": {
            k: v for k, v in asdict(cfg).items() if k not in ("inputs", "output", "force", "quiet")
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
        "counts": counts,
    }
    _write_json(os.path.join(cfg.output, MANIFEST), manifest)
    os.remove(os.path.join(cfg.output, STATE))
    return BuildResult(
        cfg.output,
        pairs,
        dict(skipped),
        several_seen,
        time.perf_counter() - start,
        frames_read,
        resumed_from,
    )


def _record_arrays(records: dict[str, list]) -> dict[str, np.ndarray]:
    n = len(records["index"])
    return {
        "points": np.asarray(records["points"], np.float32).reshape(n, 68, 2),
        "frame": np.asarray(records["frame"], np.int32),
        "source": np.asarray(records["source"], np.int32),
        "split": np.asarray(records["split"], np.uint8),
        "index": np.asarray(records["index"], np.int32),
    }


def _only_ours_and_empty(out: str) -> bool:
    return all(
        name in (STATE, *SPLITS) and (name == STATE or not os.listdir(os.path.join(out, name)))
        for name in os.listdir(out)
    )


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> DatasetConfig:
    d = DatasetConfig()
    p = argparse.ArgumentParser(
        prog="make-dataset",
        description="Turn speech videos (or folders of images) of one target person into a pix2pix "
        "dataset: each frame paired with a drawing of its 68 dlib landmarks.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="VIDEO_OR_DIR", help="speech videos or folders of images"
    )
    p.add_argument("-o", "--output", default=d.output, help="dataset directory to write")
    p.add_argument(
        "--size",
        type=int,
        default=d.size,
        help="side of each image, a power of two from 64 to 1024",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default=d.mode,
        help="aligned: rotate and scale each face onto a template; frame: the whole frame",
    )
    p.add_argument("--every", type=int, default=d.every, help="use every N-th frame")
    p.add_argument(
        "--max-pairs", type=int, default=d.max_pairs, help="at most this many pairs per video"
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="share of each video's tail held out for validation",
    )
    p.add_argument(
        "--force", action="store_true", help="replace a different dataset in the output directory"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return DatasetConfig(**vars(p.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = parse_args(argv)
    try:
        result = build_dataset(cfg, progress=not cfg.quiet)
    except InputError as e:
        print(f"make-dataset: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"make-dataset: interrupted; run the same command again to continue ({cfg.output})",
            file=sys.stderr,
        )
        return 130
    if result.already_built:
        print(
            f"make-dataset: {cfg.output} is already built from these inputs "
            f"({result.pairs['train']} train + {result.pairs['val']} val pairs); nothing to do"
        )
        return 0
    skipped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.skipped.items())
    fps = result.frames_read / result.seconds if result.seconds else 0.0
    resumed = f" (continued after {result.resumed_from} pairs)" if result.resumed_from else ""
    print(
        f"make-dataset: {result.pairs['train']} train + {result.pairs['val']} val pairs in {result.output}"
        f"{resumed}\n  skipped: {skipped}\n  frames with several faces seen: {result.several_faces_seen}\n"
        f"  {result.frames_read} frames in {result.seconds:.1f} s ({fps:.1f} frames/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
