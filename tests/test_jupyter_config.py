"""Tests for jupyter-config/, the workbook's own Jupyter settings, without starting JupyterLab.

tests/test_browser.py starts JupyterLab as `python3 workbook.py lab` does and checks the same
things through a browser; these run in a second, without Chromium.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from terminado.management import TermManagerBase
from traitlets import Unicode
from traitlets.config import Configurable
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "jupyter-config"
VENV_BIN = Path(sys.prefix) / "bin"


def load_config():
    """Run jupyter_server_config.py as Jupyter does and return the settings it makes."""
    return PyFileConfigLoader("jupyter_server_config.py", path=str(CONFIG_DIR)).load_config()


def load_workbook():
    spec = importlib.util.spec_from_file_location("workbook_for_config_tests", ROOT / "workbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_workbook_lab_reads_the_workbook_config_before_any_other(monkeypatch):
    workbook = load_workbook()
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/somewhere/else")
    launched = []
    monkeypatch.setattr(workbook, "ensure_environment", lambda: None)

    def fake_call(args, **kwargs):
        launched.append(kwargs)
        return 0

    # Replace the module's own reference only, never the real subprocess module.
    monkeypatch.setattr(workbook, "subprocess", SimpleNamespace(call=fake_call))
    assert workbook.main(["lab"]) == 0
    assert launched[0]["env"]["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(CONFIG_DIR), "/somewhere/else"]


class FakeServer(Configurable):
    """The one thing a terminal manager reads from its Jupyter server here: the folder it serves."""

    root_dir = Unicode("/work/notebooks")


@pytest.mark.parametrize(("asked", "opened"), [(None, "/work/notebooks"), ("", "/work/notebooks"),
                                                ("/work/notebooks/oas3", "/work/notebooks/oas3")])
def test_a_new_terminal_opens_in_root_dir_unless_a_folder_is_asked_for(monkeypatch, asked, opened):
    started = []
    monkeypatch.setattr(TermManagerBase, "new_terminal", lambda self, **kwargs: started.append(kwargs))
    manager = load_config().TerminalsExtensionApp.terminal_manager_class(shell_command=["sh"], parent=FakeServer())
    manager.new_terminal(**({} if asked is None else {"cwd": asked}))
    assert started == [{"cwd": opened}]


@pytest.mark.skipif(os.name == "nt", reason="Windows terminals run PowerShell, which no login profile resets")
def test_the_terminal_shell_is_not_a_login_shell():
    shell = load_config().ServerApp.terminado_settings["shell_command"]
    assert "-l" not in shell and "--login" not in shell  # a login shell's /etc/profile resets PATH
    if shutil.which("bash"):
        assert shell[1:3] == ["--rcfile", str(CONFIG_DIR / "terminal.bashrc")]


@pytest.mark.skipif(shutil.which("bash") is None or not (VENV_BIN / "activate").exists(),
                    reason="needs bash and a virtual environment to activate")
def test_the_terminal_finds_the_workbook_tools_whatever_bashrc_does_to_path(tmp_path):
    (tmp_path / ".bashrc").write_text('PATH="/usr/bin:/bin"\n')  # as a profile or a conda init might
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "VIRTUAL_ENV": sys.prefix, "TERM": "dumb"}
    shell = load_config().ServerApp.terminado_settings["shell_command"]
    done = subprocess.run([*shell, "-c", "command -v python3"], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=30)
    assert done.stdout.strip() == str(VENV_BIN / "python3"), done.stderr


def test_jupyterlab_neither_fetches_news_nor_checks_for_updates():
    config = load_config()
    assert config.LabApp.news_url is None
    assert config.LabApp.check_for_updates_class == "jupyterlab.NeverCheckForUpdate"
    page_config = json.loads((CONFIG_DIR / "labconfig" / "page_config.json").read_text())
    # The plugin that asks "Would you like to get notified about official Jupyter news?" and checks for updates.
    assert page_config["disabledExtensions"] == {"@jupyterlab/apputils-extension:announcements": True}
