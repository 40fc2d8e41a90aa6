"""`rate-limit`: GET /quote allows q requests per w-second window, then answers a 429 problem.

YAML: the spec declares the 429 (problem+json, Retry-After, RateLimit, RateLimit-Policy)
and the RateLimit fields on the 200. Code: `checker.drivers.ratelimit` has the sandbox swap the
module's `clock` for one the checker sets before each request, and plays a script of requests across windows
(see its docstring); q and w are read from the learner's own RateLimit-Policy,
so the checker holds the code to the policy it advertises.
"""

from __future__ import annotations

import json

from checker.exercises import Exercise
from checker.exercises.common import follow_or_report, lesson_hint, load_document
from checker.exercises.headers_impl import retry_after_valid
from checker.exercises.headers_spec import schema_admits_delay_seconds
from checker.exercises.problem_schema import spec_basics
from checker.exercises.validation_errors import first_line
from checker.exercises import runs
from checker.exercises.runs import header_values, problem_issue, summarise
from checker.drivers.fields import FieldError, Token, parse_field
from checker.results import ExerciseResult
from checker.spec import Document, get_ci, where_in
from checker.submission import Submission

LESSON = "06-Rate-Limits.ipynb"
SECTION = "Exercise rate-limit"
SPEC = "ex-05-02-ratelimit.yaml"
MODULE = "ratelimit_api"
PATH = "/quote"
OPERATION = "GET /quote"
PROBE_KEY = "rate-limit"
PROBE = "checker.drivers.ratelimit:run"
REFERENCE_SPEC = "reference:quote.oas3.yaml"  #: the checker's own spec, as checker.worker.Shim.spec names it
DEFAULT_QUOTA, DEFAULT_WINDOW = 5, 60  #: what the exercise suggests; used when no policy can be read
MAX_QUOTA = 100  #: the checker sends q+1 requests per window, twice
SHOWN_LINES = 6

SPEC_429 = "GET /quote declares a 429 problem with Retry-After, RateLimit and RateLimit-Policy"
SPEC_200 = "GET /quote's 200 declares RateLimit and RateLimit-Policy"
RUNS = "ratelimit_api.py imports and GET /quote answers every request"
APP_FROM_SPEC = "your spec and ratelimit_api.py build a connexion app"
CLOCK = "ratelimit_api.py reads the time through its module-level `clock`"
POLICY = "every response carries RateLimit-Policy, e.g. \"anonymous\";q=5;w=60"
WITHIN_QUOTA = "the first q requests of a window are served (200)"
RATELIMIT = "every response carries RateLimit, its r counting down to 0"
REFUSED = "request q+1 of a window is refused with a 429 problem"
RETRY_AFTER = "the 429 carries Retry-After: whole seconds, from 1 to w"
HOLDS = "the limit holds until Retry-After has passed"
RESTORED = "after Retry-After, and in a new window, service is restored"

NO_OPERATION = "{where}: there is no `GET /quote`; keep the path and operation of the starter file."
NO_429 = ("{where}: GET /quote lists responses {codes} but no \"429\". Add one with a description, the headers "
          "Retry-After, RateLimit and RateLimit-Policy, and `application/problem+json` content.")
MISSING_HEADERS = "{where}: the {code} response has no {names} under `headers:`; $ref the definitions in `components: headers:`."
NOT_PROBLEM = "{where}: the 429 response's content is {media}; make it `application/problem+json` with a Problem schema."
RETRY_AFTER_SCHEMA = "{where}: Retry-After's schema does not admit delay-seconds such as 120; use `{{type: integer, minimum: 0}}`."
FIELD_SCHEMA = "{where}: {name}'s schema does not admit a string such as '{example}'; a structured field is `type: string`."
SPEC_FALLBACK = ("connexion could not build the app from oas3/{spec} ({text}); the code was graded with the checker's "
                 "copy of the quote spec instead. Fix the spec first (the checks above say where).")
