"""The landmark and generator stages: camera frame → 68 points → the target's drawing → face."""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.identity import Appearance, DriverIdentity, IdentityChecker, PersonWatch
from app.modes import Mode, mode_for
from app.occlusion import COVERED, NEW_PERSON, NOTE_SECONDS, OcclusionGuard, shape_range
from app.pipeline import Frame
from common.arrays import json_array
from common.errors import InputError
from landmarks import (
    Alignment,
    DrawingParams,
    FaceTracker,
    OneEuroFilter,
    align_frame,
    draw_landmarks,
    retarget,
    transform_points,
)
from landmarks.identity import mean_descriptor, spread
from landmarks.retarget import EYE_POINTS, NeutralEstimator

log = logging.getLogger(__name__)

DEFAULT_SIZE = 256  # the drawing's size while no model is loaded
NEUTRAL_SECONDS = 1.0  # "calibrating" while the neutral estimate has seen less than this
DEFAULT_SMOOTHING = 0.5
RETARGET_MODES = ("auto", "on", "off")
DEFAULT_RETARGET = "auto"
# How fast the smoothing opens with speed, in face widths per second: a blink or a word moves the
# lids and lips by a tenth of a face in a frame or two, and must pass (beta 0.05 px⁻¹ halved the
# eye-openness correlation of the sample driving itself, evaluate --driver: 0.41 against 0.63).
MOTION_BETA = 100.0


@dataclass(frozen=True)
class ModelSpec:
    """What the landmark stage needs from a bundle: how to crop, draw and whose shape to wear."""

    size: int = DEFAULT_SIZE
    alignment: Alignment = Alignment()
    drawing: DrawingParams = DrawingParams()
    reference_shape: np.ndarray | None = None  # the target's mean aligned shape
    target_descriptor: np.ndarray | None = None  # 128-d: who the target is (auto retargeting)
    neutral_shape: np.ndarray | None = None  # the target at rest (newer bundles only)
    shapes: Any = None  # landmarks.plausible.ShapeRange: the target's shapes (app.occlusion)

    @classmethod
    def from_bundle(cls, bundle: Any) -> ModelSpec:
        info = getattr(bundle, "info", None) or {}
        return cls(
            int(bundle.size),
            Alignment.from_dict(bundle.alignment),
            DrawingParams.from_dict(bundle.drawing),
            _bundle_array(bundle.reference_shape, "reference_shape", (68, 2)),
            _bundle_array(info.get("target_descriptor"), "target_descriptor", (128,)),
            _bundle_array(info.get("neutral_shape"), "neutral_shape", (68, 2)),
            shape_range(bundle),
        )

    @property
    def target_shape(self) -> np.ndarray | None:
        """What retargeting adds the driver's expression to: the target's face at rest.

        The neutral shape when the bundle has one; older bundles have only the mean shape, whose
        mouth is half open on a talking target, so every output mouth is opened by that much.
        """
        return self.reference_shape if self.neutral_shape is None else self.neutral_shape


def _bundle_array(
    value: Any, name: str, shape: tuple[int, ...], where: str = "bundle.json"
) -> np.ndarray | None:
    """A field of `where` as a float32 array of `shape`; InputError when it is another shape."""
    return json_array(value, shape, f"{where}: {name}")


def target_descriptor(bundle: Any, dataset: str | Path | None = None) -> np.ndarray | None:
    """Who the target is: the bundle's own descriptor, else the mean over its training photos.

    The photos come from `dataset`, else from the dataset the bundle records it was trained on,
    when that is still there. None when neither is at hand: auto retargeting then retargets.
    """
    spec = ModelSpec.from_bundle(bundle)
    if spec.target_descriptor is not None:
        return spec.target_descriptor
    if dataset is not None:
        return dataset_descriptor(str(Path(dataset).resolve()))
    recorded = (getattr(bundle, "info", None) or {}).get("dataset")
    try:
        if recorded is not None and (Path(recorded) / "manifest.json").is_file():
            return dataset_descriptor(str(Path(recorded).resolve()))
    except (InputError, OSError) as e:  # a dataset changed since: the model still works
        log.warning("target descriptor from %s: %s", recorded, e)
    log.info("no target descriptor: auto retargeting will retarget")
    return None


