"""Checks and phrases several exercises share: loading the spec, finding GET /status."""

from __future__ import annotations

from typing import Any

from checker.results import ExerciseResult
from checker.spec import BrokenRef, Document, YamlProblem, where_in
from checker.submission import Submission


def lesson_hint(lesson: str, section: str) -> str:
    """The pointer every failure ends with."""
    return f"See {lesson}, “{section}”."


def load_document(submission: Submission, name: str, result: ExerciseResult, section: str) -> Document | None:
    """Add the 'file loads as YAML' check; return the document, or None if it failed."""
    shown = submission.shown(name)
    try:
        document = submission.document(name)
    except YamlProblem as problem:
        result.add(
            f"{shown} loads as YAML", False,
            f"{problem.where}: {problem}.\nFix the YAML there (indentation and quotes are the usual "
            f"suspects); the other checks of this exercise run once it loads. {lesson_hint(result.lesson, section)}",
        )
        return None
    if not isinstance(document.data, dict):
        result.add(f"{shown} loads as YAML", False,
                   f"{shown}: the file holds {type(document.data).__name__ if document.data is not None else 'nothing'}, "
                   f"not a mapping like `openapi: 3.0.3`. {lesson_hint(result.lesson, section)}")
        return None
    result.add(f"{shown} loads as YAML", True)
    return document


def status_get(document: Document) -> tuple[Any, str, str]:
    """Return (GET /status operation, base uri, file shown); raise LookupError saying what is missing."""
    paths = document.data.get("paths")
    if not isinstance(paths, dict) or "/status" not in paths:
        raise LookupError(f"{where_in(document.data, document.shown_as, 'paths')}: there is no `/status` path")
    item, base, shown = document.follow(paths["/status"])
    if not isinstance(item, dict) or not isinstance(item.get("get"), dict):
        raise LookupError(f"{where_in(paths, document.shown_as, '/status')}: `/status` has no `get` operation")
    return item["get"], base, shown


def responses_of(operation: Any) -> dict:
    responses = operation.get("responses")
    return responses if isinstance(responses, dict) else {}


def follow_or_report(document: Document, node: Any, base: str, shown: str, result: ExerciseResult, name: str):
    """Follow a $ref; on a broken one add a failed check and return None."""
    try:
        return document.follow(node, base, shown)
    except BrokenRef as broken:
        result.add(name, False, f"{broken.where}: `$ref: {broken.ref}` leads nowhere ({broken}).")
        return None
