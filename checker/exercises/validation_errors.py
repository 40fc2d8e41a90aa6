"""`validation-errors`: POST /orders answers one 422 (or 400) problem whose `errors` lists every mistake.

The checker sends 25 orders with one, two or three mistakes (every combination
of five kinds of mistake, in varying forms) and four valid ones through a real
connexion app built from the learner's spec, configured with the learner's
`VALIDATOR_MAP` if problems_api.py defines one.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.problem_schema import LESSON, SPEC
from checker.exercises import runs
from checker.exercises.runs import problem_issue, summarise
from checker.results import ExerciseResult
from checker.submission import Submission

SECTION = "Exercise validation-errors"
MODULE = "problems_api"
PROBE_KEY = "validation-errors"
PROBE = "checker.drivers.send:run"
REFERENCE_SPEC = "reference:orders.oas3.yaml"  #: the checker's own spec, as checker.worker.Shim.spec names it
OPERATION = "POST /orders"
SHOWN_LINES = 6  #: request-by-request lines shown per failed check

RUNS = "problems_api.py imports and POST /orders answers every request"
APP_FROM_SPEC = "your spec and problems_api.py build a connexion app"
VALID_ACCEPTED = "valid orders are accepted (2xx)"
ONE_PROBLEM = "every invalid order gets one 422 (or 400) application/problem+json answer"
ERRORS_ARRAY = "each answer has an `errors` array of {detail, pointer} entries"
EVERY_MISTAKE = "`errors` lists every mistake, whether there are one, two or three"
NO_FALSE_ALARM = "no entry points at a member that was right"

SPEC_FALLBACK = ("connexion could not build the app from oas3/{spec} ({text}); the code was graded with the checker's "
                 "copy of the orders spec instead. Fix the spec first: see exercise problem-schema.")
VALID_REFUSED = "the valid order {body} was answered {status}{detail}; only invalid orders may be refused."
SEVERAL_MEDIA_TYPES = ("Now that POST /orders can answer application/json or application/problem+json, connexion "
                       "needs to be told which one a returned dict is: `return order, 201, {{\"Content-Type\": "
                       "\"application/json\"}}`.")
WRONG_STATUS = "answered {status}, not 422 (or 400)"
NO_ERRORS = "the problem has no `errors` array"
FIRST_ONLY = ("connexion's own validator answered (a 400 naming only the first mistake). To list them all, define "
              "`VALIDATOR_MAP` in problems_api.py with a validator that collects every error (see the lesson), "
              "or validate in create_order() yourself.")
BAD_ENTRY = "entry {index} of `errors` is {entry}: each entry is an object with a `detail` string and a `pointer` string"
BAD_POINTER = ("entry {index}'s pointer {pointer!r} is not a JSON Pointer (RFC 6901): write `/shipping/country` "
               "(or `#/shipping/country`), `~1` for a `/` in a name")
SLASH_ROOT = ("entry {index}'s pointer '/' means the member named \"\" (RFC 6901): the whole body is \"\" (or '#'); "
              "better, point at the member itself, e.g. /item")
MISSED = "no entry points at {pointers}"
FALSE_ALARM = "an entry points at {pointer}, which was right (detail: {detail!r})"
VALIDATOR_MAP_SHAPE = ("Your VALIDATOR_MAP was in use: it must look like `{\"body\": MediaTypeDict({\"*/*json\": "
                       "YourValidator})}`, with a subclass of connexion's JSONRequestBodyValidator.")
NO_INVALID_ANSWERED = "no answer to an invalid order came back, so there is nothing to judge yet (see the first check)."
PLAIN_DICT = ("Your VALIDATOR_MAP's \"body\" is a plain dict, so connexion matched no media type with it and "
              "validated nothing: wrap it in connexion's MediaTypeDict (`from connexion.datastructures import "
              "MediaTypeDict`), which matches \"*/*json\" against application/json, as the lesson shows.")
COROUTINE = ("That TypeError is what connexion raises when a ProblemException or problem() gets a `status` that is "
             "not an integer: write `status=422`, not `status=\"422\"`.")
NOTHING_LISTED = "no answer had an `errors` array, so there is nothing to compare with the mistakes sent yet (see above)."
FIX_MISSED = ("Report every member jsonschema's `iter_errors()` finds, not only the first, each with a pointer to "
              "the member itself: a missing or unexpected member too (/item, /colour, not \"\" or the object holding "
              "it), and `~0`/`~1` for a `~` or `/` in its name (/gift~1wrap).")


@dataclass(frozen=True)
class Mistake:
    """One way to get one member of an order wrong."""

    path: tuple  #: where the mistake is, e.g. ("shipping", "country")
    value: object = None  #: the wrong value (ignored when `remove`)
    remove: bool = False  #: leave the member out instead
    add: bool = False  #: the member should not exist at all

    @property
    def pointer(self) -> str:
        """The RFC 6901 pointer to the member: `~` and `/` in a name are written `~0` and `~1`."""
        return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in self.path)

    def describe(self) -> str:
        name = ".".join(self.path)
        if self.remove:
            return f"{name} missing"
        if self.add:
            return f"unexpected member {name}"
        return f"{name} = {json.dumps(self.value)}"

    def apply(self, body: dict) -> None:
        *parents, last = self.path
        target = body
        for part in parents:
            target = target[part]
        if self.remove:
            del target[last]
        else:
            target[last] = self.value


VALID_ORDERS = [
    {"item": "green tea", "quantity": 2, "shipping": {"country": "FR"}},
    {"item": "x", "quantity": 1, "shipping": {"country": "DE", "express": True}},
    {"item": "oolong", "quantity": 100, "shipping": {"country": "JP", "express": False}},
    {"item": "sencha", "quantity": 7, "shipping": {"country": "IT"}},
]
#: five slots, each with forms of the same mistake that the checker cycles through
SLOTS = [
    [Mistake(("item",), remove=True), Mistake(("item",), ""), Mistake(("item",), 42)],
    [Mistake(("quantity",), 0), Mistake(("quantity",), "two"), Mistake(("quantity",), 1000)],
    [Mistake(("shipping", "country"), "France"), Mistake(("shipping", "country"), "fr"), Mistake(("shipping", "country"), 33)],
    [Mistake(("shipping", "express"), "yes"), Mistake(("shipping", "express"), 1)],
    [Mistake(("colour",), "red", add=True), Mistake(("gift/wrap",), True, add=True), Mistake(("note~1",), "hi", add=True)],
]


def cases() -> list[tuple[Mistake, ...]]:
    """Every combination of one, two and three slots, each slot's form varying from case to case."""
    chosen, uses = [], [0] * len(SLOTS)
    for size in (1, 2, 3):
        for combination in itertools.combinations(range(len(SLOTS)), size):
            mistakes = []
            for slot in combination:
                mistakes.append(SLOTS[slot][uses[slot] % len(SLOTS[slot])])
                uses[slot] += 1
            chosen.append(tuple(mistakes))
    return chosen


