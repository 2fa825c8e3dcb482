"""The driver's identity check: taken once per appearance, and off the landmark stage's thread live.

No clocks: a held descriptor shows the stage does not wait for it; frame times given to the stage
say how long a face was gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from app.face import FaceStage, ModelSpec
from app.identity import (
    IDENTITY_SAMPLES,
    SAME_FACE_GAP_SECONDS,
    WATCH_SECONDS,
    Appearance,
    DriverIdentity,
    IdentityChecker,
    describe,
    face_crop,
)
from app.model import load_model
from app.pipeline import Frame
from landmarks import FaceTracker

HANG_GUARD = 120  # seconds: only a hung thread or process takes this long
FPS = 30.0


@pytest.fixture(scope="module")
def spec(tiny_model) -> ModelSpec:
    spec = ModelSpec.from_bundle(load_model(tiny_model))
    assert spec.target_descriptor is not None  # the bundle says who the target is
    return spec


@pytest.fixture(scope="module")
def grey(sample_frames) -> np.ndarray:
    return np.full_like(sample_frames[0], 128)


class HeldPool(ThreadPoolExecutor):
    """A pool whose work starts only once `gate` is set: the descriptor, held."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(1)
        self.gate = gate
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs) -> Future:
        self.submitted += 1
        return super().submit(lambda: self.gate.wait(HANG_GUARD) and fn(*args, **kwargs))


def wait_idle(checker: IdentityChecker) -> None:
    """Until the background check has no face left (a hang guard, not a timing)."""
    done = threading.Event()

    def poll() -> None:
        while checker.busy:
            threading.Event().wait(0.01)
        done.set()

    threading.Thread(target=poll, daemon=True).start()
    assert done.wait(HANG_GUARD), "the identity check hung"


def test_the_stage_returns_frames_while_the_descriptor_is_held(spec, sample_frames):
    gate = threading.Event()
    pools: list[HeldPool] = []
    checker = IdentityChecker(
        background=True, pool=lambda: pools.append(HeldPool(gate)) or pools[0]
    )
    face = FaceStage(spec, retarget="auto", identity_check=checker)
    try:
        for i in range(10):
            frame = face(Frame(i, i / FPS, sample_frames[i]))
            assert frame.face and frame.drawing is not None  # a frame, without its verdict
        # Nothing counted while the network is held, and the stage retargets meanwhile.
        assert face.identity.distances == [] and face.identity.is_target is None
        assert face.retargeting and checker.busy
        gate.set()
        i = 10
        while not face.identity.settled:  # faces keep coming; each answer is counted when ready
            face(Frame(i, i / FPS, sample_frames[i]))
            wait_idle(checker)
            i += 1
        # The sample is the target: once the answers are in, auto draws his own points.
        assert face.identity.is_target is True and not face.retargeting
        assert len(face.identity.distances) == IDENTITY_SAMPLES
        # Newest face only: the ten held faces became at most two descriptors, not ten (besides
        # the person watch's own, one per WATCH_SECONDS of video, in its own slot).
        watched = 1 + int((i - 1) / FPS / WATCH_SECONDS)
        assert pools[0].submitted <= i - 10 + 2 + watched
    finally:
        gate.set()
        assert face.close()
    assert not [t for t in threading.enumerate() if t.name == "mirror-identity"]


def test_a_face_lost_for_one_frame_keeps_its_verdict(spec, sample_frames, grey):
    face = FaceStage(spec, retarget="auto")
    t = 0.0
    for i in range(IDENTITY_SAMPLES + 1):
        t = i / FPS
        face(Frame(i, t, sample_frames[i]))
    identity = face.identity
    assert identity.settled and identity.is_target is True
    distances, generation = list(identity.distances), identity.generation
    # The tracker checks its face is still there every few frames: as on such a check, it looks.
    face.tracker.reset()
    lost = face(Frame(6, 6 / FPS, grey))
    assert not lost.face
    back = face(Frame(7, 7 / FPS, sample_frames[7]))
    assert back.face
    # The same appearance: nothing sampled again, the verdict and its distances stand.
    assert face.identity is identity and identity.generation == generation
    assert identity.distances == distances and identity.is_target is True

    # Gone longer than SAME_FACE_GAP_SECONDS: whoever comes back is sampled afresh.
    gone = int(SAME_FACE_GAP_SECONDS * FPS) + 2
    face.tracker.reset()
    for k in range(gone):
        assert not face(Frame(8 + k, (8 + k) / FPS, grey)).face
    i = 8 + gone
    face(Frame(i, i / FPS, sample_frames[8]))
    assert identity.generation == generation + 1 and len(identity.distances) == 1
    assert identity.is_target is True  # the new sample agrees: it is still the target