NO_CLOCK = ("ratelimit_api.py's module-level `clock` {found}, so the checker could not move time forward. "
            "Keep `clock = time.monotonic` at module level and call `clock()` whenever you need the time.")
CLOCK_UNREAD = ("get_quote() never called clock(). A rate limit needs the time, and the checker can only move "
                "it forward through `clock()`: call `clock()`, not time.monotonic() or time.time().")
QUOTA_TOO_LARGE = ("your policy advertises q={quota}; the checker sends q+1 requests per window and stops above "
                   "{most}. Choose a smaller quota, such as 5.")
POLICY_MISSING = "there is no RateLimit-Policy header"
POLICY_BROKEN = "RateLimit-Policy {value!r} is not a Structured Field List: {error}"
POLICY_TOKEN = "RateLimit-Policy {value!r} names its policy with a token; the draft wants a string: \"{name}\""
POLICY_PARAMS = "RateLimit-Policy {value!r} needs integer parameters q (the quota, > 0) and w (the window in seconds, > 0)"
POLICY_CHANGES = "RateLimit-Policy changed from {first!r} to {value!r}; a policy stays the same from response to response"
FALLBACK_POLICY = ("Without a readable policy the checker assumed q={quota}, w={window}. Send e.g. "
                   "`RateLimit-Policy: \"anonymous\";q=5;w=60` on every response.")
RATELIMIT_MISSING = "there is no RateLimit header"
RATELIMIT_BROKEN = "RateLimit {value!r} is not a Structured Field List: {error}"
RATELIMIT_UNKNOWN = "RateLimit {value!r} names no policy of RateLimit-Policy (expected \"{names}\")"
RATELIMIT_R = "RateLimit {value!r}: r should be {expected} ({why})"
RATELIMIT_T = "RateLimit {value!r}: t must be an integer from 0 to w={window} (seconds until more quota is available)"
WRONG_STATUS = "answered {status}, expected {expected}"
RA_MISSING = "the 429 has no Retry-After"
RA_INVALID = "Retry-After {value!r} is not whole seconds (digits only, e.g. \"60\")"
RA_DATE = ("Retry-After {value!r} is an HTTP-date; send delay-seconds instead (e.g. \"60\"), which need no clock "
           "agreement between client and server and match RateLimit's t")
RA_RANGE = "Retry-After is {value} s; after a refusal it must be at least 1 s and at most the window, w={window} s"
RA_BEFORE_T = ("Retry-After is {value} s but RateLimit says more quota comes in t={t} s; Retry-After must not come "
               "earlier")
HOLDS_FAILED = ("half-way through the Retry-After wait (at +{at:g} s) the request was served: Retry-After ({wait} s) "
                "is longer than the real wait. Compute it from when the window ends.")
AFTER_RETRY_REFUSED = ("refused at +0.5 s, the client waited the {wait} s Retry-After asked for, came back at +{at:g} s "
                       "and got {status} again ({detail}). Round Retry-After up (math.ceil), and start a new window "
                       "once w seconds have passed.")
AFTER_WINDOW_REFUSED = ("refused at +0.5 s, the client came back a whole window later (at +{at:g} s, w={window} s) and "
                        "got {status} again ({detail}): start a new window once w seconds have passed.")
FRESH_REFUSED = ("ten windows later (at +{at:g} s), request {n} of {quota} got {status} ({detail}): a new window "
                 "restores the whole quota.")
WINDOW_END_REFUSED = ("at exactly +{at:g} s, w={window} s after the last window began, the request got {status} "
                      "({detail}): once w seconds have passed a new window starts, so compare with `>=`, not `>`.")
RATELIMIT_T_LEFT = ("RateLimit {value!r} at +{at:g} s, half-way through the wait: t={t}, but Retry-After says {wait} s. "
                    "On a refusal both say when quota is back: t is the seconds left in the window, like Retry-After")
FIX_CLOCK = "\nTime only moves for your code through `clock()` (see the clock check above)."

