"""New target (#33): the window makes a dataset, trains, stops and resumes, evaluates and mirrors,
through the project's own commands in a child process, offscreen with pytest-qt on the sample.

Tiny runs: 64 px, narrow networks, a few steps; the commands are the real ones.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QMessageBox

from app.ui.interrupt import closed_by_signals
from app.window import MirrorWindow

HANG_MS = 600_000  # a wait this long is a hang, never a measurement (a loaded CI machine)
TINY = "--ngf 8 --ndf 8 --val-every 40 --checkpoint-every 1000"
STEPS = 300_000


@pytest.fixture
def settings(tmp_path) -> QSettings:
    s = QSettings(str(tmp_path / "live-mirror.ini"), QSettings.IniFormat)
    s.setValue("record_dir", str(tmp_path))
    return s


def open_window(qtbot, settings, sample_video) -> MirrorWindow:
    window = MirrorWindow(settings, source=str(sample_video), loop=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.act_new_target.trigger()
    assert window.new_target_dock.isVisible()
    return window


def fill(window: MirrorWindow, folder: Path, targets, steps: int, extra: str, users=()) -> None:
    form = window.new_target_dock.form
    form.kind.setCurrentIndex(form.kind.findData("swap" if users else "pix2pix"))
    for path in targets:
        form.targets.add(path)
    for path in users:
        form.users.add(path)
    form.folder.setText(str(folder))
    form.size.setCurrentIndex(form.size.findData(64))
    form.steps.setValue(steps)
    form.extra.setText(extra)


def events_of(window: MirrorWindow) -> list[dict]:
    seen: list[dict] = []
    window.new_target_dock.child.said.connect(seen.append)
    return seen


def shown(label) -> bool:
    pixmap = label.pixmap()
    return pixmap is not None and not pixmap.isNull() and pixmap.width() > 0


def mirrored(window: MirrorWindow, model: Path, steps: int | None = None) -> bool:
    bundle = window.session.bundle
    return (
        window.session.model_path == str(model)
        and bundle is not None
        and not window.session.loading
        and (steps is None or bundle.steps == steps)
    )


def test_new_target_pix2pix_trains_stops_resumes_evaluates_and_mirrors(
    qtbot, sample_video, settings, tmp_path, monkeypatch
):
    tensorflow_before = "tensorflow" in sys.modules  # other tests in this process may load it
    window = open_window(qtbot, settings, sample_video)
    dock, folder = window.new_target_dock, tmp_path / "target"
    # Far more steps than a tiny model trains before Stop is pressed, however fast this machine and
    # however slow the window's checks (in the full suite a 3,000-step run once finished first).
    fill(window, folder, [sample_video], STEPS, TINY)
    seen = events_of(window)
    dock.start_button.click()

    # The dataset: its progress, then the summary the command prints.
    qtbot.waitUntil(lambda: "train + " in dock.made.text(), timeout=HANG_MS)
    assert "108 train + 12 val pairs" in dock.made.text()
    assert "skipped: no face 0" in dock.made.text()
    assert any(e["event"] == "progress" and e["stage"] == "dataset" for e in seen)
    # Training: the step, the losses, the time left, and a preview of held-out frames.
    qtbot.waitUntil(lambda: shown(dock.preview), timeout=HANG_MS)
    qtbot.waitUntil(lambda: "about " in dock.detail.text(), timeout=HANG_MS)
    assert dock.detail.text().startswith("step ") and "g_l1" in dock.detail.text()
    assert 0 < dock.bar.value() < dock.bar.maximum() == STEPS
    assert window.frames_shown > 0  # the window kept showing the camera all along

    dock.stop_button.click()  # a checkpoint and a bundle with its ONNX export, then evaluated
    run, model = folder / "pix2pix", folder / "pix2pix" / "model"
    qtbot.waitUntil(lambda: mirrored(window, model), timeout=HANG_MS)
    saved = [e for e in seen if e["event"] == "saved"][-1]
    assert saved["onnx"] and (model / "generator.onnx").is_file()
    assert "onnx" in window.session.bundle.backend_label.lower()
    stopped_at = saved["step"]
    assert window.session.bundle.steps == stopped_at
    report = json.loads((folder / "evaluation.json").read_text())
    assert report["pairs"] == 12 and "l1" in report["model_metrics"]
    assert "held-out pairs" in dock.figures.text() and shown(dock.sheet)
    assert not (run / "lock.json").exists()

    # Opened again as a run folder (as one trained in a terminal is), Start resumes it.
    dock.open_run(str(run))
    assert dock.form.extra.text().startswith("--ngf 8 --ndf 8")
    dock.form.steps.setValue(stopped_at + 5)
    dock.start_button.click()
    qtbot.waitUntil(lambda: mirrored(window, model, stopped_at + 5), timeout=HANG_MS)
    start = [e for e in seen if e["event"] == "start"][-1]
    assert start["step"] == stopped_at and start["steps"] == stopped_at + 5
    if not tensorflow_before:
        assert "tensorflow" not in sys.modules  # the window mirrors through ONNX Runtime

    # Closing while it trains asks, and No keeps it training; SIGTERM closes without asking,
    # the training saving a checkpoint before the window goes.
    dock.form.steps.setValue(STEPS)
    dock.start_button.click()
    qtbot.waitUntil(lambda: dock.detail.text().startswith("step "), timeout=HANG_MS)
    answers = [QMessageBox.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    window.close()
    assert window.isVisible() and dock.busy and not answers
    with closed_by_signals(window):
        signal.raise_signal(signal.SIGTERM)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=HANG_MS)
    assert not dock.busy
    assert [e for e in seen if e["event"] == "saved"][-1]["step"] > stopped_at + 5
    assert not (run / "lock.json").exists()


def test_new_target_swap_makes_both_datasets_trains_evaluates_and_mirrors(
    qtbot, sample_video, astronaut_clip, settings, tmp_path
):
    window = open_window(qtbot, settings, sample_video)
    dock, folder = window.new_target_dock, tmp_path / "man"
    extra = "--width 8 --bottleneck 32 --batch-size 4 --val-every 10"
    fill(window, folder, [sample_video], 20, extra, users=[astronaut_clip])
    dock.start_button.click()
    model = folder / "swap" / "model"
    qtbot.waitUntil(lambda: mirrored(window, model), timeout=HANG_MS)
    assert dock.made.text().count("train + ") == 2
    assert shown(dock.preview) and shown(dock.sheet)
    assert window.session.bundle.kind == "swap"
    assert "onnx" in window.session.bundle.backend_label.lower()
    user = json.loads((folder / "user-data" / "manifest.json").read_text())["sources"][0]
    assert user["val_from_frame"] == 0 and user["val_to_frame"] == 15  # a quarter of 60 frames
    report = json.loads((folder / "driver.json").read_text())
    assert report["frames"] == 15, report.get("frames")
    window.close()


def test_new_target_records_a_video_and_a_bad_one_is_the_commands_own_line(
    qtbot, sample_video, settings, tmp_path, monkeypatch
):
    from PyQt5.QtWidgets import QFileDialog

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    window = open_window(qtbot, settings, sample_video)
    dock = window.new_target_dock
    fill(window, tmp_path / "bad", [bad], 10, TINY)
    first = dock.form.plan().commands()[0]
    said = subprocess.run(first.argv(), capture_output=True, text=True)
    assert said.returncode == 2
    line = said.stderr.strip().splitlines()[-1]
    assert line.startswith("make-dataset: error: ")
    dock.start_button.click()
    qtbot.waitUntil(lambda: not dock.busy and dock.start_button.isEnabled(), timeout=HANG_MS)
    assert dock.stage.text() == line

    # Record… is Record my face, its file added to the list it was pressed beside.
    recorded = tmp_path / "me.mp4"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(recorded), ""))
    qtbot.waitUntil(lambda: window.session.running and window.frames_shown > 0, timeout=HANG_MS)
    window.face_seconds.setValue(1)
    dock.form.targets.record_button.click()
    qtbot.waitUntil(lambda: dock.form.targets.paths() == [str(bad), str(recorded)], timeout=HANG_MS)
    assert recorded.stat().st_size > 0 and window.face_recording.recorded is None
    window.close()


def run_json(*argv: str) -> tuple[int, list[dict], list[str], str]:
    """A command with --progress json: exit status, its JSON events, its other stderr lines, and
    its stdout."""
    done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True)
    lines = done.stderr.splitlines()
    events = [json.loads(x) for x in lines if x.startswith("{")]
    return done.returncode, events, [x for x in lines if not x.startswith("{")], done.stdout


def test_new_target_commands_speak_json_and_lock_their_run(sample_video, sample_dataset, tmp_path):
    import socket

    out = tmp_path / "data"
    args = [str(sample_video), "-o", str(out), "--size", "64", "--max-pairs", "30"]
    code, events, others, stdout = run_json("landmarks.dataset", *args, "--progress", "json")
    assert code == 0, others
    frames = [e for e in events if e["event"] == "progress"]
    assert frames and all(e["stage"] == "dataset" and e["done"] <= e["total"] for e in frames)
    assert frames[-1]["done"] == frames[-1]["total"] == 30
    end = events[-1]
    assert end["event"] == "summary" and sum(end["pairs"].values()) == 30
    assert set(end["skipped"]) == {"no_face", "off_crop", "unreadable"}
    assert stdout.startswith("make-dataset: 27 train + 3 val pairs")
    assert not any("frame/s" in x for x in others)  # no bar beside the JSON

    # A run folder held by a live training is refused, naming it; a stale lock is taken over.
    run, holder = tmp_path / "run", subprocess.Popen(["sleep", "60"])
    run.mkdir()
    lock = {"pid": holder.pid, "host": socket.gethostname(), "prog": "train-pix2pix", "since": 0}
    (run / "lock.json").write_text(json.dumps(lock))
    train = ["gan.kinds.drawing.train", str(sample_dataset), "-o", str(run), "--size", "64"]
    train += ["--ngf", "8", "--ndf", "8", "--steps", "3", "--progress", "json"]
    code, _, others, _ = run_json(*train)
    errors = [x for x in others if "error" in x or "Traceback" in x]
    assert code == 2 and len(errors) == 1 and errors == others[-1:], others
    assert errors[0].startswith(f"train-pix2pix: error: {run} is in use by another training")
    assert f"process {holder.pid} on {socket.gethostname()}" in errors[0]
    holder.kill()
    holder.wait()  # its pid is gone now: the lock it names is stale

    code, events, others, _ = run_json(*train, "--first-preview", "0")
    assert code == 0, others[-5:]
    assert any(f"process {holder.pid} is gone" in x for x in others)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "summary" and "saved" in kinds
    assert events[0]["step"] == 0 and events[0]["steps"] == 3
    last = [e for e in events if e["event"] == "progress"][-1]
    assert last["step"] == 3 and {"g_l1", "d"} <= set(last["losses"]) and "eta_s" in last
    previews = [e for e in events if e["event"] == "preview"]
    assert previews[0]["step"] == 1 and Path(previews[0]["path"]).is_file()  # the early one
    assert [e for e in events if e["event"] == "saved"][-1]["onnx"]
    assert not (run / "lock.json").exists()
