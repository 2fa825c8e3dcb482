"""`evaluate`: how good a model is, in numbers, on frames it never saw, against a baseline to beat.

On the dataset's validation tail, each held-out drawing drives the generator and the output is
compared with the real frame: pixels (L1, PSNR, SSIM), expression (the landmark stage run on the
output, its error ÷ inter-ocular distance, and how often a face is found at all), identity (dlib's
face-recognition distance to the real frame) and temporal stability (frame-to-frame change of the
output against that of the real video). The nearest-neighbour baseline answers each drawing with
the training photo whose points are closest: a model must beat it to be worth having, and beat it
beyond noise: each metric gets a 95 % paired-bootstrap interval of the difference model − baseline
over the held-out pairs, and a win is called only when the interval excludes zero.

`evaluate --driver VIDEO` measures the live path on a driving video instead (app.drive).

Pictures go beside the JSON, or into --pictures DIR (app.pictures): here a contact sheet of
held-out pairs spread over the tail, drawing | model | retrieval | real, the very outputs measured;
app.drive makes --driver's.
"""

from __future__ import annotations

import argparse
import errno
import functools
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from app.drive import add_driver_arguments, drive_report_from_args, format_drive_table
from app.measures import FaceMeasures, nme
from app.model import add_backend_flags, check_model_path, load_model
from app.modes import mode_class, mode_for
from app.pictures import Measured, pictures_base, sheet_picture, write_pictures
from common.cli import run_command
from common.errors import InputError
from common.files import write_json_atomic
from gan.metrics import image_metrics
from landmarks import DrawingParams, draw_landmarks
from landmarks.dataset_format import DatasetIndex, load_index, read_pair
from landmarks.identity import SAME_PERSON_DISTANCE

log = logging.getLogger(__name__)

BOOTSTRAP_SAMPLES = 10000
CONFIDENCE = 0.95
# (drawings, their positions in the ValSet) -> faces, uint8 RGB
Generate = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class ValSet:
    """A dataset's validation tail at the model's size, and the training points for the baseline."""

    drawings: np.ndarray  # (N, S, S, 3) uint8 RGB
    real: np.ndarray  # (N, S, S, 3) uint8 RGB
    points: np.ndarray  # (N, 68, 2) in pixels at size S
    train_points: np.ndarray  # (M, 68, 2)
    train_paths: list[Path]
    size: int
    names: list[str] = field(default_factory=list)  # each pair's file, "val/000107", for people


