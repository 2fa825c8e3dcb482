"""`evaluate --driver`: a driving video through the live mirror's own stages, in numbers.

Every frame goes through the same FaceStage and GeneratorStage as the window and `reenact`, with
their defaults for smoothing and retargeting. Then the landmark stage and dlib's identity network
are run on each output: is a face there, is it the target, does it follow the driver's
expression (mouth opening, eye openness and brow raise, each ÷ inter-ocular distance, correlated
over the clip), does it draw what was drawn (NME), and does it move as much as the driver does.

A swap bundle is measured on its own terms: is the output the target and no longer the user, does
it keep the driver's expression, and does the pasted face's edge show (run_swap_stages).
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from app.evaluate import MEASURE_SIZE, FaceMeasures
from app.face import DEFAULT_RETARGET, DEFAULT_SMOOTHING, FaceStage, GeneratorStage
from app.model import check_model_path, load_model
from app.pipeline import Frame, run_sequential
from app.reenact import face_spec
from app.sources import VideoSource, open_source
from app.swap import blend_mask, camera_rgb, is_swap
from common.errors import InputError
from landmarks import Alignment, transform_points
from landmarks.blend import seam_gradients
from landmarks.identity import SAME_PERSON_DISTANCE
from landmarks.regions import inter_ocular
from landmarks.retarget import EXPRESSION_FEATURES, mouth_opening


@dataclass
class DriveConfig:
    """One `evaluate --driver` run; the command's flags map onto these fields."""

    model: str
    driver: str
    dataset: str | None = None
    retarget: str = DEFAULT_RETARGET
    smoothing: float = DEFAULT_SMOOTHING
    limit: int | None = None  # frames
    progress: bool = True
    verbose: bool = False
    backend: str = "auto"
    threads: int | None = None


class _RecordingTracker:
    """The stage's tracker, keeping the raw points it found: the driver before smoothing."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.points: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> Any:
        found = self.tracker(image)
        self.points = found.points
        return found

    def reset(self) -> None:
        self.tracker.reset()


@dataclass
class DriveRecord:
    """What one run of the live stages produced, frame by frame (faces only)."""

    frames: int = 0
    driver: list[np.ndarray] = field(default_factory=list)  # raw driver points, frame pixels
    drawn: list[np.ndarray] = field(default_factory=list)  # the drawing's points, model pixels
    outputs: list[np.ndarray] = field(default_factory=list)  # generated faces, uint8 RGB
    crops: list[np.ndarray] = field(default_factory=list)  # the driver's crop, as the model sees
    stats: dict = field(default_factory=dict)


def _drive(
    cfg: DriveConfig,
    source: VideoSource,
    face: FaceStage,
    generator: GeneratorStage,
    keep: Callable[[Frame], None],
) -> Any:
    """Every frame of `source` through the face and generator stages in one thread, as `reenact`
    runs them, into `keep`, with a progress bar; returns the run's statistics."""
    fps = source.fps
    stages = [("landmarks", lambda f: face(f, f.index / fps)), ("generator", generator)]
    with tqdm(
        total=cfg.limit or source.frames or None,
        unit="frame",
        desc="drive",
        disable=not cfg.progress,
        file=sys.stderr,
    ) as bar:

        def sink(frame: Frame) -> None:
            bar.update()
            keep(frame)

        return run_sequential(source, stages, [sink], max_frames=cfg.limit, stop=threading.Event())


