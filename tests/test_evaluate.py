"""evaluate on the sample dataset: a perfect stand-in, the nearest neighbour, a tiny model, and
the contact sheet it writes beside its JSON."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest
from conftest import read_sheet

from app.evaluate import (
    FaceMeasures,
    evaluate_outputs,
    load_val_set,
    main,
    nearest_neighbour,
    real_descriptors,
)
from app.model import load_model
from app.modes import mode_for
from app.pictures import SHEET_ROWS, cell, pictures_base, spread
from landmarks import DrawingParams


@pytest.fixture(scope="module")
def val_set(sample_dataset):
    return load_val_set(sample_dataset, 64, DrawingParams())


@pytest.fixture(scope="module")
def measures():
    return FaceMeasures()


def test_a_perfect_generator_scores_the_ceiling(val_set, measures):
    perfect = evaluate_outputs(
        val_set, lambda d, idx: val_set.real[idx], measures, real_descriptors(val_set, measures)
    )
    assert perfect["l1"] == 0 and perfect["psnr"] == 100.0 and perfect["ssim"] == pytest.approx(1.0)
    assert perfect["face_found"] > 0.8
    # What is left is the landmark stage's own noise: small against the eye distance.
    assert perfect["nme"] < 0.12
    assert perfect["identity_distance"] == pytest.approx(0.0, abs=1e-4)
    assert perfect["temporal_ratio"] == pytest.approx(1.0)


def test_the_baseline_is_a_real_face_but_not_the_frame(val_set, measures):
    base = evaluate_outputs(
        val_set, nearest_neighbour(val_set), measures, real_descriptors(val_set, measures)
    )
    assert 0 < base["l1"] < 0.3 and 10 < base["psnr"] < 100 and 0 < base["ssim"] < 1
    assert base["face_found"] > 0.5
    assert base["identity_same"] > 0.5  # it is the same man, from another frame


@pytest.fixture(scope="module")
def evaluated(tiny_model, sample_dataset, tmp_path_factory) -> tuple[dict, str, object]:
    """evaluate on the tiny model, once: (the JSON, what it printed, the JSON's path)."""
    out = tmp_path_factory.mktemp("evaluate") / "eval.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        args = ["--model", str(tiny_model), "--dataset", str(sample_dataset)]
        assert main([*args, "--json", str(out), "-q"]) == 0
    return json.loads(out.read_text()), printed.getvalue(), out


def test_evaluate_the_tiny_model_table_and_json_agree(evaluated, sample_dataset):
    report, table, _ = evaluated
    for method in ("model_metrics", "baseline_metrics"):
        m = report[method]
        assert 0 <= m["l1"] <= 1 and math.isfinite(m["psnr"]) and -1 <= m["ssim"] <= 1
        assert 0 <= m["face_found"] <= 1
        assert m["nme"] is None or (math.isfinite(m["nme"]) and m["nme"] >= 0)
    psnr_line = next(line for line in table.splitlines() if line.startswith("PSNR"))
    assert f"{report['model_metrics']['psnr']:.3f}" in psnr_line
    assert f"{report['baseline_metrics']['psnr']:.3f}" in psnr_line
    assert report["pairs"] == len(val_set_pairs(sample_dataset))


def val_set_pairs(dataset):
    return list((dataset / "val").glob("*.png"))


def test_the_contact_sheet_shows_the_pairs_measured(evaluated, tiny_model, sample_dataset):
    report, table, out = evaluated
    sheet = out.with_name("eval.sheet.png")
    assert sorted(p.name for p in out.parent.iterdir()) == ["eval.json", "eval.sheet.png"]
    assert f": {sheet}" in table.splitlines()[-1]  # the printed lines name it
    rows = spread(report["pairs"])
    assert len(rows) == min(SHEET_ROWS, report["pairs"]) and rows[0] == 0
    cells = read_sheet(sheet, len(rows), 4)  # drawing | model | retrieval | real
    bundle = load_model(tiny_model)
    val = load_val_set(sample_dataset, bundle.size, DrawingParams.from_dict(bundle.drawing))
    for r, i in enumerate(rows):
        assert np.array_equal(cells[r, 3], cell(val.real[i]))
        retrieved = nearest_neighbour(val)(val.drawings[[i]], np.array([i]))[0]
        assert np.array_equal(cells[r, 2], cell(retrieved))
    # The model's column holds its outputs (generated again here, as the tail's video in order,
    # since the reference track carries each frame's retrieval to the next; in another batch:
    # within a grey level), not the real frames.
    made = mode_for(bundle).faces_from_drawings(val.drawings, val.points)[rows]
    model = cells[:, 1].astype(int)
    assert np.abs(model - [cell(m) for m in made]).mean() < 1
    assert np.abs(model - cells[:, 3]).mean() > 1


def test_pictures_go_beside_the_json_or_into_the_folder_named(tmp_path):
    assert pictures_base(str(tmp_path / "eval.json"), None, "evaluation") == str(tmp_path / "eval")
    assert pictures_base(None, None, "evaluation") is None
    folder = tmp_path / "new" / "pictures"
    assert pictures_base(None, str(folder), "driver") == str(folder / "driver")
    assert folder.is_dir()  # made before the long work
    assert pictures_base("r.json", str(folder), "driver") == str(folder / "r")


@pytest.mark.parametrize("which", ["model", "dataset", "json", "pictures"])
def test_bad_paths_are_one_line_and_status_2(which, tiny_model, sample_dataset, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    args = {"model": str(tiny_model), "dataset": str(sample_dataset)}
    outputs = {
        "json": ["--json", str(tmp_path / "missing" / "eval.json")],
        "pictures": ["--pictures", str(tmp_path / "a-file" / "pictures")],  # under a file
    }
    if which in args:
        args[which] = str(tmp_path / "missing")
    extra = outputs.get(which, [])
    assert main(["--model", args["model"], "--dataset", args["dataset"], *extra, "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("evaluate: error:")
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]  # nothing written
