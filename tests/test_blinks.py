"""evaluate --driver's blink figures (app.blinks) on openness series whose dips are known."""

from __future__ import annotations

import numpy as np
import pytest

from app.blinks import blink_figures, find_events, running_median

FPS = 25.0
OPEN = 0.10


def series(n: int, dips: list[tuple[int, int, float]], noise: float = 0.002, seed: int = 0):
    """An open eye (OPEN) with small noise; each dip (start, length, depth) lowers
    [start, start + length) to OPEN · (1 − depth)."""
    x = OPEN + np.random.default_rng(seed).normal(0, noise, n)
    for start, length, d in dips:
        x[start : start + length] = OPEN * (1 - d)
    return x


def test_running_median_passes_over_a_blink_and_ignores_gaps():
    x = series(200, [(100, 4, 0.6)], noise=0)
    x[50:60] = np.nan
    median = running_median(x, 49)
    assert np.allclose(median, OPEN)


def test_events_are_the_short_dips_below_the_threshold():
    x = series(300, [(40, 3, 0.6), (120, 8, 0.5), (200, 9, 0.6), (260, 5, 0.2)])
    events = find_events(x, running_median(x, 49))
    # 9 frames is a held closure, not a blink; a 20 % dip stays above 0.65 of the median.
    assert [(e.start, e.end) for e in events] == [(40, 42), (120, 127)]


def test_a_driver_followed_at_full_depth_then_at_a_fifth():
    frames = list(range(400))
    driver = series(400, [(50, 3, 0.5), (150, 4, 0.6), (250, 3, 0.5)])
    output = series(400, [(51, 3, 0.5), (150, 4, 0.12)], seed=1)  # a frame late; a fifth; none
    got = blink_figures(frames, driver, output, FPS)
    assert [e["frames"] for e in got["events"]] == [[50, 52], [150, 153], [250, 252]]
    assert got["events"][0]["depth"] == pytest.approx(0.5, abs=0.05)
    ratios = [e["ratio"] for e in got["events"]]
    assert ratios[0] == pytest.approx(1.0, abs=0.12)
    assert ratios[1] == pytest.approx(0.2, abs=0.1)
    assert ratios[2] < 0.2
    assert got["followed"] == 1 and got["followed_share"] == pytest.approx(1 / 3)
    assert got["mean_depth_ratio"] == pytest.approx(np.mean(ratios))
    assert got["invented"] == []


def test_an_output_blink_the_driver_never_made_is_invented():
    frames = list(range(1500))  # a minute at 25 fps
    driver = series(1500, [(300, 3, 0.5)])
    output = series(1500, [(300, 3, 0.5), (900, 3, 0.5), (1200, 4, 0.6)], seed=2)
    got = blink_figures(frames, driver, output, FPS)
    assert got["invented"] == [[900, 902], [1200, 1203]]
    assert got["invented_per_minute"] == pytest.approx(2.0)


def test_shut_eyes_and_amplitude():
    frames = list(range(500))
    driver = series(500, [(0, 100, 0.8)])  # shut for the first 4 s, then open
    stays_open = series(500, [], seed=3)
    closes = series(500, [(0, 100, 0.7)], seed=3)
    opened = blink_figures(frames, driver, stays_open, FPS)
    shut = blink_figures(frames, driver, closes, FPS)
    assert opened["shut"]["frames"] == shut["shut"]["frames"] == 100
    assert opened["shut"]["ratio"] == pytest.approx(1.0, abs=0.05)
    assert shut["shut"]["ratio"] == pytest.approx(0.3, abs=0.05)
    assert opened["eye_amplitude"] < 0.1
    assert shut["eye_amplitude"] == pytest.approx(0.7 / 0.8, abs=0.08)
    assert opened["count"] == 0  # a held closure is no blink


def test_frames_keep_the_videos_numbers_and_gaps_break_nothing():
    frames = [*range(1000, 1100), *range(1110, 1300)]  # ten frames without a face
    driver = series(300, [(150, 3, 0.5)])[: len(frames)]
    got = blink_figures(frames, driver, driver, FPS)
    # The dip sits at list position 150: frame 1110 + 40.
    assert [e["frames"] for e in got["events"]] == [[1160, 1162]]
    assert got["followed"] == 1


def test_excluded_frames_hold_no_event():
    frames = list(range(300))
    driver = series(300, [(100, 3, 0.5), (200, 3, 0.5)])
    got = blink_figures(frames, driver, driver, FPS, excluded=range(195, 210))
    assert [e["frames"] for e in got["events"]] == [[100, 102]]


