"""The live pipeline: source → stages → sinks, one thread each, joined by newest-only mailboxes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from app.sources import Source
from app.timing import RateMeter, Rolling

log = logging.getLogger(__name__)

T = TypeVar("T")
JOIN_SECONDS = 1.0
POLL_SECONDS = 0.1  # how often an idle stage looks at the stop flag


@dataclass(eq=False)
class Frame:
    """One camera frame on its way through the stages; each stage fills in its part."""

    index: int
    captured: float  # time.perf_counter() when the source had it
    image: np.ndarray  # BGR, as the camera gave it
    points: np.ndarray | None = None  # the smoothed 68 points in frame pixels (None without a face)
    # RGB line drawing at the model size (the last one held without a face)
    drawing: np.ndarray | None = None
    drawn_points: np.ndarray | None = None  # the drawing's 68 points, in model pixels
    # The model's answer: the target's face at the model size, RGB (the last one held without a
    # face). A face-crop bundle's is colour-matched, before it goes back into the frame.
    generated: np.ndarray | None = None
    # The camera frame with the target's face in it, RGB at the camera's size: face-crop bundles,
    # frames with a face only (app.modes).
    composited: np.ndarray | None = None
    face: bool = False  # a face was found in *this* frame
    covered: bool = False  # part of that face was covered: held at its last plausible shape
    ms: dict[str, float] = field(default_factory=dict)  # stage name → ms spent on this frame


Stage = Callable[[Frame], Frame]
Sink = Callable[[Frame], None]


class Closed(Exception):
    """The mailbox was closed and is empty: the stage upstream has finished."""


class Mailbox(Generic[T]):
    """A one-slot mailbox that keeps only the newest item.

    `put` never blocks: an item nobody took yet is replaced and counted in `dropped`, so a slow
    stage downstream sees fresh frames and nothing queues up (bounded latency and memory).
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.dropped = 0
        self.delivered = 0
        self._cond = threading.Condition()
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._takers = 0  # consumers blocked in get(): the stage downstream is idle

    def put(self, item: T) -> None:
        with self._cond:
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T | None:
        """The newest item; None on timeout; raises Closed once closed and empty."""
        with self._cond:
            self._takers += 1
            self._cond.notify_all()
            try:
                ready = self._cond.wait_for(lambda: self._full or self._closed, timeout)
            finally:
                self._takers -= 1
            if not ready:
                return None
            if not self._full:
                raise Closed(self.name)
            item, self._item, self._full = self._item, None, False
            self.delivered += 1
            self._cond.notify_all()
            return item

    def wait_empty(self, stop: threading.Event) -> bool:
        """Block until the item was taken (back-pressure for throughput runs); False if stopped."""
        with self._cond:
            while self._full and not self._closed:
                if stop.is_set():
                    return False
                self._cond.wait(POLL_SECONDS)
            return not self._closed

    def wait_wanted(self, stop: threading.Event) -> bool:
        """Block until the consumer is idle, waiting in get() on an empty box; False if stopped.

        On-demand running: a stage starts its next frame only when the one after it is ready to
        take the result, so no work goes into a frame that would be dropped.
        """
        with self._cond:
            while (self._full or not self._takers) and not self._closed:
                if stop.is_set():
                    return False
                self._cond.wait(POLL_SECONDS)
            return not self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return int(self._full)


