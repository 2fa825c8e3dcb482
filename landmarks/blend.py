"""Putting a face back into a frame: colour matching, a feathered hull mask, paste and blend.

The swap mode makes the target's face in the aligned crop of the user's camera frame; this module
puts it back. The face's region is the convex hull of its 68 points and of a band above the brows
(common.outline, as far as the bundle's decoder learned), shrunk a little (the jaw line's
background stays the camera's) and feathered inside, so the mask is exactly 0 on and
outside the shrunk hull: every pixel there stays as the camera gave it. All the work happens in the
face's bounding box, which at webcam size is a tenth of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from common.outline import face_outline
from common.regions import inter_ocular

BLEND_METHODS = ("alpha", "poisson")
Box = tuple[slice, slice]  # rows, columns of the frame


# The unsharp mask's Gaussian, in pixels of a 64 px crop (it scales with the crop): the decoder's
# blur is about a pixel wide at 64 px.
SHARPEN_SIGMA_AT_64 = 1.0
MAX_SHARPEN = 3.0


@dataclass(frozen=True)
class BlendParams:
    """How a face is blended back, lengths in inter-ocular distances (outer eye corners).

    `forehead`: the region is the hull of the 68 points and of the brows raised by this much
    (common.outline; a swap bundle says how far its decoder learned). `inset`: the hull is
    shrunk by this much before anything is pasted, so the background just outside the jaw line
    is never touched. `feather`: the soft edge's width, inside the shrunk hull (a Gaussian of
    this radius, its support cut there). `colour`: match the pasted face's LAB mean and spread to
    the user's skin. `method`: "alpha" (feathered alpha blend) or "poisson" (cv2.seamlessClone,
    then the same feathered edge).
    """

    method: str = "alpha"
    forehead: float = 0.0
    inset: float = 0.04
    feather: float = 0.12
    colour: bool = True
    max_gain: float = 2.0  # colour matching scales a channel's spread by at most this (or 1/this)
    sharpen: float = 0.0  # unsharp mask's amount on the model's face before it is blended

    def __post_init__(self) -> None:
        if self.method not in BLEND_METHODS:
            raise ValueError(f"blend method must be one of {BLEND_METHODS}, not {self.method!r}")
        if not 0 <= self.sharpen <= MAX_SHARPEN:
            raise ValueError(f"sharpen must be between 0 and {MAX_SHARPEN}, not {self.sharpen}")


def face_box(points: np.ndarray, shape: tuple[int, ...], margin: int = 2) -> Box | None:
    """The points' bounding box, `margin` pixels wider, clipped to the frame; None if empty."""
    h, w = shape[:2]
    lo = np.floor(points.min(0)).astype(int) - margin
    hi = np.ceil(points.max(0)).astype(int) + margin + 1
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), w), min(int(hi[1]), h)
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1)


def _box_origin(box: Box) -> np.ndarray:
    return np.array([box[1].start, box[0].start], np.float64)


def _fill_hull(points: np.ndarray, shape: tuple[int, int], origin: np.ndarray) -> np.ndarray:
    """uint8 mask (255 inside) of the convex hull of `points` − `origin`, at `shape`."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(points - origin).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_8)
    return mask


def crop_outline(matrix: np.ndarray, size: int) -> np.ndarray:
    """The crop's four corners in frame pixels: where a generated crop has any picture at all."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1]], np.float64)
    return corners @ inverse[:, :2].T + inverse[:, 2]


