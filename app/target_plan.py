"""The window's New target flow as the project's own commands: which to run, in which order, with
which flags, and where each writes (no Qt here: app.ui.new_target runs them).

A target has a folder, chosen or defaulted, laid out as the command line would make it:
`data/` (make-dataset of the target's videos), `user-data/` (the swap's: the user's videos, with
the first quarter of each held out), `pix2pix/` or `swap/` (the run folder: config, checkpoints,
previews, `model/`), and `evaluation.json` or `driver.json` with their pictures beside them. A run
trained in a terminal opens here (`from_run`), and the commands shown resume it from a terminal.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from common.errors import InputError

KINDS = ("pix2pix", "swap")
TRAINERS = {"pix2pix": "gan.kinds.drawing.train", "swap": "gan.kinds.swap.train"}
PROGS = {"pix2pix": "train-pix2pix", "swap": "train-swap"}
HELD_OUT = 0.25  # the share of the user's video, at its start, held out for evaluate --driver
RUN_CONFIG = "config.json"  # gan.core.run_dir.CONFIG_FILE (app reads it without importing gan.core)


@dataclass(frozen=True)
class Command:
    """One of the project's commands, run as `python -m module args` in a child process."""

    stage: str  # dataset, user-dataset, train or evaluate
    prog: str  # the console script's name, as the command prints it
    module: str
    args: tuple[str, ...]

    def argv(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args]

    def shown(self) -> str:
        """The line a user would type in a terminal for the same step."""
        import shlex

        return shlex.join([self.prog, *self.args])


@dataclass
class TargetPlan:
    """Everything the flow needs, as the window's fields hold it."""

    kind: str = "pix2pix"
    folder: str = ""
    targets: list[str] = field(default_factory=list)  # the target's videos
    users: list[str] = field(default_factory=list)  # the user's videos (swap)
    preset: str = "quick"
    size: int = 128
    steps: int = 0  # 0: the preset's
    extra: tuple[str, ...] = ()  # further training flags (e.g. --ngf 8)
    run_dir: str = ""  # "" : FOLDER/<kind>; set when a run was opened
    data: str = ""  # "" : FOLDER/data
    user_data: str = ""  # "" : FOLDER/user-data

    @property
    def run(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path(self.folder) / self.kind

    @property
    def model(self) -> Path:
        return self.run / "model"

    @property
    def dataset(self) -> Path:
        return Path(self.data) if self.data else Path(self.folder) / "data"

    @property
    def user_dataset(self) -> Path:
        return Path(self.user_data) if self.user_data else Path(self.folder) / "user-data"

    @property
    def report(self) -> Path:
        """evaluate's JSON; its pictures lie beside it (X.sheet.png)."""
        name = "driver.json" if self.kind == "swap" else "evaluation.json"
        return Path(self.folder) / name

    @property
    def sheet(self) -> Path:
        return self.report.with_suffix(".sheet.png")

    def check(self) -> None:
        """InputError, one line, for what the flow cannot start without."""
        if self.kind not in KINDS:
            raise InputError(f"unknown kind {self.kind!r}: use one of {', '.join(KINDS)}")
        if not self.folder:
            raise InputError("choose the target's folder")
        if not self.targets and not (self.dataset / "manifest.json").is_file():
            raise InputError("add a video of the target (or open a run)")
        if self.kind == "swap" and not self.users and not self.user_manifest():
            raise InputError("a swap needs a video of you too: add one, or Record my face")

    def user_manifest(self) -> dict | None:
        path = self.user_dataset / "manifest.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def commands(self) -> list[Command]:
        """The whole flow: the datasets still to make, the training, the evaluation."""
        self.check()
        out = []
        if self.targets:
            out.append(_dataset("dataset", self.targets, self.dataset, self.size))
        if self.kind == "swap" and self.users:
            span = ("--val-span", f"0:{held_out_seconds(self.users[0]):.3f}")
            out.append(_dataset("user-dataset", self.users, self.user_dataset, self.size, span))
        return [*out, self.train(), self.evaluate()]

    def train(self) -> Command:
        people = [str(self.dataset)]
        if self.kind == "swap":
            people.append(str(self.user_dataset))
        args = [*people, "-o", str(self.run), "--preset", self.preset, "--size", str(self.size)]
        if self.steps > 0:
            args += ["--steps", str(self.steps)]
        args += [*self.extra, "--progress", "json"]
        return Command("train", PROGS[self.kind], TRAINERS[self.kind], tuple(args))

    def evaluate(self) -> Command:
        args = ["--model", str(self.model), "--dataset", str(self.dataset)]
        if self.kind == "swap":
            driver, frames = self.driver()
            args += ["--driver", driver] + (["--limit", str(frames)] if frames else [])
        args += ["--json", str(self.report), "-q"]
        return Command("evaluate", "evaluate", "app.evaluate", tuple(args))

    def driver(self) -> tuple[str, int | None]:
        """The swap's driving video and the frames of it held out from training (from the user
        dataset's manifest: its first video and its held-out span, when that is its start)."""
        manifest = self.user_manifest()
        if manifest is None:  # not built yet: the span make-dataset will hold out
            video = self.users[0]
            return video, held_out_frames(video)
        source = manifest["sources"][0]
        first, end = source.get("val_from_frame", 0), source.get("val_to_frame")
        return source["path"], end if first == 0 and end else None


def _dataset(stage: str, videos: list[str], out: Path, size: int, more: tuple = ()) -> Command:
    args = (*videos, "-o", str(out), "--size", str(size), *more, "--progress", "json")
    return Command(stage, "make-dataset", "landmarks.dataset", args)


def _length(video: str) -> tuple[int, float]:
    from landmarks.video import open_source

    source = open_source(video)
    return source.frames, source.fps or 1.0


def held_out_frames(video: str) -> int:
    frames, _ = _length(video)
    return max(1, math.floor(frames * HELD_OUT))


def held_out_seconds(video: str) -> float:
    """--val-span's end for the user's video: its first HELD_OUT, in seconds."""
    frames, fps = _length(video)
    return held_out_frames(video) / fps


def from_run(run_dir: str | Path) -> TargetPlan:
    """The plan of a run folder trained from the terminal (or here): its kind, datasets, preset
    and size from its config.json; InputError, one line, when the folder holds no run."""
    run = Path(run_dir)
    try:
        config = json.loads((run / RUN_CONFIG).read_text())
    except (OSError, ValueError):
        raise InputError(f"{run} holds no training run (no readable {RUN_CONFIG})") from None
    if "dataset" in config:
        plan = TargetPlan("pix2pix", data=config["dataset"])
    elif "target" in config and "user" in config:
        plan = TargetPlan("swap", data=config["target"], user_data=config["user"])
    else:
        raise InputError(f"{run}: a run of a kind the window does not train")
    return replace(
        plan,
        folder=str(run.parent),
        run_dir=str(run),
        preset=config.get("preset") or "quick",
        size=int(config.get("size") or plan.size),
        steps=int(config.get("steps") or 0),
        extra=identity_flags(plan.kind, config),
    )


def identity_flags(kind: str, config: dict) -> tuple[str, ...]:
    """The flags that make the trainer see the same run in `config` (the settings that make a
    run folder this run, gan.core's identity), so that Start resumes it and does not refuse."""
    import importlib

    identity = importlib.import_module(TRAINERS[kind].rsplit(".", 1)[0] + ".kind").KIND.identity
    flags: list[str] = []
    for name in identity:
        value = config.get(name)
        if name in ("dataset", "target", "user", "size") or value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, str(value)]
    return tuple(flags)
