"""Grade exercises of one submission: the single entry point both pytest and check() use."""

from __future__ import annotations

from checker.exercises import Exercise
from checker.results import ExerciseResult
from checker.submission import Submission

INTERNAL = ("the checker itself failed on this submission ({error}); your other results stand. "
            "Please show this message to your instructor.")


def new_result(exercise: Exercise) -> ExerciseResult:
    return ExerciseResult(exercise.id, exercise.title, exercise.lesson, exercise.points)


def grade_one(exercise: Exercise, submission: Submission) -> ExerciseResult:
    """Run one exercise's checks; a checker bug becomes a failed check, never a traceback."""
    result = new_result(exercise)
    if not submission.exists:
        result.add("the submission has an oas3/ folder", False,
                   f"{submission.oas3} does not exist: a submission is laid out like notebooks/, with oas3/ inside.")
        return result
    try:
        exercise.grade(submission, result)
    except Exception as error:  # noqa: BLE001 - see INTERNAL
        result.add("the checker finished this exercise", False, INTERNAL.format(error=f"{type(error).__name__}: {error}"))
    return result


def prestart(exercises: list[Exercise], submission: Submission) -> None:
    """Start every worker the exercises need, so learner code runs while YAML is checked."""
    submission.prestart(set().union(*(exercise.needs for exercise in exercises)) if exercises else set())
    for exercise in exercises:
        if exercise.prestart is not None and submission.exists:
            exercise.prestart(submission)
