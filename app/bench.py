"""Timing the live pipeline on a video at camera size: stage ms, FPS, latency, threads vs one.

For a swap bundle also what a swapped frame costs beyond the model: the crop, the colour match and
the blend back into the frame, alpha against Poisson (time_blend). And the stall when a face comes
back (time_face_return): the live session as the window runs it, on a clip whose face leaves for
one frame every second, timed by the intervals between the frames it shows.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.face import FaceStage, GeneratorStage, ModelSpec
from app.live import LiveSession
from app.model import add_backend_flags, load_model
from app.modes import mode_for, require_swap_path
from app.pipeline import Pipeline, run_sequential
from app.sources import MemorySource
from app.swap import BLEND_FRAMES, time_blend
from common.cli import run_command
from common.errors import InputError

log = logging.getLogger(__name__)

CAMERA_SIZE = (640, 480)
MAX_FRAMES = 300  # frames held in memory (640×480×3 each: about 280 MB at most)
WARM_UP_SECONDS = 1.0
AWAY_EVERY_SECONDS = 1.0  # time_face_return: the face leaves for one frame this often
AWAY_GREY = 128  # the frame the face leaves in: flat grey, nothing for the detector to find
RETURN_FRAMES = 10  # shown frames after a return in which a stall counts as the return's


def read_frames(
    path: str | Path, size: tuple[int, int] = CAMERA_SIZE, limit: int = MAX_FRAMES
) -> tuple[list[np.ndarray], float]:
    """The video's frames scaled to `size` (as a webcam would give them), and its rate."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"cannot open video: {path}")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
    frames = []
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
    cap.release()
    if not frames:
        raise InputError(f"not a readable video: {path}")
    return frames, fps


def _stages(bundle: Any) -> list:
    return [
        ("landmarks", FaceStage(ModelSpec.from_bundle(bundle))),
        ("generator", GeneratorStage(bundle)),
    ]


def _threaded(
    bundle: Any,
    frames: list[np.ndarray],
    fps: float,
    seconds: float,
    paced: bool,
    on_demand: bool = False,
) -> dict[str, Any]:
    # Unpaced, every step waits for its output to be taken: throughput without threads spinning
    # on frames that a slower stage would only drop.
    source = MemorySource(frames, fps, loop=True, paced=paced)
    pipe = Pipeline(
        source,
        _stages(bundle),
        [lambda frame: None],
        back_pressure=not paced,
        on_demand=on_demand,
    ).start()
    try:
        # The first detection and TensorFlow's first calls are not steady state.
        time.sleep(WARM_UP_SECONDS)
        pipe.reset_stats()
        time.sleep(seconds)
        stats = pipe.stats()
        stats["mean_fps"] = stats["frames_out"] / seconds
    finally:
        pipe.stop()
    return stats


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 2)


def _per_stage(stats: dict[str, Any], key: str = "mean") -> dict[str, float | None]:
    return {k: _r(v[key]) for k, v in stats["stage_ms"].items()}


def _live_figures(live: dict[str, Any], free: dict[str, Any]) -> dict[str, Any]:
    """The paced runs: on demand as the window runs it, and free-running for comparison."""
    return {
        "fps": round(live["mean_fps"], 2),
        "latency_p50_ms": _r(live["latency_ms"]["p50"]),
        "latency_p95_ms": _r(live["latency_ms"]["p95"]),
        "stage_ms": _per_stage(live),
        "stage_p95_ms": _per_stage(live, "p95"),
        "dropped": live["dropped"],
        "free_running": {  # the same, every stage on the newest frame as soon as it is free
            "fps": round(free["mean_fps"], 2),
            "latency_p50_ms": _r(free["latency_ms"]["p50"]),
            "latency_p95_ms": _r(free["latency_ms"]["p95"]),
            "stage_ms": _per_stage(free),
        },
        "faces": live["faces"],
    }


def _throughput(threaded: dict[str, Any], sequential: dict[str, Any]) -> dict[str, Any]:
    """Unpaced: threads with back-pressure against the same stages on one thread."""
    seq_ms = [v for v in _per_stage(sequential).values() if v is not None]
    return {
        "threaded_fps": round(threaded["mean_fps"], 2),
        "threaded_latency_p95_ms": _r(threaded["latency_ms"]["p95"]),
        "threaded_stage_ms": _per_stage(threaded),
        "sequential_fps": round(sequential["mean_fps"], 2),
        "sequential_stage_ms": _per_stage(sequential),
        "threaded_vs_sequential": (
            round(threaded["mean_fps"] / sequential["mean_fps"], 2)
            if sequential["mean_fps"]
            else None
        ),
        "threading_bound": round(sum(seq_ms) / max(seq_ms), 2) if seq_ms else None,
    }


