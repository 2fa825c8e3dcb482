"""Session fixtures built from the real sample video: built once, shared by every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ARTIFACTS = Path(
    os.environ.get("FACE_MIRROR_ARTIFACTS", Path(__file__).resolve().parent.parent / "artifacts")
)


@pytest.fixture(scope="session")
def sample_video() -> Path:
    from landmarks.video import sample_video_path

    path = Path(sample_video_path())
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def sample_frames(sample_video: Path) -> list:
    """The sample's 120 BGR frames, decoded once."""
    from landmarks.video import open_source

    return [f for _, f in open_source(str(sample_video)).read()]


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    """The sample video as a 64 px aligned dataset (the size the tiny test model trains at)."""
    from landmarks.dataset import DatasetConfig, build_dataset

    out = tmp_path_factory.mktemp("sample") / "dataset"
    build_dataset(
        DatasetConfig(inputs=[str(sample_video)], output=str(out), size=64), progress=False
    )
    return out


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


TINY_STEPS = int(os.environ.get("FACE_MIRROR_TEST_STEPS", "300"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, sample_dataset: Path) -> Path:
    """A 64 px generator, small widths, trained briefly on the sample: a real bundle, built once."""
    from gan.kinds.drawing.train import main as train_main

    run = tmp_path_factory.mktemp("tiny") / "run"
    code = train_main(
        [
            str(sample_dataset),
            "-o",
            str(run),
            "--size",
            "64",
            "--ngf",
            "8",
            "--ndf",
            "8",
            "--steps",
            str(TINY_STEPS),
            "--checkpoint-every",
            str(TINY_STEPS),
            "--val-every",
            str(TINY_STEPS),
            "-q",
        ]
    )
    assert code in (0, None), code
    assert (run / "model" / "bundle.json").is_file()
    return run / "model"


CLIP_FRAMES = 60  # the astronaut clip's frames
SWAP_STEPS = 20  # the tests' swap bundle: barely trained, a real bundle


@pytest.fixture(scope="session")
def astronaut_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second person: scikit-image's astronaut photo panned, zoomed and rolled (320×240), framed
    as scripts/demo frames her."""
    import importlib.util
    import subprocess
    import sys

    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.origin is not None
    photo = Path(spec.origin).parent / "data" / "astronaut.png"
    out = tmp_path_factory.mktemp("astronaut") / "astronaut.mp4"
    script = Path(__file__).resolve().parent.parent / "scripts" / "still_clip.py"
    args = [sys.executable, str(script), str(photo), str(out), "--frames", str(CLIP_FRAMES)]
    subprocess.run([*args, "--centre", "0.45,0.3"], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def astronaut_clip_dataset(tmp_path_factory: pytest.TempPathFactory, astronaut_clip: Path) -> Path:
    """The astronaut clip as a 64 px aligned dataset: the second person of the swap kinds."""
    from landmarks.dataset import DatasetConfig, build_dataset

    out = tmp_path_factory.mktemp("astronaut-dataset") / "dataset"
    build_dataset(DatasetConfig(inputs=[str(astronaut_clip)], output=str(out), size=64), False)
    return out


@pytest.fixture(scope="session")
def swap_model(tmp_path_factory, sample_dataset, astronaut_clip_dataset) -> str:
    """A 64 px swap bundle, narrow and barely trained (the sample's man as the astronaut)."""
    from gan.kinds.swap.train import main as train_swap

    user = astronaut_clip_dataset
    run = tmp_path_factory.mktemp("swap") / "run"
    args = [str(sample_dataset), str(user), "-o", str(run), "--steps", str(SWAP_STEPS)]
    args += ["--size", "64", "--width", "8", "--bottleneck", "32", "--batch-size", "4", "-q"]
    # The VAE-GAN recipe: its masked L1 draws a face with features within these few steps, which
    # the app's tests measure (sharpness, seams); the sharp recipe's SSIM and squared error start
    # slower, a flat face at 20 steps (its own run is test_swap_train's).
    args += ["--recipe", "vae-gan"]
    args += ["--checkpoint-every", str(SWAP_STEPS), "--val-every", str(SWAP_STEPS)]
    assert train_swap(args) == 0
    assert (run / "model" / "bundle.json").is_file()
    return str(run / "model")


def reenact_changes(model: Path, clip: Path, tmp_path: Path) -> tuple[float, float]:
    """A face-crop bundle through `reenact` on `clip`: the mean share of pixels changed (by more
    than the codec's noise) inside the face's outline, and outside it (beyond a few pixels' margin
    for the codec's smear at an edge), over the frames where a face is found."""
    import cv2
    import numpy as np

    from app.reenact import main as reenact_main
    from common.outline import face_outline
    from gan.bundle.registry import load_bundle
    from landmarks import FaceTracker

    out = tmp_path / "reenacted.mp4"
    assert reenact_main(["--model", str(model), "--source", str(clip), "-o", str(out), "-q"]) == 0
    forehead = load_bundle(model).forehead
    written, source = read_frames(out), read_frames(clip)
    assert len(written) == len(source) == CLIP_FRAMES
    tracker, inside, outside = FaceTracker(), [], []
    for w, camera in zip(written, source, strict=True):
        points = tracker(camera).points
        if points is None:
            continue
        outline = np.zeros(camera.shape[:2], np.uint8)
        hull = cv2.convexHull(np.round(face_outline(points, forehead)).astype(np.int32))
        cv2.fillConvexPoly(outline, hull, 1)
        near = cv2.dilate(outline, np.ones((7, 7), np.uint8)) > 0
        diff = np.abs(w.astype(int) - camera).max(axis=-1)
        inside.append((diff[outline > 0] > 24).mean())
        outside.append((diff[~near] > 24).mean())
    assert len(inside) > CLIP_FRAMES - 5
    return float(np.mean(inside)), float(np.mean(outside))


def read_frames(path: Path) -> list:
    """Every frame of a video file, BGR."""
    import cv2

    cap, frames = cv2.VideoCapture(str(path)), []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    return frames


def read_sheet(path: Path, rows: int, columns: int):
    """evaluate's contact sheet at `path`: a readable PNG of `rows` × `columns` cells under its
    header (sheet_size), no cell blank; its cells, RGB (rows, columns, CELL, CELL, 3)."""
    import cv2

    from app.pictures import CELL, HEADER, sheet_size

    image = cv2.imread(str(path))
    assert image is not None, path
    assert image.shape == (*sheet_size(rows, columns), 3), image.shape
    cells = image[HEADER:, :, ::-1].reshape(rows, CELL, columns, CELL, 3).swapaxes(1, 2)
    assert all(c.std() > 0 for c in cells.reshape(-1, CELL, CELL, 3)), "a blank cell"
    return cells


def read_plot(path: Path):
    """evaluate --driver's plot at `path`: a readable PNG of the figure's size × dpi."""
    import cv2

    from app.pictures import plot_size

    image = cv2.imread(str(path))
    assert image is not None, path
    assert image.shape == (*plot_size(), 3), image.shape
    assert image.std() > 0
    return image
