"""retry-after-client: wrong clients fail the right check with the right message, correct variants pass,
and hostile clients (real sleeps, waits, exits, loops that swallow everything) get a verdict in bounded time.

Every submission is solutions/oas3/ with client.py edited; all are graded at once, in parallel workers.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from checker_support import SOLUTIONS, STARTERS, edited, failed, grade, make_submission

from checker.exercises import retry_after_client as rac

CLIENT = "oas3/client.py"
FINISHED = (SOLUTIONS / CLIENT).read_text()
EXERCISE = "retry-after-client"

#: get_with_retries() as it stands after this exercise, before client-timeouts adds timeouts and a deadline:
#: this exercise must pass it, and the wrong variants below are edits of it
STAGE_ONE = '''def get_with_retries(url: str, *, policy: RetryPolicy = RetryPolicy(), client: httpx.Client | None = None,
                     sleep=time.sleep, clock=time.monotonic) -> httpx.Response:
    """GET `url`; on 429 or 503 wait and ask again, at most `policy.max_attempts` times in all."""
    if client is None:
        with httpx.Client() as own:
            return get_with_retries(url, policy=policy, client=own, sleep=sleep, clock=clock)
    attempts = max(1, policy.max_attempts)
    for attempt in range(1, attempts + 1):
        response = client.get(url)
        if response.status_code not in RETRYABLE_STATUSES or attempt == attempts:
            return response
        delay = retry_after_seconds(response.headers.get("Retry-After"))
        sleep(backoff_delay(attempt, policy) if delay is None else delay)
    raise AssertionError("unreachable: the last attempt returns")


'''
SOLUTION = (FINISHED[:FINISHED.index("def get_with_retries")] + STAGE_ONE
            + FINISHED[FINISHED.index("class CircuitOpen"):])

LOOP = '''        response = client.get(url)
        if response.status_code not in RETRYABLE_STATUSES or attempt == attempts:
            return response
        delay = retry_after_seconds(response.headers.get("Retry-After"))
        sleep(backoff_delay(attempt, policy) if delay is None else delay)
'''


def patched(*edits: tuple[str, str], text: str = SOLUTION) -> str:
    """The solution's client.py with each (old, new) replacement applied once."""
    return edited(text, *edits)


def loop(body: str) -> tuple[str, str]:
    """Replace the body of get_with_retries()'s loop."""
    return LOOP, body


def fits(template: str, text: str) -> bool:
    """True if `text` contains `template` with every {field} filled in somehow."""
    parts = [re.escape(part) for part in re.split(r"\{[^{}]*\}", template)]
    return re.search(".*?".join(parts), text, re.DOTALL) is not None


CLASS_BASED = '''\
"""A class-based client: the function the checker calls delegates to it."""
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUSES = {429, 503}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff: str = "fixed"
    base: float = 1.0
    cap: float = 16.0
    jitter: str = "full"
    spread: float = 0.5


class RetryingClient:
    def __init__(self, http, policy, sleep):
        self.http, self.policy, self.sleep = http, policy, sleep

    def wait_for(self, response, attempt):
        value = response.headers.get("retry-after", "")
        if value.isdigit():
            return int(value)
        try:
            return max(0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return self.policy.base

    def get(self, url):
        response = self.http.get(url)
        attempt = 1
        while response.status_code in RETRYABLE_STATUSES and attempt < self.policy.max_attempts:
            self.sleep(self.wait_for(response, attempt))
            response = self.http.get(url)
            attempt += 1
        return response


def get_with_retries(url, *, policy=RetryPolicy(), client=None, sleep=time.sleep):
    return RetryingClient(client or httpx.Client(), policy, sleep).get(url)
'''

