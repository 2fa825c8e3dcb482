"""Is the driver the target? dlib's descriptor over their first faces, and when to ask again.

dlib's recognition network costs about 75 ms a face on a CPU, and holds Python's GIL all that
time (a thread beside it gets about a twentieth of its turns), so in the live window the check
runs in a helper process, on the newest face, and its answers are applied when they come: the
landmark stage never waits for one. Offline (`reenact`, `evaluate --driver`) it runs in line, so
the same video gives the same verdict at the same frame.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from landmarks.identity import SAME_PERSON_DISTANCE

log = logging.getLogger(__name__)

IDENTITY_SAMPLES = 5  # faces whose descriptors decide whether the driver is the target
# A face back within this long, near where it was and about as big, is the same appearance (a
# blink of the detector, a hand across the face): its verdict stands and nothing is sampled again.
# Camera time between sightings: a faceless frame's full detection (with its rolled and fine
# passes) took 0.35-0.55 s on a loaded 2-core machine, and the stage skips the frames meanwhile.
SAME_FACE_GAP_SECONDS = 1.0
SAME_FACE_SHIFT = 0.5  # how far its centre may have moved, in face widths
SAME_FACE_SCALE = 1.5  # how much wider or narrower it may have become
# Another person in the seat with no frame between: a descriptor every WATCH_SECONDS of video,
# against the appearance's first ones, says so after WATCH_CONFIRM far ones in a row (a turned or
# covered face gives one far descriptor now and then). About 75 ms a face: in the live window the
# helper process computes it; offline it costs about 4 ms a frame at 25 fps, in line.
WATCH_SECONDS = 0.5
WATCH_CONFIRM = 2
WATCH_REFERENCE = 2  # descriptors taken as who the appearance is before any is judged
WATCH_KEEP = 8  # the latest near descriptors, whose mean is who the appearance is
JOIN_SECONDS = 5.0  # a hang guard for close(): one descriptor takes well under a second


class DriverIdentity:
    """The descriptor distances of one appearance of the driver and the verdict they give.

    `generation` changes at each reset, so an answer computed for an earlier appearance (in the
    background) is recognised and dropped.
    """

    def __init__(self) -> None:
        self.distances: list[float] = []
        self.is_target: bool | None = None  # None: not known yet
        self.generation = 0
        self._lock = threading.Lock()  # answers come from the checker's thread

    def reset(self) -> None:
        """A new driver may be in view: sample again (the last verdict holds meanwhile)."""
        with self._lock:
            self.distances = []
            self.generation += 1

    @property
    def settled(self) -> bool:
        return len(self.distances) >= IDENTITY_SAMPLES

    def add(self, distance: float, generation: int | None = None) -> bool:
        """Count one face's distance; False (and nothing counted) when it is for an appearance
        that a reset has ended, or the verdict is settled already."""
        with self._lock:
            if (generation is not None and generation != self.generation) or self.settled:
                return False
            self.distances.append(float(distance))
            self.is_target = bool(np.median(self.distances) < SAME_PERSON_DISTANCE)
            return True


class PersonWatch:
    """Is the driver still the person this appearance began with? (see WATCH_SECONDS)

    `due(t)` says when to describe the face; the descriptors come back through `take`, in the
    background or in line, and `pop_change()` is True once after another person took the seat.
    The first WATCH_REFERENCE descriptors of an appearance say who it is; after a change the new
    person's are.
    """

    def __init__(self, every: float = WATCH_SECONDS, confirm: int = WATCH_CONFIRM) -> None:
        self.every, self.confirm = every, confirm
        self.generation = 0
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """A new appearance (or calibration): who it is is learnt afresh."""
        with self._lock:
            self.generation += 1
            self._reference: deque[np.ndarray] = deque(maxlen=WATCH_KEEP)
            self._far: list[np.ndarray] = []
            self._next: float | None = None
            self._changed = False
            self.distance: float | None = None  # the latest descriptor's, to the reference

    @property
    def settled(self) -> bool:
        return False  # always watching

    def due(self, t: float) -> bool:
        """True (once) when a face at `t` seconds should be described."""
        with self._lock:
            if self._next is not None and t < self._next:
                return False
            self._next = t + self.every
            return True

    def take(self, descriptor: np.ndarray, generation: int | None = None) -> bool:
        """Count one descriptor of the driver; False when it is for an ended appearance."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return False
            if len(self._reference) < WATCH_REFERENCE:
                self._reference.append(descriptor)
                return True
            self.distance = float(np.linalg.norm(descriptor - np.mean(self._reference, axis=0)))
            if self.distance <= SAME_PERSON_DISTANCE:
                # The same person: their look drifts with light and pose, so the reference does.
                self._reference.append(descriptor)
                self._far = []
                return True
            self._far.append(descriptor)
            if len(self._far) >= self.confirm:
                log.info("another person took the seat (descriptor distance %.2f)", self.distance)
                self._reference = deque(self._far, maxlen=WATCH_KEEP)
                self._far, self._changed = [], True
            return True

    def pop_change(self) -> bool:
        """True once after a change of person; False otherwise."""
        with self._lock:
            changed, self._changed = self._changed, False
            return changed


