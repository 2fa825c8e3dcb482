"""The live-mirror window, offscreen with pytest-qt: the sample video stands in for the webcam."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import read_frames
from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtGui import QImage

from app.qt_platform import debian_package, platform_problem, xcb_plugin
from app.window import MirrorWindow, to_pixmap

# Milliseconds after which a wait in the window is a hang, never a measurement.
HANG_MS = 120_000


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


HANG_GUARD = 120  # seconds: a join that takes this long is a hung thread, not a slow machine


def close_and_no_thread_is_left(window: MirrorWindow) -> None:
    """Closing returns and every thread the window started ends (the join is a hang guard)."""
    window.close()
    for thread in [t for t in threading.enumerate() if t.name in mirror_threads()]:
        thread.join(HANG_GUARD)
    assert not mirror_threads(), mirror_threads()


def test_the_window_plays_the_sample_through_the_model(
    qtbot, tiny_model, sample_video, settings, artifacts, tmp_path
):
    window = open_window(
        qtbot, settings, model=str(tiny_model), source=str(sample_video), loop=True
    )
    qtbot.waitUntil(lambda: window.session.model_path is not None, timeout=HANG_MS)
    qtbot.waitUntil(
        lambda: all(non_blank(window, v) for v in ("camera", "drawing", "generated")),
        timeout=HANG_MS,
    )
    first_status = window.stats_label.text()
    qtbot.waitUntil(
        lambda: window.stats_label.text() != first_status and "FPS" in window.stats_label.text(),
        timeout=HANG_MS,
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
    qtbot.waitUntil(window.isActiveWindow, timeout=HANG_MS)
    qtbot.keyClick(window, Qt.Key_2)
    assert not window.views["drawing"].isVisible() and settings.value("show_drawing") in (
        False,
        "false",
    )
    qtbot.keyClick(window, Qt.Key_2)
    assert window.views["drawing"].isVisible()
    qtbot.keyClick(window, Qt.Key_R)
    assert window.session.recorder is not None
    qtbot.waitUntil(lambda: window.session.recorder.recorder.frames >= 10, timeout=HANG_MS)
    qtbot.keyClick(window, Qt.Key_R)
    assert window.session.recorder is None and list(tmp_path.glob("live-mirror-*.mp4"))
    qtbot.keyClick(window, Qt.Key_BracketRight)
    assert window.session.face.smoothing == pytest.approx(0.6)

    path = artifacts / "live-mirror.png"
    window.grab().save(str(path))
    shot = QImage(str(path))
    assert shot.width() >= 600 and pixels(shot).std() > 20 and path.stat().st_size > 20_000

    close_and_no_thread_is_left(window)
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
    qtbot.waitUntil(lambda: "model not loaded" in window.notice.text(), timeout=HANG_MS)
    assert "not found" in window.views["generated"].picture.text()
    qtbot.waitUntil(
        lambda: non_blank(window, "camera") and non_blank(window, "drawing"), timeout=HANG_MS
    )
    shown = window.frames_shown
    qtbot.waitUntil(lambda: window.frames_shown > shown + 5, timeout=HANG_MS)  # still updating
    assert window.views["generated"].pixmap() is None
    qtbot.waitUntil(lambda: "no model" in window.stats_label.text(), timeout=HANG_MS)
    # Without pyvirtualcam the virtual camera says what to install instead of failing.
    window.act_vcam.setChecked(True)
    if window.session.virtual_camera is None:
        assert (
            "pip install pyvirtualcam" in window.notice.text() and not window.act_vcam.isChecked()
        )
    close_and_no_thread_is_left(window)
    assert settings.value("model") is None  # a model that failed is not remembered


def test_without_a_model_or_camera_the_window_says_so(qtbot, settings):
    # Camera 7 does not exist here: the window retries instead of failing.
    window = open_window(qtbot, settings, source="7")
    assert "no model yet" in window.notice.text()
    qtbot.waitUntil(
        lambda: "camera 7 unavailable, retrying" in window.stats_label.text(), timeout=HANG_MS
    )
    assert "camera 7" in window.views["camera"].picture.text()
    close_and_no_thread_is_left(window)


def test_the_retarget_control_drives_the_session_and_is_kept(
    qtbot, tiny_model, sample_video, settings
):
    window = open_window(
        qtbot, settings, model=str(tiny_model), source=str(sample_video), loop=True
    )
    qtbot.waitUntil(lambda: window.session.model_path is not None, timeout=HANG_MS)
    assert window.session.retarget == "auto" and window.act_retarget_modes["auto"].isChecked()
    # The sample is the target, and the bundle says who the target is: auto draws his own points.
    qtbot.waitUntil(lambda: "retarget auto: self" in window.stats_label.text(), timeout=HANG_MS)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=HANG_MS)
    qtbot.keyClick(window, Qt.Key_T)
    assert window.session.face.retarget == "on" and window.session.retargeting
    assert (
        window.act_retarget.text() == "Retarget: on" and window.act_retarget_modes["on"].isChecked()
    )
    qtbot.waitUntil(lambda: "retarget on: retargeted" in window.stats_label.text(), timeout=HANG_MS)
    qtbot.keyClick(window, Qt.Key_T)
    assert window.session.face.retarget == "off" and not window.session.retargeting
    qtbot.waitUntil(lambda: "retarget off: self" in window.stats_label.text(), timeout=HANG_MS)
    window.act_retarget_modes["on"].trigger()  # the menu's choice
    assert window.session.face.retarget == "on" and settings.value("retarget") == "on"
    close_and_no_thread_is_left(window)

    settings.remove("model")
    again = open_window(qtbot, settings, source="7")
    assert again.session.face.retarget == "on" and again.act_retarget_modes["on"].isChecked()
    close_and_no_thread_is_left(again)


# -- Ctrl-C and SIGTERM, sent to a real live-mirror process ----------------------------------


def live_mirror_command() -> list[str]:
    """The console script beside this Python (what a user runs), else the module."""
    script = Path(sys.executable).with_name("live-mirror")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "app.window"]


def wait_for_frames(proc: subprocess.Popen, folder: Path, name: str) -> None:
    """Until the recording's temporary file (common.files.atomic_path) has grown twice: the
    window is up and frames flow into it. The deadline only guards against a hang."""
    deadline, sizes = time.monotonic() + HANG_GUARD, set()
    while len(sizes - {0}) < 2:
        assert proc.poll() is None, f"live-mirror ended early with {proc.returncode}"
        assert time.monotonic() < deadline, "no frame was recorded"
        sizes |= {p.stat().st_size for p in folder.glob(f".{name}.*.mp4")}
        time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_closes_live_mirror_as_its_close_button_does(
    tiny_model, sample_video, tmp_path, signum
):
    recording, ini = tmp_path / "recorded.mp4", tmp_path / "live-mirror.ini"
    args = [*live_mirror_command(), "--model", str(tiny_model), "--source", str(sample_video)]
    args += ["--loop", "--settings", str(ini), "--record", str(recording)]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    # A session of its own: Ctrl-C in a terminal goes to the whole foreground process group (the
    # identity helper too), `kill PID` to the app alone.
    proc = subprocess.Popen(
        args, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        wait_for_frames(proc, tmp_path, recording.stem)
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        code = proc.wait(HANG_GUARD)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # stderr ends once every process holding it has: the helper and the resource tracker too.
    reader.join(HANG_GUARD)
    stderr = "".join(err)
    assert not reader.is_alive(), "a process live-mirror started outlived it"
    assert code == 0, stderr
    assert "Traceback" not in stderr and "leaked" not in stderr, stderr
    assert len(read_frames(recording)) > 0 and not list(tmp_path.glob(".recorded.*")), stderr
    assert "geometry" in ini.read_text()  # closeEvent kept the window's place, as on a close


def test_a_recording_that_cannot_be_written_is_one_line_before_the_window(tmp_path):
    args = [*live_mirror_command(), "--source", "7", "--settings", str(tmp_path / "s.ini")]
    args += ["--record", str(tmp_path / "no-such-folder" / "out.mp4")]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=HANG_GUARD)
    err = run.stderr.strip()
    assert run.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("live-mirror: error: cannot write") and "no such directory" in err, err


# -- a desktop without Qt's X11 libraries ------------------------------------------------------


def ldd_not_found(library: Path) -> list[str]:
    """What ldd itself says is missing, read here independently of app.qt_platform."""
    out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, check=False)
    names = [line.split()[0] for line in out.stdout.splitlines() if "not found" in line]
    return list(dict.fromkeys(names))


@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("ldd"), reason="ldd")
def test_live_mirror_on_x11_agrees_with_ldd_about_the_xcb_plugin(tmp_path):
    """This machine may or may not have the xcb libraries: the check says what ldd says, and
    when they are missing live-mirror exits 2 with one line instead of Qt's abort."""
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":99"}  # X11, as on a desktop
    plugin = xcb_plugin(env)
    assert plugin is not None and plugin.name == "libqxcb.so"
    missing = ldd_not_found(plugin)
    problem = platform_problem(env)
    if not missing:
        assert problem is None  # nothing against opening the window: Qt gets to try
        return
    assert problem is not None and all(name in problem for name in missing)
    args = [sys.executable, "-m", "app.window", "--source", "7"]
    args += ["--settings", str(tmp_path / "live-mirror.ini")]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=HANG_MS / 1000)
    assert run.returncode == 2, run.stderr  # not 134, Qt's abort
    err = run.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("live-mirror: error: "), err
    for name in missing:
        assert name in err and debian_package(name) in err


