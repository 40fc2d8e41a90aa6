"""`jobs-client`: submit_and_wait() submits a job once, polls it honouring Retry-After, and knows when to stop.

`checker.drivers.jobs_client` calls the learner's oas3/jobs_client.py in the sandbox; the
checker answers every request (a scripted thumbnail server), every sleep and every clock
reading, so no scenario waits. Each scenario below scripts the server's replies and says
what a good client sends, how long it waits before each request (judged on the fake
clock: sleeps move it on, and so does a lost answer), and how it ends. Keys are judged
only by what the server saw: the same key on every POST of one job, a fresh one per job.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.retry_after_client import (
    IGNORED_CLIENT, TOO_SLOW, describe_error, real_sleep_problem, signature_problem,
)
from checker.exercises.runs import FLOODED, describe_import_failure, indent_tail, out_of_time
from checker.drivers.fakes import CALL_LIMIT, MAX_REQUESTS, MAX_SLEEPS
from checker.results import ExerciseResult
from checker.submission import Submission
from checker.worker import STALL_LIMITS, WorkerRun

LESSON = "09-Idempotency-Keys.ipynb"
SECTION = "Exercise jobs-client"
MODULE = "jobs_client"
PROBE = "checker.drivers.jobs_client:run"
KEY = "jobs-client"
CALL = "submit_and_wait()"
SIGNATURE = ("def submit_and_wait(base_url, url, *, client=None, sleep=time.sleep, clock=time.monotonic, "
             "deadline=120.0)")
SHORT = 10.0  #: the longest wait of its own the lesson allows (no Retry-After, or before a retried POST)
MAX_POSTS = 3

RUNS = "oas3/jobs_client.py imports, and submit_and_wait() uses the client, sleep and clock it is given"
POLL = ("it POSTs once, waits Retry-After before each GET of the job's Location, follows the 303 at once, and "
        "returns the thumbnail")
KEYS = "every POST carries one Idempotency-Key, a quoted string, fresh for every job"
SAME_KEY = ("after a lost answer (a timeout, a dropped connection) or a 409, the POST is sent again with the same key "
            "and body, at most 3 times in all")
HANDED_BACK = "a refused, failed or expired job is handed back at once, never resubmitted"
DEADLINE = "it raises TimeoutError, without sleeping, when a wait would end past the deadline"

FIX = {
    POLL: ("POST `{\"url\": url}` to `base_url + \"/jobs\"`, then loop: `sleep(seconds)` what the last answer's "
           "Retry-After says (1 s when it has none), GET the job's Location (resolve it against the POST's URL with "
           "urllib.parse.urljoin), and on a 303 GET its Location at once and return that response."),
    KEYS: ("Make one key per call with `make_key()`: `f'\"{uuid.uuid4()}\"'`, a UUID in quotes (a Structured Field "
           "String, as the draft defines the header), and send it as `headers={\"Idempotency-Key\": key}` on every "
           "POST of that call. Never reuse a key for another job."),
    SAME_KEY: ("Catch `httpx.TransportError` around the POST (a timeout and a dropped connection are both kinds of "
               "it): the job may or may not exist, so send the same POST again, with the same key and body, after a "
               "short wait (at most 10 s). A 409 means the first POST is still in flight: wait Retry-After, then "
               "the same again. At most MAX_POSTS (3) POSTs in all; after the last, raise the error."),
    HANDED_BACK: ("Return at once any answer that waiting cannot change: a POST answered 400 or 422, a job whose state "
                  "is `error` (whatever `retryable` says: a new job is the caller's decision, with a new key), a 404 "
                  "or 410. Never POST again on your own."),
    DEADLINE: ("Read `start = clock()` first. Before every wait, if `clock() - start + seconds > deadline`, raise "
               "TimeoutError instead of sleeping: do not shorten the wait, and do not sleep first and check after."),
}

SCENARIO_WRONG = "The server answered {replies}.\n    Expected: {expected}.\n    Found:    {found}."
MISSING = ("oas3/jobs_client.py has no {names} (it defines: {defines}). The checker calls it by this name: keep the "
           "starter's names.")
CRASHED = ("the process running your code ended during scenario “{scenario}” (exit code {code}): does your code "
           "call os._exit() or sys.exit()?")
HUNG = ("your code stopped reporting for {seconds:g} s during scenario “{scenario}” and was stopped: an `except:` "
        "or `except BaseException:` can keep a loop going after the checker asks it to end.")
KEY_COUNT = "scenario “{scenario}”, POST #{n}: {count} Idempotency-Key headers ({found}); send exactly one"
KEY_FORM = ("scenario “{scenario}”, POST #{n}: Idempotency-Key: {value} is not a Structured Field String; put the "
            "key in double quotes, e.g. \"8e03978e-40d5-43e8-bc93-6894a57f9324\"")
KEY_REUSED = "scenarios “{first}” and “{second}” are two jobs, but both were sent Idempotency-Key: {value}"
SF_STRING = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])+"')


@dataclass(frozen=True)
class Scenario:
    name: str
    check: str
    replies: tuple[dict, ...]
    requests: tuple[tuple[str, str, tuple], ...]  #: (method, path, wait before it: ("any",) ("at_least", n) ...)
    ends: tuple  #: ("returned", n) | ("handed", n) (returned, or raised carrying it) | ("timeout",) | ("lost",)
    deadline: float = 120.0
    url: str = "https://example.com/"

    def as_param(self) -> dict:
        return {"name": self.name, "replies": list(self.replies), "deadline": self.deadline, "url": self.url}


def job(number: int) -> dict:
    return {"id": str(number), "state": "new", "url": "https://example.com/"}


def accepted(number: int, retry_after: str | None) -> dict:
    headers = {"Location": f"/jobs/{number}", **({"Retry-After": retry_after} if retry_after else {})}
    return {"status": 202, "headers": headers, "body": job(number)}


def working(number: int, retry_after: str | None) -> dict:
    return {"status": 200, "headers": {"Retry-After": retry_after} if retry_after else {},
            "body": {**job(number), "state": "in progress"}}


def see_other(number: int) -> dict:
    return {"status": 303, "headers": {"Location": f"/thumbnails/{number}"}, "body": {**job(number), "state": "ready"}}


def failed(number: int, retryable: bool) -> dict:
    error = {"title": "Could not fetch the page", "detail": "see retryable", "retryable": retryable}
    return {"status": 200, "body": {**job(number), "state": "error", "error": error}}


def problem(status: int, retry_after: str | None = None) -> dict:
    return {"status": status, "type": "application/problem+json",
            "headers": {"Retry-After": retry_after} if retry_after else {},
            "body": {"title": "Checker answer", "status": status}}


THUMBNAIL = {"status": 200, "body": {"url": "https://example.com/", "width": 160, "height": 120}}
TIMEOUT, DROPPED = {"lost": "timeout"}, {"lost": "drop"}
ANY, AT_ONCE, SHORT_WAIT, NO_ADVICE = ("any",), ("at_once",), ("short",), ("no_advice",)


def at_least(seconds: float) -> tuple:
    return ("at_least", seconds)


POST = ("POST", "/jobs")

SCENARIOS = [
    Scenario("202, in progress, 303, thumbnail", POLL,
             (accepted(7, "3"), working(7, "4"), see_other(7), THUMBNAIL),
             ((*POST, ANY), ("GET", "/jobs/7", at_least(3)), ("GET", "/jobs/7", at_least(4)),
              ("GET", "/thumbnails/7", AT_ONCE)), ("returned", 4)),
    Scenario("no Retry-After anywhere", POLL,
             (accepted(8, None), working(8, None), see_other(8), THUMBNAIL),
             ((*POST, ANY), ("GET", "/jobs/8", NO_ADVICE), ("GET", "/jobs/8", NO_ADVICE),
              ("GET", "/thumbnails/8", AT_ONCE)), ("returned", 4)),
    Scenario("the POST times out, then 202", SAME_KEY,
             (TIMEOUT, accepted(9, "2"), see_other(9), THUMBNAIL),
             ((*POST, ANY), (*POST, SHORT_WAIT), ("GET", "/jobs/9", at_least(2)), ("GET", "/thumbnails/9", AT_ONCE)),
             ("returned", 4)),
    Scenario("the connection drops, then 202", SAME_KEY,
             (DROPPED, accepted(10, "2"), see_other(10), THUMBNAIL),
             ((*POST, ANY), (*POST, SHORT_WAIT), ("GET", "/jobs/10", at_least(2)), ("GET", "/thumbnails/10", AT_ONCE)),
             ("returned", 4)),
    Scenario("409 with Retry-After: 2, then 202", SAME_KEY,
             (problem(409, "2"), accepted(11, "1"), see_other(11), THUMBNAIL),
             ((*POST, ANY), (*POST, at_least(2)), ("GET", "/jobs/11", at_least(1)), ("GET", "/thumbnails/11", AT_ONCE)),
             ("returned", 4)),
    Scenario("every answer lost", SAME_KEY, (TIMEOUT, DROPPED, TIMEOUT),
             ((*POST, ANY), (*POST, SHORT_WAIT), (*POST, SHORT_WAIT)), ("lost",)),
    Scenario("422 to the POST", HANDED_BACK, (problem(422),), ((*POST, ANY),), ("handed", 1)),
    Scenario("the job fails for good", HANDED_BACK, (accepted(12, "2"), failed(12, False)),
             ((*POST, ANY), ("GET", "/jobs/12", at_least(2))), ("returned", 2)),
    Scenario("the job fails, retryable", HANDED_BACK, (accepted(13, "2"), failed(13, True)),
             ((*POST, ANY), ("GET", "/jobs/13", at_least(2))), ("returned", 2)),
    Scenario("410 while polling", HANDED_BACK, (accepted(14, "2"), problem(410)),
             ((*POST, ANY), ("GET", "/jobs/14", at_least(2))), ("handed", 2)),
    # Waits of 10 s end at 10 and 20; a third would end at 30, past the 25 s deadline.
    Scenario("in progress, Retry-After: 10, every time, deadline=25", DEADLINE,
             (accepted(15, "10"), working(15, "10")),
             ((*POST, ANY), ("GET", "/jobs/15", at_least(10)), ("GET", "/jobs/15", at_least(10))), ("timeout",),
             deadline=25.0),
    Scenario("202 with Retry-After: 600, deadline=60", DEADLINE, (accepted(16, "600"),), ((*POST, ANY),), ("timeout",),
             deadline=60.0),
]


def probe_args() -> dict:
    return {"module": MODULE, "probe": PROBE, "preload": ("httpx",), "scenarios": [s.as_param() for s in SCENARIOS]}


def prestart(submission: Submission) -> None:
    submission.start_probe(KEY, **probe_args())


# -- words -------------------------------------------------------------------------------


def describe_reply(reply: dict) -> str:
    if reply.get("lost") == "timeout":
        return "no answer (the request timed out)"
    if reply.get("lost"):
        return "no answer (the connection dropped)"
    text = str(reply["status"])
    headers = reply.get("headers", {})
    if "Location" in headers:
        text += f" Location: {headers['Location']}"
    if "Retry-After" in headers:
        text += f" Retry-After: {headers['Retry-After']}"
    state = reply.get("body", {}).get("state") if reply["status"] in (200, 202) else None
    if state and reply["status"] == 200:
        text += f" (state {state}" + (f", retryable {str(reply['body']['error']['retryable']).lower()}"
                                       if state == "error" else "") + ")"
    return text


def describe_replies(scenario: Scenario) -> str:
    shown = ", then ".join(describe_reply(r) for r in scenario.replies)
    if len(scenario.replies) < len(scenario.requests) or scenario.ends == ("timeout",):
        shown += " (the last answer repeats)"
    return shown + (f" (deadline={scenario.deadline:g})" if scenario.deadline != 120.0 else "")


def describe_wait(wait: tuple) -> str:
    if wait[0] == "at_least":
        return f"after waiting {wait[1]:g} s"
    return {"at_once": "at once", "short": "after a short wait (0–10 s)",
            "no_advice": "after a wait of your own (more than 0, at most 10 s)"}.get(wait[0], "")


def describe_expected(scenario: Scenario) -> str:
    steps = [f"{method} {path}" + (f" {describe_wait(wait)}" if wait != ANY else "")
             for method, path, wait in scenario.requests]
    kind = scenario.ends[0]
    if kind == "timeout":
        end = "then TimeoutError raised, without that last wait"
    elif kind == "lost":
        end = "then the last error raised (httpx.ReadTimeout or httpx.RemoteProtocolError)"
    else:
        number = scenario.ends[1]
        end = f"then the {scenario.replies[number - 1]['status']} of request {number} returned" + (
            ", or raised inside an exception" if kind == "handed" else "")
    same = "; every POST with the same key and body" if sum(1 for r in scenario.requests if r[0] == "POST") > 1 else ""
    return "; ".join(steps) + same + "; " + end


def path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def describe_found(event: dict) -> str:
    requests = event["requests"]
    shown = [f"{r['method']} {path_of(r['url'])} at +{r['at']:g} s" for r in requests[:8]]
    if len(requests) > 8:
        shown.append(f"… {len(requests) - 8} more")
    keys = {tuple(r["keys"]) for r in requests if r["method"] == "POST"}
    if len(keys) > 1:
        shown.append("the POSTs carried different keys")
    outcome = event["outcome"]
    kind = outcome["kind"]
    if kind == "returned":
        response = outcome.get("response")
        end = (f"returned the {response['status']} of request {response['attempt']}" if response
               else f"returned {outcome['value']['repr']} (a {outcome['value']['type']}), not the httpx.Response")
    elif kind == "raised":
        carried = outcome["error"].get("response")
        end = f"raised {describe_error(outcome['error'])}" + (
            f", carrying the {carried['status']} of request {carried['attempt']}" if carried else "")
    elif kind == "flooded":
        end = f"was stopped after {MAX_REQUESTS} requests"
    elif kind == "slept-too-often":
        end = f"was stopped after {MAX_SLEEPS} sleeps"
    else:
        end = f"was still running after {CALL_LIMIT:g} s of real time"
    slept = trailing_wait(event)
    if slept > 1e-6:
        shown.append(f"then slept {slept:g} s")
    return ("; ".join(shown) or "no request") + "; then it " + end


# -- judging -----------------------------------------------------------------------------


def waits_of(requests: list[dict]) -> list[float]:
    """Seconds the client waited before each request, on the fake clock, less the time lost answers cost."""
    waits, previous = [], None
    for request in requests:
        waits.append(0.0 if previous is None else request["at"] - previous["at"] - previous.get("lost", 0.0))
        previous = request
    return waits


def wait_fits(wait: tuple, seconds: float) -> bool:
    kind = wait[0]
    if kind == "any":
        return True
    if kind == "at_once":
        return abs(seconds) < 1e-6
    if kind == "short":
        return -1e-6 <= seconds <= SHORT + 1e-6
    if kind == "no_advice":
        return 1e-6 < seconds <= SHORT + 1e-6
    return wait[1] - 1e-6 <= seconds <= wait[1] * 1.5 + 1 + 1e-6


def ended_right(outcome: dict, ends: tuple) -> bool:
    kind = ends[0]
    if kind == "timeout":
        return outcome["kind"] == "raised" and outcome["error"].get("timeout_error") is True
    if kind == "lost":
        return outcome["kind"] == "raised" and outcome["error"].get("transport_error") is True
    if outcome["kind"] == "returned":
        return bool(outcome.get("response")) and outcome["response"]["attempt"] == ends[1]
    carried = outcome["error"].get("response") if outcome["kind"] == "raised" else None
    return kind == "handed" and bool(carried) and carried["attempt"] == ends[1]


def scenario_ok(event: dict, scenario: Scenario) -> bool:
    requests = event["requests"]
    if len(requests) != len(scenario.requests):
        return False
    for request, (method, path, _wait) in zip(requests, scenario.requests):
        if request["method"] != method or path_of(request["url"]) != path:
            return False
    for seconds, (_m, _p, wait) in zip(waits_of(requests), scenario.requests):
        if not wait_fits(wait, seconds):
            return False
    posts = [r for r in requests if r["method"] == "POST"]
    if len({tuple(r["keys"]) for r in posts}) > 1 or any(not body_fits(r["body"], scenario.url) for r in posts):
        return False
    if scenario.ends == ("timeout",) and trailing_wait(event) > 1e-6:
        return False
    return ended_right(event["outcome"], scenario.ends)


def trailing_wait(event: dict) -> float:
    """Seconds slept after the last request (the fake clock moves only by sleeps and lost answers)."""
    requests = event["requests"]
    if not requests or not isinstance(event.get("ended"), (int, float)):
        return 0.0
    return event["ended"] - requests[-1]["at"] - requests[-1].get("lost", 0.0)


def body_fits(body: str, url: str) -> bool:
    try:
        return json.loads(body) == {"url": url}
    except ValueError:
        return False


def key_issues(events: dict[str, dict]) -> list[str]:
    issues, first_keys = [], {}
    for name, event in events.items():
        posts = [r for r in event["requests"] if r["method"] == "POST"]
        for n, request in enumerate(posts, start=1):
            keys = request["keys"]
            if len(keys) != 1:
                issues.append(KEY_COUNT.format(scenario=name, n=n, count=len(keys), found=", ".join(keys) or "none"))
            elif not SF_STRING.fullmatch(keys[0]):
                issues.append(KEY_FORM.format(scenario=name, n=n, value=keys[0]))
        if posts and len(posts[0]["keys"]) == 1:
            value = posts[0]["keys"][0]
            if value in first_keys:
                issues.append(KEY_REUSED.format(first=first_keys[value], second=name, value=value))
            else:
                first_keys[value] = name
    return list(dict.fromkeys(issues))


def process_problems(run: WorkerRun, events: dict) -> list[str]:
    problems = []
    failed_import = run.first("import-failed")
    started = [e["name"] for e in run.of("scenario-start") if e["name"] not in events]
    scenario = started[-1] if started else "(before the first scenario)"
    if failed_import:
        problems.append(describe_import_failure(failed_import["error"], MODULE))
    elif run.ended == "flooded":
        problems.append(FLOODED.format(flood=run.flood or "more than it asked for"))
    elif run.ended == "crashed":
        problems.append(CRASHED.format(scenario=scenario, code=run.exit_code))
    elif run.out_of_time:
        problems.append(out_of_time(run, f"scenario {scenario}"))
    elif run.ended == "hung":
        problems.append(HUNG.format(seconds=STALL_LIMITS["serving"], scenario=scenario))
    if problems and run.output.strip() and run.ended != "finished":
        problems.append("What your code printed last:\n" + indent_tail(run.output))
    return problems


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Play every scenario and judge each behaviour; report all problems at once."""
    hint = lesson_hint(LESSON, SECTION)
    run = submission.probe_run(KEY, **probe_args())
    events = {event["name"]: event for event in run.of("scenario")}
    problems = process_problems(run, events)
    missing = run.first("missing")
    stop = MISSING.format(names=", ".join(missing["names"]), defines=", ".join(missing["defines"]) or "nothing") \
        if missing else None
    if not stop:
        stop = next(filter(None, (signature_problem(e["outcome"], CALL, SIGNATURE) for e in events.values())), None)
    if stop:
        problems.append(stop)
    ignored = next((e for e in events.values() if not e["requests"] and e["outcome"]["kind"] == "raised"
                    and e["outcome"]["error"]["type"] in ("ConnectError", "ConnectionRefusedError", "ConnectionError",
                                                          "URLError")), None)
    if ignored and not stop:
        problems.append(IGNORED_CLIENT.format(call=CALL, type=ignored["outcome"]["error"]["type"],
                                              text=ignored["outcome"]["error"]["text"]).replace("client.get(url)",
                                                                                              "client.post(...)"))
    real = real_sleep_problem([entry for e in events.values() for entry in e["sleeps"]])
    if real:
        problems.append(real)
    slow = next((e for e in events.values() if e["outcome"]["kind"] == "timeout"), None)
    if slow:
        problems.append(TOO_SLOW.format(call=CALL, seconds=CALL_LIMIT, scenario=slow["name"]))
    result.add(RUNS, not problems, "\n".join(problems) + (
        "\nKeep the starter's names and signature, and wait only through `sleep`. " + hint if problems else ""))
    if stop or ignored or run.first("import-failed") or not events:
        return
    for check in (POLL, SAME_KEY, HANDED_BACK, DEADLINE):
        chosen = [s for s in SCENARIOS if s.check == check]
        wrong = []
        for scenario in chosen:
            event = events.get(scenario.name)
            if event is None:
                wrong.append(f"scenario “{scenario.name}” did not run (see the first check)")
            elif not scenario_ok(event, scenario):
                wrong.append(SCENARIO_WRONG.format(replies=describe_replies(scenario),
                                                   expected=describe_expected(scenario), found=describe_found(event)))
        result.add(check, not wrong, "\n".join(wrong) + f"\n{FIX[check]} {hint}")
    issues = key_issues(events)
    result.add(KEYS, not issues, "\n".join(issues[:6]) + f"\n{FIX[KEYS]} {hint}")


EXERCISE = Exercise(
    id="jobs-client",
    title="A client that submits a job once, with an Idempotency-Key, and waits for it within a deadline",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=prestart,
)
