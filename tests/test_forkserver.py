"""The gradebook's fork server: each learner graded in a forked job, as `python -m checker.reaper -- pytest`
would grade them, with the same limits, the same sweep, and the same grades."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checker import reaper, sandbox
from checker.exercises import all_exercises
from checker.gradebook import PYTEST_OPTIONS
from tests.checker_support import REPO, make_submission

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork servers need fork")


def test_a_forked_job_gets_uids_of_its_own():
    # Root gives each sandbox a fresh uid; two jobs forked from one server must not hand out the same ones.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        sandbox.fresh_uids()
        os.write(write, str(next(sandbox._uids)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    theirs = int(os.read(read, 64))
    ours = next(sandbox._uids)
    assert abs(theirs - ours) >= 64 or (pid - os.getpid()) % 4096 == 0


def in_a_process_of_its_own(code: str) -> subprocess.CompletedProcess:
    """Run `code` with checker.reaper imported, in a fresh interpreter: a supervisor becomes a subreaper and
    sets its signals aside, which must never happen to the test run itself (its later children would inherit)."""
    return subprocess.run([sys.executable, "-c", f"import sys, time\nfrom checker import reaper\n{code}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_run_forked_reports_the_functions_exit_code():
    assert in_a_process_of_its_own("sys.exit(reaper.run_forked(lambda: 3, timeout=30))").returncode == 3


def test_run_forked_stops_an_overrun_and_sweeps_what_it_started(tmp_path):
    marker = tmp_path / "daemon-pid"
    code = f"""
import subprocess
def overrun():
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    open({str(marker)!r}, "w").write(str(daemon.pid))
    time.sleep(60)
    return 0
sys.exit(reaper.run_forked(overrun, timeout=1.0))
"""
    started = time.monotonic()
    done = in_a_process_of_its_own(code)
    assert done.returncode == reaper.TIMED_OUT and time.monotonic() - started < 20, done.stderr
    daemon = int(marker.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(daemon, 0)


def gradebook(submissions: Path, out: Path, forkserver: bool) -> list[dict]:
    env = {**os.environ, "CHECKER_FORKSERVER": "1" if forkserver else "0"}
    subprocess.run([sys.executable, "-m", "checker.gradebook", str(submissions), "--out", str(out), "--jobs", "2",
                    "--no-progress"], cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
    with open(out / "gradebook.csv", newline="") as file:
        return list(csv.DictReader(file))


def differences(forked: list[dict], fresh: list[dict], tmp_path: Path) -> str:
    """Which learner and column differ, with both feedback files: enough to tell a real difference from a
    machine too busy for some limit."""
    lines = []
    for one, other in zip(forked, fresh):
        changed = {key: (one[key], other.get(key)) for key in one if one[key] != other.get(key)}
        if changed:
            lines.append(f"{one['learner']}: forked vs fresh {changed}")
            for way in ("forked", "fresh"):
                lines.append(f"--- {way} feedback:\n" + (tmp_path / way / "feedback" / f"{one['learner']}.txt").read_text()[-3000:])
    return "\n".join(lines)


def test_the_fork_server_grades_as_fresh_processes_do(tmp_path):
    submissions = tmp_path / "class"
    make_submission(submissions / "good")
    make_submission(submissions / "hanging-api", {"oas3/api.py": "import time\ntime.sleep(999)\n"})
    forked = gradebook(submissions, tmp_path / "forked", forkserver=True)
    fresh = gradebook(submissions, tmp_path / "fresh", forkserver=False)
    assert forked == fresh, differences(forked, fresh, tmp_path)
    good, hanging = forked
    assert good["total"] == good["max"] and good["notes"] == "all passed"
    assert int(hanging["total"]) < int(hanging["max"])
    feedback = (tmp_path / "forked" / "feedback" / "good.txt").read_text()
    exercises = all_exercises()
    total = sum(exercise.points for exercise in exercises.values())
    assert f"score: {total}/{total}" in feedback and f"{len(exercises)} passed" in feedback


def test_a_forked_grading_imports_nothing_the_server_could_have_imported(tmp_path):
    # Each job is forked from the preloaded server: an import it makes is paid again for every learner
    # (scipy.stats alone was 1.3 s of CPU a learner, pytest's plugins and the checker's drivers more).
    make_submission(tmp_path / "good")
    code = f"""
import os, sys
from checker import forkserver
forkserver.preload()
before = set(sys.modules)
pid = os.fork()
if pid == 0:
    forkserver.grade(["checker/", *{list(PYTEST_OPTIONS)!r}, "--submission", {str(tmp_path / "good")!r},
                      "--exercise", "headers-impl", "--exercise", "backoff-jitter", "--exercise", "rate-limit"],
                     {str(tmp_path / "log.txt")!r})
    with open({str(tmp_path / "imported.txt")!r}, "w") as file:  # stdout is the log now
        file.write(" ".join(sorted(set(sys.modules) - before)))
    os._exit(0)
os.waitpid(pid, 0)
"""
    ran = in_a_process_of_its_own(code)
    assert ran.returncode == 0, ran.stderr
    assert "score: 9/9" in (tmp_path / "log.txt").read_text()
    imported = set((tmp_path / "imported.txt").read_text().split())
    assert imported <= {"faulthandler", "readline"}, f"imported in every job: {sorted(imported)}"