@pytest.fixture
def fake_plugins(tmp_path) -> tuple[Path, Path]:
    """Two stand-in xcb plugins: one whose library is there, one whose library was removed."""
    if not shutil.which("cc") or not shutil.which("ldd"):
        pytest.skip("needs a C compiler and ldd")
    (tmp_path / "lib.c").write_text("int facemirror_stub(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text(
        "int facemirror_stub(void);\nint plugin(void) { return facemirror_stub(); }\n"
    )
    built = {}
    for name in ("kept", "gone"):
        folder = tmp_path / name
        folder.mkdir()
        lib = f"libfacemirror-{name}.so.3"
        cc = ["cc", "-shared", "-fPIC"]
        subprocess.run(
            [*cc, "-Wl,-soname," + lib, "-o", folder / lib, tmp_path / "lib.c"], check=True
        )
        link = [f"-L{folder}", f"-l:{lib}", "-Wl,-rpath,$ORIGIN"]
        subprocess.run([*cc, "-o", folder / "libqxcb.so", tmp_path / "plugin.c", *link], check=True)
        built[name] = folder / "libqxcb.so"
    (tmp_path / "gone" / "libfacemirror-gone.so.3").unlink()
    return built["kept"], built["gone"]


def test_a_plugin_missing_a_library_names_it_and_its_package(fake_plugins):
    kept, gone = fake_plugins
    x11 = {"DISPLAY": ":0"}
    assert platform_problem(x11, kept, "linux") is None
    problem = platform_problem(x11, gone, "linux")
    assert problem is not None and "\n" not in problem
    assert "libfacemirror-gone.so.3" in problem and "apt-get install libfacemirror-gone3" in problem
    # Found through QT_QPA_PLATFORM_PLUGIN_PATH, as Qt would look for it.
    assert platform_problem({**x11, "QT_QPA_PLATFORM_PLUGIN_PATH": str(gone.parent)}) == problem
    # Another platform, another system, or Wayland by default: not this check's business.
    for environ, system in (
        ({**x11, "QT_QPA_PLATFORM": "offscreen"}, "linux"),
        ({**x11, "QT_QPA_PLATFORM": "wayland;xcb"}, "linux"),
        (x11, "darwin"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux"),
    ):
        assert platform_problem(environ, gone, system) is None, environ
    assert "DISPLAY is not set" in platform_problem({}, gone, "linux")
    assert platform_problem({**x11, "QT_QPA_PLATFORM": "xcb:foo"}, gone, "linux") == problem


def test_library_names_map_to_debian_packages():
    names = [
        "libxcb-icccm.so.4",
        "libxcb-image.so.0",
        "libxcb-keysyms.so.1",
        "libxcb-randr.so.0",
        "libxcb-render-util.so.0",
        "libxcb-xinerama.so.0",
        "libxcb-xkb.so.1",
        "libxkbcommon-x11.so.0",
        "libX11-xcb.so.1",
        "libdbus-1.so.3",
        "libglib-2.0.so.0",
    ]
    assert [debian_package(n) for n in names] == [
        "libxcb-icccm4",
        "libxcb-image0",
        "libxcb-keysyms1",
        "libxcb-randr0",
        "libxcb-render-util0",
        "libxcb-xinerama0",
        "libxcb-xkb1",
        "libxkbcommon-x11-0",
        "libx11-xcb1",
        "libdbus-1-3",
        "libglib2.0-0",
    ]
