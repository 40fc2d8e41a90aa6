"""`status-endpoint`: get_status() answers GET /status with an RFC 9457 problem."""

from __future__ import annotations

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.runs import problem_issue, report_run, status_issues, summarise
from checker.results import ExerciseResult
from checker.submission import STATUS_WORKER, Submission

LESSON = "02-The-Status-Endpoint.ipynb"
SECTION = "Exercise status-endpoint"

ANSWERS_200 = "GET /status answers 200 (503s are fine too)"
PROBLEM_BODY = "every response is application/problem+json with a `title` and a `status` equal to the HTTP status"
FIX_PROBLEM = "Return `problem(status=200, title=\"OK\", detail=\"So far so good.\")` from connexion: it sets the content type and body for you."


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Serve GET /status with the checker's own spec, so only api.py is graded here."""
    hint = lesson_hint(LESSON, SECTION)
    answers = report_run(submission.status_run(), result, hint)
    if not answers:
        result.add(PROBLEM_BODY, False, f"no response came back to check. {hint}")
        return
    statuses = status_issues(answers)
    result.add(ANSWERS_200, not statuses, f"{summarise(statuses, len(answers), 'responses')}\n{FIX_PROBLEM} {hint}")
    issues = [(a["request"], issue) for a in answers if (issue := problem_issue(a))]
    result.add(PROBLEM_BODY, not issues, f"{summarise(issues, len(answers), 'responses')}\n{FIX_PROBLEM} {hint}")


EXERCISE = Exercise(
    id="status-endpoint",
    title="A /status heartbeat that answers with a problem document",
    lesson=LESSON,
    points=1,
    grade=grade,
    needs=frozenset({STATUS_WORKER}),
)
