"""The generator on ONNX Runtime: export round trip, backend choice, damaged files, the window."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.model import load_model
from app.reenact import main as reenact_main
from common.errors import InputError
from gan.bundle import load_bundle
from gan.bundle.export import main as export_main
from gan.bundle.onnx import TOLERANCE, open_session
from landmarks.dataset_format import load_index, read_pair

# Milliseconds after which a wait in the window is a hang, never a measurement.
HANG_MS = 120_000


def drawings(dataset: Path, n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Held-out drawings and their points (the tiny model's size is the dataset's)."""
    index = load_index(dataset)
    rows = index.rows("val")[:n]
    return np.stack([read_pair(index.path(row))[0] for row in rows]), index.points[rows]


def without_onnx(model: Path, to: Path) -> Path:
    """A copy of the bundle as written before ONNX: no generator.onnx, not in the files list."""
    shutil.copytree(model, to)
    (to / "generator.onnx").unlink()
    info = json.loads((to / "bundle.json").read_text())
    del info["files"]["generator.onnx"]
    (to / "bundle.json").write_text(json.dumps(info))
    return to


def one_line(capfd) -> str:
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_train_pix2pix_writes_an_onnx_generator_equal_to_keras(tiny_model, sample_dataset):
    info = json.loads((tiny_model / "bundle.json").read_text())
    record = info["files"]["generator.onnx"]
    assert record["bytes"] == (tiny_model / "generator.onnx").stat().st_size > 0
    # Every instance norm became ONNX's fused operator (gan/onnx_graph.py), none is left as the
    # ~20-node subgraph tf2onnx writes for it.
    import onnx

    ops = [n.op_type for n in onnx.load(str(tiny_model / "generator.onnx")).graph.node]
    assert ops.count("InstanceNormalization") >= 3 and "ReduceMean" not in ops
    onnx, keras = load_bundle(tiny_model), load_bundle(tiny_model, backend="keras")
    assert onnx.backend == "onnx" and keras.backend == "keras"
    assert onnx.backend_label.startswith("ONNX Runtime") and keras.backend_label.startswith("Keras")
    x, points = drawings(sample_dataset)
    inputs = keras.inputs(x, points)  # drawing, warped reference photo and mask channels
    diff = np.max(np.abs(onnx.raw(inputs) - keras.raw(inputs)))
    assert diff <= TOLERANCE, diff
    # The same faces, uint8, as the app sees them (rounding may move a value by one level).
    faces_onnx, faces_keras = onnx(x, points=points), keras(x, points=points)
    assert faces_onnx.shape == x.shape and faces_onnx.dtype == np.uint8
    assert np.abs(faces_onnx.astype(int) - faces_keras.astype(int)).max() <= 1
    # Deterministic: the same drawing gives the same face, alone or in a batch.
    assert np.array_equal(onnx(x[0], points=points[0]), onnx(x, points=points)[0])


def test_a_bundle_without_onnx_runs_on_keras_until_export_onnx_adds_it(
    tiny_model, sample_dataset, tmp_path, capfd
):
    old = without_onnx(tiny_model, tmp_path / "old")
    assert load_bundle(old).backend == "keras"
    with pytest.raises(InputError, match="export-onnx"):
        load_bundle(old, backend="onnx")

    assert export_main([str(old)]) == 0
    assert "generator.onnx written" in capfd.readouterr().out
    bundle = load_bundle(old)
    assert bundle.backend == "onnx"
    x, points = drawings(sample_dataset, 2)
    now, before = bundle(x, points=points), load_bundle(tiny_model)(x, points=points)
    assert np.abs(now.astype(int) - before.astype(int)).max() <= 1


def test_backend_onnx_on_a_bundle_without_it_exits_2_with_one_line(
    tiny_model, sample_video, tmp_path, capfd
):
    old = without_onnx(tiny_model, tmp_path / "old")
    args = ["--model", str(old), "--source", str(sample_video), "-o", str(tmp_path / "o.mp4")]
    assert reenact_main([*args, "--backend", "onnx", "-q"]) == 2
    line = one_line(capfd)
    assert line.startswith("reenact: error:") and "export-onnx" in line, line
    assert not (tmp_path / "o.mp4").exists()


def test_a_damaged_onnx_file_is_refused_and_auto_says_it_falls_back(tiny_model, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model, damaged)
    data = bytearray((damaged / "generator.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (damaged / "generator.onnx").write_bytes(bytes(data))

    with pytest.raises(InputError, match="checksum"):
        load_bundle(damaged, backend="onnx")
    bundle = load_model(damaged, warm_up=False)  # auto
    assert bundle.backend == "keras"
    assert bundle.note and "checksum" in bundle.note and "generator.keras" in bundle.note


def test_a_file_that_is_no_onnx_model_is_refused_with_one_line(tmp_path):
    junk = tmp_path / "generator.onnx"
    junk.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    with pytest.raises(InputError, match="cannot load") as caught:
        open_session(junk)
    assert "\n" not in str(caught.value)


def test_training_without_onnx_leaves_no_stale_onnx_file(tiny_model, sample_dataset, tmp_path):
    from gan.kinds.drawing.train import main as train_main

    run = tmp_path / "run"
    shutil.copytree(tiny_model, run / "model")  # an ONNX file from an earlier run
    args = [str(sample_dataset), "-o", str(run), "--size", "64", "--ngf", "4", "--ndf", "4"]
    assert train_main([*args, "--steps", "2", "--no-onnx", "--force", "-q"]) == 0
    info = json.loads((run / "model" / "bundle.json").read_text())
    assert "generator.onnx" not in info["files"]
    assert not (run / "model" / "generator.onnx").exists()
    assert load_bundle(run / "model").backend == "keras"


def test_the_window_names_the_backend(qtbot, tiny_model, tmp_path):
    from PyQt5.QtCore import QSettings

    from app.window import MirrorWindow

    settings = QSettings(str(tmp_path / "live-mirror.ini"), QSettings.IniFormat)
    window = MirrorWindow(settings, model=str(tiny_model), source="")
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.session.model_path is not None, timeout=HANG_MS)
    assert "ONNX Runtime" in window.status_text()
    window.close()

    keras_window = MirrorWindow(settings, model=str(tiny_model), source="", backend="keras")
    qtbot.addWidget(keras_window)
    qtbot.waitUntil(lambda: keras_window.session.model_path is not None, timeout=HANG_MS)
    assert "Keras" in keras_window.status_text()
    keras_window.close()
