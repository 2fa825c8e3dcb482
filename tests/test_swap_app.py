"""Face-swap mode in the app: the blend, render_swap, the window, reenact and evaluate --driver.

Real dlib, real Qt (offscreen) and a real swap bundle: train-swap for a few steps on the sample
(the target) and the astronaut photo as a clip (the user), built once for the session.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import CLIP_FRAMES, read_plot, read_sheet

from app.modes import DrawingMode, FaceCropMode, mode_for, require_swap
from app.pipeline import Frame
from app.swap import bundle_blend, render_swap, swap_output
from common.errors import InputError
from common.outline import FOREHEAD, face_outline
from landmarks import Alignment, FaceTracker
from landmarks.blend import (
    BlendParams,
    crop_outline,
    feathered_mask,
    match_colour,
    paste_face,
    poisson_clone,
    seam_contrast,
)

# Milliseconds after which a wait in the window is a hang, never a measurement.
HANG_MS = 120_000

ROOT = Path(__file__).resolve().parent.parent
SWAP_ALIGNMENT = {"mode": "aligned", "crop_scale": 2.2, "centre_y": 0.5}
SIZE = 64


@pytest.fixture(scope="session")
def swap_bundle(swap_model):
    """The swap bundle as the app loads it (ONNX Runtime: train-swap exports it)."""
    from app.model import load_model

    bundle = load_model(swap_model)
    assert bundle.kind == "swap" and bundle.size == SIZE
    return bundle


@pytest.fixture(scope="session")
def faces(sample_frames) -> list[tuple[np.ndarray, np.ndarray]]:
    """(BGR frame, tracked points) for the sample's frames with a face, at webcam size."""
    tracker = FaceTracker()
    out = []
    for bgr in sample_frames[:40]:
        big = cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_LINEAR)
        points = tracker(big).points
        if points is not None:
            out.append((big, points))
    assert len(out) > 30
    return out


# -- the blend -----------------------------------------------------------------------------------


def full_alpha(shape: tuple[int, ...], box, alpha: np.ndarray) -> np.ndarray:
    out = np.zeros(shape[:2], np.float32)
    out[box] = alpha
    return out


