"""Build submissions for checker tests: a copy of solutions/ with a few edits."""

from __future__ import annotations

import shutil
import textwrap
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


def make_submission(folder: Path, edits: dict | None = None, base: Path = SOLUTIONS) -> Path:
    """Copy `base`'s oas3/ into `folder`, then apply edits: {file: new text | (old, new) | None to delete}."""
    shutil.copytree(base / "oas3", folder / "oas3", ignore=shutil.ignore_patterns("__pycache__"))
    for name, edit in (edits or {}).items():
        path = folder / name
        if edit is None:
            path.unlink()
        elif isinstance(edit, tuple):
            text = path.read_text()
            old, new = edit
            assert old in text, f"test edit does not apply: {old!r} not in {name}"
            path.write_text(text.replace(old, new, 1))
        else:
            path.write_text(textwrap.dedent(edit))
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


def failed(result: ExerciseResult) -> dict[str, str]:
    """The failed checks of a result, name -> message."""
    return {check.name: check.message for check in result.checks if not check.passed}


def api_module(body: str, imports: str = "from connexion import problem") -> str:
    """A whole api.py whose get_status() is `body` (dedented)."""
    return f"{imports}\n\n\ndef get_status():\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n"
