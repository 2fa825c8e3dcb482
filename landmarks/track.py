"""Detect once, then track: dlib's HOG detector finds the face, the 68-point predictor follows it.

Detection is the cost (tens of ms on a 2-core CPU), the predictor is cheap (~4 ms). So the next
frame's box comes from the previous points, and the detector runs again only when the track is
lost: a periodic check on a small window around the face, or a shape that jumps implausibly.
Rotated copies (rolled heads) and a finer scale (small faces) are searched too, on every frame at
first and then, while no face shows, on one frame in `fallback_every`, so that a faceless camera
feed stays cheap. The faces of every pass are candidates: the one near the last known face is
followed, else the largest, so a pass that finds a smaller face first does not decide.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import astuple, dataclass

import cv2
import dlib
import numpy as np

from common.errors import InputError
from common.regions import N_POINTS, REGIONS

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


def _distance(region: _Region, last: _Region) -> float:
    """How far the region's centre lies from the last face's, in the last face's widths."""
    return float(np.hypot(region.cx - last.cx, region.cy - last.cy)) / max(last.w, 1.0)


def _merge(found: list[tuple[_Region, str]], regions: list[_Region], how: str) -> None:
    """Adds to `found` the regions that are not a face found already (by an earlier pass)."""
    for r in regions:
        if not any(
            np.hypot(r.cx - f.cx, r.cy - f.cy) <= SAME_FACE * max(r.w, f.w) for f, _ in found
        ):
            found.append((r, how))


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
# Two detections whose centres lie within this share of the larger one's width are one face, found
# by two passes (upright and rolled, coarse and fine): the first pass keeps it.
SAME_FACE = 0.5
# A face whose centre lies within this many of the last face's widths from the last face's centre
# is taken for it. Generous: a face lost for a moment has often moved (why it was lost), and the
# faces of two people side by side lie two to three face widths apart.
NEAR_LAST = 1.5
# Without a face to follow the largest wins, so the rotated copies need show only faces larger
# than the largest found upright: they are searched at the scale where this share of its width is
# the detector's smallest face (a coarser, cheaper copy when the face is large).
LARGER_MARGIN = 0.8
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
        self._last: _Region | None = None  # the last face seen: where to look after a loss
        self._misses = 0  # frames in a row in which detection found no face

    def reset(self) -> None:
        """Forget the face and the frames without one: the next frame runs every search."""
        self._track = None
        self._last = None
        self._misses = 0

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
        self._last = self._region_from_points(points, track.box_geometry)
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
        found = self._search(grey, fallbacks)
        if not found:
            self._track = None
            self._misses += 1
            return TrackResult(None, detected=True, faces=0)
        self._misses = 0
        region, how, ambiguous = self._pick(found)
        points = self._predict(grey, region)
        (cx, cy, pw, ph), roll = _upright_box(points)
        offset = _rotate(np.array([[region.cx - cx, region.cy - cy]]), np.zeros(2), roll)[0]
        geometry = np.array([offset[0] / pw, offset[1] / ph, region.w / pw, region.h / ph])
        self._track = _Track(points, geometry)
        self._last = region
        return TrackResult(
            points, detected=True, faces=len(found), ambiguous=ambiguous, fallback=how
        )

    def _search(self, grey: np.ndarray, fallbacks: bool) -> list[tuple[_Region, str]]:
        """The faces in the frame, each once, with the pass that found it ("", "roll", "fine").

        The upright pass on the downscaled frame always runs; the fallbacks, when due, run where
        they could change the pick (_pick): not when a face is near the last one; without a last
        face, the rotated copies only for faces larger than those found upright, and the finer
        scale (smaller faces) only when no other pass found one.
        """
        scale = min(1.0, self.detect_size / max(grey.shape))
        small = _resized(grey, scale)
        upsample = self.upsample if self.upsample is not None else int(max(small.shape) < 400)
        found = [(r, "") for r in self._detect_turned(small, 0.0, upsample, scale)]
        if not fallbacks or self._near_last(found):
            return found
        image, up, at = self._larger_view(grey, (small, upsample, scale), found)
        for roll in self.rolls:
            _merge(found, self._detect_turned(image, roll, up, at), "roll")
        # The smallest face the coarse passes could see, in frame pixels.
        seen = HOG_FACE / (scale * 2**upsample)
        due = not found or (self._last is not None and not self._near_last(found))
        if due and self.min_face and seen > self.min_face:
            fine = HOG_FACE / self.min_face
            _merge(found, self._detect_turned(_resized(grey, fine), 0.0, 0, fine), "fine")
        return found

    def _near_last(self, found: list[tuple[_Region, str]]) -> bool:
        """Is one of the faces near the last face (then _pick takes the nearest)?"""
        return self._last is not None and any(
            _distance(r, self._last) <= NEAR_LAST for r, _ in found
        )

    def _larger_view(
        self,
        grey: np.ndarray,
        view: tuple[np.ndarray, int, float],
        found: list[tuple[_Region, str]],
    ) -> tuple[np.ndarray, int, float]:
        """The image, upsampling and scale for the rotated copies.

        `view` (the upright pass's), or, when only a face larger than those found can win, the
        frame scaled down to where the detector's smallest face is LARGER_MARGIN of the largest.
        """
        if not found or self._last is not None:
            return view
        coarse = HOG_FACE / (LARGER_MARGIN * max(r.w for r, _ in found))
        if coarse >= view[2]:
            return view
        return _resized(grey, coarse), 0, coarse

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

    def _pick(self, found: list[tuple[_Region, str]]) -> tuple[_Region, str, bool]:
        """The face to follow and the pass that found it: the nearest the last face, if near
        enough; else the largest, ambiguous when another is of similar size."""
        if self._last is not None:
            near = min(found, key=lambda f: _distance(f[0], self._last))
            if _distance(near[0], self._last) <= NEAR_LAST:
                return *near, False
        by_area = sorted(found, key=lambda f: f[0].w * f[0].h, reverse=True)
        top = by_area[0][0].w * by_area[0][0].h
        ambiguous = len(by_area) > 1 and by_area[1][0].w * by_area[1][0].h >= 0.8 * top
        return *by_area[0], ambiguous

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
        t, last = self._track, self._last
        state = {} if last is None else {"last": np.array(astuple(last))}
        if t is not None:
            state |= {
                "points": t.points,
                "geometry": t.box_geometry,
                "counters": np.array([t.since_check, t.since_detect]),
            }
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.reset()
        if "last" in state:
            self._last = _Region(*(float(v) for v in state["last"]))
        if "points" not in state:
            return
        points = np.asarray(state["points"], np.float32)
        since_check, since_detect = (int(v) for v in state["counters"])
        self._track = _Track(
            points, np.asarray(state["geometry"], np.float64), since_check, since_detect
        )
        self._last = self._region_from_points(points, self._track.box_geometry)
