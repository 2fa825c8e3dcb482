"""The window's choices, one typed object: read once from QSettings, written back as they change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from PyQt5.QtCore import QSettings

from app.face import DEFAULT_RETARGET, DEFAULT_SMOOTHING, RETARGET_MODES
from landmarks.capture import DEFAULT_SECONDS

ORGANISATION, APPLICATION = "face-mirror", "live-mirror"
T = TypeVar("T")


def as_bool(value: Any) -> bool:
    """QSettings gives back "true"/"false" strings from INI files."""
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def as_retarget(value: Any) -> str:
    return str(value) if str(value) in RETARGET_MODES else DEFAULT_RETARGET


class Kept(Generic[T]):
    """One choice: its key is the attribute's name; read with `read`, `default` when absent."""

    def __init__(self, default: T | Callable[[], T], read: Callable[[Any], T]) -> None:
        self.default, self.read = default, read

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def initial(self, store: QSettings) -> T:
        value = store.value(self.key)
        if value is None:
            return self.default() if callable(self.default) else self.default
        return self.read(value)

    def __get__(self, settings: WindowSettings | None, owner: type) -> Any:
        return self if settings is None else settings.values[self.key]

    def __set__(self, settings: WindowSettings, value: T) -> None:
        settings.values[self.key] = value
        settings.store.setValue(self.key, value)


def _videos() -> str:
    return str(Path.home() / "Videos")


class WindowSettings:
    """Every choice the window keeps, typed; setting one writes it through to QSettings at once.

    `store`: where they are kept (tests and --settings pass an INI file; else the user's).
    """

    source = Kept("0", str)  # camera index or video file
    loop = Kept(True, as_bool)  # play a video source in a loop
    model = Kept("", str)  # the last bundle that loaded ("" none)
    smoothing = Kept(DEFAULT_SMOOTHING, float)
    retarget = Kept(DEFAULT_RETARGET, as_retarget)
    mirror = Kept(True, as_bool)
    show_camera = Kept(True, as_bool)
    show_drawing = Kept(True, as_bool)
    show_generated = Kept(True, as_bool)
    face_seconds = Kept(int(DEFAULT_SECONDS), lambda v: int(float(v)))  # Record my face
    face_dir = Kept("", str)  # where the last face recording went
    record_dir = Kept(_videos, str)  # where recordings of the output go
    geometry = Kept(None, lambda v: v)  # the window's place and size (QByteArray)

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings(
            QSettings.IniFormat, QSettings.UserScope, ORGANISATION, APPLICATION
        )
        self.values: dict[str, Any] = {
            name: kept.initial(self.store)
            for name, kept in vars(type(self)).items()
            if isinstance(kept, Kept)
        }

    def shown(self, view: str) -> bool:
        """Whether the view named `view` (camera, drawing, generated) is shown."""
        return bool(self.values[f"show_{view}"])

    def show(self, view: str, on: bool) -> None:
        setattr(self, f"show_{view}", on)

    @property
    def folder(self) -> Path:
        """Where the settings file is: the default home of face recordings."""
        return Path(self.store.fileName()).parent

    def sync(self) -> None:
        self.store.sync()
