"""`python -m app.screenshot OUT.png`: the window training a new target, for the README.

The window mirrors the sample (through the demo's model when it is there), New target makes the
sample's dataset and trains a quick pix2pix run beside it; once the first preview and the time
left show, the window is saved to OUT.png (scaled to WIDTH, a small PNG), the training stopped
(it saves) and the window closed.
`scripts/screenshot` runs it under a virtual X server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common.cli import run_command
from common.errors import InputError

WIDTH = 1000  # px: the README's picture, readable and under 300 KB
DEMO_MODEL = "out/demo/run/model"  # scripts/demo's pix2pix model
WAIT_S = 600  # a training that shows no preview in this long is broken, not slow


def _wait(app, done, what: str) -> None:  # noqa: ANN001 - QApplication, a predicate
    deadline = time.monotonic() + WAIT_S
    while not done():
        if time.monotonic() > deadline:
            raise InputError(f"screenshot: no {what} after {WAIT_S} s")
        app.processEvents()
        time.sleep(0.02)


def shoot(out: Path, folder: Path, model: str | None) -> None:
    from PyQt5.QtCore import QSettings, Qt
    from PyQt5.QtWidgets import QApplication

    from app.window import MirrorWindow
    from landmarks.video import sample_video_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(folder / "live-mirror.ini"), QSettings.IniFormat)
    sample = sample_video_path()
    window = MirrorWindow(settings, model=model, source=sample, loop=True)
    window.resize(1500, 940)
    window.show()
    window.act_new_target.trigger()
    dock = window.new_target_dock
    dock.form.targets.add(sample)
    dock.form.folder.setText(str(folder / "targets" / "carphone"))
    dock.start_button.click()
    _wait(app, lambda: dock.preview.pixmap() is not None and dock.bar.value() > 0, "preview")
    _wait(app, lambda: "about " in dock.detail.text() and window.frames_shown > 0, "estimate")
    _wait(app, lambda: not window.session.loading, "model")
    time.sleep(0.5)
    app.processEvents()
    image = window.grab().toImage().scaledToWidth(WIDTH, Qt.SmoothTransformation)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG", 0):  # 0: the smallest file
        raise InputError(f"screenshot: cannot write {out}")
    dock.stop()
    dock.shutdown(180_000)
    window.close()


def main(argv: list[str] | None = None) -> int:
    first = __doc__.splitlines()[0]
    p = argparse.ArgumentParser(prog="python -m app.screenshot", description=first)
    p.add_argument("out", nargs="?", default="docs/window-training.png", help="the PNG to write")
    p.add_argument(
        "--model",
        default=DEMO_MODEL if Path(DEMO_MODEL).is_dir() else None,
        help="the bundle the window mirrors meanwhile (default: the demo's, when it is there)",
    )
    args = p.parse_args(argv)

    def body() -> None:
        from app.qt_platform import platform_problem

        problem = platform_problem()
        if problem:
            raise InputError(problem)
        with tempfile.TemporaryDirectory() as tmp:
            shoot(Path(args.out), Path(tmp), args.model)
        print(f"screenshot: {args.out}")

    return run_command("screenshot", body)


if __name__ == "__main__":
    sys.exit(main())