def feathered_mask(
    points: np.ndarray,
    shape: tuple[int, ...],
    params: BlendParams = BlendParams(),
    within: np.ndarray | None = None,
) -> tuple[Box, np.ndarray] | None:
    """The face's soft mask: (box, alpha) with float32 alpha in [0, 1] over frame[box].

    Alpha is 0 on and outside the outline's hull (common.outline, `params.forehead`) shrunk by
    `params.inset`, and also outside the polygon `within` (frame pixels; e.g. crop_outline, beyond
    which a crop has no picture); it rises to 1 over `params.feather` inside. None when the face
    is not in the frame.
    """
    outline = face_outline(points, params.forehead)
    box = face_box(outline, shape)
    if box is None:
        return None
    origin = _box_origin(box)
    size = (box[0].stop - box[0].start, box[1].stop - box[1].start)
    hard = _fill_hull(outline, size, origin)
    if within is not None:
        hard &= _fill_hull(within, size, origin)
    scale = inter_ocular(points)
    inset = max(1.0, params.inset * scale)
    radius = max(1, round(params.feather * scale / 2))  # the blur's half-width
    # Shrink by inset + the blur's reach (its square kernel reaches √2 · radius along a diagonal),
    # then blur: nothing spreads past the hull shrunk by inset. The distance transform is the
    # erosion by a disc, at any radius, in one pass.
    distance = cv2.distanceTransform(hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    core = (distance > inset + 1.5 * radius).astype(np.float32)
    alpha = cv2.GaussianBlur(core, (2 * radius + 1, 2 * radius + 1), radius / 2)
    alpha[alpha > 0.999] = 1.0  # the blur of ones is 1 ± rounding: the core is wholly the face
    alpha[distance <= inset] = 0.0  # the guarantee, whatever the blur's rounding
    return box, alpha


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def sharpen(face: np.ndarray, amount: float) -> np.ndarray:
    """An unsharp mask (faceswap's convert step "sharpen"): `face` plus `amount` times its
    difference from a Gaussian blur of it, uint8. It steepens the edges the face has; it adds
    none it lacks, and it raises the noise as much as the edges, which `amount` keeps in check."""
    if amount <= 0:
        return face
    sigma = SHARPEN_SIGMA_AT_64 * face.shape[0] / 64
    blurred = cv2.GaussianBlur(face, (0, 0), sigma)
    return cv2.addWeighted(face, 1.0 + amount, blurred, -amount, 0.0)


def match_colour(
    image: np.ndarray, reference: np.ndarray, mask: np.ndarray, max_gain: float = 2.0
) -> np.ndarray:
    """`image` (RGB uint8) recoloured so that its LAB mean and spread inside `mask` are the
    reference's there (Reinhard et al. 2001): the target's face takes on the user's light.

    Both images are the same size; `mask` (bool or 0/255) selects the skin both are measured on.
    Every pixel of `image` is changed the same way. Without mask pixels `image` comes back as is.
    """
    inside = np.asarray(mask) > 0
    if inside.sum() < 2:
        return image
    lab, ref = _to_lab(image), _to_lab(reference)
    src, dst = lab[inside], ref[inside]
    mean_s, mean_d = src.mean(0), dst.mean(0)
    gain = np.clip(dst.std(0) / np.maximum(src.std(0), 1e-3), 1 / max_gain, max_gain)
    out = (lab - mean_s) * gain + mean_d
    rgb = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def skin_mask(points: np.ndarray, size: int, shrink: float = 0.1) -> np.ndarray:
    """uint8 mask of a face's hull in a size × size crop, shrunk by `shrink` inter-ocular
    distances: the skin colour statistics come from, free of hair and background."""
    hull = _fill_hull(points, (size, size), np.zeros(2))
    distance = cv2.distanceTransform(hull, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(distance > shrink * inter_ocular(points), 255, 0).astype(np.uint8)


def warp_into_box(crop: np.ndarray, matrix: np.ndarray, box: Box) -> np.ndarray:
    """The crop put back where it came from, over frame[box]: `matrix` takes frame pixels to crop
    pixels (Alignment.matrix), so with WARP_INVERSE_MAP each box pixel samples the crop.

    Bicubic: the face is usually enlarged here (a 64 px crop over ~90 camera pixels), and a
    bilinear enlargement blurs it further. Measured with a model that returns its input (the
    ceiling of the crop and paste alone) on the astronaut clip: the inner face's sharpness vs the
    camera's is 0.46 bicubic against 0.35 bilinear at 64 px, 0.69 against 0.54 at 128 px."""
    shifted = matrix.astype(np.float64).copy()
    shifted[:, 2] += matrix[:, :2] @ _box_origin(box)
    h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
    return cv2.warpAffine(
        crop,
        shifted,
        (w, h),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def poisson_clone(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """cv2.seamlessClone of `source` into `target` (same size) where `mask` (bool) is set:
    the source's gradients, the target's colours at the mask's border. Same size out."""
    hard = np.where(mask, 255, 0).astype(np.uint8)
    # seamlessClone clears the mask's outermost pixels, then puts the mask's bounding box at
    # centre − (w // 2, h // 2): clearing them here too, this centre puts every pixel back.
    hard[[0, -1], :] = 0
    hard[:, [0, -1]] = 0
    x, y, w, h = cv2.boundingRect(hard)
    if w < 3 or h < 3:
        return target
    return cv2.seamlessClone(source, target, hard, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)


def alpha_blend(under: np.ndarray, over: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """under · (1 − alpha) + over · alpha, uint8; exactly `under` where alpha is 0."""
    a = alpha[..., None]
    mixed = under.astype(np.float32) * (1.0 - a) + over.astype(np.float32) * a
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def paste_face(
    frame: np.ndarray,
    crop: np.ndarray,
    matrix: np.ndarray,
    points: np.ndarray,
    params: BlendParams = BlendParams(),
) -> tuple[np.ndarray, Box | None, np.ndarray | None]:
    """`crop` (the aligned face, `matrix` taking frame to crop pixels) blended into a copy of
    `frame` inside the face's feathered hull (`points`, frame pixels); colours as they come.

    Returns (the new frame, the box worked in, the alpha over it); the frame is unchanged where
    alpha is 0, and wholly so (box and alpha None) when the face is outside the frame.
    """
    out = frame.copy()
    found = feathered_mask(points, frame.shape, params, crop_outline(matrix, crop.shape[0]))
    if found is None:
        return out, None, None
    box, alpha = found
    under = frame[box]
    over = warp_into_box(crop, matrix, box)
    if params.method == "poisson":
        over = poisson_clone(over, np.ascontiguousarray(under), alpha > 0)
    out[box] = alpha_blend(under, over, alpha)
    return out, box, alpha


def gradient_magnitude(rgb: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the grey image, float32."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def seam_gradients(image: np.ndarray, alpha: np.ndarray) -> tuple[float, float] | None:
    """Where a blend's edge would show in `image` (the box the alpha covers): the mean gradient
    magnitude on the mask's border ring (0 < alpha < 1, where the two pictures mix) and on a ring
    as wide just inside it (alpha 1). None without both rings."""
    ring = (alpha > 0) & (alpha < 1)
    full = np.where(alpha >= 1, 255, 0).astype(np.uint8)
    if not ring.any() or not full.any():
        return None
    width = max(1.0, float(ring.sum()) / max(1.0, _perimeter(full)))
    distance = cv2.distanceTransform(full, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    inside = (distance > 0) & (distance <= width)
    if not inside.any():
        return None
    grad = gradient_magnitude(image)
    return float(grad[ring].mean()), float(grad[inside].mean())


def seam_contrast(image: np.ndarray, alpha: np.ndarray) -> float | None:
    """How much the blend's edge stands out: the border ring's gradient ÷ that just inside it
    (seam_gradients). A hard paste makes it large; compare with the camera frame's own figure,
    whose jaw line is an edge too. None without both rings."""
    found = seam_gradients(image, alpha)
    return None if found is None else found[0] / max(found[1], 1e-6)


def _perimeter(mask: np.ndarray) -> float:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return float(sum(cv2.arcLength(c, True) for c in contours))
