"""`fan-out-deadline`: both upstreams called through their descriptions, at once, each within its timeout, under a deadline.

The parent plays the prices and stock services at the addresses and paths of its own copies of
their descriptions (`checker/reference/upstream-*.checker.yaml`, staged in place of the
learner's), and owns the clock (`checker.drivers.services`): an answer "after 0.8 s" reaches the
learner's code only once the parent's clock says so, and the time a summary took is the parent's
reading when the answer arrived. So "in parallel", "its own timeout", "the deadline", "never
hangs" and "no retries" are all judged on what the parent saw, without waiting for any of it.
No scenario sits on a limit: every answer comes at least 0.1 s before or after one.
"""

from __future__ import annotations

import json

from checker.drivers import services as driver
from checker.exercises import Exercise
from checker.exercises import services as common
from checker.exercises.common import lesson_hint
from checker.exercises.runs import header_values
from checker.results import ExerciseResult
from checker.submission import Submission

LESSON = "11-Parallel-Calls-With-Deadlines.ipynb"
SECTION = "Exercise fan-out-deadline"
KEY = "fan-out-deadline"
TIMEOUTS = {"prices": 1.0, "stock": 4.0}  #: what the lesson prescribes
DEADLINE = 2.5
SLACK = 0.05  #: seconds past a limit still counted as on time (the clock moves in exact steps)
AT_ONCE = 0.01  #: the second upstream request must leave within this of the first


def ok(after: float) -> dict:
    return {"after": after, "status": 200}


def failing(status: int, after: float = 0.1) -> dict:
    return {"after": after, "status": status}


NEVER, REFUSED = {"never": True}, {"refuse": True}

#: name, plan, missing upstreams expected ("both": a 503), the latest the answer may come
SCENARIOS = [
    common.scenario("both answer", plan={"prices": ok(0.2), "stock": ok(0.3)}, missing=[], latest=0.3),
    common.scenario("prices after 0.8 s, stock after 0.9 s", plan={"prices": ok(0.8), "stock": ok(0.9)}, missing=[],
                    latest=0.9, parallel=True),
    common.scenario("prices after 0.9 s, within its 1 s", plan={"prices": ok(0.9), "stock": ok(0.3)}, missing=[],
                    latest=0.9),
    common.scenario("stock after 2.2 s, within its 4 s and the deadline", plan={"prices": ok(0.2), "stock": ok(2.2)},
                    missing=[], latest=2.2),
    common.scenario("prices never answers", plan={"prices": NEVER, "stock": ok(0.3)}, missing=["prices"],
                    latest=TIMEOUTS["prices"], own_timeout="prices"),
    common.scenario("stock never answers", plan={"prices": ok(0.2), "stock": NEVER}, missing=["stock"],
                    latest=DEADLINE),
    common.scenario("stock answers 503 with Retry-After: 30", plan={"prices": ok(0.3), "stock": failing(503)},
                    missing=["stock"], latest=0.3),
    common.scenario("prices refuses the connection", plan={"prices": REFUSED, "stock": ok(0.3)}, missing=["prices"],
                    latest=0.3),
    common.scenario("prices answers 500", plan={"prices": failing(500, 0.2), "stock": ok(0.2)}, missing=["prices"],
                    latest=0.2),
    common.scenario("both answer 503", plan={"prices": failing(503), "stock": failing(503)},
                    missing=["prices", "stock"], latest=0.1),
    common.scenario("neither answers", plan={"prices": NEVER, "stock": NEVER}, missing=["prices", "stock"],
                    latest=DEADLINE),
]

SPEC_DRIVEN = "every upstream call goes where the upstream's OpenAPI description puts its operation"
PARALLEL = "both upstreams are asked at once: a summary takes as long as the slower answer, not the sum"
OWN_TIMEOUTS = "each upstream has its own timeout: prices 1 s, stock 4 s"
DEADLINE_CHECK = "a summary never takes longer than the 2.5 s deadline, and never hangs"
ANSWERS = "the answer: both bodies and `missing: []`, or what came with `missing` naming what did not"
UNAVAILABLE = "when neither upstream answers: a 503 problem with Retry-After"
NO_RETRY = "each upstream is asked once per summary: no retries"

SYNC_SUMMARY = ("get_summary() is a plain `def`: a blocking call waits for one answer at a time. Make it "
                "`async def get_summary(productId)` and call the upstreams with an `httpx.AsyncClient`.")

