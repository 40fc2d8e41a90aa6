"""problem-schema: wrong Problem schemas and error responses fail the right check; correct variants pass."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from checker_support import REPO, apply_edit, failed, grade, literal, make_submission

from checker.exercises import problem_schema as ps
from checker.exercises.headers_spec import REFS_RESOLVE

SPEC = "oas3/ex-05-01-problems.yaml"
EXERCISE = "problem-schema"
LOAD = f"oas3/{ps.SPEC} loads as YAML"

PROBLEM_OBJECT = "      type: object\n      properties:\n        type:\n"
STATUS_TYPE = "          type: integer\n          minimum: 100\n          maximum: 599\n"
TYPE_FORMAT = "          format: uri-reference\n          default: about:blank\n"
INSTANCE = ("        instance:\n          description: A URI reference identifying this occurrence.\n"
            "          type: string\n          format: uri-reference\n")
DETAIL = ("        detail:\n          description: What went wrong this time, written to help the client fix it.\n"
          "          type: string\n")
TITLE = "          type: string\n          example: Unprocessable Content\n"
RESPONSE_400 = ('        "400":\n          description: The body is not JSON.\n          content:\n'
                "            application/problem+json:\n              schema:\n"
                "                $ref: '#/components/schemas/Problem'\n")
RESPONSE_404 = RESPONSE_400.replace('"400"', '"404"').replace("The body is not JSON.", "There is no order with this id.")
RESPONSE_422_SCHEMA = "                $ref: '#/components/schemas/ValidationProblem'\n"
UNEXPECTED_CONTENT = ("      content:\n        application/problem+json:\n          schema:\n"
                      "            $ref: '#/components/schemas/Problem'\n")
VALIDATION_RESPONSES = re.compile(r'        "400":\n.*?(?=        default:)', re.S)  # the 400 and the 422
PROBLEM_BLOCK = re.compile(r"    Problem:\n.*?(?=    ValidationProblem:)", re.S)


def submission(folder, *edits, base=None):
    """A copy of the solution (or `base`) whose spec gets each (old, new) replacement, or whole new text."""
    folder = make_submission(folder, base=base) if base else make_submission(folder)
    for edit in edits:
        apply_edit(folder / SPEC, edit)
    return folder


def check_results(folder) -> tuple[dict, object]:
    result = grade(folder, EXERCISE)[EXERCISE]
    return failed(result), result


# (case, edits of the solution spec, failing check, message template or fragment)
WRONG = [
    ("fail-additional-properties-false",
     [(PROBLEM_OBJECT, PROBLEM_OBJECT.replace("      properties:", "      additionalProperties: false\n      properties:"))],
     ps.PROBLEM_OPEN, ps.CLOSED),
    ("fail-status-is-a-string", [(STATUS_TYPE, "          type: string\n")], ps.PROBLEM_MEMBERS, ps.MEMBER_TYPE),
    ("fail-status-is-a-number", [(STATUS_TYPE, "          type: number\n")], ps.PROBLEM_MEMBERS, "whole number (an HTTP status code)"),
    ("fail-status-maximum-499", [(STATUS_TYPE, STATUS_TYPE.replace("599", "499"))], ps.PROBLEM_MEMBERS, ps.STATUS_RANGE),
    ("fail-title-is-an-integer", [(TITLE, "          type: integer\n")], ps.PROBLEM_MEMBERS, ps.MEMBER_TYPE),
    ("fail-no-instance-member", [(INSTANCE, "")], ps.PROBLEM_MEMBERS, "Problem has no `instance` under `properties:`"),
    ("fail-type-format-uri", [(TYPE_FORMAT, TYPE_FORMAT.replace("uri-reference", "uri"))], ps.PROBLEM_URIS, ps.URI_FORMAT),
    ("fail-type-without-default", [(TYPE_FORMAT, "          format: uri-reference\n")], ps.PROBLEM_URIS, ps.TYPE_DEFAULT),
    ("fail-type-required",
     [(PROBLEM_OBJECT, PROBLEM_OBJECT.replace("      properties:", "      required: [type, title]\n      properties:"))],
     ps.PROBLEM_OPEN, "`required` lists `type`"),
    ("fail-404-still-application-json", [(RESPONSE_404, RESPONSE_404.replace("problem+json", "json"))],
     ps.ERRORS_USE_PROBLEM, ps.NOT_PROBLEM_MEDIA),
    ("fail-400-json-and-problem-json",
     [(RESPONSE_400, RESPONSE_400 + "            application/json:\n              schema:\n"
                                    "                $ref: '#/components/schemas/Problem'\n")],
     ps.ERRORS_USE_PROBLEM, ps.ALSO_OTHER_MEDIA),
    ("fail-default-without-content", [(UNEXPECTED_CONTENT, "")], ps.ERRORS_USE_PROBLEM, ps.NO_CONTENT),
    ("fail-422-ad-hoc-schema",
     [(RESPONSE_422_SCHEMA, "                type: object\n                properties:\n"
                            "                  errors: {type: array}\n")],
     ps.ERRORS_USE_PROBLEM, ps.OTHER_SCHEMA),
    ("fail-problem-json-without-schema",
     [(RESPONSE_400, RESPONSE_400.replace("            application/problem+json:\n              schema:\n"
                                          "                $ref: '#/components/schemas/Problem'\n",
                                          "            application/problem+json: {}\n"))],
     ps.ERRORS_USE_PROBLEM, ps.NO_SCHEMA),
    ("fail-validation-responses-deleted", [(VALIDATION_RESPONSES, "")], ps.KEEPS_ERRORS, ps.MISSING_ERROR),
    ("fail-400-deleted", [(RESPONSE_400, "")], ps.KEEPS_ERRORS, "POST /orders no longer documents its 400"),
    ("fail-broken-ref-to-problem",
     [("                $ref: '#/components/schemas/Problem'\n", "                $ref: '#/components/schemas/Problems'\n")],
     REFS_RESOLVE, "leads nowhere"),
    ("fail-yaml-syntax-error", [("paths:\n", "paths:\n  /orders: [unclosed\n")], LOAD, "oas3/ex-05-01-problems.yaml:"),
    ("fail-unsafe-python-tag", [("openapi: 3.0.3\n", "openapi: 3.0.3\nx-run: !!python/object/apply:os.getcwd []\n")],
     LOAD, "refused, never run"),
]

SHARED_PROBLEM = "$ref: 'components.oas3.yaml#/components/schemas/Problem'"
CORRECT = [
    ("pass-problem-is-the-shared-one",
     [(PROBLEM_BLOCK, f"    Problem:\n      {SHARED_PROBLEM}\n")]),
    ("pass-responses-point-at-the-shared-problem",
     [(PROBLEM_BLOCK, f"    Problem:\n      {SHARED_PROBLEM}\n"),
      (RESPONSE_404, RESPONSE_404.replace("$ref: '#/components/schemas/Problem'", SHARED_PROBLEM))]),
    ("pass-title-and-status-required-detail-nullable",
     [(PROBLEM_OBJECT, PROBLEM_OBJECT.replace("      properties:", "      required: [title, status]\n      properties:")),
      (DETAIL, DETAIL + "          nullable: true\n")]),
    ("pass-4XX-range-instead-of-400-and-422",
     [(VALIDATION_RESPONSES, RESPONSE_400.replace('"400"', '"4XX"'))]),
    ("pass-every-error-a-reusable-response",
     [(RESPONSE_400, '        "400":\n          $ref: \'#/components/responses/UnexpectedProblem\'\n'),
      (RESPONSE_404, '        "404":\n          $ref: \'#/components/responses/UnexpectedProblem\'\n')]),
    ("pass-problem-xml-as-well",
     [(RESPONSE_404, RESPONSE_404 + "            application/problem+xml:\n              schema:\n"
                                    "                $ref: '#/components/schemas/Problem'\n")]),
    ("pass-openapi-3.1-with-null-detail",
     [("openapi: 3.0.3", "openapi: 3.1.0"), (DETAIL, DETAIL.replace("type: string", 'type: [string, "null"]'))]),
    ("pass-status-without-bounds", [(STATUS_TYPE, "          type: integer\n          format: int32\n")]),
]


@pytest.mark.parametrize("case, edits, check, message", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_submission_fails_the_right_check(tmp_path, case, edits, check, message):
    problems, result = check_results(submission(tmp_path, *edits))
    assert check in problems, f"{case}: expected {check!r} to fail, got {problems}"
    assert literal(message) in problems[check]
    assert f"See {result.lesson}, “{ps.SECTION}”." in problems[check]


@pytest.mark.parametrize("case, edits", CORRECT, ids=[c[0] for c in CORRECT])
def test_alternative_correct_submission_passes(tmp_path, case, edits):
    problems, _ = check_results(submission(tmp_path, *edits))
    assert problems == {}, f"{case} should pass, but: {problems}"


def test_solution_passes_every_check(solution_copy):
    problems, result = check_results(solution_copy)
    assert problems == {} and result.score == result.points


def test_starter_fails_for_the_missing_problem_and_every_json_error(starter_copy):
    problems, _ = check_results(starter_copy)
    assert set(problems) == {ps.PROBLEM_EXISTS, ps.ERRORS_USE_PROBLEM}
    assert problems[ps.ERRORS_USE_PROBLEM].count(literal(ps.NOT_PROBLEM_MEDIA)) == 5  # 400, 422, 404 and two defaults


def test_messages_point_at_the_line_to_fix(tmp_path):
    folder = submission(tmp_path, (TYPE_FORMAT, TYPE_FORMAT.replace("uri-reference", "uri")))
    message = check_results(folder)[0][ps.PROBLEM_URIS]
    line = next(n for n, text in enumerate((folder / SPEC).read_text().splitlines(), 1) if text == "        type:")
    assert message.startswith(f"oas3/{ps.SPEC}:{line}:9: `type` has `format: uri`")


def test_every_problem_is_reported_at_once(tmp_path):
    folder = submission(tmp_path, (STATUS_TYPE, "          type: string\n"), (TYPE_FORMAT, "          format: uri\n"),
                        (RESPONSE_404, RESPONSE_404.replace("problem+json", "json")))
    problems, _ = check_results(folder)
    assert {ps.PROBLEM_MEMBERS, ps.PROBLEM_URIS, ps.ERRORS_USE_PROBLEM} <= set(problems)
    assert literal(ps.TYPE_DEFAULT) in problems[ps.PROBLEM_URIS] and literal(ps.URI_FORMAT) in problems[ps.PROBLEM_URIS]


def test_a_wrong_member_type_is_reported_once(tmp_path):
    problems, _ = check_results(submission(tmp_path, (STATUS_TYPE, "          type: string\n")))
    assert set(problems) == {ps.PROBLEM_MEMBERS}


def test_the_plugin_writes_the_three_lesson_5_exercises_to_grade_json(tmp_path, solution_copy):
    """Run `pytest checker/` itself, as learners and graders do, on the finished files."""
    grades = tmp_path / "grades.json"
    ids = ["problem-schema", "validation-errors", "rate-limit"]
    command = [sys.executable, "-m", "pytest", "checker/", "-p", "no:cacheprovider", "--submission", str(solution_copy),
               "--grade-json", str(grades), *(f"--exercise={i}" for i in ids)]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stdout[-2000:]
    exercises = json.loads(grades.read_text())["exercises"]
    assert list(exercises) == ids
    assert all(exercise["passed"] and exercise["score"] == exercise["max_score"] for exercise in exercises.values())
