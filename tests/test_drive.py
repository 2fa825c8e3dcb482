"""`evaluate --driver` and --retarget auto on the real sample, tiny model, its pictures; bad driving
videos."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_plot, read_sheet

from app.evaluate import main as evaluate_main
from app.face import FaceStage, ModelSpec, target_descriptor
from app.model import load_model
from app.pictures import SHEET_ROWS
from app.pipeline import Frame
from app.reenact import main as reenact_main

CLIP_FRAMES = 40


@pytest.fixture(scope="module")
def drive_out(tiny_model, sample_video, sample_dataset, tmp_path_factory) -> Path:
    """The JSON evaluate --driver wrote; its pictures beside it."""
    out = tmp_path_factory.mktemp("drive") / "drive.json"
    args = ["--model", str(tiny_model), "--driver", str(sample_video), "--json", str(out)]
    args += ["--dataset", str(sample_dataset), "--limit", str(CLIP_FRAMES), "-q"]
    assert evaluate_main(args) == 0
    pictures = ["drive.json", "drive.plot.png", "drive.sheet.png"]
    assert sorted(p.name for p in out.parent.iterdir()) == pictures  # no temporary left
    return out


@pytest.fixture(scope="module")
def drive_json(drive_out) -> dict:
    return json.loads(drive_out.read_text())


def test_the_report_has_every_figure_in_range(drive_json):
    r = drive_json
    assert r["frames"] == CLIP_FRAMES and r["size"] == 64
    assert r["retarget"] == "auto" and r["target_descriptor"] is True
    assert r["driver_face_found"] > 0.9  # the sample's face is in nearly every frame
    assert 0 <= r["output_face_found"] <= 1
    for key in ("mouth", "eyes", "brows"):
        assert r["correlation"][key] is None or -1 <= r["correlation"][key] <= 1
    assert 0 < r["mouth_opening"]["driver"] < 1
    if r["output_face_found"] > 0:
        assert 0 <= r["nme"] < 1 and 0 <= r["identity_distance"] < 2
    assert r["temporal_change"] > 0 and r["temporal_change_driver"] > 0
    assert r["stage_ms"]["landmarks"] > 0 and r["stage_ms"]["generator"] > 0


def test_the_change_is_also_measured_against_the_target_s_own_video(drive_json, tiny_model):
    # The bundle carries its held-out video's own frame-to-frame change (the sample's tail).
    own = json.loads((tiny_model / "bundle.json").read_text())["target_change"]
    assert 0 < own < 255 and drive_json["temporal_change_target"] == own
    ratio = drive_json["temporal_ratio_target"]
    assert ratio == pytest.approx(drive_json["temporal_change"] / own)


def test_each_expression_figure_comes_with_how_much_the_driver_moved(drive_json):
    series = drive_json["series"]["mouth_opening"]
    found = [i for i, v in enumerate(series["output"]) if v is not None]
    if len(found) < 3:
        pytest.skip("the tiny model's outputs hold too few faces to correlate")
    driver = np.array([series["driver"][i] for i in found])
    assert drive_json["sd_driver"]["mouth"] == pytest.approx(driver.std(), rel=1e-4)
    assert drive_json["sd_driver"]["eyes"] > 0


def test_the_series_are_the_figures_frame_by_frame(drive_json):
    r, series = drive_json, drive_json["series"]
    faces = round(r["driver_face_found"] * r["frames"])
    assert len(series["frame"]) == faces and series["frame"] == sorted(set(series["frame"]))
    for key in ("mouth_opening", "eye_openness", "change"):
        assert len(series[key]["driver"]) == len(series[key]["output"]) == faces
    # The table's figures are these series' means: the opening over outputs with a face, the
    # change over every step from one frame to the next.
    found = [i for i, v in enumerate(series["mouth_opening"]["output"]) if v is not None]
    assert len(found) == round(r["output_face_found"] * faces)
    if found:
        driver = [series["mouth_opening"]["driver"][i] for i in found]
        assert np.mean(driver) == pytest.approx(r["mouth_opening"]["driver"], rel=1e-4)
    change = series["change"]
    assert change["output"][0] is None and change["driver"][0] is None
    assert np.mean(change["output"][1:]) == pytest.approx(r["temporal_change"], rel=1e-4)
    assert np.mean(change["driver"][1:]) == pytest.approx(r["temporal_change_driver"], rel=1e-4)


def test_the_pictures_are_the_sheet_and_the_plot(drive_out, drive_json):
    faces = len(drive_json["series"]["frame"])
    rows = min(SHEET_ROWS, faces)
    cells = read_sheet(drive_out.with_name("drive.sheet.png"), rows, 3)  # driver | drawing | output
    # Rows spread over the clip: the first and last frames with a face are different pictures.
    assert np.abs(cells[0].astype(int) - cells[-1]).mean() > 1
    # A drawing is lines on black; a face is not.
    drawing, output = cells[:, 1], cells[:, 2]
    assert (drawing.max(axis=-1) == 0).mean() > 0.5 and (output.max(axis=-1) == 0).mean() < 0.5
    read_plot(drive_out.with_name("drive.plot.png"))


def test_auto_draws_the_drivers_own_points_when_the_driver_is_the_target(drive_json):
    assert drive_json["driver_identity_distance"] < 0.6
    assert drive_json["retargeting"] is False


def astronaut_path() -> Path | None:
    """A second, real identity: the photo scikit-image's wheel carries, read without importing."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "astronaut.png"
    return path if path.is_file() else None


def test_auto_retargets_another_face(tiny_model, sample_dataset):
    path = astronaut_path()
    if path is None:
        pytest.skip("scikit-image is not installed: its astronaut.png is the second identity")
    photo = cv2.imread(str(path))
    bundle = load_model(tiny_model)
    descriptor = target_descriptor(bundle, sample_dataset)
    spec = ModelSpec.from_bundle(bundle)
    face = FaceStage(
        ModelSpec(spec.size, spec.alignment, spec.drawing, spec.reference_shape, descriptor)
    )
    for i in range(8):  # the photo panned slowly, as a webcam would see a still face
        shifted = np.roll(photo, 2 * i, axis=1)
        assert face(Frame(i, i / 30, shifted)).face
    assert face.identity.is_target is False and face.retargeting
    assert np.median(face.identity.distances) >= 0.6


@pytest.fixture(scope="module")
def faceless_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faceless") / "wall.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(12):
        writer.write(rng.integers(80, 120, (120, 160, 3), np.uint8))
    writer.release()
    return path


def one_line(capfd, prog: str) -> str:
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"{prog}: error: ") and "Traceback" not in err[0]
    return err[0]


def test_bad_driving_videos_exit_2_with_one_line(tiny_model, faceless_video, tmp_path, capfd):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    cases = {f"no face found in any frame of {faceless_video}": faceless_video}
    cases["not a readable video"] = not_video
    for expected, driver in cases.items():
        out = tmp_path / "out.mp4"
        args = ["--model", str(tiny_model), "--source", str(driver), "-o", str(out), "-q"]
        assert reenact_main(args) == 2
        assert expected in one_line(capfd, "reenact")
        assert list(tmp_path.iterdir()) == [not_video]  # nothing written, nothing half-written
        report = tmp_path / "r.json"
        args = ["--model", str(tiny_model), "--driver", str(driver), "--json", str(report), "-q"]
        assert evaluate_main(args) == 2
        assert expected in one_line(capfd, "evaluate")
        assert list(tmp_path.iterdir()) == [not_video]
