"""make-dataset's progress record and its files: pairs written atomically, a checkpoint to resume.

The checkpoint (STATE, beside the pairs) holds every pair so far, the skip counts, the position to
continue from and the tracker's state there, so that a resumed build ends with the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from common.files import atomic_path, write_atomic

STATE = ".make-dataset-state.npz"
SKIP_REASONS = ("no_face", "off_crop", "unreadable")
# One pair's row in landmarks.npz, and the type each column is stored as.
COLUMNS = {
    "points": np.float32,
    "frame": np.int32,
    "source": np.int32,
    "split": np.uint8,
    "index": np.int32,
}


def write_png(path: str, rgb: np.ndarray) -> None:
    # cv2 picks the encoder by the suffix, which atomic_path keeps.
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        # A file object, so that numpy adds no suffix of its own.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    write_atomic(path, write)


# -- the progress record ----------------------------------------------------------------------


def _no_skips() -> Counter[str]:
    return Counter({r: 0 for r in SKIP_REASONS})


@dataclass
class Progress:
    """How far a build has come: every pair so far, why frames were skipped, where to go on.

    Saved as STATE beside the pairs; `position` is the (source, frame) to continue from and
    `tracker` the face tracker's state there, so a resumed build tracks as an unbroken one would.
    """

    fingerprint: str
    points: list[np.ndarray] = field(default_factory=list)
    frame: list[int] = field(default_factory=list)
    source: list[int] = field(default_factory=list)
    split: list[int] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=_no_skips)
    several_seen: int = 0
    position: tuple[int, int] = (0, 0)
    tracker: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return len(self.index)

    def add(self, points: np.ndarray, frame: int, source: int, split: int) -> int:
        """Record one more pair; returns its file number."""
        index = self.pairs
        for column, value in zip(COLUMNS, (points, frame, source, split, index), strict=True):
            getattr(self, column).append(value)
        return index

    def arrays(self) -> dict[str, np.ndarray]:
        """The pairs so far as landmarks.npz holds them."""
        arrays = {column: np.asarray(getattr(self, column), t) for column, t in COLUMNS.items()}
        arrays["points"] = arrays["points"].reshape(self.pairs, 68, 2)
        return arrays

    def save(self, path: str) -> None:
        """Checkpoint to `path` (STATE), atomically: a killed build leaves the last one whole."""
        write_npz(
            path,
            {
                **self.arrays(),
                "fingerprint": np.array(self.fingerprint),
                "skipped": np.array(json.dumps(dict(self.skipped))),
                "several_seen": np.array(self.several_seen),
                "position": np.array(list(self.position)),
                **{f"tracker_{k}": v for k, v in self.tracker.items()},
            },
        )

    @classmethod
    def load(cls, path: str) -> Progress:
        """The progress a checkpoint at `path` saved."""
        with np.load(path, allow_pickle=False) as saved:
            st = {k: saved[k] for k in saved.files}
        n = len(st["index"])
        skipped = _no_skips()
        skipped.update(json.loads(str(st["skipped"])))
        source, frame = (int(v) for v in st["position"])
        return cls(
            str(st["fingerprint"]),
            **{column: list(st[column]) if n else [] for column in COLUMNS},
            skipped=skipped,
            several_seen=int(st["several_seen"]),
            position=(source, frame),
            tracker={k[len("tracker_") :]: v for k, v in st.items() if k.startswith("tracker_")},
        )