FIX = {
    SPEC_DRIVEN: ("Look the operation up in `UPSTREAMS[api]` (loaded from oas3/upstream-*.yaml): find the path whose "
                  "operation has that `operationId`, fill in `{productId}`, and put `servers[0].url` in front. Hard-code "
                  "no address and no path: the checker serves the upstreams elsewhere, under its own copies of those "
                  "files."),
    PARALLEL: ("Start both calls before awaiting either: `asyncio.create_task(...)` for each, then "
               "`asyncio.wait(tasks, timeout=DEADLINE)` (or `asyncio.gather`)."),
    OWN_TIMEOUTS: ("Give each call its own limit: `timeout=TIMEOUTS[api]` on the request, or "
                   "`asyncio.wait_for(call, TIMEOUTS[api])`; and treat a timeout like any failure of that upstream."),
    DEADLINE_CHECK: ("Wait for both calls together at most `DEADLINE` seconds "
                     "(`await asyncio.wait(tasks, timeout=DEADLINE)`), then answer with what is done and cancel the "
                     "rest. A request without a timeout to a server that never answers waits for ever."),
    ANSWERS: ("Answer 200 with `{\"productId\": ..., \"price\": <prices' JSON body or null>, \"stock\": <stock's JSON "
              "body or null>, \"missing\": [<\"prices\" and/or \"stock\", for each that did not answer 200 in time>]}`."),
    UNAVAILABLE: ("When both are missing, return `problem(503, \"Service Unavailable\", ..., headers={\"Retry-After\": "
                  "str(RETRY_AFTER)})`: whole seconds, such as 5."),
    NO_RETRY: ("Make one request to each upstream per summary. Retrying inside a 2.5 s deadline gains little, and if "
               "every layer retries, one click becomes many requests at the bottom: leave retries to the client."),
}


def prestart(submission: Submission) -> None:
    common.start(submission, KEY, SCENARIOS)


def requests_of(exchange: dict, api: str) -> list[dict]:
    return [r for r in exchange.get("requests", []) if r.get("api") == api]


def describe(exchange: dict | None, scenario: dict) -> str:
    if exchange is None:
        return "no answer"
    if "status" not in exchange:
        how = {"waited-forever": "no answer: your code waited for ever"}.get(exchange.get("ended"), "no answer")
        return how
    return f"{exchange['status']} after {exchange['elapsed']:g} s: {common.shown_body(exchange, 140)}"


def grade(submission: Submission, result: ExerciseResult) -> None:
    hint = lesson_hint(LESSON, SECTION)
    run = common.run_of(submission, KEY, SCENARIOS)
    common.report(run, result, hint)
    exchanges = {e["name"]: e for e in run.of("exchange")}
    if not exchanges:
        for name in FIX:
            result.add(name, False, f"{common.nothing_to_check(run, [SCENARIOS[0]['name']])} {hint}")
        return
    issues: dict[str, list[str]] = {name: [] for name in FIX}
    ready = run.first("service-ready")
    blocking = bool(ready) and ready.get("async_summary") is False
    if blocking:
        issues[PARALLEL].append(SYNC_SUMMARY)
    for scenario in SCENARIOS:
        exchange = exchanges.get(scenario["name"])
        if exchange is None:
            continue
        judge(scenario, exchange, issues, blocking)
    for name, found in issues.items():
        result.add(name, not found, lines(found) + f"\n{FIX[name]} {hint}")


