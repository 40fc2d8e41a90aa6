"""The workbook's own JupyterLab settings: terminals open where lesson 1 says, and nothing calls the internet.

`python3 workbook.py lab` and the Docker image put this folder on JUPYTER_CONFIG_PATH, so Jupyter reads
this file and labconfig/page_config.json beside it, ahead of the user's own settings.
"""

import os
import shutil
from pathlib import Path

from jupyter_server_terminals.terminalmanager import TerminalManager

c = get_config()  # noqa: F821 - Jupyter defines get_config() for the config files it runs

HERE = Path(__file__).resolve().parent


class TerminalsInRootDir(TerminalManager):
    """Open a new terminal in the file browser's top folder (notebooks/), not where the server was started."""

    def new_terminal(self, **kwargs):
        """Start the shell in root_dir unless JupyterLab asked for a folder (the launcher of a sub-folder)."""
        kwargs["cwd"] = kwargs.get("cwd") or self.parent.root_dir
        return super().new_terminal(**kwargs)


c.TerminalsExtensionApp.terminal_manager_class = TerminalsInRootDir

# Without a terminal of its own (output to a log file, started by a spawner) Jupyter would start a login
# shell, whose /etc/profile resets PATH and loses .venv. Any shell named here is started as it is; bash
# reads terminal.bashrc, which reads ~/.bashrc and then puts the environment JupyterLab runs in first.
if os.name != "nt":
    bash = shutil.which("bash")
    shell = [bash, "--rcfile", str(HERE / "terminal.bashrc"), "-i"] if bash else [os.environ.get("SHELL") or "/bin/sh"]
    c.ServerApp.terminado_settings = {"shell_command": shell}

# The lessons run offline and in classrooms: no news feed, no update check.
# (labconfig/page_config.json turns off the prompt that asks about news.)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
