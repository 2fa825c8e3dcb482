"""Faces and points: dlib detection and tracking, alignment, smoothing, retargeting, drawing."""

from common.regions import REGIONS, Region
from landmarks.align import Alignment, align_frame, transform_points
from landmarks.draw import DrawingParams, draw_landmarks
from landmarks.errors import InputError
from landmarks.retarget import retarget
from landmarks.smooth import OneEuroFilter
from landmarks.track import FaceTracker, TrackResult

__all__ = [
    "REGIONS",
    "Alignment",
    "DrawingParams",
    "FaceTracker",
    "InputError",
    "OneEuroFilter",
    "Region",
    "TrackResult",
    "align_frame",
    "draw_landmarks",
    "retarget",
    "transform_points",
]