# (case, client.py, failed checks, the check whose message is examined, template or fragment it must fit)
WRONG = [
    ("fail-starter", (STARTERS / CLIENT).read_text(), {rac.RETRY_SECONDS, rac.RETRY_DATE, rac.GIVES_UP, rac.NO_HEADER},
     rac.RETRY_SECONDS, "Found:    1 request, no sleep, then it returned the 503 of request 1"),
    ("fail-retries-404", patched(("not in RETRYABLE_STATUSES or", "< 400 or")), {rac.NO_RETRY},
     rac.NO_RETRY, "The server answered 404.\n    Expected: 1 request, no sleep, then the 404 of request 1"),
    ("fail-ignores-retry-after", patched(('delay = retry_after_seconds(response.headers.get("Retry-After"))',
                                          "delay = None")),
     {rac.RETRY_SECONDS, rac.RETRY_DATE}, rac.RETRY_SECONDS, rac.FIX_RETRY_SECONDS),
    ("fail-no-http-date", patched(("    try:  # HTTP-date", "    return None\n    try:  # HTTP-date")),
     {rac.RETRY_DATE}, rac.RETRY_DATE, "Retry-After: <an HTTP-date 5 s ahead>"),
    ("fail-naive-local-now", patched(("now or datetime.now(timezone.utc)", "now or datetime.now()")),
     {rac.RETRY_DATE}, rac.RETRY_DATE, "raised TypeError: can't subtract offset-naive and offset-aware datetimes "
     "(oas3/client.py:"),
    ("fail-negative-wait-for-past-date", patched(("max(0.0, (when - now).total_seconds())", "(when - now).total_seconds()")),
     {rac.RETRY_DATE}, rac.RETRY_DATE, "raised ValueError: sleep length must be non-negative (oas3/client.py:"),
    ("fail-one-attempt-too-many", patched(("range(1, attempts + 1)", "range(1, attempts + 2)"),
                                          ("or attempt == attempts:", "or attempt > attempts:")),
     {rac.GIVES_UP}, rac.GIVES_UP, "Found:    4 requests"),
    ("fail-hands-back-the-first-response", patched(loop(
        "        response = client.get(url)\n"
        "        if attempt == 1:\n            first = response\n"
        "        if response.status_code not in RETRYABLE_STATUSES:\n            return response\n"
        "        if attempt == attempts:\n            return first\n"
        "        delay = retry_after_seconds(response.headers.get('Retry-After'))\n"
        "        sleep(backoff_delay(attempt, policy) if delay is None else delay)\n")),
     {rac.GIVES_UP}, rac.GIVES_UP, "then it returned the 503 of request 1"),
    ("fail-returns-none-after-giving-up", patched(("or attempt == attempts:\n            return response",
                                                   ":\n            return response\n"
                                                   "        if attempt == attempts:\n            return None")),
     {rac.GIVES_UP}, rac.GIVES_UP, "then it returned None (a NoneType), not the httpx.Response"),
    ("fail-sleeps-after-the-last-attempt", patched(loop(
        "        response = client.get(url)\n"
        "        if response.status_code not in RETRYABLE_STATUSES:\n            return response\n"
        "        delay = retry_after_seconds(response.headers.get('Retry-After'))\n"
        "        sleep(backoff_delay(attempt, policy) if delay is None else delay)\n"
        "        if attempt == attempts:\n            return response\n")),
     {rac.GIVES_UP}, rac.GIVES_UP, "3 requests, sleep(1), sleep(1), sleep(1), then it returned the 503 of request 3"),
    ("fail-never-gives-up", patched(("for attempt in range(1, attempts + 1):", "for attempt in range(1, 10**6):"),
                                    ("or attempt == attempts:", ":")),
     {rac.GIVES_UP}, rac.GIVES_UP, "was stopped after 50 requests: it never gave up"),
    ("fail-first-retry-after-only", patched(('        delay = retry_after_seconds(response.headers.get("Retry-After"))\n',
                                             '        if attempt == 1:\n'
                                             '            told = retry_after_seconds(response.headers.get("Retry-After"))\n'
                                             '        delay = told\n')),
     {rac.RETRY_SECONDS}, rac.RETRY_SECONDS, "sleep(1), sleep(1), then it returned the 200 of request 3"),
    ("fail-429-not-retried", patched(("frozenset({429, 503})", "frozenset({503})")),
     {rac.RETRY_SECONDS}, rac.RETRY_SECONDS, "The server answered 429 with Retry-After: 3, then 200."),
    ("fail-crashes-on-unreadable-retry-after", patched(("    try:  # HTTP-date", "    if True:  # HTTP-date"),
                                                       ("    except (TypeError, ValueError):\n        return None\n", "")),
     {rac.NO_HEADER}, rac.NO_HEADER, "raised ValueError"),
    ("fail-real-sleep", patched(("        sleep(backoff_delay", "        time.sleep(backoff_delay")),
     {rac.RUNS}, rac.RUNS, rac.REAL_SLEEP),
    ("fail-sleep-imported-from-time", patched(("import httpx\n", "import httpx\nfrom time import sleep as pause\n"),
                                              ("        sleep(backoff_delay", "        pause(backoff_delay")),
     {rac.RUNS}, rac.RUNS, "time.sleep(2) at oas3/client.py:"),
    ("fail-ignores-the-client", patched(("response = client.get(url)", "response = httpx.get(url)")),
     {rac.RUNS}, rac.RUNS, rac.IGNORED_CLIENT),
    ("fail-renamed-function", SOLUTION.replace("get_with_retries", "get_retrying"), {rac.RUNS}, rac.RUNS,
     "oas3/client.py has no get_with_retries (it defines:"),
    ("fail-other-signature", patched(("def get_with_retries(url: str, *, policy", "def get_with_retries(url: str, *, pol")),
     {rac.RUNS}, rac.RUNS, rac.SIGNATURE),
    ("fail-syntax-error", patched(("    attempts = max(1, policy.max_attempts)", "    attempts = max(1, policy.max_attempts")),
     {rac.RUNS}, rac.RUNS, "oas3/client.py:"),
    ("fail-client-missing", None, {rac.RUNS}, rac.RUNS, "oas3/client.py is missing. Create it"),
    ("fail-retries-every-5xx", patched(("frozenset({429, 503})", "frozenset({429, 500, 502, 503, 504})")),
     {rac.NO_RETRY}, rac.NO_RETRY, "The server answered 500 with Retry-After: 1"),
    ("fail-caps-retry-after-at-policy-cap", patched(("if delay is None else delay)", "if delay is None else min(delay, policy.cap))")),
     {rac.RETRY_SECONDS}, rac.RETRY_SECONDS, "Found:    2 requests, sleep(16)"),
    ("fail-zero-retry-after-taken-as-missing", patched(("sleep(backoff_delay(attempt, policy) if delay is None else delay)",
                                                        "sleep(delay or backoff_delay(attempt, policy))")),
     {rac.RETRY_SECONDS, rac.RETRY_DATE}, rac.RETRY_SECONDS, "The server answered 503 with Retry-After: 0, then 200 (RetryPolicy("),
    ("fail-no-wait-without-retry-after", patched(("backoff_delay(attempt, policy) if delay is None else delay",
                                                  "0 if delay is None else delay")),
     {rac.NO_HEADER}, rac.NO_HEADER, "sleep(backoff_delay(retry, policy)): more than 0, at most 100.5 s"),
]
RIGHT = [
    ("pass-solution", FINISHED),
    ("pass-stage-one", SOLUTION),
    ("pass-class-based", CLASS_BASED),
    ("pass-raises-http-status-error", patched(("            return response\n        delay",
                                               "            return response.raise_for_status()\n        delay"))),
    ("pass-date-from-the-date-header", patched(
        ('delay = retry_after_seconds(response.headers.get("Retry-After"))',
         'delay = retry_after_seconds(response.headers.get("Retry-After"), '
         'parsedate_to_datetime(response.headers["Date"]))'))),
    ("pass-retry-after-plus-jitter", patched(("sleep(backoff_delay(attempt, policy) if delay is None else delay)",
                                              "sleep(backoff_delay(attempt, policy) if delay is None "
                                              "else delay + random.uniform(0, 1))"))),
    ("pass-recursive", patched(("    attempts = max(1, policy.max_attempts)\n", "    return _attempt(url, 1, policy, client, sleep)\n\n\n"
                                "def _attempt(url, attempt, policy, client, sleep):\n"
                                "    response = client.get(url)\n"
                                "    if response.status_code not in RETRYABLE_STATUSES or attempt >= policy.max_attempts:\n"
                                "        return response\n"
                                "    delay = retry_after_seconds(response.headers.get('Retry-After'))\n"
                                "    sleep(backoff_delay(attempt, policy) if delay is None else delay)\n"
                                "    return _attempt(url, attempt + 1, policy, client, sleep)\n"
                                "    attempts = max(1, policy.max_attempts)\n"))),
]
HOSTILE = [
    # (case, client.py, fragment or template of the RUNS message, most real seconds the grading may take)
    ("exits-the-process", patched(("    attempts = max(1, policy.max_attempts)", "    import os; os._exit(3)")),
     "the process running your code ended during scenario “200 at once” (exit code 3)", 15),
    ("waits-on-an-event", patched(("        sleep(backoff_delay", "        __import__('threading').Event().wait(backoff_delay"),
                                  ("if delay is None else delay)", "if delay is None else delay) or sleep(0)")),
     "was still running after 1 s of real time", 20),
    ("loops-and-swallows-everything", patched(("        response = client.get(url)\n",
                                               "        while True:\n"
                                               "            try:\n"
                                               "                response = client.get(url)\n"
                                               "                sleep(1)\n"
                                               "            except BaseException:\n"
                                               "                pass\n")),
     rac.HUNG, 20),  # the loop hangs the first scenario, or an alarm escapes it and the next one hangs
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case of this file once, four workers at a time; case -> (result, seconds)."""
    cases = {case: text for case, text, *_ in WRONG + HOSTILE} | dict(RIGHT)
    folders = {case: make_submission(tmp_path_factory.mktemp(case), {CLIENT: text}) for case, text in cases.items()}

    def grade_case(case: str):
        started = time.monotonic()
        return grade(folders[case], EXERCISE)[EXERCISE], time.monotonic() - started

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(cases, pool.map(grade_case, cases)))


@pytest.mark.parametrize("case, text, checks, check, template", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_client_fails_the_right_check(graded, case, text, checks, check, template):
    result, _ = graded[case]
    problems = failed(result)
    assert set(problems) == checks, f"{case}: {result}"
    assert fits(template, problems[check]), f"{case}: {problems[check]}"
    assert problems[check].endswith(f"See {rac.LESSON}, “{rac.SECTION}”."), problems[check]


@pytest.mark.parametrize("case", [c[0] for c in RIGHT])
def test_correct_client_variant_passes(graded, case):
    result, _ = graded[case]
    assert result.passed, str(result)
    assert len(result.checks) == 1 + len(rac.CHECKS)


@pytest.mark.parametrize("case, text, fragment, seconds", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_client_gets_a_clear_verdict_quickly(graded, case, text, fragment, seconds):
    result, took = graded[case]
    assert fits(fragment, failed(result).get(rac.RUNS, "")), str(result)
    assert took < seconds, f"{case} took {took:.1f} s"
    assert "Traceback" not in str(result)


def test_starter_fails_and_names_each_missing_behaviour(graded):
    result, _ = graded["fail-starter"]
    assert failed(result)[rac.RETRY_DATE].count("Found:    1 request, no sleep") == 2


def test_real_sleep_names_the_learners_line(graded):
    message = failed(graded["fail-real-sleep"][0])[rac.RUNS]
    line = SOLUTION.splitlines().index("        sleep(backoff_delay(attempt, policy) if delay is None else delay)") + 1
    assert f"at oas3/client.py:{line} (`time.sleep(backoff_delay(" in message


def test_every_scenario_belongs_to_a_check_with_a_fix():
    assert {s.check for s in rac.SCENARIOS} == set(rac.CHECKS)
    assert len({s.name for s in rac.SCENARIOS}) == len(rac.SCENARIOS)


def test_scenario_messages_say_what_the_server_did_expected_and_found():
    scenario = next(s for s in rac.SCENARIOS if s.name == "each answer its own Retry-After")
    event = {"requests": [{"method": "GET", "url": "u"}] * 3, "sleeps": [{"seconds": 1.0, "real": False}] * 2,
             "outcome": {"kind": "returned", "response": {"status": 200, "attempt": 3}}}
    assert not rac.scenario_ok(event, scenario)
    assert rac.scenario_message(scenario, event) == (
        "The server answered 503 with Retry-After: 1, then 503 with Retry-After: 4, then 200.\n"
        "    Expected: 3 requests, sleep(1) (a little more, up to 2.5 s, is fine too), sleep(4) (a little more, up to "
        "7 s, is fine too), then the 200 of request 3 returned.\n"
        "    Found:    3 requests, sleep(1), sleep(1), then it returned the 200 of request 3.")


def test_the_notebooks_copy_of_the_client_is_the_starter():
    assert Path(STARTERS / CLIENT).read_text() not in (SOLUTION, FINISHED)
