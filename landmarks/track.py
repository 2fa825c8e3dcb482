"""Detect once, then track: dlib's HOG detector finds the face, the 68-point predictor follows it.

Detection is the cost (tens of ms on a 2-core CPU), the predictor is cheap (~4 ms). So the next
frame's box comes from the previous points, and the detector runs again only when the track is
lost: a periodic check on a small window around the face, or a shape that jumps implausibly.
When the upright detector on the downscaled frame finds nothing, rotated copies (rolled heads) and
a finer scale (small faces) are searched, on every frame at first and then, while no face shows,
on one frame in `fallback_every`, so that a faceless camera feed stays cheap.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from common.errors import InputError
from landmarks.regions import N_POINTS, REGIONS

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
    fallback: str = ""  # "roll" or "fine" when only a fallback found the face

    @property
    def found(self) -> bool:
        return self.points is not None


@dataclass
class _Region:
    """Where a face is: its box's centre and size in the face's own upright frame, and its roll."""

    cx: float
    cy: float
    w: float
    h: float
    roll: float = 0.0  # degrees, the eye line's angle in the frame (image y down)

    def rect(self) -> dlib.rectangle:
        """The axis-aligned box of the same size and centre (to compare regions)."""
        x0, y0 = self.cx - self.w / 2, self.cy - self.h / 2
        return dlib.rectangle(
            int(round(x0)), int(round(y0)), int(round(x0 + self.w)), int(round(y0 + self.h))
        )


@dataclass
class _Track:
    points: np.ndarray  # last frame's 68 points
    box_geometry: np.ndarray  # detector box relative to the upright points' box: dx, dy, sw, sh
    since_check: int = 0
    since_detect: int = 0


def roll_degrees(points: np.ndarray) -> float:
    """The face's roll: the angle of the line from its right eye to its left, in degrees."""
    right = points[REGIONS["right_eye"].indices].mean(0)
    left = points[REGIONS["left_eye"].indices].mean(0)
    return float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))


def _rotate(points: np.ndarray, center: np.ndarray, degrees: float) -> np.ndarray:
    """Points turned by `degrees` about `center` the way cv2.getRotationMatrix2D turns an image."""
    m = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), degrees, 1.0)
    return points @ m[:, :2].T + m[:, 2]


