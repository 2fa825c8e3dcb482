"""evaluate on the sample dataset: a perfect stand-in, the nearest neighbour, a tiny model."""

from __future__ import annotations

import json
import math

import pytest

from app.evaluate import (
    FaceMeasures,
    evaluate_outputs,
    load_val_set,
    main,
    nearest_neighbour,
    real_descriptors,
)
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


def test_evaluate_the_tiny_model_table_and_json_agree(tiny_model, sample_dataset, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        main(
            ["--model", str(tiny_model), "--dataset", str(sample_dataset), "--json", str(out), "-q"]
        )
        == 0
    )
    table = capsys.readouterr().out
    report = json.loads(out.read_text())
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


@pytest.mark.parametrize("which", ["model", "dataset"])
def test_bad_paths_are_one_line_and_status_2(which, tiny_model, sample_dataset, tmp_path, capsys):
    args = {"model": str(tiny_model), "dataset": str(sample_dataset)}
    args[which] = str(tmp_path / "missing")
    assert main(["--model", args["model"], "--dataset", args["dataset"], "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("evaluate: error:")