SCRIPT_LABELS = {"window-1": "first window", "over": "request q+1", "holds": "during the wait",
                 "after-retry": "after Retry-After", "fresh": "a new window", "fresh-over": "request q+1 of the new window",
                 "window-end": "exactly w after the new window began"}


# -- the spec ---------------------------------------------------------------------------------


def header_issues(document: Document, response, base: str, shown: str, where, code: str, names: tuple) -> list[str]:
    """Missing headers of a response, and headers whose schema cannot hold their values."""
    headers = response.get("headers") if isinstance(response, dict) else None
    missing = [name for name in names if get_ci(headers, name) is None]
    issues = []
    if missing:
        issues.append(MISSING_HEADERS.format(where=where, code=code, names=" and ".join(missing)))
    for name, example in (("Retry-After", None), ("RateLimit", '"anonymous";r=3;t=42'),
                          ("RateLimit-Policy", '"anonymous";q=5;w=60')):
        found = get_ci(headers, name) if name in names else None
        if found is None:
            continue
        try:
            header, header_base, header_shown = document.follow(found[1], base, shown)
            schema = document.follow(header.get("schema"), header_base, header_shown)[0] if isinstance(header, dict) else None
        except Exception:  # noqa: BLE001 - broken refs are reported by the basics
            continue
        header_where = where_in(headers, shown, found[0])
        if name == "Retry-After" and not schema_admits_delay_seconds(schema):
            issues.append(RETRY_AFTER_SCHEMA.format(where=header_where))
        elif example and not admits_string(schema, example):
            issues.append(FIELD_SCHEMA.format(where=header_where, name=name, example=example))
    return issues


def admits_string(schema, example: str) -> bool:
    from openapi_schema_validator import OAS30Validator

    try:
        return isinstance(schema, dict) and OAS30Validator(schema).is_valid(example)
    except Exception:  # noqa: BLE001 - a malformed schema admits nothing we can tell
        return False


def grade_spec(submission: Submission, result: ExerciseResult, hint: str) -> None:
    document = load_document(submission, SPEC, result, SECTION)
    if document is None or not spec_basics(document, result, hint):
        return
    paths = document.data.get("paths") if isinstance(document.data.get("paths"), dict) else {}
    followed = follow_or_report(document, paths.get(PATH), document.uri, document.shown_as, result, SPEC_429) if PATH in paths else None
    operation = followed[0].get("get") if followed and isinstance(followed[0], dict) else None
    if not isinstance(operation, dict):
        where = where_in(paths or document.data, document.shown_as, PATH if PATH in paths else None)
        for name in (SPEC_429, SPEC_200):
            result.add(name, False, NO_OPERATION.format(where=where) + hint)
        return
    base, shown = followed[1], followed[2]
    responses = operation.get("responses") if isinstance(operation.get("responses"), dict) else {}
    for code, name, headers in (("429", SPEC_429, ("Retry-After", "RateLimit", "RateLimit-Policy")),
                                ("200", SPEC_200, ("RateLimit", "RateLimit-Policy"))):
        if code not in responses:
            codes = ", ".join(f'"{c}"' for c in responses) or "nothing"
            result.add(name, False, NO_429.format(where=where_in(operation, shown, "responses"), codes=codes) + hint
                       if code == "429" else MISSING_HEADERS.format(where=where_in(operation, shown, "responses"),
                                                                    code=code, names="a \"200\" response and its headers") + hint)
            continue
        response = follow_or_report(document, responses[code], base, shown, result, name)
        if response is None:
            continue
        where = where_in(responses, shown, code)
        issues = header_issues(document, *response, where, code, headers)
        if code == "429":
            content = response[0].get("content") if isinstance(response[0], dict) else None
            media = [str(m).split(";")[0].strip().lower() for m in content] if isinstance(content, dict) else []
            if "application/problem+json" not in media:
                issues.append(NOT_PROBLEM.format(where=where, media=", ".join(media) or "missing"))
        result.add(name, not issues, "\n".join(issues) + hint)


# -- the code ---------------------------------------------------------------------------------


