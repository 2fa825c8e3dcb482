"""Recording your own face: `make-dataset --camera` and the window's "Record my face".

The sample video stands in for the webcam: the opener opens it with cv2.VideoCapture.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import QSettings

from landmarks.capture import CAPTURE, PROMPTS, cue, prompt_at, record_camera, seconds_left
from landmarks.dataset import MANIFEST, main

# Milliseconds after which a wait in the window is a hang, never a measurement.
HANG_MS = 120_000


def video_opener(path: Path, interrupt_after: int | None = None):
    """An opener that gives the video at `path` for any index, optionally cut by Ctrl-C."""

    class Capture:
        def __init__(self) -> None:
            self.cap = cv2.VideoCapture(str(path))
            self.reads = 0

        def isOpened(self) -> bool:  # noqa: N802 (cv2's name)
            return self.cap.isOpened()

        def get(self, prop: int) -> float:
            return self.cap.get(prop)

        def read(self):
            self.reads += 1
            if interrupt_after is not None and self.reads > interrupt_after:
                raise KeyboardInterrupt
            return self.cap.read()

        def release(self) -> None:
            self.cap.release()

    return lambda index: Capture()


def frames_in(path: Path) -> list:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def only_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- the prompts ------------------------------------------------------------------------------


def test_prompts_take_turns_and_the_countdown_runs_down():
    # A minute: each prompt for 5 s, round and round.
    assert [prompt_at(t, 60) for t in (0, 4.9, 5, 10, 15, 20)] == [
        *PROMPTS[:1],
        *PROMPTS,
        PROMPTS[0],
    ]
    # A short recording still shows every prompt once.
    assert [prompt_at(t, 2) for t in (0, 0.5, 1.0, 1.5)] == list(PROMPTS)
    assert [seconds_left(t, 60) for t in (0, 0.1, 59.5, 60, 61)] == [60, 60, 1, 0, 0]
    assert cue(5.5, 60) == "55 s left: turn your head slowly left and right"


# -- record_camera ------------------------------------------------------------------------------


class CameraClock:
    """The recording's clock, moved on by the camera: each frame read takes `step` seconds.

    A recording's length is then counted in frames, whatever the machine's speed."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 1024.0, step  # binary fractions: the sums are exact

    def monotonic(self) -> float:
        return self.now

    def opener(self, path: Path):
        open_video = video_opener(path)

        def opener(index: int):
            capture = open_video(index)
            read = capture.read

            def timed_read():
                self.now += self.step
                return read()

            capture.read = timed_read
            return capture

        return opener


def test_a_recording_lasts_its_seconds_and_cues_each_prompt(sample_video, tmp_path, monkeypatch):
    import landmarks.capture

    clock = CameraClock(1 / 32)
    monkeypatch.setattr(landmarks.capture, "time", clock)
    cues: list[tuple[int, str]] = []
    path = tmp_path / "me.mp4"
    rec = record_camera(path, 0, 1.25, clock.opener(sample_video), lambda *c: cues.append(c))
    # 1.25 s at a frame every 1/32 s: it stops at its time, after exactly 40 frames.
    assert not rec.ended_early and rec.seconds == 1.25 and rec.frames == 40
    assert [p for _, p in cues] == list(PROMPTS)
    assert [left for left, _ in cues] == sorted((left for left, _ in cues), reverse=True)
    frames = frames_in(path)
    assert len(frames) == rec.frames >= 20 and frames[0].shape == (144, 176, 3)
    assert only_files(tmp_path) == ["me.mp4"]


def test_a_camera_that_stops_keeps_what_it_gave(sample_video, tmp_path):
    rec = record_camera(tmp_path / "me.mp4", 0, 60, video_opener(sample_video))
    assert rec.ended_early and rec.frames == 120 == len(frames_in(rec.path))


# -- make-dataset --camera ----------------------------------------------------------------------


def test_make_dataset_records_the_camera_then_builds_from_it(sample_video, tmp_path, capsys):
    out = tmp_path / "me-data"
    args = ["--camera", "0", "--seconds", "2", "-o", str(out), "--size", "64", "--every", "4"]
    assert main([*args, "-q"], opener=video_opener(sample_video)) == 0
    captured = capsys.readouterr()
    assert "s left: talk, as in a video call" in captured.err
    assert f"recorded 120 frames into {out / CAPTURE}" in captured.err
    assert "train +" in captured.out
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["sources"][0]["path"] == str((out / CAPTURE).resolve())
    assert manifest["sources"][0]["frames"] == 120
    assert "camera" not in manifest["settings"]  # the dataset is made of the file, as for any video
    assert len(frames_in(out / CAPTURE)) == 120

    # A rerun reuses the recording (the camera is not opened) and finds the dataset built.
    def no_camera(index):
        raise AssertionError("the camera was opened again")

    assert main([*args, "-q"], opener=no_camera) == 0
    captured = capsys.readouterr()
    assert "from before" in captured.err and "already built" in captured.out


