"""make-dataset and the tracker on the real sample video, with the real dlib models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from landmarks import FaceTracker
from landmarks.dataset import MANIFEST, STATE, DatasetConfig, build_dataset, main
from landmarks.video import open_source


def read_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    return [f for _, f in open_source(str(path)).read()][:limit]


def digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_tracker_detects_once_then_tracks(sample_video):
    tracker = FaceTracker()
    results = [tracker(f) for f in read_frames(sample_video, 60)]
    assert sum(r.found for r in results) >= 55
    assert sum(r.detected for r in results) <= 3  # the detector ran a handful of times, not 60
    assert results[0].detected and results[0].faces == 1


def test_tracker_follows_one_face_when_two_are_in_frame(sample_video):
    frames = read_frames(sample_video, 10)
    tracker = FaceTracker(redetect_every=3)
    # Two copies of the man side by side; the right one larger, so it is the one followed.
    doubled = [np.hstack([f, cv2.resize(f, None, fx=1.3, fy=1.3)[:144, :176]]) for f in frames]
    results = [tracker(f) for f in doubled]
    assert results[0].faces == 2 and not results[0].ambiguous
    xs = [r.points[:, 0].mean() for r in results if r.found]
    assert len(xs) == 10 and min(xs) > 176  # stayed on the right-hand face throughout
    redetected = [r for r in results[1:] if r.detected]
    assert redetected and all(r.faces == 2 for r in redetected)


def test_tracker_loses_a_face_that_leaves(sample_video):
    frames = read_frames(sample_video, 12)
    tracker = FaceTracker(check_every=2)
    for f in frames[:6]:
        assert tracker(f).found
    blank = np.full_like(frames[0], 127)
    lost = [tracker(blank) for _ in range(4)]
    assert not lost[-1].found and not tracker.tracking


def test_sample_dataset_meets_the_contract(sample_dataset):
    manifest = json.loads((sample_dataset / MANIFEST).read_text())
    size = manifest["size"]
    assert manifest["format"] == "face-mirror-dataset" and manifest["mode"] == "aligned"
    train = sorted((sample_dataset / "train").glob("*.png"))
    val = sorted((sample_dataset / "val").glob("*.png"))
    assert len(train) + len(val) >= 100
    assert manifest["counts"]["train"] == len(train) and manifest["counts"]["val"] == len(val)
    assert sum(manifest["counts"]["skipped"].values()) + len(train) + len(val) == 120
    for p in train[:5] + val[:5]:
        img = cv2.imread(str(p))
        assert img.shape == (size, 2 * size, 3)
        a = img[:, :size]
        assert (a[..., 0] == a[..., 2]).all() and a.max() > 200  # a line drawing
    lm = np.load(sample_dataset / "landmarks.npz")
    assert lm["points"].shape == (len(train) + len(val), 68, 2)
    assert lm["points"].min() >= 0 and lm["points"].max() <= size - 1
    names = {
        f"{'train' if s == 0 else 'val'}/{i:06d}.png"
        for s, i in zip(lm["split"], lm["index"], strict=False)
    }
    assert names == {f"{p.parent.name}/{p.name}" for p in train + val}
    # The validation split is the video's tail: every val frame comes after every train frame.
    assert lm["frame"][lm["split"] == 1].min() > lm["frame"][lm["split"] == 0].max()
    assert 0.05 < len(val) / (len(train) + len(val)) < 0.15
    assert not (sample_dataset / STATE).exists()


def test_drawing_matches_the_points_in_each_pair(sample_dataset):
    lm = np.load(sample_dataset / "landmarks.npz")
    size = json.loads((sample_dataset / MANIFEST).read_text())["size"]
    img = cv2.imread(str(sample_dataset / "train" / f"{lm['index'][0]:06d}.png"))
    pts = np.round(lm["points"][0]).astype(int)
    assert (img[pts[:, 1], pts[:, 0], 0] > 60).mean() > 0.9
    assert img[:, :size].mean() < 60  # mostly black


def test_rerun_is_a_no_op_and_a_rebuild_gives_the_same_bytes(sample_video, tmp_path, capsys):
    out = tmp_path / "ds"
    args = [str(sample_video), "-o", str(out), "--size", "64", "--every", "3", "-q"]
    assert main(args) == 0
    first = digest(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    capsys.readouterr()
    assert main(args) == 0
    assert "already built" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == mtimes
    assert main([*args, "--force"]) == 0
    assert digest(out) == first


def test_an_interrupted_build_continues_to_the_same_dataset(sample_video, tmp_path):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    cfg = dict(inputs=[str(sample_video)], size=64, every=2)
    build_dataset(DatasetConfig(output=str(whole), **cfg), progress=False)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(DatasetConfig(output=str(resumed), **cfg), progress=False, stop_after=30)
    assert not (resumed / MANIFEST).exists() and (resumed / STATE).exists()
    result = build_dataset(DatasetConfig(output=str(resumed), **cfg), progress=False)
    assert result.resumed_from == 30
    assert digest(resumed) == digest(whole)


def test_a_folder_of_images_is_an_input(sample_video, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(read_frames(sample_video, 12)):
        cv2.imwrite(str(folder / f"f{i:03d}.jpg"), f)
    result = build_dataset(
        DatasetConfig(inputs=[str(folder)], output=str(tmp_path / "ds"), size=64, mode="frame"),
        progress=False,
    )
    assert result.pairs["train"] + result.pairs["val"] >= 10
    manifest = json.loads((tmp_path / "ds" / MANIFEST).read_text())
    assert manifest["mode"] == "frame" and manifest["sources"][0]["frames"] == 12


def test_two_videos_each_keep_their_own_validation_tail(sample_video, tmp_path):
    result = build_dataset(
        DatasetConfig(
            inputs=[str(sample_video)] * 2, output=str(tmp_path / "ds"), size=64, max_pairs=20
        ),
        progress=False,
    )
    lm = np.load(tmp_path / "ds" / "landmarks.npz")
    for s in (0, 1):
        mine = lm["source"] == s
        assert (
            lm["frame"][mine & (lm["split"] == 1)].min()
            > lm["frame"][mine & (lm["split"] == 0)].max()
        )
        assert mine.sum() <= 20
    assert result.pairs["val"] >= 2


def test_a_val_span_holds_out_those_seconds_and_the_manifest_says_which_frames(
    sample_video, tmp_path
):
    # The sample runs 4 s at 29.97 fps: hold out its second second, frames 30 to 59.
    out = tmp_path / "ds"
    result = build_dataset(
        DatasetConfig(inputs=[str(sample_video)], output=str(out), size=64, val_span=(1.0, 2.0)),
        progress=False,
    )
    lm = np.load(out / "landmarks.npz")
    held = lm["frame"][lm["split"] == 1]
    assert held.min() >= 30 and held.max() <= 59 and result.pairs["val"] == len(held) >= 25
    trained = lm["frame"][lm["split"] == 0]
    assert (trained < 30).any() and (trained > 59).any()  # training on both sides of the span
    source = json.loads((out / MANIFEST).read_text())["sources"][0]
    assert (source["val_from_frame"], source["val_to_frame"]) == (30, 60)


@pytest.mark.parametrize(
    "span, message",
    [("3:1", "START < END"), ("60:70", "no frame"), ("0:9", "every frame"), ("1-2", "START:END")],
)
def test_a_bad_val_span_is_one_line_and_status_2(span, message, sample_video, tmp_path, capsys):
    out = tmp_path / "out"
    try:
        status = main([str(sample_video), "-o", str(out), "-q", "--val-span", span])
    except SystemExit as e:  # argparse's own refusal of a value it cannot parse
        status = e.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err.splitlines()[-1] and "Traceback" not in err
    assert not (out / MANIFEST).exists()


def bad(tmp_path: Path, name: str, content: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content)
    return str(p)


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda tmp, video: str(tmp / "missing.mp4"), "no such file"),
        (lambda tmp, video: bad(tmp, "text.mp4", b"this is not a video\n"), "not a readable video"),
        (lambda tmp, video: bad(tmp, "zero.mp4", b""), "empty file"),
        (
            lambda tmp, video: bad(
                tmp, "cut.mp4", video.read_bytes()[: len(video.read_bytes()) // 2]
            ),
            "not a readable video",
        ),
        (lambda tmp, video: str(tmp), "no images"),
    ],
    ids=["missing", "text", "zero-bytes", "truncated", "empty-dir"],
)
def test_bad_input_is_one_line_and_status_2(make_input, message, sample_video, tmp_path, capsys):
    src = make_input(tmp_path, sample_video)
    out = tmp_path / "out"
    assert main([src, "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not (out / MANIFEST).exists()


def test_a_video_without_faces_is_refused_and_leaves_nothing(tmp_path, capsys):
    path = tmp_path / "noface.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(15):
        writer.write(np.full((120, 160, 3), 10 * i, np.uint8))
    writer.release()
    out = tmp_path / "out"
    assert main([str(path), "-o", str(out), "-q"]) == 2
    assert "no face found" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("size", ["100", "32", "2048"])
def test_size_must_be_a_power_of_two_in_range(size, sample_video, tmp_path, capsys):
    assert main([str(sample_video), "-o", str(tmp_path / "o"), "--size", size]) == 2
    assert "power of two" in capsys.readouterr().err


def test_unwritable_output_is_refused(sample_video, capsys):
    # /proc refuses new directories even to root, which CI runs as.
    assert main([str(sample_video), "-o", "/proc/face-mirror-test/ds", "-q"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_output_that_is_a_file_is_refused(sample_video, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep me")
    assert main([str(sample_video), "-o", str(target / "ds"), "-q"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_a_different_dataset_is_not_overwritten_without_force(
    sample_video, sample_dataset, tmp_path, capsys
):
    before = digest(sample_dataset)
    assert main([str(sample_video), "-o", str(sample_dataset), "--size", "128", "-q"]) == 2
    assert "another dataset" in capsys.readouterr().err
    assert digest(sample_dataset) == before
