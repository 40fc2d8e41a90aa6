"""`retry-after-client`: get_with_retries() honours Retry-After on 503 and 429, and knows when to stop.

The learner's oas3/client.py is imported in the sandbox and called by
`checker.drivers.retry_client`; the checker answers every request it makes
(flaky servers) and records every `sleep`, so no scenario waits in real time. Each scenario below scripts the server's replies
and says what a good client does: how many requests, which sleeps, which
response it hands back. This module also holds what the three client
exercises share: how a driver run's failures (import, crash, hang, real
sleeps) are put into words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.runs import FLOODED, describe_import_failure, indent_tail, out_of_time
from checker.drivers.fakes import CALL_LIMIT, MAX_REQUESTS, MAX_SLEEPS
from checker.results import ExerciseResult
from checker.worker import STALL_LIMITS, WorkerRun
from checker.submission import Submission

LESSON = "07-Client-Retries.ipynb"
SECTION = "Exercise retry-after-client"
MODULE = "client"  #: the learner's file, oas3/client.py
PROBE = "checker.drivers.retry_client:run"
KEY = "retry-after-client"

RUNS = "oas3/client.py imports, and get_with_retries() uses the client and sleep it is given"
SUCCESS = "a 200 is handed back at once: one request, no sleep"
RETRY_SECONDS = "a 503 or 429 with Retry-After: N (seconds) is retried after sleep(N), however long N is"
RETRY_DATE = "a Retry-After HTTP-date is honoured, and a date in the past means no wait"
GIVES_UP = "after max_attempts attempts it stops and hands back the last response"
NO_RETRY = "400, 404, 500 and 502 are handed back at once, never retried"
NO_HEADER = "a 503 without a usable Retry-After is still retried, after a backoff delay (not 0)"

# -- what went wrong while running the learner's code (shared by the client exercises) --
MISSING = ("oas3/client.py has no {names} (it defines: {defines}). The checker calls them by these names: "
           "keep the starter's names.")
POLICY_FAILED = ("RetryPolicy({fields}) did not build a policy: {problem}. Keep the starter's "
                 "RetryPolicy dataclass with its fields max_attempts, backoff, base, cap, jitter, spread, timeout, "
                 "max_wait and deadline.")
SIGNATURE = ("calling {call} failed before any of your code ran: {type}: {text}. Keep the starter's signature: "
             "`{signature}`.")
REAL_SLEEP = "your code slept for real: time.sleep({seconds}) at oas3/{file}:{line} (`{code}`). {fix}"
FIX_REAL_SLEEP = ("Call the `sleep` function you were given instead, e.g. `sleep(delay)`: the checker passes one that "
                  "only records the delay, and so can a notebook (`sleep=waits.append`).")
IGNORED_CLIENT = ("your code did not send its requests through the `client` it was given: the checker's server saw "
                  "none, and {call} raised {type}: {text}. Send every request with `client.get(url)`; make an "
                  "httpx.Client of your own only when `client` is None (the starter does this for you).")
TOO_SLOW = ("{call} was still running after {seconds:g} s of real time (scenario “{scenario}”), where it should take "
            "a millisecond: does it wait in a loop, or sleep some way other than the `sleep` it was given?")
CRASHED = ("the process running your code ended during scenario “{scenario}” (exit code {code}): does your code "
           "call os._exit() or sys.exit()?")
HUNG = ("your code stopped reporting for {seconds:g} s during scenario “{scenario}” and was stopped: an `except:` "
        "or `except BaseException:` can keep a loop going after the checker asks it to end.")
NOT_RUN = "scenario “{scenario}” did not run, because the process running your code ended earlier (see the first check)"

# -- one scenario's verdict, and how to fix each behaviour --
SCENARIO_WRONG = "The server answered {replies}.\n    Expected: {expected}.\n    Found:    {found}."
FIX_RUNS = "Keep the starter's names and signatures, and wait only through `sleep`."
FIX_SUCCESS = ("Send the request first and hand back any response whose status is not retryable at once, without "
               "sleeping.")
FIX_RETRY_SECONDS = ("When the status is in RETRYABLE_STATUSES (429, 503), read `response.headers.get(\"Retry-After\")` "
                     "of that very response, turn it into seconds with retry_after_seconds(), `sleep(seconds)`, and "
                     "ask again. Sleep at least what the server asks, never less and never capped at your own "
                     "policy.cap; `Retry-After: 0` means retry at once (0 is a usable value, not a missing one).")
FIX_RETRY_DATE = ("In retry_after_seconds(), a value that is not all digits is an HTTP-date: parse it with "
                  "`email.utils.parsedate_to_datetime(value)`, subtract `now` (the current UTC time, "
                  "`datetime.now(timezone.utc)`, when `now` is None; both timezone-aware), and wait "
                  "`max(0, seconds)`: a date in the past means retry now.")
FIX_GIVES_UP = ("Count attempts, the first included: `for attempt in range(1, policy.max_attempts + 1)`. On the last "
                "attempt hand back the response instead of sleeping: return it, or raise an exception that carries "
                "it (`response.raise_for_status()` does).")
FIX_NO_RETRY = ("Retry only statuses in RETRYABLE_STATUSES (429, 503). A 400 or 404 would come back again however "
                "long you waited, and a 500 or 502 does not say that waiting helps, so hand it back at once (return "
                "it, or raise an exception carrying it).")
FIX_NO_HEADER = ("When retry_after_seconds() gives None (no header, or one like \"soon\"), wait "
                 "`backoff_delay(retry, policy)` seconds instead (`retry` = 1 after the first request); never let a bad header crash the client. "
                 "Test for None (`if seconds is None`), not for a false value: 0 is a usable Retry-After.")

SIGNATURE_OF_CLIENT = "def get_with_retries(url, *, policy=RetryPolicy(), client=None, sleep=time.sleep)"
CALL = "get_with_retries()"


@dataclass(frozen=True)
class Expect:
    """What a good client does in a scenario."""

    requests: int
    sleeps: tuple[tuple[float, float], ...] = ()  #: allowed range of each sleep, in order
    final: int = 1  #: the request whose response is handed back
    may_raise: bool = False  #: an error response may come back inside an exception (`.response`)
    sleep_optional: bool = False  #: not sleeping at all is fine too (a Retry-After date in the past)
    raises_error: bool = False  #: no response to hand back: the last transport error is raised (or one from it)
    timeouts: float | None = None  #: every request must carry a read timeout of more than 0 and at most this


@dataclass(frozen=True)
class Scenario:
    name: str
    check: str
    replies: tuple[dict, ...]
    expect: Expect
    max_attempts: int = 4
    policy: tuple[tuple[str, object], ...] = ()  #: more RetryPolicy fields than max_attempts, as (name, value)
    clock: bool = False  #: pass get_with_retries() a `clock` that sleeps and timed-out requests move on

    def as_param(self) -> dict:
        return {"name": self.name, "replies": list(self.replies), "max_attempts": self.max_attempts,
                "policy": dict(self.policy), "clock": self.clock}


def at_least(seconds: float) -> tuple[float, float]:
    """Retry-After is a minimum: allow a client that adds a little jitter of its own on top."""
    return (seconds, seconds * 1.5 + 1)


ANY = (0.0, math.inf)
#: a policy whose backoff is far from 0: a client that mistakes Retry-After: 0 for "missing" sleeps about 100 s
SLOW_BACKOFF = (("backoff", "fixed"), ("base", 100.0), ("cap", 100.0))
#: backoff_delay(1, SLOW_BACKOFF) under any of the three jitters, and more than 0: full jitter draws below
#: 2 µs with probability 2e-8, so a correct client fails this by bad luck about once in 50 million gradings
BACKOFF = (2e-6, 100.5)
AT_ONCE = at_least(0)  #: "retry now": sleep(0), or a little jitter of the client's own, or no sleep at all
OK = {"status": 200}

SCENARIOS = [
    Scenario("200 at once", SUCCESS, (OK,), Expect(1)),
    Scenario("503, Retry-After: 2", RETRY_SECONDS, ({"status": 503, "retry_after": "2"}, OK),
             Expect(2, (at_least(2),), final=2)),
    Scenario("429, Retry-After: 3", RETRY_SECONDS, ({"status": 429, "retry_after": "3"}, OK),
             Expect(2, (at_least(3),), final=2)),
    Scenario("503, Retry-After: 30 (longer than policy.cap)", RETRY_SECONDS, ({"status": 503, "retry_after": "30"}, OK),
             Expect(2, (at_least(30),), final=2)),
    Scenario("503, Retry-After: 0", RETRY_SECONDS, ({"status": 503, "retry_after": "0"}, OK),
             Expect(2, (AT_ONCE,), final=2, sleep_optional=True), policy=SLOW_BACKOFF),
    Scenario("each answer its own Retry-After", RETRY_SECONDS,
             ({"status": 503, "retry_after": "1"}, {"status": 503, "retry_after": "4"}, OK),
             Expect(3, (at_least(1), at_least(4)), final=3)),
    # The date is rounded up to a whole second: 5 to 6 s ahead, less the moments the client takes to read it.
    Scenario("Retry-After: an HTTP-date 5 s ahead", RETRY_DATE, ({"status": 503, "date_in": 5}, OK),
             Expect(2, ((4.0, at_least(6)[1]),), final=2)),
    Scenario("Retry-After: an HTTP-date 60 s ago", RETRY_DATE, ({"status": 503, "date_in": -60}, OK),
             Expect(2, (AT_ONCE,), final=2, sleep_optional=True), policy=SLOW_BACKOFF),
    Scenario("503 every time, max_attempts=3", GIVES_UP, ({"status": 503, "retry_after": "1"},),
             Expect(3, (ANY, ANY), final=3, may_raise=True), max_attempts=3),
    Scenario("503 every time, max_attempts=1", GIVES_UP, ({"status": 503, "retry_after": "1"},),
             Expect(1, (), final=1, may_raise=True), max_attempts=1),
    Scenario("400", NO_RETRY, ({"status": 400},), Expect(1, may_raise=True)),
    Scenario("404", NO_RETRY, ({"status": 404},), Expect(1, may_raise=True)),
    Scenario("500, Retry-After: 1", NO_RETRY, ({"status": 500, "retry_after": "1"},), Expect(1, may_raise=True)),
    Scenario("502", NO_RETRY, ({"status": 502},), Expect(1, may_raise=True)),
    Scenario("503 without Retry-After", NO_HEADER, ({"status": 503}, OK), Expect(2, (BACKOFF,), final=2),
             policy=SLOW_BACKOFF),
    Scenario("503, Retry-After: soon", NO_HEADER, ({"status": 503, "retry_after": "soon"}, OK),
             Expect(2, (BACKOFF,), final=2), policy=SLOW_BACKOFF),
]
CHECKS = {
    SUCCESS: FIX_SUCCESS, RETRY_SECONDS: FIX_RETRY_SECONDS, RETRY_DATE: FIX_RETRY_DATE,
    GIVES_UP: FIX_GIVES_UP, NO_RETRY: FIX_NO_RETRY, NO_HEADER: FIX_NO_HEADER,
}


# -- words for replies, expectations and findings ----------------------------------------


def describe_reply(reply: dict) -> str:
    if reply.get("refuse"):
        return "no answer (connection refused)"
    if reply.get("slow"):
        return "nothing at all (each request ends only when its own timeout does)"
    text = str(reply["status"])
    if reply.get("retry_after") is not None:
        text += f" with Retry-After: {reply['retry_after']}"
    if reply.get("date_in") is not None:
        ahead = reply["date_in"]
        text += f" with Retry-After: <an HTTP-date {abs(ahead):g} s {'ahead' if ahead >= 0 else 'ago'}>"
    return text


def describe_replies(scenario: Scenario) -> str:
    shown = [describe_reply(reply) for reply in scenario.replies]
    policy = "".join(f", {name}={value!r}" for name, value in scenario.policy)
    if len(shown) == 1 and scenario.expect.requests > 1:
        return f"{shown[0]}, every time (max_attempts={scenario.max_attempts}{policy})"
    if len(shown) == 1:
        return shown[0] + (f" (max_attempts={scenario.max_attempts}{policy})" if scenario.max_attempts != 4 or policy else "")
    return ", then ".join(shown) + (f" (RetryPolicy({policy[2:]}))" if policy else "")


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe_range(low: float, high: float) -> str:
    if math.isinf(high):
        return "a sleep of any length"
    if (low, high) == BACKOFF:
        return f"sleep(backoff_delay(retry, policy)): more than 0, at most {high:g} s"
    if (low, high) == at_least(low):
        return f"sleep({low:g}) (a little more, up to {high:g} s, is fine too)"
    return f"a sleep of {low:g}–{high:g} s"


def describe_expected(scenario: Scenario) -> str:
    expect = scenario.expect
    sleeps = ", ".join(describe_range(*r) for r in expect.sleeps) or "no sleep"
    if expect.sleep_optional:
        sleeps += " (or no sleep at all)"
    sent = plural(expect.requests, "request")
    if expect.timeouts is not None:
        sent += f" ({'each ' if expect.requests > 1 else ''}with a timeout of at most {expect.timeouts:g} s)"
    if expect.raises_error:
        return f"{sent}, {sleeps}, then the last request's error raised (httpx.ReadTimeout or httpx.ConnectError)"
    status = status_of(scenario, expect.final)
    handed = "returned" + (", or raised inside an exception" if expect.may_raise else "")
    return f"{sent}, {sleeps}, then the {status} of request {expect.final} {handed}"


def status_of(scenario: Scenario, request: int) -> str:
    reply = scenario.replies[min(request, len(scenario.replies)) - 1]
    return str(reply.get("status"))


def where(error: dict) -> str:
    """' (oas3/client.py:12: `code`)' for an error summarised by checker.worker.learner_frame."""
    if not error.get("line"):
        return ""
    code = f": `{error['code']}`" if error.get("code") else ""
    return f" (oas3/{error.get('file', 'client.py')}:{error['line']}{code})"


def describe_error(error: dict) -> str:
    return f"{error['type']}: {error['text']}{where(error)}"


def describe_outcome(outcome: dict) -> str:
    kind = outcome["kind"]
    if kind == "returned":
        response = outcome.get("response")
        if response:
            return f"returned the {response['status']} of request {response['attempt']}"
        value = outcome["value"]
        return f"returned {value['repr']} (a {value['type']}), not the httpx.Response"
    if kind == "raised":
        error = outcome["error"]
        carried = error.get("response")
        carrying = f", carrying the {carried['status']} of request {carried['attempt']}" if carried else ""
        return f"raised {describe_error(error)}{carrying}"
    if kind == "flooded":
        return f"was stopped after {MAX_REQUESTS} requests: it never gave up"
    if kind == "slept-too-often":
        return f"was stopped after {MAX_SLEEPS} sleeps: it never gave up"
    if kind == "waited-forever":
        return "sent a request without a timeout to a server that never answers, and would have waited for ever"
    return f"was still running after {CALL_LIMIT:g} s of real time"


def describe_sleeps(sleeps: list[dict]) -> str:
    if not sleeps:
        return "no sleep"
    shown = [f"{'time.sleep' if s['real'] else 'sleep'}({fmt(s['seconds'])})" for s in sleeps[:6]]
    return ", ".join(shown) + (", …" if len(sleeps) > 6 else "")


def fmt(seconds) -> str:
    return f"{seconds:.4g}" if isinstance(seconds, float) else str(seconds)


def describe_timeout(value) -> str:
    return "none" if value is None else f"{value:g} s" if isinstance(value, (int, float)) else repr(value)


def describe_found(event: dict, show_timeouts: bool = False) -> str:
    requests = event["requests"]
    methods = sorted({r["method"] for r in requests} - {"GET"})
    sent = plural(len(requests), "request") + (f" (sent with {', '.join(methods)}, not GET)" if methods else "")
    if show_timeouts and requests:
        sent += f" (timeouts: {', '.join(describe_timeout(r.get('timeout')) for r in requests[:6])})"
    return f"{sent}, {describe_sleeps(event['sleeps'])}, then it {describe_outcome(event['outcome'])}"


# -- judging one scenario ----------------------------------------------------------------


def sleeps_fit(sleeps: list[dict], expect: Expect) -> bool:
    if expect.sleep_optional and not sleeps:
        return True
    if len(sleeps) != len(expect.sleeps):
        return False
    for entry, (low, high) in zip(sleeps, expect.sleeps):
        seconds = entry["seconds"]
        if not isinstance(seconds, (int, float)) or not (low - 1e-6 <= seconds <= high + 1e-6):
            return False
    return True


def timeouts_fit(requests: list[dict], expect: Expect) -> bool:
    if expect.timeouts is None:
        return True
    return all(isinstance(r.get("timeout"), (int, float)) and 0 < r["timeout"] <= expect.timeouts + 1e-9
               for r in requests)


def handed_back(outcome: dict, expect: Expect) -> bool:
    if expect.raises_error:
        return outcome["kind"] == "raised" and outcome["error"].get("transport_error") is True
    if outcome["kind"] == "returned":
        response = outcome.get("response")
        return bool(response) and response["attempt"] == expect.final
    if outcome["kind"] == "raised" and expect.may_raise:
        carried = outcome["error"].get("response")
        return bool(carried) and carried["attempt"] == expect.final
    return False


def scenario_ok(event: dict, scenario: Scenario) -> bool:
    expect = scenario.expect
    requests = event["requests"]
    return (len(requests) == expect.requests and all(r["method"] == "GET" for r in requests)
            and sleeps_fit(event["sleeps"], expect) and handed_back(event["outcome"], expect)
            and timeouts_fit(requests, expect))


def scenario_message(scenario: Scenario, event: dict | None) -> str:
    if event is None:
        found = NOT_RUN.format(scenario=scenario.name)
    else:
        found = describe_found(event, scenario.expect.timeouts is not None)
        if scenario.clock and not event.get("clock_reads") and len(event["requests"]) > scenario.expect.requests:
            found += ", and it never read the `clock` it was given"  # the likeliest reason it went on too long
    return SCENARIO_WRONG.format(replies=describe_replies(scenario), expected=describe_expected(scenario), found=found)


# -- the run as a whole (shared by the client exercises) ---------------------------------


def last_started(run: WorkerRun) -> str:
    finished = {event["name"] for event in run.of("scenario")}
    started = [event["name"] for event in run.of("scenario-start") if event["name"] not in finished]
    return started[-1] if started else "(before the first scenario)"


def process_problems(run: WorkerRun) -> list[str]:
    """Why the worker did not finish normally: import failure, crash, or hang, in words."""
    problems = []
    failed_import = run.first("import-failed")
    if failed_import:
        problems.append(describe_import_failure(failed_import["error"], MODULE))
    elif run.ended == "flooded":
        problems.append(FLOODED.format(flood=run.flood or "more than it asked for"))
    elif run.ended == "crashed":
        problems.append(CRASHED.format(scenario=last_started(run), code=run.exit_code))
    elif run.out_of_time:
        problems.append(out_of_time(run, f"scenario {last_started(run)}"))
    elif run.ended == "hung":
        if run.hung_while == "importing":
            problems.append(f"importing oas3/{MODULE}.py did not finish within {STALL_LIMITS['importing']:g} s: "
                            "is there a loop, sleep or input() at module level?")
        else:
            problems.append(HUNG.format(seconds=STALL_LIMITS["serving"], scenario=last_started(run)))
    if problems and run.output.strip() and run.ended != "finished":
        problems.append("What your code printed last:\n" + indent_tail(run.output))
    return problems


def missing_problem(run: WorkerRun) -> str | None:
    missing = run.first("missing")
    if not missing:
        return None
    return MISSING.format(names=" or ".join(f"{n}" for n in missing["names"]),
                          defines=", ".join(missing["defines"]) or "nothing")


def signature_problem(outcome: dict, call: str, signature: str) -> str | None:
    """A TypeError raised before any learner line ran: the call itself did not fit the learner's signature."""
    error = outcome.get("error") or {}
    if outcome["kind"] == "raised" and error.get("type") == "TypeError" and not error.get("line"):
        return SIGNATURE.format(call=call, type=error["type"], text=error["text"], signature=signature)
    return None


