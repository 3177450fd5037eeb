"""Finding LibreOffice and a Python that can talk to it; starting and cleaning up after it."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import os
import shutil
import sys
from pathlib import Path

from ._errors import PdfConversionError

SERVER_SCRIPT = Path(__file__).with_name("_uno_server.py")
SUPERVISOR_SCRIPT = Path(__file__).with_name("_supervisor.py")

_WELL_KNOWN_SOFFICE = (
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice*/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
)
_PYTHON_PROBE_TIMEOUT = 30.0
_python_checked: dict[str, bool] = {}


def find_soffice(soffice: str | None = None) -> str | None:
    """The LibreOffice launcher: ``soffice``, ``$DOCG_SOFFICE``, on PATH, or a usual place."""
    if soffice:
        return shutil.which(soffice)
    if configured := os.environ.get("DOCG_SOFFICE"):
        return shutil.which(configured)
    for name in ("soffice", "libreoffice"):
        if found := shutil.which(name):
            return found
    for pattern in _WELL_KNOWN_SOFFICE:
        for path in sorted(glob.glob(pattern), reverse=True):
            if os.access(path, os.X_OK):
                return path
    return None


def require_soffice(soffice: str | None = None) -> str:
    found = find_soffice(soffice)
    if found is None:
        where = repr(soffice) if soffice else "soffice (PATH, $DOCG_SOFFICE)"
        raise PdfConversionError(
            f"LibreOffice was not found at {where}; install it (Debian: "
            "libreoffice-writer-nogui libreoffice-impress-nogui python3-uno) or pass soffice=",
            code="pdf_unavailable",
        )
    return found


def office_binary(soffice: str) -> str:
    """``soffice.bin`` next to the launcher, run directly under the worker's supervisor.

    The ``soffice`` launcher (a shell script, then oosplash) adds a process that does nothing
    for us; its one duty, starting soffice.bin again after it creates a profile, is the
    supervisor's.
    """
    program = Path(os.path.realpath(soffice)).parent
    binary = program / "soffice.bin"
    return str(binary) if os.access(binary, os.X_OK) else soffice


def office_args(profile_url: str, *extra: str) -> list[str]:
    return [
        "--headless",
        "--invisible",
        "--nocrashreport",
        "--nodefault",
        "--nologo",
        "--nofirststartwizard",
        "--norestore",
        "--nolockcheck",
        f"-env:UserInstallation={profile_url}",
        *extra,
    ]


def office_env(tmp_dir: Path) -> dict[str, str]:
    """The environment for soffice.bin: what its launcher sets, temp files in ``tmp_dir``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env.update(SAL_ENABLE_FILE_LOCKING="1", SAL_USE_VCLPLUGIN="svp", TMPDIR=str(tmp_dir))
    return env


def office_pipe_paths(profile_url: str, pipe_name: str | None = None) -> list[str]:
    """The socket files an office leaves in /tmp when it is killed (it removes them only on a
    clean exit): the UNO pipe we named, and its single-instance pipe, named after an MD5 of
    the profile URL (UTF-16LE, each byte in hex without padding)."""
    digest = hashlib.md5(profile_url.encode("utf-16-le"), usedforsecurity=False).digest()
    names = [f"SingleOfficeIPC_{''.join(format(b, 'x') for b in digest)}"]
    if pipe_name:
        names.append(pipe_name)
    uid = os.getuid()
    return [
        f"{directory}/OSL_PIPE_{uid}_{name}"
        for directory in ("/tmp", "/var/tmp")  # noqa: S108 - where LibreOffice puts them
        for name in names
    ]


def remove_office_pipes(profile_url: str, pipe_name: str | None = None) -> None:
    for path in office_pipe_paths(profile_url, pipe_name):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.unlink(path)


async def find_python(soffice_binary: str, python: str | None = None) -> str:
    """A Python that can ``import uno`` for this LibreOffice.

    ``python``, ``$DOCG_PDF_PYTHON``, LibreOffice's own (official builds), the system's
    ``/usr/bin/python3`` (Debian's python3-uno), then the running interpreter.
    """
    candidates = _python_candidates(soffice_binary, python)
    for candidate in candidates:
        path = shutil.which(candidate)
        if path and await _imports_uno(path):
            return path
    raise PdfConversionError(
        f"no Python that can import LibreOffice's uno module among {', '.join(candidates)}; "
        "install python3-uno (Debian) or pass python=",
        code="pdf_unavailable",
    )


def _python_candidates(soffice_binary: str, python: str | None) -> list[str]:
    explicit = python or os.environ.get("DOCG_PDF_PYTHON")
    if explicit:
        return [explicit]
    program = Path(os.path.realpath(soffice_binary)).parent
    return [str(program / "python"), "/usr/bin/python3", sys.executable]


async def _imports_uno(python: str) -> bool:
    if python not in _python_checked:
        process = await asyncio.create_subprocess_exec(
            python,
            "-I",
            "-c",
            "import uno",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        code: int | None = None
        try:
            async with asyncio.timeout(_PYTHON_PROBE_TIMEOUT):
                code = await process.wait()
        except TimeoutError:
            pass
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        _python_checked[python] = code == 0
    return _python_checked[python]


def tail(path: Path, size: int = 600) -> str:
    """The end of a log file, for error messages."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - size))
            text = f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return text
