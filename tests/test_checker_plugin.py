"""The `pytest checker/` contract, run as learners and instructors run it: in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from checker_support import API, REPO, STARTERS, make_submission

from checker import check
from checker.exercises import all_exercises
from checker.results import ExerciseResult


def run_checker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "checker/", "-p", "no:cacheprovider", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


def test_solutions_pass_everything_and_the_json_has_every_exercise(tmp_path):
    grades = tmp_path / "grades.json"
    done = run_checker("--submission", "solutions", "--grade-json", str(grades))
    assert done.returncode == 0, done.stdout[-3000:]
    data = json.loads(grades.read_text())
    assert set(data["exercises"]) == set(all_exercises())
    assert data["score"] == data["max_score"] == sum(e.points for e in all_exercises().values())
    for exercise in data["exercises"].values():
        assert exercise["passed"] and exercise["score"] == exercise["max_score"]
        assert all(set(c) == {"name", "passed", "message"} and c["passed"] for c in exercise["checks"])


def test_starters_fail_with_readable_messages_and_list_passing_checks(tmp_path):
    grades = tmp_path / "grades.json"
    done = run_checker("--submission", str(STARTERS), "--exercise", "headers-spec", "--exercise", "status-endpoint",
                       "--grade-json", str(grades))
    assert done.returncode == 1
    data = json.loads(grades.read_text())
    assert list(data["exercises"]) == ["status-endpoint", "headers-spec"]  # only those asked for, in lesson order
    assert data["exercises"]["status-endpoint"]["passed"] and not data["exercises"]["headers-spec"]["passed"]
    assert "✓ oas3/ex-04-01-headers.yaml loads as YAML" in done.stdout
    assert "✗ GET /status declares a 503 response" in done.stdout
    assert "oas3/ex-04-01-headers.yaml:" in done.stdout and "See 03-Service-Unavailable.ipynb" in done.stdout
    assert "Traceback" not in done.stdout and "checker/conftest.py" not in done.stdout


def test_default_submission_is_notebooks_wherever_pytest_starts():
    done = run_checker("--exercise", "headers-spec")
    assert done.returncode == 1 and "GET /status lists responses" in done.stdout
    from_notebooks = subprocess.run([sys.executable, "-m", "pytest", "../checker/", "-p", "no:cacheprovider",
                                     "--exercise", "headers-spec"], cwd=STARTERS, capture_output=True, text=True,
                                    timeout=120)
    assert from_notebooks.returncode == 1 and "GET /status lists responses" in from_notebooks.stdout


@pytest.mark.parametrize("args, sentence", [
    (["--exercise", "no-such-exercise"], "--exercise: unknown id no-such-exercise; known ids: status-endpoint"),
    (["--submission", "does/not/exist"], "--submission: does/not/exist is not a folder"),
])
def test_operator_mistakes_are_usage_errors_with_a_sentence(args, sentence):
    done = run_checker(*args)
    assert done.returncode == 4
    assert sentence in done.stderr


def test_an_empty_submission_fails_every_exercise_clearly(tmp_path):
    grades = tmp_path / "grades.json"
    done = run_checker("--submission", str(tmp_path), "--grade-json", str(grades))
    assert done.returncode == 1
    data = json.loads(grades.read_text())
    for exercise in data["exercises"].values():
        assert not exercise["passed"] and "laid out like notebooks/" in exercise["checks"][0]["message"]


def test_a_hanging_api_costs_under_30_seconds_and_hides_no_yaml_verdict(tmp_path):
    folder = make_submission(tmp_path / "s", {API: "import time\ntime.sleep(3600)\n\n\ndef get_status():\n    pass\n"})
    grades = tmp_path / "grades.json"
    started = time.monotonic()
    done = run_checker("--submission", str(folder), "--grade-json", str(grades))
    assert time.monotonic() - started < 30
    data = json.loads(grades.read_text())
    assert done.returncode == 1
    assert data["exercises"]["headers-spec"]["passed"] and data["exercises"]["reusable-responses"]["passed"]
    assert not data["exercises"]["headers-impl"]["passed"]


def test_check_in_a_notebook_returns_a_renderable_result(monkeypatch):
    monkeypatch.chdir(STARTERS)  # a notebook's working directory
    result = check("headers-spec")
    assert isinstance(result, ExerciseResult) and not result.passed
    html = result._repr_html_()
    assert ">FAIL</span>" in html and ">PASS</span>" in html and "GET /status declares a 503 response" in html
    assert repr(result).startswith("headers-spec: 1 of")


def test_check_of_a_solution_passes():
    assert check("reusable-responses", submission=REPO / "solutions").passed


def test_check_names_known_exercises_on_a_typo():
    with pytest.raises(ValueError, match="Known exercises: status-endpoint"):
        check("header-spec")


KILLER_CLIENT = ("import os, signal\nfor pid in os.listdir('/proc'):\n    if pid.isdigit() and int(pid) != os.getpid():\n"
                 "        try:\n            os.kill(int(pid), signal.SIGKILL)\n        except OSError:\n            pass\n")


def test_check_keeps_one_sandbox_and_grades_the_files_as_they_are_now(tmp_path):
    """A kernel's check() calls share a warm sandbox, yet each grades the learner's files as saved at that
    moment, and one whose code kills the sandbox leaves the next check a fresh one."""
    from checker import kept_sandbox

    folder = make_submission(tmp_path / "learner", {API: [("return problem(", "return 1 / 0  # problem(")]})
    assert not check("status-endpoint", submission=folder).passed
    zygote = kept_sandbox()._zygote
    (folder / API).write_text((REPO / "solutions" / API).read_text())
    assert check("status-endpoint", submission=folder).passed
    assert kept_sandbox()._zygote is zygote and zygote.alive()
    (folder / "oas3" / "client.py").write_text(KILLER_CLIENT)
    check("retry-after-client", submission=folder)
    (folder / "oas3" / "client.py").write_text((REPO / "solutions" / "oas3" / "client.py").read_text())
    assert check("retry-after-client", submission=folder).passed
    assert check("status-endpoint", submission=REPO / "solutions").passed
    if zygote.cgroup is not None:  # the ended tasks' cgroups are gone, not collected for the kernel's life
        assert not [task for path in kept_sandbox()._zygote.cgroup.per_task for task in path.glob("task-*")]
