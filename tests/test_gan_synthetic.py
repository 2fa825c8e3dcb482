"""Tiny synthetic A|B datasets for the gan tests (helpers only: no tests here)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def drawing(size: int, i: int) -> np.ndarray:
    """White circle and line on black; position and radius vary with i."""
    rng = np.random.default_rng(i)
    img = np.zeros((size, size, 3), np.uint8)
    c = rng.integers(size // 4, 3 * size // 4, 2)
    r = int(rng.integers(size // 8, size // 4))
    cv2.circle(img, (int(c[0]), int(c[1])), r, (255, 255, 255), max(1, size // 32))
    p, q = rng.integers(0, size, 2), rng.integers(0, size, 2)
    cv2.line(
        img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), (255, 255, 255), max(1, size // 32)
    )
    return img


def photo(a: np.ndarray) -> np.ndarray:
    """A smooth, deterministic function of the drawing: coloured glow on a gradient."""
    size = a.shape[0]
    glow = cv2.GaussianBlur(a[..., 0].astype(np.float32) / 255, (0, 0), size / 16)
    glow = glow / max(glow.max(), 1e-6)
    y = np.linspace(0, 1, size, dtype=np.float32)[:, None]
    base = np.stack([0.2 + 0.3 * y + 0 * glow, 0.3 + 0 * glow, 0.5 - 0.3 * y + 0 * glow], -1)
    img = base * (1 - glow[..., None]) + glow[..., None] * np.array([1.0, 0.8, 0.3], np.float32)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def write_pair(path: Path, a: np.ndarray, b: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate([a, b], axis=1), cv2.COLOR_RGB2BGR))


def make_aligned(
    root: Path, size: int = 64, n: int = 16, ext: str = ".jpg", swap: bool = False
) -> Path:
    """A plain pix2pix folder, DIR/*.ext, no manifest (swap: photo on the left, as BtoA data)."""
    for i in range(n):
        a = drawing(size, i)
        b = photo(a)
        write_pair(root / f"{i:04d}{ext}", *((b, a) if swap else (a, b)))
    return root


def make_face_mirror(root: Path, size: int = 64, n_train: int = 12, n_val: int = 4) -> Path:
    """A face-mirror dataset: manifest.json, train/ and val/ PNGs, landmarks.npz."""
    rng = np.random.default_rng(0)
    n = n_train + n_val
    for i in range(n):
        a = drawing(size, i)
        split = "train" if i < n_train else "val"
        write_pair(root / split / f"{i:06d}.png", a, photo(a))
    points = (rng.random((n, 68, 2)) * size).astype(np.float32)
    np.savez(
        root / "landmarks.npz",
        points=points,
        frame=np.arange(n, dtype=np.int32),
        source=np.zeros(n, np.int32),
        split=(np.arange(n) >= n_train).astype(np.uint8),
        index=np.arange(n, dtype=np.int32),
    )
    manifest = {
        "format": "face-mirror-dataset",
        "version": 1,
        "mode": "aligned",
        "size": size,
        "drawing": {"thickness": 1, "color": [255, 255, 255]},
        "alignment": {"margin": 0.4},
        "sources": [{"path": "synthetic.mp4", "frames": n, "fps": 30.0}],
        "counts": {"train": n_train, "val": n_val, "skipped": {}},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root
