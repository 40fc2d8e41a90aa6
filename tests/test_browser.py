"""Open a lesson in JupyterLab in headless Chromium, run all cells, and read what a learner sees.

These tests go through the same path as a person: a real JupyterLab server,
Debian's Chromium driven by Playwright, the Run and File menus, the rendered
output areas and a terminal. One starts JupyterLab exactly as
`python3 workbook.py lab` does, with its output in a log file (no terminal of
its own, as under a spawner), and types lesson 1's terminal commands.
They never download a browser: without /usr/bin/chromium they skip on a
developer's machine and fail under CI=true (`.ci/run` installs Chromium first).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
LESSON = "03-Service-Unavailable.ipynb"
HARNESS = "00-browser-harness.ipynb"
START_HERE = NOTEBOOKS / "01-Start-Here.ipynb"
WORKBOOK = ROOT / "workbook.py"
NEWS_PROMPT = "official Jupyter news"  # JupyterLab's "Would you like to get notified about official Jupyter news?"

CHROMIUM = Path("/usr/bin/chromium")
# Chromium's connections to Google's hosts are refused on this network; these
# flags keep it from trying. --no-sandbox because CI runs as root;
# --disable-dev-shm-usage because containers often have a tiny /dev/shm.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

SERVER_START_S = 90
LAB_READY_S = 90
KERNEL_IDLE_S = 90
RUN_ALL_S = 180
TERMINAL_S = 60  # a shell prompt, `connexion run` answering
CHECK_S = 240  # `python3 workbook.py check`: every exercise, on a busy 2-core box
SHUTDOWN_S = 10

# Every wait below is bounded; the whole test is too, as a last resort.
pytestmark = pytest.mark.timeout(SERVER_START_S + LAB_READY_S + KERNEL_IDLE_S + RUN_ALL_S + 60)

# JupyterLab user settings written for the test server: no news or update
# checks (there is no internet), and every cell kept in the DOM so that the
# outputs of cells scrolled out of view can still be read.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
    },
}
# For the workbook's own server, only what lets the test read the screen: xterm.js draws a terminal on a
# canvas; its screen-reader mode mirrors the visible rows as text.
WORKBOOK_LAB_SETTINGS = {
    "@jupyterlab/terminal-extension/plugin.jupyterlab-settings": {"screenReaderMode": True},
}
# What a login profile, a conda init or a tool's installer in ~/.bashrc may do to PATH: the workbook's
# terminals must still find `.venv` first.
HOSTILE_BASHRC = 'PATH="/usr/bin:/bin"\n'

HARNESS_CELLS = [
    """\
import http.client, http.server, json, threading

class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"title": "browser harness"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=60")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
threading.Thread(target=server.serve_forever, daemon=True).start()
server.server_address[0]""",
    """\
connection = http.client.HTTPConnection(*server.server_address, timeout=10)
connection.request("GET", "/hello")
response = connection.getresponse()
print(f"HTTP/1.{response.version % 10} {response.status} {response.reason}")
for name, value in response.getheaders():
    print(f"{name.lower()}: {value}")
