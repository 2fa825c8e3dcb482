"""Timing the live pipeline on a video at camera size: stage ms, FPS, latency, threads vs one.

For a swap bundle also what a swapped frame costs beyond the model: the crop, the colour match and
the blend back into the frame, alpha against Poisson (time_blend).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.face import FaceStage, GeneratorStage, ModelSpec
from app.model import add_backend_flags, load_model
from app.pipeline import Pipeline, run_sequential
from app.sources import MemorySource
from app.swap import check_swap_path, is_swap, require_swap, swap_face
from common.cli import run_command
from common.errors import InputError
from landmarks import FaceTracker
from landmarks.blend import BLEND_METHODS, BlendParams

log = logging.getLogger(__name__)

CAMERA_SIZE = (640, 480)
MAX_FRAMES = 300  # frames held in memory (640×480×3 each: about 280 MB at most)
WARM_UP_SECONDS = 1.0
BLEND_FRAMES = 60  # frames the blend is timed on, each way


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
    stage), source_fps, size, model, backend. Raises InputError for a model or video that cannot
    be read.
    """
    frames, fps = read_frames(source, size)  # a bad video fails before TensorFlow loads
    bundle = load_model(model_dir, verbose=verbose, backend=backend, threads=threads)
    live = _threaded(bundle, frames, fps, seconds, paced=True, on_demand=True)
    free = _threaded(bundle, frames, fps, seconds, paced=True)
    threaded = _threaded(bundle, frames, fps, seconds, paced=False)
    seq_source = MemorySource(frames, fps, loop=True, paced=False)
    run_sequential(seq_source, stages := _stages(bundle), seconds=WARM_UP_SECONDS)
    sequential = run_sequential(seq_source, stages, seconds=seconds)
    sequential_fps = sequential["frames_out"] / seconds

    def finite(x: float) -> float | None:
        return None if math.isnan(x) else round(x, 2)

    result = {
        "model": str(bundle.path),
        "backend": bundle.backend_label,
        "size": list(size),
        "model_size": bundle.size,
        "source_fps": round(fps, 2),
        "seconds": seconds,
        "fps": round(live["mean_fps"], 2),
        "latency_p50_ms": finite(live["latency_ms"]["p50"]),
        "latency_p95_ms": finite(live["latency_ms"]["p95"]),
        "stage_ms": {k: finite(v["mean"]) for k, v in live["stage_ms"].items()},
        "stage_p95_ms": {k: finite(v["p95"]) for k, v in live["stage_ms"].items()},
        "dropped": live["dropped"],
        "free_running": {  # the same, every stage on the newest frame as soon as it is free
            "fps": round(free["mean_fps"], 2),
            "latency_p50_ms": finite(free["latency_ms"]["p50"]),
            "latency_p95_ms": finite(free["latency_ms"]["p95"]),
            "stage_ms": {k: finite(v["mean"]) for k, v in free["stage_ms"].items()},
        },
        "faces": live["faces"],
        "threaded_fps": round(threaded["mean_fps"], 2),
        "threaded_latency_p95_ms": finite(threaded["latency_ms"]["p95"]),
        "threaded_stage_ms": {k: finite(v["mean"]) for k, v in threaded["stage_ms"].items()},
        "sequential_fps": round(sequential_fps, 2),
        "sequential_stage_ms": {k: finite(v["mean"]) for k, v in sequential["stage_ms"].items()},
    }
    result["threaded_vs_sequential"] = (
        round(threaded["mean_fps"] / sequential_fps, 2) if sequential_fps else None
    )
    seq_ms = [v for v in result["sequential_stage_ms"].values() if v is not None]
    result["threading_bound"] = round(sum(seq_ms) / max(seq_ms), 2) if seq_ms else None
    result["kind"] = "swap" if is_swap(bundle) else "pix2pix"
    if is_swap(bundle):
        result["blend"] = time_blend(bundle, frames)
    log.info("live pipeline: %s", result)
    return result


def time_blend(bundle: Any, frames: list[np.ndarray], limit: int = BLEND_FRAMES) -> dict[str, Any]:
    """What a swapped frame costs, part by part (ms: align, model, colour, blend), with the alpha
    blend and with Poisson (cv2.seamlessClone), on the same faces, turn about. Swap bundles only
    (InputError otherwise, or when no frame shows a face)."""
    require_swap(bundle, "timing the blend")
    tracker = FaceTracker()
    parts: dict[str, list[dict[str, float]]] = {m: [] for m in BLEND_METHODS}
    for image in frames[:limit]:
        points = tracker(image).points
        if points is None:
            continue
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for method in BLEND_METHODS:
            parts[method].append(swap_face(bundle, rgb, points, BlendParams(method=method)).ms)
    if not parts[BLEND_METHODS[0]]:
        raise InputError("no face in the video's frames: nothing to blend")
    for runs in parts.values():
        if len(runs) > 1:
            del runs[0]  # the first call of each pays for first-time setup
    result: dict[str, Any] = {"frames": len(parts[BLEND_METHODS[0]]), "size": list(frames[0].shape)}
    for method, runs in parts.items():
        result[method] = {k: round(float(np.mean([r[k] for r in runs])), 2) for k in runs[0]}
        result[method]["blend_p95"] = round(float(np.percentile([r["blend"] for r in runs], 95)), 2)
    result["poisson_vs_alpha"] = round(result["poisson"]["blend"] / result["alpha"]["blend"], 2)
    return result


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
            check_swap_path(args.model)  # before the video and the model load
            frames, _ = read_frames(args.source, limit=BLEND_FRAMES)
            bundle = load_model(
                args.model, verbose=args.verbose, backend=args.backend, threads=args.threads
            )
            print(json.dumps(time_blend(bundle, frames), indent=2))
            return
        result = time_pipeline(
            args.model,
            args.source,
            args.seconds,
            verbose=args.verbose,
            backend=args.backend,
            threads=args.threads,
        )
        print(json.dumps(result, indent=2))

    return run_command("bench", body)


if __name__ == "__main__":
    sys.exit(main())
