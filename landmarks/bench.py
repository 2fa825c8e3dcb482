"""Timings of the landmark stage: tracking, detection every frame, fallbacks, the neutral estimate,
make-dataset."""

from __future__ import annotations

import tempfile
import time

import cv2
import numpy as np

from landmarks.dataset import DatasetConfig, build_dataset
from landmarks.retarget import NeutralEstimator
from landmarks.track import FaceTracker
from landmarks.video import open_source


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"mean_ms": float(a.mean()), "p95_ms": float(np.percentile(a, 95))}


def time_landmarks(video: str, width: int = 640, height: int = 480, frames: int = 120) -> dict:
    """Per-frame ms of the landmark stage at width×height: tracking, and detecting every frame."""
    clip = [cv2.resize(f, (width, height)) for _, f in open_source(video).read() if f is not None][
        :frames
    ]
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


def _ms_per_frame(tracker: FaceTracker, clip: list[np.ndarray]) -> tuple[float, int]:
    t = time.perf_counter()
    found = sum(tracker(frame).found for frame in clip)
    return (time.perf_counter() - t) * 1000 / len(clip), found


def time_fallbacks(video: str, width: int = 640, height: int = 480, frames: int = 120) -> dict:
    """The landmark stage with its roll and fine-scale fallbacks against the upright-only stage.

    On the sample (a face in every frame: the fallbacks should cost about nothing) and on the same
    frames upside down (no face the detector can find: the fallbacks cost the most there), live
    (rate-limited) and as make-dataset runs them (every faceless frame).
    """
    clip = [cv2.resize(f, (width, height)) for _, f in open_source(video).read() if f is not None][
        :frames
    ]
    faceless = [f[::-1] for f in clip]  # texture, lighting and size of a real frame; no face
    upright = dict(rolls=(), min_face=0)
    report: dict = {"frames": len(clip), "resolution": f"{width}x{height}"}
    _ms_per_frame(FaceTracker(), clip[:10])  # warm caches, so the first tracker timed pays no more
    for name, frames_ in (("face", clip), ("no_face", faceless)):
        base, base_found = _ms_per_frame(FaceTracker(**upright), frames_)
        live, live_found = _ms_per_frame(FaceTracker(), frames_)
        report[name] = {
            "upright_ms": base,
            "fallbacks_ms": live,
            "ratio": live / base,
            "found_upright": base_found,
            "found_fallbacks": live_found,
        }
    every, _ = _ms_per_frame(FaceTracker(fallback_every=1), faceless)
    report["no_face"]["every_frame_ms"] = every
    report["no_face"]["every_frame_ratio"] = every / report["no_face"]["upright_ms"]
    return report


def time_neutral(frames: int = 900, window: int = 300, refresh_every: int = 10) -> dict:
    """ms per NeutralEstimator.update, window full: refreshed every frame, and on schedule."""
    shapes = np.random.default_rng(0).uniform(-60, 60, (window + frames, 68, 2)).astype(np.float32)
    report: dict = {"window": window, "frames": frames}
    for name, every in (("every_frame", 1), ("scheduled", refresh_every)):
        est = NeutralEstimator(window, refresh_every=every)
        for s in shapes[:window]:
            est.update(s)
        t = time.perf_counter()
        for s in shapes[window:]:
            est.update(s)
        report[f"{name}_ms"] = (time.perf_counter() - t) * 1000 / frames
    report["ratio"] = report["every_frame_ms"] / report["scheduled_ms"]
    return report


def upscaled_copy(video: str, path: str, width: int = 640, height: int = 480) -> str:
    """The video resized to width×height (a webcam-sized stand-in), written to `path`."""
    source = open_source(video)
    writer = cv2.VideoWriter(
        path, cv2.VideoWriter_fourcc(*"mp4v"), source.fps or 30.0, (width, height)
    )
    for _, frame in source.read():
        if frame is not None:
            writer.write(cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC))
    writer.release()
    return path


def time_make_dataset(video: str, size: int = 256, width: int = 640, height: int = 480) -> dict:
    """make-dataset's frames per second on the video at width×height, against the video's own."""
    with tempfile.TemporaryDirectory() as tmp:
        clip = upscaled_copy(video, f"{tmp}/clip.mp4", width, height)
        fps_video = open_source(clip).fps
        t = time.perf_counter()
        result = build_dataset(
            DatasetConfig(inputs=[clip], output=f"{tmp}/ds", size=size), progress=False
        )
        seconds = time.perf_counter() - t
    fps = result.frames_read / seconds
    return {
        "size": size,
        "resolution": f"{width}x{height}",
        "frames": result.frames_read,
        "seconds": seconds,
        "fps": fps,
        "video_fps": fps_video,
        "ratio": fps / fps_video if fps_video else float("nan"),
    }
