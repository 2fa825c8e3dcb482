"""The bundle core for every kind: the registry, the input each kind takes, ONNX export for any
kind (export-onnx, and a failed export during training), with fresh tiny networks."""

from __future__ import annotations

import importlib.util
import json
import logging

import numpy as np
import pytest

from common.errors import InputError
from gan.bundle import input_of, load_bundle

HAS_ONNX = bool(importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime"))
INFO = {"size": 64, "mode": "aligned", "steps": 0, "metrics": {}}


def drawing_bundle(path):
    import keras

    from gan.kinds.drawing.bundle import save_bundle
    from gan.kinds.drawing.models import Generator

    keras.utils.set_random_seed(0)
    return save_bundle(path, Generator(64, 4), INFO)


def swap_bundle(path, onnx=False):
    import keras

    from gan.kinds.swap.bundle import save_swap_bundle
    from gan.kinds.swap.models import swap_networks

    keras.utils.set_random_seed(0)
    net = swap_networks(64, 4, 8)
    return save_swap_bundle(path, net.to_target, net.to_user, INFO, onnx=onnx)


def test_one_loader_for_every_kind_and_each_says_what_it_takes(tmp_path):
    drawing = load_bundle(drawing_bundle(tmp_path / "drawing"))
    swap = load_bundle(swap_bundle(tmp_path / "swap"))
    assert (drawing.kind, drawing.input) == ("pix2pix", "drawing")
    assert (swap.kind, swap.input) == ("swap", "face_crop")
    # From bundle.json alone, before any model loads: how the app picks its mode.
    assert (
        input_of(tmp_path / "drawing") == "drawing" and input_of(tmp_path / "swap") == "face_crop"
    )
    crops = np.zeros((2, 64, 64, 3), np.uint8)
    assert drawing(crops).shape == swap(crops).shape == crops.shape
    # A bundle written before kinds is a drawing bundle; a kind this program lacks is one line.
    info_file = tmp_path / "drawing" / "bundle.json"
    info = json.loads(info_file.read_text())
    info_file.write_text(json.dumps({k: v for k, v in info.items() if k != "kind"}))
    assert load_bundle(tmp_path / "drawing").input == "drawing"
    info_file.write_text(json.dumps({**info, "kind": "vae"}))
    with pytest.raises(InputError, match="unknown kind 'vae'") as caught:
        load_bundle(tmp_path / "drawing")
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match="is a pix2pix bundle; this needs a swap bundle"):
        load_bundle(drawing_bundle(tmp_path / "again"), kind="swap")


@pytest.mark.skipif(not HAS_ONNX, reason="tf2onnx and onnxruntime are needed to export")
def test_export_onnx_completes_a_swap_bundle_written_without_it(tmp_path, capsys):
    from gan.bundle.export import main as export_main

    model = swap_bundle(tmp_path / "swap")
    with pytest.raises(InputError, match="export-onnx"):
        load_bundle(model, backend="onnx")
    assert export_main([str(model)]) == 0
    out = capsys.readouterr().out
    assert "swap_target.onnx written" in out and "swap_user.onnx written" in out
    onnx, keras = load_bundle(model), load_bundle(model, backend="keras")
    assert onnx.backend == "onnx"
    crops = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    assert np.abs(onnx(crops).astype(int) - keras(crops)).max() <= 1
    assert np.abs(onnx.reconstruct(crops).astype(int) - keras.reconstruct(crops)).max() <= 1


@pytest.mark.parametrize("kind", ["drawing", "swap"])
def test_a_failed_onnx_export_is_a_warning_for_every_kind(kind, tmp_path, monkeypatch, caplog):
    """The end of a long run: the bundle is whole without its ONNX files, Keras runs it."""
    import gan.bundle.write

    def fails(model, path):
        raise RuntimeError("ONNX export differs from Keras by 1e-2")

    monkeypatch.setattr(gan.bundle.write, "export_onnx", fails)
    (tmp_path / "model").mkdir()
    stale = "generator.onnx" if kind == "drawing" else "swap_target.onnx"
    (tmp_path / "model" / stale).write_bytes(b"from an earlier save")
    writer = logging.getLogger("gan.bundle.write")  # "gan" may not propagate: a command set it
    writer.addHandler(caplog.handler)
    try:
        if kind == "drawing":
            from gan.kinds.drawing.bundle import save_bundle
            from gan.kinds.drawing.models import Generator

            save_bundle(tmp_path / "model", Generator(64, 4), INFO, onnx=True)
        else:
            swap_bundle(tmp_path / "model", onnx=True)
    finally:
        writer.removeHandler(caplog.handler)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned and all("export-onnx" in w and "differs" in w for w in warned), warned
    files = json.loads((tmp_path / "model" / "bundle.json").read_text())["files"]
    assert not [name for name in files if name.endswith(".onnx")]
    assert not list((tmp_path / "model").glob("*.onnx"))  # and none left from before
    assert load_bundle(tmp_path / "model").backend == "keras"