def run_live_stages(
    cfg: DriveConfig, bundle: Any, source: VideoSource, face: FaceStage
) -> DriveRecord:
    """Every frame of `source` through the face and generator stages, as `reenact` runs them."""
    record, generator = DriveRecord(), GeneratorStage(bundle)
    tracker = face.tracker

    def keep(frame: Frame) -> None:
        record.frames += 1
        if frame.face:
            record.driver.append(tracker.points.copy())
            record.drawn.append(face.drawn_points.copy())
            record.outputs.append(frame.generated)
            record.crops.append(face.crop(frame))

    record.stats = _drive(cfg, source, face, generator, keep)
    return record


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _change(images: list[np.ndarray]) -> float:
    if len(images) < 2:
        return math.nan
    stack = np.stack(images).astype(np.float32)
    return float(np.abs(np.diff(stack, axis=0)).mean())


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b or math.isnan(a) or math.isnan(b) else a / b


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def measure_outputs(record: DriveRecord, target: np.ndarray | None, progress: bool) -> dict:
    """Face found, identity, expression fidelity, NME and temporal change of the outputs."""
    measures, found, distances, errors = FaceMeasures(), [], [], []
    out_points = []
    for i, out in enumerate(
        tqdm(record.outputs, desc="measure", disable=not progress, leave=False, file=sys.stderr)
    ):
        points, descriptor = measures(out)
        if points is None:
            continue
        found.append(i)
        out_points.append(points)
        drawn = record.drawn[i]
        errors.append(float(np.linalg.norm(points - drawn, axis=-1).mean() / inter_ocular(drawn)))
        if target is not None:
            distances.append(float(np.linalg.norm(descriptor - target)))
    driver = np.asarray([record.driver[i] for i in found]).reshape(-1, 68, 2)
    output = np.asarray(out_points).reshape(-1, 68, 2)
    change, driver_change = _change(record.outputs), _change(record.crops)
    return {
        "output_face_found": len(found) / len(record.outputs) if record.outputs else 0.0,
        "identity_distance": _mean(distances),
        "identity_same": _mean([d < SAME_PERSON_DISTANCE for d in distances]),
        "correlation": {
            name: _pearson(fn(driver), fn(output)) for name, fn in EXPRESSION_FEATURES.items()
        },
        "mouth_opening": {
            "driver": _mean(list(mouth_opening(driver))),
            "output": _mean(list(mouth_opening(output))),
            "ratio": _ratio(_mean(list(mouth_opening(output))), _mean(list(mouth_opening(driver)))),
        },
        "nme": _mean(errors),
        "temporal_change": None if math.isnan(change) else change,
        "temporal_change_driver": None if math.isnan(driver_change) else driver_change,
        "temporal_ratio": _ratio(change, driver_change),
    }


# -- swap bundles -----------------------------------------------------------------------------

# Outputs are measured in the dataset's default crop, the whole head, where the detector and the
# identity network see the face as they do in make-dataset: a swap's own crop is tighter.
MEASURE_ALIGNMENT = Alignment()
SWAP_TARGET_DISTANCE = 0.5  # the output should be the target with a margin (dlib's own is 0.6)


@dataclass
class SwapRecord:
    """What the live stages made of a driving video with a swap bundle (frames with a face)."""

    frames: int = 0
    outputs: list[np.ndarray] = field(default_factory=list)  # composited face crops, RGB
    cameras: list[np.ndarray] = field(default_factory=list)  # the camera's, the same crop
    driver: list[np.ndarray] = field(default_factory=list)  # raw driver points, crop pixels
    # The blend's border ring and the ring just inside it, mean gradient: output, then camera.
    seams: list[tuple[float, float, float, float]] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def run_swap_stages(
    cfg: DriveConfig, bundle: Any, source: VideoSource, face: FaceStage
) -> SwapRecord:
    """Every frame through the live stages, as `reenact` runs them; each output is kept as a crop
    of the head at MEASURE_SIZE (outputs are whole camera frames), with its seam contrast."""
    record, generator = SwapRecord(), GeneratorStage(bundle)
    tracker = face.tracker

    def keep(frame: Frame) -> None:
        record.frames += 1
        if not frame.face or frame.generated is None:
            return
        camera = camera_rgb(frame)
        matrix = MEASURE_ALIGNMENT.matrix(frame.points, MEASURE_SIZE, camera.shape)
        for images, image in ((record.outputs, frame.generated), (record.cameras, camera)):
            images.append(
                cv2.warpAffine(
                    image,
                    matrix,
                    (MEASURE_SIZE, MEASURE_SIZE),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE,
                )
            )
        record.driver.append(transform_points(tracker.points, matrix))
        mask = blend_mask(bundle, frame.points, camera.shape)
        if mask is not None:
            box, alpha = mask
            out = seam_gradients(frame.generated[box], alpha)
            cam = seam_gradients(camera[box], alpha)
            if out is not None and cam is not None:
                record.seams.append((*out, *cam))

    record.stats = _drive(cfg, source, face, generator, keep)
    return record


def _nme(found: np.ndarray, driver: np.ndarray) -> float:
    return float(np.linalg.norm(found - driver, axis=-1).mean() / inter_ocular(driver))


