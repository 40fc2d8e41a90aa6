"""`correlation-id`: a W3C Trace Context trace, joined or started, passed on, returned and logged.

The checker sends GET /products/teapot-42/summary with a valid `traceparent`, without one,
and with malformed ones (W3C Trace Context Level 1, section 3.2: version 00 is exactly
`00-` 32 lowercase hex `-` 16 lowercase hex `-` 2 lowercase hex; an all-zero trace-id or
parent-id is invalid; version ff is invalid), and its crashing operation without one. Every
upstream request the service makes is answered at once by the parent, which keeps its
headers. Judged: the `traceresponse` of every answer, the `traceparent` of every upstream
request, the 500's `trace_id`, and the `trace_id` of every log record the module wrote.
"""

from __future__ import annotations

from checker.exercises import Exercise
from checker.exercises import services as common
from checker.exercises.common import lesson_hint
from checker.results import ExerciseResult
from checker.submission import Submission

LESSON = "10-Services-Calling-Services.ipynb"
SECTION = "Exercise correlation-id"
KEY = "correlation-id"
VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FAST = {"prices": {"after": 0.1, "status": 200}, "stock": {"after": 0.1, "status": 200}}

#: (name, traceparent sent, why it is not valid)
MALFORMED = [
    ("garbage", "hello", "not four fields"),
    ("uppercase", "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", "upper-case hex"),
    ("zero trace-id", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "an all-zero trace-id"),
    ("zero parent-id", "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "an all-zero parent-id"),
    ("version ff", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version ff, which is never valid"),
    ("short trace-id", "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01", "a trace-id of 30 digits, not 32"),
    ("not hex", "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01", "a `g` in the trace-id"),
    ("version 00, longer", VALID + "-what", "version 00 with more after the flags"),
]

KEEPS = "a valid traceparent is joined: its trace-id (and flags) in traceresponse and in every upstream call"
CHILD = "every upstream call carries a valid traceparent whose parent-id is this service's, not the caller's"
RESTARTS = "a missing or malformed traceparent starts a new trace, with a fresh random trace-id"
RETURNS = "every answer carries traceresponse: 00-<trace-id>-<span id>-<flags>"
ERRORS = "a 500's trace_id is the trace-id of its traceresponse"
LOGS = "every line your module logs during a request carries that request's trace_id"

FIX = {
    KEEPS: "In `start_trace(traceparent)`, keep the caller's trace-id (and flags) when the value is valid.",
    CHILD: ("Send `headers={\"traceparent\": current_trace().traceparent()}` with every upstream request: the same "
            "trace-id, and this service's own span id (`secrets.token_hex(8)`, made once per request) as parent-id."),
    RESTARTS: ("Accept only a value that matches `00-` + 32 + `-` + 16 + `-` + 2 lower-case hex digits in full "
               "(`re.fullmatch`), with neither id all zeros; for anything else (or nothing) start a new trace: "
               "`Trace(secrets.token_hex(16), secrets.token_hex(8), \"00\")`."),
    RETURNS: "Keep `TraceMiddleware` in `configure(app)`, placed with `MiddlewarePosition.BEFORE_EXCEPTION`: it adds "
             "`traceresponse` to every answer, errors included.",
    ERRORS: "Take the 500's `trace_id` from `current_trace()`, the trace the middleware started for this request.",
    LOGS: ("Add a `logging.Filter` to your logger (`log.addFilter(...)`) whose `filter(record)` sets "
           "`record.trace_id = current_trace().trace_id` and returns True; `get_summary()` logs at least one line "
           "per request (the starter's do)."),
}


def summary(name: str, traceparent: str | None) -> dict:
    return common.scenario(name, headers={"traceparent": traceparent} if traceparent is not None else {},
                           plan=FAST, sent=traceparent)


SCENARIOS = [
    summary("valid traceparent", VALID),
    summary("no traceparent", None),
    summary("no traceparent, again", None),
    *[summary(name, value) for name, value, _why in MALFORMED],
    common.scenario("crash, no traceparent", path=common.CRASH, sent=None),
    common.scenario("crash, valid traceparent", path=common.CRASH_ASYNC, headers={"traceparent": VALID}, sent=VALID),
]
WHY = {name: why for name, _value, why in MALFORMED}


def prestart(submission: Submission) -> None:
    common.start(submission, KEY, SCENARIOS)


def described(exchange: dict, scenario: dict) -> str:
    sent = scenario["sent"]
    path = scenario["path"].replace("{product}", "teapot-42")
    return f"GET {path} with " + (f"traceparent: {sent}" if sent is not None else "no traceparent")


def grade(submission: Submission, result: ExerciseResult) -> None:
    hint = lesson_hint(LESSON, SECTION)
    run = common.run_of(submission, KEY, SCENARIOS)
    answered = {exchange["name"]: exchange for exchange in common.report(run, result, hint)}
    issues: dict[str, list[str]] = {name: [] for name in FIX}
    traces: dict[str, str] = {}  #: scenario -> the trace-id of its answer
    for scenario in SCENARIOS:
        exchange = answered.get(scenario["name"])
        if exchange is None:
            continue
        what = described(exchange, scenario)
        returned = common.traceresponse(exchange)
        parsed = common.trace_of(returned)
        values = common.header_values(exchange, "traceresponse")
        kept = (values[0].split("-") + ["", ""])[1] if values else None
        sent_fields = (scenario["sent"] or "").split("-")
        if parsed is None and values and len(sent_fields) > 1 and kept == sent_fields[1]:
            issues[RESTARTS].append(f"{what} ({WHY.get(scenario['name'], 'malformed')}): the answer kept its "
                                    f"trace-id {kept[:40]} instead of starting a new trace (traceresponse: "
                                    f"{values[0][:80]})")
        elif parsed is None:
            issues[RETURNS].append(f"{what}: answered {exchange['status']} with " + (
                f"traceresponse: {', '.join(values)[:120]}" if values else "no traceresponse"))
        trace_id = parsed[0] if parsed else None
        if trace_id:
            traces[scenario["name"]] = trace_id
        judge_trace(scenario, exchange, trace_id, what, issues)
        judge_upstream(scenario, exchange, trace_id, what, issues)
        judge_logs(scenario, exchange, trace_id, what, issues)
    first, again = traces.get("no traceparent"), traces.get("no traceparent, again")
    if first and first == again:
        issues[RESTARTS].append(f"two requests without a traceparent both got the trace-id {first}: a new trace "
                                "needs a new random id every time")
    missing = [s["name"] for s in SCENARIOS if s["name"] not in answered]
    for name, found in issues.items():
        if missing and not answered:
            result.add(name, False, f"{common.nothing_to_check(run, missing[:2])} {hint}")
        else:
            result.add(name, not found, lines(found) + f"\n{FIX[name]} {hint}")


def judge_trace(scenario: dict, exchange: dict, trace_id: str | None, what: str, issues: dict) -> None:
    """The answer's trace: the caller's if valid, a new one otherwise; a 500 quotes it."""
    sent = scenario["sent"]
    if sent == VALID and trace_id is not None and trace_id != VALID.split("-")[1]:
        issues[KEEPS].append(f"{what}: traceresponse has the trace-id {trace_id}, not the caller's "
                             f"{VALID.split('-')[1]}")
    if sent != VALID and trace_id is not None:
        fields = (sent or "").split("-")
        if len(fields) > 1 and trace_id in (fields[1], fields[1].lower()):
            issues[RESTARTS].append(f"{what} ({WHY.get(scenario['name'], 'malformed')}): the answer kept its "
                                    f"trace-id {trace_id} instead of starting a new trace")
    if scenario["path"] in (common.CRASH, common.CRASH_ASYNC):
        body = common.body_of(exchange)
        quoted = body.get("trace_id") if isinstance(body, dict) else None
        if exchange["status"] != 500 or quoted is None:
            issues[ERRORS].append(f"{what}: answered {exchange['status']} without a `trace_id` member (see "
                                  "exercise error-formatter)")
        elif trace_id is not None and quoted != trace_id:
            issues[ERRORS].append(f"{what}: the problem says trace_id {str(quoted)[:60]!r}, traceresponse says "
                                  f"{trace_id}")


def judge_upstream(scenario: dict, exchange: dict, trace_id: str | None, what: str, issues: dict) -> None:
    """Every upstream call carries the request's trace, with this service's own parent-id."""
    if scenario["path"] != common.SUMMARY:
        return
    requests = exchange.get("requests", [])
    if not requests:
        issues[CHILD].append(f"{what}: your service made no upstream request (it should ask prices and stock)")
        return
    caller_parent = (scenario["sent"] or "").split("-")[2] if scenario["sent"] == VALID else None
    for request in requests:
        values = request.get("traceparent", [])
        label = f"{what}: its request to {request['url'][:80]}"
        parsed = common.trace_of(values[0]) if len(values) == 1 else None
        if not values:
            issues[CHILD].append(f"{label} carried no traceparent")
        elif parsed is None:
            issues[CHILD].append(f"{label} carried traceparent: {', '.join(values)[:120]}, which is not a valid "
                                 "version-00 value")
        elif scenario["sent"] == VALID and parsed[0] != VALID.split("-")[1]:
            issues[KEEPS].append(f"{label} carried the trace-id {parsed[0]}, not the caller's {VALID.split('-')[1]}")
        elif scenario["sent"] == VALID and parsed[2] != VALID.split("-")[3]:
            issues[KEEPS].append(f"{label} carried the flags {parsed[2]}, not the caller's {VALID.split('-')[3]}: "
                                 "pass the caller's flags on")
        elif caller_parent and parsed[1] == caller_parent:
            issues[CHILD].append(f"{label} passed on the caller's parent-id {caller_parent}: the parent of that "
                                 "call is your service, so send your own span id")
        elif trace_id and parsed[0] != trace_id:
            target = KEEPS if scenario["sent"] == VALID else RESTARTS
            issues[target].append(f"{label} carried the trace-id {parsed[0]}, but the answer's traceresponse has "
                                  f"{trace_id}: one request, one trace")
        else:
            continue
        break  # one line per request is enough


def judge_logs(scenario: dict, exchange: dict, trace_id: str | None, what: str, issues: dict) -> None:
    records = exchange.get("logs", [])
    if scenario["path"] == common.SUMMARY and not records:
        issues[LOGS].append(f"{what}: your module logged nothing (log a line per upstream answer, at INFO)")
    for record in records:
        line = f"{what}: the line {record.get('level')} {str(record.get('message'))[:60]!r}"
        if record.get("trace_id") is None:
            issues[LOGS].append(f"{line} has no trace_id attribute")
            break
        if trace_id and record["trace_id"] != trace_id:
            issues[LOGS].append(f"{line} has trace_id {record['trace_id'][:60]!r}, but the request's trace-id is "
                                f"{trace_id}")
            break


def lines(found: list[str], most: int = 4) -> str:
    shown = found[:most]
    if len(found) > most:
        shown.append(f"… and {len(found) - most} more")
    return "\n".join(shown)


EXERCISE = Exercise(
    id="correlation-id",
    title="A W3C Trace Context trace through every call: joined or started, passed on, returned and logged",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=prestart,
)
