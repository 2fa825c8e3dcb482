"""App modes, chosen once from the bundle by its input contract.

A loaded bundle says what it takes in its class attribute `input`: "drawing" (gan.bundle.Bundle:
the app draws the driver's face, the bundle makes the target's) or "face_crop"
(gan.swap_bundle.SwapBundle, every swap model: the camera's aligned face in, the target's face
out, composited into the frame). The mode built on it renders frames and says what the views,
the recorder, the virtual camera, `evaluate --driver` and the benchmark do. Only this package
knows which kind a bundle is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.modes.base import DriveRecord, Mode, Row, Run
from app.modes.drawing import DrawingMode
from app.modes.face_crop import FaceCropMode
from common.errors import InputError

MODES: dict[str, type[Mode]] = {m.input: m for m in (DrawingMode, FaceCropMode)}
# Bundles from before input contracts draw; so does the app while no model is loaded.
DEFAULT = DrawingMode

__all__ = [
    "DrawingMode",
    "DriveRecord",
    "FaceCropMode",
    "Mode",
    "Row",
    "Run",
    "mode_class",
    "mode_for",
    "mode_named",
    "require_swap",
    "require_swap_path",
]


def _mode_of(contract: str, where: Any) -> type[Mode]:
    try:
        return MODES[contract]
    except KeyError:
        raise InputError(f"{where} takes {contract!r} input, which this app cannot give") from None


def mode_for(bundle: Any, blend: Any = None) -> Mode:
    """The mode for a loaded bundle (None: no model yet, which draws). `blend`: how a face-crop
    bundle's face goes into the frame (landmarks.blend.BlendParams; None: the default)."""
    if bundle is None:
        return DEFAULT(None)
    contract = str(getattr(bundle, "input", DEFAULT.input))
    return _mode_of(contract, getattr(bundle, "path", "the model"))(bundle, blend)


def mode_class(path: str | Path) -> type[Mode]:
    """The mode of the bundle at `path`, from its bundle.json alone, before any model loads."""
    from gan.bundle import input_of  # numpy only: no Keras until a model loads

    return _mode_of(input_of(path), path)


def mode_named(name: str) -> type[Mode]:
    """The mode a report names (its `kind`: "pix2pix", "swap"); reports without one drew."""
    return next((m for m in MODES.values() if m.name == name), DEFAULT)


def require_swap(bundle: Any, what: str = "this") -> None:
    """InputError, one line, unless `bundle` (loaded) is a swap bundle: for what only a face-crop
    mode does."""
    _require_face_crop(type(mode_for(bundle)), getattr(bundle, "path", "the model"), what)


def require_swap_path(path: str | Path, what: str = "this") -> None:
    """The same for the bundle at `path`, read from its bundle.json alone, before it loads."""
    _require_face_crop(mode_class(path), path, what)


def _require_face_crop(mode: type[Mode], where: Any, what: str) -> None:
    if mode is not FaceCropMode:
        raise InputError(
            f"{where} is a {mode.name} bundle, and {what} needs a {FaceCropMode.name} bundle "
            "(made by train-swap or train-cyclegan)"
        )
