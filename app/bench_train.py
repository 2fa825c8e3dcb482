"""`python -m app.bench_train`: the window while New target trains beside it (#33's figures).

Three timings on the sample, one after another on this machine:
  1. a quick pix2pix training alone (the trainer as New target runs it, `--progress json`, at its
     lower priority): its step rate;
  2. the window mirroring the sample through a model of the demo's preset (quick, 128 px: the same
     networks as the demo's model, so the same cost a frame), alone: its frame intervals;
  3. the same window while the same training runs beside it in New target's child process: the
     window's frame intervals, the training's step rate, and the seconds from the trainer's start
     to its first preview.
The figures: the window's p95 frame interval beside the training (target ≤ 150 ms), the step rate
beside the window ÷ alone (target ≥ 0.7), and the first preview (target within a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from app.target_plan import Command
from common.cli import run_command
from common.files import write_json_atomic

WARM_STEPS = 25  # steps left out of a rate: the compiled first step and the first timings


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"unknown ({os.cpu_count()} cores)"


def _train_command(dataset: Path, run: Path, steps: int = 100_000) -> Command:
    args = (str(dataset), "-o", str(run), "--preset", "quick", "--steps", str(steps))
    return Command(
        "train", "train-pix2pix", "gan.kinds.drawing.train", (*args, "--progress", "json")
    )


def prepare(folder: Path, sample: str) -> tuple[Path, Path]:
    """The sample's 128 px dataset, and a model of the demo's preset trained a few steps."""
    dataset, run = folder / "data", folder / "model-run"
    py = [sys.executable, "-m"]
    subprocess.run(
        [*py, "landmarks.dataset", sample, "-o", str(dataset), "--size", "128", "-q"], check=True
    )
    subprocess.run(_train_command(dataset, run, 30).argv() + ["-q"], check=True)
    return dataset, run / "model"


def rate(events: list[tuple[float, dict]]) -> float | None:
    """Steps a second over the progress events after WARM_STEPS."""
    steps = [(t, e["step"]) for t, e in events if e.get("event") == "progress"]
    steps = [(t, s) for t, s in steps if s > WARM_STEPS]
    if len(steps) < 2 or steps[-1][0] <= steps[0][0]:
        return None
    return (steps[-1][1] - steps[0][1]) / (steps[-1][0] - steps[0][0])


def first_preview(events: list[tuple[float, dict]], started: float) -> float | None:
    found = [t for t, e in events if e.get("event") == "preview"]
    return round(found[0] - started, 1) if found else None


def train_alone(command: Command, seconds: float) -> dict:
    """The trainer for `seconds` past its first step, then Ctrl-C's signal: its events."""
    started = time.monotonic()
    from app.ui.child import niced  # at the priority New target runs it

    child = subprocess.Popen(niced(command.argv()), stderr=subprocess.PIPE, text=True)
    events: list[tuple[float, dict]] = []

    def read() -> None:
        for line in child.stderr:
            if line.startswith("{"):
                events.append((time.monotonic(), json.loads(line)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while not any(e.get("event") == "progress" for _, e in events) and child.poll() is None:
        time.sleep(0.2)
    time.sleep(seconds)
    child.send_signal(signal.SIGINT)
    child.wait()
    reader.join(10)
    return {"steps_per_s": rate(events), "first_preview_s": first_preview(events, started)}


def intervals(times: list[float]) -> dict:
    gaps = np.diff(np.asarray(times)) * 1000
    if not len(gaps):
        return {"frames": 0}
    pick = {f"p{q}_ms": round(float(np.percentile(gaps, q)), 1) for q in (50, 95, 99)}
    return {"frames": len(times), **pick, "max_ms": round(float(gaps.max()), 1)}


def window_run(model: Path, sample: str, command: Command | None, seconds: float) -> dict:
    """The window mirroring `sample` through `model` for `seconds` (after the training's first
    step when `command` runs beside it, in New target's child process)."""
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from app.ui.child import ChildCommand
    from app.window import MirrorWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    ini = QSettings(tempfile.mktemp(suffix=".ini"), QSettings.IniFormat)
    window = MirrorWindow(ini, model=str(model), source=sample, loop=True)
    window.show()
    shown: list[float] = []
    window.bridge.frame_ready.connect(lambda: shown.append(time.perf_counter()))
    events: list[tuple[float, dict]] = []
    child = ChildCommand(window)  # as New target runs its commands
    child.said.connect(lambda e: events.append((time.monotonic(), e)))
    deadline = time.monotonic() + 120
    while window.session.bundle is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    started = time.monotonic()
    if command is not None:
        child.start(command)
        while not any(e.get("event") == "progress" for _, e in events) and child.running:
            app.processEvents()
            time.sleep(0.01)
    shown.clear()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.002)
    result = {"window": intervals(shown)}
    if command is not None:
        child.stop()
        child.wait(180_000)
        result.update(steps_per_s=rate(events), first_preview_s=first_preview(events, started))
    window.close()
    return result


def measure(folder: Path, sample: str, seconds: float) -> dict:
    dataset, model = prepare(folder, sample)
    for run in ("alone", "beside"):  # each training starts afresh, not from a last round's
        shutil.rmtree(folder / run, ignore_errors=True)
    alone = train_alone(_train_command(dataset, folder / "alone"), seconds)
    window = window_run(model, sample, None, seconds)
    beside = window_run(model, sample, _train_command(dataset, folder / "beside"), seconds)
    ratio = None
    if alone["steps_per_s"] and beside.get("steps_per_s"):
        ratio = round(beside["steps_per_s"] / alone["steps_per_s"], 2)
    return {
        "cpu": _cpu(),
        "seconds": seconds,
        "training_alone": alone,
        "window_alone": window,
        "beside": beside,
        "step_rate_ratio": ratio,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m app.bench_train",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=60.0, help="each timing's length")
    p.add_argument("--json", default="out/bench-train.json", help="where to write the figures")
    p.add_argument("--keep", help="work in this folder (default: a temporary one, removed)")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    def body() -> None:
        from landmarks.video import sample_video_path

        with tempfile.TemporaryDirectory() as tmp:
            found = measure(Path(args.keep or tmp), sample_video_path(), args.seconds)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.json, found)
        print(json.dumps(found, indent=2))

    return run_command("bench-train", body)


if __name__ == "__main__":
    sys.exit(main())