class Appearance:
    """Tells a real loss of the face from a short one: a face that comes back within
    SAME_FACE_GAP_SECONDS, about where it was and about as big, is the same appearance."""

    def __init__(self) -> None:
        self._last: tuple[np.ndarray, float, float] | None = None  # centre, width, time
        self._lost = False

    def reset(self) -> None:
        self._last, self._lost = None, False

    def lost(self) -> None:
        """This frame has no face."""
        self._lost = True

    def new(self, points: np.ndarray, t: float) -> bool:
        """Record a face at `t` (seconds); True when it starts a new appearance after a real loss
        (the first face ever is not one: there was nothing to lose)."""
        lo, hi = points.min(axis=0), points.max(axis=0)
        centre, width = (lo + hi) / 2, max(float(hi[0] - lo[0]), 1.0)
        last, lost = self._last, self._lost
        self._last, self._lost = (centre, width, t), False
        if last is None or not lost:
            return False
        c0, w0, t0 = last
        moved = float(np.linalg.norm(centre - c0)) > SAME_FACE_SHIFT * w0
        resized = not 1 / SAME_FACE_SCALE <= width / w0 <= SAME_FACE_SCALE
        return t - t0 > SAME_FACE_GAP_SECONDS or moved or resized


def face_crop(bgr: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part of the frame the descriptor reads (the face with a face's size of margin on
    every side, more than dlib's padded chip takes, turned or not), as RGB, with the points in
    its pixels: less to hand to another process, and the same descriptor as the whole frame's."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    margin = hi - lo
    x0, y0 = np.maximum(np.floor(lo - margin), 0).astype(int)
    x1, y1 = np.ceil(hi + margin).astype(int) + 1
    rgb = np.ascontiguousarray(bgr[y0:y1, x0:x1, ::-1])
    return rgb, (points - np.array([x0, y0], np.float32)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _network() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from landmarks.identity import FaceDescriptor  # dlib's network: loaded on first use

    return FaceDescriptor()


def describe(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """dlib's 128-d descriptor of the face at `points` in `rgb`; one network per process."""
    return _network()(rgb, points)


def _load_network() -> None:
    _network()


def _helper_started() -> None:
    """In the helper process, first: the app alone decides when it ends.

    Ctrl-C in a terminal reaches every process of the foreground group, the helper too, which
    would die mid-answer with a traceback and break the pool under the closing app. It is born
    with SIGINT blocked (`_process_pool`), so here it is ignored for good before being let through.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _exit_with_parent()


def _exit_with_parent() -> None:
    """In the helper process: end when the app does, even when it was killed and never said so."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="identity-parent-watch", daemon=True).start()


def _process_pool() -> Executor:
    # spawn, not fork: the parent runs TensorFlow and Qt threads, which a fork would copy mid-step.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=context, initializer=_helper_started)
    # The helper is spawned by the first submit, from this thread (the checker's, never the main
    # one, which handles Ctrl-C): with SIGINT blocked here it inherits the mask through exec, and
    # a Ctrl-C while it starts waits for `_helper_started` to ignore it. Blocked only now: making
    # the pool's queues starts multiprocessing's resource tracker, which unblocks SIGINT after.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return pool


@dataclass(frozen=True)
class _Job:
    identity: DriverIdentity | PersonWatch
    generation: int
    rgb: np.ndarray
    points: np.ndarray
    target: np.ndarray | None  # None: a PersonWatch's job


class IdentityChecker:
    """Adds the distance between a driver face's descriptor and the target's to a DriverIdentity.

    In line (the default), `check` returns once the distance is counted. With `background`,
    `check` only leaves the face for a thread that hands it to `pool` (a one-process pool by
    default: the network holds the GIL), newest face only, and counts the answer when it comes.
    """

    def __init__(
        self, background: bool = False, pool: Callable[[], Executor] = _process_pool
    ) -> None:
        self.background = background
        self._make_pool = pool
        self._pool: Executor | None = None
        self._lock = threading.Lock()
        self._job: _Job | None = None
        self._watch_job: _Job | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def check(
        self, identity: DriverIdentity, bgr: np.ndarray, points: np.ndarray, target: np.ndarray
    ) -> None:
        """Compare the face at `points` in the BGR frame with the `target` descriptor."""
        rgb, crop_points = face_crop(bgr, points)
        job = _Job(identity, identity.generation, rgb, crop_points, target)
        if not self.background:
            self._count(job, describe(rgb, crop_points))
            return
        with self._lock:
            self._job = job  # a face not yet taken is replaced by the newer one
        self._start()

    def watch(self, watch: PersonWatch, bgr: np.ndarray, points: np.ndarray) -> None:
        """Describe the face at `points` for `watch` (in line, or in the helper: its own slot,
        so the first faces' identity checks never push it out)."""
        rgb, crop_points = face_crop(bgr, points)
        job = _Job(watch, watch.generation, rgb, crop_points, None)
        if not self.background:
            self._count(job, describe(rgb, crop_points))
            return
        with self._lock:
            self._watch_job = job
        self._start()

    def warm_up(self) -> None:
        """In the background: start the helper process and load its network now, so that the
        first face is not the one that waits for them."""
        if self.background:
            self._start(warm=True)

    def _start(self, warm: bool = False) -> None:
        with self._lock:
            if self._closed or self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._work, args=(warm,), name="mirror-identity", daemon=True
            )
            self._thread.start()

    @property
    def busy(self) -> bool:
        """A face is waiting or being described."""
        with self._lock:
            return self._thread is not None

    def _submit(self, fn: Callable[..., object], *args: object) -> object:
        """`fn(*args)` in the pool, waited for here; None once closed. Only the worker thread
        calls this, so only it makes the pool (outside the lock: `check` never waits for that)."""
        with self._lock:
            closed, pool = self._closed, self._pool
        if pool is None and not closed:
            pool = self._make_pool()
            with self._lock:
                closed = self._closed
                self._pool = None if closed else pool
            if closed:
                pool.shutdown(wait=False)
        if closed or pool is None:
            return None
        return pool.submit(fn, *args).result()

    def _work(self, warm: bool) -> None:
        """Describe faces until none is waiting; the thread ends with the work."""
        if warm:
            try:
                self._submit(_load_network)
            except Exception:  # the first face will say it again
                if not self._closed:
                    log.exception("loading the identity network")
        while True:
            with self._lock:
                job, self._job = self._job, None
                if job is None:
                    job, self._watch_job = self._watch_job, None
                if job is None or self._closed:
                    self._thread = None
                    return
            if job.identity.settled or job.generation != job.identity.generation:
                continue
            try:
                descriptor = self._submit(describe, job.rgb, job.points)
            except Exception:  # a failed check must not stop the mirror: auto then retargets
                if not self._closed:  # (closing shuts the pool under a face in hand)
                    log.exception("identity check failed")
                continue
            if isinstance(descriptor, np.ndarray):
                self._count(job, descriptor)

    @staticmethod
    def _count(job: _Job, descriptor: np.ndarray) -> None:
        identity = job.identity
        if isinstance(identity, PersonWatch):
            identity.take(descriptor, job.generation)
            return
        assert job.target is not None
        if identity.add(float(np.linalg.norm(descriptor - job.target)), job.generation) and (
            identity.settled
        ):
            log.info(
                "driver %s the target (identity distance %.2f): %s",
                "is" if identity.is_target else "is not",
                float(np.median(identity.distances)),
                "drawing their own points" if identity.is_target else "retargeting",
            )

    def close(self, timeout: float = JOIN_SECONDS) -> bool:
        """Drop any waiting face, end the thread and the helper process; True when they ended."""
        with self._lock:
            self._closed, self._job, self._watch_job = True, None, None
            thread = self._thread
        if thread is not None:
            thread.join(timeout)  # it ends after the face in hand, if any
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        return thread is None or not thread.is_alive()