def real_sleep_problem(sleep_entries: list[dict], fix: str = FIX_REAL_SLEEP) -> str | None:
    """The first time.sleep the learner's code called, by its line, or None."""
    real = next((entry for entry in sleep_entries if entry.get("real")), None)
    if real is None:
        return None
    return REAL_SLEEP.format(seconds=fmt(real["seconds"]), file=real.get("file", f"{MODULE}.py"),
                             line=real.get("line", "?"), code=real.get("code", ""), fix=fix)


def first_few(lines: list[str], shown: int = 3) -> list[str]:
    """At most `shown` lines, and a note of how many more were like them."""
    if len(lines) <= shown:
        return lines
    return lines[:shown] + [f"… and {len(lines) - shown} more like these"]


def policy_problem(run: WorkerRun) -> str | None:
    failed = run.first("policy-failed")
    if not failed:
        return None
    outcome = failed["outcome"]
    problem = f"it raised {describe_error(outcome['error'])}" if outcome["kind"] == "raised" else describe_outcome(outcome)
    fields = {"max_attempts": failed["max_attempts"], **(failed.get("policy") or {})}
    return POLICY_FAILED.format(fields=", ".join(f"{name}={value!r}" for name, value in fields.items()), problem=problem)


# -- grading -----------------------------------------------------------------------------


