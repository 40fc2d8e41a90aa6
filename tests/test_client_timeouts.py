"""client-timeouts: a timeout per attempt, retried errors, a longest wait and a deadline, judged on a fake clock.

Every submission is solutions/oas3/ with client.py edited; all are graded at once, in parallel workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from checker_support import SOLUTIONS, STARTERS, edited, failed, grade, make_submission
from test_retry_after_client import SOLUTION as STAGE_ONE
from test_retry_after_client import fits

from checker.exercises import client_timeouts as ct
from checker.exercises import retry_after_client as rac

CLIENT = "oas3/client.py"
SOLUTION = (SOLUTIONS / CLIENT).read_text()
EXERCISE = "client-timeouts"
REQUEST = "            response, error = client.get(url, timeout=policy.timeout), None\n"
GIVE_UP = ("        if (attempt == attempts or (asked is not None and asked > policy.max_wait)\n"
           "                or clock() - start + wait > policy.deadline):\n")


def patched(*edits: tuple[str, str], text: str = SOLUTION) -> str:
    """The solution's client.py with each (old, new) replacement applied once."""
    return edited(text, *edits)


def give_up_when(condition: str) -> tuple[str, str]:
    return GIVE_UP, f"        if {condition}:\n"


# (case, client.py, failed checks, the check whose message is examined, template or fragment it must fit)
WRONG = [
    ("fail-starter", (STARTERS / CLIENT).read_text(), {ct.TIMEOUT, ct.RAISES, ct.LIMITS}, ct.TIMEOUT,
     "Found:    1 request (timeouts: none), no sleep, then it sent a request without a timeout to a server that "
     "never answers, and would have waited for ever."),
    ("fail-stage-one", STAGE_ONE, {ct.TIMEOUT, ct.RAISES, ct.LIMITS}, ct.LIMITS,
     "The server answered 503 with Retry-After: 4, then 503 with Retry-After: 8, then 200 (RetryPolicy(max_wait=60.0, "
     "deadline=10.0)).\n    Expected: 2 requests, sleep(4)"),
    ("fail-no-timeout", patched((REQUEST, REQUEST.replace("client.get(url, timeout=policy.timeout)", "client.get(url)"))),
     {ct.TIMEOUT, ct.RAISES, ct.LIMITS}, ct.TIMEOUT,
     "The server answered no answer (connection refused), then 200 (RetryPolicy({policy})).\n"
     "    Expected: 2 requests (each with a timeout of at most 2 s), {sleep}, then the 200 of request 2 returned.\n"
     "    Found:    2 requests (timeouts: none, none), sleep({seconds}), then it returned the 200 of request 2.\n"),
    ("fail-own-timeout", patched((REQUEST, REQUEST.replace("timeout=policy.timeout", "timeout=10"))),
     {ct.TIMEOUT, ct.LIMITS}, ct.TIMEOUT, "Found:    2 requests (timeouts: 10 s, 10 s)"),
    ("fail-errors-not-retried", patched(("            response, error = None, failure\n", "            raise\n")),
     {ct.TIMEOUT, ct.RAISES, ct.LIMITS}, ct.TIMEOUT,
     "Found:    1 request (timeouts: 2 s), no sleep, then it raised ReadTimeout"),
    ("fail-only-timeouts-retried", patched(("except httpx.TransportError as failure", "except httpx.TimeoutException as failure")),
     {ct.TIMEOUT, ct.RAISES}, ct.RAISES, "The server answered no answer (connection refused), every time"),
    ("fail-returns-none-after-errors", patched(("            if error is not None:\n                raise error\n", "")),
     {ct.RAISES, ct.LIMITS}, ct.RAISES, "then it returned None (a NoneType), not the httpx.Response"),
    ("fail-ignores-max-wait", patched(give_up_when("attempt == attempts or clock() - start + wait > policy.deadline")),
     {ct.LIMITS}, ct.LIMITS, "Found:    2 requests, sleep(90), then it returned the 200 of request 2."),
    ("fail-shortens-long-waits", patched(give_up_when("attempt == attempts"),
                                         ("        sleep(wait)\n", "        sleep(min(wait, policy.max_wait))\n")),
     {ct.LIMITS}, ct.LIMITS, "Found:    2 requests, sleep(60), then it returned the 200 of request 2."),
    ("fail-ignores-deadline", patched(give_up_when("attempt == attempts or (asked is not None and asked > policy.max_wait)")),
     {ct.LIMITS}, ct.LIMITS, "Found:    3 requests, sleep(4), sleep(8), then it returned the 200 of request 3."),
    ("fail-real-clock", patched(("    start = clock()\n", "    start = time.monotonic()\n"),
                                ("or clock() - start + wait", "or time.monotonic() - start + wait")),
     {ct.LIMITS}, ct.LIMITS, "Found:    3 requests, sleep(4), sleep(8), then it returned the 200 of request 3, and it "
     "never read the `clock` it was given."),
    ("fail-counts-only-sleeps", patched(("    start = clock()\n", "    slept = 0.0\n"),
                                        ("or clock() - start + wait", "or slept + wait"),
                                        ("        sleep(wait)\n", "        sleep(wait)\n        slept += wait\n")),
     {ct.LIMITS}, ct.LIMITS, "then 503 with Retry-After: 5, then 200"),
    ("fail-deadline-for-retry-after-only", patched(("or clock() - start + wait > policy.deadline",
                                                    "or (asked is not None and clock() - start + wait > policy.deadline)")),
     {ct.LIMITS}, ct.LIMITS, "Found:    2 requests (timeouts: 5 s, 5 s), sleep("),
    ("fail-no-clock-parameter", patched(("                     sleep=time.sleep, clock=time.monotonic) -> httpx.Response:",
                                         "                     sleep=time.sleep) -> httpx.Response:\n"
                                         "    clock = time.monotonic"),
                                        (", sleep=sleep, clock=clock)", ", sleep=sleep)")),
     {ct.RUNS}, ct.RUNS, "Keep the starter's signature: `" + ct.SIGNATURE + "`"),
]
RIGHT = [
    ("pass-solution", SOLUTION),
    ("pass-timeout-cut-to-the-deadline", patched((REQUEST, REQUEST.replace(
        "timeout=policy.timeout", "timeout=min(policy.timeout, policy.deadline - (clock() - start))")))),
    ("pass-httpx-timeout-object", patched((REQUEST, REQUEST.replace("timeout=policy.timeout",
                                                                    "timeout=httpx.Timeout(policy.timeout)")))),
    ("pass-own-error-raised-from-it", patched(("                raise error\n",
                                               "                raise RuntimeError(f'gave up: {error}') from error\n"))),
    ("pass-absolute-deadline-and-at-least", patched(("    start = clock()\n", "    ends = clock() + policy.deadline\n"),
                                                    give_up_when("attempt == attempts or (asked is not None and asked "
                                                                 ">= policy.max_wait) or clock() + wait >= ends"))),
    ("pass-while-loop", patched((SOLUTION[SOLUTION.index("    start = clock()\n"):SOLUTION.index("class CircuitOpen")], '''\
    start, attempt = clock(), 0
    while True:
        attempt += 1
        try:
            response = client.get(url, timeout=policy.timeout)
        except httpx.TransportError:
            if attempt >= policy.max_attempts:
                raise
            wait = backoff_delay(attempt, policy)
            if clock() - start + wait > policy.deadline:
                raise
            sleep(wait)
            continue
        if response.status_code not in RETRYABLE_STATUSES or attempt >= policy.max_attempts:
            return response
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        if asked is not None and asked > policy.max_wait:
            return response
        wait = backoff_delay(attempt, policy) if asked is None else asked
        if clock() - start + wait > policy.deadline:
            return response
        sleep(wait)


'''))),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case of this file once, four workers at a time; case -> result."""
    cases = {case: text for case, text, *_ in WRONG} | dict(RIGHT)
    folders = {case: make_submission(tmp_path_factory.mktemp(case), {CLIENT: text}) for case, text in cases.items()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(cases, pool.map(lambda case: grade(folders[case], EXERCISE)[EXERCISE], cases)))


@pytest.mark.parametrize("case, text, checks, check, template", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_client_fails_the_right_check(graded, case, text, checks, check, template):
    result = graded[case]
    problems = failed(result)
    assert set(problems) == checks, f"{case}: {result}"
    assert fits(template, problems[check]), f"{case}: {problems[check]}"
    assert problems[check].endswith(f"See {rac.LESSON}, “{ct.SECTION}”."), problems[check]


@pytest.mark.parametrize("case", [c[0] for c in RIGHT])
def test_correct_client_variant_passes(graded, case):
    result = graded[case]
    assert result.passed, str(result)
    assert len(result.checks) == 1 + len(ct.CHECKS)


def test_every_scenario_belongs_to_a_check_with_a_fix_and_uses_the_clock():
    assert {s.check for s in ct.SCENARIOS} == set(ct.CHECKS)
    assert len({s.name for s in ct.SCENARIOS}) == len(ct.SCENARIOS)
    assert all(s.clock for s in ct.SCENARIOS) and not any(s.clock for s in rac.SCENARIOS)


def test_a_slow_server_moves_the_clock_by_the_requests_timeout():
    from checker.drivers.fakes import FakeClock, FlakyServer, Reply

    clock = FakeClock(0.0)
    server = FlakyServer([Reply(slow=True)], clock)
    assert server.answer({"method": "GET", "timeout": 2.5}) == {"timeout": True} and clock.now == 2.5
    assert server.answer({"method": "GET", "timeout": None}) == {"stop": "waited-forever"} and clock.now == 2.5
    assert [r["timeout"] for r in server.requests] == [2.5, None]
