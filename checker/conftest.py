"""pytest plugin behind `pytest checker/`: one test item per exercise, learner-readable reports.

    pytest checker/                              grade notebooks/
    pytest checker/ --submission DIR             grade DIR (laid out like notebooks/)
    pytest checker/ --exercise headers-spec      grade only that exercise (repeatable)
    pytest checker/ --grade-json grades.json     also write the scores as JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# Jupyter pulls in rfc3987-syntax, which compiles a grammar for ~0.9 s when
# jsonschema is imported; the checker validates no URI formats with it.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

from checker.exercises import MODULES, all_exercises  # noqa: E402
from checker.grading import grade_one, new_result, prestart  # noqa: E402
from checker.results import ExerciseResult  # noqa: E402
from checker.sandbox import isolation  # noqa: E402
from checker.submission import Submission  # noqa: E402

RESULTS = pytest.StashKey[dict]()
SUBMISSION = pytest.StashKey[Submission]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the checker's options, all in one group."""
    group = parser.getgroup("checker", "resilient-API workbook checker")
    group.addoption("--submission", metavar="DIR", default=None,
                    help="folder to grade, laid out like notebooks/ (default: this repository's notebooks/)")
    group.addoption("--exercise", metavar="ID", action="append", default=[],
                    help="grade only this exercise id; repeat for more (default: all)")
    group.addoption("--grade-json", metavar="FILE", default=None,
                    help="write scores and every check's message to FILE as JSON")
    group.addoption("--checker-deadline", metavar="SECONDS", type=float, default=25.0,
                    help="seconds learner code may run in each checker process, once it has started (default: 25)")


def selected_exercises(config: pytest.Config) -> list:
    exercises = all_exercises()
    wanted = config.getoption("--exercise") or list(exercises)
    return [exercises[i] for i in exercises if i in wanted]


def pytest_configure(config: pytest.Config) -> None:
    """Refuse unknown exercise ids and missing folders with a sentence, before any grading."""
    exercises = all_exercises()
    unknown = [i for i in config.getoption("--exercise") if i not in exercises]
    if unknown:
        raise pytest.UsageError(f"--exercise: unknown id {', '.join(unknown)}; known ids: {', '.join(exercises)}")
    given = config.getoption("--submission")
    folder = Path(given) if given else Path(__file__).resolve().parent.parent / "notebooks"
    if not folder.is_dir():
        raise pytest.UsageError(f"--submission: {folder} is not a folder (give one laid out like notebooks/)")
    config.stash[RESULTS] = {}
    config.stash[SUBMISSION] = Submission(folder, deadline=config.getoption("--checker-deadline"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """Collect one item per exercise module in checker/exercises/."""
    if file_path.parent == Path(__file__).parent / "exercises" and file_path.stem in MODULES:
        return ExerciseModule.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Keep lesson order, whatever order the files were found in."""
    items.sort(key=lambda item: MODULES.index(item.path.stem) if isinstance(item, ExerciseItem) else -1)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start learner code in the background now, so it runs while YAML is checked."""
    chosen = [item.exercise for item in session.items if isinstance(item, ExerciseItem)]
    prestart(chosen, session.config.stash[SUBMISSION])


class ExerciseModule(pytest.File):
    def collect(self):
        wanted = {exercise.id for exercise in selected_exercises(self.config)}
        exercise = next(e for e in all_exercises().values() if e.grade.__module__.endswith(self.path.stem))
        if exercise.id in wanted:
            yield ExerciseItem.from_parent(self, name=exercise.id, exercise=exercise)


class ExerciseFailed(Exception):
    """Carries the result of a failed exercise to `repr_failure`."""

    def __init__(self, result: ExerciseResult):
        super().__init__(result.headline)
        self.result = result


class ExerciseItem(pytest.Item):
    def __init__(self, *, exercise, **kwargs):
        super().__init__(**kwargs)
        self.exercise = exercise

    def runtest(self) -> None:
        result = grade_one(self.exercise, self.config.stash[SUBMISSION])
        self.config.stash[RESULTS][self.exercise.id] = result
        if not result.passed:
            raise ExerciseFailed(result)

    def repr_failure(self, excinfo, style=None) -> str:
        """Show what was checked and what to fix, never the checker's own traceback."""
        if isinstance(excinfo.value, ExerciseFailed):
            return str(excinfo.value.result)
        return f"{self.exercise.id}: the checker could not finish: {excinfo.value!r}"

    def reportinfo(self):
        return self.path, None, f"exercise {self.exercise.id}"


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """List every check, passed or failed, so learners see their progress."""
    results: dict[str, ExerciseResult] = config.stash.get(RESULTS, {})
    if not results:
        return
    terminalreporter.section("workbook checks")
    for result in results.values():
        terminalreporter.write_line(f"{'PASS' if result.passed else 'FAIL'} {result.headline}")
        for check in result.checks:
            info = f" — {check.message}" if check.passed and check.message else ""
            terminalreporter.write_line(f"    {'✓' if check.passed else '✗'} {check.name}{info}")
    score = sum(r.score for r in results.values())
    total = sum(r.points for r in results.values())
    terminalreporter.write_line(f"score: {score}/{total}")
    terminalreporter.write_line(f"learner code ran in: {isolation().detail}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Collect the workers and write --grade-json with every selected exercise present."""
    config = session.config
    if SUBMISSION not in config.stash:
        return
    target = config.getoption("--grade-json")
    if not target:
        return
    results = config.stash[RESULTS]
    exercises = {}
    for exercise in selected_exercises(config):
        result = results.get(exercise.id)
        if result is None:
            result = new_result(exercise)
            result.add("graded", False, "this exercise was not graded (the run was interrupted or deselected)")
        exercises[exercise.id] = result.as_dict()
    submission = config.stash[SUBMISSION]
    grades = {
        "score": sum(e["score"] for e in exercises.values()),
        "max_score": sum(e["max_score"] for e in exercises.values()),
        "exercises": exercises,
        "isolation": {"level": isolation().level, "detail": isolation().detail},
        "refused_files": submission.refusals(),
    }
    from checker.gradebook import write_atomic  # the gradebook reads this file while others are written

    write_atomic(Path(target), json.dumps(grades, indent=2, ensure_ascii=False) + "\n")


def pytest_unconfigure(config: pytest.Config) -> None:
    """End every sandbox and drop the private copy of the submission, however the run ended."""
    if SUBMISSION in config.stash:
        config.stash[SUBMISSION].close()
