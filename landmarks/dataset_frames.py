"""make-dataset's pass over the frames: which frames, each frame's face as a pair, checkpoints."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from landmarks.align import Alignment, align_frame
from landmarks.dataset_config import DatasetConfig
from landmarks.dataset_format import SPLITS, pair_path
from landmarks.dataset_state import STATE, Progress, write_png
from landmarks.draw import DrawingParams, draw_landmarks
from landmarks.track import FaceTracker, TrackResult
from landmarks.video import FrameSource

# After these the next frame starts with a detection: the track is from before a gap. A second
# face does not skip the frame: the tracker keeps the face it follows (the largest at first).
LOSES_TRACK = ("unreadable",)
# Seconds of work between progress checkpoints: at most this much is redone after an interruption.
# By time, not by pairs: the checkpoint holds every pair's points so far, and rewriting it every
# few pairs would grow quadratically on a long video.
CHECKPOINT_SECONDS = 5.0
# Full detections while tracking, to notice a second face walking in (about once a second).
REDETECT_EVERY = 30


def sampled_frames(frames: int, every: int, max_pairs: int | None) -> list[int]:
    """The frame indices to use: every N-th, spread further apart to stay within max_pairs."""
    stride = every if max_pairs is None else max(every, math.ceil(frames / max_pairs))
    return list(range(0, frames, stride))


def val_start(sampled: list[int], val_fraction: float) -> int:
    """First frame index of the held-out tail (neighbouring frames would leak, so not random)."""
    n_val = math.ceil(len(sampled) * val_fraction) if val_fraction > 0 and len(sampled) > 1 else 0
    return sampled[len(sampled) - n_val] if n_val else sampled[-1] + 1


def val_range(sampled: list[int], fps: float, cfg: DatasetConfig) -> tuple[int, int]:
    """The held-out frames [first, end) of one video: cfg.val_span's seconds when given (a span,
    not random frames, for the same reason as the tail), else the tail of cfg.val_fraction."""
    if cfg.val_span is None:
        return val_start(sampled, cfg.val_fraction), sampled[-1] + 1 if sampled else 0
    start, end = (math.ceil(t * (fps or 1.0)) for t in cfg.val_span)
    return start, end


def frames_done(plans: list[list[int]], position: tuple[int, int]) -> int:
    """How many planned frames lie before `position`: where the progress bar starts."""
    first_source, first_frame = position
    return sum(
        sum(1 for f in p if f < first_frame) if i == first_source else len(p)
        for i, p in enumerate(plans)
        if i <= first_source
    )


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
class Build:
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
        wanted, (first, end) = set(plan), val_range(plan, source.fps, self.cfg)
        last_checkpoint = time.perf_counter()
        for fi, frame in source.read(start=start):
            if fi not in wanted:
                continue
            self.frames_read += 1
            self.bar.update(1)
            if not self._take(si, fi, frame, split=int(first <= fi < end)):
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
        write_png(pair_path(self.cfg.output, SPLITS[split], self.progress.pairs), image)
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
