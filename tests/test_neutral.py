"""The driver's neutral face without a staged pose: synthetic talking mouths, then the sample."""

from __future__ import annotations

import cv2
import numpy as np

from landmarks.retarget import (
    LIP_TOP,
    NeutralEstimator,
    brow_raise,
    eye_openness,
    mouth_opening,
    retarget,
)


def face(mouth: float, eyes: float = 0.25) -> np.ndarray:
    """A schematic (68, 2) face, inter-ocular distance 100, mouth and eyes open as asked (÷ IOD)."""
    pts = np.zeros((68, 2), np.float32)
    pts[:17] = np.stack([np.linspace(-70, 70, 17), 40 + 60 * np.sin(np.linspace(0, np.pi, 17))], 1)
    pts[17:27] = np.stack([np.r_[np.linspace(-60, -15, 5), np.linspace(15, 60, 5)], [-45] * 10], 1)
    pts[27:36] = np.stack(
        [np.r_[[0] * 4, np.linspace(-15, 15, 5)], np.r_[-20, -5, 10, 25, [30] * 5]], 1
    )
    for start, (x0, x1) in ((36, (-50, -20)), (42, (20, 50))):
        xs = np.linspace(x0, x1, 4)
        half = 100 * eyes / 2
        pts[start : start + 6] = [
            (xs[0], -20), (xs[1], -20 - half), (xs[2], -20 - half),
            (xs[3], -20), (xs[2], -20 + half), (xs[1], -20 + half),
        ]  # fmt: skip
    pts[36, 0], pts[45, 0] = -50, 50  # outer corners: inter-ocular distance 100
    lips = np.linspace(-25, 25, 7)
    pts[48:55] = np.stack([lips, [50] * 7], 1)
    pts[55:60] = np.stack([lips[5:0:-1], [62] * 5], 1)
    pts[60:64] = np.stack([lips[[0, 2, 3, 4]], [52] * 4], 1)
    pts[64:68] = np.stack([lips[[6, 4, 3, 2]], [52] * 4], 1)
    pts[66, 1] = pts[LIP_TOP, 1] + 100 * mouth  # the bottom middle of the inner lips drops
    return pts


def test_expression_features_measure_what_they_name():
    f = face(mouth=0.3, eyes=0.2)
    assert abs(mouth_opening(f) - 0.3) < 1e-6
    assert abs(eye_openness(f) - 0.2) < 1e-6
    raised = f.copy()
    raised[17:27, 1] -= 10
    assert abs(brow_raise(raised) - brow_raise(f) - 0.1) < 1e-3
    # Vectorised: a sequence in, a sequence out.
    assert mouth_opening(np.stack([face(0.1), face(0.4)])).round(6).tolist() == [0.1, 0.4]


def test_a_clip_that_starts_mid_sentence_keeps_the_mouths_opening():
    rng = np.random.default_rng(0)
    # One second wide open, then talking: open most of the time, shut now and then (m, b, p).
    openings = np.r_[
        np.full(30, 0.5), rng.choice([0.0, 0.2, 0.35, 0.5], 120, p=[0.15, 0.3, 0.3, 0.25])
    ]
    shapes = [face(m) for m in openings]
    first_second = np.mean(shapes[:30], axis=0)  # the old neutral: a wide-open mouth
    est = NeutralEstimator()
    for s in shapes:
        neutral = est.update(s)
    assert abs(mouth_opening(neutral)) < 0.02  # rest is a shut mouth
    assert abs(eye_openness(neutral) - 0.25) < 1e-6  # eyes as they are
    wide = face(0.5)
    # Retargeted onto a shut reference, the driver's widest mouth opens the target by as much;
    # the first-second neutral would have kept it shut.
    ref = face(0.0)
    assert abs(mouth_opening(retarget(wide, neutral, ref)) - 0.5) < 0.02
    assert abs(mouth_opening(retarget(wide, first_second, ref))) < 0.02


def test_the_estimate_starts_from_the_first_face_and_forgets_on_reset():
    est = NeutralEstimator(window=10)
    np.testing.assert_array_equal(est.update(face(0.4)), face(0.4))
    for _ in range(10):
        est.update(face(0.0))
    assert abs(mouth_opening(est.neutral)) < 1e-6  # the open first frame has left the window
    est.reset()
    assert est.neutral is None and len(est) == 0


def test_on_the_sample_started_mid_sentence_the_neutral_mouth_is_shut(sample_video):
    """The sample from frame 30 on: the old first-second mean against the robust estimate."""
    from landmarks import Alignment, FaceTracker, transform_points

    cap, tracker, shapes = cv2.VideoCapture(str(sample_video)), FaceTracker(), []
    alignment = Alignment()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        points = tracker(frame).points
        if points is not None:
            shapes.append(transform_points(points, alignment.matrix(points, 256, frame.shape)))
    talk = np.stack(shapes[30:])
    est = NeutralEstimator()
    for s in talk:
        est.update(s)
    openings = mouth_opening(talk)
    first_second = mouth_opening(talk[:30].mean(axis=0))
    robust = mouth_opening(est.neutral)
    assert first_second > np.percentile(openings, 40)  # the clip's first second is mid-word
    assert robust <= np.percentile(openings, 15)  # the estimate is the mouth at rest
    # Relative to the robust neutral the driver's mouth opens by most of its full range.
    assert openings.max() - robust > 0.8 * np.ptp(openings)


def test_eyes_shut_since_the_start_are_not_taken_as_rest():
    # The woman's first four seconds: eyes shut (0.02 eye distances), then open (0.10), blinking.
    estimator = NeutralEstimator(window=300)
    for _ in range(100):
        neutral = estimator.update(face(0.0, eyes=0.02))
    assert not estimator.eyes_seen_open  # nothing says how her eyes look at rest yet
    for i in range(60):
        neutral = estimator.update(face(0.0, eyes=0.03 if i % 20 == 5 else 0.10))
    assert estimator.eyes_seen_open
    # 100 shut frames of 160 are the median; the open ones are the rest.
    assert abs(eye_openness(neutral) - 0.10) < 1e-3
    assert abs(mouth_opening(neutral)) < 1e-6


def test_a_blink_never_moves_the_eyes_neutral():
    estimator = NeutralEstimator(window=300, warmup=300)
    for i in range(200):
        neutral = estimator.update(face(0.1, eyes=0.04 if i % 40 < 3 else 0.11))
    assert abs(eye_openness(neutral) - 0.11) < 1e-3


def test_the_target_blinks_as_deep_as_the_driver_whatever_their_eyes_sizes():
    target = face(0.0, eyes=0.14)  # wide eyes
    neutral = face(0.0, eyes=0.08)  # a narrow-eyed driver at rest
    for shut in (1.0, 0.5, 0.0):  # open, half shut, shut
        out = retarget(face(0.0, eyes=0.08 * shut), neutral, target)
        assert abs(eye_openness(out) - 0.14 * shut) < 1e-4
    wide = retarget(face(0.0, eyes=0.8), neutral, target)  # a dlib outlier: bounded
    assert eye_openness(wide) <= 0.14 * 1.6 + 1e-4
