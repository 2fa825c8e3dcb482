"""Cut and join videos into one clip at one size, with no frame between them: `a.mp4[:N] b.mp4`.

For the occlusion issue's measures: franck's held-out tail (`franck.mp4[4320:]`) and cap12 then
the woman in one video (another person takes the seat without the face leaving the frame).
"""

from __future__ import annotations

import argparse
import logging
import re

import cv2

log = logging.getLogger(__name__)


def parse(part: str) -> tuple[str, int, int | None]:
    """`path[START:END]` (either end may be left out) → (path, start, end)."""
    m = re.fullmatch(r"(.+?)(?:\[(\d*):(\d*)\])?", part)
    assert m is not None
    return m.group(1), int(m.group(2) or 0), int(m.group(3)) if m.group(3) else None


def letterboxed(frame, size: tuple[int, int]):
    """`frame` scaled to fit `size` (w, h) without changing its shape, on black: a face
    stretched into another aspect would be another face shape."""
    w, h = size
    k = min(w / frame.shape[1], h / frame.shape[0])
    fw, fh = round(frame.shape[1] * k), round(frame.shape[0] * k)
    out = cv2.copyMakeBorder(
        cv2.resize(frame, (fw, fh), interpolation=cv2.INTER_AREA),
        (h - fh) // 2,
        h - fh - (h - fh) // 2,
        (w - fw) // 2,
        w - fw - (w - fw) // 2,
        cv2.BORDER_CONSTANT,
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("parts", nargs="+", help="videos, each optionally cut: clip.mp4[100:200]")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--size", default=None, help="WxH of the output (default: the first part's)")
    p.add_argument("--fps", type=float, default=None, help="default: the first part's")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    writer, size = None, None
    if args.size:
        w, h = (int(v) for v in args.size.split("x"))
        size = (w, h)
    for part in args.parts:
        path, start, end = parse(part)
        cap = cv2.VideoCapture(path)
        fps = args.fps or cap.get(cv2.CAP_PROP_FPS)
        cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        n, index = 0, start
        while end is None or index < end:
            ok, frame = cap.read()
            if not ok:
                break
            if size is None:
                size = (frame.shape[1], frame.shape[0])
            if writer is None:
                writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            if (frame.shape[1], frame.shape[0]) != size:
                frame = letterboxed(frame, size)
            writer.write(frame)
            n, index = n + 1, index + 1
        log.info("%s: %d frames from %d", path, n, start)
    if writer is not None:
        writer.release()


if __name__ == "__main__":
    main()