def body_with(mistakes: tuple[Mistake, ...]) -> dict:
    body = copy.deepcopy(VALID_ORDERS[0])
    for mistake in mistakes:
        mistake.apply(body)
    return body


def requests() -> list[dict]:
    """What the probe sends: the valid orders, then every case."""
    bodies = VALID_ORDERS + [body_with(case) for case in cases()]
    return [{"method": "POST", "path": "/orders", "json": body} for body in bodies]


def start(submission: Submission) -> None:
    submission.start_probe(PROBE_KEY, module=MODULE, probe=PROBE, specs=[SPEC, REFERENCE_SPEC],
                           requests=requests(), options_from={"validator_map": "VALIDATOR_MAP"})


def first_line(text: str) -> str:
    """Connexion's load errors run to a page; their first line says what failed."""
    lines_of = text.strip().splitlines()
    return lines_of[0] + (" …" if len(lines_of) > 1 else "") if lines_of else "no reason given"


def parse_pointer(text: str) -> list[str] | None:
    """The reference tokens of a JSON Pointer, plain (`/a/b`) or as a URI fragment (`#/a/b`); None if invalid."""
    if text.startswith("#"):
        text = unquote(text[1:])
    if text == "":
        return []
    if not text.startswith("/") or re.search(r"~(?![01])", text):
        return None
    return [token.replace("~1", "/").replace("~0", "~") for token in text[1:].split("/")]


