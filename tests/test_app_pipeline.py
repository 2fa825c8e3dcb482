"""The live pipeline on the real sample video, tiny model: threads, drops, timings, held output."""

from __future__ import annotations

import threading
import time
import weakref

import cv2
import numpy as np
import pytest

import app.pipeline
import app.sources
from app.face import FaceStage, GeneratorStage, ModelSpec
from app.model import load_model
from app.pipeline import Closed, Frame, Mailbox, Pipeline, run_sequential
from app.sources import CameraSource, MemorySource, VideoSource

# Seconds after which a wait is a hang, never a measurement: no test asserts how long work took.
HANG_GUARD = 120


@pytest.fixture(scope="module")
def bundle(tiny_model):
    return load_model(tiny_model)


@pytest.fixture(scope="module")
def sample_frames(sample_video) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(sample_video))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            return frames
        frames.append(f)


def stages(bundle, **kw):
    return [
        ("landmarks", FaceStage(ModelSpec.from_bundle(bundle), **kw)),
        ("generator", GeneratorStage(bundle)),
    ]


def mirror_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("mirror-")]


def test_mailbox_keeps_only_the_newest_item():
    box: Mailbox[int] = Mailbox()
    for i in range(5):
        box.put(i)  # never blocks
    assert box.get(0) == 4 and box.dropped == 4 and len(box) == 0
    assert box.get(0.01) is None
    box.put(7)
    box.close()
    assert box.get(0) == 7  # what was sent before closing still arrives
    with pytest.raises(Closed):
        box.get(0)


def test_pipeline_runs_the_sample_end_to_end(bundle, sample_video):
    shown: list[Frame] = []
    source = VideoSource(str(sample_video), paced=False)
    pipe = Pipeline(source, stages(bundle), [shown.append], back_pressure=True).start()
    assert pipe.wait(HANG_GUARD), "the pipeline did not finish the clip"
    assert pipe.stop(HANG_GUARD) and not mirror_threads()  # stop() returns, no thread is left
    stats = pipe.stats()
    # With back-pressure every stage waits for the next one: all frames arrive, none dropped.
    assert stats["frames_in"] == stats["frames_out"] == len(shown) == 120
    assert sum(stats["dropped"].values()) == 0 and [f.index for f in shown] == list(range(120))
    assert stats["faces"] >= 110
    for f in shown:
        assert (
            f.drawing.shape == (64, 64, 3)
            and f.generated.shape == (64, 64, 3)
            and f.generated.dtype == np.uint8
        )
        assert f.drawing.max() > 200  # white lines
    # Timings for every stage, and latency measured at the sink.
    assert set(stats["stage_ms"]) == {"source", "landmarks", "generator", "sinks"}
    for name, s in stats["stage_ms"].items():
        assert np.isfinite(s["mean"]) and s["p95"] >= s["p50"] >= 0, name
    assert set(shown[-1].ms) == {"source", "landmarks", "generator", "sinks"}
    latency = stats["latency_ms"]
    assert np.isfinite(latency["p95"]) and 0 < latency["p50"] <= latency["p95"]
    assert stats["fps"] > 0


class TrackedFrame(Frame):
    alive: weakref.WeakSet = weakref.WeakSet()

    def __post_init__(self) -> None:
        TrackedFrame.alive.add(self)


def until(condition, what: str) -> None:
    """Wait for `condition`; the deadline is a hang guard, not a bound on how long it may take."""
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"hung waiting for {what}"
        time.sleep(0.002)