def test_a_face_back_elsewhere_after_one_frame_is_sampled_again(spec, sample_frames, grey):
    def placed(frame: np.ndarray, right: bool) -> np.ndarray:
        """The frame on one half of a canvas twice as wide, the other half grey."""
        halves = [frame, np.full_like(frame, 128)]
        return np.hstack(halves[::-1] if right else halves)

    face = FaceStage(spec, retarget="auto")
    for i in range(IDENTITY_SAMPLES):
        assert face(Frame(i, i / FPS, placed(sample_frames[i], False))).face
    generation = face.identity.generation
    face.tracker.reset()  # the tracker looks for its face (as it does every few frames)
    assert not face(Frame(5, 5 / FPS, np.hstack([grey, grey]))).face
    # The next frame shows a face a whole frame's width to the right: maybe someone else.
    assert face(Frame(6, 6 / FPS, placed(sample_frames[5], True))).face
    assert face.identity.generation == generation + 1 and len(face.identity.distances) == 1


def test_appearance_tells_a_real_loss_by_time_place_and_size():
    face = np.array([[100.0, 100.0], [160.0, 180.0]])  # a box 60 px wide
    seen = Appearance()
    assert not seen.new(face, 0.0)  # the first face ever: nothing was lost
    assert not seen.new(face + 200, 0.033)  # tracked all along: it moves where it likes
    seen.lost()
    assert not seen.new(face + 200 + 20, 0.1)  # back near where it was, soon
    for later, where, scale in (
        (SAME_FACE_GAP_SECONDS + 0.2, 0.0, 1.0),  # back where it was, but long after
        (0.1, 40.0, 1.0),  # soon, but two thirds of a face width away
        (0.1, 0.0, 2.0),  # soon and there, but twice as big
    ):
        seen.reset()
        seen.new(face, 0.0)
        seen.lost()
        moved = (face - face.mean(0)) * scale + face.mean(0) + where
        assert seen.new(moved, later), (later, where, scale)


def test_an_answer_for_an_earlier_appearance_is_dropped():
    identity = DriverIdentity()
    generation = identity.generation
    identity.reset()  # the face was lost for real while its descriptor was being computed
    assert not identity.add(0.1, generation) and identity.distances == []
    assert identity.add(0.7, identity.generation) and identity.is_target is False


def test_the_crop_gives_the_whole_frames_descriptor(sample_frames):
    tracker = FaceTracker()
    frame = sample_frames[3]
    points = tracker(frame).points
    rgb, crop_points = face_crop(frame, points)
    whole = describe(np.ascontiguousarray(frame[..., ::-1]), points)
    assert rgb.size <= frame.size
    assert np.allclose(describe(rgb, crop_points), whole, atol=1e-5)


def test_the_check_in_a_helper_process_gives_the_verdict(spec, sample_frames):
    """The real background check: dlib's network in a spawned process, answers applied here."""
    checker = IdentityChecker(background=True)
    face = FaceStage(spec, retarget="auto", identity_check=checker)
    try:
        checker.warm_up()
        i = 0
        while not face.identity.settled:
            assert face(Frame(i, i / FPS, sample_frames[i % 40])).face
            wait_idle(checker)
            i += 1
        assert face.identity.is_target is True and not face.retargeting
        assert max(face.identity.distances) < 0.6
    finally:
        assert face.close()
    assert not checker.busy


HELPER_SCRIPT = """
import multiprocessing, os, signal, time
from app.identity import IdentityChecker

if __name__ == "__main__":
    checker = IdentityChecker(background=True)
    checker.warm_up()
    while checker.busy:
        time.sleep(0.01)
    print(*(p.pid for p in multiprocessing.active_children()), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close(), no atexit: as a crash or kill -9 would
"""


def test_the_helper_process_ends_with_the_app_even_when_it_is_killed(tmp_path):
    script = tmp_path / "killed_app.py"
    script.write_text(HELPER_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=HANG_GUARD
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    helpers = [int(pid) for pid in run.stdout.split()]
    assert helpers, "the helper process never started"
    deadline = (
        time.monotonic() + HANG_GUARD
    )  # a hang guard: it ends as soon as it sees its parent go
    while any(alive(pid) for pid in helpers):
        assert time.monotonic() < deadline, f"helper processes {helpers} outlived the app"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Running: a zombie waiting for whoever adopted it to reap it has ended too."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = f"/proc/{pid}/stat"
    return not os.path.exists(stat) or open(stat).read().rsplit(")", 1)[1].split()[0] != "Z"
