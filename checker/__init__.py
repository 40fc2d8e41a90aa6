"""Grade the workbook's exercises: `pytest checker/` in a terminal, `check("id")` in a notebook."""

from __future__ import annotations

import atexit
import functools
from pathlib import Path

from checker.results import Check, ExerciseResult

__all__ = ["check", "Check", "ExerciseResult"]

REPO = Path(__file__).resolve().parent.parent


def default_submission() -> Path:
    """The notebook's own folder when it has oas3/ (the usual case), else the repo's notebooks/."""
    here = Path.cwd()
    return here if (here / "oas3").is_dir() else REPO / "notebooks"


@functools.cache
def kept_sandbox():
    """The sandbox this kernel's check() calls share (see checker.submission.KeptSandbox), ended at exit."""
    from checker.submission import KeptSandbox

    kept = KeptSandbox()
    atexit.register(kept.close)
    return kept


def check(exercise_id: str, submission: str | Path | None = None) -> ExerciseResult:
    """Grade one exercise of the files you are editing and show every check, passed or not."""
    from checker.exercises import all_exercises
    from checker.grading import grade_one, prestart
    from checker.submission import Submission

    exercises = all_exercises()
    if exercise_id not in exercises:
        raise ValueError(f"There is no exercise {exercise_id!r}. Known exercises: {', '.join(exercises)}.")
    exercise = exercises[exercise_id]
    folder = Submission(submission or default_submission(), kept=kept_sandbox())
    prestart([exercise], folder)
    try:
        return grade_one(exercise, folder)
    finally:
        folder.close()
