"""`client-timeouts`: get_with_retries() fails fast too: a timeout per attempt, a longest wait, a deadline.

The same driver as `retry-after-client` (`checker.drivers.retry_client`) plays
these scenarios in the sandbox, with a fake `clock` the parent moves: by each
sleep, and by each request's own timeout when the server never answers. So
"the whole call ends within the deadline" is judged on the time the learner's
code would really have spent, without waiting for any of it.

The scenarios never sit on a boundary (a wait that ends exactly at the deadline,
a Retry-After of exactly max_wait), so `>` and `>=` both pass.
"""

from __future__ import annotations

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.retry_after_client import (
    BACKOFF, LESSON, OK, SLOW_BACKOFF, Expect, Scenario, at_least, judge, probe_args,
)
from checker.results import ExerciseResult
from checker.submission import Submission

SECTION = "Exercise client-timeouts"
KEY = "client-timeouts"

RUNS = "oas3/client.py imports, and get_with_retries() takes the clock it is given"
TIMEOUT = "every attempt has a timeout of at most policy.timeout, and a timeout or refused connection is retried"
RAISES = "when the last attempt ends in a timeout or refused connection, that error is raised"
LIMITS = ("it gives up at once when Retry-After asks for more than policy.max_wait, or when a wait would end past "
          "policy.deadline, counting the time timed-out attempts took")

SIGNATURE = ("def get_with_retries(url, *, policy=RetryPolicy(), client=None, sleep=time.sleep, "
             "clock=time.monotonic)")
FIX_TIMEOUT = ("Send each attempt with `client.get(url, timeout=policy.timeout)`: the client you are given has no "
               "timeout of its own, and without one a server that never answers keeps your code waiting for ever. "
               "Catch `httpx.TransportError` around the request (timeouts and refused connections are both kinds of "
               "it) and treat it like a 503 without Retry-After: wait `backoff_delay(retry, policy)`, then try "
               "again. A GET is safe to send twice.")
FIX_RAISES = ("When the last attempt ends in an error rather than an answer, raise that error (`raise error`, or a "
              "bare `raise` inside the `except`): there is no response to hand back, and returning None would hide "
              "what went wrong.")
FIX_LIMITS = ("Read `start = clock()` before the first attempt. Before each wait, give up (return the response, or "
              "raise the error) if Retry-After asks for more than `policy.max_wait`, or if "
              "`clock() - start + wait > policy.deadline`. Read the time only through the `clock` you are given: "
              "attempts that timed out took time too, and that clock shows it. Never shorten the wait the server "
              "asked for: if you cannot wait that long, stop.")

#: a slow backoff, a short timeout and room to wait: the retry itself is what is judged
ROOMY = SLOW_BACKOFF + (("timeout", 2.0), ("max_wait", 1000.0), ("deadline", 1000.0))
#: backoff_delay(retry, policy) for "fixed" backoff from 1 s under any of the three jitters
SHORT_BACKOFF = (0.0, 1.5)
SLOW, REFUSED = {"slow": True}, {"refuse": True}


def late(seconds: str) -> dict:
    return {"status": 503, "retry_after": seconds}


SCENARIOS = [
    Scenario("no answer within the timeout, then 200", TIMEOUT, (SLOW, OK),
             Expect(2, (BACKOFF,), final=2, timeouts=2.0), policy=ROOMY, clock=True),
    Scenario("connection refused, then 200", TIMEOUT, (REFUSED, OK),
             Expect(2, (BACKOFF,), final=2, timeouts=2.0), policy=ROOMY, clock=True),
    Scenario("no answer, every time, max_attempts=3", RAISES, (SLOW,),
             Expect(3, (BACKOFF, BACKOFF), raises_error=True), max_attempts=3, policy=ROOMY, clock=True),
    Scenario("connection refused, every time, max_attempts=2", RAISES, (REFUSED,),
             Expect(2, (BACKOFF,), raises_error=True), max_attempts=2, policy=ROOMY, clock=True),
    Scenario("503, Retry-After: 1000000", LIMITS, (late("1000000"), OK),
             Expect(1, final=1, may_raise=True), policy=(("max_wait", 60.0), ("deadline", 120.0)), clock=True),
    Scenario("503, Retry-After: 90, more than max_wait", LIMITS, (late("90"), OK),
             Expect(1, final=1, may_raise=True), policy=(("max_wait", 60.0), ("deadline", 1000.0)), clock=True),
    # 4 s, then 8 more would end at 12 s, past the 10 s deadline (even a client that waited up to 7 s first).
    Scenario("Retry-After: 4, then 8, with deadline=10", LIMITS, (late("4"), late("8"), OK),
             Expect(2, (at_least(4),), final=2, may_raise=True), policy=(("max_wait", 60.0), ("deadline", 10.0)),
             clock=True),
    # The timeout ends at 6 s and the backoff at 6–7.5 s; 5 more end past 10 s. Counting only the sleeps, 6.5 s.
    Scenario("no answer within 6 s, then Retry-After: 5, with deadline=10", LIMITS, (SLOW, late("5"), OK),
             Expect(2, (SHORT_BACKOFF,), final=2, may_raise=True, timeouts=6.0),
             policy=(("backoff", "fixed"), ("base", 1.0), ("timeout", 6.0), ("max_wait", 60.0), ("deadline", 10.0)),
             clock=True),
    # The timeout uses up the whole deadline, so any backoff would end past it.
    Scenario("no answer within 5 s, with deadline=5", LIMITS, (SLOW, OK),
             Expect(1, raises_error=True, timeouts=5.0),
             policy=(("backoff", "fixed"), ("base", 1.0), ("timeout", 5.0), ("max_wait", 60.0), ("deadline", 5.0)),
             clock=True),
]
CHECKS = {TIMEOUT: FIX_TIMEOUT, RAISES: FIX_RAISES, LIMITS: FIX_LIMITS}


def prestart(submission: Submission) -> None:
    """Start the probe early, so the client runs while other exercises are graded."""
    submission.start_probe(KEY, **probe_args(SCENARIOS))


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Play every scenario and judge each behaviour; report all problems at once."""
    judge(submission.probe_run(KEY, **probe_args(SCENARIOS)), SCENARIOS, CHECKS, result,
          lesson_hint(LESSON, SECTION), RUNS, SIGNATURE)


EXERCISE = Exercise(
    id="client-timeouts",
    title="A client that fails fast: a timeout per attempt, a longest wait and a deadline",
    lesson=LESSON,
    points=2,
    grade=grade,
    prestart=prestart,
)
