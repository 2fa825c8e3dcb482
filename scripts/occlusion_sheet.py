"""A driving video's frames START:END through the live stages, with the occlusion guard on or off:
a contact sheet (driver | drawing | output) and the figures of issue #32 on those frames.

The video plays from its first frame (the neutral needs what came before), through the same
FaceStage and GeneratorStage as the window, `reenact` and `evaluate --driver`. `--guard off` gives
the stage no target shapes, which is what main did before the guard.

    scripts/occlusion_sheet.py --model M --driver woman.mp4 --span 170:226 --guard off \
        -o out/woman-before
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time

import cv2
import numpy as np

from app.drive import _RecordingTracker
from app.face import FaceStage, GeneratorStage
from app.measures import FaceMeasures, pearson
from app.model import load_model
from app.pipeline import Frame
from app.reenact import face_spec
from app.timing import TimedCall
from landmarks.retarget import EXPRESSION_FEATURES

log = logging.getLogger("occlusion_sheet")
EVERY = 2  # frames between the sheet's rows
PER_ROW = 4  # (driver, drawing, output) triplets a row


def _label(image: np.ndarray, text: str) -> np.ndarray:
    image = np.ascontiguousarray(image)
    cv2.putText(image, text, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
    return image


def run(args: argparse.Namespace) -> dict:
    bundle = load_model(args.model, warm_up=False)
    spec = face_spec(bundle, "on", args.dataset)
    if args.guard == "off":
        spec = dataclasses.replace(spec, shapes=None)
    judge = face_spec(bundle, "on", args.dataset).shapes  # the figures, judged either way
    face = FaceStage(spec, retarget="on")
    face.guard = TimedCall(face.guard)
    face.tracker = _RecordingTracker(face.tracker)
    generator = GeneratorStage(bundle)
    start, end = (int(v) for v in args.span.split(":"))
    cap = cv2.VideoCapture(args.driver)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    rows, kept, ms = [], [], []
    index = 0
    while index < end:
        ok, image = cap.read()
        if not ok:
            break
        t0 = time.perf_counter()
        frame = face(Frame(index, index / fps, image), index / fps)
        ms.append((time.perf_counter() - t0) * 1e3)
        generator(frame)
        if index >= start and frame.face:
            raw = face.tracker.points  # the driver's own points, before the guard and smoothing
            kept.append((index, raw.copy(), face.drawn_points.copy(), frame.covered))
            crop = face.crop(frame)
            rows.append((index, crop, frame.drawing, frame.generated))
        index += 1
    return _measure(args, judge, rows, kept, face, ms)


def _measure(args, judge, rows, kept, face, ms) -> dict:
    measures = FaceMeasures()
    outputs = [measures(out)[0] for _, _, _, out in rows]
    found = [i for i, p in enumerate(outputs) if p is not None]
    drawn_fig = [judge.figures(d) for _, _, d, _ in kept]
    out_fig = [judge.figures(outputs[i]) for i in found]
    driver = np.asarray([kept[i][1] for i in found])
    output = np.asarray([outputs[i] for i in found])
    result = {
        "driver": args.driver,
        "span": args.span,
        "guard": args.guard,
        "frames": len(rows),
        "output_face_found": len(found) / max(len(rows), 1),
        "drawn_outside": float(np.mean([judge.outside(f).any() for f in drawn_fig])),
        "output_outside": float(np.mean([judge.outside(f, own=True).any() for f in out_fig]))
        if out_fig
        else None,
        "covered": float(np.mean([c for *_, c in kept])),
        "output_figures": [np.round(f, 2).tolist() for f in out_fig],
        "drawn_figures": [np.round(f, 2).tolist() for f in drawn_fig],
        "correlation": {},
        "sd_driver": {},
        "stage_ms_mean": float(np.mean(ms)),
        "guard_ms_mean": float(np.mean(face.guard.ms)) if face.guard.ms else None,
        "guard_ms_p95": float(np.percentile(face.guard.ms, 95)) if face.guard.ms else None,
    }
    raw = np.asarray([k[1] for k in kept])
    drawn = np.asarray([k[2] for k in kept])
    result["drawing_correlation"] = {}  # the drawing's parts against the driver's own
    for name in ("eyes", "brows", "mouth"):
        fn = EXPRESSION_FEATURES[name]
        result["drawing_correlation"][name] = pearson(fn(raw), fn(drawn))
        if len(found) > 2:
            result["correlation"][name] = pearson(fn(driver), fn(output))
            result["sd_driver"][name] = float(fn(driver).std())
    _sheet(args.output + ".sheet.png", rows, outputs)
    return result


def _sheet(path: str, rows, outputs) -> None:
    size = rows[0][2].shape[0]
    cells = []
    for k, (index, crop, drawing, out) in enumerate(rows):
        if k % EVERY:
            continue
        found = "" if outputs[k] is not None else " no face"
        cells.append(
            np.hstack(
                [
                    _label(cv2.resize(crop, (size, size)), str(index)),
                    drawing,
                    _label(out.copy(), found) if found else out,
                ]
            )
        )
    blank = np.zeros_like(cells[0])
    while len(cells) % PER_ROW:
        cells.append(blank)
    grid = np.vstack([np.hstack(cells[i : i + PER_ROW]) for i in range(0, len(cells), PER_ROW)])
    cv2.imwrite(path, grid[..., ::-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--driver", required=True)
    p.add_argument("--dataset", default=None)
    p.add_argument("--span", default="170:226", help="START:END frames (default: %(default)s)")
    p.add_argument("--guard", choices=("on", "off"), default="on")
    p.add_argument("-o", "--output", required=True, help="path stem: .sheet.png and .json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args)
    with open(args.output + ".json", "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
