"""How long after another person takes the seat is the live stage's neutral theirs? (issue #32)

Plays `--joined` (the first person, then the second with no frame between; scripts/join_clips.py)
and `--alone` (the second person's own clip, at the same size) through the landmark stage
(FaceStage, `--retarget on`, the model's spec) and compares the driver's neutral estimate frame
by frame after `--switch`: against the alone run's neutral at the same frame of the second
person's clip, and against the alone run's last neutral. Distances are per point, in the
neutral's eye distances. Works on any checkout's FaceStage (run it with main's PYTHONPATH for the
before figure).

    scripts/neutral_switch.py --model M --joined out/cap12-woman.mp4 --alone woman.mp4 \
        --switch 1337
"""

from __future__ import annotations

import argparse
import json
import logging

import cv2
import numpy as np

from app.face import FaceStage, ModelSpec
from app.model import load_model
from app.pipeline import Frame
from common.regions import inter_ocular

TOLERANCE = 0.02  # eye distances


def neutrals(spec: ModelSpec, path: str, start: int = 0) -> tuple[list, float, list]:
    """The stage's driver neutral after each frame from `start` (None before it has one), the
    video's rate, and the frames where the stage said "new person" (newer stages only)."""
    stage = FaceStage(spec, retarget="on")
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out, told, index, before = [], [], 0, ""
    while True:
        ok, image = cap.read()
        if not ok:
            break
        stage(Frame(index, index / fps, image), index / fps)
        if index >= start:
            n = stage._neutral.neutral
            out.append(None if n is None else n.copy())
        note = getattr(stage, "note", "")
        if note == "new person" and before != note:
            told.append(index)
        before = note
        index += 1
    return out, fps, told


def distances(a: np.ndarray | None, b: np.ndarray | None) -> tuple[float, float]:
    """(mean, max) point distance between two neutrals, in b's eye distances; inf without one."""
    if a is None or b is None:
        return float("inf"), float("inf")
    d = np.linalg.norm(a - b, axis=-1) / inter_ocular(b)
    return float(d.mean()), float(d.max())


def settled(values: list[float], tolerance: float = TOLERANCE) -> int | None:
    """The first index from which every value is within `tolerance`; None if never."""
    for i in range(len(values)):
        if all(v <= tolerance for v in values[i:]):
            return i
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--joined", required=True)
    p.add_argument("--alone", required=True)
    p.add_argument(
        "--switch",
        type=int,
        required=True,
        help="the joined clip's first frame of the second person",
    )
    p.add_argument("-o", "--output", default=None, help="a JSON file for the figures")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = ModelSpec.from_bundle(load_model(args.model, warm_up=False))
    joined, fps, told = neutrals(spec, args.joined, args.switch)
    alone, _, _ = neutrals(spec, args.alone)
    n = min(len(joined), len(alone))
    same = [distances(joined[i], alone[i]) for i in range(n)]
    last = [distances(joined[i], alone[-1]) for i in range(n)]
    result = {"fps": fps, "switch": args.switch, "told": [t - args.switch for t in told]}
    for name, pairs in (("same_frame", same), ("her_last", last)):
        for k, which in ((0, "mean"), (1, "max")):
            frames = settled([d[k] for d in pairs])
            result[f"{name}_{which}_frames"] = frames
            result[f"{name}_{which}_seconds"] = None if frames is None else frames / fps
    # Where the mean distance is past the tolerance again after first coming within it.
    means = [d[0] for d in same]
    first = next((i for i, v in enumerate(means) if v <= TOLERANCE), None)
    result["same_frame_mean_first_within"] = first
    result["same_frame_mean_past_after"] = (
        [] if first is None else [i for i in range(first, n) if means[i] > TOLERANCE]
    )
    result["same_frame_mean_at"] = {
        s: same[int(s * fps)][0] for s in (0.5, 1, 2, 4, 6) if s * fps < n
    }
    print(json.dumps(result, indent=1))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