print()
print(response.read().decode())""",
    "server.shutdown()",
]

# What must be on screen after Run All: each inner list is a set of patterns
# that one output area must match together.
HARNESS_EXPECTED = [[r"HTTP/1\.1 200 OK", r"(?im)^cache-control: max-age=60$", r'"title"']]
# As shipped, get_status() always answers 200, so server.first(503) gives up and shows a 200.
STARTER_EXPECTED = [[r"HTTP/1\.1 200 OK", r"(?im)^content-type: application/problem\+json$", r'"title"']]
# With the solutions in place, the learner's API refuses with 503 + Retry-After, and never lets a cache keep it.
SOLVED_EXPECTED = [
    [r"HTTP/1\.1 503 Service Unavailable", r"(?im)^retry-after: \d+$", r"(?im)^cache-control: no-store$", r'"title"'],
    [r"HTTP/1\.1 200 OK", r"(?im)^cache-control: no-store$", r'"title"'],
]

# Lessons 8-11, as shipped and solved: each check() cell shows its verdict badge and headline
# (checker.results), FAIL on the starter files, PASS with the solutions.
LATER_LESSONS = {
    "08-Long-Running-Jobs.ipynb": ["jobs-spec", "jobs-impl"],
    "09-Idempotency-Keys.ipynb": ["idempotency-key", "jobs-client"],
    "10-Services-Calling-Services.ipynb": ["error-formatter", "correlation-id"],
    "11-Parallel-Calls-With-Deadlines.ipynb": ["fan-out-deadline"],
}
# Red text a cell may show (every line of every stderr output must match one pattern): on the starter, the planted
# bug of lesson 10 and the upstream that never answers in lesson 11 end in connexion's 500, logged in one line
# (labtools.server.OneLineErrors), never a traceback.
CONNEXION_500 = r"connexion answered 500: the handler raised \w+: .* \(services_api\.py line \d+\)"
LATER_STDERR = {
    ("10-Services-Calling-Services.ipynb", "starter"): [CONNEXION_500],
    ("11-Parallel-Calls-With-Deadlines.ipynb", "starter"): [CONNEXION_500],
}


def badges(exercises: list[str], variant: str) -> list[list[str]]:
    """The check() outputs a learner should see: one verdict badge and headline per exercise."""
    if variant == "starter":
        return [[rf"(?m)^FAIL\s+{re.escape(name)}: \d+ of \d+ checks failed"] for name in exercises]
    return [[rf"(?m)^PASS\s+{re.escape(name)}: all \d+ checks passed"] for name in exercises]


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kill_tree(process: subprocess.Popen) -> None:
    """Stop a process and everything it started, politely first."""
    try:
        parent = psutil.Process(process.pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    # Kernels run in their own session, so a process-group signal would miss them.
    for member in family:
        try:
            member.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=SHUTDOWN_S)
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=SHUTDOWN_S)
    try:
        process.wait(timeout=SHUTDOWN_S)
    except subprocess.TimeoutExpired:
        pass


def require_chromium() -> None:
    """Skip without Debian's Chromium, except under CI, which must run this test."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser test"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true but {reason}; .ci/run should have installed it")
    pytest.skip(reason)


def write_harness_notebook(path: Path) -> None:
    """Write a notebook that serves one HTTP response on loopback and prints it."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell("# Browser harness")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in HARNESS_CELLS]
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> Path:
    """Lay out scratch copies of the lessons: starter/ as shipped, solved/ with solutions/ on top.

    Running cells writes files (checkpoints, the saved notebook), so the repository is never served.
    """
    root = tmp_path_factory.mktemp("lab")
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for variant, overlays in (("starter", [NOTEBOOKS]), ("solved", [NOTEBOOKS, SOLUTIONS])):
        (root / variant).mkdir()
        for source in filter(Path.is_dir, overlays):  # a missing lesson is reported by its own test
            shutil.copytree(source, root / variant, ignore=skip, dirs_exist_ok=True)
    write_harness_notebook(root / HARNESS)
    return root


def write_lab_settings(folder: Path, settings: dict) -> None:
    """Write JupyterLab user settings, one file per plugin, into a scratch settings folder."""
    for name, values in settings.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


def isolated_jupyter_environment(env: dict[str, str], home: Path) -> dict[str, str]:
    """Keep the server away from the user's own Jupyter config, settings, workspaces and IPython profile."""
    return {
        **env,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }


@contextmanager
def running_lab(command: list[str], cwd: Path, env: dict[str, str], port: int, token: str, log_path: Path):
    """Run JupyterLab with no terminal of its own (stdin from /dev/null, output to a log file) until the block ends."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_server(process, port, token, log_path)
        yield
    finally:
        kill_tree(process)


@pytest.fixture(scope="module")
def lab_link(lab_root, tmp_path_factory):
    """Start JupyterLab on a free loopback port, isolated from the user's settings, and stop it afterwards."""
    require_chromium()
    home = tmp_path_factory.mktemp("jupyter")
    write_lab_settings(home / "settings", LAB_SETTINGS)
    port, token = free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [
        str(jupyter) if jupyter.exists() else sys.executable,
        *([] if jupyter.exists() else ["-m", "jupyter"]),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={lab_root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),  # CI runs as root
    ]
    env = isolated_jupyter_environment(
        {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}, home
    )
    with running_lab(command, lab_root, env, port, token, home / "jupyter-lab.log"):
        # ?reset: start from an empty workspace, whatever an earlier tab left open.
        yield lambda name: f"http://127.0.0.1:{port}/lab/tree/{urllib.parse.quote(name)}?reset&token={token}"


def load_workbook():
    """Import workbook.py, the learner's launcher, as a module."""
    spec = importlib.util.spec_from_file_location("workbook_launcher", WORKBOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def workbook_lab(tmp_path_factory):
    """Start JupyterLab as `python3 workbook.py lab` does, its output in a log file; yield its /lab address.

    Same command line, folder and environment as the launcher (minus building .venv, which the
    suite's own run already did), on the real notebooks/: the terminal test only reads them. Only
    the user's own Jupyter folders are swapped for scratch ones, and HOME for one whose ~/.bashrc
    resets PATH.
    """
    require_chromium()
    workbook = load_workbook()
    if not workbook.venv_bin("jupyter").exists():
        pytest.skip(f"{workbook.venv_bin('jupyter')} is missing: run `python3 workbook.py setup` first")
    home = tmp_path_factory.mktemp("workbook-jupyter")
    write_lab_settings(home / "settings", WORKBOOK_LAB_SETTINGS)
    (home / "user").mkdir()
    (home / "user" / ".bashrc").write_text(HOSTILE_BASHRC)
    port, token = free_port(), secrets.token_hex(16)
    command = workbook.lab_command([
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ])
    env = isolated_jupyter_environment({**workbook.lab_environment(), "HOME": str(home / "user")}, home)
    with running_lab(command, workbook.ROOT, env, port, token, home / "jupyter-lab.log"):
        yield f"http://127.0.0.1:{port}/lab?reset&token={token}"


def wait_for_server(process: subprocess.Popen, port: int, token: str, log_path: Path) -> None:
    """Poll the server's status API until it answers, it dies, or time runs out."""
    deadline = time.monotonic() + SERVER_START_S
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer on port {port} within {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """Launch Debian's Chromium headless with a fresh profile; close it afterwards."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
            timeout=60_000,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context):
    """Give each test its own tab."""
    tab = browser_context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        tab.close()


@contextmanager
def screenshot_on_failure(page, path: Path):
    """Save what the browser shows when the block fails, and name the file in the failure."""
    try:
        yield
    except BaseException as failure:
        try:
            page.screenshot(path=str(path), timeout=15_000)
            note = f"screenshot of the browser: {path}"
        except Exception as problem:  # the page may be gone; the original failure matters more
            note = f"no screenshot ({problem.__class__.__name__}: {problem})"
        if isinstance(failure, AssertionError):
            raise AssertionError(f"{failure}\n{note}") from None
        print(note)
        raise


def open_notebook(page, lab_link, name: str) -> None:
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    page.goto(lab_link(name), timeout=LAB_READY_S * 1000)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").wait_for(timeout=LAB_READY_S * 1000)
    wait_for_kernel_idle(page, KERNEL_IDLE_S)


def kernel_status(page) -> str:
    """Return the status bar's kernel item as a learner reads it, e.g. 'Python 3 (ipykernel) | Idle'."""
    item = page.locator("#jp-main-statusbar .jp-StatusBar-TextItem[title^='Change kernel']")
    return item.first.inner_text().strip() if item.count() else ""


def kernel_is_idle(page) -> bool:
    """Tell whether a kernel is attached and idle; before it starts the bar reads 'No Kernel'."""
    status = kernel_status(page)
    return status.endswith("| Idle") and not status.startswith("No Kernel")


def wait_for_kernel_idle(page, seconds: float) -> None:
    """Wait until the notebook has a started kernel that is idle, accepting a kernel choice if asked."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kernel_is_idle(page):
            return
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():  # a notebook without kernel metadata asks; a learner would press Select
            dialog.locator("button.jp-mod-accept").click()
        page.wait_for_timeout(250)
    raise AssertionError(f"the kernel was not idle after {seconds} s; status bar reads {kernel_status(page)!r}")


def run_all_cells(page) -> None:
    """Choose Run → Run All Cells from the menu bar, as a learner would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()


def wait_for_run_all(page, seconds: float) -> None:
    """Wait until no cell is queued or running and the kernel has settled."""
    deadline = time.monotonic() + seconds
    busy = page.locator(".jp-Notebook .jp-InputPrompt", has_text="[*]")
    quiet_since = None
    while time.monotonic() < deadline:
        if kernel_is_idle(page) and busy.count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 1.0:  # stays quiet between two cells
                return
        else:
            quiet_since = None
        page.wait_for_timeout(250)
    raise AssertionError(
        f"cells were still running after {seconds} s: {busy.count()} marked [*],"
        f" status bar reads {kernel_status(page)!r}"
    )


def error_outputs(page) -> list[str]:
    """Return the text of every output area showing an error (a traceback, or 'Cell In[n]' for a SyntaxError)."""
    errors = page.locator(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]',
        has_text=re.compile(r"Traceback|Cell In\[\d+\], line \d+"),
    )
    return errors.all_inner_texts()


def stderr_lines(page) -> list[str]:
    """Return every non-empty line of red (stderr) text in the open notebook's outputs."""
    texts = page.locator(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'
    ).all_inner_texts()
    return [line for text in texts for line in text.splitlines() if line.strip()]


def unexecuted_code_cells(page) -> int:
    """Count code cells with source that did not get an execution number."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].filter(cell => {
               const source = cell.querySelector('.jp-InputArea-editor .cm-content');
               const prompt = cell.querySelector('.jp-InputPrompt');
               return source && source.textContent.trim() && !/\\[\\d+\\]/.test(prompt.textContent);
           }).length"""
    )


