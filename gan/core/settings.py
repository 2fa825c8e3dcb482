"""The settings every kind's run has, the flags of any kind's settings, and presets.

A kind's settings are a dataclass that extends RunSettings with its own fields (its inputs
first). Every field is one flag, declared once with `flag()`: its default and help live on the
field, and build_parser turns the fields into the command line, so a flag and its field cannot
disagree. A preset fills in the fields the command line leaves at None. Keras-free: flags are
checked before TensorFlow loads.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import MISSING, dataclass
from typing import Any

from common.progress import PROGRESS_MODES
from gan.errors import InputError

AT_LEAST_ONE = ("steps", "batch_size", "checkpoint_every", "val_every", "cpu_devices")
# Where a flag shows in --help: what the run is, then the kind's flags, then the machine's.
RUN, KIND, MACHINE = "run", "kind", "machine"


def flag(help: str, default: Any = MISSING, section: str = KIND, **argparse_options: Any) -> Any:
    """A settings field that is a flag: `help`, its default (none: a positional input), and
    what argparse needs beyond them (type for a None default, choices, short, metavar, action;
    exclusive: the name of a group of flags that exclude each other)."""
    return dataclasses.field(
        default=default, metadata={"help": help, "section": section, **argparse_options}
    )


def _run(help: str, default: Any = None, **options: Any) -> Any:
    return flag(help, default, RUN, **options)


def _machine(help: str, default: Any = None, **options: Any) -> Any:
    return flag(help, default, MACHINE, **options)


ON_OFF = ("auto", "on", "off")


@dataclass(kw_only=True)
class RunSettings:
    """The fields of every kind's settings; a kind's dataclass adds its own."""

    output: str | None = _run("run folder (default: {output})", short="-o", metavar="RUN_DIR")
    preset: str = _run("defaults for the flags below; {presets}", "quick", choices="presets")
    steps: int | None = _run("training steps (default: from the preset)", type=int, exclusive="len")
    batch_size: int | None = _run(
        "{batch_unit} per step and device: several GPUs, or workers, each take this many "
        "(default: from the preset)",
        type=int,
    )
    checkpoint_every: int | None = _machine(
        "steps between checkpoints and bundle writes (default: from the preset)", type=int
    )
    val_every: int | None = _machine(
        "steps between validations and previews (default: from the preset)", type=int
    )
    mixed_precision: str = _machine("float16 compute; auto = on a GPU", "auto", choices=ON_OFF)
    xla: str = _machine("XLA-compile the train step; auto = on one GPU", "auto", choices=ON_OFF)
    cpu_devices: int = _machine(
        "without GPUs, split the CPU into this many devices and train a replica on each "
        "(MirroredStrategy), as several GPUs would: to check the multi-device path; several GPUs "
        "are used without asking, several machines through TF_CONFIG",
        1,
    )
    onnx: bool = _machine(
        "at the end, also export the networks to ONNX (inference with ONNX Runtime, no "
        "TensorFlow; seconds at 128 px, a minute or two at 256)",
        True,
    )
    force: bool = _machine(
        "start afresh in a run folder that holds another run", False, action="store_true"
    )
    seed: int = _machine("random seed", 0)
    quiet: bool = _machine(
        "no progress bar, only warnings and errors", False, short="-q", action="store_true"
    )
    first_preview: float | None = _machine(
        "seconds into training of one early validation and preview, before --val-every's "
        "(default: 20 with --progress json, so the window shows the face coming within a "
        "minute; none otherwise)",
        type=float,
    )
    progress: str = _machine(
        "how progress shows: the terminal's bar, json (one JSON object a line on stderr, for "
        "a program such as the window), or none",
        "bar",
        choices=PROGRESS_MODES,
    )
    verbose: bool = _machine(
        "also show TensorFlow's own start-up and device notes", False, action="store_true"
    )


def apply_preset(cfg: Any, presets: dict[str, dict[str, Any]], skip: tuple[str, ...] = ()) -> Any:
    """A copy of `cfg` with every field left at None, except those in `skip`, taken from its
    preset."""
    cfg = dataclasses.replace(cfg)
    for name, value in presets[cfg.preset].items():
        if name not in skip and getattr(cfg, name, None) is None:
            setattr(cfg, name, value)
    return cfg


def check_run_settings(cfg: RunSettings) -> None:
    """InputError, one line, for a shared setting out of range (after the preset is applied)."""
    for name in AT_LEAST_ONE:
        if getattr(cfg, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every default, except None ones, whose help says where the value comes from."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser(kind: Any) -> argparse.ArgumentParser:
    """The command line of `kind`: one flag per field of its settings, each default shown once
    in --help; the shared flags' help speaks of the kind (its presets, batches, run folder)."""
    p = argparse.ArgumentParser(
        prog=kind.prog, formatter_class=HelpFormatter, description=kind.description
    )
    words = {
        "presets": "; ".join(
            f"{k}: " + ", ".join(f"{n}={v}" for n, v in preset.items())
            for k, preset in kind.presets.items()
        ),
        "batch_unit": kind.batch_unit,
        "output": kind.output_default,
    }
    fields = dataclasses.fields(kind.settings)
    ordered = [f for section in (RUN, KIND, MACHINE) for f in fields if _section(f) == section]
    done: set[str] = set()
    for f in ordered:
        if f.name in done:
            continue
        together = [f]
        if "exclusive" in f.metadata:  # argparse wants a group's flags added one after another
            name = f.metadata["exclusive"]
            together = [g for g in ordered if g.metadata.get("exclusive") == name]
        target = p.add_mutually_exclusive_group() if len(together) > 1 else p
        for g in together:
            _add(target, g, words, kind.presets)
            done.add(g.name)
    return p


def _section(f: dataclasses.Field) -> str | None:
    return f.metadata.get("section")


def _add(p: Any, f: dataclasses.Field, words: dict[str, str], presets: dict) -> None:
    """One field as one argument: positional without a default, else --its-name."""
    options = {k: v for k, v in f.metadata.items() if k not in ("help", "section", "exclusive")}
    # The shared flags' help speaks of the kind: its presets, what a batch counts, its folder.
    help = f.metadata["help"].format(**words) if _section(f) == RUN else f.metadata["help"]
    if f.default is MISSING:
        p.add_argument(f.name, help=help)
        return
    names = [f"--{f.name.replace('_', '-')}"]
    if "short" in options:
        names.insert(0, options.pop("short"))
    if options.get("choices") == "presets":
        options["choices"] = sorted(presets)
    if isinstance(f.default, bool) and "action" not in options:
        options["action"] = argparse.BooleanOptionalAction
    elif f.default is not None and "action" not in options:
        options.setdefault("type", type(f.default))
    p.add_argument(*names, default=f.default, help=help, **options)
