"""`headers-impl`: get_status() answers 503 one time in five, with the right headers."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from checker import stats
from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.runs import NOTHING_TO_CHECK, app_failure, header_values, problem_issue, report_run, status_issues, summarise
from checker.results import ExerciseResult
from checker.submission import HEADERS_SPEC, SAMPLING, SPEC_LOAD, Submission

LESSON = "03-Service-Unavailable.ipynb"
SECTION = "Exercise headers-impl"

APP_FROM_SPEC = "your spec and api.py build a connexion app"
ONLY_200_503 = "GET /status answers only 200 or 503"
SHARE = "about 20% of the answers are 503"
RETRY_AFTER = "every 503 carries a valid Retry-After, and no 200 does"
NO_STORE = "every response carries Cache-Control: no-store"
PROBLEMS = "every body is a problem document whose `status` matches"

SPEC_FALLBACK = ("connexion could not load {spec} ({text}); the rest of this exercise was graded with the "
                 "checker's own spec instead. Fix the spec first: see exercise headers-spec.")
SHARE_WRONG = ("503 on {k} of {n} requests = {share:.1%} (95% confidence interval {low:.1%}–{high:.1%}); "
               "the exercise asks for 20%. With `random.randint(1, 5) == 5` (or `random.random() < 0.2`) "
               "exactly one request in five is refused.")
SHARE_OK = "503 on {k} of {n} requests = {share:.1%} (95% confidence interval {low:.1%}–{high:.1%})"
SHARE_UNDECIDED = "only {n} answers came back, too few to judge the 503 share; fix the problems above first."
NO_503_SEEN = "no 503 came back, so Retry-After could not be checked; return a 503 on 20% of the requests."
MISSING_RETRY_AFTER = "the 503 has no Retry-After header"
BAD_RETRY_AFTER = "Retry-After is {value!r}, which is neither delay-seconds (digits only, e.g. \"5\") nor an HTTP-date (e.g. \"Fri, 20 Nov 2026 10:00:00 GMT\")"
RETRY_AFTER_ON_200 = "a 200 carries Retry-After {value!r}"
FIX_LEAK = ("Build the headers dictionary afresh inside get_status(): one shared dictionary you once added Retry-After "
            "to leaks it into every later 200 (problem() changes the dictionary it is given).")
FIX_RETRY_AFTER = "Add `headers={\"Retry-After\": \"5\"}` to the 503 problem (RFC 9110 §10.2.3)."
MISSING_CACHE_CONTROL = "there is no Cache-Control header"
NO_NO_STORE = "Cache-Control is {value!r}, without the no-store directive"
FIX_NO_STORE = "Send `Cache-Control: no-store` on every response, the 200s too, so no cache keeps a stale status (RFC 9111 §5.2.2.5)."

IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT"
)


def retry_after_valid(value: str) -> bool:
    """True for delay-seconds (1*DIGIT) or an IMF-fixdate that is a real date (RFC 9110 §10.2.3, §5.6.7)."""
    if re.fullmatch(r"[0-9]+", value):
        return True
    if IMF_FIXDATE.fullmatch(value):
        try:
            parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return False
        return True
    return False


def has_no_store(values: list[str]) -> bool:
    """True if any Cache-Control field value lists the no-store directive (other directives allowed)."""
    directives = [part.split("=")[0].strip().lower() for value in values for part in value.split(",")]
    return "no-store" in directives


def retry_after_issue(answer: dict) -> str | None:
    values = header_values(answer, "retry-after")
    if not values:
        return MISSING_RETRY_AFTER
    if len(values) > 1 or not retry_after_valid(values[0].strip()):
        return BAD_RETRY_AFTER.format(value=", ".join(values))
    return None


def no_store_issue(answer: dict) -> str | None:
    values = header_values(answer, "cache-control")
    if not values:
        return MISSING_CACHE_CONTROL
    return None if has_no_store(values) else NO_NO_STORE.format(value=", ".join(values))


def grade_share(answers: list[dict], result: ExerciseResult, hint: str) -> None:
    n = len(answers)
    k = sum(a["status"] == 503 for a in answers)
    verdict = stats.decide(n, k) if n else stats.CONTINUE
    if verdict == stats.CONTINUE:
        result.add(SHARE, False, SHARE_UNDECIDED.format(n=n) + " " + hint)
        return
    low, high = stats.wilson_interval(k, n)
    numbers = {"k": k, "n": n, "share": k / n, "low": low, "high": high}
    result.add(SHARE, verdict == stats.PASS, SHARE_WRONG.format(**numbers) + " " + hint, info=SHARE_OK.format(**numbers))


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Sample the learner's own app until the 503 share is clear, then check every answer."""
    hint = lesson_hint(LESSON, SECTION)
    run = submission.app_run(sampling=True)
    ready = run.first("app-ready")
    spec_failure = next((e for e in run.of("app-failed") if e["spec"].endswith(HEADERS_SPEC)), None)
    if spec_failure is not None and spec_failure["error"]["type"] == "OperationMissing":
        result.add(APP_FROM_SPEC, False, app_failure(spec_failure, HEADERS_SPEC) + " " + hint)
    elif ready is not None or spec_failure is not None:
        result.add(APP_FROM_SPEC, spec_failure is None,
                   SPEC_FALLBACK.format(spec=submission.shown(HEADERS_SPEC), text=(spec_failure or {}).get("error", {}).get("text", "")))
    answers = report_run(run, result, hint)
    total = len(answers)
    statuses = status_issues(answers)
    result.add(ONLY_200_503, bool(answers) and not statuses,
               (summarise(statuses, total, "answers") if answers else "no answer came back to check.") + " " + hint)
    grade_share(answers, result, hint)
    unavailable = [a for a in answers if a["status"] == 503]
    issues = [(a["request"], issue) for a in unavailable if (issue := retry_after_issue(a))]
    served = [a for a in answers if a["status"] == 200]
    leaks = [(a["request"], RETRY_AFTER_ON_200.format(value=", ".join(values)))
             for a in served if (values := header_values(a, "retry-after"))]
    if not unavailable:
        result.add(RETRY_AFTER, False, NO_503_SEEN + " " + hint)
    else:
        text = "\n".join(part for part in (summarise(issues, len(unavailable), "503s"),
                                            summarise(leaks, len(served), "200s")) if part)
        fixes = " ".join(fix for fix, found in ((FIX_RETRY_AFTER, issues), (FIX_LEAK, leaks)) if found)
        result.add(RETRY_AFTER, not issues and not leaks, f"{text}\n{fixes} {hint}")
    issues = [(a["request"], issue) for a in answers if (issue := no_store_issue(a))]
    result.add(NO_STORE, bool(answers) and not issues,
               f"{summarise(issues, total, 'responses') if answers else NOTHING_TO_CHECK}\n{FIX_NO_STORE} {hint}")
    issues = [(a["request"], issue) for a in answers if (issue := problem_issue(a))]
    result.add(PROBLEMS, bool(answers) and not issues, f"{summarise(issues, total, 'responses') if answers else NOTHING_TO_CHECK}"
               f"\nBuild every answer with connexion's `problem(...)`. {hint}")


EXERCISE = Exercise(
    id="headers-impl",
    title="Refuse one request in five with 503, Retry-After and Cache-Control: no-store",
    lesson=LESSON,
    points=3,
    grade=grade,
    needs=frozenset({SPEC_LOAD, SAMPLING}),
)
