"""The live-mirror window, offscreen with pytest-qt: the sample video stands in for the webcam."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtGui import QImage

from app.window import MirrorWindow, to_pixmap


def pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.byteCount())
    return (
        np.frombuffer(ptr, np.uint8)
        .reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()]
        .copy()
    )


def non_blank(window: MirrorWindow, name: str) -> bool:
    pixmap = window.views[name].pixmap()
    return pixmap is not None and not pixmap.isNull() and pixels(pixmap.toImage()).std() > 5


def mirror_threads() -> list[str]:
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("mirror-") and t.name != "mirror-model-loader"
    ]


@pytest.fixture
def settings(tmp_path) -> QSettings:
    s = QSettings(str(tmp_path / "live-mirror.ini"), QSettings.IniFormat)
    s.setValue("record_dir", str(tmp_path))
    return s


def open_window(qtbot, settings, **kw) -> MirrorWindow:
    window = MirrorWindow(settings, **kw)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def close_within_a_second(window: MirrorWindow) -> None:
    t0 = time.perf_counter()
    window.close()
    while mirror_threads() and time.perf_counter() - t0 < 1.0:
        time.sleep(0.01)
    assert not mirror_threads(), mirror_threads()
    assert time.perf_counter() - t0 < 1.0


def test_the_window_plays_the_sample_through_the_model(
    qtbot, tiny_model, sample_video, settings, artifacts, tmp_path
):
    window = open_window(
        qtbot, settings, model=str(tiny_model), source=str(sample_video), loop=True
    )
    qtbot.waitUntil(lambda: window.session.model_path is not None, timeout=60_000)
    qtbot.waitUntil(
        lambda: all(non_blank(window, v) for v in ("camera", "drawing", "generated")),
        timeout=20_000,
    )
    first_status = window.stats_label.text()
    qtbot.waitUntil(
        lambda: window.stats_label.text() != first_status and "FPS" in window.stats_label.text(),
        timeout=5_000,
    )
    status = window.stats_label.text()
    for word in (
        "landmarks",
        "generator",
        "FPS",
        "latency",
        "face",
        "carphone_pristine.mp4",
        "model",
    ):
        assert word in status, status

    # Mirroring flips what is shown, on by default.
    assert window.act_mirror.isChecked()
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 0] = 255
    assert pixels(to_pixmap(image, True).toImage())[0, -3:].tolist() == [255, 255, 255]
    assert pixels(to_pixmap(image, False).toImage())[0, :3].tolist() == [255, 255, 255]

    # Shortcuts drive the controls: hide the drawing view, record a moment, change smoothing.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
    qtbot.keyClick(window, Qt.Key_2)
    assert not window.views["drawing"].isVisible() and settings.value("show_drawing") in (
        False,
        "false",
    )
    qtbot.keyClick(window, Qt.Key_2)
    assert window.views["drawing"].isVisible()
    qtbot.keyClick(window, Qt.Key_R)
    assert window.session.recorder is not None
    qtbot.waitUntil(lambda: window.session.recorder.recorder.frames >= 10, timeout=5_000)
    qtbot.keyClick(window, Qt.Key_R)
    assert window.session.recorder is None and list(tmp_path.glob("live-mirror-*.mp4"))
    qtbot.keyClick(window, Qt.Key_BracketRight)
    assert window.session.face.smoothing == pytest.approx(0.6)

    path = artifacts / "live-mirror.png"
    window.grab().save(str(path))
    shot = QImage(str(path))
    assert shot.width() >= 600 and pixels(shot).std() > 20 and path.stat().st_size > 20_000

    close_within_a_second(window)
    settings.sync()
    assert settings.value("model") == str(tiny_model) and settings.value("source") == str(
        sample_video
    )
    assert float(settings.value("smoothing")) == pytest.approx(0.6)


def test_a_model_that_does_not_load_leaves_the_camera_running(
    qtbot, sample_video, settings, tmp_path
):
    missing = tmp_path / "no-such-model"
    window = open_window(qtbot, settings, model=str(missing), source=str(sample_video), loop=True)
    qtbot.waitUntil(lambda: "model not loaded" in window.notice.text(), timeout=60_000)
    assert "not found" in window.views["generated"].picture.text()
    qtbot.waitUntil(
        lambda: non_blank(window, "camera") and non_blank(window, "drawing"), timeout=10_000
    )
    shown = window.frames_shown
    qtbot.waitUntil(lambda: window.frames_shown > shown + 5, timeout=5_000)  # still updating
    assert window.views["generated"].pixmap() is None
    qtbot.waitUntil(lambda: "no model" in window.stats_label.text(), timeout=2_000)
    # Without pyvirtualcam the virtual camera says what to install instead of failing.
    window.act_vcam.setChecked(True)
    if window.session.virtual_camera is None:
        assert (
            "pip install pyvirtualcam" in window.notice.text() and not window.act_vcam.isChecked()
        )
    close_within_a_second(window)
    assert settings.value("model") is None  # a model that failed is not remembered


def test_without_a_model_or_camera_the_window_says_so(qtbot, settings):
    # Camera 7 does not exist here: the window retries instead of failing.
    window = open_window(qtbot, settings, source="7")
    assert "no model yet" in window.notice.text()
    qtbot.waitUntil(
        lambda: "camera 7 unavailable, retrying" in window.stats_label.text(), timeout=5_000
    )
    assert "camera 7" in window.views["camera"].picture.text()
    close_within_a_second(window)


def test_the_retarget_control_drives_the_session_and_is_kept(
    qtbot, tiny_model, sample_video, settings
):
    window = open_window(
        qtbot, settings, model=str(tiny_model), source=str(sample_video), loop=True
    )
    qtbot.waitUntil(lambda: window.session.model_path is not None, timeout=60_000)
    assert window.session.retarget == "auto" and window.act_retarget_modes["auto"].isChecked()
    # The sample is the target, and the bundle says who the target is: auto draws his own points.
    qtbot.waitUntil(lambda: "retarget auto: self" in window.stats_label.text(), timeout=20_000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
    qtbot.keyClick(window, Qt.Key_T)
    assert window.session.face.retarget == "on" and window.session.retargeting
    assert (
        window.act_retarget.text() == "Retarget: on" and window.act_retarget_modes["on"].isChecked()
    )
    qtbot.waitUntil(lambda: "retarget on: retargeted" in window.stats_label.text(), timeout=5_000)
    qtbot.keyClick(window, Qt.Key_T)
    assert window.session.face.retarget == "off" and not window.session.retargeting
    qtbot.waitUntil(lambda: "retarget off: self" in window.stats_label.text(), timeout=5_000)
    window.act_retarget_modes["on"].trigger()  # the menu's choice
    assert window.session.face.retarget == "on" and settings.value("retarget") == "on"
    close_within_a_second(window)

    settings.remove("model")
    again = open_window(qtbot, settings, source="7")
    assert again.session.face.retarget == "on" and again.act_retarget_modes["on"].isChecked()
    close_within_a_second(again)