def hull(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(bool)


@pytest.mark.parametrize("method", ["alpha", "poisson"])
def test_the_blend_leaves_every_pixel_outside_the_mask_untouched(faces, method):
    bgr, points = faces[10]
    frame = np.ascontiguousarray(bgr[..., ::-1])
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    matrix = Alignment.from_dict(SWAP_ALIGNMENT).matrix(points, SIZE, frame.shape)
    out, box, alpha = paste_face(frame, crop, matrix, points, BlendParams(method=method))
    assert out.shape == frame.shape and out is not frame
    a = full_alpha(frame.shape, box, alpha)
    assert np.array_equal(out[a == 0], frame[a == 0])
    assert (a > 0).any()
    assert (a[~hull(points, frame.shape)] == 0).all()  # the mask stays inside the face's hull
    assert (out[a > 0.5] != frame[a > 0.5]).any(axis=-1).mean() > 0.9  # the face is replaced
    assert a.max() == pytest.approx(1.0) and 0 < ((a > 0) & (a < 1)).sum() < (a == 1).sum()


def test_the_swap_blends_the_brows_and_the_band_its_bundle_learned(faces, swap_bundle):
    bgr, points = faces[10]
    assert swap_bundle.forehead == FOREHEAD
    params = bundle_blend(swap_bundle, BlendParams(method="poisson"))
    assert (params.method, params.forehead) == ("poisson", FOREHEAD)
    banded = full_alpha(bgr.shape, *feathered_mask(points, bgr.shape, params))
    hull_only = full_alpha(bgr.shape, *feathered_mask(points, bgr.shape))
    x, y = np.round(points[19:25]).astype(int).T  # the brows but their outer ends
    assert (banded[y, x] == 1).all()  # wholly the target's
    assert (hull_only[y, x] < 1).all()  # on the hull's edge: half the user's before the band
    assert (banded[~hull(face_outline(points), bgr.shape)] == 0).all()
    assert (banded >= hull_only).all()
    # A bundle that does not say (trained before the band): the hull alone, as it learned.
    assert bundle_blend(SimpleNamespace()).forehead == 0.0


def test_a_face_cut_by_the_frame_edge_blends_up_to_the_edge(faces):
    bgr, points = faces[10]
    frame = np.ascontiguousarray(bgr[..., ::-1])
    shifted = points - [points[:, 0].min() + 30, 0]  # the left of the face out of the frame
    box, alpha = feathered_mask(shifted, frame.shape)
    a = full_alpha(frame.shape, box, alpha)
    row = int(shifted[30, 1])
    assert a[row, 0] == pytest.approx(1.0)  # no feather along the frame's own edge
    crop = np.full((SIZE, SIZE, 3), 200, np.uint8)
    matrix = Alignment.from_dict(SWAP_ALIGNMENT).matrix(shifted, SIZE, frame.shape)
    out, box, alpha = paste_face(frame, crop, matrix, shifted, BlendParams(method="poisson"))
    a = full_alpha(frame.shape, box, alpha)
    assert np.array_equal(out[a == 0], frame[a == 0])


def test_the_mask_stays_where_the_crop_has_a_picture(faces):
    bgr, points = faces[0]
    matrix = Alignment(crop_scale=1.2).matrix(points, SIZE, bgr.shape)  # a crop too tight
    box, alpha = feathered_mask(points, bgr.shape, within=crop_outline(matrix, SIZE))
    a = full_alpha(bgr.shape, box, alpha)
    ys, xs = np.nonzero(a)
    inside = np.stack([xs, ys], 1) @ matrix[:, :2].T + matrix[:, 2]
    assert inside.min() >= -0.5 and inside.max() <= SIZE - 0.5


@pytest.mark.parametrize(
    "rows, cols", [((40, 161), (50, 151)), ((40, 160), (50, 150)), ((0, 150), (0, 120))]
)
def test_poisson_clone_puts_every_pixel_where_it_was(faces, rows, cols):
    bgr, _ = faces[0]
    source = np.ascontiguousarray(bgr[100:300, 200:400])
    mask = np.zeros(source.shape[:2], bool)
    mask[slice(*rows), slice(*cols)] = True  # odd and even sides, and touching the edge
    out = poisson_clone(source, np.full_like(source, 128), mask).astype(float)
    inner = slice(rows[0] + 10, rows[1] - 10), slice(cols[0] + 10, cols[1] - 10)

    def roughness(dy: int, dx: int) -> float:
        """Out − the source moved by (dy, dx): smooth (a gentle offset) only where it belongs."""
        d = (out - np.roll(source.astype(float), (dy, dx), axis=(0, 1)))[inner]
        return float(np.abs(np.diff(d, axis=0)).mean() + np.abs(np.diff(d, axis=1)).mean())

    here = roughness(0, 0)
    assert here < 1.5 and all(here < roughness(dy, dx) for dy, dx in ((0, 1), (1, 0), (-1, -1)))


def test_colour_matching_takes_on_the_reference_skin():
    rng = np.random.default_rng(1)
    reference = np.clip(rng.normal([180, 120, 100], 12, (64, 64, 3)), 0, 255).astype(np.uint8)
    image = np.clip(rng.normal([90, 110, 160], 25, (64, 64, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    out = match_colour(image, reference, mask)
    assert np.abs(out[16:48, 16:48].mean((0, 1)) - reference[16:48, 16:48].mean((0, 1))).max() < 4
    assert match_colour(image, reference, np.zeros((64, 64), np.uint8)) is image


def test_seam_contrast_sees_a_hard_paste(faces):
    bgr, points = faces[5]
    frame = np.ascontiguousarray(bgr[..., ::-1])
    box, alpha = feathered_mask(points, frame.shape)
    grey = np.full((SIZE, SIZE, 3), 128, np.uint8)
    hard = frame[box].copy()
    hard[alpha > 0] = 255
    soft = paste_face(frame, grey, np.eye(2, 3) * [[SIZE / 640], [SIZE / 480]], points)[0][box]
    camera = seam_contrast(frame[box], alpha)
    assert seam_contrast(hard, alpha) > 3 * camera
    assert seam_contrast(soft, alpha) < seam_contrast(hard, alpha) / 2


# -- render_swap ---------------------------------------------------------------------------------


def test_render_swap_returns_the_camera_frame_with_the_face_replaced(swap_bundle, faces):
    bgr, points = faces[12]
    frame = Frame(0, 0.0, bgr, points=points, face=True)
    out = render_swap(swap_bundle, frame)
    camera = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert out.shape == camera.shape and out.dtype == np.uint8
    face = hull(face_outline(points, swap_bundle.forehead), bgr.shape)  # with the forehead band
    changed = (out != camera).any(axis=-1)
    assert changed[face].mean() > 0.5 and not changed[~face].any()
    # Without points (no face) the camera frame comes back as it is, in RGB.
    assert np.array_equal(render_swap(swap_bundle, Frame(1, 0.0, bgr)), camera)
    # What sinks show: the composited frame for a frame with a face, else the camera.
    frame.composited = out
    assert swap_output(frame) is out
    assert np.array_equal(swap_output(Frame(2, 0.0, bgr, composited=out)), camera)


def test_swap_only_code_refuses_another_kind(swap_bundle, tmp_path):
    require_swap(swap_bundle)

    class Pix2Pix:
        path = tmp_path / "model"

    with pytest.raises(InputError, match="is a pix2pix bundle, and the blend needs a swap"):
        require_swap(Pix2Pix(), "the blend")


# -- the commands and the window, through the code the live mirror runs ---------------------------


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_the_mode_comes_from_the_bundles_input_contract(swap_bundle, faces):
    """A swap bundle takes the camera's face: its mode composites; the frame keeps both the
    model-size face and the composited frame, each in its own field."""
    mode = mode_for(swap_bundle)
    assert isinstance(mode, FaceCropMode) and swap_bundle.input == "face_crop"
    assert isinstance(mode_for(None), DrawingMode)  # no model yet: the drawing is shown
    bgr, points = faces[5]
    frame = Frame(0, 0.0, bgr, points=points, face=True)
    mode.render(frame)
    assert frame.generated.shape == (SIZE, SIZE, 3) and frame.composited.shape == bgr.shape
    assert mode.output(frame) is frame.composited
    assert mode.output_size(bgr.shape, side_by_side=False) == (bgr.shape[1], bgr.shape[0])


def test_evaluate_on_a_dataset_refuses_a_swap_bundle_in_one_line(
    swap_model, sample_dataset, tmp_path, capsys
):
    from app.evaluate import main as evaluate_main

    out = tmp_path / "eval.json"
    args = ["--model", swap_model, "--dataset", str(sample_dataset), "--json", str(out), "-q"]
    assert evaluate_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("evaluate: error:"), err
    assert "swap bundle" in err and "--driver" in err
    assert not out.exists()


def test_reenact_writes_the_composited_camera_frames(swap_model, astronaut_clip, tmp_path):
    from app.reenact import main as reenact_main

    out = tmp_path / "swap.mp4"
    args = ["--model", swap_model, "--source", str(astronaut_clip), "-q"]
    assert reenact_main([*args, "-o", str(out)]) == 0
    frames, source = read_video(out), read_video(astronaut_clip)
    assert len(frames) == CLIP_FRAMES and frames[0].shape == source[0].shape == (240, 320, 3)
    # The camera frame is kept (give or take the codec) and the face in it is replaced.
    tracker, inside, outside = FaceTracker(), [], []
    for written, camera in zip(frames, source, strict=True):
        points = tracker(camera).points
        if points is not None:
            diff = np.abs(written.astype(int) - camera).mean(axis=-1)
            face = hull(points, camera.shape)
            inside.append(diff[face].mean())
            outside.append(diff[~face].mean())
    assert len(inside) > CLIP_FRAMES - 5
    assert np.mean(outside) < 4 and np.mean(inside) > 3 * np.mean(outside)

    sbs = tmp_path / "sbs.mp4"
    assert reenact_main([*args, "-o", str(sbs), "--side-by-side", "--blend", "poisson"]) == 0
    frames = read_video(sbs)
    assert len(frames) == CLIP_FRAMES and frames[0].shape == (240, 2 * 320 + 240, 3)
    alpha = read_video(out)  # driver | landmarks | swapped, and Poisson's swapped is its own
    diff = [np.abs(f[:, -320:].astype(int) - a).mean() for f, a in zip(frames, alpha, strict=True)]
    assert np.mean(diff) > 0.1


def test_evaluate_driver_measures_the_swap(swap_model, astronaut_clip, tmp_path, capsys):
    from app.evaluate import main as evaluate_main

    out, pictures = tmp_path / "swap.json", tmp_path / "pictures"
    args = ["--model", swap_model, "--driver", str(astronaut_clip), "--json", str(out)]
    assert evaluate_main([*args, "--pictures", str(pictures), "--limit", "30", "-q"]) == 0
    r = json.loads(out.read_text())
    assert r["kind"] == "swap" and r["frames"] == 30 and r["driver_face_found"] > 0.9
    assert r["target_descriptor"] is True and 0 <= r["output_face_found"] <= 1
    # The astronaut is not the sample's man; measured on the camera's own crops, as outputs are.
    assert r["camera_identity_distance"] > 0.6 and 0 <= r["nme_camera"] < 0.2
    if r["output_face_found"] > 0:  # a barely trained model may paint no face at all
        assert 0 <= r["identity_distance"] < 2 and 0 <= r["user_identity_distance"] < 2
        assert 0 <= r["nme"] < 2
    assert r["temporal_ratio"] > 0 and r["seam"]["output"] > 0 and r["seam"]["camera"] > 0
    assert r["seam"]["ring_vs_camera"] > 0
    assert r["stage_ms"]["generator"] > 0
    table = capsys.readouterr().out
    assert "swap bundle" in table and "identity distance to user" in table and "seam" in table
    # The pictures, in the folder named, under the JSON's name: camera | swapped, and the plot.
    sheet, plot = pictures / "swap.sheet.png", pictures / "swap.plot.png"
    assert sorted(pictures.iterdir()) == [plot, sheet]
    assert f": {sheet}" in table and f": {plot}" in table
    faces = len(r["series"]["frame"])
    assert faces == round(r["driver_face_found"] * 30)
    cells = read_sheet(sheet, min(8, faces), 2)
    # The swap changes the face: the swapped column is not the camera's.
    assert np.abs(cells[:, 0].astype(int) - cells[:, 1]).mean() > 1
    read_plot(plot)


def test_the_blend_benchmark_times_alpha_and_poisson(swap_model, astronaut_clip, capsys):
    from app.bench import main as bench_main

    assert bench_main(["--model", swap_model, "--source", str(astronaut_clip), "--blend-only"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["frames"] > 30 and r["size"] == [480, 640, 3]
    assert 0 < r["alpha"]["blend"] and 0 < r["poisson"]["blend"] and r["alpha"]["model"] > 0


def test_swap_only_code_given_a_pix2pix_bundle_exits_2_with_one_line(
    tmp_path, sample_video, capsys
):
    from app.bench import main as bench_main

    model = tmp_path / "pix2pix"
    model.mkdir()
    info = {"format": "face-mirror-model", "version": 1, "size": 64}
    (model / "bundle.json").write_text(json.dumps(info))
    assert bench_main(["--model", str(model), "--source", str(sample_video), "--blend-only"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pix2pix bundle" in err and "swap" in err, err
    from app.reenact import main as reenact_main

    out = tmp_path / "out.mp4"
    args = ["--model", str(model), "--source", str(sample_video), "-o", str(out), "-q"]
    assert reenact_main([*args, "--blend", "poisson"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--blend poisson" in err and "pix2pix bundle" in err, err
    assert not out.exists()


def view_pixels(pixmap) -> np.ndarray:
    from PyQt5.QtGui import QImage

    image = pixmap.toImage().convertToFormat(QImage.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.byteCount())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def test_the_window_shows_the_composited_frame(qtbot, swap_model, astronaut_clip, tmp_path):
    from PyQt5.QtCore import QSettings

    from app.window import MirrorWindow

    settings = QSettings(str(tmp_path / "live-mirror.ini"), QSettings.IniFormat)
    settings.setValue("record_dir", str(tmp_path))
    window = MirrorWindow(settings, model=swap_model, source=str(astronaut_clip), loop=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.views["generated"].title.text() == "swapped", timeout=HANG_MS)
    assert window.session.model_path == swap_model and "swap model" in window.notice.text()
    qtbot.waitUntil(lambda: "swap" in window.stats_label.text(), timeout=HANG_MS)
    assert "retarget" not in window.stats_label.text()

    def changed() -> float:
        """Share of the generated view's pixels that differ from the camera view's (same frame)."""
        camera, swapped = (window.views[n].pixmap() for n in ("camera", "generated"))
        if camera is None or swapped is None or not window.last_face:
            return 0.0
        camera, swapped = view_pixels(camera), view_pixels(swapped)
        # The whole camera frame at its own aspect, as big as the camera view's picture.
        assert swapped.shape == camera.shape
        assert swapped.shape[1] / swapped.shape[0] == pytest.approx(320 / 240, abs=0.03)
        return float((np.abs(swapped.astype(int) - camera).max(axis=-1) > 30).mean())

    # Until the first frame the model's crop is made for, the camera shows as it is.
    qtbot.waitUntil(lambda: changed() > 0.005, timeout=HANG_MS)
    assert changed() < 0.3  # the face is new, the rest is the camera's

    # The recording takes the composited frame too, at the camera's size.
    window.toggle_recording(True)
    assert window.session.recorder.swap
    qtbot.waitUntil(lambda: window.session.recorder.recorder.frames >= 10, timeout=HANG_MS)
    recorded = window.session.stop_recording()
    frames = read_video(recorded)
    assert frames and frames[0].shape == (240, 320, 3)
    window.close()


def test_a_128_px_swap_bundle_exports_to_onnx_and_reenacts(
    sample_dataset, astronaut_clip_dataset, astronaut_clip, tmp_path
):
    """The sharper size: a 128 px bundle (here from 64 px datasets, upsampled), written without
    ONNX, gets it from export-onnx and swaps a clip through reenact on ONNX Runtime."""
    from app.model import load_model
    from app.reenact import main as reenact_main
    from gan.bundle.export import main as export_main
    from gan.kinds.swap.train import main as train_swap

    run = tmp_path / "run"
    args = [str(sample_dataset), str(astronaut_clip_dataset), "-o", str(run), "--size", "128"]
    args += ["--width", "8", "--bottleneck", "32", "--batch-size", "2", "--steps", "2", "-q"]
    assert train_swap([*args, "--no-onnx"]) == 0
    model = run / "model"
    info = json.loads((model / "bundle.json").read_text())
    assert info["size"] == 128 and not any(name.endswith(".onnx") for name in info["files"])

    assert export_main([str(model)]) == 0
    info = json.loads((model / "bundle.json").read_text())
    assert sorted(n for n in info["files"] if n.endswith(".onnx")) == [
        "swap_target.onnx",
        "swap_user.onnx",
    ]
    bundle = load_model(model)
    assert bundle.size == 128 and "ONNX" in bundle.backend_label
    crop = np.full((1, 128, 128, 3), 120, np.uint8)
    assert bundle(crop).shape == (1, 128, 128, 3)

    out = tmp_path / "swap128.mp4"
    assert (
        reenact_main(["--model", str(model), "--source", str(astronaut_clip), "-o", str(out)]) == 0
    )
    frames, source = read_video(out), read_video(astronaut_clip)
    assert len(frames) == CLIP_FRAMES and frames[0].shape == source[0].shape
    changed = [np.abs(f.astype(int) - s).mean() for f, s in zip(frames, source, strict=True)]
    assert np.mean(changed) > 1  # the face in the frames is the bundle's
