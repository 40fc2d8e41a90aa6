"""`idempotency-key`: POST /jobs made safe to retry with the IETF Idempotency-Key header.

The spec documents the key (draft-ietf-httpapi-idempotency-key-header-07 wants an API to
publish its idempotency rules): a header parameter `Idempotency-Key` on POST /jobs, and
400, 409 and 422 problem responses. The code is driven by `checker.drivers.jobs:run_keys`
on the checker's clock: POSTs with and without keys (see `KEY_SCRIPT` there). The parent owns
the queue: every call of the module's `enqueue(job)`, the one place the lesson says a new job
starts, is a question to it, so it counts the jobs each request started; one retry is sent
while the first request is still inside `enqueue()`.
"""

from __future__ import annotations

from checker.exercises import Exercise, runs
from checker.exercises.common import lesson_hint, load_document
from checker.exercises.jobs_impl import detail_of, location_of
from checker.exercises.jobs_spec import JOBS, operation_at, problem_issue as spec_problem_issue, response_issue
from checker.exercises.runs import problem_issue
from checker.exercises.validation_errors import first_line
from checker.results import ExerciseResult
from checker.submission import Submission

LESSON = "09-Idempotency-Keys.ipynb"
SECTION = "Exercise idempotency-key"
SPEC = "ex-08-01-jobs.yaml"
MODULE = "jobs_api"
PROBE_KEY = "idempotency-key"
PROBE = "checker.drivers.jobs:run_keys"
REFERENCE_SPEC = "reference:jobs.oas3.yaml"

SPEC_DOCUMENTED = "POST /jobs documents the Idempotency-Key header and its 400, 409 and 422 problems"
RUNS = "jobs_api.py imports and create_job() answers every request"
APP_FROM_SPEC = "your spec and jobs_api.py build a connexion app"
ENQUEUE = "create_job() hands each new job to enqueue(job), once"
MISSING = "a POST without Idempotency-Key is refused with a 400 problem, and starts no job"
REPLAY = "the same key and body replay the first answer (202, the same Location) and start no second job"
OTHER_BODY = "the same key with another body is refused with a 422 problem"
NEW_KEY = "another key starts another job, even with the same body"
IN_FLIGHT = "a retry while the first request is still inside enqueue() gets a 409 problem, and a replay afterwards"
EXPIRY = "a key is remembered for 24 hours (KEY_TTL) after its first use; then the same key starts a new job"
CHECKS = (ENQUEUE, MISSING, REPLAY, OTHER_BODY, NEW_KEY, IN_FLIGHT, EXPIRY)

NO_PARAMETER = ("{where}: POST /jobs has no header parameter `Idempotency-Key`; add one under `parameters:` "
                "(`in: header`, `schema: {{type: string}}`), with a description of your rules (the draft wants an "
                "API to publish them, expiry included).")
SPEC_FALLBACK = ("connexion could not build the app from oas3/{spec} ({text}); the code was graded with the checker's "
                 "copy of the jobs spec instead. Fix the spec first (see jobs-spec).")
NO_HOOK = ("jobs_api.py has no function `enqueue`: the checker counts the jobs your code starts by its calls of "
           "`enqueue(job)`. Keep the starter's `enqueue`, and call it once for every new job.")
WRONG_STATUS = "{label}: answered {status}, expected {expected}{detail}"
NOT_PROBLEM = "{label}: {issue}"
HOOK_CALLS = "{label}: enqueue() was called {calls} time{s}, expected {expected}{why}"
NOT_REPLAYED = "{label}: Location is {found!r}, but the first answer for this key had {first!r}{why}"
STILL_REPLAYED = ("{label}: Location is {found!r}, the job of a day ago, replayed: forget a key KEY_TTL seconds after "
                  "its first use, so the same key then starts a new job")
SAME_JOB = "{label}: Location is {found!r}, the same as for key {other}'s job{why}"
NOT_HELD = ("the first request with key B never called enqueue(), so no retry could be sent while it was in flight: "
            "call `enqueue(job)` once for every new job (after marking the key as in flight)")
