"""Detect once, then track: dlib's HOG detector finds the face, the 68-point predictor follows it.

Detection is the cost (tens of ms on a 2-core CPU), the predictor is cheap (~4 ms). So the next
frame's box comes from the previous points, and the detector runs again only when the track is
lost: a periodic check on a small window around the face, or a shape that jumps implausibly.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from common.errors import InputError
from landmarks.regions import N_POINTS

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def model_path(name: str) -> str:
    """Path of a dlib model file shipped by the face-recognition-models package (no download)."""
    # find_spec, not import: the package's __init__ pulls in pkg_resources, which is deprecated.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise InputError("the face-recognition-models package is missing: run scripts/setup")
    path = os.path.join(os.path.dirname(spec.origin), "models", name)
    if not os.path.isfile(path):
        raise InputError(f"dlib model file not found: {path}")
    return path


@dataclass
class TrackResult:
    """One frame's face: points in frame pixels (None without a face) and how they were found."""

    points: np.ndarray | None
    detected: bool = False  # the full-frame detector ran on this frame
    faces: int = 0  # faces the full-frame detector saw (0 when it did not run)
    ambiguous: bool = False  # several faces of similar size and no track to tell them apart

    @property
    def found(self) -> bool:
        return self.points is not None


@dataclass
class _Track:
    points: np.ndarray  # last frame's 68 points
    box_geometry: np.ndarray  # detector box relative to the points' box: dx, dy, sw, sh
    since_check: int = 0
    since_detect: int = 0


def _points_box(points: np.ndarray) -> np.ndarray:
    lo, hi = points.min(0), points.max(0)
    return np.array([*(lo + hi) / 2, *(hi - lo)], np.float64)  # cx, cy, w, h


def _iou(a: dlib.rectangle, b: dlib.rectangle) -> float:
    inter = a.intersect(b)
    i = max(0, inter.width()) * max(0, inter.height()) if not inter.is_empty() else 0
    u = a.area() + b.area() - i
    return i / u if u else 0.0