def test_a_camera_that_does_not_open_is_one_line_and_status_2(tmp_path, capsys):
    out = tmp_path / "me-data"
    missing = tmp_path / "no-such-video.mp4"
    code = main(
        ["--camera", "3", "-o", str(out), "-q"], opener=lambda i: cv2.VideoCapture(str(missing))
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == "make-dataset: error: camera 3 did not open"
    assert not out.exists()


def test_camera_and_videos_are_exclusive(sample_video, tmp_path, capsys):
    out = tmp_path / "me-data"
    assert main([str(sample_video), "--camera", "0", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not both" in err
    assert main(["-o", str(out)]) == 2
    assert "no input" in capsys.readouterr().err
    assert not out.exists()


def test_an_output_holding_another_dataset_is_refused_before_recording(sample_dataset, capsys):
    def no_camera(index):
        raise AssertionError("recorded although the build would refuse the output")

    assert main(["--camera", "0", "-o", str(sample_dataset), "-q"], opener=no_camera) == 2
    assert "another dataset" in capsys.readouterr().err


@pytest.mark.parametrize("existed", [False, True], ids=["new-folder", "existing-folder"])
def test_ctrl_c_while_recording_leaves_nothing(existed, sample_video, tmp_path, capsys):
    out = tmp_path / "me-data"
    if existed:
        out.mkdir()
    opener = video_opener(sample_video, interrupt_after=10)
    assert main(["--camera", "0", "-o", str(out), "-q"], opener=opener) == 130
    assert "interrupted; nothing recorded" in capsys.readouterr().err
    assert only_files(tmp_path) == (["me-data"] if existed else [])
    assert not existed or only_files(out) == []


# -- the window's "Record my face" ------------------------------------------------------------


def test_the_window_records_the_camera_with_prompts(qtbot, sample_video, tmp_path, monkeypatch):
    from PyQt5.QtWidgets import QFileDialog

    from app.window import MirrorWindow

    settings = QSettings(str(tmp_path / "live-mirror.ini"), QSettings.IniFormat)
    asked: list[str] = []

    def pick(parent, title, default, filters):
        asked.append(default)
        return str(tmp_path / "me.mp4"), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", pick)
    window = MirrorWindow(settings, source=str(sample_video), loop=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.session.running and window.frames_shown > 0, timeout=HANG_MS)

    window.face_seconds.setValue(2)
    window.act_record_face.trigger()
    assert window.act_record_face.isChecked() and not window.act_record.isEnabled()
    assert asked and Path(asked[0]).parent == tmp_path / "faces"  # beside the settings file
    titles, statuses = set(), set()
    deadline = time.monotonic() + 120  # a hang guard: the window's own timer ends it
    while window.face_capture is not None and time.monotonic() < deadline:
        titles.add(window.views["camera"].title.text())
        statuses.add(window.stats_label.text().split(" | ")[0])
        qtbot.wait(50)
    assert window.face_capture is None, "the recording never ended"
    shown = {p for p in PROMPTS if any(p in t for t in titles)}
    assert len(shown) >= 3, titles  # the prompts changed while it recorded
    assert any("s left" in s for s in statuses), statuses
    assert window.views["camera"].title.text() == "camera"
    assert not window.act_record_face.isChecked() and window.act_record.isEnabled()

    frames = frames_in(tmp_path / "me.mp4")
    assert len(frames) >= 10 and frames[0].shape == (144, 176, 3)  # the camera, not the output
    notice = window.notice.text()
    assert str(tmp_path / "me.mp4") in notice and "make-dataset" in notice
    assert "train-swap" in notice
    assert [p.name for p in tmp_path.glob("*.mp4")] == ["me.mp4"]  # no temporary left
    window.close()
    assert settings.value("face_dir") == str(tmp_path)


def test_a_recording_without_a_face_is_kept_and_nothing_else(tmp_path, capsys):
    blank = tmp_path / "blank.avi"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(15):
        writer.write(np.full((120, 160, 3), 10 * i, np.uint8))
    writer.release()
    out = tmp_path / "me-data"
    assert main(["--camera", "0", "-o", str(out), "-q"], opener=video_opener(blank)) == 2
    assert "no face found" in capsys.readouterr().err
    assert only_files(out) == [CAPTURE]  # to look at, or delete and record again