HELD_TOO_LONG = ("the retry sent while the first request was inside enqueue() did not finish within a second: does "
                 "create_job() hold the lock while calling enqueue()? Release it first (the starter does), so another "
                 "request can see the key is in flight")
NOT_REACHED = "{label} was not sent: an earlier request went wrong (see above)"

LABELS = {
    "k-missing": "POST without a key at +0 s", "k-first": "POST with key A at +1 s",
    "k-replay": "the same POST (key A, same body) again at +2 s", "k-other-body": "key A with another body at +3 s",
    "k-new-key": "key C, the same body as key A, at +4 s", "k-held": "POST with key B at +5 s",
    "k-held-retry": "the same POST (key B) again, sent while the first was inside enqueue()",
    "k-after-held": "the same POST (key B) again at +6 s, after the first had answered",
    "k-later": "the same POST (key A) again an hour later", "k-expired": "the same POST (key A) again 25 hours later",
}


def label(step: str) -> str:
    return LABELS.get(step, step)


def start(submission: Submission) -> None:
    submission.start_probe(PROBE_KEY, module=MODULE, probe=PROBE, specs=[SPEC, REFERENCE_SPEC])


def grade_spec(submission: Submission, result: ExerciseResult, hint: str) -> None:
    document = load_document(submission, SPEC, result, SECTION)
    if document is None:
        return
    if document.broken_refs():
        result.add(SPEC_DOCUMENTED, False, "fix the broken $ref first (see jobs-spec)." + hint)
        return
    post = operation_at(document, JOBS, "post", result, [SPEC_DOCUMENTED], hint)
    if post is None:
        return
    operation, where = post
    parameters = [p for p in operation.get("parameters", []) if isinstance(p, dict)] \
        if isinstance(operation.get("parameters"), list) else []
    issues = []
    if not any(str(p.get("name", "")).lower() == "idempotency-key" and p.get("in") == "header" for p in parameters):
        issues.append(NO_PARAMETER.format(where=where))
    for code in ("400", "409", "422"):
        found, missing = response_issue(operation, code, "POST /jobs", where, " and `application/problem+json` content")
        issues.append(missing or spec_problem_issue(found, code, "POST /jobs", where))
    issues = [issue for issue in issues if issue]
    result.add(SPEC_DOCUMENTED, not issues, "\n".join(issues) + hint)


def status_issue(answer: dict, expected: int, problem: bool = False) -> str | None:
    if answer["status"] != expected:
        return WRONG_STATUS.format(label=label(answer["step"]), status=answer["status"], expected=expected,
                                   detail=detail_of(answer))
    if problem and problem_issue(answer):
        return NOT_PROBLEM.format(label=label(answer["step"]), issue=problem_issue(answer))
    return None


def calls_issue(answer: dict, expected: int, why: str = "") -> str | None:
    calls = answer.get("hook_calls")
    if calls is None or calls == expected:
        return None
    return HOOK_CALLS.format(label=label(answer["step"]), calls=calls, s="" if calls == 1 else "s", expected=expected,
                             why=why)


