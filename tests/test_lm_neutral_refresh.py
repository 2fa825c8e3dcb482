"""The neutral estimate is refreshed on a schedule (not every frame) and still follows the face."""

from __future__ import annotations

import numpy as np

from common.regions import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from landmarks.retarget import LIP_TOP, MOUTH_POINTS, NeutralEstimator, neutral_shape


def talking(rest: np.ndarray, openings: np.ndarray) -> list[np.ndarray]:
    """The rest shape with the inner lips' bottom middle dropped by each opening (÷ IOD 100)."""
    shapes = []
    for m in openings:
        s = rest.copy()
        s[LIP_TOP + 4, 1] = s[LIP_TOP, 1] + 100 * m
        shapes.append(s)
    return shapes


def rest_shape(seed: int) -> np.ndarray:
    """A (68, 2) shape of its own, the outer eye corners 100 apart, the mouth shut."""
    s = np.random.default_rng(seed).uniform(-60, 60, (68, 2)).astype(np.float32)
    s[RIGHT_EYE_OUTER], s[LEFT_EYE_OUTER] = (-50, -20), (50, -20)
    s[LIP_TOP + 4] = s[LIP_TOP]
    return s


def openings(n: int, seed: int = 0) -> np.ndarray:
    """A talking mouth: shut now and then, open most of the time."""
    return np.random.default_rng(seed).choice([0.0, 0.2, 0.35, 0.5], n, p=[0.15, 0.3, 0.3, 0.25])


def test_the_estimate_is_refreshed_every_frame_at_first_then_on_schedule():
    est = NeutralEstimator(window=300, refresh_every=10, warmup=30)
    shapes = talking(rest_shape(0), openings(200))
    first = est.update(shapes[0])
    np.testing.assert_array_equal(first, shapes[0])  # the first face has an estimate at once
    for s in shapes[1:30]:
        est.update(s)
    assert est.refreshes == 30  # the first second: every frame
    held = est.neutral
    for s in shapes[30:39]:
        assert est.update(s) is held  # between refreshes the estimate is held, not recomputed
    assert est.refreshes == 30
    fresh = est.update(shapes[39])  # the 40th shape: 10 after the first second
    assert est.refreshes == 31 and fresh is not held
    np.testing.assert_array_equal(fresh, neutral_shape(np.stack(shapes[:40])))
    for s in shapes[40:200]:
        est.update(s)
    assert est.refreshes == 30 + (200 - 30) // 10
    est.reset()
    for s in shapes[:5]:
        est.update(s)
    assert est.refreshes == 5  # after a reset the first frames refresh again


def test_a_short_window_refreshes_every_frame_until_it_is_full():
    est = NeutralEstimator(window=10, refresh_every=10, warmup=30)
    for s in talking(rest_shape(0), openings(30)):
        est.update(s)
    assert est.refreshes == 10 + 2


def test_the_held_estimate_follows_a_changed_rest_face():
    """Ten seconds of one rest face, then another (a new driver): the estimate moves over, and on
    every frame it is the estimate of the window as it was at most refresh_every frames ago."""
    every = 10
    before, after = rest_shape(1), rest_shape(2)
    shapes = talking(before, openings(300, 1)) + talking(after, openings(300, 2))
    est, recent = NeutralEstimator(window=300, refresh_every=every), []
    for i, s in enumerate(shapes):
        out = est.update(s)
        window = np.stack(shapes[max(0, i + 1 - 300) : i + 1])
        recent = [*recent[-(every - 1) :], neutral_shape(window)]
        assert any(np.array_equal(out, r) for r in recent), i
        if i == 300 + 160:  # past half the window: the median has moved to the new face
            face = [p for p in range(68) if p not in MOUTH_POINTS]
            np.testing.assert_allclose(out[face], after[face], atol=1e-5)
    np.testing.assert_allclose(est.neutral, after, atol=1e-3)  # the mouth at rest: shut
