"""Tests for workbook.py, the stdlib-only bootstrap: commands, usage, and when it reinstalls.

Nothing here creates a real virtual environment or launches JupyterLab:
`subprocess` and `venv` are replaced with recorders.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "workbook.py"


def load_workbook():
    """Import workbook.py from the repository root as a fresh module."""
    spec = importlib.util.spec_from_file_location("workbook_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def workbook():
    """Give each test its own copy of the module, so patched globals never leak."""
    return load_workbook()


@pytest.fixture
def scratch_repo(workbook, tmp_path, monkeypatch):
    """Point the module at a scratch copy of the lock files, with no .venv yet."""
    for name in workbook.LOCK_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    monkeypatch.setattr(workbook, "ROOT", tmp_path)
    monkeypatch.setattr(workbook, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(workbook, "STAMP", tmp_path / ".venv" / ".workbook-installed")
    return tmp_path


@pytest.fixture
def launched(workbook, monkeypatch):
    """Record the commands main() would run, instead of building .venv or running them."""
    calls = []
    monkeypatch.setattr(workbook, "ensure_environment", lambda: calls.append("ensure_environment"))

    def fake_call(args, **kwargs):
        calls.append((list(args), kwargs))
        return 0

    monkeypatch.setattr(workbook, "subprocess", SimpleNamespace(call=fake_call))
    return calls


@pytest.fixture
def installs(workbook, monkeypatch):
    """Record pip runs and venv creations made by ensure_environment(), without running either."""
    record = SimpleNamespace(pip=[], venvs=[])

    class FakeEnvBuilder:
        """Create only the python executable that workbook.py looks for."""

        def __init__(self, with_pip: bool):
            assert with_pip, "the workbook venv needs pip to install requirements.txt"

        def create(self, env_dir) -> None:
            record.venvs.append(Path(env_dir))
            python = workbook.venv_bin("python")
            python.parent.mkdir(parents=True)
            python.touch()

    # Replace the module's own references only, never the real subprocess or venv modules.
    monkeypatch.setattr(workbook, "venv", SimpleNamespace(EnvBuilder=FakeEnvBuilder))
    monkeypatch.setattr(
        workbook, "subprocess", SimpleNamespace(run=lambda args, **kwargs: record.pip.append((list(args), kwargs)))
    )
    return record


# -- usage -------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["bogus"], ["--help"], ["LAB"]])
def test_unknown_command_prints_usage_and_returns_2(workbook, launched, capsys, argv):
    assert workbook.main(argv) == 2
    usage = capsys.readouterr().out
    for command in ("lab", "test", "check", "setup"):
        assert f"python3 workbook.py {command}" in usage
    assert launched == [], "an unknown command must not build .venv or run anything"


def test_script_exits_2_for_unknown_command_without_building_anything(tmp_path):
    copy = tmp_path / "workbook.py"
    shutil.copy(SCRIPT, copy)
    done = subprocess.run(
        [sys.executable, str(copy), "no-such-command"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "python3 workbook.py lab" in done.stdout
    assert not (tmp_path / ".venv").exists()


# -- commands ----------------------------------------------------------------------------------


def test_lab_launches_jupyter_lab_rooted_at_notebooks(workbook, launched, monkeypatch):
    monkeypatch.setattr(workbook.os, "geteuid", lambda: 1000)
    assert workbook.main(["lab", "--port=8899"]) == 0
    assert launched[0] == "ensure_environment"
    args, kwargs = launched[1]
    assert args == [str(workbook.VENV / "bin" / "jupyter"), "lab", "--ServerApp.root_dir=notebooks", "--port=8899"]
    assert kwargs["cwd"] == ROOT, "root_dir=notebooks is relative, so jupyter must start in the repository root"
    assert (ROOT / "notebooks").is_dir()


def test_lab_terminals_find_the_workbook_tools(workbook, launched):
    """A JupyterLab terminal inherits the server's PATH: `connexion run` must work there."""
    assert workbook.main(["lab"]) == 0
    env = launched[1][1]["env"]
    assert env["PATH"].split(workbook.os.pathsep)[0] == str(workbook.venv_bin("connexion").parent)
    assert env["VIRTUAL_ENV"] == str(workbook.VENV)


def test_lab_as_root_says_so_to_jupyter(workbook, launched, monkeypatch):
    monkeypatch.setattr(workbook.os, "geteuid", lambda: 0)  # containers and CI run as root
    assert workbook.main(["lab"]) == 0
    assert "--allow-root" in launched[1][0]


def test_fingerprint_changes_with_the_interpreter(workbook, monkeypatch):
    before = workbook._fingerprint()
    monkeypatch.setattr(workbook.sys, "version", "3.99.0 (imaginary)")
    assert workbook._fingerprint() != before


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["test"], ["-m", "pytest"]),
        (["test", "-k", "bootstrap"], ["-m", "pytest", "-k", "bootstrap"]),
        (["check"], ["-m", "pytest", "checker/"]),
        (["check", "-x"], ["-m", "pytest", "checker/", "-x"]),
    ],
)
def test_test_and_check_run_pytest_from_the_venv(workbook, launched, command, expected):
    assert workbook.main(command) == 0
    args, kwargs = launched[1]
    assert args == [str(workbook.VENV / "bin" / "python"), *expected]
    assert kwargs["cwd"] == ROOT


def test_setup_builds_the_environment_and_runs_nothing(workbook, launched):
    assert workbook.main(["setup"]) == 0
    assert launched == ["ensure_environment"]