def covers(tokens: list[str], detail: str, mistake: Mistake) -> bool:
    """Does an entry (pointer tokens, detail) report `mistake`? The task asks for a pointer to the member
    itself, so a missing or unexpected member reported on the object that lacks or has it does not count."""
    return tokens == list(mistake.path)


def entry_issues(answer: dict, errors) -> tuple[list[str], list]:
    """Problems with the shape of `errors`; and the well-formed (tokens, pointer, detail) entries."""
    if not isinstance(errors, list):
        return [NO_ERRORS], []
    issues, good = [], []
    for index, entry in enumerate(errors):
        if not (isinstance(entry, dict) and isinstance(entry.get("detail"), str) and entry["detail"].strip()
                and isinstance(entry.get("pointer"), str)):
            issues.append(BAD_ENTRY.format(index=index, entry=json.dumps(entry)[:120]))
            continue
        if entry["pointer"] in ("/", "#/"):
            issues.append(SLASH_ROOT.format(index=index))
        tokens = parse_pointer(entry["pointer"])
        if tokens is None:
            issues.append(BAD_POINTER.format(index=index, pointer=entry["pointer"]))
            continue
        good.append((tokens, entry["pointer"], entry["detail"]))
    return issues, good


def lines(issues: list[tuple[int, str, str]]) -> str:
    """'request #7 (item missing, quantity = 0): …' for the first few, then how many more."""
    shown = [f"request #{number} ({label}): {issue}" for number, label, issue in issues[:SHOWN_LINES]]
    if len(issues) > SHOWN_LINES:
        shown.append(f"… and {len(issues) - SHOWN_LINES} more")
    return "\n".join(shown)


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Read the answers to the valid and invalid orders and judge each one."""
    hint = lesson_hint(LESSON, SECTION)
    start(submission)
    run = submission.probe_run(PROBE_KEY, module=MODULE, probe=PROBE)
    spec_failure = next((e for e in run.of("app-failed") if e["spec"].endswith(SPEC)), None)
    if spec_failure is not None and run.of("app-ready"):
        result.add(APP_FROM_SPEC, False, SPEC_FALLBACK.format(spec=SPEC, text=first_line(spec_failure["error"]["text"])) + " " + hint)
    answers = {a["request"]: a for a in runs.report(run, result, RUNS, MODULE, SPEC, OPERATION,
                                                        validator_map_hint(run) + hint)}
    if not answers:
        for name in (VALID_ACCEPTED, ONE_PROBLEM, ERRORS_ARRAY, EVERY_MISTAKE, NO_FALSE_ALARM):
            result.add(name, False, f"{runs.NOTHING_TO_CHECK} {hint}")
        return
    grade_valid(answers, result, hint)
    grade_invalid(answers, result, hint, run.of("option"))


def validator_map_hint(run) -> str:
    """When connexion broke down with the learner's VALIDATOR_MAP in place, say what shape it must have."""
    broke = (run.first("request-crashed") or (run.of("app-failed") and not run.of("app-ready"))
             or any(a.get("error") and "line" not in a["error"] for a in run.of("response")))
    crashed = run.first("request-crashed")
    if crashed and "'coroutine' object is not callable" in crashed["error"].get("text", ""):
        return COROUTINE + " "
    return VALIDATOR_MAP_SHAPE + " " if run.first("option") and broke else ""