def test_no_faces_no_figures():
    got = blink_figures([], [], [], FPS)
    assert got["count"] == 0 and got["followed_share"] is None and got["eye_amplitude"] is None


def test_a_driver_whose_eyes_are_shut_from_the_start_is_drawn_shut():
    """FaceStage's retargeting through its real stages, with the points a tracker would give: the
    target's eyes close with the driver's even before her eyes were ever seen open."""
    from app.face import FaceStage, ModelSpec
    from app.pipeline import Frame
    from common.regions import eye_openness
    from tests.test_neutral import face

    target = face(0.0, eyes=0.12) + 200  # in the crop's pixels: the target's face at rest
    spec = ModelSpec(size=400, reference_shape=target, neutral_shape=target)

    class Points:  # the driver's points at a fixed place, as dlib would track a still head
        def __init__(self):
            self.eyes = 0.02

        def __call__(self, image):
            found = type("Found", (), {})()
            found.points = face(0.0, eyes=self.eyes) * 0.8 + 200
            return found

        def reset(self):
            pass

    points = Points()
    stage = FaceStage(spec, smoothing=0.0, retarget="on", tracker=points)
    image = np.zeros((400, 400, 3), np.uint8)
    drawn = []
    for i in range(130):
        points.eyes = 0.02 if i < 100 else 0.10
        drawn.append(eye_openness(stage(Frame(i, i / 25, image)).drawn_points))
    assert max(drawn[:100]) < 0.04  # shut, as hers are (before: the target's rest, 0.12)
    assert abs(drawn[-1] - 0.12) < 0.01  # once open, her open eyes are rest: the target's open


# The sample's man blinks at frames 42 and 112 (lids shut in 42 and 112, half open in 43 and 113:
# seen frame by frame), and half way at 92 (0.6 of the open eye, at the threshold).
SAMPLE_BLINKS = {42, 112}
SAMPLE_CLOSING = {42, 43, 92, 93, 112, 113}


def test_the_samples_blinks_through_evaluate_driver_span(tiny_model, sample_video, tmp_path):
    """The live path on seconds 1-4.5 of the sample (--span): its frames keep the video's
    numbers, the blinks listed are the events found, and the table names the blink figures."""
    import json
    import subprocess
    import sys

    out = tmp_path / "span.json"
    args = ["--model", str(tiny_model), "--driver", str(sample_video), "--span", "1:4.5"]
    done = subprocess.run(
        [sys.executable, "-m", "app.evaluate", *args, "--json", str(out), "-q"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["span"] == [1.0, 4.5] and report["frames"] == 120 - 30  # the video ends first
    assert report["series"]["frame"][0] == 30 and report["series"]["frame"][-1] <= 119
    blinks = report["blinks"]
    events = [e["frames"] for e in blinks["events"]]
    found = {f for start, end in events for f in range(start, end + 1)}
    assert SAMPLE_BLINKS <= found <= SAMPLE_CLOSING, events
    assert all(0.3 < e["depth"] < 0.8 for e in blinks["events"])
    assert report["series"]["blinks"] == events  # what the plot shades
    assert "blinks followed" in done.stdout and "blinks invented per minute" in done.stdout


def test_a_span_outside_the_video_is_one_line(tiny_model, sample_video, tmp_path, capfd):
    from app.evaluate import main as evaluate_main

    for span, said in (("9:12", "after the video's end"), ("3:2", "needs 0 <= START < END")):
        args = ["--model", str(tiny_model), "--driver", str(sample_video), "--span", span, "-q"]
        assert evaluate_main(args) == 2
        err = capfd.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0] and "Traceback" not in err[0], err
    args = ["--model", str(tiny_model), "--driver", str(sample_video), "--span", "x", "-q"]
    with pytest.raises(SystemExit) as exit_:
        evaluate_main(args)
    assert exit_.value.code == 2


def test_the_lids_flutter_while_held_shut_is_no_blink():
    frames = list(range(400))
    driver = series(400, [(0, 100, 0.75), (30, 3, 0.9), (60, 2, 0.95), (250, 3, 0.5)])
    got = blink_figures(frames, driver, driver, FPS)
    assert [e["frames"] for e in got["events"]] == [[250, 252]]
    assert got["shut"]["frames"] == 100


def test_an_output_closing_while_the_driver_squeezes_is_no_invention():
    frames = list(range(300))
    driver = series(300, [(100, 20, 0.7)])  # a squeezed laugh: 20 frames, no blink
    output = series(300, [(104, 3, 0.6), (200, 3, 0.6)], seed=4)  # then one from nothing
    got = blink_figures(frames, driver, output, FPS)
    assert got["count"] == 0 and got["invented"] == [[200, 202]]
