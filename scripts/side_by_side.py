"""Pictures side by side, each under its label, scaled to one height: `evaluate`'s contact sheets
of two models on the same frames, before | after.

    .venv/bin/python scripts/side_by_side.py old/swap.sheet.png new/swap.sheet.png \
        --labels "VAE-GAN (before)" "sharp (after)" -o swap-before-after.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cli import run_command  # noqa: E402
from common.errors import InputError  # noqa: E402
from common.files import atomic_path  # noqa: E402

LABEL_HEIGHT = 28
GAP = 8


def side_by_side(images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """BGR pictures scaled to the first one's height, a label above each, a gap between."""
    height = images[0].shape[0]
    columns = []
    for image, label in zip(images, labels, strict=True):
        width = round(image.shape[1] * height / image.shape[0])
        scaled = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        band = np.full((LABEL_HEIGHT, width, 3), 255, np.uint8)
        cv2.putText(band, label, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
        columns += [
            np.vstack([band, scaled]),
            np.full((height + LABEL_HEIGHT, GAP, 3), 255, np.uint8),
        ]
    return np.hstack(columns[:-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="side_by_side", description=__doc__.splitlines()[0])
    p.add_argument("pictures", nargs="+", help="PNG or JPEG files, left to right")
    p.add_argument("--labels", nargs="+", help="one per picture (default: the file names)")
    p.add_argument("-o", "--output", required=True, help="the PNG to write")
    args = p.parse_args(argv)

    def body() -> None:
        labels = args.labels or [Path(x).name for x in args.pictures]
        if len(labels) != len(args.pictures):
            raise InputError(f"{len(labels)} labels for {len(args.pictures)} pictures")
        images = []
        for path in args.pictures:
            if not Path(path).is_file():
                raise InputError(f"{path}: no such file")
            image = cv2.imread(path)
            if image is None:
                raise InputError(f"{path}: not a picture OpenCV can read")
            images.append(image)
        with atomic_path(args.output, suffix=".png") as tmp:
            cv2.imwrite(tmp, side_by_side(images, labels))
        print(args.output)

    return run_command("side_by_side", body)


if __name__ == "__main__":
    sys.exit(main())