def test_exit_code_of_the_command_is_returned(workbook, launched, monkeypatch):
    monkeypatch.setattr(workbook.subprocess, "call", lambda args, **kwargs: 3)  # the fixture's stand-in
    assert workbook.main(["test"]) == 3


def test_ctrl_c_returns_130(workbook, launched, monkeypatch):
    def interrupted(args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workbook.subprocess, "call", interrupted)
    assert workbook.main(["lab"]) == 130


# -- paths -------------------------------------------------------------------------------------


def test_venv_bin_on_posix(workbook, monkeypatch):
    monkeypatch.setattr(workbook, "os", SimpleNamespace(name="posix"))
    assert workbook.venv_bin("jupyter") == workbook.VENV / "bin" / "jupyter"


def test_venv_bin_on_windows(workbook, monkeypatch):
    monkeypatch.setattr(workbook, "os", SimpleNamespace(name="nt"))
    assert workbook.venv_bin("python") == workbook.VENV / "Scripts" / "python.exe"


def test_venv_lives_in_the_repository(workbook):
    assert workbook.ROOT == ROOT
    assert workbook.VENV == ROOT / ".venv"
    assert ".venv/" in (ROOT / ".gitignore").read_text().split()


# -- fingerprint -------------------------------------------------------------------------------


def test_fingerprint_follows_requirements_and_pyproject(workbook, scratch_repo):
    original = workbook._fingerprint()
    requirements = scratch_repo / "requirements.txt"
    text = requirements.read_text()

    requirements.write_text(text + "six==1.16.0\n")
    assert workbook._fingerprint() != original, "a new pin must trigger a reinstall"

    requirements.write_text(text)
    assert workbook._fingerprint() == original, "the same files must not trigger a reinstall"

    pyproject = scratch_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# touched\n")
    assert workbook._fingerprint() != original, "a change to pyproject.toml must trigger a reinstall"


def test_lock_files_exist(workbook):
    for name in workbook.LOCK_FILES:
        assert (ROOT / name).is_file(), f"{name} is read by workbook.py but missing"


# -- ensure_environment ------------------------------------------------------------------------


def test_first_run_creates_venv_installs_lock_then_project(workbook, scratch_repo, installs):
    workbook.ensure_environment()
    assert installs.venvs == [scratch_repo / ".venv"]
    (first, _), (second, _) = installs.pip
    python = str(workbook.venv_bin("python"))
    assert first[:3] == [python, "-m", "pip"]
    assert first[-2:] == ["-r", str(scratch_repo / "requirements.txt")]
    assert second[-3:] == ["--no-deps", "-e", str(scratch_repo)]
    assert workbook.STAMP.read_text() == workbook._fingerprint()


def test_second_run_with_same_lock_installs_nothing(workbook, scratch_repo, installs):
    workbook.ensure_environment()
    installs.pip.clear()
    workbook.ensure_environment()
    assert installs.pip == []
    assert len(installs.venvs) == 1


def test_changed_lock_reinstalls_into_the_existing_venv(workbook, scratch_repo, installs):
    workbook.ensure_environment()
    installs.pip.clear()
    (scratch_repo / "requirements.txt").write_text("six==1.16.0\n")
    workbook.ensure_environment()
    assert len(installs.pip) == 2
    assert len(installs.venvs) == 1, "a lock change reinstalls; it does not rebuild .venv"


def test_failed_install_leaves_no_stamp(workbook, scratch_repo, installs, monkeypatch):
    def pip_fails(args, **kwargs):
        raise subprocess.CalledProcessError(1, args)

    monkeypatch.setattr(workbook.subprocess, "run", pip_fails)  # the fixture's stand-in
    with pytest.raises(subprocess.CalledProcessError):
        workbook.ensure_environment()
    assert not workbook.STAMP.exists(), "the next run must try the install again"


def test_old_python_is_refused_with_a_sentence(workbook, scratch_repo, installs, monkeypatch):
    old = SimpleNamespace(version_info=(3, 10, 12), version="3.10.12 (main)", exit=sys.exit)
    monkeypatch.setattr(workbook, "sys", old)
    with pytest.raises(SystemExit) as refused:
        workbook.ensure_environment()
    assert str(refused.value) == "The workbook needs Python 3.11 or newer; this is 3.10.12."
    assert installs.venvs == [] and installs.pip == []


def test_with_the_images_python_no_venv_is_made_and_its_tools_run(workbook, installs, monkeypatch):
    # The Docker image sets WORKBOOK_USE_CURRENT_PYTHON=1: its Python already has the locked requirements.
    monkeypatch.setattr(workbook, "USE_CURRENT", True)
    workbook.ensure_environment()
    assert installs.venvs == [] and installs.pip == []
    assert workbook.venv_bin("python") == Path(sys.executable).parent / "python"
    assert workbook.venv_environment().get("VIRTUAL_ENV") == os.environ.get("VIRTUAL_ENV")  # nothing activated


def test_a_link_to_workbook_py_runs_the_repositorys_checker(tmp_path):
    # As ~/workbook.py in the image: lesson 1 runs `python3 ../workbook.py check` from ~/notebooks.
    (tmp_path / "workbook.py").symlink_to(SCRIPT)
    env = {"PATH": "/usr/bin:/bin", "WORKBOOK_USE_CURRENT_PYTHON": "1"}
    done = subprocess.run([sys.executable, str(tmp_path / "workbook.py"), "check", "--co", "-q"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "status-endpoint" in done.stdout