def output_texts(page) -> list[str]:
    """Return the text of every output area in the open notebook, as rendered."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_inner_texts()


def output_matching(outputs: list[str], patterns: list[str]) -> str | None:
    """Return the first output that matches every pattern, if any."""
    return next((text for text in outputs if all(re.search(pattern, text) for pattern in patterns)), None)


def run_notebook_in_lab(page, lab_link, name: str, expected: list[list[str]], shot: Path,
                        stderr: list[str] | None = None) -> None:
    """Open a notebook, run all its cells through the menu, and check what its outputs show.

    With `stderr` (patterns), every line of red text must match one of them: no warning or log line slips by."""
    with screenshot_on_failure(page, shot):
        open_notebook(page, lab_link, name)
        run_all_cells(page)
        wait_for_run_all(page, RUN_ALL_S)
        errors = error_outputs(page)
        assert not errors, f"{name}: a cell shows a traceback:\n" + "\n---\n".join(errors)
        skipped = unexecuted_code_cells(page)
        assert skipped == 0, f"{name}: {skipped} code cell(s) did not run after Run All Cells"
        if stderr is not None:
            unexpected = [line for line in stderr_lines(page) if not any(re.fullmatch(p, line.strip()) for p in stderr)]
            assert not unexpected, f"{name}: a cell shows red (stderr) text:\n" + "\n".join(unexpected)
        outputs = output_texts(page)
        found = [output_matching(outputs, patterns) for patterns in expected]
        for patterns, text in zip(expected, found):
            assert text, (
                f"{name}: no output area shows an HTTP response matching all of {patterns}; outputs were:\n"
                + "\n---\n".join(outputs)
            )
        first_line = found[0].strip().splitlines()[0]  # bring the first expected response into view
        page.locator(".jp-OutputArea-output", has_text=first_line).first.scroll_into_view_if_needed()
        if os.environ.get("WORKBOOK_SCREENSHOT_DIR"):  # for a person who wants to look at a passing run
            page.screenshot(path=str(Path(os.environ["WORKBOOK_SCREENSHOT_DIR"]) / shot.name))


def lesson_terminal_commands() -> list[str]:
    """Return the lines of lesson 1's ```bash blocks, in order, as a learner types them."""
    cells = nbformat.read(START_HERE, as_version=4).cells
    markdown = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    blocks = re.findall(r"```bash\n(.*?)```", markdown, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def open_terminal(page) -> None:
    """Choose File → New → Terminal, as lesson 1 says, and wait for its shell prompt."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^New")).first.hover()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^Terminal$")).first.click()
    wait_for_terminal(page, r"[$#]\s*$", TERMINAL_S)


def terminal_text(page) -> str:
    """Return the visible rows of the open terminal, as xterm.js mirrors them for screen readers."""
    rows = page.locator(".jp-Terminal:visible .xterm-accessibility-tree")
    return rows.first.inner_text().replace("\xa0", " ").rstrip() if rows.count() else ""


def wait_for_terminal(page, pattern: str, seconds: float) -> re.Match:
    """Wait until the terminal's visible text matches `pattern`; fail showing the screen if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(pattern, terminal_text(page))
        if found:
            return found
        page.wait_for_timeout(250)
    raise AssertionError(f"after {seconds} s the terminal shows no match for {pattern!r}:\n{terminal_text(page)}")


def type_in_terminal(page, line: str) -> None:
    """Type one command line into the open terminal and press Enter."""
    page.locator(".jp-Terminal:visible .xterm-helper-textarea").focus()
    page.keyboard.type(line)
    page.keyboard.press("Enter")


def wait_for_port(port: int, open_: bool, seconds: float) -> None:
    """Wait until something listens on 127.0.0.1:`port` (or, with open_=False, until nothing does)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(1)
            if (probe.connect_ex(("127.0.0.1", port)) == 0) == open_:
                return
        time.sleep(0.25)
    raise AssertionError(f"port {port} {'never opened' if open_ else 'stayed open'} within {seconds} s")


def try_connexion_run(page, browser_context, command: str) -> None:
    """Run lesson 1's `connexion run`, open its Swagger UI in a new tab as the lesson says, then stop it with Ctrl+C."""
    port = free_port()  # the lesson's own way round a busy port 5000; CI machines may use 5000
    type_in_terminal(page, f"{command.split(' #')[0].rstrip()} --port {port}")
    wait_for_port(port, True, TERMINAL_S)
    swagger = browser_context.new_page()
    try:
        swagger.goto(f"http://localhost:{port}/ui/", timeout=TERMINAL_S * 1000)
        swagger.locator(".swagger-ui .opblock-summary-path", has_text="/status").wait_for(timeout=TERMINAL_S * 1000)
        assert swagger.title() == "Swagger UI"
    finally:
        swagger.close()
    page.locator(".jp-Terminal:visible .xterm-helper-textarea").focus()
    page.keyboard.press("Control+C")
    wait_for_port(port, False, TERMINAL_S)


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)], ids=["local", "ci"]
)
def test_missing_chromium_skips_locally_and_fails_in_ci(monkeypatch, ci, outcome):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install chromium"):
        require_chromium()


