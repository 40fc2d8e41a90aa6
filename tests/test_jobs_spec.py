"""jobs-spec: wrong contracts fail the right check; other correct contracts pass. Only YAML is read."""

from __future__ import annotations

import re

import pytest
from checker_support import assert_fails, failed, grade_cases, literal

from checker.exercises import jobs_spec as js

SPEC = "oas3/ex-08-01-jobs.yaml"
EXERCISE = "jobs-spec"

LOCATION_202 = ("            Location:\n              $ref: '#/components/headers/Location'\n            Retry-After:\n"
                "              $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n          content:\n"
                "            application/json:\n              schema:\n                $ref: '#/components/schemas/Job'\n"
                "        \"400\":")
RETRY_AFTER_202 = ("            Retry-After:\n              $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n"
                   "          content:\n            application/json:\n              schema:\n"
                   "                $ref: '#/components/schemas/Job'\n        \"400\":")
ENUM = "          enum: [new, in progress, ready, error, expired]\n"
RESPONSE_303 = re.compile(r'        "303":\n.*?(?=        "404":)', re.S)
GET_404 = "        \"404\":\n          $ref: '#/components/responses/Problem'\n        \"410\":\n          $ref: '#/components/responses/Problem'\n  /thumbnails"
GET_200_HEADERS = ("          headers:\n            Retry-After:\n              $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n"
                   "          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/Job'\n"
                   "        \"303\":")
PROBLEM_MEDIA = "        application/problem+json:\n          schema:\n            $ref: 'components.oas3.yaml#/components/schemas/Problem'\n  schemas:"
INLINE_JOB = """              schema:
                type: object
                required: [id, state]
                properties:
                  id: {type: string}
                  state:
                    type: string
                    enum: ["new", "in progress", "ready", "error", "expired"]
                  url: {type: string}
        "400":"""

