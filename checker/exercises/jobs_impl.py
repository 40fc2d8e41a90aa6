"""`jobs-impl`: the thumbnail server, driven through a job's whole life on a fake clock.

`checker.drivers.jobs` builds the app from the learner's spec (or the checker's copy,
when theirs cannot be built) with the module's `clock` swapped for one the checker
sets per request, submits three jobs and follows their Locations at chosen times
(see its docstring). Every verdict comes from those answers.
"""

from __future__ import annotations

import json
import math

from checker.exercises import Exercise, runs
from checker.exercises.common import lesson_hint
from checker.exercises.runs import header_values, problem_issue
from checker.exercises.validation_errors import first_line
from checker.drivers.jobs import URLS
from checker.results import ExerciseResult
from checker.submission import Submission

LESSON = "08-Long-Running-Jobs.ipynb"
SECTION = "Exercise jobs-impl"
SPEC = "ex-08-01-jobs.yaml"
MODULE = "jobs_api"
PROBE_KEY = "jobs-impl"
PROBE = "checker.drivers.jobs:run"
REFERENCE_SPEC = "reference:jobs.oas3.yaml"
DONE_AFTER, KEEP = 10, 600  #: the lesson's timeline: a job ends 10 s after it was created, and is kept 600 s more

RUNS = "jobs_api.py imports and its operations answer every request"
APP_FROM_SPEC = "your spec and jobs_api.py build a connexion app"
CLOCK = "jobs_api.py reads the time through its module-level `clock`"
ACCEPTED = "POST /jobs answers 202 with a job in state `new`, its own Location, and Retry-After"
PROGRESS = "GET on a job that is not done answers 200, state `new` then `in progress`, with Retry-After"
READY = "GET on a ready job answers 303 See Other, whose Location serves the thumbnail (200)"
FAILED = "a failed job answers 200, state `error`, with a problem under `error` whose `retryable` is right"
EXPIRED = "600 s after a job ended, it and its thumbnail answer 410 Gone problems"
UNKNOWN = "an unknown id answers a 404 problem, on /jobs/{job_id} and /thumbnails/{job_id}"
CHECKS = (ACCEPTED, PROGRESS, READY, FAILED, EXPIRED, UNKNOWN)

SPEC_FALLBACK = ("connexion could not build the app from oas3/{spec} ({text}); the code was graded with the checker's "
                 "copy of the jobs spec instead. Fix the spec first (see jobs-spec).")
NO_CLOCK = ("jobs_api.py's module-level `clock` {found}, so the checker could not move time forward. Keep "
            "`clock = time.monotonic` at module level and call `clock()` whenever you need the time.")
CLOCK_UNREAD = ("your code never called clock(). A job's state depends on the time, and the checker can only move it "
                "forward through `clock()`: call `clock()`, not time.monotonic() or time.time().")
FIX_CLOCK = "\nTime only moves for your code through `clock()` (see the clock check above)."

WRONG_STATUS = "{label}: answered {status}, expected {expected}{detail}"
NO_LOCATION = "{label}: there is no usable Location header{found}; send the job's path, e.g. `Location: /jobs/<id>`"
NO_THUMBNAIL = "{label}: the 303 has no usable Location; send the thumbnail's path, e.g. `Location: /thumbnails/<id>`"
FIX_CONTENT_TYPE = ("This operation declares two media types (application/json and application/problem+json), so "
                    "connexion cannot guess: send `Content-Type: application/json` with every JSON answer, e.g. "
                    "`return job, 202, {\"Content-Type\": \"application/json\", \"Location\": ...}`.")
SAME_LOCATION = "the three jobs got Locations {locations}: each job needs its own id, e.g. uuid.uuid4().hex"
NOT_JSON = "{label}: the body is not a JSON object ({body!r}); send the job, e.g. {{\"id\": \"…\", \"state\": \"new\"}}"
NOT_THE_JOB = ("{label}: the body {body} is not the job: send its `id` (a string) and `url` ({url!r}) beside "
               "`state`")
WRONG_STATE = "{label}: `state` is {found!r}, expected {expected!r}{why}"
RA_MISSING = "{label}: there is no Retry-After; a job that is not done says when to ask again"
RA_INVALID = "{label}: Retry-After {value!r} is not whole seconds (digits only, e.g. \"5\")"
RA_RANGE = ("{label}: Retry-After is {value} s; send at least 1 and at most {most} s, the whole seconds until the job "
            "is due to end (10 s after it was created), rounded up")
NO_ERROR = ("{label}: there is no `error` object: a failed job carries a problem (RFC 9457) with a `title` and a "
            "boolean `retryable`")
ERROR_TITLE = "{label}: `error` has no `title` string"
RETRYABLE = "{label}: `error.retryable` is {found!r}, expected {expected} ({why})"
NOT_PROBLEM = "{label}: {issue}"
NOT_REACHED = "{what} was not reached: {why}"