def probe_args(scenarios: list[Scenario] = SCENARIOS) -> dict:
    return {"module": MODULE, "probe": PROBE, "preload": ("httpx",), "scenarios": [s.as_param() for s in scenarios]}


def prestart(submission: Submission) -> None:
    """Start the probe early, so the client runs while other exercises are graded."""
    submission.start_probe(KEY, **probe_args())


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Play every scenario and judge each behaviour; report all problems at once."""
    judge(submission.probe_run(KEY, **probe_args()), SCENARIOS, CHECKS, result, lesson_hint(LESSON, SECTION),
          RUNS, SIGNATURE_OF_CLIENT)


def judge(run: WorkerRun, scenarios: list[Scenario], checks: dict[str, str], result: ExerciseResult, hint: str,
          runs: str, signature: str) -> None:
    """The verdicts of one driver run of get_with_retries(): first whether it ran, then one per check.

    Shared by retry-after-client and client-timeouts, which play different scenarios."""
    events = {event["name"]: event for event in run.of("scenario")}
    problems = process_problems(run)
    stop = missing_problem(run) or policy_problem(run)
    if not stop:
        stop = next(filter(None, (signature_problem(e["outcome"], CALL, signature) for e in events.values())), None)
    if stop:
        problems.append(stop)
    ignored = next((e for e in events.values() if not e["requests"] and e["outcome"]["kind"] == "raised"
                    and e["outcome"]["error"]["type"] in ("ConnectError", "ConnectionRefusedError", "ConnectionError",
                                                          "URLError")), None)
    if ignored and not stop:
        problems.append(IGNORED_CLIENT.format(call=CALL, type=ignored["outcome"]["error"]["type"],
                                              text=ignored["outcome"]["error"]["text"]))
    real = real_sleep_problem([entry for e in events.values() for entry in e["sleeps"]])
    if real:
        problems.append(real)
    slow = next((e for e in events.values() if e["outcome"]["kind"] == "timeout"), None)
    if slow:
        problems.append(TOO_SLOW.format(call=CALL, seconds=CALL_LIMIT, scenario=slow["name"]))
    result.add(runs, not problems, "\n".join(problems) + (f"\n{FIX_RUNS} {hint}" if problems else ""))
    if stop or ignored or run.first("import-failed"):
        return  # nothing the learner's client did can be judged
    for check, fix in checks.items():
        chosen = [s for s in scenarios if s.check == check]
        if not any(s.name in events for s in chosen):
            continue  # the process ended before any of them ran: reported under `runs`
        wrong = [scenario_message(s, events.get(s.name)) for s in chosen
                 if not (s.name in events and scenario_ok(events[s.name], s))]
        result.add(check, not wrong, "\n".join(wrong) + f"\n{fix} {hint}")


EXERCISE = Exercise(
    id="retry-after-client",
    title="A client that honours Retry-After on 503 and 429, and knows when to stop",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=prestart,
)