def grade_valid(answers: dict, result: ExerciseResult, hint: str) -> None:
    issues = []
    for number, body in enumerate(VALID_ORDERS, start=1):
        answer = answers.get(number)
        if answer is not None and not 200 <= answer["status"] < 300:
            detail = problem_body(answer).get("detail")
            issues.append(VALID_REFUSED.format(body=json.dumps(body), status=answer["status"],
                                               detail=f" ({detail})" if isinstance(detail, str) else ""))
    if any("Multiple response content types" in issue for issue in issues):
        issues.append(SEVERAL_MEDIA_TYPES.format())
    result.add(VALID_ACCEPTED, not issues, "\n".join(issues) + " " + hint)


def problem_body(answer: dict) -> dict:
    try:
        body = json.loads(answer["body"])
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def grade_invalid(answers: dict, result: ExerciseResult, hint: str, options: list[dict] | None = None) -> None:
    shape, arrays, missed, alarms = [], [], [], []
    first_only, listed, answered = False, 0, 0
    for number, case in enumerate(cases(), start=len(VALID_ORDERS) + 1):
        answer = answers.get(number)
        if answer is None:
            continue
        answered += 1
        label = ", ".join(mistake.describe() for mistake in case)
        if answer["status"] not in (400, 422):
            shape.append((number, label, WRONG_STATUS.format(status=answer["status"])))
        elif issue := problem_issue(answer):
            shape.append((number, label, issue))
        body = problem_body(answer)
        if "errors" not in body and answer["status"] == 400 and body.get("title") == "Bad Request":
            first_only = True
        issues, entries = entry_issues(answer, body.get("errors"))
        arrays += [(number, label, issue) for issue in issues]
        if not isinstance(body.get("errors"), list):
            continue
        listed += 1
        unreported = [m.pointer for m in case if not any(covers(t, d, m) for t, _p, d in entries)]
        if unreported:
            missed.append((number, label, MISSED.format(pointers=", ".join(unreported))))
        for tokens, pointer, detail in entries:
            if not any(covers(tokens, detail, m) for m in case) and pointer not in ("/", "#/"):
                alarms.append((number, label, FALSE_ALARM.format(pointer=pointer, detail=detail[:80])))
    total = len(cases())
    if not answered:  # no verdict on answers that never came: never a tick beside a cross
        for name in (ONE_PROBLEM, ERRORS_ARRAY, EVERY_MISTAKE, NO_FALSE_ALARM):
            result.add(name, False, f"{NO_INVALID_ANSWERED} {hint}")
        return
    grouped = summarise([(number, issue) for number, _label, issue in shape], total, "invalid orders")
    accepted = any(status == WRONG_STATUS.format(status=201) for _n, _l, status in shape)
    plain = any(o.get("body_kind") == "dict" for o in options or [])
    fix = PLAIN_DICT if accepted and plain else ("Answer each with connexion's problem(...) or a ProblemException, "
                                                   "status 422 (or 400).")
    result.add(ONE_PROBLEM, not shape, f"{grouped}\n{fix} {hint}")
    message = f"{len(arrays)} problems in {total} answers:\n{lines(arrays)}"
    if first_only:
        message += "\n" + FIRST_ONLY
    result.add(ERRORS_ARRAY, not arrays, f"{message} {hint}")
    if not listed:
        result.add(EVERY_MISTAKE, False, f"{NOTHING_LISTED} {hint}")
        result.add(NO_FALSE_ALARM, False, f"{NOTHING_LISTED} {hint}")
        return
    result.add(EVERY_MISTAKE, not missed, f"{lines(missed)}\n{FIX_MISSED} {hint}")
    result.add(NO_FALSE_ALARM, not alarms, f"{lines(alarms)}\nPoint each entry at the member it is about. {hint}")


EXERCISE = Exercise(
    id="validation-errors",
    title="Answer one 422 problem listing every invalid member of an order",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=start,
)