LABELS = {
    "post-ok": "POST /jobs (https://example.com/) at +0 s", "post-terminal": "POST /jobs (https://nowhere.invalid/) at +0 s",
    "post-retryable": "POST /jobs (https://down.test/) at +0 s", "ok-new": "GET the job at +1.5 s",
    "ok-in-progress": "GET the job at +5.5 s", "ok-ready": "GET the job at +20 s", "ok-thumbnail": "GET its 303 Location at +20 s",
    "ok-still-ready": "GET the job at +300 s", "terminal-failed": "GET the .invalid job at +20 s",
    "retryable-failed": "GET the .test job at +20 s", "unknown-job": "GET /jobs/<an id never given out>",
    "unknown-thumbnail": "GET /thumbnails/<an id never given out>", "ok-expired": "GET the job at +700 s",
    "ok-thumbnail-expired": "GET its thumbnail at +700 s", "terminal-expired": "GET the .invalid job at +700 s",
}
SHOWN_LINES = 8


def start(submission: Submission) -> None:
    submission.start_probe(PROBE_KEY, module=MODULE, probe=PROBE, specs=[SPEC, REFERENCE_SPEC])


def label(answer: dict) -> str:
    return LABELS.get(answer["step"], answer["step"])


def body_of(answer: dict):
    try:
        return json.loads(answer["body"])
    except ValueError:
        return None


def detail_of(answer: dict) -> str:
    body = body_of(answer)
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return ""
    if answer["status"] == 500 and "content types" in body["detail"]:
        return f" (connexion says: {body['detail'][:160]} {FIX_CONTENT_TYPE})"
    return f" ({body['detail'][:160]})"


def lines(issues: list[str]) -> str:
    shown = issues[:SHOWN_LINES]
    if len(issues) > SHOWN_LINES:
        shown.append(f"… and {len(issues) - SHOWN_LINES} more")
    return "\n".join(shown)


def status_issue(answer: dict, expected: int) -> str | None:
    if answer["status"] == expected:
        return None
    return WRONG_STATUS.format(label=label(answer), status=answer["status"], expected=expected, detail=detail_of(answer))


def state_issue(answer: dict, expected: str, why: str = "") -> str | None:
    body = body_of(answer)
    if not isinstance(body, dict):
        return NOT_JSON.format(label=label(answer), body=answer["body"][:80])
    if body.get("state") != expected:
        return WRONG_STATE.format(label=label(answer), found=body.get("state"), expected=expected, why=why)
    return None


def job_issue(answer: dict, url: str) -> str | None:
    """The 202's body is the job: its `id` a string, its `url` the one submitted."""
    body = body_of(answer)
    if not isinstance(body, dict) or body.get("state") != "new":
        return None  # state_issue says what is wrong
    if not isinstance(body.get("id"), str) or body.get("url") != url:
        return NOT_THE_JOB.format(label=label(answer), body=answer["body"][:120], url=url)
    return None


def retry_after_issue(answer: dict, most: int) -> str | None:
    values = header_values(answer, "retry-after")
    if not values:
        return RA_MISSING.format(label=label(answer))
    value = values[0].strip()
    if len(values) > 1 or not (value.isascii() and value.isdigit()):
        return RA_INVALID.format(label=label(answer), value=", ".join(values))
    if not 1 <= int(value) <= most:
        return RA_RANGE.format(label=label(answer), value=value, most=most)
    return None


def location_of(answer: dict) -> str | None:
    values = header_values(answer, "location")
    return values[0].strip() if len(values) == 1 and values[0].strip() else None


def judge_accepted(by_step: dict, unfollowed: set) -> list[str]:
    issues, locations = [], []
    for name in URLS:
        answer = by_step.get(f"post-{name}")
        if answer is None:
            continue
        issue = status_issue(answer, 202)
        if issue:
            issues.append(issue)
            continue
        if f"post-{name}" in unfollowed or location_of(answer) is None:
            values = header_values(answer, "location")
            issues.append(NO_LOCATION.format(label=label(answer), found=f" (found {values!r})" if values else ""))
        else:
            locations.append(location_of(answer))
        issues += filter(None, [state_issue(answer, "new"), job_issue(answer, URLS[name]),
                                retry_after_issue(answer, DONE_AFTER)])
    if len(locations) > 1 and len(set(locations)) < len(locations):
        issues.append(SAME_LOCATION.format(locations=", ".join(locations)))
    if not any(f"post-{name}" in by_step for name in URLS):
        issues.append(NOT_REACHED.format(what="POST /jobs", why="see the first check"))
    return issues


def judge_progress(by_step: dict) -> list[str]:
    issues = []
    for step, expected, at in (("ok-new", "new", 1.5), ("ok-in-progress", "in progress", 5.5)):
        answer = by_step.get(step)
        if answer is None:
            issues.append(NOT_REACHED.format(what=LABELS[step], why="POST /jobs gave no usable Location for it (see above)"))
            continue
        issue = status_issue(answer, 200)
        if issue:
            issues.append(issue)
            continue
        why = f" ({at:g} s after it was created: new for 2 s, then in progress until 10 s)"
        issues += filter(None, [state_issue(answer, expected, why),
                                retry_after_issue(answer, math.ceil(DONE_AFTER - at))])
    return issues