def start(submission: Submission) -> None:
    submission.start_probe(PROBE_KEY, module=MODULE, probe=PROBE, specs=[SPEC, REFERENCE_SPEC],
                           path=PATH, quota=DEFAULT_QUOTA, window=DEFAULT_WINDOW, max_quota=MAX_QUOTA)


def shorten(text: str, most: int = 120) -> str:
    """A header value as a message quotes it: whole when short, else its start and its length."""
    return text if len(text) <= most else f"{text[:most - 20]}… ({len(text):,} characters)"


def lines(issues: list[str]) -> str:
    shown = issues[:SHOWN_LINES]
    if len(issues) > SHOWN_LINES:
        shown.append(f"… and {len(issues) - SHOWN_LINES} more")
    return "\n".join(shown)


def summary(issues: list[tuple[int, str]], total: int) -> str:
    """`summarise`, one line per kind of issue, cut after a few kinds."""
    return lines(summarise(issues, total, "responses").splitlines())


def label(answer: dict) -> str:
    return f"request #{answer['request']} ({SCRIPT_LABELS.get(answer['phase'], answer['phase'])}, at +{answer['at']:g} s)"


def detail_of(answer: dict) -> str:
    try:
        body = json.loads(answer["body"])
    except ValueError:
        return answer["body"][:120] or "an empty body"
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"][:160]
    return answer["body"][:120]


def policy_issue(answer: dict, first: list) -> str | None:
    """Why an answer's RateLimit-Policy is not a usable policy; `first` keeps the first value seen."""
    values = header_values(answer, "ratelimit-policy")
    if not values:
        return POLICY_MISSING
    value = shorten(", ".join(values))
    try:
        items = parse_field(values)
    except FieldError as error:
        return POLICY_BROKEN.format(value=value, error=error)
    item = items[0]
    if isinstance(item.value, Token):
        return POLICY_TOKEN.format(value=value, name=item.value)
    quota, window = item.params.get("q"), item.params.get("w")
    if not isinstance(item.value, str) or not all(type(x) is int and x > 0 for x in (quota, window)):
        return POLICY_PARAMS.format(value=value)
    if not first:
        first.append(value)
    elif first[0] != value:
        return POLICY_CHANGES.format(first=first[0], value=value)
    return None


def policy_names(answers: list[dict]) -> set[str]:
    names = set()
    for answer in answers:
        try:
            names |= {item.value for item in parse_field(header_values(answer, "ratelimit-policy"))
                      if isinstance(item.value, str)}
        except FieldError:
            continue
    return names


def ratelimit_issue(answer: dict, names: set, expected: int | None, why: str, window: int) -> str | None:
    values = header_values(answer, "ratelimit")
    if not values:
        return RATELIMIT_MISSING
    value = shorten(", ".join(values))
    try:
        items = parse_field(values)
    except FieldError as error:
        return RATELIMIT_BROKEN.format(value=value, error=error)
    item = next((i for i in items if isinstance(i.value, str) and (not names or i.value in names)), None)
    if item is None:
        return RATELIMIT_UNKNOWN.format(value=value, names='", "'.join(sorted(names)) or "anonymous")
    remaining, reset = item.params.get("r"), item.params.get("t", 0)
    if type(remaining) is not int or remaining < 0 or (expected is not None and remaining != expected):
        return RATELIMIT_R.format(value=value, expected=expected if expected is not None else "a whole number ≥ 0", why=why)
    if type(reset) is not int or not 0 <= reset <= window:
        return RATELIMIT_T.format(value=value, window=window)
    return None


def expected_remaining(answers: list[dict], quota: int) -> list[tuple[dict, int | None, str]]:
    """Each answer with the r it should carry, and why."""
    out, used = [], {"window-1": 0, "fresh": 0, "window-end": 0}
    for answer in answers:
        phase = answer["phase"]
        if phase in used:
            used[phase] += 1
            n = used[phase]
            out.append((answer, max(quota - n, 0), f"q={quota} minus the {n} request{'s' * (n > 1)} of this window"))
        elif phase == "after-retry":
            out.append((answer, None, ""))
        else:
            out.append((answer, 0, "the quota is used up"))
    return out


