"""`reenact` on the real sample, tiny model: frame count, rate, side by side, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.reenact import main


def video_info(path: Path) -> tuple[int, float, int, int, list[np.ndarray]]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    fps = cap.get(cv2.CAP_PROP_FPS)
    return (
        len(frames),
        fps,
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        frames,
    )


def test_reenact_writes_every_frame_at_the_sources_rate(tiny_model, sample_video, tmp_path):
    out = tmp_path / "out.mp4"
    assert (
        main(["--model", str(tiny_model), "--source", str(sample_video), "-o", str(out), "-q"]) == 0
    )
    n, fps, w, h, frames = video_info(out)
    assert (n, w, h) == (120, 64, 64) and fps == pytest.approx(29.97, abs=0.01)
    assert np.mean([f.std() for f in frames]) > 5  # faces, not a blank video
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # the temporary name is gone


def test_reenact_side_by_side(tiny_model, sample_video, tmp_path):
    out = tmp_path / "sbs.mp4"
    args = [
        "--model",
        str(tiny_model),
        "--source",
        str(sample_video),
        "-o",
        str(out),
        "--side-by-side",
        "-q",
    ]
    assert main([*args, "--no-retarget"]) == 0
    n, _, w, h, frames = video_info(out)
    assert (n, w, h) == (120, 176 + 2 * 144, 144)
    drawing = frames[60][:, 176:320]
    assert drawing.max() > 200 and (drawing > 128).mean() < 0.2  # white lines on black


def test_frames_without_a_face_repeat_the_last_output(tiny_model, sample_video, tmp_path):
    _, fps, w, h, frames = video_info(sample_video)
    blank = np.full_like(frames[0], 90)
    clip = tmp_path / "spliced.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in [blank] * 4 + frames[:20] + [blank] * 15 + frames[20:30]:
        writer.write(f)
    writer.release()
    out = tmp_path / "out.mp4"
    assert main(["--model", str(tiny_model), "--source", str(clip), "-o", str(out), "-q"]) == 0
    n, _, _, _, result = video_info(out)
    assert n == 49
    assert all(f.max() < 10 for f in result[:4])  # black before the first face
    # In the blank stretch the output stops changing (the held face, give or take the codec).
    diffs = [
        np.abs(result[i].astype(int) - result[i + 1].astype(int)).mean() for i in range(30, 38)
    ]
    assert max(diffs) < 1.0 and result[35].std() > 5


def one_line(capfd) -> str:
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("reenact: error: ") and "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def other_version(tiny_model, tmp_path) -> Path:
    model = tmp_path / "v2"
    shutil.copytree(tiny_model, model)
    info = json.loads((model / "bundle.json").read_text())
    info["version"] = 99
    (model / "bundle.json").write_text(json.dumps(info))
    return model


@pytest.fixture
def corrupt_model(tiny_model, tmp_path) -> Path:
    model = tmp_path / "corrupt"
    shutil.copytree(tiny_model, model)
    (model / "generator.keras").write_bytes(b"not a zip file")
    # Without its ONNX file the bundle runs on generator.keras (tests/test_onnx.py: damaged ONNX).
    (model / "generator.onnx").unlink(missing_ok=True)
    info = json.loads((model / "bundle.json").read_text())
    info["files"].pop("generator.onnx", None)
    (model / "bundle.json").write_text(json.dumps(info))
    return model


def test_bad_inputs_exit_2_with_one_line(
    tiny_model, sample_video, tmp_path, capfd, other_version, corrupt_model
):
    good = [
        "--model",
        str(tiny_model),
        "--source",
        str(sample_video),
        "-o",
        str(tmp_path / "o.mp4"),
        "-q",
    ]
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    cases = {
        "model bundle not found": ["--model", str(tmp_path / "nope")],
        "version 99": ["--model", str(other_version)],
        "cannot load": ["--model", str(corrupt_model)],
        "not a readable video": ["--source", str(not_video)],
        "no such file": ["--source", str(tmp_path / "missing.mp4")],
        "cannot write": ["-o", str(tmp_path / "no" / "dir" / "o.mp4")],
    }
    for expected, override in cases.items():
        args = list(good)
        args[args.index(override[0]) + 1] = override[1]
        assert main(args) == 2, expected
        line = one_line(capfd)
        assert expected in line, line
    assert not (tmp_path / "o.mp4").exists()


def test_the_command_line_exits_2_without_a_traceback(tmp_path, sample_video):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.reenact",
            "--model",
            str(tmp_path / "missing"),
            "--source",
            str(sample_video),
            "-o",
            str(tmp_path / "o.mp4"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"reenact: error: model bundle not found: {tmp_path / 'missing'}"
    ]