def _sequential(bundle: Any, frames: list[np.ndarray], fps: float, seconds: float) -> dict:
    source = MemorySource(frames, fps, loop=True, paced=False)
    run_sequential(source, stages := _stages(bundle), seconds=WARM_UP_SECONDS)
    sequential = run_sequential(source, stages, seconds=seconds)
    sequential["mean_fps"] = sequential["frames_out"] / seconds
    return sequential


def time_pipeline(
    model_dir: str | Path,
    source: str | Path,
    seconds: float = 10.0,
    size: tuple[int, int] = CAMERA_SIZE,
    verbose: bool = False,
    backend: str = "auto",
    threads: int | None = None,
) -> dict[str, Any]:
    """Run the live pipeline on `source` at `size` (a webcam's 640×480) for `seconds`, three ways.

    - live: paced at the file's rate like a camera, threaded, on demand as the window runs it
      (and free-running, for comparison); fps and latency as a user sees them;
    - threaded throughput: one thread per stage, each handing on a frame as soon as the next
      stage is free (pipelining with back-pressure, nothing dropped, no work wasted);
    - sequential: the same stages one after another on one thread.
    Returns fps, latency_p50_ms, latency_p95_ms, stage_ms (mean ms per stage, live run),
    stage_p95_ms, dropped, threaded_fps, sequential_fps, threaded_vs_sequential (throughput
    ratio) and threading_bound (the most threads can give: sequential frame time ÷ its slowest
    stage), source_fps, size, model, backend, kind (the bundle's mode, app.modes) and what that
    mode adds (a swap bundle: `blend`, app.swap.time_blend). Raises InputError for a model or
    video that cannot be read.
    """
    frames, fps = read_frames(source, size)  # a bad video fails before TensorFlow loads
    bundle = load_model(model_dir, verbose=verbose, backend=backend, threads=threads)
    live = _threaded(bundle, frames, fps, seconds, paced=True, on_demand=True)
    free = _threaded(bundle, frames, fps, seconds, paced=True)
    threaded = _threaded(bundle, frames, fps, seconds, paced=False)
    mode = mode_for(bundle)
    result = {
        "model": str(bundle.path),
        "backend": bundle.backend_label,
        "size": list(size),
        "model_size": bundle.size,
        "source_fps": round(fps, 2),
        "seconds": seconds,
        **_live_figures(live, free),
        **_throughput(threaded, _sequential(bundle, frames, fps, seconds)),
        "kind": mode.name,
        **mode.bench(frames),
    }
    log.info("live pipeline: %s", result)
    return result


def face_away_clip(frames: list[np.ndarray], fps: float, path: str | Path, away: int = 1) -> int:
    """Write `frames` as a video in which the face stays for AWAY_EVERY_SECONDS, then `away`
    frames are flat grey, and so on: the face leaves and comes back where it was. Returns how
    many frames were grey."""
    every = round(fps * AWAY_EVERY_SECONDS) + away - 1
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    grey = np.full_like(frames[0], AWAY_GREY)
    blanked = 0
    for i, frame in enumerate(frames):
        blank = every // 2 <= i % every < every // 2 + away
        writer.write(grey if blank else frame)
        blanked += blank
    writer.release()
    return blanked