def grade_code(submission: Submission, result: ExerciseResult, hint: str) -> None:
    run = submission.probe_run(PROBE_KEY, module=MODULE, probe=PROBE)
    spec_failure = next((e for e in run.of("app-failed") if e["spec"].endswith(SPEC)), None)
    if spec_failure is not None and run.of("app-ready"):
        result.add(APP_FROM_SPEC, False, SPEC_FALLBACK.format(spec=SPEC, text=first_line(spec_failure["error"]["text"])) + " " + hint)
    answers = runs.report(run, result, RUNS, MODULE, SPEC, OPERATION, hint)
    clock = run.first("clock")
    clock_ok = bool(clock and clock["found"]) and any(a.get("clock_reads") for a in answers)
    if clock is not None:
        if not clock["found"]:
            found = f"is a {clock['kind']}, not a function" if clock["kind"] else "is missing"
            result.add(CLOCK, False, NO_CLOCK.format(found=found) + " " + hint)
        elif answers:
            result.add(CLOCK, clock_ok, CLOCK_UNREAD + " " + hint)
    if not answers:
        for name in (POLICY, WITHIN_QUOTA, RATELIMIT, REFUSED, RETRY_AFTER, HOLDS, RESTORED):
            result.add(name, False, f"{runs.NOTHING_TO_CHECK} {hint}")
        return
    fix_clock = "" if clock_ok else FIX_CLOCK
    policy = run.first("policy") or {"quota": DEFAULT_QUOTA, "window": DEFAULT_WINDOW, "advertised": False}
    quota, window = policy["quota"], policy["window"]
    first: list = []
    judged = [a for a in answers if not a.get("error")]  # a response to a crash is the runs check's business
    issues = [(a["request"], issue) for a in judged if (issue := policy_issue(a, first))]
    notes = [QUOTA_TOO_LARGE.format(quota=quota, most=MAX_QUOTA)] if quota > MAX_QUOTA else []
    if not policy["advertised"]:
        notes.append(FALLBACK_POLICY.format(quota=quota, window=window))
    result.add(POLICY, not issues and not notes, "\n".join([summary(issues, len(answers)), *notes]).strip()
               + " " + hint, info=f"q={quota} requests per w={window} s")
    if quota > MAX_QUOTA:
        return
    by_phase: dict[str, list[dict]] = {}
    for answer in answers:
        by_phase.setdefault(answer["phase"], []).append(answer)

    within = [a for a in by_phase.get("window-1", []) if a["status"] != 200]
    result.add(WITHIN_QUOTA, not within, lines([f"{label(a)}: {WRONG_STATUS.format(status=a['status'], expected=200)} "
                                                f"({detail_of(a)})" for a in within]) + " " + hint)

    names = policy_names(answers)
    issues = [(a["request"], issue) for a, expected, why in expected_remaining(answers, quota) if not a.get("error")
              and (issue := ratelimit_issue(a, names, expected if a["status"] in (200, 429) else None, why, window))]
    issues += [(a["request"], issue) for a in by_phase.get("holds", []) if (issue := t_disagrees(a, names))]
    result.add(RATELIMIT, not issues, summary(issues, len(answers)) + "\nSend e.g. `RateLimit: \"anonymous\";r=2;t=41` on every "
               "response: r requests of quota available, t seconds until more is available. " + hint)

    refusals = by_phase.get("over", []) + by_phase.get("fresh-over", [])
    issues = [f"{label(a)}: {WRONG_STATUS.format(status=a['status'], expected=429)}" if a["status"] != 429
              else f"{label(a)}: {problem_issue(a)}" for a in refusals if a["status"] != 429 or problem_issue(a)]
    if not refusals:
        issues.append("no request beyond the quota was answered (see above).")
    result.add(REFUSED, not issues, lines(issues) + "\nAnswer with connexion's problem(status=429, ...). " + hint)

    issues = [f"{label(a)}: {issue}" for a in refusals if a["status"] == 429 and (issue := retry_after_issue(a, window))]
    if not any(a["status"] == 429 for a in refusals):
        issues.append("no 429 came back, so Retry-After could not be checked.")
    result.add(RETRY_AFTER, not issues, lines(issues) + "\nSend the whole seconds until the window ends, rounded up "
               "(math.ceil), e.g. `Retry-After: 60`. " + hint)

    holds = by_phase.get("holds", [])
    over = (by_phase.get("over") or [None])[0]
    issues = [HOLDS_FAILED.format(at=a["at"], wait=retry_seconds(over)) for a in holds if a["status"] != 429]
    if not holds:
        issues.append("no usable Retry-After came back, so this could not be checked (see above).")
    result.add(HOLDS, not issues, lines(issues) + " " + hint)

    issues = []
    for answer in by_phase.get("after-retry", []):
        if answer["status"] != 200:
            template = AFTER_RETRY_REFUSED if holds else AFTER_WINDOW_REFUSED
            issues.append(template.format(wait=retry_seconds(over), at=answer["at"], window=window,
                                          status=answer["status"], detail=detail_of(answer)))
    for number, answer in enumerate(by_phase.get("fresh", []), start=1):
        if answer["status"] != 200:
            issues.append(FRESH_REFUSED.format(at=answer["at"], n=number, quota=quota, status=answer["status"],
                                               detail=detail_of(answer)))
    for answer in by_phase.get("window-end", []):
        if answer["status"] != 200:
            issues.append(WINDOW_END_REFUSED.format(at=answer["at"], window=window, status=answer["status"],
                                                    detail=detail_of(answer)))
    if not by_phase.get("after-retry"):
        issues.append("the checker did not get that far (see above).")
    result.add(RESTORED, not issues, lines(issues) + fix_clock + " " + hint)


