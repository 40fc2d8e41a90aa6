"""Tests for checker/gradebook.py: a class of mixed submissions, re-runs, interruptions, time limits.

The class is graded once per module (`graded_class`) by the real command, in a
subprocess, with a short --checker-deadline; the other tests reuse its output or
grade tiny classes of empty folders, which the checker answers fastest.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checker import gradebook
from checker.exercises import all_exercises

ROOT = Path(__file__).resolve().parents[1]
SLOW_MACHINE_TIMEOUT = "120"  #: per-learner limit in these tests: far above what a healthy run needs

#: learner code that detaches two processes (fork + setsid, spawn in a new session), notes their pids, then exits hard
MALICIOUS_API = """\
import os, subprocess, sys
child = os.fork()
if child == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", {marker!r}])
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}], start_new_session=True)
os._exit(0)
"""

EXPECTED_STATUS = {
    "good": gradebook.GRADED,
    "partly-good": gradebook.GRADED,
    "broken-yaml": gradebook.GRADED,
    "hanging": gradebook.GRADED,
    "malicious": gradebook.GRADED,
    "empty": gradebook.EMPTY,
    "stray.zip": gradebook.NOT_A_FOLDER,
}


def copy_oas3(source: Path, target: Path) -> Path:
    shutil.copytree(source / "oas3", target / "oas3", ignore=shutil.ignore_patterns("__pycache__", "pids.txt"))
    return target


def grade(submissions: Path, out: Path, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the gradebook command as a teacher would."""
    command = [sys.executable, "-m", "checker.gradebook", str(submissions), "--out", str(out), "--no-progress", *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def start_grading(submissions: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "checker.gradebook", str(submissions), "--out", str(out), "--no-progress", *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / gradebook.CSV_NAME, newline="", encoding="utf-8") as file:
        return {row["learner"]: row for row in csv.DictReader(file)}


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace") and alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_for(condition, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def make_class(root: Path, pids: Path) -> Path:
    """A class of one good, one partly good and several broken or hostile submissions, in a folder whose name has
    a space and a non-ASCII letter, as a teacher's download may (the grades must not move for it)."""
    classroom = root / "Klasse für 2026"
    copy_oas3(ROOT / "solutions", classroom / "good")
    copy_oas3(ROOT / "notebooks", classroom / "partly-good" / "notebooks")  # a clone of the whole repository
    (classroom / "partly-good" / "README.md").write_text("a learner's clone of the workbook\n")
    broken = copy_oas3(ROOT / "solutions", classroom / "broken-yaml")
    (broken / "oas3" / "ex-04-01-headers.yaml").write_text("openapi: 3.0.3\npaths: {/status: [unclosed\n")
    hanging = copy_oas3(ROOT / "solutions", classroom / "hanging")
    (hanging / "oas3" / "api.py").write_text("import time\ntime.sleep(999)\n")
    malicious = copy_oas3(ROOT / "solutions", classroom / "malicious")
    (malicious / "oas3" / "api.py").write_text(MALICIOUS_API.format(marker=pids.name))
    (classroom / "empty").mkdir()
    (classroom / "stray.zip").write_bytes(b"PK\x03\x04 not a folder")
    (classroom / ".DS_Store").write_bytes(b"\0")
    return classroom


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The mixed class, graded once: (submissions, out, finished process, pids file, seconds)."""
    root = tmp_path_factory.mktemp("class")
    pids = root / "malicious-pids.txt"
    classroom = make_class(root, pids)
    started = time.monotonic()
    finished = grade(classroom, root / "grades", "--jobs", "2", "--timeout", SLOW_MACHINE_TIMEOUT,
                     "--checker-deadline", "5")
    return classroom, root / "grades", finished, pids, time.monotonic() - started


@pytest.mark.parametrize(("learner", "status"), EXPECTED_STATUS.items())
def test_every_learner_has_a_row_with_its_status(graded_class, learner, status):
    _, out, finished, _, _ = graded_class
    assert finished.returncode == 0, finished.stderr
    assert rows(out)[learner]["status"] == status


def test_hidden_files_are_not_learners(graded_class):
    assert set(rows(graded_class[1])) == set(EXPECTED_STATUS)


def test_columns_are_the_checkers_exercises_then_totals(graded_class):
    with open(graded_class[1] / gradebook.CSV_NAME, newline="", encoding="utf-8") as file:
        header = next(csv.reader(file))
    assert header == ["learner", *all_exercises(), "total", "max", "status", "notes"]


def test_points_match_each_learners_result_file(graded_class):
    out = graded_class[1]
    maximum = sum(exercise.points for exercise in all_exercises().values())
    for learner, row in rows(out).items():
        result = json.loads((out / "results" / f"{learner}.json").read_text())
        assert result["gradebook"]["status"] == row["status"]
        for exercise_id in all_exercises():
            assert int(row[exercise_id]) == result["exercises"].get(exercise_id, {}).get("score", 0), (learner, exercise_id)
        assert int(row["total"]) == result["score"] == sum(int(row[i]) for i in all_exercises())
        assert int(row["max"]) == maximum


def test_good_work_scores_more_than_the_starters(graded_class):
    table = rows(graded_class[1])
    assert int(table["good"]["headers-spec"]) == all_exercises()["headers-spec"].points
    assert int(table["good"]["status-endpoint"]) == all_exercises()["status-endpoint"].points  # its code ran too
    assert int(table["good"]["total"]) > int(table["partly-good"]["total"])


def test_broken_and_hostile_work_loses_exactly_what_it_broke(graded_class):
    table = rows(graded_class[1])
    assert table["broken-yaml"]["headers-spec"] == "0" and "headers-spec" in table["broken-yaml"]["notes"]
    assert table["hanging"]["status-endpoint"] == "0" and "status-endpoint" in table["hanging"]["notes"]
    assert table["malicious"]["status-endpoint"] == "0"
    assert table["hanging"]["headers-spec"] == table["malicious"]["headers-spec"] == table["good"]["headers-spec"]


def test_feedback_is_the_checker_output_the_learner_sees(graded_class):
    out = graded_class[1]
    table = rows(out)
    for learner in ("good", "partly-good", "broken-yaml", "hanging", "empty"):
        feedback = (out / "feedback" / f"{learner}.txt").read_text()
        assert "workbook checks" in feedback
        assert f"score: {table[learner]['total']}/{table[learner]['max']}" in feedback
    assert "loads as YAML" in (out / "feedback" / "broken-yaml.txt").read_text()
    stray = (out / "feedback" / "stray.zip.txt").read_text()
    assert stray == gradebook.FEEDBACK_NOT_A_FOLDER.format(name="stray.zip") + "\n"


def test_a_repository_clone_is_graded_at_its_notebooks_folder(graded_class):
    notes = rows(graded_class[1])["partly-good"]["notes"]
    assert "graded notebooks/ of a repository clone" in notes


def test_processes_a_submission_detached_do_not_outlive_its_grading(graded_class):
    assert not processes_mentioning(graded_class[3].name)  # the marker both detached processes carry
    assert not processes_mentioning(str(graded_class[0]))


def test_no_temporary_files_are_left(graded_class):
    out = graded_class[1]
    assert not list(out.rglob("*.tmp"))
    assert not list((out / ".work").iterdir())


def test_summary_names_what_needs_a_look(graded_class):
    summary = graded_class[2].stdout.strip().splitlines()[-1]
    assert summary.startswith(f"5 of {len(EXPECTED_STATUS)} learners graded in ")
    assert "(1 empty, 1 not a folder)" in summary


def test_skip_graded_regrades_only_changed_work_and_checker_errors(graded_class, tmp_path):
    classroom, out = tmp_path / "submissions", tmp_path / "grades"
    shutil.copytree(graded_class[0], classroom)
    shutil.copytree(graded_class[1], out)
    before = {path.name: path.stat().st_mtime_ns for path in (out / "results").iterdir()}
    fixed = classroom / "broken-yaml" / "oas3" / "ex-04-01-headers.yaml"
    fixed.write_text((ROOT / "solutions" / "oas3" / "ex-04-01-headers.yaml").read_text())
    errored = json.loads((out / "results" / "empty.json").read_text())
    errored["gradebook"]["status"] = gradebook.CHECKER_ERROR
    (out / "results" / "empty.json").write_text(json.dumps(errored))
    before["empty.json"] = (out / "results" / "empty.json").stat().st_mtime_ns

    finished = grade(classroom, out, "--skip-graded", "--jobs", "2", "--timeout", SLOW_MACHINE_TIMEOUT,
                     "--checker-deadline", "5")

    assert finished.returncode == 0, finished.stderr
    if json.loads((out / "results" / "good.json").read_text())["gradebook"]["grader"] != errored["gradebook"]["grader"]:
        pytest.skip("the checker's files changed while this test ran, so every learner was rightly graded again")
    after = {path.name: path.stat().st_mtime_ns for path in (out / "results").iterdir()}
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"broken-yaml.json", "empty.json"}
    table = rows(out)
    assert table["broken-yaml"]["headers-spec"] == table["good"]["headers-spec"]
    assert table["empty"]["status"] == gradebook.EMPTY
    assert {learner: row["status"] for learner, row in table.items()} == EXPECTED_STATUS


def test_timeout_marks_the_learner_and_keeps_the_batch_going(tmp_path):
    classroom = tmp_path / "submissions"
    copy_oas3(ROOT / "solutions", classroom / "slow")
    (classroom / "stray.txt").write_text("x")

    finished = grade(classroom, tmp_path / "grades", "--timeout", "1", "--checker-deadline", "0.5")

    assert finished.returncode == 0, finished.stderr
    table = rows(tmp_path / "grades")
    assert table["slow"]["status"] == gradebook.TIMEOUT and table["slow"]["total"] == "0"
    assert table["slow"]["notes"] == "the checker was stopped after 1 s"
    assert table["stray.txt"]["status"] == gradebook.NOT_A_FOLDER
    feedback = (tmp_path / "grades" / "feedback" / "slow.txt").read_text()
    assert feedback.rstrip().endswith(gradebook.FEEDBACK_TIMEOUT.format(seconds=1))
    assert not processes_mentioning(str(classroom))


def test_interrupted_and_killed_runs_finish_with_skip_graded(tmp_path):
    # The gradebook starts with SIGINT ignored, as a script's background job does (`.ci/run &`): it must still
    # stop on Ctrl+C (this failed before the gradebook set its own SIGINT handler).
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _interrupted_and_killed(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted_and_killed(tmp_path):
    classroom, out = tmp_path / "submissions", tmp_path / "grades"
    # Enough learners that many are still waiting when the signal comes: forked from the fork server,
    # an empty folder is graded in a tenth of a second or so.
    names = ("ada", "bea", "cyd", *(f"learner-{number:02d}" for number in range(60)))
    for learner in names:
        (classroom / learner).mkdir(parents=True)
    results = out / "results"
    common = ("--jobs", "1", "--timeout", SLOW_MACHINE_TIMEOUT)

    # Ctrl+C after the first learner: every learner keeps a row, the ungraded ones say so.
    run = start_grading(classroom, out, *common)
    wait_for(lambda: results.is_dir() and any(results.iterdir()))
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert "run the same command with --skip-graded" in stderr
    table = rows(out)
    assert set(table) == set(names) and table["ada"]["status"] == gradebook.EMPTY
    assert gradebook.NOT_GRADED in {row["status"] for row in table.values()}
    first = {path.name: path.stat().st_mtime_ns for path in results.iterdir()}

    # kill -9 during the next learner: its checker is swept up, nothing is half written.
    (out / f".{gradebook.CSV_NAME}.999.tmp").write_text("learner,half a row")
    run = start_grading(classroom, out, "--skip-graded", *common)
    wait_for(lambda: len(list(results.iterdir())) > len(first))
    run.kill()
    run.communicate(timeout=60)
    wait_for(lambda: not processes_mentioning(str(classroom)), seconds=30)
    (results / "cyd.json").write_text('{"score": 0, "exercises": {')  # as if a disk filled up mid-write

    finished = grade(classroom, out, "--skip-graded", *common)

    assert finished.returncode == 0, finished.stderr
    assert {row["status"] for row in rows(out).values()} == {gradebook.EMPTY}
    for name, stamp in first.items():
        assert (results / name).stat().st_mtime_ns == stamp, f"{name} was graded again"
    assert not list(out.rglob("*.tmp"))


# -- pieces, without running the checker ----------------------------------------------------


def test_cells_a_spreadsheet_would_run_are_quoted():
    learner = gradebook.Learner("=HYPERLINK(\"x\")", Path("unused"))
    learner.result = {"exercises": {}, "gradebook": {"status": gradebook.CHECKER_ERROR, "notes": "-1 is odd"}}
    table = list(csv.reader(gradebook.gradebook_csv([learner], {"headers-spec": 2}).splitlines()))
    assert table[1][0] == "'=HYPERLINK(\"x\")" and table[1][-1] == "'-1 is odd"


def test_columns_grow_with_exercises_found_only_in_results():
    learner = gradebook.Learner("ada", Path("unused"))
    learner.result = {"exercises": {"new-one": {"score": 3, "max_score": 3}},
                      "gradebook": {"status": gradebook.GRADED, "notes": "all passed"}}
    table = list(csv.reader(gradebook.gradebook_csv([learner], {"headers-spec": 2}).splitlines()))
    assert table == [["learner", "headers-spec", "new-one", "total", "max", "status", "notes"],
                     ["ada", "0", "3", "3", "5", "graded", "all passed"]]


def test_graded_root_accepts_a_notebooks_folder_or_a_repository_clone(tmp_path):
    (tmp_path / "own" / "oas3").mkdir(parents=True)
    (tmp_path / "clone" / "notebooks" / "oas3").mkdir(parents=True)
    (tmp_path / "neither").mkdir()
    assert gradebook.graded_root(tmp_path / "own") == tmp_path / "own"
    assert gradebook.graded_root(tmp_path / "clone") == tmp_path / "clone" / "notebooks"
    assert gradebook.graded_root(tmp_path / "neither") == tmp_path / "neither"


def test_fingerprint_changes_with_content_but_not_with_caches(tmp_path):
    copy_oas3(ROOT / "solutions", tmp_path)
    first = gradebook.fingerprint_folder(tmp_path)
    (tmp_path / "oas3" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "oas3" / "__pycache__" / "api.cpython-311.pyc").write_bytes(b"cache")
    assert gradebook.fingerprint_folder(tmp_path) == first
    (tmp_path / "oas3" / "api.py").write_text("# edited\n")
    assert gradebook.fingerprint_folder(tmp_path) != first


def test_fingerprint_never_follows_links_or_reads_devices(tmp_path):
    copy_oas3(ROOT / "solutions", tmp_path)
    first = gradebook.fingerprint_folder(tmp_path)
    (tmp_path / "oas3" / "everything").symlink_to("/")
    (tmp_path / "oas3" / "zeros").symlink_to("/dev/zero")
    second = gradebook.fingerprint_folder(tmp_path)
    assert second != first
    (tmp_path / "oas3" / "everything").unlink()
    (tmp_path / "oas3" / "everything").symlink_to("/usr")
    assert gradebook.fingerprint_folder(tmp_path) != second


def test_two_gradebooks_never_share_an_out_folder(tmp_path):
    with gradebook.lock_out_folder(tmp_path / "grades"):
        with pytest.raises(gradebook.Busy, match="another gradebook is writing to"):
            gradebook.lock_out_folder(tmp_path / "grades")
    gradebook.lock_out_folder(tmp_path / "grades").close()


def test_write_atomic_leaves_only_the_finished_file(tmp_path):
    gradebook.write_atomic(tmp_path / "a" / "grades.csv", "learner\n")
    assert [path.name for path in (tmp_path / "a").iterdir()] == ["grades.csv"]


@pytest.mark.parametrize(("args", "message"), [
    (["{subs}/nowhere"], "SUBMISSIONS: {subs}/nowhere is not a folder (give the folder holding one folder per learner)"),
    (["{subs}", "--out", "{subs}/grades"], "--out: {subs}/grades is inside SUBMISSIONS, where it would be graded as a learner"),
    (["{subs}", "--exercise", "no-such-thing"], "--exercise: unknown id no-such-thing; known ids: "),
    (["{subs}", "--timeout", "5", "--checker-deadline", "5"], "--timeout (5 s) must be longer than --checker-deadline (5 s)"),
    (["{subs}", "--jobs", "0"], "--jobs: must be a positive number, not 0"),
])
def test_bad_options_are_refused_with_a_sentence(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        gradebook.main([arg.format(subs=tmp_path) for arg in args])
    assert exit_info.value.code == 2
    assert message.format(subs=tmp_path) in capsys.readouterr().err