def test_a_slow_sink_drops_frames_instead_of_queueing_them(bundle, sample_video, monkeypatch):
    """The sink is slow in frames, not in seconds: each call is held until the generator has
    made three more frames. A frame then waits for at most one sink call, and the sink is given
    the newest frame made, not the oldest of a queue."""
    monkeypatch.setattr(app.pipeline, "Frame", TrackedFrame)
    made: list[int] = []  # frame indices in the order the generator finished them
    handed: dict[int, int] = {}  # frame index -> sink calls finished when the generator let it go
    finished_calls = [0]
    waited: list[int] = []  # per shown frame: sink calls that ended while it waited for the sink
    newer: list[int] = []  # per shown frame: frames the generator finished after it, meanwhile
    shown: list[int] = []
    release = threading.Semaphore(0)
    generator = GeneratorStage(bundle)

    def generate(frame: Frame) -> Frame:
        frame = generator(frame)
        handed[frame.index] = finished_calls[0]
        made.append(frame.index)
        return frame

    def slow_sink(frame: Frame) -> None:
        waited.append(finished_calls[0] - handed[frame.index])
        newer.append(len(made) - 1 - made.index(frame.index))
        assert release.acquire(timeout=HANG_GUARD), "never released"
        shown.append(frame.index)  # indices only: holding frames would defeat the memory check
        finished_calls[0] += 1

    face = FaceStage(ModelSpec.from_bundle(bundle))
    source = VideoSource(str(sample_video), paced=True, loop=True)
    pipe = Pipeline(source, [("landmarks", face), ("generator", generate)], [slow_sink]).start()
    most_alive = 0

    def sampled(condition) -> bool:
        nonlocal most_alive
        most_alive = max(most_alive, len(TrackedFrame.alive))
        return condition()

    for call in range(10):
        before = len(made)
        until(lambda n=before: sampled(lambda: len(made) >= n + 3), "three more frames")
        release.release()
        until(lambda n=call: sampled(lambda: len(shown) > n), "the sink call to end")
    stats = pipe.stats()
    for _ in range(100):
        release.release()  # nothing holds the sink any more: stop() must not wait on it
    assert pipe.stop(HANG_GUARD)
    assert stats["dropped"]["to sinks"] > 0
    # Memory stays bounded: at most one frame per mailbox and one per thread exist at a time.
    assert most_alive <= 2 * len(pipe.mailboxes) + 1, most_alive
    assert (
        stats["frames_in"] - stats["frames_out"] - sum(stats["dropped"].values())
        <= len(pipe.mailboxes) + 1
    )
    # Latency stays bounded too: a frame waits for at most one slow sink call, not a queue of them,
    # and what the sink gets is the newest frame made (one more may slip in as it is taken).
    assert max(waited) <= 1, waited
    assert max(newer) <= 2, newer
    assert shown == sorted(shown) and len(shown) >= 8


def test_frames_without_a_face_hold_the_last_output(bundle, sample_frames):
    blank = np.full_like(sample_frames[0], 90)
    clip = [blank] * 5 + sample_frames[:30] + [blank] * 20 + sample_frames[30:50]
    shown: list[Frame] = []
    source = MemorySource(clip, fps=30, loop=False, paced=False)
    stats = run_sequential(source, stages(bundle), [shown.append])
    assert stats["frames_out"] == len(clip)
    # Before the first face there is nothing to hold.
    assert all(not f.face and f.generated is None and f.drawing is None for f in shown[:5])
    held = None
    no_face_after_a_face = 0
    for f in shown[5:]:
        if f.face:
            held = (f.drawing, f.generated)
        else:
            no_face_after_a_face += 1
            assert np.array_equal(f.generated, held[1]) and np.array_equal(f.drawing, held[0])
    assert no_face_after_a_face >= 12  # the tracker notices the face is gone within a few frames
    assert all(f.face for f in shown[-10:])  # and finds it again


def test_no_retarget_draws_the_drivers_own_points(bundle, sample_frames):
    face = FaceStage(ModelSpec.from_bundle(bundle), smoothing=0.0, retarget=False)
    f = face(Frame(0, 0.0, sample_frames[0]))
    spec = face.spec
    own = spec.alignment.matrix(f.points, spec.size, f.image.shape)
    from landmarks import draw_landmarks, transform_points

    assert np.array_equal(
        f.drawing, draw_landmarks(transform_points(f.points, own), spec.size, spec.drawing)
    )
    retargeting = FaceStage(ModelSpec.from_bundle(bundle), smoothing=0.0, retarget="on")
    first = retargeting(Frame(0, 0.0, sample_frames[0]))
    # The first frame is its own neutral: the drawing is the target's neutral shape exactly.
    assert spec.neutral_shape is not None
    assert np.array_equal(
        first.drawing, draw_landmarks(spec.neutral_shape, spec.size, spec.drawing)
    )
    assert retargeting.calibrating
    retargeting(Frame(1, 1.5, sample_frames[1]))
    assert not retargeting.calibrating
    retargeting.calibrate()
    assert retargeting.calibrating