def _seam(ring: float, inner: float, camera_ring: float, camera_inner: float) -> dict:
    """Seam figures from mean gradients: the border ring ÷ just inside it, for the output and the
    camera; their ratio (above 1: the edge shows more than the camera's own there); and the ring
    alone against the camera's (a blurry face inside raises the first ratio without a seam)."""
    output, camera = _ratio(ring, inner), _ratio(camera_ring, camera_inner)
    return {
        "output": output,
        "camera": camera,
        "ratio": _ratio(output, camera),
        "ring_vs_camera": _ratio(ring, camera_ring),
    }


def measure_swap(record: SwapRecord, target: np.ndarray | None, progress: bool) -> dict:
    """Identity (to the target, and away from the user), expression (the landmark stage on the
    output against the driver's points), faces found, temporal change and seam contrast."""
    measures = FaceMeasures()
    pairs = list(zip(record.outputs, record.cameras, record.driver, strict=True))
    out_desc, cam_desc, out_points, driver, errors, camera_errors = [], [], [], [], [], []
    for out, cam, points in tqdm(
        pairs, desc="measure", disable=not progress, leave=False, file=sys.stderr
    ):
        found, descriptor = measures(cam)
        if found is not None:
            cam_desc.append(descriptor)
            camera_errors.append(_nme(found, points))
        found, descriptor = measures(out)
        if found is not None:
            out_desc.append(descriptor)
            out_points.append(found)
            driver.append(points)
            errors.append(_nme(found, points))
    # Who the user is: their mean descriptor over the driving video, measured as the outputs are.
    user = np.mean(cam_desc, axis=0) if cam_desc else None

    def distances(descriptors: list[np.ndarray], to: np.ndarray | None) -> list[float]:
        return [] if to is None else [float(np.linalg.norm(d - to)) for d in descriptors]

    to_target = distances(out_desc, target)
    driver_pts = np.asarray(driver).reshape(-1, 68, 2)
    output_pts = np.asarray(out_points).reshape(-1, 68, 2)
    change, camera_change = _change(record.outputs), _change(record.cameras)
    seams = np.asarray(record.seams, np.float64).reshape(-1, 4)
    ring, inner, camera_ring, camera_inner = seams.mean(0) if len(seams) else [math.nan] * 4
    return {
        "output_face_found": len(out_desc) / len(pairs) if pairs else 0.0,
        "identity_distance": _mean(to_target),
        "identity_target": _mean([d <= SWAP_TARGET_DISTANCE for d in to_target]),
        "user_identity_distance": _mean(distances(out_desc, user)),
        "camera_identity_distance": _mean(distances(cam_desc, target)),
        "nme": _mean(errors),
        "nme_camera": _mean(camera_errors),
        "correlation": {
            name: _pearson(fn(driver_pts), fn(output_pts))
            for name, fn in EXPRESSION_FEATURES.items()
        },
        "temporal_change": None if math.isnan(change) else change,
        "temporal_change_driver": None if math.isnan(camera_change) else camera_change,
        "temporal_ratio": _ratio(change, camera_change),
        "seam": _seam(ring, inner, camera_ring, camera_inner),
    }


def _open_driver(path: str) -> VideoSource:
    source = open_source(path, loop=False, paced=False)
    if not isinstance(source, VideoSource):
        source.close()
        raise InputError(f"--driver must be a video file, not a camera: {path}")
    return source


def drive_report(cfg: DriveConfig) -> dict:
    """Run the driver through the live stages and measure what came out; InputError on bad input."""
    check_model_path(cfg.model)
    source = _open_driver(cfg.driver)
    try:
        bundle = load_model(
            cfg.model, warm_up=False, verbose=cfg.verbose, backend=cfg.backend, threads=cfg.threads
        )
        # The target's descriptor in every mode: the outputs' identity is measured against it.
        spec = face_spec(bundle, "auto", cfg.dataset)
        face = FaceStage(spec, smoothing=cfg.smoothing, retarget=cfg.retarget)
        face.tracker = _RecordingTracker(face.tracker)
        swap = is_swap(bundle)
        record = (run_swap_stages if swap else run_live_stages)(cfg, bundle, source, face)
    finally:
        source.close()
    if not record.outputs:
        raise InputError(f"no face found in any frame of {cfg.driver}")
    distances = face.identity.distances
    sm = record.stats["stage_ms"]
    measured = (measure_swap if swap else measure_outputs)(
        record, spec.target_descriptor, cfg.progress
    )
    return {
        "model": str(cfg.model),
        "kind": "swap" if swap else "pix2pix",
        "driver": str(cfg.driver),
        "frames": record.frames,
        "size": int(bundle.size),
        "retarget": cfg.retarget,
        "smoothing": cfg.smoothing,
        "target_descriptor": spec.target_descriptor is not None,
        "driver_identity_distance": float(np.median(distances)) if distances else None,
        "retargeting": face.retargeting,
        "driver_face_found": len(record.outputs) / record.frames,
        **measured,
        "stage_ms": {name: float(sm[name]["mean"]) for name in ("landmarks", "generator")},
    }


