"""`circuit-breaker`: opens after K failures in a row, fails fast, half-opens after the cool-down, closes on success.

The learner's CircuitBreaker is driven through timelines on a fake clock by
`checker.drivers.retry_breaker`; every call the breaker lets through is a request
the checker's own flaky server answers and counts, so "failed fast" means "the server saw nothing". A
failure is a refused connection or an answer of 500 or more; a 4xx is an
answer, not a failure. Within a timeline only the steps up to the first wrong
one are judged: after that the breaker's state has left the script.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.retry_after_client import (
    MODULE,
    SIGNATURE,
    describe_error,
    describe_outcome,
    missing_problem,
    process_problems,
    real_sleep_problem,
)
from checker.drivers.fakes import CALL_LIMIT
from checker.results import ExerciseResult
from checker.submission import Submission

LESSON = "07-Client-Retries.ipynb"
SECTION = "Exercise circuit-breaker"
PROBE = "checker.drivers.retry_breaker:run"
KEY = "circuit-breaker"

RUNS = "oas3/client.py imports, and CircuitBreaker(failure_threshold=, cooldown=, clock=) can be built"
CLOSED_BELOW = "while closed, every call reaches the server and hands back its answer; a success resets the count"
NOT_4XX = "a 404 is an answer, not a failure: it never opens the circuit"
OPENS = "after failure_threshold failures in a row it fails fast with CircuitOpen, without calling the server"
HALF_OPEN = "after the cool-down (and not before) one probe call reaches the server"
CLOSES = "a successful probe closes the circuit: calls flow again and failures count from zero"
REOPENS = "a failed probe opens the circuit again for a whole cool-down"

BREAKER_FAILED = ("CircuitBreaker(failure_threshold={threshold}, cooldown={cooldown}, clock=<a clock>) did not build a "
                  "breaker: {problem}.")
SIGNATURE_OF_BREAKER = "def __init__(self, failure_threshold=3, cooldown=30.0, clock=time.monotonic)"
TOO_SLOW = ("breaker.call() was still running after {seconds:g} s of real time (scenario “{scenario}”): does it "
            "sleep or wait? A breaker never waits: while open it raises CircuitOpen at once.")
FIX_RUNS = "Keep the starter's class names and the constructor's keyword arguments."
FIX_REAL_SLEEP = "A breaker never waits: while open it raises CircuitOpen at once, and the caller decides what to do."
TIMELINE = "“{scenario}” (failure_threshold={threshold}, cooldown={cooldown:g} s; the server answers {replies}):\n{steps}"
STEP = "    t={at:>2g} s, call {number}: {found} {mark}"
WRONG_STEP = "    t={at:>2g} s, call {number}: expected it to {expected}; it {found} ✗"
EXPECT_REACH = "reach the server and hand back its {answer}"
EXPECT_OPEN = "fail fast, raising CircuitOpen without calling the server"
NEVER_READ_CLOCK = ("Your breaker never called the `clock` it was given: read the time with `self.clock()`, never "
                    "time.monotonic() or time.time(), so a test can move time forward.")
FIXES = {
    CLOSED_BELOW: ("Count failures in a row: add one when the call raises or answers 500 or more, reset to 0 on "
                   "any other answer; open only when the count reaches failure_threshold. Hand the caller what the "
                   "server gave: return the response, or re-raise the exception (`raise`)."),
    NOT_4XX: ("Count as failures only exceptions and answers of 500 or more: a 404 proves the server is up and "
              "answering, so it resets the count like a success."),
    OPENS: ("When the count reaches failure_threshold, switch to open and note the time (`self.opened_at = "
            "self.clock()`); while open, `raise CircuitOpen(...)` before calling `function`. Refused connections "
            "(httpx.ConnectError) count as failures too."),
    HALF_OPEN: ("While open, compare `self.clock() - self.opened_at` with `self.cooldown`: below it, fail fast; "
                "from it on, let one call through to probe the server (half-open)."),
    CLOSES: "When the probe succeeds, switch to closed and reset the failure count to 0.",
    REOPENS: ("When the probe fails, switch back to open at once and restart the cool-down from now "
              "(`self.opened_at = self.clock()`), without waiting for failure_threshold more failures."),
}
NEEDS_OPENING = (HALF_OPEN, CLOSES, REOPENS)  #: judged only once the breaker opens and stays closed as it should

DOWN, BUSY, OK, MISSING_PAGE = {"status": 503}, {"refuse": True}, {"status": 200}, {"status": 404}
SERVER_ERROR, BAD_GATEWAY = {"status": 500}, {"status": 502}


@dataclass(frozen=True)
class Scenario:
    name: str
    threshold: int
    cooldown: float
    replies: tuple[dict, ...]
    steps: tuple[tuple, ...]  #: ("reach" | "open", check) or ("advance", seconds)

    def as_param(self) -> dict:
        steps = [{"advance": s[1]} if s[0] == "advance" else {"expect": s[0]} for s in self.steps]
        return {"name": self.name, "threshold": self.threshold, "cooldown": self.cooldown,
                "replies": list(self.replies), "steps": steps}

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [s for s in self.steps if s[0] != "advance"]


def reach(check: str, times: int = 1) -> tuple:
    return (("reach", check),) * times


def fail_fast(check: str, times: int = 1) -> tuple:
    return (("open", check),) * times


def advance(seconds: float) -> tuple:
    return (("advance", seconds),)


SCENARIOS = [
    Scenario("503 every time", 3, 30, (DOWN,), reach(CLOSED_BELOW, 3) + fail_fast(OPENS, 2)),
    Scenario("connection refused every time", 2, 30, (BUSY,), reach(CLOSED_BELOW, 2) + fail_fast(OPENS, 2)),
    Scenario("500, then 502, every time", 2, 30, (SERVER_ERROR, BAD_GATEWAY), reach(CLOSED_BELOW, 2) + fail_fast(OPENS)),
    Scenario("a success between failures", 3, 30, (DOWN, DOWN, OK, DOWN, DOWN, DOWN),
             reach(CLOSED_BELOW, 6) + fail_fast(OPENS)),
    Scenario("404 every time", 2, 30, (MISSING_PAGE,), reach(NOT_4XX, 5)),
    Scenario("the probe succeeds", 2, 30, (DOWN, DOWN, OK, DOWN, DOWN, DOWN),
             reach(HALF_OPEN, 2) + advance(29) + fail_fast(HALF_OPEN) + advance(1) + reach(HALF_OPEN)
             + reach(CLOSES, 2) + fail_fast(CLOSES)),
    Scenario("the probe fails", 2, 30, (DOWN,),
             reach(HALF_OPEN, 2) + advance(30) + reach(HALF_OPEN) + fail_fast(REOPENS) + advance(29)
             + fail_fast(REOPENS) + advance(1) + reach(REOPENS)),
    Scenario("failures 20 s apart: the cool-down starts when it opens", 3, 30, (DOWN,),
             reach(CLOSED_BELOW) + advance(20) + reach(CLOSED_BELOW) + advance(20) + reach(CLOSED_BELOW)
             + advance(20) + fail_fast(HALF_OPEN) + advance(10) + reach(HALF_OPEN)),
]


def describe_replies(scenario: Scenario) -> str:
    words = {503: "503", 200: "200", 404: "404"}
    shown = ["a refused connection" if r.get("refuse") else words.get(r["status"], str(r["status"]))
             for r in scenario.replies]
    if len(shown) == 1:
        return f"{shown[0]} every time"
    return ", ".join(shown) + " to its requests in turn"


def reply_for(scenario: Scenario, request: int) -> dict:
    return scenario.replies[min(request, len(scenario.replies)) - 1]


def step_ok(step: dict, expect: str, scenario: Scenario) -> bool:
    outcome = step["outcome"]
    if expect == "open":
        return step["reached"] == 0 and step["circuit_open"]
    if step["reached"] != 1:
        return False
    if reply_for(scenario, step["first_request"]).get("refuse"):
        return outcome["kind"] == "raised" and step["transport_error"] and not step["circuit_open"]
    if outcome["kind"] == "returned":
        return (outcome.get("response") or {}).get("attempt") == step["first_request"]
    carried = (outcome.get("error") or {}).get("response") if outcome["kind"] == "raised" else None
    return bool(carried) and carried["attempt"] == step["first_request"] and not step["circuit_open"]


def describe_step(step: dict) -> str:
    outcome = step["outcome"]
    if step["reached"] > 1:
        return f"called the server {step['reached']} times for one call() and then {describe_outcome(outcome)}"
    if step["circuit_open"]:
        fast = "failed fast with CircuitOpen" if not step["reached"] else "reached the server, then raised CircuitOpen"
        return fast
    if step["reached"] and outcome["kind"] == "raised" and step["transport_error"]:
        return f"reached the server and raised its {outcome['error']['type']}"
    if step["reached"] and outcome["kind"] == "returned" and outcome.get("response"):
        return f"reached the server and handed back the {outcome['response']['status']}"
    where = "reached the server and " if step["reached"] else "did not call the server but "
    if outcome["kind"] == "raised" and step["transport_error"]:
        return where + f"raised {outcome['error']['type']}"
    return where + describe_outcome(outcome)


def expected_text(expect: str, scenario: Scenario, request: int) -> str:
    if expect == "open":
        return EXPECT_OPEN
    reply = reply_for(scenario, request)
    answer = "ConnectError (raised)" if reply.get("refuse") else f"{reply['status']} answer"
    return EXPECT_REACH.format(answer=answer)


def judge(scenario: Scenario, event: dict) -> tuple[dict[str, bool], str | None]:
    """Verdict per check on the steps up to the first wrong one, and the timeline if one was wrong."""
    verdicts: dict[str, bool] = {}
    lines = []
    wrong = False
    for number, ((expect, check), step) in enumerate(zip(scenario.calls, event["steps"]), start=1):
        ok = step_ok(step, expect, scenario)
        verdicts[check] = verdicts.get(check, True) and ok
        if ok:
            lines.append(STEP.format(at=step["at"], number=number, found=describe_step(step), mark="✓"))
            continue
        lines.append(WRONG_STEP.format(at=step["at"], number=number, found=describe_step(step),
                                       expected=expected_text(expect, scenario, step["first_request"])))
        wrong = True
        break
    if not wrong:
        return verdicts, None
    timeline = TIMELINE.format(scenario=scenario.name, threshold=scenario.threshold, cooldown=scenario.cooldown,
                               replies=describe_replies(scenario), steps="\n".join(lines))
    return verdicts, timeline


def probe_args() -> dict:
    return {"module": MODULE, "probe": PROBE, "preload": ("httpx",), "scenarios": [s.as_param() for s in SCENARIOS]}


def prestart(submission: Submission) -> None:
    """Start the probe early, so the timelines play while other exercises are graded."""
    submission.start_probe(KEY, **probe_args())


def breaker_problem(run) -> tuple[str | None, bool]:
    """(what went wrong building the breaker, whether it was the constructor's signature)."""
    failed = run.first("breaker-failed")
    if not failed:
        return None, False
    outcome = failed["outcome"]
    error = outcome.get("error") or {}
    if outcome["kind"] == "raised" and error.get("type") == "TypeError" and not error.get("line"):
        call = f"CircuitBreaker(failure_threshold={failed['threshold']}, cooldown={failed['cooldown']}, clock=...)"
        return SIGNATURE.format(call=call, type=error["type"], text=error["text"], signature=SIGNATURE_OF_BREAKER), True
    problem = f"it raised {describe_error(error)}" if outcome["kind"] == "raised" else describe_outcome(outcome)
    return BREAKER_FAILED.format(threshold=failed["threshold"], cooldown=failed["cooldown"], problem=problem), False


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Judge each behaviour on the timelines that exercise it; report every wrong timeline."""
    hint = lesson_hint(LESSON, SECTION)
    run = submission.probe_run(KEY, **probe_args())
    events = {event["name"]: event for event in run.of("scenario")}
    problems = process_problems(run)
    stop = missing_problem(run) or breaker_problem(run)[0]
    if stop:
        problems.append(stop)
    slow = next((e for e in events.values() for s in e["steps"] if s["outcome"]["kind"] == "timeout"), None)
    if slow:
        problems.append(TOO_SLOW.format(seconds=CALL_LIMIT, scenario=slow["name"]))
    real = real_sleep_problem([entry for e in events.values() for entry in e["sleeps"]], FIX_REAL_SLEEP)
    if real:
        problems.append(real)
    result.add(RUNS, not problems, "\n".join(problems) + (f"\n{FIX_RUNS} {hint}" if problems else ""))
    if stop or not events:
        return
    verdicts: dict[str, bool] = {}
    timelines: dict[str, list[str]] = {}
    clock_unread = False
    for scenario in SCENARIOS:
        event = events.get(scenario.name)
        if event is None:
            continue
        found, timeline = judge(scenario, event)
        for check, ok in found.items():
            verdicts[check] = verdicts.get(check, True) and ok
            if not ok:
                timelines.setdefault(check, []).append(timeline)
                clock_unread |= check == HALF_OPEN and event["clock_reads"] == 0
    opening_ok = verdicts.get(CLOSED_BELOW, False) and verdicts.get(OPENS, False)
    for check in (CLOSED_BELOW, NOT_4XX, OPENS, HALF_OPEN, CLOSES, REOPENS):
        if check not in verdicts or (check in NEEDS_OPENING and not opening_ok):
            continue  # not judged: its timelines went wrong earlier, or the breaker does not open yet
        message = "\n".join(timelines.get(check, []))
        if check == HALF_OPEN and clock_unread:
            message += "\n" + NEVER_READ_CLOCK
        result.add(check, verdicts[check], f"{message}\n{FIXES[check]} {hint}")


EXERCISE = Exercise(
    id="circuit-breaker",
    title="A client-side circuit breaker: closed, open after K failures, half-open after a cool-down",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=prestart,
)
