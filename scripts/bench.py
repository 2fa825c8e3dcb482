"""scripts/bench: one speed report for every stage, each figure with the ratio it is judged by.

Run through `scripts/bench` (which sets up .venv first). Prints a table and writes JSON
(out/bench.json by default). About 7 minutes on a 2-core CPU (396 s measured); `--fast` for
a quicker look.
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


def untrained_bundle(
    directory: str, size: int, ngf: int, video: str, recipe: str = "pix2pix", region: str = "face"
) -> str:
    """A bundle of the preset's shape with fresh weights, generator.onnx (and for the reference
    recipe the sample's retrieval bank) included: speed does not depend on training."""
    from gan.kinds.drawing.bundle import save_bundle
    from gan.kinds.drawing.models import Generator
    from gan.kinds.drawing.pairs import load_split
    from landmarks.align import Alignment
    from landmarks.dataset import DatasetConfig, build_dataset
    from landmarks.draw import DrawingParams

    dataset = os.path.join(directory, f"dataset{size}")
    if not os.path.isdir(dataset):
        build_dataset(DatasetConfig(inputs=[video], output=dataset, size=size), progress=False)
    lm = np.load(os.path.join(dataset, "landmarks.npz"))
    reference = lm["points"][lm["split"] == 0].mean(axis=0)
    model_dir = os.path.join(directory, f"model{size}-{ngf}-{recipe}")
    if os.path.isfile(os.path.join(model_dir, "bundle.json")):
        return model_dir  # made for an earlier part of this run (the export takes a while)
    bank = load_split(dataset, "train", size).bank(region=region) if recipe != "pix2pix" else None
    save_bundle(
        model_dir,
        Generator(size, ngf, recipe),
        {
            "size": size,
            "mode": "aligned",
            "drawing": DrawingParams().to_dict(),
            "alignment": Alignment().to_dict(),
            "reference_shape": reference.tolist(),
            "recipe": recipe,
            "region": region,
            "steps": 0,
            "metrics": {},
        },
        onnx=True,
        bank=bank,
    )
    return model_dir


def with_target(model_dir: str, dataset: str) -> str:
    """A copy of the bundle that knows its target (the dataset's descriptor in bundle.json), so
    that the live session's auto retargeting checks who the driver is, as a trained one does."""
    import json
    import shutil

    out = f"{model_dir}-target"
    if not os.path.isdir(out):
        shutil.copytree(model_dir, out)
        manifest = json.loads(Path(dataset, "manifest.json").read_text())
        info_path = Path(out, "bundle.json")
        info = json.loads(info_path.read_text())
        info["target_descriptor"] = manifest["target_descriptor"]
        write_json_atomic(info_path, info)
    return out


# Frames the face stays away each second: one, as a detector's blink (the tracker checks its face
# every fifth frame, so it notices only some of them), and six, which it always notices.
AWAY_RUNS = (1, 6)


def time_face_returns(directory: str, video: str, preset: dict, seconds: float) -> list[dict]:
    """The live output's frame intervals while the face leaves for a moment every second, with
    the preset's (untrained) bundle knowing its target, as a trained one does (app.bench)."""
    from app.bench import time_face_return

    print("face return: output intervals, the face away each second ...", file=sys.stderr)
    size = preset["size"]
    model = untrained_bundle(
        directory, size, preset["ngf"], video, preset["recipe"], preset["region"]
    )
    target = with_target(model, os.path.join(directory, f"dataset{size}"))
    return [time_face_return(target, video, seconds=seconds, away=away) for away in AWAY_RUNS]


def untrained_swap_bundle(directory: str) -> str:
    """A swap bundle of the quick preset's and the default recipe's shape with fresh weights (ONNX
    included): the swap's speed, blend and eye drawing included, does not depend on training
    either."""
    from gan.faces.data import swap_alignment
    from gan.kinds.swap.bundle import save_swap_bundle
    from gan.kinds.swap.kind import RECIPE, RECIPES
    from gan.kinds.swap.models import swap_networks
    from gan.kinds.swap.train import PRESETS as SWAP_PRESETS
    from landmarks.draw import DrawingParams

    preset, recipe = SWAP_PRESETS["quick"], RECIPES[RECIPE]
    eyes = recipe["eyes"]
    net = swap_networks(
        preset["size"],
        preset["width"],
        preset["bottleneck"],
        recipe["variational"],
        eyes == "drawn",
        recipe["eye_opening"],
    )
    model_dir = os.path.join(directory, "swap-model")
    save_swap_bundle(
        model_dir,
        net.to_target,
        net.to_user,
        {
            "size": preset["size"],
            "mode": "aligned",
            "alignment": swap_alignment(),  # train-swap's default crop
            "drawing": DrawingParams().to_dict(),
            "steps": 0,
            "metrics": {},
            "eyes": eyes,
            "eye_scale": {"target": 1.0, "user": 1.0},
        },
        onnx=True,
    )
    return model_dir