ROWS = [  # key path, label, good
    (("driver_face_found",), "driver frames with a face", "near 1"),
    (("output_face_found",), "outputs with a face", "near 1"),
    (("identity_distance",), "identity distance to target", "< 0.6"),
    (("correlation", "mouth"), "mouth opening correlation", "near 1"),
    (("correlation", "eyes"), "eye openness correlation", "near 1"),
    (("correlation", "brows"), "brow raise correlation", "near 1"),
    (("mouth_opening", "driver"), "mouth opening, driver", ""),
    (("mouth_opening", "output"), "mouth opening, output", "near the driver's"),
    (("nme",), "NME against the drawing", "< 0.08"),
    (("temporal_ratio",), "change vs driver", "near 1"),
    (("stage_ms", "landmarks"), "landmarks ms / frame", ""),
    (("stage_ms", "generator"), "generator ms / frame", ""),
]


SWAP_ROWS = [  # key path, label, good
    (("driver_face_found",), "driver frames with a face", "near 1"),
    (("output_face_found",), "outputs with a face", "near 1"),
    (("identity_distance",), "identity distance to target", f"<= {SWAP_TARGET_DISTANCE}"),
    (("user_identity_distance",), "identity distance to user", f"> {SAME_PERSON_DISTANCE}"),
    (("camera_identity_distance",), "camera's distance to target", "(before the swap)"),
    (("nme",), "expression NME vs driver", "near the camera's"),
    (("nme_camera",), "NME of the camera itself", "(the landmark stage's noise)"),
    (("correlation", "mouth"), "mouth opening correlation", "near 1"),
    (("correlation", "eyes"), "eye openness correlation", "near 1"),
    (("temporal_ratio",), "change vs driver", "near 1"),
    (("seam", "ratio"), "seam contrast vs camera's", "near 1 (above: the edge shows)"),
    (("seam", "ring_vs_camera"), "seam ring gradient vs camera's", "near 1"),
    (("stage_ms", "landmarks"), "landmarks ms / frame", ""),
    (("stage_ms", "generator"), "swap ms / frame", "crop, model, colour, blend"),
]


def format_drive_table(report: dict) -> str:
    """The report as a table for people: one figure a line."""
    if report.get("kind") == "swap":
        first = f"{report['frames']} driver frames, swap bundle at {report['size']} px"
        rows = SWAP_ROWS
    else:
        mode = "retargeting" if report["retargeting"] else "the driver's own points"
        first = (
            f"{report['frames']} driver frames at {report['size']} px, --retarget "
            f"{report['retarget']}: {mode}"
        )
        rows = ROWS
    lines = [first, f"{'figure':<30}{'value':>10}   good"]
    for path, label, good in rows:
        value: Any = report
        for key in path:
            value = value[key]
        cell = "—" if value is None else f"{value:.3f}"
        lines.append(f"{label:<30}{cell:>10}   {good}")
    return "\n".join(lines)


def add_driver_arguments(p: argparse.ArgumentParser) -> None:
    """`evaluate --driver` and the live path's settings it takes."""
    from app.reenact import add_retarget_arguments

    p.add_argument(
        "--driver",
        help="a driving video: measure the live path on it instead of the dataset's tail "
        "(--dataset then only says who the target is)",
    )
    add_retarget_arguments(p)


def drive_report_from_args(args: argparse.Namespace) -> dict:
    """`evaluate --driver`'s flags as a DriveConfig, measured."""
    return drive_report(
        DriveConfig(
            model=args.model,
            driver=args.driver,
            dataset=args.dataset,
            retarget=args.retarget,
            smoothing=args.smoothing,
            limit=args.limit,
            progress=not args.quiet,
            verbose=args.verbose,
            backend=args.backend,
            threads=args.threads,
        )
    )