def judge_ready(by_step: dict, unfollowed: set) -> list[str]:
    issues = []
    for step in ("ok-ready", "ok-still-ready"):
        answer = by_step.get(step)
        if answer is None:
            issues.append(NOT_REACHED.format(what=LABELS[step], why="POST /jobs gave no usable Location for it (see above)"))
            continue
        issue = status_issue(answer, 303)
        if issue:
            issues.append(issue + " (a job is ready from 10 s until 610 s after it was created)")
    if "ok-ready" in unfollowed:
        issues.append(NO_THUMBNAIL.format(label=LABELS["ok-ready"]))
    thumbnail = by_step.get("ok-thumbnail")
    if thumbnail is not None:
        issue = status_issue(thumbnail, 200)
        if issue:
            issues.append(issue + f" (the 303 pointed to {location_of(by_step['ok-ready'])})")
    return issues


def judge_failed(by_step: dict) -> list[str]:
    issues = []
    for step, expected, why in (("terminal-failed", False, "a host under .invalid can never exist: retrying cannot help"),
                                ("retryable-failed", True, "a host under .test stands for a site that is down for now")):
        answer = by_step.get(step)
        if answer is None:
            issues.append(NOT_REACHED.format(what=LABELS[step], why="POST /jobs gave no usable Location for it (see above)"))
            continue
        issue = status_issue(answer, 200) or state_issue(answer, "error", " (its URL's host cannot be fetched)")
        if issue:
            issues.append(issue)
            continue
        error = body_of(answer).get("error")
        if not isinstance(error, dict):
            issues.append(NO_ERROR.format(label=label(answer)))
            continue
        if not isinstance(error.get("title"), str):
            issues.append(ERROR_TITLE.format(label=label(answer)))
        if error.get("retryable") is not expected:
            issues.append(RETRYABLE.format(label=label(answer), found=error.get("retryable"),
                                           expected=str(expected).lower(), why=why))
    return issues


def judge_gone(by_step: dict, steps: tuple[str, ...], status: int) -> list[str]:
    issues = []
    for step in steps:
        answer = by_step.get(step)
        if answer is None:
            if step != "ok-thumbnail-expired" or "ok-thumbnail" in by_step:
                issues.append(NOT_REACHED.format(what=LABELS[step], why="POST /jobs or the 303 gave no usable Location for it (see above)"))
            continue
        issue = status_issue(answer, status)
        if issue is None and problem_issue(answer):
            issue = NOT_PROBLEM.format(label=label(answer), issue=problem_issue(answer))
        if issue:
            issues.append(issue)
    return issues


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Drive the jobs through their life on the checker's clock; judge every answer."""
    hint = lesson_hint(LESSON, SECTION)
    run = submission.probe_run(PROBE_KEY, module=MODULE, probe=PROBE, specs=[SPEC, REFERENCE_SPEC])
    spec_failure = next((e for e in run.of("app-failed") if e["spec"].endswith(SPEC)), None)
    if spec_failure is not None and run.of("app-ready"):
        result.add(APP_FROM_SPEC, False, SPEC_FALLBACK.format(spec=SPEC, text=first_line(spec_failure["error"]["text"]))
                   + " " + hint)
    answers = runs.report(run, result, RUNS, MODULE, SPEC, "create_job(), get_job() or get_thumbnail()", hint)
    clock = run.first("clock")
    clock_ok = bool(clock and clock["found"]) and any(a.get("clock_reads") for a in answers)
    if clock is not None:
        if not clock["found"]:
            found = f"is a {clock['kind']}, not a function" if clock["kind"] else "is missing"
            result.add(CLOCK, False, NO_CLOCK.format(found=found) + " " + hint)
        elif answers:
            result.add(CLOCK, clock_ok, CLOCK_UNREAD + " " + hint)
    if not answers:
        for name in CHECKS:
            result.add(name, False, f"{runs.NOTHING_TO_CHECK} {hint}")
        return
    fix_clock = "" if clock_ok else FIX_CLOCK
    events = run.of("response")
    by_step = {event["step"]: event for event in events}
    unfollowed = {event["step"] for event in run.of("unfollowed")}
    verdicts = {
        ACCEPTED: judge_accepted(by_step, unfollowed),
        PROGRESS: judge_progress(by_step),
        READY: judge_ready(by_step, unfollowed),
        FAILED: judge_failed(by_step),
        EXPIRED: judge_gone(by_step, ("ok-expired", "ok-thumbnail-expired", "terminal-expired"), 410),
        UNKNOWN: judge_gone(by_step, ("unknown-job", "unknown-thumbnail"), 404),
    }
    timed = {PROGRESS, READY, FAILED, EXPIRED}
    for name, issues in verdicts.items():
        result.add(name, not issues, lines(issues) + (fix_clock if name in timed else "") + "\n" + hint)


EXERCISE = Exercise(
    id="jobs-impl",
    title="The thumbnail server: 202 Accepted, a job that moves on with time, 303, 404 and 410",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=start,
)
