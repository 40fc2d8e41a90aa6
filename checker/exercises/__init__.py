"""The graded exercises, in lesson order. One module per exercise id.

Each module defines `EXERCISE`, an `Exercise` whose `grade(submission, result)`
adds every check it can make to `result` (all problems at once, never only
the first). To add an exercise, write its module and list it in `MODULES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

MODULES = [
    "status_endpoint",
    "headers_spec",
    "headers_impl",
    "reusable_responses",
    "problem_schema",
    "validation_errors",
    "rate_limit",
    "retry_after_client",
    "backoff_jitter",
    "client_timeouts",
    "circuit_breaker",
    "jobs_spec",
    "jobs_impl",
    "idempotency_key",
    "jobs_client",
    "error_formatter",
    "correlation_id",
    "fan_out_deadline",
]


@dataclass(frozen=True)
class Exercise:
    """An exercise id, where it is taught, what it is worth, and how to grade it."""

    id: str
    title: str
    lesson: str  #: the notebook that teaches it, e.g. "03-Service-Unavailable.ipynb"
    points: int
    grade: Callable = field(repr=False)
    needs: frozenset = frozenset()  #: built-in learner-code workers to start early (see checker.submission)
    prestart: Callable | None = field(default=None, repr=False)  #: starts this exercise's own probes early


def all_exercises() -> dict[str, Exercise]:
    """Every exercise by id, in lesson order."""
    exercises = {}
    for name in MODULES:
        exercise = importlib.import_module(f"{__name__}.{name}").EXERCISE
        exercises[exercise.id] = exercise
    return exercises