def _splits(index: DatasetIndex, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(val rows, at most `limit` of them; train rows); InputError unless there are both."""
    val, train = index.rows("val")[:limit], index.rows("train")
    if len(val) == 0 or len(train) == 0:
        raise InputError(
            f"{index.root}: needs both a train and a val split (val {len(val)}, train {len(train)})"
        )
    return val, train


def _photo_at(path: Path, size: int) -> np.ndarray:
    """The photo half of a pair file, at `size` pixels."""
    _, photo = read_pair(path)
    if photo.shape[0] == size:
        return photo
    return cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)


def load_val_set(
    dataset: str | Path | DatasetIndex,
    size: int,
    drawing: DrawingParams,
    limit: int | None = None,
) -> ValSet:
    """Read the held-out pairs; drawings are redrawn at the model's size with its parameters."""
    index = dataset if isinstance(dataset, DatasetIndex) else load_index(dataset)
    val, train = _splits(index, limit)
    scale = size / index.size
    pts = index.points[val] * scale
    return ValSet(
        np.stack([draw_landmarks(p, size, drawing) for p in pts]),
        np.stack([_photo_at(index.path(i), size) for i in val]),
        pts,
        index.points[train] * scale,
        [index.path(i) for i in train],
        size,
        [f"{index.path(i).parent.name}/{index.path(i).stem}" for i in val],
    )


def nearest_neighbour(val: ValSet) -> Generate:
    """The baseline: the training photo whose points are closest to the driving points."""

    def generate(drawings: np.ndarray, indices: np.ndarray) -> np.ndarray:
        out = []
        for i in indices:
            d = np.linalg.norm(val.train_points - val.points[i], axis=-1).mean(axis=-1)
            out.append(_photo_at(val.train_paths[int(d.argmin())], val.size))
        return np.stack(out)

    return generate


def real_descriptors(val: ValSet, measures: FaceMeasures) -> list[np.ndarray | None]:
    """Identity descriptors of the real held-out frames, computed once for every method."""
    return [measures(face)[1] for face in val.real]


def generate_outputs(val: ValSet, generate: Generate, batch: int = 16) -> np.ndarray:
    """The faces `generate` makes from every held-out drawing, `batch` at a time."""
    n = len(val.drawings)
    return np.concatenate(
        [
            generate(val.drawings[i : i + batch], np.arange(i, min(i + batch, n)))
            for i in range(0, n, batch)
        ]
    )


def evaluate_outputs(
    val: ValSet,
    generate: Generate,
    measures: FaceMeasures,
    real: list[np.ndarray | None],
    batch: int = 16,
    progress: bool = False,
    name: str = "",
) -> dict:
    """All the figures for one way of producing faces from the held-out drawings."""
    outputs = generate_outputs(val, generate, batch)
    return score_outputs(val, outputs, measures, real, progress, name)


def score_outputs(
    val: ValSet,
    outputs: np.ndarray,
    measures: FaceMeasures,
    real: list[np.ndarray | None],
    progress: bool = False,
    name: str = "",
) -> dict:
    """All the figures for faces made from the held-out drawings, one per pair."""
    n = len(val.drawings)
    per_pair: dict[str, list] = {"l1": [], "psnr": [], "ssim": [], "nme": [], "identity": []}
    for i in tqdm(
        range(n), desc=f"evaluate {name}", disable=not progress, file=sys.stderr, leave=False
    ):
        for key, value in image_metrics(outputs[i], val.real[i]).items():
            per_pair[key].append(value)
        points, descriptor = measures(outputs[i])
        per_pair["nme"].append(None if points is None else nme(points, val.points[i]))
        per_pair["identity"].append(
            None
            if points is None or real[i] is None
            else float(np.linalg.norm(descriptor - real[i]))
        )
    errors = [e for e in per_pair["nme"] if e is not None]
    distances = [d for d in per_pair["identity"] if d is not None]
    found = len(errors)
    change = np.abs(np.diff(outputs.astype(np.float32), axis=0)).mean() if n > 1 else math.nan
    real_change = np.abs(np.diff(val.real.astype(np.float32), axis=0)).mean() if n > 1 else math.nan
    pixels = image_metrics(outputs, val.real)
    return {
        **pixels,
        "nme": float(np.mean(errors)) if errors else None,
        "face_found": found / n,
        "identity_distance": float(np.mean(distances)) if distances else None,
        "identity_same": float(np.mean(np.asarray(distances) < SAME_PERSON_DISTANCE))
        if distances
        else None,
        "temporal_change": float(change),
        "temporal_change_real": float(real_change),
        "temporal_ratio": float(change / real_change) if real_change else None,
        "per_pair": per_pair,
    }


# metric key in the report -> its per-pair list, and whether lower is better
PAIRED = {
    "l1": ("l1", True),
    "psnr": ("psnr", False),
    "ssim": ("ssim", False),
    "nme": ("nme", True),
    "identity_distance": ("identity", True),
}


def paired_bootstrap(
    model: list[float | None],
    baseline: list[float | None],
    lower_is_better: bool,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict | None:
    """The mean difference model − baseline over the pairs where both have a value, its 95 %
    percentile-bootstrap interval (pairs resampled together), and the verdict: "win" when the
    interval lies on the better side of zero, "loss" when on the worse, else "within noise".
    None with fewer than two such pairs."""
    both = [(m, b) for m, b in zip(model, baseline, strict=True) if m is not None and b is not None]
    if len(both) < 2:
        return None
    d = np.array([m - b for m, b in both], np.float64)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (samples, len(d)))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = (float(v) for v in np.percentile(means, [tail, 100 - tail]))
    better_side, worse_side = (high < 0, low > 0) if lower_is_better else (low > 0, high < 0)
    verdict = "win" if better_side else "loss" if worse_side else "within noise"
    return {
        "difference": float(d.mean()),
        "low": low,
        "high": high,
        "pairs": len(d),
        "verdict": verdict,
    }


def compare(model: dict, baseline: dict) -> dict[str, dict | None]:
    """paired_bootstrap for every metric that has per-pair values."""
    return {
        key: paired_bootstrap(model["per_pair"][pair], baseline["per_pair"][pair], lower)
        for key, (pair, lower) in PAIRED.items()
    }


def evaluate_model(
    model_dir: str | Path,
    dataset: str | Path,
    limit: int | None = None,
    progress: bool = False,
    verbose: bool = False,
    backend: str = "auto",
    threads: int | None = None,
) -> Measured:
    """The model and the nearest-neighbour baseline on the dataset's validation tail, and the
    contact sheet of their outputs: the model makes faces from the held-out drawings, so a bundle
    that takes the camera's face instead is refused (InputError) before it loads."""
    # Mistyped paths fail before TensorFlow loads with the model.
    check_model_path(model_dir)
    mode_class(model_dir).require_drawings(str(model_dir), "evaluate --dataset")
    index = load_index(dataset)
    _splits(index, limit)
    bundle = load_model(model_dir, warm_up=False, verbose=verbose, backend=backend, threads=threads)
    val = load_val_set(index, bundle.size, DrawingParams.from_dict(bundle.drawing), limit)
    measures = FaceMeasures()
    real = real_descriptors(val, measures)
    mode = mode_for(bundle)
    # Both stacks of outputs are kept: the sheet shows the very faces that were measured.
    made = generate_outputs(val, lambda d, rows: mode.faces_from_drawings(d, val.points[rows]))
    retrieved = generate_outputs(val, nearest_neighbour(val))
    model = score_outputs(val, made, measures, real, progress, "model")
    baseline = score_outputs(val, retrieved, measures, real, progress, "baseline")
    columns = [("drawing", val.drawings), ("model", made), ("retrieval", retrieved)]
    sheet = sheet_picture(
        "sheet: drawing | model | retrieval | real, held-out pairs spread over the tail",
        [*columns, ("real", val.real)],
        len(val.drawings),
        val.names or [f"pair {i}" for i in range(len(val.drawings))],
    )
    report = {
        "model": str(model_dir),
        "backend": bundle.backend_label,
        "recipe": bundle.recipe,
        "dataset": str(dataset),
        "pairs": len(val.drawings),
        "size": val.size,
        "model_metrics": model,
        "baseline_metrics": baseline,
        "differences": compare(model, baseline),
    }
    return Measured(report, [sheet])


ROWS = [  # key, label, better
    ("l1", "L1 (0-1)", "lower"),
    ("psnr", "PSNR dB", "higher"),
    ("ssim", "SSIM", "higher"),
    ("nme", "landmark NME", "lower"),
    ("face_found", "face found", "higher"),
    ("identity_distance", "identity distance", "lower"),
    ("identity_same", "same person (<0.6)", "higher"),
    ("temporal_ratio", "flicker vs real", "closer to 1"),
]


def format_table(report: dict) -> str:
    """The report as a table: one metric a line, the model beside the baseline, the difference
    with its 95 % paired-bootstrap interval and the verdict."""

    def cell(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    def interval(d: dict | None) -> str:
        if d is None:
            return ""
        return f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]  {d['verdict']}"

    differences = report.get("differences") or {}
    lines = [
        f"{report['pairs']} held-out pairs at {report['size']} px"
        + (f", {report['recipe']} recipe" if report.get("recipe") else "")
        + (f", generator on {report['backend']}" if report.get("backend") else ""),
        f"{'metric':<22}{'model':>10}{'baseline':>10}   {'better':<13}"
        "model − baseline [95% interval]",
    ]
    for key, label, better in ROWS:
        lines.append(
            f"{label:<22}{cell(report['model_metrics'][key]):>10}"
            f"{cell(report['baseline_metrics'][key]):>10}   {better:<13}"
            + interval(differences.get(key))
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluate",
        description="Measure a model on its dataset's held-out tail, "
        "beside the nearest-neighbour baseline.",
    )
    p.add_argument(
        "--model", required=True, help="model bundle directory (generator.keras + bundle.json)"
    )
    p.add_argument(
        "--dataset", help="dataset directory made by make-dataset (needed without --driver)"
    )
    p.add_argument(
        "--json",
        help="also write the figures to this JSON file, and the pictures beside it: for X.json, "
        "X.sheet.png (a contact sheet of 8 frames) and with --driver X.plot.png (expression and "
        "change over time)",
    )
    p.add_argument(
        "--pictures",
        metavar="DIR",
        help="write the pictures into this folder instead (made if missing), named after the "
        "JSON, else evaluation.*.png (--dataset) or driver.*.png (--driver); without --json or "
        "--pictures none are written",
    )
    p.add_argument(
        "--limit",
        type=int,
        help="use at most this many held-out pairs, or driver frames (default: all)",
    )
    add_backend_flags(p)
    add_driver_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs and TensorFlow's own messages"
    )
    return p


