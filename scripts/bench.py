"""scripts/bench: one speed report for every stage, each figure with the ratio it is judged by.

Run through `scripts/bench` (which sets up .venv first). Prints a table and writes JSON
(out/bench.json by default). About 5 minutes on a 2-core CPU; `--fast` for a quicker look.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common.cli import import_tensorflow, quiet_native_stderr
from common.files import write_json_atomic


def device() -> str:
    tf = import_tensorflow()
    with quiet_native_stderr():  # the first device query is where CUDA speaks up
        gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU: {', '.join(g.name for g in gpus)}"
    return f"CPU: {os.cpu_count()} cores, {platform.processor() or platform.machine()}"


def untrained_bundle(directory: str, size: int, ngf: int, video: str) -> str:
    """A bundle of the preset's shape with fresh weights, generator.onnx included: speed does
    not depend on training."""
    from gan.bundle import save_bundle
    from gan.models import Generator
    from landmarks.align import Alignment
    from landmarks.dataset import DatasetConfig, build_dataset
    from landmarks.draw import DrawingParams

    dataset = os.path.join(directory, f"dataset{size}")
    build_dataset(DatasetConfig(inputs=[video], output=dataset, size=size), progress=False)
    lm = np.load(os.path.join(dataset, "landmarks.npz"))
    reference = lm["points"][lm["split"] == 0].mean(axis=0)
    model_dir = os.path.join(directory, f"model{size}-{ngf}")
    save_bundle(
        model_dir,
        Generator(size, ngf),
        {
            "size": size,
            "mode": "aligned",
            "drawing": DrawingParams().to_dict(),
            "alignment": Alignment().to_dict(),
            "reference_shape": reference.tolist(),
            "steps": 0,
            "metrics": {},
        },
        onnx=True,
    )
    return model_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--json", default="out/bench.json", help="where to write the figures")
    p.add_argument(
        "--fast", action="store_true", help="fewer steps and seconds: a rough look in a few minutes"
    )
    p.add_argument("--presets", default="quick,paper", help="training presets to time")
    args = p.parse_args(argv)

    from app.bench import time_pipeline
    from gan.bench import compare, compare_backends
    from gan.train import PRESETS
    from landmarks.bench import time_fallbacks, time_landmarks, time_make_dataset
    from landmarks.video import sample_video_path

    video = sample_video_path()
    report: dict = {"device": device(), "date": time.strftime("%Y-%m-%d %H:%M"), "presets": {}}
    started = time.perf_counter()
    print(f"bench on {report['device']}", file=sys.stderr)

    print("landmark stage: tracking vs detection on every frame (640x480) ...", file=sys.stderr)
    report["landmarks"] = time_landmarks(video)
    print("landmark stage: roll and fine-scale fallbacks vs upright only ...", file=sys.stderr)
    report["landmark_fallbacks"] = time_fallbacks(video)
    print("make-dataset throughput (640x480 copy of the sample) ...", file=sys.stderr)
    report["make_dataset"] = time_make_dataset(video)

    seconds = 4.0 if args.fast else 8.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.presets.split(","):
            preset = PRESETS[name]
            size, ngf, ndf = preset["size"], preset["ngf"], preset["ndf"]
            steps = (2 if size >= 256 else 5) if args.fast else (8 if size >= 256 else 20)
            print(
                f"{name}: train step (ours vs three-call baseline), generator, live pipeline ...",
                file=sys.stderr,
            )
            entry = {"size": size, "ngf": ngf, "ndf": ndf, "train": compare(size, ngf, ndf, steps)}
            entry["train"]["steps_per_s"] = 1000 / entry["train"]["ours_ms"]
            model = untrained_bundle(tmp, size, ngf, video)
            entry["generator"] = compare_backends(model, frames=20 if args.fast else 40)
            entry["live"] = time_pipeline(model, video, seconds=seconds)  # auto: ONNX Runtime
            bare = entry["generator"]["onnx_ms"]
            entry["live"]["generator_vs_bare"] = entry["live"]["stage_ms"]["generator"] / bare
            report["presets"][name] = entry
    report["seconds"] = time.perf_counter() - started

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.json, report)
    print(format_report(report))
    print(f"\nfigures written to {args.json}")
    return 0


def _fallback_rows(fb: dict) -> list[tuple[str, str, str]]:
    """The landmark stage with its roll and fine-scale fallbacks, against upright only."""
    face, none = fb["face"], fb["no_face"]
    return [
        (
            "landmarks + fallbacks, face (ms/frame)",
            f"{face['fallbacks_ms']:.1f}",
            f"{face['ratio']:.2f}x upright-only {face['upright_ms']:.1f} (goal ~1x)",
        ),
        (
            "landmarks + fallbacks, no face (ms/frame)",
            f"{none['fallbacks_ms']:.1f}",
            f"{none['ratio']:.2f}x upright-only {none['upright_ms']:.1f}; every frame "
            f"{none['every_frame_ms']:.0f} ({none['every_frame_ratio']:.1f}x)",
        ),
    ]


def format_report(r: dict) -> str:
    lm, ds, fb = r["landmarks"], r["make_dataset"], r.get("landmark_fallbacks")
    rows = [
        (
            "landmarks, tracking (ms/frame mean · p95)",
            f"{lm['tracking']['mean_ms']:.1f} · {lm['tracking']['p95_ms']:.1f}",
            "",
        ),
        (
            "landmarks, detect every frame (ms mean · p95)",
            f"{lm['detect_every_frame']['mean_ms']:.1f} · {lm['detect_every_frame']['p95_ms']:.1f}",
            f"tracking {lm['ratio']:.1f}x cheaper (goal >= 3x)",
        ),
    ]
    rows += _fallback_rows(fb) if fb else []
    rows += [
        (
            "make-dataset (frames/s)",
            f"{ds['fps']:.1f}",
            f"{ds['ratio']:.2f}x the video's {ds['video_fps']:.1f} fps (goal > 1x)",
        ),
    ]
    for name, e in r["presets"].items():
        t, live, g = e["train"], e["live"], e["generator"]
        free = live["free_running"]
        label = f"{name} ({e['size']} px, ngf {e['ngf']}, ndf {e['ndf']})"
        rows += [
            (
                f"{label}: train steps/s",
                f"{t['steps_per_s']:.2f}",
                f"ours {t['ours_ms']:.0f} ms vs baseline {t['baseline_ms']:.0f} ms: "
                f"{t['speedup']:.2f}x (goal >= 1.5x)",
            ),
            (
                f"{name}: generator ms, Keras · ONNX Runtime",
                f"{g['keras_ms']:.1f} · {g['onnx_ms']:.1f}",
                f"ONNX {g['speedup']:.2f}x faster (goal >= 1.6x); max diff {g['max_abs_diff']:.1e}",
            ),
            (
                f"{name}: generator ms in the live path · bare",
                f"{live['stage_ms']['generator']} · {g['onnx_ms']:.1f}",
                f"{live['generator_vs_bare']:.2f}x the bare call (goal <= 1.2x)",
            ),
            (
                f"{name}: live FPS · latency p50 · p95 (ms), on demand",
                f"{live['fps']:.1f} · {live['latency_p50_ms']} · {live['latency_p95_ms']}",
                "goal: >= 15 FPS (quick), >= 10 (paper); p95 <= 150 ms",
            ),
            (
                f"{name}: same, free-running stages",
                f"{free['fps']:.1f} · {free['latency_p50_ms']} · {free['latency_p95_ms']}",
                "every stage on the newest frame: the cheap one takes CPU from the slow one",
            ),
            (
                f"{name}: live stage ms",
                ", ".join(f"{k} {v}" for k, v in live["stage_ms"].items()),
                "",
            ),
            (
                f"{name}: threaded vs sequential (FPS)",
                f"{live['threaded_fps']:.1f} vs {live['sequential_fps']:.1f}",
                f"{live['threaded_vs_sequential']}x (bound {live['threading_bound']}x)",
            ),
        ]
    width = max(len(a) for a, _, _ in rows)
    lines = [f"device: {r['device']}   ({r['seconds']:.0f} s)", ""]
    lines += [f"{a:<{width}}  {b:<28} {c}" for a, b, c in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