def _intervals(times: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of the gaps between successive shown frames, in ms, and how many
    gaps were over 3x the median (stalls)."""
    gaps = np.diff(np.asarray(times, np.float64)) * 1000
    if not len(gaps):
        return {k: None for k in ("p50", "p95", "p99", "max", "stalls")}
    p50, p95, p99 = (round(float(np.percentile(gaps, q)), 1) for q in (50, 95, 99))
    stalls = int((gaps > 3 * p50).sum())
    return {
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "max": round(float(gaps.max()), 1),
        "stalls": stalls,
    }


def _returns(shown: list[tuple[float, bool]], frames: int = RETURN_FRAMES) -> dict[str, Any]:
    """Each time the face came back: the longest gap (ms) among the `frames` shown after it.
    The median and the max over the returns, and how many there were."""
    times = np.asarray([t for t, _ in shown], np.float64)
    face = [f for _, f in shown]
    longest = [
        float(np.diff(times[i - 1 : i + frames]).max() * 1000)
        for i in range(1, len(shown) - frames)
        if face[i] and not face[i - 1]
    ]
    if not longest:
        return {"returns": 0, "p50": None, "max": None}
    p50, top = float(np.median(longest)), float(max(longest))
    return {"returns": len(longest), "p50": round(p50, 1), "max": round(top, 1)}


def time_face_return(
    model_dir: str | Path,
    source: str | Path,
    seconds: float = 20.0,
    size: tuple[int, int] = CAMERA_SIZE,
    verbose: bool = False,
    backend: str = "auto",
    threads: int | None = None,
    away: int = 1,
) -> dict[str, Any]:
    """The live session as the window runs it (paced, on demand, retarget auto) with `source`
    at `size` as the camera, `away` frames a second blanked: the output's frame intervals.

    With a bundle that knows its target, each return of the face used to restart the identity
    check (dlib's network, in the landmark stage): the stall shows in the p99 and the max, and
    in the longest gap just after each return (after_return_ms). The tracker checks that its face
    is still there every fifth frame, so a one-frame blank is noticed only when it falls on such
    a check: `returns` counts the losses it noticed. Returns interval_ms (p50, p95, p99, max,
    stalls: gaps over 3x the median), after_return_ms (returns, p50, max), frames_out, fps,
    away_frames, blanked_frames (of clip_frames), target_descriptor (whether auto retargeting
    checks identity at all), seconds, model.
    """
    frames, fps = read_frames(source, size)
    shown: list[tuple[float, bool]] = []
    session = LiveSession(
        lambda frame: shown.append((time.perf_counter(), frame.face)),
        verbose=verbose,
        backend=backend,
        threads=threads,
    )
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "face-away.avi")
        blanked = face_away_clip(frames, fps, clip, away)
        try:
            session.load_model(str(model_dir), wait=True)
            if session.model_error:
                raise InputError(session.model_error)
            session.start(clip, loop=True)
            time.sleep(2 * WARM_UP_SECONDS)  # the first detection, the first identity check
            first = len(shown)
            time.sleep(seconds)
            measured = shown[first:]
        finally:
            session.close()
    return {
        "model": str(model_dir),
        "seconds": seconds,
        "away_frames": away,
        "blanked_frames": blanked,
        "clip_frames": len(frames),
        "target_descriptor": session.face.spec.target_descriptor is not None,
        "frames_out": len(measured),
        "fps": round(len(measured) / seconds, 2),
        "interval_ms": _intervals([t for t, _ in measured]),
        "after_return_ms": _returns(measured),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.bench", description=time_pipeline.__doc__.splitlines()[0]
    )
    p.add_argument("--model", required=True, help="model bundle directory")
    p.add_argument("--source", required=True, help="video file standing in for the camera")
    p.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="seconds per measurement, three of them (default: %(default)s)",
    )
    p.add_argument(
        "--face-return",
        action="store_true",
        help="time only the output's frame intervals when the face leaves every second",
    )
    p.add_argument(
        "--away",
        type=int,
        default=1,
        help="with --face-return: frames the face stays away each second (default: %(default)s)",
    )
    p.add_argument(
        "--blend-only",
        action="store_true",
        help="a swap bundle: time only its crop, model, colour match and blend (alpha, Poisson)",
    )
    add_backend_flags(p)
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show TensorFlow's own start-up messages"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")

    def body() -> None:
        if args.blend_only:
            require_swap_path(args.model, "timing the blend")  # before the video and the model
            frames, _ = read_frames(args.source, limit=BLEND_FRAMES)
            bundle = load_model(
                args.model, verbose=args.verbose, backend=args.backend, threads=args.threads
            )
            print(json.dumps(time_blend(bundle, frames), indent=2))
            return
        run = {"verbose": args.verbose, "backend": args.backend, "threads": args.threads}
        if args.face_return:
            result = time_face_return(args.model, args.source, args.seconds, away=args.away, **run)
        else:
            result = time_pipeline(args.model, args.source, args.seconds, **run)
        print(json.dumps(result, indent=2))

    return run_command("bench", body)


if __name__ == "__main__":
    sys.exit(main())
