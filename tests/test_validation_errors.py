"""validation-errors: wrong validators and handlers fail the right check; correct variants pass.

Every submission is graded once, by a real worker, in a module-scoped batch (a few at a time),
and the tests read the results.
"""

from __future__ import annotations

import re

import pytest
from checker_support import assert_fails, STARTERS, failed, grade_cases, literal

from checker.exercises import validation_errors as ve
from checker.exercises import runs

API = "oas3/problems_api.py"
SPEC = "oas3/ex-05-01-problems.yaml"
EXERCISE = "validation-errors"
PARALLEL = 3

LOOP = "        for error in self._validator.iter_errors(body):\n"
RAISE = "            raise ProblemException(\n                status=422,\n"
EXT = '                ext={"errors": found},\n'
RETURN_ORDER = "    return order, 201, JSON\n"
POINTER = '    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)\n'
NATURAL_ENTRIES = ('    path = list(error.absolute_path)\n    if error.validator == "required":',
                   '    path = list(error.absolute_path)\n    return [{"detail": error.message, "pointer": pointer(path)}]\n'
                   '    if error.validator == "required":')
LENIENT_BODY = ("            schema:\n              $ref: '#/components/schemas/NewOrder'\n",
                "            schema:\n              type: object\n")
BY_HAND = '''
import itertools
import re

from connexion import problem

ORDERS, NEXT_ID, JSON = {}, itertools.count(1), {"Content-Type": "application/json"}


def create_order(body):
    """Check every member by hand, as in seed 002's "stacks of errors", then answer once."""
    errors = []
    if not isinstance(body.get("item"), str) or not body.get("item"):
        errors.append({"detail": "must be a non-empty string", "pointer": "/item"})
    quantity = body.get("quantity")
    if not (type(quantity) is int and 1 <= quantity <= 100):
        errors.append({"detail": "must be a whole number from 1 to 100", "pointer": "/quantity"})
    shipping = body.get("shipping") if isinstance(body.get("shipping"), dict) else {}
    if not re.fullmatch("[A-Z]{2}", str(shipping.get("country"))) or not isinstance(shipping.get("country"), str):
        errors.append({"detail": "must be two capital letters", "pointer": "/shipping/country"})
    if "express" in shipping and not isinstance(shipping["express"], bool):
        errors.append({"detail": "must be true or false", "pointer": "/shipping/express"})
    errors += [{"detail": "is not a member of an order", "pointer": "/" + name.replace("~", "~0").replace("/", "~1")}
               for name in body if name not in ("item", "quantity", "shipping")]
    if errors:
        return ANSWER
    order = {"id": next(NEXT_ID), **body}
    ORDERS[order["id"]] = order
    return order, 201, JSON


def get_order(order_id):
    return ORDERS[order_id], 200, JSON
'''
AS_PROBLEM = 'problem(status=422, title="Invalid order", detail="See errors.", ext={"errors": errors})'
AS_JSON = '{"errors": errors}, 422, JSON'