def test_lab_shows_http_response_from_harness_notebook(page, lab_link, tmp_path):
    """The browser, the server and Run All work, whatever state the lessons are in."""
    run_notebook_in_lab(page, lab_link, HARNESS, HARNESS_EXPECTED, tmp_path / "harness.png")


@pytest.mark.parametrize(
    ("variant", "expected"),
    [("starter", STARTER_EXPECTED), ("solved", SOLVED_EXPECTED)],
    ids=["starter", "solved"],
)
def test_lesson_03_shows_learner_api_response(page, lab_link, lab_root, tmp_path, variant, expected):
    """Run All on lesson 03 shows the learner's API answering over real HTTP, with no traceback."""
    lesson = f"{variant}/{LESSON}"
    assert (lab_root / lesson).exists(), f"notebooks/{LESSON} is missing"
    run_notebook_in_lab(page, lab_link, lesson, expected, tmp_path / f"lesson-03-{variant}.png")


def shut_down_kernels(lab_link) -> None:
    """Stop every kernel of the test server (REST API), so lessons run one after another do not pile up."""
    address = urllib.parse.urlsplit(lab_link(""))
    token = urllib.parse.parse_qs(address.query)["token"][0]
    base = f"{address.scheme}://{address.netloc}/api/kernels"
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(base, headers=headers), timeout=10) as answer:
        kernels = json.load(answer)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/{kernel['id']}", headers=headers, method="DELETE")
        urllib.request.urlopen(request, timeout=SHUTDOWN_S * 3).close()


