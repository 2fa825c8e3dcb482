"""Blinks in two eye-openness series, the driver's and the output's: are they followed, invented?

A blink lasts 2-5 frames, so a correlation over a whole clip hardly sees it: a face that never
blinks can still follow slow squints. These figures look at the blinks themselves. An event is
where the driver's openness falls below BLINK_FRACTION of its running median (over about
RUNNING_SECONDS) for at most MAX_BLINK_FRAMES frames: dlib under-reads a closed lid, so a blink
seldom reads below half of the open eye. Its depth is 1 − the minimum ÷ the running median within
a frame of the event; the output's depth at the same frames over the driver's is the event's depth
ratio (1: as deep). Held shut eyes are no blink: they are measured apart (`shut`).

Series are on the video's frame numbers; frames without a value (no face, or a frame left out)
are NaN and never part of an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RUNNING_SECONDS = 2.0  # the running median's window: long beside a blink, short beside a mood
BLINK_FRACTION = 0.65  # below this share of the running median: the lids are closing
MAX_BLINK_FRAMES = 8  # longer is a held closure (a squint, shut eyes), not a blink
NEAR_FRAMES = 1  # the depth is read within this many frames of the event (a frame's lag passes)
FOLLOWED_RATIO = 0.5  # an event is followed when the output closes at least half as deep
MATCH_FRAMES = 2  # an output event this near the driver's lids going down is no invention
SHUT_FRACTION = 0.4  # driver frames below this share of the clip's median: eyes shut


@dataclass(frozen=True)
class Event:
    """Frames [start, end] (inclusive) of a dense series below the blink threshold."""

    start: int
    end: int


def dense(frames: Sequence[int], values: Sequence[float | None]) -> tuple[int, np.ndarray]:
    """(first frame, values on every frame from it to the last given, NaN where none was given)."""
    if not len(frames):
        return 0, np.zeros(0)
    first = int(frames[0])
    x = np.full(int(frames[-1]) - first + 1, np.nan)
    for f, v in zip(frames, values, strict=True):
        x[int(f) - first] = np.nan if v is None else v
    return first, x


def running_median(x: np.ndarray, window: int) -> np.ndarray:
    """The median of each frame's centred `window` (odd), ignoring NaN; NaN where all are."""
    if not len(x):
        return x.copy()
    half = max(window, 1) // 2
    padded = np.pad(x, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    out = np.full(len(x), np.nan)
    ok = ~np.all(np.isnan(windows), axis=1)
    out[ok] = np.nanmedian(windows[ok], axis=1)
    return out


def find_events(
    x: np.ndarray, median: np.ndarray, max_frames: int = MAX_BLINK_FRAMES
) -> list[Event]:
    """Runs of frames below BLINK_FRACTION of `median`, at most `max_frames` long, from eyes
    that are open: where the running median itself reads shut (below SHUT_FRACTION of the
    series' median), the lids' flutter is no blink, and `shut` measures those frames."""
    if not len(x) or np.all(np.isnan(x)):
        return []
    with np.errstate(invalid="ignore"):
        below = (x < BLINK_FRACTION * median) & (median >= SHUT_FRACTION * np.nanmedian(x))
    events, start = [], None
    for i, b in enumerate([*below, False]):
        if b and start is None:
            start = i
        elif not b and start is not None:
            if i - start <= max_frames:
                events.append(Event(start, i - 1))
            start = None
    return events


def depth(x: np.ndarray, median: np.ndarray, event: Event) -> float | None:
    """1 − the least value within NEAR_FRAMES of `event` ÷ the running median over the event."""
    lo, hi = max(event.start - NEAR_FRAMES, 0), min(event.end + NEAR_FRAMES + 1, len(x))
    low, rest = x[lo:hi], median[event.start : event.end + 1]
    if np.all(np.isnan(low)) or np.all(np.isnan(rest)):
        return None
    return float(1.0 - np.nanmin(low) / np.nanmedian(rest))


def _closing(x: np.ndarray, median: np.ndarray) -> np.ndarray:
    """Frames where the driver's lids are down: below the blink threshold, or shut (what an
    output may close on without inventing a blink; a squeezed laugh is no blink, but no
    invention to follow either)."""
    with np.errstate(invalid="ignore"):
        return (x < BLINK_FRACTION * median) | (x < SHUT_FRACTION * np.nanmedian(x))


def blink_figures(
    frames: Sequence[int],
    driver: Sequence[float | None],
    output: Sequence[float | None],
    fps: float,
    excluded: Sequence[int] = (),
) -> dict:
    """The blink figures of evaluate --driver from the eye-openness series (see the module).

    `excluded`: frame numbers left out of everything (faces flagged as covered, say)."""
    first, d = dense(frames, driver)
    _, o = dense(frames, output)
    for f in excluded:
        if 0 <= f - first < len(d):
            d[f - first] = o[f - first] = np.nan
    window = int(round(RUNNING_SECONDS * fps)) | 1
    d_median, o_median = running_median(d, window), running_median(o, window)
    driver_events = find_events(d, d_median)
    rows = []
    for event in driver_events:
        driver_depth = depth(d, d_median, event)
        output_depth = depth(o, o_median, event)
        rows.append(
            {
                "frames": [event.start + first, event.end + first],
                "depth": driver_depth,
                "output_depth": output_depth,
                "ratio": None
                if output_depth is None or not driver_depth
                else output_depth / driver_depth,
            }
        )
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    closing = _closing(d, d_median)
    invented = [
        e
        for e in find_events(o, o_median)
        if not closing[max(e.start - MATCH_FRAMES, 0) : e.end + MATCH_FRAMES + 1].any()
    ]
    followed = sum(r >= FOLLOWED_RATIO for r in ratios)
    minutes = np.count_nonzero(~np.isnan(d)) / fps / 60 if fps > 0 else 0.0
    paired = ~np.isnan(d) & ~np.isnan(o)
    return {
        "events": rows,
        "count": len(rows),
        "followed": followed,
        "followed_share": followed / len(rows) if rows else None,
        "mean_depth_ratio": float(np.mean(ratios)) if ratios else None,
        "invented": [[e.start + first, e.end + first] for e in invented],
        "invented_per_minute": len(invented) / minutes if minutes else None,
        "eye_amplitude": _amplitude(d[paired], o[paired]),
        "shut": _shut(d, o),
    }


def _amplitude(driver: np.ndarray, output: np.ndarray) -> float | None:
    """The output's openness sd ÷ the driver's, over frames where both have a value."""
    if len(driver) < 3 or not driver.std():
        return None
    return float(output.std() / driver.std())


def _shut(driver: np.ndarray, output: np.ndarray) -> dict:
    """Where the driver's eyes read shut (below SHUT_FRACTION of the clip's median): how many
    frames, and the output's mean openness there ÷ the output's median over the clip."""
    if np.all(np.isnan(driver)) or np.all(np.isnan(output)):
        return {"frames": 0, "ratio": None}
    with np.errstate(invalid="ignore"):
        shut = driver < SHUT_FRACTION * np.nanmedian(driver)
    shut &= ~np.isnan(output)
    ratio = float(np.mean(output[shut]) / np.nanmedian(output)) if shut.any() else None
    return {"frames": int(shut.sum()), "ratio": ratio}