def _upright_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The points' box in the face's upright frame (cx, cy in the frame; w, h) and the roll."""
    roll = roll_degrees(points)
    centre = points.mean(0)
    upright = _rotate(points, centre, roll)
    lo, hi = upright.min(0), upright.max(0)
    mid = _rotate(((lo + hi) / 2)[None], centre, -roll)[0]
    return np.array([*mid, *(hi - lo)], np.float64), roll


def _upright_patch(
    grey: np.ndarray, region: _Region, side: float, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """A square of `side` frame pixels around the region, turned upright and scaled.

    Returns the patch and the 2×3 matrix that takes frame pixels to patch pixels.
    """
    out = max(16, int(round(side * scale)))
    m = cv2.getRotationMatrix2D((region.cx, region.cy), region.roll, scale)
    m[:, 2] += np.array([out / 2 - region.cx, out / 2 - region.cy])
    patch = cv2.warpAffine(grey, m, (out, out), flags=cv2.INTER_LINEAR)
    return patch, m


def _iou(a: dlib.rectangle, b: dlib.rectangle) -> float:
    inter = a.intersect(b)
    i = max(0, inter.width()) * max(0, inter.height()) if not inter.is_empty() else 0
    u = a.area() + b.area() - i
    return i / u if u else 0.0


def _resized(grey: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return grey
    return cv2.resize(
        grey,
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )


# Below this roll the predictor and the detector take the frame as it is: no warp, no cost.
ROLL_WARP = 10.0
# The HOG detector's window: the smallest face it finds without upsampling.
HOG_FACE = 80
# Frames without a face during which every fallback runs on every frame: a face just lost is most
# likely still there, rolled or small. After them the fallbacks run every `fallback_every` frames.
FALLBACK_GRACE = 5


class FaceTracker:
    """Finds one face per frame and follows the same face from frame to frame.

    `detect_size`: the longest side of the downscaled grey frame the detector sees.
    `upsample`: the detector's upsampling (None: 1 when the frame is small, else 0).
    `check_every`: frames between checks that a face is still inside the tracked box.
    `redetect_every`: frames between full detections while tracking (0: only when lost);
    the dataset builder uses it to notice other faces walking in.
    `rolls`: angles (degrees) of the rotated copies searched when the upright detector finds no
    face; () searches upright only.
    `min_face`: the smallest face (px, in the frame) searched at a finer scale when the
    downscaled frame shows none; 0 turns that search off.
    `fallback_every`: once no face has been seen for a few frames, the two searches above run on
    one frame in this many (1: every frame), so that a faceless feed stays cheap.
    """

    def __init__(
        self,
        detect_size: int = 512,
        upsample: int | None = None,
        check_every: int = 5,
        redetect_every: int = 0,
        rolls: tuple[float, ...] = (20.0, -20.0, 40.0, -40.0),
        min_face: int = 60,
        fallback_every: int = 15,
    ) -> None:
        self.detect_size = detect_size
        self.upsample = upsample
        self.check_every = check_every
        self.redetect_every = redetect_every
        self.rolls = tuple(rolls)
        self.min_face = min_face
        self.fallback_every = max(1, fallback_every)
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(model_path(PREDICTOR_FILE))
        self._track: _Track | None = None
        self._last_box: dlib.rectangle | None = None
        self._misses = 0  # frames in a row in which detection found no face

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
        if track is None:
            return self._detect(grey, fallbacks=self._fallbacks_due())
        if self.redetect_every and track.since_detect >= self.redetect_every:
            # A look for other faces: the followed one, if rolled or small, stays followed.
            found = self._detect(grey, fallbacks=False)
            if found.found:
                return found
            self._track = track
        points = self._follow(grey, track)
        if points is not None:
            return TrackResult(points)
        self._track = None
        return self._detect(grey, fallbacks=True)

    def _fallbacks_due(self) -> bool:
        return self._misses < FALLBACK_GRACE or self._misses % self.fallback_every == 0

    # -- tracking ---------------------------------------------------------------------------

    def _region_from_points(self, points: np.ndarray, geometry: np.ndarray) -> _Region:
        (cx, cy, w, h), roll = _upright_box(points)
        dx, dy, sw, sh = geometry
        # The offset is in the face's upright frame: turn it back into the frame's.
        offset = _rotate(np.array([[dx * w, dy * h]]), np.zeros(2), -roll)[0]
        return _Region(cx + offset[0], cy + offset[1], w * sw, h * sh, roll)

    def _follow(self, grey: np.ndarray, track: _Track) -> np.ndarray | None:
        region = self._region_from_points(track.points, track.box_geometry)
        h, w = grey.shape
        if not (0 <= region.cx < w and 0 <= region.cy < h):
            return None
        points = self._predict(grey, region)
        # A face does not change size by a third between two frames: the predictor has drifted.
        ratio = _upright_box(points)[0][2] / max(_upright_box(track.points)[0][2], 1e-6)
        if not 0.75 < ratio < 1.33:
            return None
        track.since_check += 1
        track.since_detect += 1
        if self.check_every and track.since_check >= self.check_every:
            track.since_check = 0
            if not self._face_near(grey, region):
                return None
        track.points = points
        self._last_box = self._region_from_points(points, track.box_geometry).rect()
        return points

    def _face_near(self, grey: np.ndarray, region: _Region) -> bool:
        """Is there still a face around the region? The detector on a small upright window."""
        side = max(region.w, region.h)
        if side < 8:
            return False
        # The HOG detector finds faces of 80 px and up: bring the face to about 100 px.
        window, _ = _upright_patch(grey, region, 2 * side, scale=100.0 / side)
        return len(self._detector(window, 0)) > 0

    # -- detection --------------------------------------------------------------------------

    def _detect(self, grey: np.ndarray, fallbacks: bool) -> TrackResult:
        regions, how = self._search(grey, fallbacks)
        if not regions:
            self._track = None
            self._misses += 1
            return TrackResult(None, detected=True, faces=0)
        self._misses = 0
        region, ambiguous = self._pick(regions)
        points = self._predict(grey, region)
        (cx, cy, pw, ph), roll = _upright_box(points)
        offset = _rotate(np.array([[region.cx - cx, region.cy - cy]]), np.zeros(2), roll)[0]
        geometry = np.array([offset[0] / pw, offset[1] / ph, region.w / pw, region.h / ph])
        self._track = _Track(points, geometry)
        self._last_box = region.rect()
        return TrackResult(
            points, detected=True, faces=len(regions), ambiguous=ambiguous, fallback=how
        )

    def _search(self, grey: np.ndarray, fallbacks: bool) -> tuple[list[_Region], str]:
        """Faces in the frame: upright on the downscaled frame, then the fallbacks if due."""
        scale = min(1.0, self.detect_size / max(grey.shape))
        small = _resized(grey, scale)
        upsample = self.upsample if self.upsample is not None else int(max(small.shape) < 400)
        regions = self._detect_turned(small, 0.0, upsample, scale)
        if regions or not fallbacks:
            return regions, ""
        for roll in self.rolls:
            regions = self._detect_turned(small, roll, upsample, scale)
            if regions:
                return regions, "roll"
        # The smallest face the pass above could see, in frame pixels.
        seen = HOG_FACE / (scale * 2**upsample)
        if self.min_face and seen > self.min_face:
            fine = HOG_FACE / self.min_face
            regions = self._detect_turned(_resized(grey, fine), 0.0, 0, fine)
            if regions:
                return regions, "fine"
        return [], ""

    def _detect_turned(
        self, small: np.ndarray, roll: float, upsample: int, scale: float
    ) -> list[_Region]:
        """Faces rolled by about `roll` degrees in `small` (the frame scaled by `scale`)."""
        if roll == 0.0:
            turned, m = small, None
        else:
            h, w = small.shape
            m = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
            turned = cv2.warpAffine(small, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        regions = []
        for r in self._detector(turned, upsample):
            centre = np.array([[(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2]])
            if m is not None:
                centre = (centre - m[:, 2]) @ np.linalg.inv(m[:, :2]).T
            cx, cy = centre[0] / scale
            regions.append(_Region(cx, cy, r.width() / scale, r.height() / scale, roll))
        return regions

    def _pick(self, regions: list[_Region]) -> tuple[_Region, bool]:
        """The face to follow: the one where the last face was, else the largest."""
        if self._last_box is not None:
            best = max(regions, key=lambda r: _iou(r.rect(), self._last_box))
            if _iou(best.rect(), self._last_box) > 0.3:
                return best, False
        by_area = sorted(regions, key=lambda r: r.w * r.h, reverse=True)
        top = by_area[0].w * by_area[0].h
        ambiguous = len(by_area) > 1 and by_area[1].w * by_area[1].h >= 0.8 * top
        return by_area[0], ambiguous

    def _predict(self, grey: np.ndarray, region: _Region) -> np.ndarray:
        """The 68 points in the region; a rolled face is turned upright for the predictor."""
        if abs(region.roll) < ROLL_WARP:
            return self._predict_box(grey, region.rect())
        side = 1.5 * max(region.w, region.h)
        patch, m = _upright_patch(grey, region, side)
        half = patch.shape[0] / 2
        box = _Region(half, half, region.w, region.h).rect()
        points = self._predict_box(patch, box)
        back = cv2.invertAffineTransform(m)
        return (points @ back[:, :2].T + back[:, 2]).astype(np.float32)

    def _predict_box(self, grey: np.ndarray, box: dlib.rectangle) -> np.ndarray:
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
        self._last_box = self._region_from_points(points, self._track.box_geometry).rect()