@functools.lru_cache(maxsize=4)
def dataset_descriptor(dataset: str) -> np.ndarray:
    """The dataset's target descriptor: its manifest's, else computed as make-dataset does."""
    from landmarks.dataset_format import load_index, read_pair

    index = load_index(dataset)
    recorded = index.manifest.get("target_descriptor")
    if recorded is not None:
        return _bundle_array(recorded, "target_descriptor", (128,), f"{dataset}/manifest.json")
    # Datasets made before the manifest carried it: the mean over training photos, at their points.
    rows = spread(index.rows("train"))
    return mean_descriptor((read_pair(index.path(i))[1], index.points[i]) for i in rows)


def retarget_mode(value: str | bool) -> str:
    """ "auto", "on" or "off"; True and False are the older spellings of on and off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value not in RETARGET_MODES:
        raise ValueError(f"retarget must be one of {RETARGET_MODES}, not {value!r}")
    return value


def smoothing_filter(strength: float) -> OneEuroFilter | None:
    """A One Euro filter for a smoothing strength in [0, 1] (0: none).

    Strength maps onto the rest cutoff on a log scale, 10 Hz (barely any) down to 0.1 Hz (heavy).
    Beta, which keeps fast motion responsive, depends on the face's size: FaceStage sets it on
    every frame from MOTION_BETA.
    """
    strength = float(np.clip(strength, 0.0, 1.0))
    if strength <= 0:
        return None
    return OneEuroFilter(min_cutoff=10 ** (1 - 2 * strength))


class FaceStage:
    """FaceTracker → One Euro smoothing → alignment → retargeting → drawing, as the bundle says.

    Without a face the last drawing is held and `frame.face` is False. The driver's neutral shape is
    estimated from every face seen since the start or `calibrate()` (landmarks.NeutralEstimator).
    `retarget`: "on" moves the target's shape at rest (ModelSpec.target_shape) by the driver's
    expression; "off" draws the driver's own aligned points (self-reenactment); "auto" draws
    their own points when the driver is the target (dlib descriptor within the same-person
    distance of the spec's target descriptor) and retargets otherwise, or when the spec carries
    no descriptor. The verdict is taken on the first faces of each appearance: a face lost for a
    moment that comes back where it was keeps it (app.identity.Appearance). `identity_check` says
    where the descriptors are computed: in line by default, in the background for the live window.
    """

    def __init__(
        self,
        spec: ModelSpec | None = None,
        smoothing: float = DEFAULT_SMOOTHING,
        retarget: str | bool = DEFAULT_RETARGET,
        tracker: FaceTracker | None = None,
        identity_check: IdentityChecker | None = None,
    ) -> None:
        self.tracker = tracker or FaceTracker()
        self.identity_check = identity_check or IdentityChecker()
        self.retarget = retarget_mode(retarget)
        self._spec = spec or ModelSpec()
        self._pending_spec: ModelSpec | None = None
        self._smoothing = smoothing
        self._filter = smoothing_filter(smoothing)
        self._lock = threading.Lock()  # settings change from the UI thread, frames run in a worker
        self._neutral = NeutralEstimator()
        self._neutral_start: float | None = None
        self._neutral_t = 0.0  # the time of the latest shape the estimate has seen
        self.identity = DriverIdentity()
        self._appearance = Appearance()
        self._last_drawing: np.ndarray | None = None
        self.drawn_points: np.ndarray | None = None  # the points of the last drawing made
        self.guard = OcclusionGuard()  # holds the parts a hand covers (app.occlusion)
        self.watch = PersonWatch()  # another person in the seat: the neutral starts afresh
        self._new_person_until = -1.0  # the status says "new person" until this time
        self._t = 0.0

    # -- settings, safe to change from any thread while frames flow ---------------------------

    @property
    def spec(self) -> ModelSpec:
        return self._pending_spec or self._spec

    def set_spec(self, spec: ModelSpec) -> None:
        """Use another model's crop, drawing and reference shape from the next frame on."""
        with self._lock:
            self._pending_spec = spec
        if spec.target_descriptor is not None and self.retarget == "auto":
            self.identity_check.warm_up()

    @property
    def smoothing(self) -> float:
        return self._smoothing

    def set_smoothing(self, strength: float) -> None:
        with self._lock:
            self._smoothing = float(np.clip(strength, 0.0, 1.0))
            self._filter = smoothing_filter(self._smoothing)

    def set_retarget(self, mode: str | bool) -> None:
        with self._lock:
            self.retarget = retarget_mode(mode)

    def calibrate(self) -> None:
        """Estimate the driver's neutral face afresh, and whether they are the target."""
        with self._lock:
            self._neutral.reset()
            self._neutral_start = None
            self.identity = DriverIdentity()
            self._appearance.reset()
            self.guard.reset()
            self.watch.reset()

    @property
    def retargeting(self) -> bool:
        """Whether the target's shape is moved now (False: the driver's own points are drawn)."""
        if self.retarget == "off" or self.spec.target_shape is None:
            return False
        return self.retarget == "on" or not self.identity.is_target

    @property
    def calibrating(self) -> bool:
        """The neutral estimate has seen less than a second of faces (only when retargeting)."""
        fresh = self._neutral_start is None or self._neutral_t - self._neutral_start <= (
            NEUTRAL_SECONDS
        )
        return fresh and self.retargeting

    # -- the stage ------------------------------------------------------------------------------

    def __call__(self, frame: Frame, t: float | None = None) -> Frame:
        """Fill in frame.points, .drawing and .face; `t` (seconds) defaults to the capture time."""
        with self._lock:
            if self._pending_spec is not None:
                self._spec, self._pending_spec = self._pending_spec, None
                self._last_drawing = None
                self.identity = DriverIdentity()  # another target
            spec, smoother = self._spec, self._filter
        t = frame.captured if t is None else t
        points = self.tracker(frame.image).points
        if points is None:
            if smoother is not None:
                smoother.reset()  # the next face may be somewhere else entirely: no glide
            self._appearance.lost()
            self.guard.reset()
            frame.face, frame.drawing = False, self._last_drawing
            return frame
        if self._appearance.new(points, t):
            self.identity.reset()  # gone a while, or back elsewhere: maybe someone else
            self.watch.reset()
        self._watch_person(frame.image, points, t)
        self._check_identity(frame.image, points, spec)
        points = self._guarded(points, spec, t)
        frame.covered = self.guard.covered
        if smoother is not None:
            # A jump of a quarter face width is a new face or a cut, not motion to smooth.
            width = float(np.ptp(points[:, 0]))
            smoother.reset_distance = 0.25 * width
            smoother.beta = MOTION_BETA / max(width, 1.0)
            points = smoother(points, t).astype(np.float32)
        frame.points = points
        matrix = spec.alignment.matrix(points, spec.size, frame.image.shape)
        aligned = transform_points(points, matrix)
        self.drawn_points = self._retargeted(aligned, spec, t)
        frame.drawn_points = self.drawn_points
        frame.drawing = draw_landmarks(self.drawn_points, spec.size, spec.drawing)
        frame.face = True
        self._last_drawing = frame.drawing
        return frame

    def _check_identity(self, bgr: np.ndarray, points: np.ndarray, spec: ModelSpec) -> None:
        """In auto, the first few faces of each appearance say whether the driver is the target."""
        if self.retarget != "auto" or spec.target_descriptor is None or self.identity.settled:
            return
        self.identity_check.check(self.identity, bgr, points, spec.target_descriptor)

    def _watch_person(self, bgr: np.ndarray, points: np.ndarray, t: float) -> None:
        """Another person took the seat (app.identity.PersonWatch): their neutral, afresh."""
        self._t = t
        if self.watch.due(t):
            self.identity_check.watch(self.watch, bgr, points)
        if self.watch.pop_change():
            with self._lock:
                self._neutral.reset()
                self._neutral_start = None
            self.identity.reset()
            self.guard.reset()
            self._new_person_until = t + NOTE_SECONDS

    @property
    def note(self) -> str:
        """What the status bar says of the face: "face covered", "new person" or nothing."""
        if self.guard.covered:
            return COVERED
        return NEW_PERSON if self._t < self._new_person_until else ""

    def _guarded(self, points: np.ndarray, spec: ModelSpec, t: float) -> np.ndarray:
        """The points with the parts outside the target's range held (app.occlusion)."""
        on = self.retargeting
        neutral, target = (self._neutral.neutral, spec.target_shape) if on else (None, None)
        return self.guard(points, spec.shapes, target, neutral, t)

    def _retargeted(self, aligned: np.ndarray, spec: ModelSpec, t: float) -> np.ndarray:
        if spec.target_shape is None:
            return aligned
        with self._lock:
            # The estimate follows every face, so a switch to retargeting has a neutral at hand.
            if self._neutral_start is None:
                self._neutral_start = t
            self._neutral_t = t
            held = self.guard.covered and self._neutral.neutral is not None
            neutral = self._neutral.neutral if held else self._neutral.update(aligned)
            if not self._neutral.eyes_seen_open:
                # Eyes shut since the start: how they look open is unknown, so they are drawn as
                # they are (the target's eyes at rest stand in for the driver's: the crop is one
                # canonical frame for both), not as "rest", which would open them.
                neutral = neutral.copy()
                neutral[EYE_POINTS] = spec.target_shape[EYE_POINTS]
        if not self.retargeting:
            return aligned
        return retarget(aligned, neutral, spec.target_shape)

    def close(self) -> bool:
        """End the background identity check, if one runs; True when it has ended."""
        return self.identity_check.close()

    def crop(self, frame: Frame) -> np.ndarray | None:
        """The camera frame cropped the way the model sees faces (RGB), for side-by-side views."""
        if frame.points is None and self._spec.alignment.mode != "frame":
            return None
        crop, _, _ = align_frame(
            frame.image[..., ::-1], frame.points, self._spec.size, self._spec.alignment
        )
        return crop


class GeneratorStage:
    """The model bundle on the frame's face. Without a face (or a model) the last face is held.

    What it runs is the bundle's mode (app.modes), chosen when the bundle is set: a drawing
    bundle makes the target's face from the drawing (and its points, for recipes that retrieve
    a reference photo); a face-crop bundle puts the target's face into the camera frame.
    `blend`: how a face-crop bundle's face goes into the frame (landmarks.blend.BlendParams).
    """

    def __init__(self, bundle: Any = None, blend: Any = None) -> None:
        self._blend = blend
        self._mode = mode_for(bundle, blend)
        self._last: np.ndarray | None = None

    @property
    def bundle(self) -> Any:
        return self._mode.bundle

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_bundle(self, bundle: Any) -> None:
        # One reference swap: the worker sees the old model and its mode, or the new ones.
        self._mode = mode_for(bundle, self._blend)
        self._last = None

    def __call__(self, frame: Frame) -> Frame:
        mode = self._mode
        bundle, drawing = mode.bundle, frame.drawing
        if bundle is None or drawing is None or drawing.shape[0] != bundle.size:
            # A drawing made for the previous model is the wrong size for the new one: skip it.
            frame.generated = self._last if bundle is not None else None
            return frame
        if frame.face or self._last is None:
            mode.render(frame)
            self._last = frame.generated
        frame.generated = self._last
        return frame
