#!/usr/bin/env python3
"""Set up and run the workbook with nothing but Python 3.11+.

    python3 workbook.py lab      # open the notebooks in JupyterLab
    python3 workbook.py test     # run the whole test suite
    python3 workbook.py check    # grade your work (same as `pytest checker/`)

The first call creates `.venv/` from the locked `requirements.txt`; later calls
reuse it and reinstall only when `requirements.txt` or `pyproject.toml` change.
Only the standard library is used here, because nothing else exists yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".workbook-installed"
JUPYTER_CONFIG = ROOT / "jupyter-config"
LOCK_FILES = ("requirements.txt", "pyproject.toml")


#: set (the Docker image does) where the running interpreter already has the locked requirements:
#: then no .venv is made, and every command runs with this interpreter's tools
USE_CURRENT = os.environ.get("WORKBOOK_USE_CURRENT_PYTHON") == "1"


def venv_bin(name: str) -> Path:
    """Return the path of an executable inside `.venv` (or beside this interpreter), on any OS."""
    if USE_CURRENT:
        return Path(sys.executable).parent / (f"{name}.exe" if os.name == "nt" else name)
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def _fingerprint() -> str:
    digest = hashlib.sha256(sys.version.encode())  # a new interpreter means a new .venv
    for name in LOCK_FILES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create or refresh `.venv` so it matches the locked requirements."""
    if sys.version_info < (3, 11):
        sys.exit(f"The workbook needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if USE_CURRENT:
        return
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted and venv_bin("python").exists():
        return
    if not venv_bin("python").exists():
        print("Creating the workbook environment in .venv/ (first run only) ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(venv_bin("python")), "-m", "pip", "--disable-pip-version-check"]
    print("Installing the locked requirements (a few minutes the first time) ...", flush=True)
    subprocess.run([*pip, "install", "--quiet", "-r", str(ROOT / "requirements.txt")], check=True)
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(wanted)


def _root_flag() -> list[str]:
    """JupyterLab refuses to start as root (containers, CI) unless told it is on purpose."""
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def venv_environment() -> dict[str, str]:
    """The environment of an activated `.venv`, so JupyterLab's terminals find `connexion` and `pytest`."""
    folder = str(venv_bin("python").parent)
    if USE_CURRENT:
        return {**os.environ, "PATH": os.pathsep.join([folder, os.environ.get("PATH", "")])}
    return {**os.environ, "VIRTUAL_ENV": str(VENV), "PATH": os.pathsep.join([folder, os.environ.get("PATH", "")])}


def lab_environment() -> dict[str, str]:
    """`.venv`'s environment plus the workbook's Jupyter settings in jupyter-config/.

    With them, a terminal opens in notebooks/ with `.venv` first on PATH even when JupyterLab has no
    terminal of its own, and JupyterLab neither asks about news nor checks for updates.
    """
    env = venv_environment()
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(JUPYTER_CONFIG), env.get("JUPYTER_CONFIG_PATH")]))
    return env


def lab_command(rest: list[str]) -> list[str]:
    """The `jupyter lab` command line of `workbook.py lab`; run it from the repository root."""
    return [str(venv_bin("jupyter")), "lab", "--ServerApp.root_dir=notebooks", *_root_flag(), *rest]


def run(args: list[str], env: dict[str, str] | None = None) -> int:
    """Run a command from `.venv` in the repository root and return its exit code."""
    return subprocess.call(args, cwd=ROOT, env=env or venv_environment())


def main(argv: list[str]) -> int:
    commands = {
        "lab": lab_command,
        "test": lambda rest: [str(venv_bin("python")), "-m", "pytest", *rest],
        "check": lambda rest: [str(venv_bin("python")), "-m", "pytest", "checker/", *rest],
        "setup": None,
    }
    if not argv or argv[0] not in commands:
        print(__doc__.strip())
        print("\n    python3 workbook.py setup    # only create/refresh .venv")
        return 2
    ensure_environment()
    command = commands[argv[0]]
    if command is None:
        return 0
    try:
        return run(command(argv[1:]), lab_environment() if argv[0] == "lab" else None)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
