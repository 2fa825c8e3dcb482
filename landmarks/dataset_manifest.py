"""manifest.json of a dataset: how it was made, from what, what came of it, and who it shows."""

from __future__ import annotations

import os
from dataclasses import asdict

import numpy as np

from landmarks.align import Alignment
from landmarks.dataset_config import DatasetConfig
from landmarks.dataset_format import FORMAT, SPLITS, VERSION, pair_path, read_pair
from landmarks.dataset_frames import val_range
from landmarks.dataset_state import Progress
from landmarks.draw import DrawingParams
from landmarks.identity import mean_descriptor, spread
from landmarks.retarget import neutral_shape
from landmarks.video import FrameSource


def _target(out: str, arrays: dict[str, np.ndarray]) -> dict:
    """Who the target is and their face at rest, from the training pairs already written.

    The descriptor (mean of dlib's over a few photos spread across the training split) lets the
    app tell the target driving themself; the neutral shape (the live driver's rule, on every
    training shape) is what retargeting adds the driver's expression to. Both come from the
    files and points, so a resumed build computes them exactly as an unbroken one does.
    """
    split, index, points = arrays["split"], arrays["index"], arrays["points"]
    rows = np.flatnonzero(split == 0)
    if len(rows) == 0:  # every pair is held out: they still show the target
        rows = np.arange(len(index))
    faces = (
        (read_pair(pair_path(out, SPLITS[split[i]], int(index[i])))[1], points[i])
        for i in spread(rows)
    )
    return {
        "target_descriptor": [round(float(v), 6) for v in mean_descriptor(faces)],
        "neutral_shape": [
            [round(float(x), 4), round(float(y), 4)] for x, y in neutral_shape(points[rows])
        ],
    }


def build_manifest(
    cfg: DatasetConfig,
    sources: list[FrameSource],
    plans: list[list[int]],
    progress: Progress,
    arrays: dict[str, np.ndarray],
) -> dict:
    """manifest.json: how the dataset was made, from what, what came of it, and who it shows."""
    pairs = {s: int((arrays["split"] == i).sum()) for i, s in enumerate(SPLITS)}
    return {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": progress.fingerprint,
        "mode": cfg.mode,
        "size": cfg.size,
        "layout": "A|B: A = line drawing (left), B = photo (right), RGB",
        "drawing": DrawingParams().to_dict(),
        "alignment": Alignment(cfg.mode).to_dict(),
        "settings": {
            k: v
            for k, v in asdict(cfg).items()
            if k not in ("inputs", "output", "force", "quiet", "camera", "seconds")
        },
        "sources": [
            {
                "path": os.path.abspath(s.path),
                "frames": s.frames,
                "fps": s.fps,
                "pairs": int((arrays["source"] == i).sum()),
                **dict(
                    zip(
                        ("val_from_frame", "val_to_frame"),
                        val_range(plans[i], s.fps, cfg),
                        strict=True,
                    )
                ),
            }
            for i, s in enumerate(sources)
        ],
        "counts": {
            **pairs,
            "skipped": dict(progress.skipped),
            "several_faces_seen": progress.several_seen,
        },
        **_target(cfg.output, arrays),
    }