def time_recipes(directory: str, video: str, presets: dict, fast: bool) -> dict:
    """The reference recipe against the paper's pix2pix at 128 px (quick) and 256 px (gpu vs
    paper), same networks: train step ms and their ratio, the Keras generator's ms per frame, and
    the ms the reference recipe adds before its generator (retrieval, warp, mask)."""
    from gan.kinds.drawing.bench import compare_recipes, time_generator, time_reference_inputs
    from gan.kinds.drawing.pairs import load_split
    from landmarks.dataset import DatasetConfig, build_dataset

    out = {}
    for name in ("quick", "gpu"):
        p = presets[name]
        size, ngf, ndf = p["size"], p["ngf"], p["ndf"]
        steps = (2 if size >= 256 else 5) if fast else (6 if size >= 256 else 20)
        print(
            f"recipes at {size} px: reference vs pix2pix train step, generator ...", file=sys.stderr
        )
        entry = {"size": size, "ngf": ngf, **compare_recipes(size, ngf, ndf, p["ema"], steps)}
        frames = 5 if fast else 20
        for recipe in ("pix2pix", "reference"):
            entry[f"{recipe}_generator_ms"] = time_generator(size, ngf, frames, recipe=recipe)
        dataset = os.path.join(directory, f"dataset{size}")
        if not os.path.isdir(dataset):
            build_dataset(DatasetConfig(inputs=[video], output=dataset, size=size), progress=False)
        bank = load_split(dataset, "train", size).bank(region=p["region"])
        entry["reference_inputs_ms"] = time_reference_inputs(bank, 10 if fast else 50)
        out[name] = entry
    return out


def _recipe_rows(recipes: dict) -> list[tuple[str, str, str]]:
    rows = []
    for name, e in recipes.items():
        rows += [
            (
                f"reference recipe ({name}, {e['size']} px, ngf {e['ngf']}): train step ms",
                f"{e['reference_ms']:.0f} vs pix2pix {e['pix2pix_ms']:.0f}",
                f"{e['ratio']:.2f}x the paper recipe's step (same networks, 7-channel input, "
                "masked D, weight average)",
            ),
            (
                f"reference recipe ({e['size']} px): generator ms per frame, Keras",
                f"{e['reference_generator_ms']:.1f} vs pix2pix {e['pix2pix_generator_ms']:.1f}",
                f"plus {e['reference_inputs_ms']:.1f} ms of retrieval, warp and mask before it",
            ),
        ]
    return rows


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
    p.add_argument(
        "--no-swap", action="store_true", help="leave out the face swap's live path and blend"
    )
    args = p.parse_args(argv)

    from app.bench import time_pipeline
    from gan.core.bench import time_training_loops
    from gan.kinds.drawing.train import PRESETS
    from gan.kinds.swap.bench import time_swap_recipes
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
            report["presets"][name] = time_preset(tmp, video, name, args.fast, seconds)
        report["face_return"] = time_face_returns(tmp, video, PRESETS["quick"], 2 * seconds)
        report["recipes"] = time_recipes(tmp, video, PRESETS, args.fast)
        print("training loops (quick presets) against their bare steps ...", file=sys.stderr)
        dataset = os.path.join(tmp, f"dataset{PRESETS['quick']['size']}")  # time_recipes made it
        report["loops"] = time_training_loops(dataset, args.fast)
        print(
            "swap recipes (quick): each phase's step and the discriminators' share ...",
            file=sys.stderr,
        )
        report["swap_recipes"] = time_swap_recipes(
            dataset, **({"steps": 4, "rounds": 2} if args.fast else {})
        )
        if not args.no_swap:
            print(
                "swap (quick): live pipeline with the blend, alpha vs Poisson ...", file=sys.stderr
            )
            report["swap"] = time_pipeline(untrained_swap_bundle(tmp), video, seconds=seconds)
    report["seconds"] = time.perf_counter() - started

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.json, report)
    print(format_report(report))
    print(f"\nfigures written to {args.json}")
    return 0


