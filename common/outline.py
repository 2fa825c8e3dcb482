"""The region a face swap replaces: the 68 points' hull and a band of forehead above the brows.

dlib's 68 points stop at the brows, and the brows and the skin just above them are much of what
makes a face someone's (dlib's identity network weighs them). A swap that keeps the user's brows
keeps the user: on the demo, pasting the hull alone left the output 0.71 from the target, with
the band 0.5 (README, face swap). The trainer's loss mask (gan.faces.data) and the blend's mask
(landmarks.blend) both use this outline, so the decoder learns every pixel the blend shows.
"""

from __future__ import annotations

import numpy as np

FOREHEAD = 0.25  # the band's height above the brows, in inter-ocular distances (outer corners)
BROWS = slice(17, 27)
EYES = slice(36, 48)
MOUTH = slice(48, 68)


def face_outline(points: np.ndarray, forehead: float = FOREHEAD) -> np.ndarray:
    """The 68 points followed by the 10 brow points raised by `forehead` inter-ocular distances
    along the face's own up (from the mouth to the eyes, so a tilted head gets a tilted band);
    the 68 points alone when `forehead` is 0. Its convex hull is the swapped region."""
    p = np.asarray(points, np.float64)
    if forehead <= 0:
        return p
    up = p[EYES].mean(axis=0) - p[MOUTH].mean(axis=0)
    length = float(np.hypot(*up))
    if length < 1e-6:
        return p
    iod = float(np.hypot(*(p[36] - p[45])))
    return np.concatenate([p, p[BROWS] + up * (forehead * iod / length)])
