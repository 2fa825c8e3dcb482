"""Measures of generated faces, shared by `evaluate` (held-out pairs) and `evaluate --driver`.

The landmark stage and dlib's identity network run on single images (FaceMeasures), and the small
statistics both reports are made of: expression error, correlation, frame-to-frame change, and the
inner face's sharpness.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from common.regions import inter_ocular
from landmarks import FaceTracker
from landmarks.identity import FaceDescriptor
from landmarks.retarget import EXPRESSION_FEATURES, eye_openness, mouth_opening

# The HOG detector wants faces of 80 px and up: small outputs are enlarged before they are measured.
MEASURE_SIZE = 256
# The inner face, where sharpness is measured: the hull of the brows, nose, eyes and mouth (points
# 17-67, not the jaw line), shrunk by this many inter-ocular distances so that neither the jaw nor a
# swap's feathered edge is counted. With the forehead band (landmarks.blend, default inset and
# feather) 0.2 % of the region lies in the feather on the sample; a hull-only swap's edge runs along
# the brows, and 14 % does there (shrunk by 0.15: 7 %).
INNER_FACE = slice(17, 68)
INNER_FACE_SHRINK = 0.1


class FaceMeasures:
    """The landmark stage and the identity network, run on single images."""

    def __init__(self) -> None:
        self.tracker = FaceTracker(upsample=1)
        self.descriptor = FaceDescriptor()

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(points, descriptor) of the face in `rgb`, in `rgb`'s pixels; Nones without a face."""
        scale = MEASURE_SIZE / rgb.shape[0]
        big = (
            cv2.resize(rgb, (MEASURE_SIZE, MEASURE_SIZE), interpolation=cv2.INTER_CUBIC)
            if scale != 1
            else rgb
        )
        # Each image on its own: a track would carry a face into an image without one.
        self.tracker.reset()
        found = self.tracker(cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        if not found.found:
            return None, None
        return found.points / scale, self.descriptor(big, found.points)


def nme(found: np.ndarray, expected: np.ndarray) -> float:
    """Mean point error of `found` against `expected`, ÷ the expected face's eye distance."""
    return float(np.linalg.norm(found - expected, axis=-1).mean() / inter_ocular(expected))


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Their correlation; None with fewer than three values or either one constant."""
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def change(images: list[np.ndarray]) -> float:
    """Mean absolute change from each image to the next (NaN for fewer than two)."""
    if len(images) < 2:
        return math.nan
    stack = np.stack(images).astype(np.float32)
    return float(np.abs(np.diff(stack, axis=0)).mean())


def frame_changes(images: list[np.ndarray]) -> list[float]:
    """Mean absolute change from the image before to each image, one value per pair (one pair at
    a time: a long clip's stack in float32 would take gigabytes)."""
    return [
        float(np.abs(b.astype(np.float32) - a.astype(np.float32)).mean())
        for a, b in zip(images, images[1:], strict=False)
    ]


def _listed(values: np.ndarray | list) -> list[float | None]:
    """For JSON: six significant digits, None where there is no value."""
    return [None if v is None or math.isnan(v) else float(f"{v:.6g}") for v in values]


def expression(driver: np.ndarray, output: np.ndarray, whole: np.ndarray) -> dict[str, dict]:
    """How the output follows the driver, feature by feature (EXPRESSION_FEATURES, each ÷
    inter-ocular distance): the correlation over the frames where both have points (`driver`,
    `output`), and how much the driver moved over the whole clip (`whole`: every frame with a
    face) and the output over its frames: standard deviations. A correlation means little where
    the driver barely moves: cap12's calm tail (mouth sd 0.008 eye distances) gave noise either
    way; where he talks, 0.08."""
    driver, output, whole = (
        np.asarray(p, np.float64).reshape(-1, 68, 2) for p in (driver, output, whole)
    )
    result: dict[str, dict] = {"correlation": {}, "sd_driver": {}, "sd_output": {}}
    for name, fn in EXPRESSION_FEATURES.items():
        result["correlation"][name] = pearson(fn(driver), fn(output))
        result["sd_driver"][name] = float(fn(whole).std()) if len(whole) else None
        result["sd_output"][name] = float(fn(output).std()) if len(output) else None
    return result


def frame_series(
    frames: list[int],
    driver: list[np.ndarray],
    output: list[np.ndarray | None],
    driver_images: list[np.ndarray],
    output_images: list[np.ndarray],
) -> dict:
    """evaluate --driver's values frame by frame, for its plot and its JSON: the video's frame
    numbers; mouth opening and eye openness (÷ inter-ocular distance) of the driver's points and of
    those found on the output (None where no face was found there); and the mean absolute change
    of the driver's image and of the output's since the frame before (None for the first)."""
    shapes = np.asarray(driver, np.float64).reshape(-1, 68, 2)
    found = [i for i, p in enumerate(output) if p is not None]
    series: dict = {"frame": [int(f) for f in frames]}
    for key, fn in (("mouth_opening", mouth_opening), ("eye_openness", eye_openness)):
        out = np.full(len(output), np.nan)
        if found:
            out[found] = fn(np.asarray([output[i] for i in found], np.float64))
        series[key] = {"driver": _listed(fn(shapes)), "output": _listed(out)}
    series["change"] = {
        who: [None, *_listed(frame_changes(images))] if images else []
        for who, images in (("driver", driver_images), ("output", output_images))
    }
    return series


def inner_face_mask(
    points: np.ndarray, shape: tuple[int, ...], shrink: float = INNER_FACE_SHRINK
) -> np.ndarray:
    """Boolean mask at `shape` of the inner face (INNER_FACE's hull) of the 68 `points`, shrunk by
    `shrink` inter-ocular distances."""
    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(points[INNER_FACE]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    # The distance to the nearest pixel outside the hull: the image's border counts as outside.
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    return distance > shrink * inter_ocular(points)


def laplacian_variance(rgb: np.ndarray, mask: np.ndarray) -> float | None:
    """Variance (float64) of the grey image's 3×3 Laplacian over `mask`: how much fine detail the
    region holds (blur lowers it, a brightness offset leaves it); None for an empty mask."""
    if not mask.any():
        return None
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.var(cv2.Laplacian(grey, cv2.CV_32F, ksize=1)[mask], dtype=np.float64))


def face_sharpness(rgb: np.ndarray, points: np.ndarray) -> float | None:
    """laplacian_variance of uint8 RGB `rgb` over the inner face of its 68 `points` (in `rgb`'s
    pixels); None when the shrunk region is empty."""
    return laplacian_variance(rgb, inner_face_mask(points, rgb.shape))


def sharpness_ratio(
    outputs: list[np.ndarray], cameras: list[np.ndarray], points: list[np.ndarray]
) -> dict[str, float | None]:
    """The output's inner face against the camera's, each pair measured over the same region (the
    camera's points): the medians over frames of the output's Laplacian variance, the camera's, and
    of the per-frame ratio output ÷ camera (a median of ratios: a frame or two of motion blur in the
    camera moves it little). Below 1: the output is blurrier than the camera. The variance itself
    depends on the scale the images are at (evaluate --driver: head crops at MEASURE_SIZE), so
    only the ratio compares across videos."""
    pairs = [
        (face_sharpness(out, p), face_sharpness(cam, p))
        for out, cam, p in zip(outputs, cameras, points, strict=True)
    ]
    kept = np.array([(o, c) for o, c in pairs if o is not None and c], np.float64).reshape(-1, 2)
    if not len(kept):
        return {"output": None, "camera": None, "ratio": None}
    return {
        "output": float(np.median(kept[:, 0])),
        "camera": float(np.median(kept[:, 1])),
        "ratio": float(np.median(kept[:, 0] / kept[:, 1])),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a ÷ b; None when either is missing or NaN, or b is zero."""
    return None if a is None or not b or math.isnan(a) or math.isnan(b) else a / b


def mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def finite(value: float) -> float | None:
    """None for NaN: reports say "no figure" rather than carry a NaN into JSON."""
    return None if math.isnan(value) else value
