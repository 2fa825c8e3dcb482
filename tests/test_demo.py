"""scripts/demo end to end, as a newcomer runs it, with training cut to a handful of steps."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_end_to_end_and_a_rerun_reuses_its_outputs(tmp_path):
    out = tmp_path / "demo"
    env = {
        **os.environ,
        "FACE_MIRROR_DEMO_DIR": str(out),
        "FACE_MIRROR_MAX_STEPS": "20",
        "FACE_MIRROR_NO_WINDOW": "1",
    }
    run = subprocess.run(
        [str(ROOT / "scripts" / "demo")], env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "dataset" / "manifest.json").is_file()
    bundle = json.loads((out / "run" / "model" / "bundle.json").read_text())
    assert bundle["steps"] == 20
    figures = json.loads((out / "evaluation.json").read_text())
    assert set(figures) >= {"model_metrics", "baseline_metrics"}
    cap = cv2.VideoCapture(str(out / "reenacted.mp4"))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    tail = json.loads((out / "dataset" / "manifest.json").read_text())["sources"][0][
        "val_from_frame"
    ]
    assert frames == 120 - tail
    # The same tail through the live path, measured: the sample is the target driving himself.
    driver = json.loads((out / "driver.json").read_text())
    assert driver["frames"] == 120 - tail and driver["retarget"] == "auto"
    assert driver["target_descriptor"] is True and driver["driver_face_found"] > 0.9
    assert driver["driver_identity_distance"] < 0.6 and driver["retargeting"] is False
    assert 0 <= driver["output_face_found"] <= 1 and 0 < driver["mouth_opening"]["driver"] < 1
    assert all(driver["stage_ms"][stage] > 0 for stage in ("landmarks", "generator"))
    assert "live-mirror" in run.stderr  # says how to open the window where there is no screen
    # The face swap: train-swap's default model (the sharp recipe), through the live path's stages.
    swap = json.loads((out / "swap" / "model" / "bundle.json").read_text())
    assert (swap["kind"], swap["steps"], swap["recipe"], swap["size"]) == ("swap", 20, "sharp", 64)
    assert swap["adversarial_weight"] > 0 and swap["variational"]
    swapped = json.loads((out / "swap-driver.json").read_text())
    assert swapped["frames"] == 90 and swapped["kind"] == "swap"
    # evaluate's pictures, beside each JSON, listed at the end.
    for name in ("evaluation.sheet", "driver.sheet", "driver.plot", "swap-driver.sheet"):
        path = out / f"{name}.png"
        assert cv2.imread(str(path)) is not None and str(path) in run.stderr, name

    again = subprocess.run(
        [str(ROOT / "scripts" / "demo")], env=env, capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already built" in again.stdout
