"""`evaluate`'s pictures: a contact sheet of faces and, for a driving video, a plot over time.

A table of figures says how a model scores; people judge faces by looking at them, as the field's
tools show (faceswap's and DeepFaceLab's previews, pix2pix's input | output | target grid). The
sheet is a header row of column titles over at most SHEET_ROWS rows, frames spread evenly over the
held-out tail or the clip, every image in a CELL-pixel square cell; sheet_size() says its size.
The plot draws the driver's and the output's mouth opening and eye openness over the clip, and
the frame-to-frame change of both, with matplotlib (imported only when a plot is drawn).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.occlusion import shade_frames
from common.errors import InputError
from common.files import atomic_path

CELL = 128  # px, each image's square cell: the quick preset's size; 64 px models are doubled
HEADER = 24  # px, the row of column titles above the cells
SHEET_ROWS = 8
PLOT_INCHES = (10.0, 7.5)
PLOT_DPI = 100  # with PLOT_INCHES: 1000 × 750 px
SUFFIX = ".png"

# A column of the sheet: its title and one image per frame (RGB uint8, square).
Column = tuple[str, Sequence[np.ndarray]]


@dataclass(frozen=True)
class Picture:
    """One picture `evaluate` writes: `<base>.<name>.png`, announced with its caption."""

    name: str
    caption: str
    write: Callable[[Path], None]  # draws the picture into a PNG at this path


@dataclass
class Measured:
    """What an evaluation produced: the report (the JSON, the table) and its pictures."""

    report: dict
    pictures: list[Picture] = field(default_factory=list)


def spread(count: int, rows: int = SHEET_ROWS) -> np.ndarray:
    """min(rows, count) distinct indices into `count` frames, evenly spread, first and last
    included."""
    if count <= 0:
        return np.zeros(0, int)
    return np.unique(np.linspace(0, count - 1, min(rows, count)).round().astype(int))


def sheet_size(rows: int, columns: int) -> tuple[int, int]:
    """(height, width) in pixels of a sheet of `rows` × `columns` cells under its header."""
    return HEADER + rows * CELL, columns * CELL


def cell(image: np.ndarray) -> np.ndarray:
    """`image` in a CELL-pixel cell: enlarged pixel by pixel (a small model's pixels stay its own,
    nothing is smoothed in or out), reduced by area."""
    if image.shape[:2] == (CELL, CELL):
        return image
    interp = cv2.INTER_NEAREST if image.shape[0] < CELL else cv2.INTER_AREA
    return cv2.resize(image, (CELL, CELL), interpolation=interp)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    """White text with a dark edge: readable on a face, a drawing or the header."""
    for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness)


def contact_sheet(
    columns: Sequence[Column], rows: Sequence[int], labels: Sequence[str] = ()
) -> np.ndarray:
    """RGB sheet: the columns' titles, then for each of `rows` its image from every column; each
    row's label (a frame number) is written on its first cell, the other cells are as made."""
    height, width = sheet_size(len(rows), len(columns))
    sheet = np.zeros((height, width, 3), np.uint8)
    sheet[:HEADER] = 48
    for c, (title, images) in enumerate(columns):
        _text(sheet, title, (c * CELL + 6, HEADER - 7), 0.5)
        for r, i in enumerate(rows):
            y = HEADER + r * CELL
            sheet[y : y + CELL, c * CELL : (c + 1) * CELL] = cell(images[i])
    for r, label in enumerate(labels):
        _text(sheet, label, (4, HEADER + (r + 1) * CELL - 6), 0.4)
    return sheet


def write_png(path: Path, rgb: np.ndarray) -> None:
    """`rgb` as a PNG (lossless: the cells hold the very pixels the model made)."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise InputError(f"{path}: cannot write a PNG there")


def sheet_picture(
    caption: str, columns: Sequence[Column], count: int, labels: Sequence[str]
) -> Picture:
    """The contact sheet of `count` frames as a Picture; `labels`: one per frame."""
    rows = spread(count)
    shown = [labels[i] for i in rows]

    def write(path: Path) -> None:
        write_png(path, contact_sheet(columns, rows, shown))

    return Picture("sheet", caption, write)


def plot_series(path: Path, series: dict, title: str) -> None:
    """Three panels over the clip's frames: mouth opening and eye openness, driver against output
    (gaps where no face was found in the output; the driver's blinks shaded), and the
    frame-to-frame change of both."""
    # The object API on an Agg canvas: no pyplot, so no global backend to set and no screen needed,
    # and nothing is left open in a long-running process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def values(v: list) -> np.ndarray:
        return np.array([np.nan if x is None else x for x in v], np.float64)

    fig = Figure(figsize=PLOT_INCHES, dpi=PLOT_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1, sharex=True)
    panels = [
        ("mouth_opening", "mouth opening\n÷ eye distance"),
        ("eye_openness", "eye openness\n÷ eye distance"),
        ("change", "frame-to-frame\nchange (0-255)"),
    ]
    frames = np.asarray(series["frame"])
    for ax, (key, label) in zip(axes, panels, strict=True):
        for who in ("driver", "output"):
            ax.plot(frames, values(series[key][who]), label=who, linewidth=1.2)
        ax.set_ylabel(label)
        shade_frames(ax, frames, series)  # grey: held as covered; red: output shape broken
        ax.grid(alpha=0.3)
        if key == "eye_openness":  # the driver's blinks (app.blinks), each a green band
            for start, end in series.get("blinks", []):
                ax.axvspan(start - 0.5, end + 0.5, color="tab:green", alpha=0.2, linewidth=0)
        ax.legend(loc="upper right", fontsize="small")
    axes[-1].set_xlabel("frame of the driving video")
    fig.suptitle(title)
    fig.savefig(path, dpi=PLOT_DPI, format="png")


def plot_picture(series: dict, title: str) -> Picture:
    return Picture(
        "plot",
        "plot: mouth, eyes and change over time, driver and output",
        lambda path: plot_series(path, series, title),
    )


def plot_size() -> tuple[int, int]:
    """(height, width) in pixels of the plot."""
    return round(PLOT_INCHES[1] * PLOT_DPI), round(PLOT_INCHES[0] * PLOT_DPI)


def pictures_base(json_path: str | None, directory: str | None, stem: str) -> str | None:
    """Where pictures go, as a path less `.<name>.png`: beside the JSON (`X.json` → `X.sheet.png`),
    or in `directory` under the JSON's name or else `stem`; None when neither is given. The
    directory is made if missing; InputError, one line, when it cannot be, before the long work."""
    name = stem
    if json_path:
        path = Path(json_path)
        name = path.stem if path.suffix == ".json" else path.name
        if not directory:
            return str(path.with_name(name))
    if not directory:
        return None
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise InputError(f"{directory}: cannot make a folder there ({e.strerror or e})") from None
    if not os.access(directory, os.W_OK):
        raise InputError(f"{directory}: cannot write there ({os.strerror(errno.EACCES)})")
    return str(Path(directory) / name)


def write_pictures(base: str, pictures: Sequence[Picture]) -> list[tuple[str, str]]:
    """Each picture written atomically to `<base>.<name>.png`; (caption, path) of each."""
    written = []
    for picture in pictures:
        path = f"{base}.{picture.name}{SUFFIX}"
        try:
            with atomic_path(path) as tmp:
                picture.write(tmp)
        except OSError as e:
            raise InputError(f"{path}: cannot write there ({e.strerror or e})") from None
        written.append((picture.caption, path))
    return written
