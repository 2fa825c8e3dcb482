"""What a mode is: everything the app does differently for a bundle's input contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numpy as np

from app.pictures import Column
from app.pipeline import Frame

# `evaluate --driver`'s run: every driver frame through the live stages, each into `keep`;
# returns the run's statistics (app.pipeline.run_sequential's).
Run = Callable[[Callable[[Frame], None]], dict]
# (key path in the report, label, what is good): one line of `evaluate --driver`'s table.
Row = tuple[tuple[str, ...], str, str]


class DriveRecord(Protocol):
    """What a mode kept of one `evaluate --driver` run."""

    frames: int
    indices: list[int]  # each kept frame's number in the video
    outputs: list[np.ndarray]
    stats: dict


class Mode(Protocol):
    """What the app does with a bundle, chosen once from its input contract (app.modes.mode_for).

    It renders a frame, says what the views, the recorder and the virtual camera show and what
    the window calls it, and what `evaluate --driver` and the benchmark measure.
    """

    input: ClassVar[str]  # the bundles' contract: their class attribute `input`
    name: ClassVar[str]  # what reports call it (`kind` in evaluate's and bench's JSON)
    title: ClassVar[str]  # the output view's title
    model_label: ClassVar[str]  # "model" or "swap model", as the window names a loaded bundle
    held: ClassVar[str]  # what the output shows while no face is in view
    composites: ClassVar[bool]  # the output is the whole camera frame, the face put into it
    rows: ClassVar[list[Row]]  # evaluate --driver's table
    bundle: Any

    @classmethod
    def require_drawings(cls, path: str, what: str) -> None:
        """InputError, one line, unless this mode's bundles make faces from drawings."""

    @staticmethod
    def drive_title(report: dict) -> str:
        """The first line of evaluate --driver's table."""

    def render(self, frame: Frame) -> None:
        """Run the bundle on a frame with a face: fill frame.generated (and .composited)."""

    def faces_from_drawings(self, drawings: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Faces for a batch of drawings and their points (evaluate on a dataset)."""

    def output(self, frame: Frame) -> np.ndarray | None:
        """What the output view, the recorder and the virtual camera show (RGB); None: nothing
        yet (they fall back on the drawing, or black)."""

    def panel(self, frame: Frame, height: int) -> np.ndarray:
        """The output as side-by-side's last panel, `height` tall."""

    def output_size(self, frame_shape: tuple[int, ...], side_by_side: bool) -> tuple[int, int]:
        """(width, height) of what `reenact` writes for frames of `frame_shape`."""

    def status(self, retarget: str, retargeting: bool) -> str:
        """The status bar's word on how the face is driven."""

    def bench(self, frames: list[np.ndarray]) -> dict[str, Any]:
        """The benchmark's figures beyond the live pipeline's, on camera-size BGR frames."""

    def record(self, run: Run, face: Any) -> DriveRecord:
        """evaluate --driver: run the driver through the stages (`face`: the FaceStage, its
        tracker keeping raw points) and keep what the measures need."""

    def sheet(self, record: Any) -> list[Column]:
        """evaluate --driver's contact sheet: its columns, from what `record` kept."""

    def measure(self, record: Any, target: np.ndarray | None, progress: bool) -> dict:
        """evaluate --driver's figures for what `record` kept (with "series": the per-frame values
        its plot draws, app.measures.frame_series); `target`: who the target is."""