# case -> (edits {file: text | (old, new) | [(old, new), ...] | None}, failing check or None to pass, template)
CASES = {
    "fail-connexion-default-validator": ({API: (STARTERS / API).read_text()}, ve.ERRORS_ARRAY, ve.FIRST_ONLY),
    "fail-only-the-first-error": ({API: (LOOP, "        for error in list(self._validator.iter_errors(body))[:1]:\n")},
                                  ve.EVERY_MISTAKE, ve.MISSED),
    "fail-slash-for-the-whole-body": ({API: [NATURAL_ENTRIES, (POINTER, '    return "/" + "/".join(map(str, path))\n')]},
                                      ve.ERRORS_ARRAY, ve.SLASH_ROOT),
    "fail-dotted-paths": ({API: (POINTER, '    return ".".join(map(str, path))\n')}, ve.ERRORS_ARRAY, ve.BAD_POINTER),
    "fail-errors-are-strings": ({API: (EXT, '                ext={"errors": [e["detail"] for e in found]},\n')},
                                ve.ERRORS_ARRAY, ve.BAD_ENTRY),
    "fail-status-200": ({API: (RAISE, RAISE.replace("422", "200"))}, ve.ONE_PROBLEM, ve.WRONG_STATUS),
    "fail-status-member-disagrees": ({API: (EXT, '                ext={"errors": found, "status": 400},\n')},
                                     ve.ONE_PROBLEM, "but the response status is 422"),
    "fail-plain-json-errors": ({API: BY_HAND.replace("ANSWER", AS_JSON), SPEC: LENIENT_BODY},
                               ve.ONE_PROBLEM, "Content-Type is application/json"),
    "fail-too-strict": ({API: (LOOP, '        if "express" not in body["shipping"]:\n'
                                     '            found.append({"detail": "is required", "pointer": "/shipping/express"})\n'
                                     + LOOP)},
                        ve.VALID_ACCEPTED, ve.VALID_REFUSED),
    "fail-false-alarm": ({API: ("        if found:\n", '        if found:\n            found.append({"detail": "check it", '
                                                      '"pointer": "/item"})\n')},
                         ve.NO_FALSE_ALARM, ve.FALSE_ALARM),
    "fail-validator-raises": ({API: (LOOP, '        body["no such member"]\n' + LOOP)}, ve.RUNS, "raised KeyError"),
    "fail-handler-sleeps-forever": ({API: [("import itertools\n", "import itertools\nimport time\n"),
                                           (RETURN_ORDER, "    time.sleep(3600)\n" + RETURN_ORDER)]},
                                    ve.RUNS, "did not answer request #1 within"),
    "fail-exits-at-import": ({API: ("import itertools\n", "import itertools\nimport os\nos._exit(3)\n")},
                             ve.RUNS, runs.CRASHED_IMPORTING),
    "fail-syntax-error": ({API: ("def create_order(body):\n", "def create_order(body)\n")}, ve.RUNS,
                          "oas3/problems_api.py:"),
    "fail-module-missing": ({API: None}, ve.RUNS, runs.MISSING_MODULE),
    "fail-validator-map-plain-dict": ({API: ('    "body": MediaTypeDict({', '    "body": ({')}, ve.ONE_PROBLEM,
                                      ve.PLAIN_DICT),
    "fail-status-is-a-string": ({API: ("status=422", 'status="422"')}, ve.RUNS, ve.COROUTINE),
    "fail-validator-map-not-a-mapping": ({API: ("VALIDATOR_MAP = {", "VALIDATOR_MAP = 5\nUNUSED = {")}, ve.RUNS,
                                         runs.APP_FAILED_BOTH),
    "fail-validator-map-body-not-a-mapping": ({API: ('    "body": MediaTypeDict({', '    "body": 5,\n    "unused": ({')},
                                              ve.RUNS, runs.RAISED_IN_CONNEXION),
    "fail-orders-without-content-type": ({API: (RETURN_ORDER, "    return order, 201\n")}, ve.VALID_ACCEPTED,
                                         ve.SEVERAL_MEDIA_TYPES),
    "pass-400-instead-of-422": ({API: (RAISE, RAISE.replace("422", "400"))}, None, None),
    "pass-uri-fragment-pointers": ({API: (POINTER, POINTER.replace('return "".join(', 'return "#" + "".join('))}, None, None),
    "fail-missing-and-unexpected-named-on-the-object": ({API: [NATURAL_ENTRIES]}, ve.EVERY_MISTAKE, ve.MISSED),
    "fail-names-not-escaped": ({API: (POINTER, '    return "".join("/" + str(part) for part in path)\n')},
                               ve.EVERY_MISTAKE, "no entry points at /gift~1wrap"),
    "pass-validation-by-hand-in-the-handler": ({API: BY_HAND.replace("ANSWER", AS_PROBLEM), SPEC: LENIENT_BODY}, None, None),
    "pass-only-json-in-the-validator-map": ({API: (re.compile(r'    "body": MediaTypeDict\(\{.*?\}\),\n', re.S),
                                                  '    "body": MediaTypeDict({"*/*json": EveryErrorValidator}),\n')},
                                            None, None),
    "pass-entries-with-extra-members": ({API: ('    return [{"detail": error.message, "pointer": pointer(path)}]\n',
                                               '    return [{"detail": error.message, "pointer": pointer(path), '
                                               '"code": error.validator}]\n')}, None, None),
    "fail-spec-broken-code-graded-with-the-checkers-spec": ({SPEC: ("openapi: 3.0.3\n", "openapi: 3.0.3\nx: [oops\n")},
                                                            ve.APP_FROM_SPEC, ve.SPEC_FALLBACK),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """Grade every case (and the starter and solution), a few workers at a time."""
    return grade_cases(tmp_path_factory, CASES, EXERCISE, PARALLEL)


WRONG = [(case, check, template) for case, (_e, check, template) in CASES.items() if check]
CORRECT = [case for case, (_e, check, _t) in CASES.items() if not check]


@pytest.mark.parametrize("case, check, template", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_submission_fails_the_right_check(results, case, check, template):
    assert_fails(results[case], case, check, literal(template), ve.SECTION)


@pytest.mark.parametrize("case", CORRECT)
def test_alternative_correct_submission_passes(results, case):
    assert failed(results[case]) == {}, f"{case} should pass"


def test_solution_passes_every_check(results):
    assert failed(results["solution"]) == {} and results["solution"].score == 3


def test_starter_fails_only_for_the_missing_errors_array(results):
    assert set(failed(results["starter"])) == {ve.ERRORS_ARRAY, ve.EVERY_MISTAKE, ve.NO_FALSE_ALARM}
    assert literal(ve.FIRST_ONLY) in failed(results["starter"])[ve.ERRORS_ARRAY]


def test_a_broken_spec_only_costs_the_app_check(results):
    assert set(failed(results["fail-spec-broken-code-graded-with-the-checkers-spec"])) == {ve.APP_FROM_SPEC}


def test_a_malformed_validator_map_is_explained(results):
    for case in ("fail-validator-map-not-a-mapping", "fail-validator-map-body-not-a-mapping"):
        assert ve.VALIDATOR_MAP_SHAPE in failed(results[case])[ve.RUNS]


def test_the_learners_line_is_named_when_the_validator_raises(results):
    message = failed(results["fail-validator-raises"])[ve.RUNS]
    assert re.search(r"\(oas3/problems_api\.py:\d+: `body\[\"no such member\"\]`\)", message)
    assert "Traceback" not in message


def test_cases_cover_one_two_and_three_mistakes_of_every_kind():
    sizes = [len(case) for case in ve.cases()]
    assert sizes.count(1) == 5 and sizes.count(2) == 10 and sizes.count(3) == 10
    forms = {mistake for case in ve.cases() for mistake in case}
    assert forms == {mistake for slot in ve.SLOTS for mistake in slot}  # every form of every mistake is sent


@pytest.mark.parametrize("text, tokens", [
    ("", []), ("#", []), ("/item", ["item"]), ("#/shipping/country", ["shipping", "country"]),
    ("/a~1b/c~0d", ["a/b", "c~d"]), ("#/a%20b", ["a b"]), ("/", [""]),
    ("item", None), ("/a~2", None), ("shipping.country", None),
])
def test_json_pointers_are_read_as_rfc_6901_says(text, tokens):
    assert ve.parse_pointer(text) == tokens


def test_no_tick_beside_a_cross_saying_nothing_came_back(results):
    """A check may not pass on answers another check says never came."""
    for case, result in results.items():
        texts = " ".join(check.message for check in result.checks if not check.passed)
        passed = {check.name for check in result.checks if check.passed}
        if ve.NO_INVALID_ANSWERED in texts:
            assert not passed & {ve.ONE_PROBLEM, ve.ERRORS_ARRAY}, (case, passed)
        if ve.NOTHING_LISTED in texts:
            assert ve.ERRORS_ARRAY not in passed, (case, passed)