@pytest.mark.parametrize("variant", ["starter", "solved"])
@pytest.mark.parametrize("lesson", list(LATER_LESSONS), ids=lambda name: name[:2])
def test_later_lessons_run_all_without_red_text_and_show_their_checks(page, lab_link, lab_root, tmp_path, lesson,
                                                                        variant):
    """Run All on lessons 8-11 runs every cell, shows no traceback or other red text (but the one-line 500
    of lessons 10-11's starters), and shows each check() verdict: FAIL as shipped, PASS when solved."""
    path = f"{variant}/{lesson}"
    assert (lab_root / path).exists(), f"notebooks/{lesson} is missing"
    try:
        run_notebook_in_lab(page, lab_link, path, badges(LATER_LESSONS[lesson], variant),
                            tmp_path / f"lesson-{lesson[:2]}-{variant}.png", LATER_STDERR.get((lesson, variant), []))
    finally:
        shut_down_kernels(lab_link)


def test_lesson_01_terminal_commands_work_in_a_terminal_from_the_file_menu(page, browser_context, workbook_lab,
                                                                           tmp_path):
    """File → New → Terminal opens in notebooks/ with .venv on PATH, and lesson 1's commands work as written."""
    commands = lesson_terminal_commands()
    assert any(line.startswith("connexion run ") for line in commands), commands
    assert any("workbook.py check" in line for line in commands), commands
    connexion = load_workbook().venv_bin("connexion")
    with screenshot_on_failure(page, tmp_path / "lesson-01-terminal.png"):
        page.goto(workbook_lab, timeout=LAB_READY_S * 1000)
        open_terminal(page)
        type_in_terminal(page, "pwd")
        wait_for_terminal(page, r"(?m)^/\S*/notebooks\s*$", TERMINAL_S)
        type_in_terminal(page, "which connexion")
        wait_for_terminal(page, rf"(?m)^{re.escape(str(connexion))}\s*$", TERMINAL_S)
        for line in commands:
            if line.startswith("connexion run "):
                try_connexion_run(page, browser_context, line)
            else:
                type_in_terminal(page, line)
            if "workbook.py check" in line:
                # The starter files fail most exercises: what matters is that the checker ran and scored them.
                # The checker's last line: the run finished (its `score:` line may have scrolled out of view).
                wait_for_terminal(page, r"(?m)\d+ (failed|passed).* in [\d.]+s", CHECK_S)
        assert page.get_by_text(NEWS_PROMPT).count() == 0, "JupyterLab asked about news; jupyter-config/ should stop it"
        if os.environ.get("WORKBOOK_SCREENSHOT_DIR"):
            page.screenshot(path=str(Path(os.environ["WORKBOOK_SCREENSHOT_DIR"]) / "lesson-01-terminal.png"))