def time_preset(directory: str, video: str, name: str, fast: bool, seconds: float) -> dict:
    """A training preset: its train step against the three-call baseline, its generator on
    Keras and ONNX Runtime, and the live pipeline with it (an untrained bundle of its shape)."""
    from app.bench import time_pipeline
    from gan.kinds.drawing.bench import compare, compare_backends
    from gan.kinds.drawing.train import PRESETS

    preset = PRESETS[name]
    size, ngf, ndf = preset["size"], preset["ngf"], preset["ndf"]
    steps = (2 if size >= 256 else 5) if fast else (8 if size >= 256 else 20)
    print(
        f"{name}: train step (ours vs three-call baseline), generator, live pipeline ...",
        file=sys.stderr,
    )
    entry = {
        "size": size,
        "ngf": ngf,
        "ndf": ndf,
        "recipe": preset["recipe"],
        "train": compare(size, ngf, ndf, steps),
    }
    entry["train"]["steps_per_s"] = 1000 / entry["train"]["ours_ms"]
    model = untrained_bundle(directory, size, ngf, video, preset["recipe"], preset["region"])
    entry["generator"] = compare_backends(model, frames=20 if fast else 40)
    entry["live"] = time_pipeline(model, video, seconds=seconds)  # auto: ONNX Runtime
    bare = entry["generator"]["onnx_ms"]
    entry["live"]["generator_vs_bare"] = entry["live"]["stage_ms"]["generator"] / bare
    return entry


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


def _face_return_rows(runs: list[dict]) -> list[tuple[str, str, str]]:
    """The live output while the face leaves for a moment every second (a bundle that knows its
    target: each return used to restart dlib's identity check inside the landmark stage)."""
    rows = []
    for fr in runs:
        ms, back, away = fr["interval_ms"], fr["after_return_ms"], fr["away_frames"]
        rows += [
            (
                f"face away {away} frame(s) a second: output interval ms p50 · p99 · max",
                f"{ms['p50']} · {ms['p99']} · {ms['max']}",
                f"{fr['fps']:.1f} FPS (faceless frames cost a full detection each)",
            ),
            (
                f"face away {away}: longest interval ms after a return, p50 · max",
                f"{back['p50']} · {back['max']}",
                f"over {back['returns']} returns the tracker noticed; goal: near the p50 above",
            ),
        ]
    return rows


def _swap_rows(live: dict) -> list[tuple[str, str, str]]:
    """The face swap's live path (crop, model, colour match and blend in the generator stage)."""
    blend = live["blend"]
    alpha, poisson = blend["alpha"], blend["poisson"]
    return [
        (
            f"swap ({live['model_size']} px): live FPS · latency p50 · p95 (ms)",
            f"{live['fps']:.1f} · {live['latency_p50_ms']} · {live['latency_p95_ms']}",
            "goal: >= 20 FPS, p95 <= 100 ms, blend included",
        ),
        (
            "swap: live stage ms",
            ", ".join(f"{k} {v}" for k, v in live["stage_ms"].items()),
            "",
        ),
        (
            "swap: ms per frame, crop · model · colour · blend",
            " · ".join(f"{alpha[k]:.1f}" for k in ("align", "model", "colour", "blend")),
            f"alpha blend, {blend['frames']} faces at {blend['size'][1]}x{blend['size'][0]}",
        ),
        (
            "swap: blend ms, alpha · Poisson",
            f"{alpha['blend']:.1f} · {poisson['blend']:.1f}",
            f"Poisson {blend['poisson_vs_alpha']:.1f}x the alpha blend "
            f"(p95 {alpha['blend_p95']:.1f} · {poisson['blend_p95']:.1f})",
        ),
    ]


def _preset_rows(name: str, e: dict) -> list[tuple[str, str, str]]:
    """A preset's training, generator and live pipeline figures."""
    t, live, g = e["train"], e["live"], e["generator"]
    free = live["free_running"]
    label = f"{name} ({e['size']} px, ngf {e['ngf']}, ndf {e['ndf']})"
    return [
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
        rows += _preset_rows(name, e)
    rows += _face_return_rows(r["face_return"]) if r.get("face_return") else []
    rows += _recipe_rows(r["recipes"]) if r.get("recipes") else []
    from gan.core.bench import training_loop_rows

    rows += training_loop_rows(r["loops"]) if r.get("loops") else []
    from gan.kinds.swap.bench import swap_recipe_rows

    rows += swap_recipe_rows(r["swap_recipes"]) if r.get("swap_recipes") else []
    rows += _swap_rows(r["swap"]) if r.get("swap") else []
    width = max(len(a) for a, _, _ in rows)
    lines = [f"device: {r['device']}   ({r['seconds']:.0f} s)", ""]
    lines += [f"{a:<{width}}  {b:<28} {c}" for a, b, c in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
