"""scripts/demo --real's own pieces (scripts/real_demo.py) on the sample: the held-out part it
measures the swap on, as results.json states it, the --span that plays it, each step's time and
memory, and the tables it writes. The whole run trains the quick presets (half an hour): README's
Results."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from landmarks.dataset import main as make_dataset

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def real_demo():
    spec = importlib.util.spec_from_file_location("real_demo", ROOT / "scripts" / "real_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_held_out_part_is_stated_with_its_frames_and_sd(real_demo, sample_video, tmp_path):
    user = tmp_path / "user"
    assert (
        make_dataset(
            [str(sample_video), "-o", str(user), "--size", "64", "--val-span", "1:2", "-q"]
        )
        == 0
    )
    source = json.loads((user / "manifest.json").read_text())["sources"][0]
    first, end = source["val_from_frame"], source["val_to_frame"]
    assert 0 < first < end

    held = real_demo.held_out(user)
    assert (held["from_frame"], held["to_frame"]) == (first, end)
    assert held["seconds"] == [1.0, 2.0] and held["video"] == source["path"]
    # Its --span plays exactly those frames, numbered as in the video.
    from app.sources import VideoSource
    from landmarks.dataset_config import span

    played = VideoSource(str(sample_video), paced=False, span=span(held["span"]))
    stop = threading.Event()
    count = 0
    while played.read(stop) is not None:
        count += 1
    assert played.first == first and count == end - first == played.frames


def test_each_step_is_timed_and_its_memory_measured(tmp_path):
    # Run from a fresh, small process, as scripts/demo runs it: a child counts from its fork, so
    # a step's peak is at least its parent's size, and this test's process is large.
    probe = f"""
import json, sys
sys.path.insert(0, {str(ROOT / "scripts")!r})
import real_demo
steps = real_demo.Steps()
grow = "x = bytearray(300 * 2**20); x[::4096] = b'1' * len(x[::4096])"
steps.run("big", "a step that holds 300 MiB", sys.executable, "-c", grow)
steps.run("small", "a step that holds little", sys.executable, "-c", "pass")
try:
    steps.run("failing", "exits 3", sys.executable, "-c", "raise SystemExit(3)")
except real_demo.InputError as e:
    failed = str(e)
print(json.dumps({{"peak_mb": steps.peak_mb, "seconds": steps.seconds, "failed": failed}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak = result["peak_mb"]
    assert peak["big"] >= 300 and peak["big"] >= peak["small"] + 200 and peak["small"] > 0
    assert set(result["seconds"]) == {"big", "small", "failing"}
    assert result["failed"] == "failing failed (exit status 3); see above"


def test_the_woman_drives_only_with_the_footages_own_videos(real_demo, tmp_path):
    footage = tmp_path / "footage"

    def args(**given):
        fields = {"target": None, "user": None, "blinker": None, **given}
        return real_demo.with_footage(argparse.Namespace(**fields), footage)

    ours = args()
    assert ours.blinker == str(footage / "woman.mp4")
    assert ours.target == str(footage / "franck.mp4") and ours.user == str(footage / "cap12.mp4")
    assert args(target="me.mp4", user="you.mp4").blinker is None
    assert args(target="me.mp4", blinker="b.mp4").blinker == "b.mp4"
    assert args(blinker="none").blinker is None