def t_disagrees(answer: dict, names: set) -> str | None:
    """On a refusal inside the window, t and Retry-After both say when quota is back: they must agree."""
    values = header_values(answer, "retry-after")
    try:
        items = parse_field(header_values(answer, "ratelimit"))
    except FieldError:
        return None  # reported by ratelimit_issue
    item = next((i for i in items if isinstance(i.value, str) and (not names or i.value in names)), None)
    reset = item.params.get("t") if item else None
    if answer["status"] != 429 or len(values) != 1 or not values[0].strip().isdigit() or type(reset) is not int:
        return None
    wait = int(values[0])
    if wait - 1 <= reset <= wait:
        return None
    return RATELIMIT_T_LEFT.format(value=", ".join(header_values(answer, "ratelimit")), at=answer["at"], t=reset,
                                   wait=wait)


def retry_seconds(answer: dict | None):
    values = header_values(answer, "retry-after") if answer else []
    return values[0] if values else "?"


def retry_after_issue(answer: dict, window: int) -> str | None:
    values = header_values(answer, "retry-after")
    if not values:
        return RA_MISSING
    value = values[0].strip()
    if len(values) == 1 and not value.isdigit() and retry_after_valid(value):
        return RA_DATE.format(value=value)
    if len(values) > 1 or not value.isdigit():
        return RA_INVALID.format(value=", ".join(values))
    if not 1 <= int(value) <= window:
        return RA_RANGE.format(value=value, window=window)
    try:
        items = parse_field(header_values(answer, "ratelimit"))
    except FieldError:
        return None
    reset = next((i.params.get("t") for i in items if type(i.params.get("t")) is int), None)
    if reset is not None and int(value) < reset:
        return RA_BEFORE_T.format(value=value, t=reset)
    return None


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Check the spec's promises, then drive the code with a fake clock."""
    hint = " " + lesson_hint(LESSON, SECTION)
    grade_spec(submission, result, hint)
    grade_code(submission, result, hint.strip())


EXERCISE = Exercise(
    id="rate-limit",
    title="Limit GET /quote to q requests per window: 429, Retry-After and the RateLimit fields",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=start,
)
