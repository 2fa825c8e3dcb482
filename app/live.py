"""The live session behind the window: source, stages, sinks and model loading, without any Qt."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.face import (
    DEFAULT_RETARGET,
    DEFAULT_SMOOTHING,
    FaceStage,
    GeneratorStage,
    ModelSpec,
    target_descriptor,
)
from app.identity import IdentityChecker
from app.modes import Mode
from app.pipeline import Frame, Pipeline
from app.sinks import Recorder, RecorderSink, VirtualCameraSink
from app.sources import Source, open_source
from common.errors import InputError

log = logging.getLogger(__name__)


class CameraRecorderSink:
    """A pipeline sink that records the camera's own frames, whatever the model makes of them.

    What a face dataset is made of (`make-dataset`): the window's "Record my face".
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def __call__(self, frame: Frame) -> None:
        self.recorder.write(np.ascontiguousarray(frame.image[..., ::-1]))

    def close(self) -> Path | None:
        return self.recorder.close()


class LiveSession:
    """Owns one running pipeline at a time and everything a window can change while it runs.

    `on_frame` is called from the sink thread with every shown frame; `on_model` from the loader
    thread with (path, error message or None) when a model finished loading or failed to.
    """

    def __init__(
        self,
        on_frame: Callable[[Frame], None],
        on_model: Callable[[str, str | None], None] | None = None,
        smoothing: float = DEFAULT_SMOOTHING,
        verbose: bool = False,
        backend: str = "auto",
        threads: int | None = None,
        retarget: str = DEFAULT_RETARGET,
    ) -> None:
        self.on_frame = on_frame
        self.verbose = verbose  # let TensorFlow's start-up messages through when a model loads
        self.backend, self.threads = backend, threads  # what runs the generator (app.model)
        self.on_model = on_model
        # The identity check off the landmark stage's thread: a face coming back must not freeze
        # the output while dlib's network looks at it (app.identity).
        self.face = FaceStage(
            smoothing=smoothing,
            retarget=retarget,
            identity_check=IdentityChecker(background=True),
        )
        self.generator = GeneratorStage()
        self.pipeline: Pipeline | None = None
        self.source_spec: str | None = None
        self.loop = True
        self.model_path: str | None = None
        self.model_error: str | None = None
        self.loading: str | None = None  # the model path being loaded now
        self.recorder: RecorderSink | CameraRecorderSink | None = None
        self.virtual_camera: VirtualCameraSink | None = None
        self._loader: threading.Thread | None = None
        self._closed = False

    # -- source and running --------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.pipeline is not None and self.pipeline.running

    def start(self, source_spec: str | None = None, loop: bool | None = None) -> None:
        """(Re)start reading `source_spec` (a camera index or a video file); raises InputError."""
        if source_spec is not None:
            self.source_spec = str(source_spec)
        if loop is not None:
            self.loop = loop
        if self.source_spec is None:
            raise InputError("no camera or video chosen")
        source: Source = open_source(self.source_spec, loop=self.loop, paced=True)
        self.stop()
        self.face.tracker.reset()
        self.face.calibrate()  # a new source may be a new driver: take their neutral again
        sinks: list[Callable[[Frame], None]] = [self.on_frame]
        sinks += [s for s in (self.recorder, self.virtual_camera) if s is not None]
        # On demand: the landmark stage works only on frames the generator will take, so on two
        # cores the generator is not slowed by drawings that would be dropped (scripts/bench).
        self.pipeline = Pipeline(
            source,
            [("landmarks", self.face), ("generator", self.generator)],
            sinks,
            on_demand=True,
        ).start()
        log.info("started %s", source.name)

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop the pipeline's threads; True when they all ended within `timeout` seconds."""
        pipeline, self.pipeline = self.pipeline, None
        return pipeline.stop(timeout) if pipeline is not None else True

    def stats(self) -> dict[str, Any] | None:
        return self.pipeline.stats() if self.pipeline is not None else None

    @property
    def source_status(self) -> str:
        if self.pipeline is None:
            return "stopped"
        return self.pipeline.source.status

    # -- what a window shows -----------------------------------------------------------------

    @property
    def bundle(self) -> Any:
        """The loaded model bundle (gan.bundle.Bundle), or None."""
        return self.generator.bundle

    @property
    def mode(self) -> Mode:
        """What the app does with the loaded bundle (app.modes): what the output shows."""
        return self.generator.mode

    @property
    def calibrating(self) -> bool:
        """Still taking the driver's neutral face."""
        return self.face.calibrating

    @property
    def face_note(self) -> str:
        """ "face covered" or "new person" while that holds (app.occlusion), else ""."""
        return self.face.note

    @property
    def retarget(self) -> str:
        """The retarget setting: auto, on or off."""
        return self.face.retarget

    @property
    def retargeting(self) -> bool:
        """Whether the target's shape is moved now (False: the driver's own points are drawn)."""
        return self.face.retargeting

    @property
    def recorded_frames(self) -> int | None:
        """Frames recorded so far, or None when not recording."""
        return self.recorder.recorder.frames if self.recorder is not None else None

    # -- model -----------------------------------------------------------------------------------

    def load_model(self, path: str, wait: bool = False) -> None:
        """Load a model bundle in the background; the camera keeps running, even after a failure."""
        self.loading = str(path)
        self._loader = threading.Thread(
            target=self._load, args=(str(path),), name="mirror-model-loader", daemon=True
        )
        self._loader.start()
        if wait:
            self._loader.join()

    def _load(self, path: str) -> None:
        from app.model import load_model  # TensorFlow loads here, not when the window opens

        error = None
        try:
            bundle = load_model(
                path, verbose=self.verbose, backend=self.backend, threads=self.threads
            )
            # Who the target is, so that auto retargeting knows the target driving themself.
            spec = dataclasses.replace(
                ModelSpec.from_bundle(bundle), target_descriptor=target_descriptor(bundle)
            )
        except InputError as e:
            bundle, error = None, str(e)
        except Exception as e:  # a model that does not load must never take the window down
            log.exception("loading %s", path)
            bundle, error = None, f"cannot load {path}: {type(e).__name__}: {e}"
        if self._closed or self.loading != path:
            return  # closed meanwhile, or another model was asked for
        if bundle is not None:
            self.face.set_spec(spec)
            self.generator.set_bundle(bundle)
            self._sinks_follow_mode()
            self.model_path, self.model_error = path, None
        else:
            # Without a model the drawing still shows what the camera sees, in the default crop.
            self.generator.set_bundle(None)
            self._sinks_follow_mode()
            self.face.set_spec(ModelSpec())
            self.model_path, self.model_error = None, error
            log.warning("%s", error)
        self.loading = None
        if self.on_model is not None:
            self.on_model(path, error)

    def _sinks_follow_mode(self) -> None:
        """The recording and the virtual camera take what the new model's mode shows."""
        for sink in (self.recorder, self.virtual_camera):
            if isinstance(sink, RecorderSink | VirtualCameraSink):
                sink.mode = self.mode

    # -- controls ---------------------------------------------------------------------------------

    def calibrate(self) -> None:
        self.face.calibrate()

    def set_smoothing(self, strength: float) -> None:
        self.face.set_smoothing(strength)

    def set_retarget(self, mode: str) -> None:
        """auto, on or off (see FaceStage)."""
        self.face.set_retarget(mode)

    def start_recording(
        self, path: str | Path, side_by_side: bool = False, camera: bool = False
    ) -> Path:
        """Record what is shown from now on; raises InputError for a path that cannot be written.

        `camera`: the raw camera frames instead of the output (footage for `make-dataset`).
        """
        self.stop_recording()
        fps = self.pipeline.source.fps if self.pipeline is not None else 30.0
        if camera:
            # The sinks get only the frames the stages took (on demand): at the rate measured so
            # far, the file lasts as long as the recording did.
            stats = self.stats()
            shown = stats["fps"] if stats is not None else 0.0
            fps = shown if 1.0 <= shown < fps else fps
            self.recorder = CameraRecorderSink(Recorder(path, fps))
        else:
            size = self.bundle.size if self.bundle is not None else self.face.spec.size
            self.recorder = RecorderSink(Recorder(path, fps), size, self.mode, side_by_side)
        if self.pipeline is not None:
            self.pipeline.add_sink(self.recorder)
        return self.recorder.recorder.path

    def stop_recording(self) -> Path | None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        if self.pipeline is not None:
            self.pipeline.remove_sink(recorder)
        return recorder.close()

    def set_virtual_camera(self, on: bool) -> None:
        """Turn the virtual camera on or off; InputError saying what to install when it cannot."""
        if on and self.virtual_camera is None:
            fps = self.pipeline.source.fps if self.pipeline is not None else 30.0
            self.virtual_camera = VirtualCameraSink(self.mode, fps)
            if self.pipeline is not None:
                self.pipeline.add_sink(self.virtual_camera)
        elif not on and self.virtual_camera is not None:
            cam, self.virtual_camera = self.virtual_camera, None
            if self.pipeline is not None:
                self.pipeline.remove_sink(cam)
            cam.close()

    def close(self, timeout: float = 1.0) -> bool:
        """Stop everything; True when every thread this session started ended within `timeout`."""
        deadline = time.monotonic() + timeout
        self._closed = True
        ok = self.stop(timeout)
        self.stop_recording()
        self.set_virtual_camera(False)
        ok = self.face.close() and ok
        if self._loader is not None:
            # A model half-loaded in TensorFlow cannot be interrupted: a daemon, it is left be.
            self._loader.join(max(0.0, deadline - time.monotonic()))
        return ok