class FlakyCamera:
    """Stands in for a webcam: unavailable at first, then frames from the sample, then unplugged."""

    opened = 0

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames
        self.i = 0
        FlakyCamera.opened += 1
        self.ok = FlakyCamera.opened >= 2  # the first attempt finds no camera

    def isOpened(self) -> bool:  # noqa: N802 (cv2's name)
        return self.ok

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def read(self):
        if FlakyCamera.opened == 2 and self.i >= 10:
            return False, None  # unplugged after ten frames
        self.i += 1
        return True, self.frames[self.i % len(self.frames)]

    def release(self) -> None:
        pass


def test_a_missing_or_unplugged_camera_is_retried(bundle, sample_frames, monkeypatch):
    monkeypatch.setattr(app.sources, "RETRY_SECONDS", 0.1)
    FlakyCamera.opened = 0
    camera = CameraSource(0, opener=lambda index: FlakyCamera(sample_frames))
    statuses = set()
    pipe = Pipeline(camera, stages(bundle), [lambda f: None]).start()
    deadline = time.monotonic() + HANG_GUARD  # a hang guard: the loop ends when done
    while time.monotonic() < deadline and (FlakyCamera.opened < 3 or pipe.timings.frames_out < 15):
        statuses.add(camera.status)
        time.sleep(0.005)
    assert pipe.stop(HANG_GUARD)
    assert "camera 0 unavailable, retrying…" in statuses
    assert "camera 0 lost, retrying…" in statuses
    assert FlakyCamera.opened >= 3 and pipe.timings.frames_out >= 15  # back after being unplugged


def test_the_benchmark_times_the_pipeline_at_camera_size(tiny_model, sample_video):
    from app.bench import time_pipeline

    r = time_pipeline(tiny_model, sample_video, seconds=1.0)
    assert r["size"] == [640, 480] and r["model_size"] == 64
    assert r["source_fps"] == pytest.approx(29.97) and r["fps"] > 0  # paced as a camera would be
    assert 0 < r["latency_p50_ms"] <= r["latency_p95_ms"]
    assert (
        set(r["stage_ms"]) == {"source", "landmarks", "generator", "sinks"}
        and r["stage_ms"]["landmarks"] > 0
    )
    assert r["sequential_fps"] > 0 and r["threaded_fps"] > 0
    assert r["threaded_vs_sequential"] == pytest.approx(
        r["threaded_fps"] / r["sequential_fps"], rel=0.02
    )


def test_on_demand_the_first_stage_works_only_on_frames_the_slow_stage_takes():
    """A cheap stage before a slow one: free-running it works on every camera frame and most of
    that work is dropped; on demand it starts a frame only when the slow stage is idle.
    The slow stage is slow in frames: each call is held until the source has read ten more."""
    frames = [np.full((8, 8, 3), i, np.uint8) for i in range(10)]

    def run(on_demand: bool) -> tuple[int, int, dict]:
        calls = {"first": 0, "slow": 0}
        release = threading.Semaphore(0)

        def first(frame: Frame) -> Frame:
            calls["first"] += 1
            return frame

        def slow(frame: Frame) -> Frame:
            calls["slow"] += 1
            assert release.acquire(timeout=HANG_GUARD), "never released"
            return frame

        shown: list[int] = []
        source = MemorySource(frames, fps=60, loop=True, paced=True)
        pipe = Pipeline(
            source,
            [("first", first), ("slow", slow)],
            [lambda f: shown.append(f.index)],
            on_demand=on_demand,
        ).start()
        for _ in range(6):
            read = pipe.frames_in
            until(lambda n=read: pipe.frames_in >= n + 10, "ten more camera frames")
            release.release()
        until(lambda: len(shown) >= 5, "five frames shown")
        counted, dropped = dict(calls), pipe.stats()["dropped"]
        for _ in range(100):
            release.release()  # nothing holds the slow stage any more: stop() must not wait on it
        assert pipe.stop(HANG_GUARD)
        assert shown == sorted(shown) and len(shown) >= 5
        return counted["first"], counted["slow"], dropped

    first, slow, dropped = run(on_demand=True)
    assert first <= slow + 2 and dropped["to slow"] == 0
    first_free, slow_free, dropped_free = run(on_demand=False)
    assert first_free > 3 * slow_free and dropped_free["to slow"] > 0