class FaceTracker:
    """Finds one face per frame and follows the same face from frame to frame.

    `detect_size`: the longest side of the downscaled grey frame the detector sees.
    `upsample`: the detector's upsampling (None: 1 when the frame is small, else 0).
    `check_every`: frames between checks that a face is still inside the tracked box.
    `redetect_every`: frames between full detections while tracking (0: only when lost);
    the dataset builder uses it to notice other faces walking in.
    """

    def __init__(
        self,
        detect_size: int = 512,
        upsample: int | None = None,
        check_every: int = 5,
        redetect_every: int = 0,
    ) -> None:
        self.detect_size = detect_size
        self.upsample = upsample
        self.check_every = check_every
        self.redetect_every = redetect_every
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(model_path(PREDICTOR_FILE))
        self._track: _Track | None = None
        self._last_box: dlib.rectangle | None = None

    def reset(self) -> None:
        """Forget the face: the next frame runs the detector."""
        self._track = None
        self._last_box = None

    @property
    def tracking(self) -> bool:
        return self._track is not None

    def __call__(self, frame: np.ndarray) -> TrackResult:
        """The face in a BGR or grey uint8 frame."""
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        track = self._track
        if track is not None and not (
            self.redetect_every and track.since_detect >= self.redetect_every
        ):
            points = self._follow(grey, track)
            if points is not None:
                return TrackResult(points)
            self._track = None
        return self._detect(grey)

    # -- tracking ---------------------------------------------------------------------------

    def _box_from_points(self, points: np.ndarray, geometry: np.ndarray) -> dlib.rectangle:
        cx, cy, w, h = _points_box(points)
        dx, dy, sw, sh = geometry
        bw, bh = w * sw, h * sh
        x0, y0 = cx + dx * w - bw / 2, cy + dy * h - bh / 2
        return dlib.rectangle(
            int(round(x0)), int(round(y0)), int(round(x0 + bw)), int(round(y0 + bh))
        )

    def _follow(self, grey: np.ndarray, track: _Track) -> np.ndarray | None:
        box = self._box_from_points(track.points, track.box_geometry)
        h, w = grey.shape
        if box.right() < 0 or box.bottom() < 0 or box.left() >= w or box.top() >= h:
            return None
        points = self._predict(grey, box)
        # A face does not change size by a third between two frames: the predictor has drifted.
        ratio = _points_box(points)[2] / max(_points_box(track.points)[2], 1e-6)
        if not 0.75 < ratio < 1.33:
            return None
        track.since_check += 1
        track.since_detect += 1
        if self.check_every and track.since_check >= self.check_every:
            track.since_check = 0
            if not self._face_near(grey, box):
                return None
        track.points = points
        self._last_box = self._box_from_points(points, track.box_geometry)
        return points

    def _face_near(self, grey: np.ndarray, box: dlib.rectangle) -> bool:
        """Is there still a face around `box`? The detector on a small window, not the frame."""
        side = max(box.width(), box.height())
        cx, cy = (box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2
        h, w = grey.shape
        x0, y0 = int(max(0, cx - side)), int(max(0, cy - side))
        x1, y1 = int(min(w, cx + side)), int(min(h, cy + side))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return False
        window = grey[y0:y1, x0:x1]
        # The HOG detector finds faces of 80 px and up: bring the face to about 100 px.
        scale = 100.0 / max(side, 1)
        window = cv2.resize(
            window,
            None,
            fx=scale,
            fy=scale,
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        return len(self._detector(window, 0)) > 0

    # -- detection --------------------------------------------------------------------------

    def _detect(self, grey: np.ndarray) -> TrackResult:
        h, w = grey.shape
        scale = min(1.0, self.detect_size / max(h, w))
        small = (
            grey
            if scale == 1.0
            else cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        upsample = self.upsample if self.upsample is not None else int(max(small.shape) < 400)
        found = self._detector(small, upsample)
        if len(found) == 0:
            self._track = None
            return TrackResult(None, detected=True, faces=0)
        boxes = [
            dlib.rectangle(
                int(r.left() / scale),
                int(r.top() / scale),
                int(r.right() / scale),
                int(r.bottom() / scale),
            )
            for r in found
        ]
        box, ambiguous = self._pick(boxes)
        points = self._predict(grey, box)
        cx, cy, pw, ph = _points_box(points)
        bcx, bcy = (box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2
        geometry = np.array([(bcx - cx) / pw, (bcy - cy) / ph, box.width() / pw, box.height() / ph])
        self._track = _Track(points, geometry)
        self._last_box = box
        return TrackResult(points, detected=True, faces=len(boxes), ambiguous=ambiguous)

    def _pick(self, boxes: list[dlib.rectangle]) -> tuple[dlib.rectangle, bool]:
        """The face to follow: the one where the last face was, else the largest."""
        if self._last_box is not None:
            best = max(boxes, key=lambda b: _iou(b, self._last_box))
            if _iou(best, self._last_box) > 0.3:
                return best, False
        by_area = sorted(boxes, key=lambda b: b.area(), reverse=True)
        ambiguous = len(by_area) > 1 and by_area[1].area() >= 0.8 * by_area[0].area()
        return by_area[0], ambiguous

    def _predict(self, grey: np.ndarray, box: dlib.rectangle) -> np.ndarray:
        shape = self._predictor(grey, box)
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(N_POINTS)], np.float32)

    # -- state, so an interrupted dataset build resumes exactly where it stopped --------------

    def state(self) -> dict[str, np.ndarray]:
        t = self._track
        if t is None:
            return {}
        return {
            "points": t.points,
            "geometry": t.box_geometry,
            "counters": np.array([t.since_check, t.since_detect]),
        }

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        if not state or "points" not in state:
            self.reset()
            return
        points = np.asarray(state["points"], np.float32)
        since_check, since_detect = (int(v) for v in state["counters"])
        self._track = _Track(
            points, np.asarray(state["geometry"], np.float64), since_check, since_detect
        )
        self._last_box = self._box_from_points(points, self._track.box_geometry)
