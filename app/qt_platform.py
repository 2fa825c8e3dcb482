"""Can Qt open a window here? Its X11 (xcb) plugin's libraries, checked before Qt would abort.

Qt loads its platform plugin when the QApplication is made, and when that fails it prints a
paragraph and aborts the process (SIGABRT). On a Linux desktop the usual cause is a few xcb
libraries the PyQt5 wheel expects from the system; this finds them with ldd first, so that
live-mirror can say which packages to install, in one line, and exit 2.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

XCB_PLUGIN = "libqxcb.so"
OFFSCREEN_HINT = "QT_QPA_PLATFORM=offscreen runs it without a window"
# Debian names a library's package after its soname (libxcb-icccm.so.4: libxcb-icccm4); these
# are the ones that do not follow the rule.
PACKAGES = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libz.so.1": "zlib1g",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that installs the library `soname`, by Debian's naming rule."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    name, _, version = soname.partition(".so")
    name, major = name.lower(), version.strip(".").split(".")[0]
    if not major:
        return name
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def missing_libraries(library: str | Path) -> list[str] | None:
    """The shared libraries `library` needs, directly or not, that the loader cannot find ([]
    when all resolve); None when that cannot be told here (no ldd, not a shared library)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return _first_missing(library)
    try:
        out = subprocess.run(
            [ldd, str(library)], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0 and "=>" not in out.stdout:
        return None
    return list(dict.fromkeys(_NOT_FOUND.findall(out.stdout)))


def _first_missing(library: str | Path) -> list[str] | None:
    """Without ldd: load it, and read the first missing library from the loader's error."""
    try:
        ctypes.CDLL(str(library))
    except OSError as e:
        found = re.match(r"(\S+\.so[.\d]*): cannot open shared object file", str(e))
        return [found.group(1)] if found else None
    return []


def xcb_plugin(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where Qt will look for its xcb plugin: QT_QPA_PLATFORM_PLUGIN_PATH, else Qt's own plugins
    folder; None when it is not there (then Qt says what it says)."""
    folders = [environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")]
    from PyQt5.QtCore import QLibraryInfo  # Qt's paths; no plugin is loaded by asking

    folders.append(os.path.join(QLibraryInfo.location(QLibraryInfo.PluginsPath), "platforms"))
    for folder in filter(None, folders):
        plugin = Path(folder) / XCB_PLUGIN
        if plugin.is_file():
            return plugin
    return None


def qt_platform(environ: Mapping[str, str] = os.environ) -> str:
    """The platform plugin Qt 5 will try first: QT_QPA_PLATFORM's first name, else xcb."""
    first = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    return first or "xcb"


def platform_problem(
    environ: Mapping[str, str] = os.environ,
    plugin: str | Path | None = None,
    system: str = sys.platform,
) -> str | None:
    """Why Qt would abort instead of opening a window here, in one line; None when nothing is
    known against it. Only X11 on Linux is checked: no display, or the xcb plugin's missing
    libraries with the packages that provide them."""
    if not system.startswith("linux") or qt_platform(environ) != "xcb":
        return None
    if not environ.get("DISPLAY"):
        if environ.get("WAYLAND_DISPLAY") and not environ.get("QT_QPA_PLATFORM"):
            return None  # a Wayland session: Qt may find its way; let it say
        return f"no X display to open a window on (DISPLAY is not set); {OFFSCREEN_HINT}"
    plugin = plugin if plugin is not None else xcb_plugin(environ)
    missing = missing_libraries(plugin) if plugin is not None else None
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(name) for name in missing))
    return (
        f"Qt cannot open a window: its X11 plugin {plugin} needs {', '.join(missing)}, "
        f"not installed; on Debian/Ubuntu: sudo apt-get install {packages} ({OFFSCREEN_HINT})"
    )
