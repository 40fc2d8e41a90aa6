"""`error-formatter`: one error format: every unexpected exception becomes a 500 problem, and nothing more.

The checker's copy of the service spec has two operations of its own (`checker.crash`,
`checker.crash_async`, functions of the shim's `virtual_time.py`) that raise exceptions whose text names a secret
and a file path. The learner's error handler, registered by `configure(app)`, must turn them
into a `500` problem (RFC 9457) carrying the request's `trace_id` and nothing of the exception,
log the exception with its traceback, and leave connexion's own answers (a 404) alone.
"""

from __future__ import annotations

from checker.exercises import Exercise
from checker.exercises import services as common
from checker.exercises.common import lesson_hint
from checker.exercises.runs import header_values
from checker.results import ExerciseResult
from checker.submission import Submission

LESSON = "10-Services-Calling-Services.ipynb"
SECTION = "Exercise error-formatter"
KEY = "error-formatter"
CALLER = "4bf92f3577b34da6a3ce929d0e0e4736"  #: the trace-id of the traceparent each request carries
SECRETS = ("checker-secret", "secret_settings", "secret_cache", "/srv/", "Traceback", 'File "')

ANSWERS_500 = "an unexpected exception answers 500 with an application/problem+json body"
NO_LEAK = "the 500 tells the client nothing of the exception: no message, traceback or file path"
TRACE_ID = "the 500 carries the request's `trace_id`"
LOGGED = "the exception is logged at level ERROR, with its traceback"
KEEPS = "connexion's own errors keep their status (an unknown path stays a 404)"

FIX_500 = ("In `configure(app)`, register `app.add_error_handler(Exception, unexpected_error)`, and let "
           "`unexpected_error(request, error)` return `problem(500, \"Internal Server Error\", ...)` from connexion.")
FIX_LEAK = ("Write a fixed `detail` of your own; never put `str(error)`, `repr(error)` or a traceback in the "
            "answer. The details belong in your log (see the next check).")
FIX_TRACE = ("Add the member with `problem(..., ext={\"trace_id\": trace_id})`, where `trace_id` is the trace-id "
             "of this request's trace: `current_trace().trace_id` (the middleware in services_api.py sets it).")
FIX_LOG = ("In the error handler, log the exception with `log.error(\"...\", exc_info=error)` (pass the exception "
           "itself: connexion may run a plain `def` handler in a worker thread, where `log.exception()` no longer "
           "sees it). Use services_api.py's `log`, or any logger of your module.")
FIX_KEEPS = ("Register your handler for `Exception` only: connexion's handlers for its own `HTTPException` and "
             "`ProblemException` are more specific and keep answering 404, 400 and the like.")


def traceparent(parent: str) -> dict:
    return {"traceparent": f"00-{CALLER}-{parent}-01"}


SCENARIOS = [
    common.scenario(common.CRASH, path=common.CRASH, headers=traceparent("00f067aa0ba902b7"), raises="RuntimeError"),
    common.scenario(common.CRASH_ASYNC, path=common.CRASH_ASYNC, headers=traceparent("b7ad6b7169203331"),
                    raises="KeyError"),
    common.scenario("/products/teapot-42/nothing", path="/products/{product}/nothing",
                    headers=traceparent("a3ce929d0e0e4736")),
]


def prestart(submission: Submission) -> None:
    common.start(submission, KEY, SCENARIOS)


def leaks(exchange: dict) -> list[str]:
    """The secrets of the checker's exception that reached the client."""
    text = exchange.get("body", "") + "\n" + "\n".join(v for _k, v in exchange.get("headers", []))
    return [secret for secret in SECRETS if secret.lower() in text.lower()]


def grade(submission: Submission, result: ExerciseResult) -> None:
    hint = lesson_hint(LESSON, SECTION)
    run = common.run_of(submission, KEY, SCENARIOS)
    answered = {exchange["name"]: exchange for exchange in common.report(run, result, hint)}
    crashes = [(s, answered.get(s["name"])) for s in SCENARIOS if "raises" in s]
    missing = [s["name"] for s, exchange in crashes if exchange is None]
    if missing or not crashes:
        for name in (ANSWERS_500, NO_LEAK, TRACE_ID, LOGGED):
            result.add(name, False, f"{common.nothing_to_check(run, missing)} {hint}")
    else:
        judge_crashes(crashes, result, hint)
    unknown = answered.get(SCENARIOS[2]["name"])
    if unknown is None:
        result.add(KEEPS, False, f"{common.nothing_to_check(run, [SCENARIOS[2]['name']])} {hint}")
    else:
        result.add(KEEPS, unknown["status"] == 404,
                   f"GET {SCENARIOS[2]['name']}, a path the spec does not have, answered {unknown['status']} "
                   f"instead of 404: {common.shown_body(unknown)}\n{FIX_KEEPS} {hint}")


def judge_crashes(crashes: list, result: ExerciseResult, hint: str) -> None:
    issues, leaked, traced, logged = [], [], [], []
    for scenario, exchange in crashes:
        what = f"GET {scenario['name']} (its handler raised {scenario['raises']})"
        body = common.body_of(exchange)
        if exchange["status"] != 500:
            issues.append(f"{what} answered {exchange['status']}, not 500")
        elif common.media_type(exchange) != "application/problem+json":
            types = header_values(exchange, "content-type")
            issues.append(f"{what}: Content-Type is {types[0] if types else 'missing'}, not application/problem+json")
        elif common.cut(exchange):
            issues.append(f"{what}: " + common.CUT.format(limit=common.BODY_LIMIT))
        elif not isinstance(body, dict) or body.get("status") != 500 or not isinstance(body.get("title"), str):
            issues.append(f"{what}: the body is not a problem with a `title` and `status: 500`: "
                          f"{common.shown_body(exchange)}")
        found = leaks(exchange)
        if found:
            leaked.append(f"{what}: the answer shows {', '.join(repr(s) for s in found)}: "
                          f"{common.shown_body(exchange)}")
        got = body.get("trace_id") if isinstance(body, dict) else None
        if got != CALLER and common.cut(exchange):
            traced.append(f"{what}: " + common.CUT.format(limit=common.BODY_LIMIT))
        elif got != CALLER:
            state = "has no `trace_id` member" if got is None else f"has `trace_id` {str(got)[:60]!r}"
            traced.append(f"{what}: the request's traceparent has the trace-id {CALLER}, but the problem {state}")
        records = exchange.get("logs", [])
        if not any(r.get("level") in ("ERROR", "CRITICAL") and r.get("exc") == scenario["raises"] for r in records):
            seen = "; ".join(f"{r.get('level')} {r.get('message', '')[:60]!r}"
                             + (f" with {r['exc']}" if r.get("exc") else " without the exception") for r in records[:4])
            logged.append(f"{what}: your code logged {seen or 'nothing'}")
    result.add(ANSWERS_500, not issues, "\n".join(issues) + f"\n{FIX_500} {hint}")
    result.add(NO_LEAK, not leaked, "\n".join(leaked) + f"\n{FIX_LEAK} {hint}")
    result.add(TRACE_ID, not traced, "\n".join(traced) + f"\n{FIX_TRACE} {hint}")
    result.add(LOGGED, not logged, "\n".join(logged) + f"\n{FIX_LOG} {hint}")


EXERCISE = Exercise(
    id="error-formatter",
    title="One error format: every unexpected exception becomes a 500 problem with the request's trace_id",
    lesson=LESSON,
    points=2,
    grade=grade,
    prestart=prestart,
)