# case -> (edits, failing check or None to pass, message template or fragment)
CASES = {
    "fail-202-without-location": ({SPEC: (LOCATION_202, RETRY_AFTER_202)}, js.ACCEPTED, "has no Location under `headers:`"),
    "fail-202-without-retry-after": ({SPEC: (RETRY_AFTER_202, RETRY_AFTER_202.replace(
        "            Retry-After:\n              $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n", ""))},
                                     js.ACCEPTED, "has no Retry-After under `headers:`"),
    "fail-201-instead-of-202": ({SPEC: ('        "202":\n          description: |-\n            Accepted',
                                        '        "201":\n          description: |-\n            Accepted')},
                                js.ACCEPTED, 'but no "202"'),
    "fail-retry-after-as-a-date-only": ({SPEC: (RETRY_AFTER_202, RETRY_AFTER_202.replace(
        "              $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n",
        "              schema:\n                type: string\n                format: date-time\n"))},
                                        js.ACCEPTED, literal(js.RETRY_AFTER_SCHEMA)),
    "fail-no-state-enum": ({SPEC: (ENUM, "")}, js.JOB_SCHEMA, "has enum missing"),
    "fail-enum-with-in-progress-spelled-differently": ({SPEC: (ENUM, "          enum: [new, in_progress, ready, error, expired]\n")},
                                                       js.JOB_SCHEMA, "it must list exactly"),
    "fail-enum-without-expired": ({SPEC: (ENUM, "          enum: [new, in progress, ready, error]\n")}, js.JOB_SCHEMA,
                                  "it must list exactly"),
    "fail-state-not-required": ({SPEC: ("      required: [id, state]\n", "      required: [id]\n")}, js.JOB_SCHEMA,
                                "does not list `state` under `required:`"),
    "fail-no-303": ({SPEC: (RESPONSE_303, "")}, js.SEE_OTHER, 'but no "303"'),
    "fail-303-without-location": ({SPEC: ('          description: The job is ready; its thumbnail is at Location.\n          headers:\n            Location:\n              $ref: \'#/components/headers/Location\'\n',
                                          '          description: The job is ready; its thumbnail is at Location.\n')},
                                  js.SEE_OTHER, "has no Location under `headers:`"),
    "fail-302-instead-of-303": ({SPEC: ('        "303":\n', '        "302":\n')}, js.SEE_OTHER, 'but no "303"'),
    "fail-no-410": ({SPEC: (GET_404, "        \"404\":\n          $ref: '#/components/responses/Problem'\n  /thumbnails")},
                    js.GONE, 'but no "410"'),
    "fail-200-without-retry-after": ({SPEC: (GET_200_HEADERS, GET_200_HEADERS.replace(
        "          headers:\n            Retry-After:\n              $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n", ""))},
                                     js.NOT_DONE, "has no Retry-After under `headers:`"),
    "fail-problems-as-plain-json": ({SPEC: (PROBLEM_MEDIA, PROBLEM_MEDIA.replace("application/problem+json", "application/json"))},
                                    js.PROBLEMS, "make it `application/problem+json`"),
    "fail-no-get-on-the-job": ({SPEC: ("    get:\n      summary: How far a job got.", "    put:\n      summary: How far a job got.")},
                               js.SEE_OTHER, "with a `get` operation"),
    "pass-inline-job-schema": ({SPEC: ("              schema:\n                $ref: '#/components/schemas/Job'\n        \"400\":", INLINE_JOB)},
                               None, None),
    "pass-retry-after-inline-integer": ({SPEC: (GET_200_HEADERS, GET_200_HEADERS.replace(
        "              $ref: 'components.oas3.yaml#/components/headers/Retry-After'\n",
        "              description: Seconds until the job may have moved on.\n              schema:\n                type: integer\n                minimum: 1\n"))},
                                        None, None),
    "pass-enum-in-another-order-with-quotes": ({SPEC: (ENUM, "          enum: [\"ready\", \"new\", \"error\", \"in progress\", \"expired\"]\n")},
                                               None, None),
    "pass-job-built-with-allof": ({SPEC: ("    Job:\n      type: object\n      required: [id, state]\n",
                                          "    Job:\n      allOf:\n        - $ref: '#/components/schemas/JobId'\n"
                                          "        - type: object\n          required: [state]\n"
                                          "          properties:\n            state:\n              type: string\n"
                                          "              enum: [new, in progress, ready, error, expired]\n"
                                          "    JobId:\n      type: object\n      required: [id]\n")},
                                  None, None),
    "pass-openapi-3-1": ({SPEC: ("openapi: 3.0.3\n", "openapi: 3.1.0\n")}, None, None),
    "pass-problem-media-with-charset": ({SPEC: (PROBLEM_MEDIA, PROBLEM_MEDIA.replace("application/problem+json:",
                                                                                     "application/problem+json; charset=utf-8:"))},
                                        None, None),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    return grade_cases(tmp_path_factory, CASES, EXERCISE, 2)


WRONG = [(case, check, fragment) for case, (_e, check, fragment) in CASES.items() if check]
CORRECT = [case for case, (_e, check, _f) in CASES.items() if not check]


@pytest.mark.parametrize("case, check, fragment", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_contract_fails_the_right_check(results, case, check, fragment):
    assert_fails(results[case], case, check, fragment, js.SECTION)


@pytest.mark.parametrize("case", CORRECT)
def test_alternative_correct_contract_passes(results, case):
    assert failed(results[case]) == {}, f"{case} should pass"


def test_solution_passes_every_check(results):
    assert failed(results["solution"]) == {} and results["solution"].score == 2


def test_starter_fails_for_what_the_lesson_asks(results):
    assert set(failed(results["starter"])) == {js.ACCEPTED, js.NOT_DONE, js.SEE_OTHER, js.GONE, js.JOB_SCHEMA}


def test_every_message_names_a_line(results):
    for message in failed(results["starter"]).values():
        assert re.search(r"oas3/ex-08-01-jobs\.yaml:\d+:\d+: ", message), message