class Timings:
    """Per-stage milliseconds, end-to-end latency and output rate, for both ways of running."""

    def __init__(self, stages: Sequence[str]) -> None:
        self.stages = {name: Rolling() for name in ("source", *stages, "sinks")}
        self.latency = Rolling()
        self.rate = RateMeter()
        self.frames_out = 0
        self.faces = 0
        self.last_face = False
        self.started = time.perf_counter()

    def shown(self, frame: Frame) -> None:
        now = time.perf_counter()
        self.latency.add((now - frame.captured) * 1000)
        self.rate.tick(now)
        self.frames_out += 1
        self.faces += frame.face
        self.last_face = frame.face

    def summary(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.started
        return {
            "fps": self.rate.rate(),
            "mean_fps": self.frames_out / elapsed if elapsed > 0 else 0.0,
            "frames_out": self.frames_out,
            "faces": self.faces,
            "face": self.last_face,
            "latency_ms": self.latency.summary(),
            "stage_ms": {name: r.summary() for name, r in self.stages.items()},
        }


def _next_frame(
    source: Source, index: int, timings: Timings, stop: threading.Event
) -> Frame | None:
    """The source's next image as frame `index`, its read time recorded; None while it has none.

    Both ways of running take frames here, so a frame is stamped and timed the same in each.
    """
    image = source.read(stop)
    if image is None:
        return None
    frame = Frame(index, time.perf_counter(), image)
    frame.ms["source"] = source.read_ms
    timings.stages["source"].add(source.read_ms)
    return frame


def _run_stage(name: str, stage: Stage, frame: Frame, timings: Timings) -> Frame:
    t0 = time.perf_counter()
    try:
        frame = stage(frame)
    except Exception:  # a bug in one frame must not take the live window down with it
        log.exception("%s stage failed on frame %d", name, frame.index)
    ms = (time.perf_counter() - t0) * 1000
    frame.ms[name] = ms
    timings.stages[name].add(ms)
    return frame


def _run_sinks(sinks: Sequence[Sink], frame: Frame, timings: Timings) -> None:
    t0 = time.perf_counter()
    for sink in sinks:
        try:
            sink(frame)
        except Exception:
            log.exception("sink %r failed on frame %d", sink, frame.index)
    ms = (time.perf_counter() - t0) * 1000
    frame.ms["sinks"] = ms
    timings.stages["sinks"].add(ms)
    timings.shown(frame)


class Pipeline:
    """Runs `source` → each of `stages` in turn → `sinks`, every step in its own thread.

    `stages` are (name, callable) pairs, each callable taking and returning a Frame.
    `back_pressure`: every step waits until its last output was taken before making the next, so
    nothing is dropped and no work is wasted on frames a slower stage would drop: classic
    pipelining, for measuring throughput from a file that could be read far faster than processed.
    `on_demand` (live use): the source reads on, the newest frame wins at every step, and each
    stage starts a frame only when the stage after it is idle. On few cores a stage that ran
    ahead would only take CPU from the slow stage for frames that get dropped; on demand, the
    slow stage gets the cores, every frame worked on is shown, and latency is the stages' sum.
    With neither, every stage runs free on the newest frame.
    """

    def __init__(
        self,
        source: Source,
        stages: Sequence[tuple[str, Stage]],
        sinks: Sequence[Sink] = (),
        back_pressure: bool = False,
        on_demand: bool = False,
    ) -> None:
        self.source = source
        self.on_demand = on_demand
        self.stages = list(stages)
        self._sinks: list[Sink] = list(sinks)
        self._sinks_lock = threading.Lock()
        self.back_pressure = back_pressure
        names = [n for n, _ in self.stages]
        self.mailboxes: list[Mailbox[Frame]] = [Mailbox(f"to {n}") for n in [*names, "sinks"]]
        self.timings = Timings(names)
        self.frames_in = 0
        self._frames_in_at_reset = 0
        self._dropped_at_reset = [0] * len(self.mailboxes)
        self.finished = threading.Event()  # the source ended and everything it gave was shown
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- sinks can come and go while running (record, virtual camera) -----------------------

    def add_sink(self, sink: Sink) -> None:
        with self._sinks_lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Take a sink out; once this returns, the sink thread will not call it again."""
        with self._sinks_lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    # -- running ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> Pipeline:
        if self._threads:
            raise RuntimeError("a pipeline runs once; make a new one")
        self.timings.started = time.perf_counter()
        workers: list[tuple[str, Callable[[], None]]] = [("source", self._source_loop)]
        for i, (name, stage) in enumerate(self.stages):
            workers.append(
                (name, lambda i=i, name=name, stage=stage: self._stage_loop(i, name, stage))
            )
        workers.append(("sinks", self._sink_loop))
        for name, target in workers:
            # Daemon as a last resort only: stop() joins them; a hung driver must not block exit.
            t = threading.Thread(target=target, name=f"mirror-{name}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def stop(self, timeout: float = JOIN_SECONDS) -> bool:
        """Stop every thread; True when all have ended within `timeout` seconds."""
        self._stop.set()
        for box in self.mailboxes:
            box.close()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("threads still running after %.1f s: %s", timeout, ", ".join(alive))
        try:
            self.source.close()
        except Exception:
            log.exception("closing %s", self.source.name)
        return not alive

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a source that ends (a file without loop) to be shown to the end."""
        return self.finished.wait(timeout)

    def _source_loop(self) -> None:
        out = self.mailboxes[0]
        try:
            while not self._stop.is_set():
                if self.back_pressure and not out.wait_empty(self._stop):
                    break
                frame = _next_frame(self.source, self.frames_in, self.timings, self._stop)
                if frame is None:
                    if self.source.finished:
                        break
                    continue
                self.frames_in += 1
                out.put(frame)
        except Exception:
            log.exception("source %s failed", self.source.name)
        finally:
            out.close()

    def _stage_loop(self, i: int, name: str, stage: Stage) -> None:
        inbox, out = self.mailboxes[i], self.mailboxes[i + 1]
        try:
            while not self._stop.is_set():
                if self.back_pressure and not out.wait_empty(self._stop):
                    break
                if self.on_demand and i < len(self.stages) - 1 and not out.wait_wanted(self._stop):
                    break
                frame = inbox.get(POLL_SECONDS)
                if frame is not None:
                    out.put(_run_stage(name, stage, frame, self.timings))
        except Closed:
            pass
        finally:
            out.close()

    def _sink_loop(self) -> None:
        inbox = self.mailboxes[-1]
        try:
            while not self._stop.is_set():
                frame = inbox.get(POLL_SECONDS)
                if frame is not None:
                    with self._sinks_lock:
                        sinks = list(self._sinks)
                    _run_sinks(sinks, frame, self.timings)
        except Closed:
            self.finished.set()

    def reset_stats(self) -> None:
        """Start the statistics afresh (after a warm-up), keeping the threads running."""
        self.timings = Timings([n for n, _ in self.stages])
        self._frames_in_at_reset = self.frames_in
        self._dropped_at_reset = [box.dropped for box in self.mailboxes]

    def stats(self) -> dict[str, Any]:
        """Per-stage ms, FPS, latency, frame counts and drops (status bar and benchmark)."""
        s = self.timings.summary()
        s["frames_in"] = self.frames_in - self._frames_in_at_reset
        since = zip(self.mailboxes, self._dropped_at_reset, strict=True)
        s["dropped"] = {box.name: box.dropped - d for box, d in since}
        s["source_status"] = self.source.status
        return s


def run_sequential(
    source: Source,
    stages: Sequence[tuple[str, Stage]],
    sinks: Sequence[Sink] = (),
    max_frames: int | None = None,
    seconds: float | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """The same stages one after another on this thread, frame by frame, nothing dropped.

    The baseline the threaded pipeline is measured against, and the loop `reenact` runs.
    Returns the same statistics as Pipeline.stats().
    """
    stop = stop or threading.Event()
    timings = Timings([n for n, _ in stages])
    deadline = None if seconds is None else time.perf_counter() + seconds
    n = 0
    while not stop.is_set() and (max_frames is None or n < max_frames):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        frame = _next_frame(source, n, timings, stop)
        if frame is None:
            if source.finished:
                break
            continue
        n += 1
        for name, stage in stages:
            frame = _run_stage(name, stage, frame, timings)
        _run_sinks(sinks, frame, timings)
    s = timings.summary()
    s["frames_in"] = n
    s["dropped"] = {}
    s["source_status"] = source.status
    return s
