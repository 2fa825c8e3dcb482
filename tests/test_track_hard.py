"""The tracker on hard copies of the sample: rolled heads, a small distant face, a second face."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.regions import inter_ocular
from landmarks import FaceTracker
from landmarks.dataset import MANIFEST, DatasetConfig, build_dataset

CLIP = 40  # frames per copy: enough for a share, short enough for a 2-core CI


def at_least(share: float, n: int) -> int:
    return math.ceil(share * n)


def rotate(frame: np.ndarray, degrees: float) -> np.ndarray:
    h, w = frame.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def small_in_big(frame: np.ndarray) -> np.ndarray:
    """The sample at 320×240 in a 1280×960 frame: a face the 512-px detection pass cannot see."""
    canvas = np.full((960, 1280, 3), 90, np.uint8)
    canvas[600:840, 200:520] = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    return canvas


def write_video(frames: list[np.ndarray], path: Path) -> str:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return str(path)


def build(frames: list[np.ndarray], tmp_path: Path) -> dict:
    video = write_video(frames, tmp_path / "clip.mp4")
    out = tmp_path / "ds"
    build_dataset(DatasetConfig(inputs=[video], output=str(out), size=64), progress=False)
    return json.loads((out / MANIFEST).read_text())


@pytest.fixture(scope="module")
def upright(sample_frames) -> list[np.ndarray]:
    """The points of the first frames, upright: what a rolled copy's points must turn back to."""
    tracker = FaceTracker()
    results = [tracker(f) for f in sample_frames[:CLIP]]
    assert all(r.found for r in results)
    return [r.points for r in results]


@pytest.mark.parametrize("degrees", [20, -40, 40])
def test_a_rolled_head_is_tracked_and_its_points_turn_back(sample_frames, upright, degrees):
    tracker = FaceTracker()
    results = [tracker(rotate(f, degrees)) for f in sample_frames[:CLIP]]
    assert sum(r.found for r in results) >= at_least(0.98, CLIP)
    h, w = sample_frames[0].shape[:2]
    back = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)
    errors = [
        np.linalg.norm(r.points @ back[:, :2].T + back[:, 2] - p, axis=1).mean() / inter_ocular(p)
        for r, p in zip(results, upright, strict=True)
        if r.found
    ]
    assert np.mean(errors) < 0.1  # the points land on the face, mapped back into the frame


def test_the_upright_detector_alone_misses_the_40_degree_copy(sample_frames):
    # The copy is hard: without the rotated search no frame has a face.
    tracker = FaceTracker(rolls=())
    assert not any(tracker(rotate(f, 40)).found for f in sample_frames[:10])


def test_make_dataset_keeps_the_frames_of_a_rolled_copy(sample_frames, tmp_path):
    manifest = build([rotate(f, 40) for f in sample_frames[:CLIP]], tmp_path)
    counts = manifest["counts"]
    assert counts["train"] + counts["val"] >= at_least(0.98, CLIP), counts


def test_a_small_face_in_a_big_frame_is_found_at_a_finer_scale(sample_frames):
    clip = [small_in_big(f) for f in sample_frames[:CLIP]]
    first = FaceTracker()(clip[0])
    assert first.found and first.fallback == "fine"
    assert not FaceTracker(min_face=0)(clip[0]).found  # the coarse pass alone sees nothing
    tracker = FaceTracker()
    found = [tracker(f) for f in clip]
    assert sum(r.found for r in found) >= at_least(0.98, CLIP)
    xs = np.array([r.points[:, 0].mean() for r in found if r.found])
    assert ((xs > 200) & (xs < 520)).all()  # on the pasted face


class CountingDetector:
    def __init__(self, detector) -> None:
        self.detector, self.calls = detector, 0

    def __call__(self, image, upsample):
        self.calls += 1
        return self.detector(image, upsample)


def test_fallbacks_are_rate_limited_on_a_faceless_feed(sample_frames):
    faceless = [f[::-1] for f in sample_frames[:60]]  # upside down: texture, but no face
    calls = {}
    for every in (1, 15):
        tracker = FaceTracker(fallback_every=every)
        tracker._detector = counter = CountingDetector(tracker._detector)
        assert not any(tracker(f).found for f in faceless)
        calls[every] = counter.calls
    # Every frame: upright + 4 rolls (the sample is small, no finer pass). Rate-limited: the
    # upright pass on every frame, the rolls on the first frames and then one frame in 15.
    assert calls[1] == 5 * 60
    assert calls[15] < 2 * 60


def test_make_dataset_keeps_the_frames_with_a_second_face(sample_frames, tmp_path):
    frames = [np.hstack([f, f[:, ::-1]]) for f in sample_frames[:CLIP]]
    manifest = build(frames, tmp_path)
    counts = manifest["counts"]
    assert counts["train"] + counts["val"] >= at_least(0.98, CLIP), counts
    assert counts["several_faces_seen"] > 0  # the second face was seen, and not a reason to skip
    assert "several_faces" not in counts["skipped"]


def test_live_tracker_keeps_its_face_until_it_leaves(sample_frames):
    tracker = FaceTracker(check_every=2)
    pair = [np.hstack([f, f[:, ::-1]]) for f in sample_frames[:CLIP]]
    first = tracker(pair[0])
    side = first.points[:, 0].mean() > 176  # whichever face it took, it keeps
    xs = [tracker(f).points[:, 0].mean() for f in pair[1:20]]
    assert all((x > 176) == side for x in xs)
    # The followed face leaves (its half goes grey): the tracker moves to the other one.
    gone = []
    for f in pair[20:]:
        f = f.copy()
        f[:, slice(176, 352) if side else slice(0, 176)] = 127
        gone.append(tracker(f))
    assert gone[-1].found and (gone[-1].points[:, 0].mean() > 176) != side
