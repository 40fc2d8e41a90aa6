"""The lesson notebooks: committed clean, shaped alike, and runnable top to bottom without an error.

Each notebook runs twice in a kernel, in a temporary copy of notebooks/: once as a learner first
gets it (starter files), once with solutions/ copied over it. Checks may fail in the starter run;
a cell may not raise in either.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NAMES = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
EXERCISES = {
    "02-The-Status-Endpoint.ipynb": ["status-endpoint"],
    "03-Service-Unavailable.ipynb": ["headers-spec", "headers-impl"],
    "04-Reusable-Responses.ipynb": ["reusable-responses"],
    "05-Problem-Details.ipynb": ["problem-schema", "validation-errors"],
    "06-Rate-Limits.ipynb": ["rate-limit"],
    "07-Client-Retries.ipynb": ["retry-after-client", "backoff-jitter", "client-timeouts", "circuit-breaker"],
    "08-Long-Running-Jobs.ipynb": ["jobs-spec", "jobs-impl"],
    "09-Idempotency-Keys.ipynb": ["idempotency-key", "jobs-client"],
    "10-Services-Calling-Services.ipynb": ["error-formatter", "correlation-id"],
    "11-Parallel-Calls-With-Deadlines.ipynb": ["fan-out-deadline"],
}
CELL_TIMEOUT = 180  # seconds per cell; `connexion run` on a busy 2-core CI box needs the headroom
IGNORE = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def markdown_links(cell) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", cell.source)


# --- committed shape (no kernel needed) ------------------------------------------------------


def test_lessons_are_numbered_without_gaps_and_start_with_the_first_four():
    assert [name[:2] for name in NAMES] == [f"{n:02d}" for n in range(1, len(NAMES) + 1)]
    assert NAMES[:4] == [
        "01-Start-Here.ipynb",
        "02-The-Status-Endpoint.ipynb",
        "03-Service-Unavailable.ipynb",
        "04-Reusable-Responses.ipynb",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name):
    notebook = read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"strip the outputs of: {cell.source[:60]}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_with_its_title_then_its_prerequisite_and_ends_with_next(name):
    cells = read(name).cells
    assert cells[0].cell_type == "markdown" and re.fullmatch(r"# [^\n]+", cells[0].source)
    position = NAMES.index(name)
    if position > 0:
        assert NAMES[position - 1] in markdown_links(cells[1])
    assert cells[-1].source.startswith("**Next:**")
    if position + 1 < len(NAMES):
        assert NAMES[position + 1] in markdown_links(cells[-1])


@pytest.mark.parametrize("name", NAMES)
def test_every_relative_link_leads_to_a_file(name):
    for cell in read(name).cells:
        if cell.cell_type == "markdown":
            for link in markdown_links(cell):
                if not re.match(r"[a-z]+:", link):
                    assert (NOTEBOOKS / link.split("#")[0]).exists(), f"{name} links to missing {link}"


@pytest.mark.parametrize("name", NAMES)
def test_no_relative_link_leads_to_a_folder(name):
    """JupyterLab opens every link as a file: a folder gives "File Load Error ... is a directory"."""
    for cell in read(name).cells:
        if cell.cell_type == "markdown":
            for link in markdown_links(cell):
                target = link.split("#")[0]
                if target and not re.match(r"[a-z]+:", link):
                    assert not (NOTEBOOKS / target).is_dir(), (
                        f"{name} links to the folder {link}: link a file in it, or name the folder"
                        " as the file browser on the left shows it"
                    )


@pytest.mark.parametrize("name", NAMES)
def test_code_cells_are_short(name):
    for cell in read(name).cells:
        if cell.cell_type == "code":
            assert len([line for line in cell.source.splitlines() if line.strip()]) <= 5, cell.source


@pytest.mark.parametrize("name", NAMES)
def test_setup_cell_imports_check_before_any_check(name):
    sources = [cell.source for cell in read(name).cells if cell.cell_type == "code"]
    assert "from checker import check" in sources[0]


@pytest.mark.parametrize("name", NAMES)
def test_each_exercise_is_a_heading_then_a_check_cell_with_the_same_id(name):
    cells = read(name).cells
    headings = [(i, c) for i, c in enumerate(cells) if c.cell_type == "markdown" and "### Exercise" in c.source]
    found = [re.search(r"^### Exercise `([a-z0-9-]+)`$", c.source, re.M).group(1) for _, c in headings]
    if name in EXERCISES:
        assert found == EXERCISES[name]
    for (start, _), exercise in zip(headings, found):
        following = [c.source for c in cells[start + 1 :] if c.cell_type == "code"]
        later_checks = [s for s in following if s.startswith("check(")]
        assert later_checks[0] == f'check("{exercise}")'


# --- executed -------------------------------------------------------------------------------


def execute(folder: Path, name: str) -> nbformat.NotebookNode:
    """Run one notebook in `folder` as JupyterLab would (cwd = the notebook's folder)."""
    notebook = nbformat.read(folder / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, startup_timeout=120, kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on the first error
    return notebook


def text_of(notebook: nbformat.NotebookNode, source_start: str) -> str:
    """The plain-text output of the code cell whose source starts with `source_start`."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith(source_start):
            return "\n".join(
                output.get("data", {}).get("text/plain", "") or output.get("text", "") for output in cell.outputs
            )
    raise AssertionError(f"no code cell starts with {source_start!r}")


@pytest.fixture(scope="module")
def starter_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("starter") / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=IGNORE)
    return folder


@pytest.fixture(scope="module")
def solution_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("solution") / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=IGNORE)
    shutil.copytree(REPO / "solutions", folder, ignore=IGNORE, dirs_exist_ok=True)
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_starter_notebook_runs_without_errors(starter_folder, name):
    notebook = execute(starter_folder, name)
    if name.startswith("03"):
        assert text_of(notebook, "server = labtools.serve").startswith("No 503 response came back")
        assert text_of(notebook, "labtools.plot_share") == "503 share after 2000 requests: 0.0% (expected 20%)"
    if name.startswith("04"):
        assert text_of(notebook, "after =").startswith("Semantically equivalent")
        assert text_of(notebook, "served =").startswith("Semantically equivalent")


@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_runs_without_errors(solution_folder, name):
    notebook = execute(solution_folder, name)
    if name.startswith("01"):
        assert "<title>Swagger UI</title>" in text_of(notebook, 'labtools.show(run.get("/ui/"))')
        assert text_of(notebook, "run.stop()") == "0"
    if name.startswith("03"):
        refused = text_of(notebook, "server = labtools.serve")
        assert refused.startswith("HTTP/1.1 503 Service Unavailable\n")
        assert re.search(r"^retry-after: \d+$", refused, re.M) and "\ncache-control: no-store\n" in refused
        assert "\ncache-control: no-store\n" in text_of(notebook, "labtools.show(server.first(200)")
        share = text_of(notebook, "labtools.plot_share")
        assert re.fullmatch(r"503 share after 2000 requests: (1[7-9]|2[0-2])\.\d% \(expected 20%\)", share)
    if name.startswith("04"):
        assert text_of(notebook, "labtools.as_yaml(labtools.operation_responses(labtools.load(spec_path)).get").startswith(
            "$ref: '#/components/responses/503ServiceUnavailable'"
        )
        assert text_of(notebook, "after =").startswith("Semantically equivalent")
        assert text_of(notebook, "served =").startswith("Semantically equivalent")
        assert re.search(r"^retry-after: \d+$", text_of(notebook, "labtools.show(run.first(503)"), re.M)
        assert text_of(notebook, "run.stop()") == "0"
    if name.startswith("08"):
        accepted = text_of(notebook, "accepted = ")
        assert accepted.startswith("HTTP/1.1 202 Accepted\n") and re.search(r"^location: /jobs/\w+$", accepted, re.M)
        assert text_of(notebook, "clock.now += 15").startswith("HTTP/1.1 303 See Other\n")
        assert '"retryable": false' in text_of(notebook, "failing = ")
        assert text_of(notebook, "clock.now += 600").startswith("HTTP/1.1 410 Gone\n")
    if name.startswith("09"):
        replayed = re.fullmatch(r"\(202,\s+'(/jobs/\w+)',\s+202,\s+'(/jobs/\w+)'\)", text_of(notebook, "first = "))  # may wrap
        assert replayed and replayed[1] == replayed[2]
        assert text_of(notebook, "other = ").startswith("HTTP/1.1 422 ")
        assert text_of(notebook, "labtools.show(thumbnails.post(").startswith("HTTP/1.1 400 Bad Request\n")
        assert text_of(notebook, "done = ").startswith("(HTTP/1.1 200 OK\n")
