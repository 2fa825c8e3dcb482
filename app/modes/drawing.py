"""Drawing mode: the app draws the driver's face and the bundle makes the target's from it.

A pix2pix bundle (gan.bundle.Bundle) takes the line drawing of 68 points at its size (and the
points, for recipes that retrieve a reference photo) and answers with the target's face at that
size: the output view, the recording and the virtual camera show that face, held while no face
is in view.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from tqdm import tqdm

from app.images import fit
from app.measures import (
    FaceMeasures,
    change,
    expression,
    finite,
    frame_series,
    mean,
    nme,
    ratio,
)
from app.modes.base import Row, Run
from app.occlusion import plausibility
from app.pictures import Column
from app.pipeline import Frame
from landmarks.identity import SAME_PERSON_DISTANCE
from landmarks.retarget import mouth_opening


@dataclass
class DrawingRecord:
    """What one run of the live stages produced, frame by frame (faces only)."""

    frames: int = 0
    indices: list[int] = field(default_factory=list)  # each kept frame's number in the video
    driver: list[np.ndarray] = field(default_factory=list)  # raw driver points, frame pixels
    drawn: list[np.ndarray] = field(default_factory=list)  # the drawing's points, model pixels
    outputs: list[np.ndarray] = field(default_factory=list)  # generated faces, uint8 RGB
    crops: list[np.ndarray] = field(default_factory=list)  # the driver's crop, as the model sees
    # The drawings the model was given, for evaluate's sheet: one more image stream at the model's
    # size (a 1,337-frame clip at 128 px: 66 MB, as much as the outputs).
    drawings: list[np.ndarray] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    covered: list[bool] = field(default_factory=list)  # parts held as covered (app.occlusion)
    shapes: Any = None  # the target's shapes the stage judged against (app.occlusion)


class DrawingMode:
    """A bundle that makes the target's face from a drawing of the driver's (see the module)."""

    input: ClassVar[str] = "drawing"
    name: ClassVar[str] = "pix2pix"
    title: ClassVar[str] = "generated"
    model_label: ClassVar[str] = "model"
    held: ClassVar[str] = "holding the last output"
    composites: ClassVar[bool] = False
    rows: ClassVar[list[Row]] = [
        (("driver_face_found",), "driver frames with a face", "near 1"),
        (("output_face_found",), "outputs with a face", "near 1"),
        (("identity_distance",), "identity distance to target", "< 0.6"),
        (("correlation", "mouth"), "mouth opening correlation", "near 1"),
        (("correlation", "eyes"), "eye openness correlation", "near 1"),
        (("correlation", "brows"), "brow raise correlation", "near 1"),
        (("sd_driver", "mouth"), "driver's mouth opening sd", "what its r rests on"),
        (("sd_driver", "eyes"), "driver's eye openness sd", "what its r rests on"),
        (("mouth_opening", "driver"), "mouth opening, driver", ""),
        (("mouth_opening", "output"), "mouth opening, output", "near the driver's"),
        (("nme",), "NME against the drawing", "< 0.08"),
        (("temporal_ratio",), "change vs driver", "near 1"),
        (("temporal_ratio_target",), "change vs target's own video", "near 1 (above: shimmer)"),
        (("plausibility", "drawn_outside"), "drawn shape outside target's", "near 0"),
        (("plausibility", "output_outside"), "output shape outside target's", "<= 0.05"),
        (("plausibility", "covered"), "frames held as covered", "near 0 on a clear face"),
        (("stage_ms", "landmarks"), "landmarks ms / frame", ""),
        (("stage_ms", "generator"), "generator ms / frame", ""),
    ]

    def __init__(self, bundle: Any = None, blend: Any = None) -> None:
        self.bundle = bundle  # None: no model yet, the drawing is what there is to show
        # The frames' sequence, one per mode: a model that retrieves photos follows the video.
        self.track = getattr(bundle, "sequence", lambda: None)()

    @classmethod
    def require_drawings(cls, path: str, what: str) -> None:
        return None

    @staticmethod
    def drive_title(report: dict) -> str:
        drawn = "retargeting" if report["retargeting"] else "the driver's own points"
        return (
            f"{report['frames']} driver frames at {report['size']} px, --retarget "
            f"{report['retarget']}: {drawn}"
        )

    def render(self, frame: Frame) -> None:
        frame.generated = self._faces(frame.drawing, frame.drawn_points)

    def faces_from_drawings(self, drawings: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Faces for a video's next frames, in order (evaluate: the held-out tail)."""
        return self._faces(drawings, points)

    def _faces(self, drawings: np.ndarray, points: np.ndarray | None) -> np.ndarray:
        if self.track is None:  # bundles without a retrieval bank, and stand-ins in tests
            return self.bundle(drawings, points=points)
        return self.bundle(drawings, points=points, track=self.track)

    def output(self, frame: Frame) -> np.ndarray | None:
        return frame.generated

    def panel(self, frame: Frame, height: int) -> np.ndarray:
        return fit(frame.generated, height, height)

    def output_size(self, frame_shape: tuple[int, ...], side_by_side: bool) -> tuple[int, int]:
        h, w = frame_shape[:2]
        return (w + 2 * h, h) if side_by_side else (self.bundle.size, self.bundle.size)

    def status(self, retarget: str, retargeting: bool) -> str:
        return f"retarget {retarget}: {'retargeted' if retargeting else 'self'}"

    def bench(self, frames: list[np.ndarray]) -> dict[str, Any]:
        return {}

    def record(self, run: Run, face: Any) -> DrawingRecord:
        record = DrawingRecord()
        tracker = face.tracker

        def keep(frame: Frame) -> None:
            record.frames += 1
            if frame.face:
                record.indices.append(frame.index)
                record.driver.append(tracker.points.copy())
                record.drawn.append(face.drawn_points.copy())
                record.outputs.append(frame.generated)
                record.crops.append(face.crop(frame))
                record.drawings.append(frame.drawing)
                record.covered.append(frame.covered)

        record.shapes = face.spec.shapes
        record.stats = run(keep)
        return record

    def sheet(self, record: DrawingRecord) -> list[Column]:
        """evaluate --driver's contact sheet: the driver's crop, its drawing, the face made."""
        return [("driver", record.crops), ("drawing", record.drawings), ("output", record.outputs)]

    def measure(self, record: DrawingRecord, target: np.ndarray | None, progress: bool) -> dict:
        """Face found, identity, expression fidelity, NME and temporal change of the outputs."""
        measures, found, distances, errors = FaceMeasures(), [], [], []
        out_points, every = [], []  # points found: on found outputs; on every output (or None)
        for i, out in enumerate(
            tqdm(record.outputs, desc="measure", disable=not progress, leave=False, file=sys.stderr)
        ):
            points, descriptor = measures(out)
            every.append(points)
            if points is None:
                continue
            found.append(i)
            out_points.append(points)
            errors.append(nme(points, record.drawn[i]))
            if target is not None:
                distances.append(float(np.linalg.norm(descriptor - target)))
        driver = np.asarray([record.driver[i] for i in found]).reshape(-1, 68, 2)
        output = np.asarray(out_points).reshape(-1, 68, 2)
        moved, driver_moved = change(record.outputs), change(record.crops)
        target_change = (getattr(self.bundle, "info", None) or {}).get("target_change")
        opening = {"driver": mean(list(mouth_opening(driver)))}
        opening["output"] = mean(list(mouth_opening(output)))
        opening["ratio"] = ratio(opening["output"], opening["driver"])
        broken, broken_series = plausibility(record.shapes, record.drawn, every, record.covered)
        series = frame_series(record.indices, record.driver, every, record.crops, record.outputs)
        return {
            "output_face_found": len(found) / len(record.outputs) if record.outputs else 0.0,
            "identity_distance": mean(distances),
            "identity_same": mean([d < SAME_PERSON_DISTANCE for d in distances]),
            **expression(driver, output, record.driver),
            "mouth_opening": opening,
            "nme": mean(errors),
            "temporal_change": finite(moved),
            "temporal_change_driver": finite(driver_moved),
            "temporal_ratio": ratio(moved, driver_moved),
            # Two faces' textures differ; the target's own video moving is the other yardstick.
            "temporal_change_target": target_change,
            "temporal_ratio_target": ratio(moved, target_change),
            "plausibility": broken,
            "series": {**series, "plausibility": broken_series},
        }