def _check_writable(path: str) -> None:
    """The JSON's folder must exist and take files, checked before the long evaluation."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"{path}: cannot write there ({os.strerror(errno.ENOENT)})")
    if not os.access(directory, os.W_OK):
        raise InputError(f"{path}: cannot write there ({os.strerror(errno.EACCES)})")


def _write_json(path: str, report: dict) -> None:
    try:
        write_json_atomic(path, report)
    except OSError as e:
        raise InputError(f"{path}: cannot write there ({e.strerror or e})") from None


def publish(
    json_path: str | None,
    pictures: str | None,
    stem: str,
    measure: Callable[[], Measured],
    table: Callable[[dict], str],
) -> int:
    """Check where the JSON and the pictures go first (before the long measurement), then
    measure, write the JSON and the pictures atomically and print the table, then where each file
    went: the same for both of evaluate's modes. `pictures`: their folder (None: beside the JSON);
    `stem`: their name without a JSON."""
    if json_path:
        _check_writable(json_path)
    base = pictures_base(json_path, pictures, stem)
    measured = measure()
    if json_path:
        _write_json(json_path, measured.report)
    written = write_pictures(base, measured.pictures) if base else []
    print(table(measured.report))
    if json_path:
        print(f"figures written to {json_path}")
    for caption, path in written:
        print(f"{caption}: {path}")
    if not base:
        print("pictures: none written (--json FILE puts them beside it, --pictures DIR there)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s")

    def body() -> int:
        if args.driver:
            measure = functools.partial(drive_report_from_args, args)
            return publish(args.json, args.pictures, "driver", measure, format_drive_table)
        if not args.dataset:
            raise InputError("--dataset is needed (or --driver VIDEO)")
        return publish(
            args.json,
            args.pictures,
            "evaluation",
            lambda: evaluate_model(
                args.model,
                args.dataset,
                args.limit,
                progress=not args.quiet,
                verbose=args.verbose,
                backend=args.backend,
                threads=args.threads,
            ),
            format_table,
        )

    return run_command("evaluate", body)


if __name__ == "__main__":
    sys.exit(main())
