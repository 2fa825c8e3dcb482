"""What the occlusion guard and the person watch cost the live landmark stage, in ms a frame.

The clip through FaceStage as the window runs it (the identity helper in the background),
`--retarget on`, four ways: as main did (no target shapes, no watch), the guard alone, the watch
alone, both. Prints each way's mean and p95 of the stage's own time per frame, and the guard's.

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


class _Timed:
    """The stage's guard, its time per call kept."""

    def __init__(self, guard) -> None:
        self.guard, self.ms = guard, []

    def __call__(self, *args):
        t0 = time.perf_counter()
        out = self.guard(*args)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        return out

    def __getattr__(self, name):
        return getattr(self.guard, name)


def run(spec: ModelSpec, frames: list[np.ndarray], fps: float, guard: bool, watch: bool) -> dict:
    checker = IdentityChecker(background=True)
    stage = FaceStage(
        spec if guard else dataclasses.replace(spec, shapes=None), identity_check=checker
    )
    stage.set_retarget("on")
    if not watch:
        stage.watch.due = lambda t: False  # type: ignore[method-assign]
    timed = _Timed(stage.guard)
    stage.guard = timed  # type: ignore[assignment]
    ms = []
    try:
        for i, image in enumerate(frames):
            t0 = time.perf_counter()
            stage(Frame(i, i / fps, image), i / fps)
            ms.append((time.perf_counter() - t0) * 1e3)
            time.sleep(max(0.0, 1 / fps - ms[-1] / 1e3))  # the source's pace
    finally:
        stage.close()
    return {
        "stage_ms_mean": float(np.mean(ms)),
        "stage_ms_p95": float(np.percentile(ms, 95)),
        "guard_ms_mean": float(np.mean(timed.ms)) if timed.ms else None,
        "frames": len(ms),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--driver", required=True)
    p.add_argument("--limit", type=int, default=240)
    args = p.parse_args()
    spec = ModelSpec.from_bundle(load_model(args.model, warm_up=False))
    frames, fps = frames_of(args.driver, args.limit)
    result = {}
    for name, guard, watch in (
        ("neither", False, False),
        ("guard", True, False),
        ("watch", False, True),
        ("both", True, True),
    ):
        result[name] = run(spec, frames, fps, guard, watch)
        print(name, json.dumps(result[name]), flush=True)


if __name__ == "__main__":
    main()