def judge(scenario: dict, exchange: dict, issues: dict, blocking: bool = False) -> None:
    """Every check's view of one scenario (`blocking`: get_summary is a plain def, whose waits the checker cannot play)."""
    name, missing = scenario["name"], scenario["missing"]
    what = f"{name}: GET /products/teapot-42/summary"
    requests = exchange.get("requests", [])
    for request in requests:
        api = request.get("api")
        if not request.get("described") or request.get("operation") != driver.OPERATIONS.get(api):
            expected = (driver.expected_url(api, "teapot-42") if api else
                        " or ".join(driver.expected_url(a, "teapot-42") for a in driver.OPERATIONS))
            other = (f", which is {request['operation']} there" if request.get("described") else "")
            issues[SPEC_DRIVEN].append(f"{what} called {request['method']} {request['url']}{other}; the description "
                                       f"the checker serves puts {driver.OPERATIONS.get(api, 'them')} at {expected}")
            break
    for api in driver.OPERATIONS:
        asked = requests_of(exchange, api)
        if len(asked) > 1:
            issues[NO_RETRY].append(f"{what} asked {api} {len(asked)} times (at " +
                                    ", ".join(f"+{r['at']:g} s" for r in asked[:5]) + ")")
    if exchange.get("stopped") == "flooded" and not any(len(requests_of(exchange, a)) > 1 for a in driver.OPERATIONS):
        issues[NO_RETRY].append(f"{what} kept sending requests until the checker stopped it")
    times = sorted(r["at"] for r in requests if r.get("api"))
    one_after_the_other = len(times) >= 2 and times[1] - times[0] > AT_ONCE
    retried = any(len(requests_of(exchange, api)) > 1 for api in driver.OPERATIONS)
    if one_after_the_other and not retried:
        issues[PARALLEL].append(f"{what}: the first upstream was asked at +{times[0]:g} s and the second only at "
                                f"+{times[1]:g} s, once the first had answered: ask both at once")
    if "status" not in exchange:
        if exchange.get("ended") == "waited-forever" or exchange.get("stopped") == "waited-forever":
            issues[DEADLINE_CHECK].append(f"{what} never answered: your code waited for ever for an upstream that "
                                          "does not answer")
        return
    elapsed = exchange["elapsed"]
    late = elapsed > scenario["latest"] + SLACK
    if (one_after_the_other or retried) and scenario["latest"] < DEADLINE:
        late = False  # the calls were not made at once, or were repeated: the checks above say so
    if late and scenario.get("parallel"):
        issues[PARALLEL].append(f"{what} took {elapsed:g} s; asked at once, the answers are all in after "
                                f"{scenario['latest']:g} s")
    elif late and scenario.get("own_timeout"):
        api = scenario["own_timeout"]
        issues[OWN_TIMEOUTS].append(f"{what} took {elapsed:g} s: the {api} service's own timeout is "
                                    f"{TIMEOUTS[api]:g} s, so the answer should come after {scenario['latest']:g} s")
    elif late and scenario["latest"] == DEADLINE:
        issues[DEADLINE_CHECK].append(f"{what} took {elapsed:g} s, past the {DEADLINE:g} s deadline")
    elif late:
        issues[PARALLEL].append(f"{what} took {elapsed:g} s; every answer was in after {scenario['latest']:g} s")
    planned = {r.get("api") for r in requests if r.get("operation") == driver.OPERATIONS.get(r.get("api"))}
    played = planned == set(driver.OPERATIONS) and all(r.get("api") in planned for r in requests)
    right = judge_answer(scenario, exchange, what, issues)
    if right and played and not blocking and elapsed < scenario["latest"] - SLACK:
        issues[OWN_TIMEOUTS].append(f"{what} answered after {elapsed:g} s; with the lesson's limits (prices 1 s, "
                                    f"stock 4 s, all {DEADLINE:g} s) the answer comes after {scenario['latest']:g} s. "
                                    "Is a limit too short, or was the answer made before the upstreams gave it?")


def judge_answer(scenario: dict, exchange: dict, what: str, issues: dict) -> bool:
    """Judge the status and body; True if they are right."""
    missing = scenario["missing"]
    body = common.body_of(exchange)
    if len(missing) == 2:
        retry = header_values(exchange, "retry-after")
        problem = (exchange["status"] == 503 and common.media_type(exchange) == "application/problem+json"
                   and isinstance(body, dict) and body.get("status") == 503)
        if not problem or len(retry) != 1 or not retry[0].strip().isdigit():
            shown = f"Retry-After: {retry[0]}" if len(retry) == 1 else "no Retry-After" if not retry else "two Retry-After"
            issues[UNAVAILABLE].append(f"{what} answered {describe(exchange, scenario)} ({shown})")
            return False
        return True
    expected = {"price": None if "prices" in missing else driver.BODIES["prices"],
                "stock": None if "stock" in missing else driver.BODIES["stock"]}
    if exchange["status"] != 200 or not isinstance(body, dict):
        issues[ANSWERS].append(f"{what} answered {describe(exchange, scenario)}; expected 200 with "
                               f"`missing: {json.dumps(missing)}`")
        return False
    got_missing = body.get("missing")
    problems = []
    if not isinstance(got_missing, list) or sorted(map(str, got_missing)) != sorted(missing):
        problems.append(f"`missing` is {short(got_missing)}, expected {json.dumps(missing)}")
    for member, value in expected.items():
        if body.get(member) != value:
            problems.append(f"`{member}` is {short(body.get(member))}, expected {json.dumps(value)}")
    if not problems:
        return True
    cut_short = [api for api in driver.OPERATIONS if api not in missing and isinstance(got_missing, list)
                 and api in got_missing and scenario["plan"][api].get("after", 0) >= 0.8]
    if cut_short:
        issues[OWN_TIMEOUTS].append(f"{what}: " + "; ".join(problems) + f" ({', '.join(cut_short)} answered within "
                                    "its timeout and the deadline: was it given up too early?)")
    else:
        issues[ANSWERS].append(f"{what}: " + "; ".join(problems))
    return False


def short(value, most: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= most else text[:most] + "…"


def lines(found: list[str], most: int = 4) -> str:
    shown = found[:most]
    if len(found) > most:
        shown.append(f"… and {len(found) - most} more")
    return "\n".join(shown)


EXERCISE = Exercise(
    id="fan-out-deadline",
    title="Call both upstreams through their descriptions, at once, each within its timeout, under a deadline",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=prestart,
)
