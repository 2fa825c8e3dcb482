"""Face-crop mode: the camera's aligned face goes to the bundle, its answer back into the frame.

A swap bundle (gan.swap_bundle.SwapBundle; every swap model) takes the user's face cut from the
camera frame and answers with the target's face in the same pose (app.swap does the crop, the
colour match and the blend). The output is the whole camera frame with the target's face in it;
without a face in view, the camera as it is. `evaluate --driver` measures it on its own terms:
is the output the target and no longer the user, does it keep the driver's expression, does
the pasted face's edge show, and is the face as sharp as the camera's.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cv2
import numpy as np
from tqdm import tqdm

from app.images import fit
from app.measures import (
    MEASURE_SIZE,
    FaceMeasures,
    change,
    expression,
    finite,
    frame_series,
    mean,
    nme,
    ratio,
    sharpness_ratio,
)
from app.modes.base import Row, Run
from app.occlusion import CoverFade
from app.pictures import Column
from app.pipeline import Frame
from app.swap import DEFAULT_BLEND, blend_mask, camera_rgb, swap_face, swap_output, time_blend
from common.errors import InputError
from landmarks import Alignment, transform_points
from landmarks.blend import seam_gradients
from landmarks.identity import SAME_PERSON_DISTANCE

# Outputs are measured in the dataset's default crop, the whole head, where the detector and the
# identity network see the face as they do in make-dataset: a swap's own crop is tighter.
MEASURE_ALIGNMENT = Alignment()
SWAP_TARGET_DISTANCE = 0.5  # the output should be the target with a margin (dlib's own is 0.6)


@dataclass
class FaceCropRecord:
    """What the live stages made of a driving video (frames with a face), as head crops."""

    frames: int = 0
    indices: list[int] = field(default_factory=list)  # each kept frame's number in the video
    outputs: list[np.ndarray] = field(default_factory=list)  # composited face crops, RGB
    cameras: list[np.ndarray] = field(default_factory=list)  # the camera's, the same crop
    driver: list[np.ndarray] = field(default_factory=list)  # raw driver points, crop pixels
    # The blend's border ring and the ring just inside it, mean gradient: output, then camera.
    seams: list[tuple[float, float, float, float]] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def _head(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(
        image,
        matrix,
        (MEASURE_SIZE, MEASURE_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _seam(ring: float, inner: float, camera_ring: float, camera_inner: float) -> dict:
    """Seam figures from mean gradients: the border ring ÷ just inside it, for the output and the
    camera; their ratio (above 1: the edge shows more than the camera's own there); and the ring
    alone against the camera's (a blurry face inside raises the first ratio without a seam)."""
    output, camera = ratio(ring, inner), ratio(camera_ring, camera_inner)
    return {
        "output": output,
        "camera": camera,
        "ratio": ratio(output, camera),
        "ring_vs_camera": ratio(ring, camera_ring),
    }


class FaceCropMode:
    """A bundle that turns the camera's face into the target's (see the module)."""

    input: ClassVar[str] = "face_crop"
    name: ClassVar[str] = "swap"
    title: ClassVar[str] = "swapped"
    model_label: ClassVar[str] = "swap model"
    held: ClassVar[str] = "showing the camera"
    composites: ClassVar[bool] = True
    rows: ClassVar[list[Row]] = [
        (("driver_face_found",), "driver frames with a face", "near 1"),
        (("output_face_found",), "outputs with a face", "near 1"),
        (("identity_distance",), "identity distance to target", f"<= {SWAP_TARGET_DISTANCE}"),
        (("user_identity_distance",), "identity distance to user", f"> {SAME_PERSON_DISTANCE}"),
        (("camera_identity_distance",), "camera's distance to target", "(before the swap)"),
        (("nme",), "expression NME vs driver", "near the camera's"),
        (("nme_camera",), "NME of the camera itself", "(the landmark stage's noise)"),
        (("correlation", "mouth"), "mouth opening correlation", "near 1"),
        (("correlation", "eyes"), "eye openness correlation", "near 1"),
        (("sd_driver", "mouth"), "driver's mouth opening sd", "what its r rests on"),
        (("sd_driver", "eyes"), "driver's eye openness sd", "what its r rests on"),
        (("temporal_ratio",), "change vs driver", "near 1"),
        (("seam", "ratio"), "seam contrast vs camera's", "near 1 (above: the edge shows)"),
        (("seam", "ring_vs_camera"), "seam ring gradient vs camera's", "near 1"),
        (("sharpness", "ratio"), "face sharpness vs camera's", ">= 0.6 (below: blurred)"),
        (("stage_ms", "landmarks"), "landmarks ms / frame", ""),
        (("stage_ms", "generator"), "swap ms / frame", "crop, model, colour, blend"),
    ]

    def __init__(self, bundle: Any, blend: Any = None) -> None:
        self.bundle = bundle
        self.blend = DEFAULT_BLEND if blend is None else blend  # landmarks.blend.BlendParams
        self.fade = CoverFade()  # a covered face fades to the camera's own

    @classmethod
    def require_drawings(cls, path: str, what: str) -> None:
        raise cls._takes_no_drawings(path, what)

    @classmethod
    def _takes_no_drawings(cls, path: str, what: str) -> InputError:
        return InputError(
            f"{path} is a {cls.name} bundle: it takes the camera's face, not a drawing, so "
            f"{what} cannot run it; measure it on a driving video with evaluate --driver VIDEO"
        )

    @staticmethod
    def drive_title(report: dict) -> str:
        return f"{report['frames']} driver frames, swap bundle at {report['size']} px"

    def render(self, frame: Frame) -> None:
        camera = camera_rgb(frame)
        swapped = swap_face(self.bundle, camera, frame.points, self.blend)
        frame.generated = swapped.face
        frame.composited = self.fade(frame.covered, camera, swapped.image)  # app.occlusion

    def faces_from_drawings(self, drawings: np.ndarray, points: np.ndarray) -> np.ndarray:
        raise self._takes_no_drawings(str(self.bundle.path), "measuring it on drawings")

    def output(self, frame: Frame) -> np.ndarray | None:
        return swap_output(frame)  # no face in this frame: the camera as it is

    def panel(self, frame: Frame, height: int) -> np.ndarray:
        return fit(swap_output(frame), height)

    def output_size(self, frame_shape: tuple[int, ...], side_by_side: bool) -> tuple[int, int]:
        h, w = frame_shape[:2]
        return (2 * w + h, h) if side_by_side else (w, h)

    def status(self, retarget: str, retargeting: bool) -> str:
        return "swap"  # the camera's face becomes the target's: no drawing to retarget

    def bench(self, frames: list[np.ndarray]) -> dict[str, Any]:
        return {"blend": time_blend(self.bundle, frames)}

    def record(self, run: Run, face: Any) -> FaceCropRecord:
        """Each output kept as a crop of the head at MEASURE_SIZE (outputs are whole camera
        frames), with the camera's same crop and the seam's contrast."""
        record, tracker = FaceCropRecord(), face.tracker

        def keep(frame: Frame) -> None:
            record.frames += 1
            if not frame.face or frame.composited is None:
                return
            camera = camera_rgb(frame)
            record.indices.append(frame.index)
            matrix = MEASURE_ALIGNMENT.matrix(frame.points, MEASURE_SIZE, camera.shape)
            record.outputs.append(_head(frame.composited, matrix))
            record.cameras.append(_head(camera, matrix))
            record.driver.append(transform_points(tracker.points, matrix))
            mask = blend_mask(self.bundle, frame.points, camera.shape, self.blend)
            if mask is not None:
                box, alpha = mask
                out = seam_gradients(frame.composited[box], alpha)
                cam = seam_gradients(camera[box], alpha)
                if out is not None and cam is not None:
                    record.seams.append((*out, *cam))

        record.stats = run(keep)
        return record

    def sheet(self, record: FaceCropRecord) -> list[Column]:
        """evaluate --driver's contact sheet: the camera's head crop, and the same crop swapped."""
        return [("camera", record.cameras), ("swapped", record.outputs)]

    def measure(self, record: FaceCropRecord, target: np.ndarray | None, progress: bool) -> dict:
        """Identity (to the target, and away from the user), expression (the landmark stage on
        the output against the driver's points), faces found, temporal change, seam contrast, and
        the inner face's sharpness against the camera's (app.measures.sharpness_ratio)."""
        measures = FaceMeasures()
        pairs = list(zip(record.outputs, record.cameras, record.driver, strict=True))
        out_desc, cam_desc, out_points, driver, errors, camera_errors = [], [], [], [], [], []
        every = []  # the points found on each output, or None
        for out, cam, points in tqdm(
            pairs, desc="measure", disable=not progress, leave=False, file=sys.stderr
        ):
            found, descriptor = measures(cam)
            if found is not None:
                cam_desc.append(descriptor)
                camera_errors.append(nme(found, points))
            found, descriptor = measures(out)
            every.append(found)
            if found is not None:
                out_desc.append(descriptor)
                out_points.append(found)
                driver.append(points)
                errors.append(nme(found, points))
        # Who the user is: their mean descriptor over the driving video, measured as outputs are.
        user = np.mean(cam_desc, axis=0) if cam_desc else None

        def distances(descriptors: list[np.ndarray], to: np.ndarray | None) -> list[float]:
            return [] if to is None else [float(np.linalg.norm(d - to)) for d in descriptors]

        to_target = distances(out_desc, target)
        driver_pts = np.asarray(driver).reshape(-1, 68, 2)
        output_pts = np.asarray(out_points).reshape(-1, 68, 2)
        moved, camera_moved = change(record.outputs), change(record.cameras)
        seams = np.asarray(record.seams, np.float64).reshape(-1, 4)
        ring, inner, camera_ring, camera_inner = seams.mean(0) if len(seams) else [math.nan] * 4
        return {
            "output_face_found": len(out_desc) / len(pairs) if pairs else 0.0,
            "identity_distance": mean(to_target),
            "identity_target": mean([d <= SWAP_TARGET_DISTANCE for d in to_target]),
            "user_identity_distance": mean(distances(out_desc, user)),
            "camera_identity_distance": mean(distances(cam_desc, target)),
            "nme": mean(errors),
            "nme_camera": mean(camera_errors),
            **expression(driver_pts, output_pts, record.driver),
            "temporal_change": finite(moved),
            "temporal_change_driver": finite(camera_moved),
            "temporal_ratio": ratio(moved, camera_moved),
            "seam": _seam(ring, inner, camera_ring, camera_inner),
            "sharpness": sharpness_ratio(record.outputs, record.cameras, record.driver),
            "series": frame_series(
                record.indices, record.driver, every, record.cameras, record.outputs
            ),
        }
