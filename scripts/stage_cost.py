"""What the occlusion guard and the person watch cost the live landmark stage, in ms a frame.

The clip through FaceStage as the window runs it (the identity helper in the background),
`--retarget on`, four ways in lockstep: as main did (no target shapes, no watch), the guard
alone, the watch alone, both. Prints each way's stage time per frame, and the guard's own.

    scripts/stage_cost.py --model M --driver woman.mp4
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import cv2
import numpy as np

from app.face import FaceStage, ModelSpec
from app.identity import IdentityChecker
from app.model import load_model
from app.pipeline import Frame
from app.timing import TimedCall


def frames_of(path: str, limit: int) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out = []
    while len(out) < limit:
        ok, image = cap.read()
        if not ok:
            break
        out.append(image)
    return out, fps


WAYS = (
    ("neither", False, False),
    ("guard", True, False),
    ("watch", False, True),
    ("both", True, True),
)


def stage_for(spec: ModelSpec, guard: bool, watch: bool) -> FaceStage:
    stage = FaceStage(
        spec if guard else dataclasses.replace(spec, shapes=None),
        retarget="on",
        identity_check=IdentityChecker(background=True),
    )
    if not watch:
        stage.watch.due = lambda t: False  # type: ignore[method-assign]
    stage.guard = TimedCall(stage.guard)  # type: ignore[assignment]
    return stage


def run(spec: ModelSpec, frames: list[np.ndarray], fps: float) -> dict:
    """Each frame through the four ways in turn (in lockstep: a loaded machine slows them
    alike), paced at the source's rate."""
    stages = {name: stage_for(spec, guard, watch) for name, guard, watch in WAYS}
    ms: dict[str, list[float]] = {name: [] for name in stages}
    try:
        for i, image in enumerate(frames):
            start = time.perf_counter()
            names = list(stages)
            for name in names[i % 4 :] + names[: i % 4]:  # each way first in turn
                stage = stages[name]
                t0 = time.perf_counter()
                stage(Frame(i, i / fps, image), i / fps)
                ms[name].append((time.perf_counter() - t0) * 1e3)
            time.sleep(max(0.0, 1 / fps - (time.perf_counter() - start)))
    finally:
        for stage in stages.values():
            stage.close()
    return {
        name: {
            "stage_ms_mean": float(np.mean(ms[name])),
            "stage_ms_median": float(np.median(ms[name])),
            "guard_ms_mean": float(np.mean(stages[name].guard.ms)),
            "guard_ms_median": float(np.median(stages[name].guard.ms)),
            "frames": len(ms[name]),
        }
        for name in stages
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--driver", required=True)
    p.add_argument("--limit", type=int, default=240)
    args = p.parse_args()
    spec = ModelSpec.from_bundle(load_model(args.model, warm_up=False))
    frames, fps = frames_of(args.driver, args.limit)
    result = run(spec, frames, fps)
    for name, figures in result.items():
        print(name, json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