def grade_code(submission: Submission, result: ExerciseResult, hint: str) -> None:
    run = submission.probe_run(PROBE_KEY, module=MODULE, probe=PROBE, specs=[SPEC, REFERENCE_SPEC])
    spec_failure = next((e for e in run.of("app-failed") if e["spec"].endswith(SPEC)), None)
    if spec_failure is not None and run.of("app-ready"):
        result.add(APP_FROM_SPEC, False, SPEC_FALLBACK.format(spec=SPEC, text=first_line(spec_failure["error"]["text"]))
                   + " " + hint)
    answers = runs.report(run, result, RUNS, MODULE, SPEC, "create_job()", hint)
    if run.of("no-hook"):
        result.add(ENQUEUE, False, NO_HOOK + "\n" + hint)
    if not answers:
        for name in CHECKS:
            if name != ENQUEUE or not run.of("no-hook"):
                result.add(name, False, f"{runs.NOTHING_TO_CHECK} {hint}")
        return
    by_step = {answer["step"]: answer for answer in answers}
    verdicts: dict[str, list[str]] = {name: [] for name in CHECKS}

    def need(step: str, name: str) -> dict | None:
        answer = by_step.get(step)
        if answer is None and step != "k-held-retry":
            verdicts[name].append(NOT_REACHED.format(label=label(step)))
        return answer

    first = need("k-first", ENQUEUE)
    first_location = location_of(first) if first and first["status"] == 202 else None
    if first:
        verdicts[ENQUEUE] += filter(None, [status_issue(first, 202), calls_issue(first, 1, " (one new job)")])
    missing = need("k-missing", MISSING)
    if missing:
        verdicts[MISSING] += filter(None, [status_issue(missing, 400, problem=True),
                                           calls_issue(missing, 0, " (a refused request starts no job)")])
    for step, name in (("k-replay", REPLAY), ("k-later", REPLAY), ("k-after-held", IN_FLIGHT)):
        answer = need(step, name)
        if answer is None:
            continue
        original = first_location if step != "k-after-held" else (
            location_of(by_step["k-held"]) if "k-held" in by_step and by_step["k-held"]["status"] == 202 else None)
        issue = status_issue(answer, 202) or calls_issue(answer, 0, " (a replay starts no job)")
        if issue is None and original is not None and location_of(answer) != original:
            issue = NOT_REPLAYED.format(label=label(step), found=location_of(answer), first=original,
                                        why=": send the stored first answer again")
        if issue:
            verdicts[name].append(issue)
    other = need("k-other-body", OTHER_BODY)
    if other:
        verdicts[OTHER_BODY] += filter(None, [status_issue(other, 422, problem=True),
                                              calls_issue(other, 0, " (a refused request starts no job)")])
    new_key = need("k-new-key", NEW_KEY)
    if new_key:
        issue = status_issue(new_key, 202) or calls_issue(new_key, 1, " (a new key is a new job)")
        if issue is None and first_location is not None and location_of(new_key) == first_location:
            issue = SAME_JOB.format(label=label("k-new-key"), found=location_of(new_key), other="A",
                                    why=": jobs are told apart by their key, not by their body")
        if issue:
            verdicts[NEW_KEY].append(issue)
    held = need("k-held", IN_FLIGHT)
    if run.of("not-held"):
        verdicts[IN_FLIGHT].append(NOT_HELD)
    elif run.of("held-too-long"):
        verdicts[IN_FLIGHT].append(HELD_TOO_LONG)
    retry = by_step.get("k-held-retry")
    if retry is not None:
        issue = status_issue(retry, 409, problem=True)
        if issue:
            verdicts[IN_FLIGHT].append(issue + " (mark the key as in flight before calling enqueue(), and store the "
                                               "answer only after it returned)")
    if held:
        verdicts[IN_FLIGHT] += filter(None, [status_issue(held, 202),
                                             calls_issue(held, 1, " (the retry in between must start no job)")])
    expired = need("k-expired", EXPIRY)
    if expired:
        issue = status_issue(expired, 202) or calls_issue(expired, 1, " (a forgotten key starts a new job)")
        if issue is None and first_location is not None and location_of(expired) == first_location:
            issue = STILL_REPLAYED.format(label=label("k-expired"), found=location_of(expired))
        if issue:
            verdicts[EXPIRY].append(issue)
    for name in CHECKS:
        if name == ENQUEUE and run.of("no-hook"):
            continue
        issues = verdicts[name]
        result.add(name, not issues, "\n".join(issues) + "\n" + hint)


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Check the spec documents the key; then drive create_job() with keys on the checker's clock."""
    hint = " " + lesson_hint(LESSON, SECTION)
    grade_spec(submission, result, hint)
    grade_code(submission, result, hint.strip())


EXERCISE = Exercise(
    id="idempotency-key",
    title="Safe retries of POST /jobs with Idempotency-Key: replay, 422, 409, 400, keys that expire",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=start,
)
