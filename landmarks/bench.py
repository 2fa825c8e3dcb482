"""Timings of the landmark stage: tracking against detection on every frame, and make-dataset throughput."""

from __future__ import annotations

import tempfile
import time

import cv2
import numpy as np

from landmarks.dataset import DatasetConfig, build_dataset
from landmarks.track import FaceTracker
from landmarks.video import open_source


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"mean_ms": float(a.mean()), "p95_ms": float(np.percentile(a, 95))}


def time_landmarks(video: str, width: int = 640, height: int = 480, frames: int = 120) -> dict:
    """Per-frame ms of the landmark stage at width×height: tracking, and detecting every frame."""
    clip = [cv2.resize(f, (width, height)) for _, f in open_source(video).read() if f is not None][:frames]
    tracker = FaceTracker()
    tracked, detected, found = [], [], 0
    for frame in clip:
        t = time.perf_counter()
        found += tracker(frame).found
        tracked.append((time.perf_counter() - t) * 1000)
    for frame in clip:
        tracker.reset()  # every frame pays for a detection, as the reference demos do
        t = time.perf_counter()
        tracker(frame)
        detected.append((time.perf_counter() - t) * 1000)
    track, detect = _stats(tracked[1:]), _stats(detected)  # the first tracked frame is a detection
    return {
        "frames": len(clip),
        "resolution": f"{width}x{height}",
        "tracking": track,
        "detect_every_frame": detect,
        "faces_found_tracking": found,
        "ratio": detect["mean_ms"] / track["mean_ms"],
    }


def time_make_dataset(video: str, size: int = 256) -> dict:
    """make-dataset's frames per second on `video`, against the video's own frame rate."""
    source = open_source(video)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        result = build_dataset(DatasetConfig(inputs=[video], output=f"{tmp}/ds", size=size), progress=False)
        seconds = time.perf_counter() - t
    fps = result.frames_read / seconds
    return {"size": size, "frames": result.frames_read, "seconds": seconds, "fps": fps, "video_fps": source.fps,
            "ratio": fps / source.fps if source.fps else float("nan")}
