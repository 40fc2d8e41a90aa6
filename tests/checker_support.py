"""Build submissions for checker tests: a copy of solutions/ with a few edits."""

from __future__ import annotations

import re
import shutil
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from checker.exercises import all_exercises
from checker.grading import grade_one, prestart
from checker.results import ExerciseResult
from checker.submission import Submission

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
STARTERS = REPO / "notebooks"
SPEC = "oas3/ex-04-01-headers.yaml"
API = "oas3/api.py"


def apply_edit(path: Path, edit) -> None:
    """Edit a file: None deletes it, a string replaces it, (old, new) or a list of them replace
    the first match (old may be a compiled regex). A replacement that matches nothing is a test bug."""
    if edit is None:
        path.unlink()
        return
    if isinstance(edit, str):
        path.write_text(textwrap.dedent(edit))
        return
    for old, new in edit if isinstance(edit, list) else [edit]:
        text = path.read_text()
        if isinstance(old, re.Pattern):
            assert old.search(text), f"test edit does not apply: {old.pattern} in {path.name}"
            path.write_text(old.sub(new, text, count=1))
        else:
            assert old in text, f"test edit does not apply: {old!r} not in {path.name}"
            path.write_text(text.replace(old, new, 1))


def make_submission(folder: Path, edits: dict | None = None, base: Path = SOLUTIONS) -> Path:
    """Copy `base`'s oas3/ into `folder`, then apply `edits`: {file: edit} (see `apply_edit`)."""
    shutil.copytree(base / "oas3", folder / "oas3", ignore=shutil.ignore_patterns("__pycache__"))
    for name, edit in (edits or {}).items():
        apply_edit(folder / name, edit)
    return folder


def grade(folder: Path, *exercise_ids: str, deadline: float = 25.0) -> dict[str, ExerciseResult]:
    """Grade exercises of `folder` exactly as the plugin does (workers included)."""
    known = all_exercises()
    chosen = [known[i] for i in exercise_ids]
    submission = Submission(folder, deadline=deadline)
    prestart(chosen, submission)
    try:
        return {exercise.id: grade_one(exercise, submission) for exercise in chosen}
    finally:
        submission.close()


def grade_many(folders: dict[str, Path], exercise_id: str, workers: int = 3) -> dict[str, ExerciseResult]:
    """Grade one exercise of many folders, a few at a time (each grading runs its own worker processes)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda case: grade(folders[case], exercise_id)[exercise_id], folders)
        return dict(zip(folders, results))


def grade_cases(tmp_path_factory, cases: dict[str, tuple], exercise_id: str, workers: int = 3) -> dict[str, ExerciseResult]:
    """Grade a table {case: (edits, ...)} of solution variants, plus the untouched "starter" and "solution"."""
    folders = {case: make_submission(tmp_path_factory.mktemp(case), edits) for case, (edits, *_rest) in cases.items()}
    folders["starter"] = make_submission(tmp_path_factory.mktemp("starter"), base=STARTERS)
    folders["solution"] = make_submission(tmp_path_factory.mktemp("solution"))
    return grade_many(folders, exercise_id, workers)


def literal(template: str) -> str:
    """The longest fixed stretch of a message template: what every message made from it contains."""
    return max(re.split(r"\{[^}]*\}", template), key=len)


def failed(result: ExerciseResult) -> dict[str, str]:
    """The failed checks of a result, name -> message."""
    return {check.name: check.message for check in result.checks if not check.passed}


def assert_fails(result: ExerciseResult, case: str, check: str, fragment: str, section: str | None = None) -> None:
    """`check` failed, its message holds `fragment`, and it points to the lesson (and section) to reread."""
    problems = failed(result)
    assert check in problems, f"{case}: expected {check!r} to fail, got {problems}"
    assert fragment in problems[check], f"{case}: {problems[check]}"
    assert f"See {result.lesson}" + (f", “{section}”." if section else "") in problems[check]


def api_module(body: str, imports: str = "from connexion import problem") -> str:
    """A whole api.py whose get_status() is `body` (dedented)."""
    return f"{imports}\n\n\ndef get_status():\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n"


def edited(text: str, *edits: tuple[str, str]) -> str:
    """`text` with each (old, new) replacement applied once; a test edit that does not apply fails loudly."""
    for old, new in edits:
        assert old in text, f"test edit does not apply: {old!r}"
        text = text.replace(old, new, 1)
    return text
