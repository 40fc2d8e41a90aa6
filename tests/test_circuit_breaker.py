"""circuit-breaker: wrong breakers fail the right check with the right timeline, correct variants pass,
and a breaker that sleeps or reads the real clock is named for it.

Submissions are solutions/oas3/ with client.py edited; all are graded at once, in parallel workers.
"""

from __future__ import annotations

import re

import pytest
from checker_support import SOLUTIONS, STARTERS, edited, failed, grade_many, make_submission

from checker.exercises import circuit_breaker as cb

CLIENT = "oas3/client.py"
SOLUTION = (SOLUTIONS / CLIENT).read_text()
EXERCISE = "circuit-breaker"


def patched(*edits: tuple[str, str], text: str = SOLUTION) -> str:
    """The solution's client.py with each (old, new) replacement applied once."""
    return edited(text, *edits)


def with_breaker(source: str) -> str:
    """The solution's client.py with its CircuitBreaker class replaced by `source`."""
    return SOLUTION[: SOLUTION.index("class CircuitBreaker:")] + source


def fits(template: str, text: str) -> bool:
    """True if `text` contains `template` with every {field} filled in somehow."""
    parts = [re.escape(part) for part in re.split(r"\{[^{}]*\}", template)]
    return re.search(".*?".join(parts), text, re.DOTALL) is not None


LAZY_STATE = '''\
class CircuitBreaker:
    """The state is worked out from the clock whenever it is asked for."""

    def __init__(self, failure_threshold=3, cooldown=30.0, clock=time.monotonic):
        self.threshold, self.cooldown, self.clock = failure_threshold, cooldown, clock
        self.failures, self.opened_at = 0, None

    @property
    def state(self):
        if self.opened_at is None:
            return "closed"
        return "open" if self.clock() - self.opened_at < self.cooldown else "half-open"

    def call(self, function, *args, **kwargs):
        state = self.state
        if state == "open":
            raise CircuitOpen("open")
        try:
            response = function(*args, **kwargs)
        except httpx.HTTPError:
            self.record(False, state)
            raise
        self.record(response.status_code < 500, state)
        return response

    def record(self, success, state):
        if success:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if state == "half-open" or self.failures >= self.threshold:
            self.opened_at = self.clock()
'''

RECENT_RESULTS = '''\
import collections


class CircuitBreaker:
    """Remembers the last `failure_threshold` results; all failures means open."""

    def __init__(self, failure_threshold=3, cooldown=30.0, clock=time.monotonic):
        self.recent = collections.deque(maxlen=failure_threshold)
        self.cooldown, self.clock, self.open_until = cooldown, clock, None
        self.state = "closed"

    def call(self, function, *args, **kwargs):
        if self.open_until is not None:
            if self.clock() < self.open_until:
                raise CircuitOpen(f"open until {self.open_until}")
            self.state = "half-open"
        try:
            result = function(*args, **kwargs)
        except Exception:
            self.note(False)
            raise
        self.note(result.status_code < 500)
        return result

    def note(self, ok):
        self.recent.append(ok)
        if ok:
            self.recent.clear()
            self.state, self.open_until = "closed", None
        elif self.state == "half-open" or (len(self.recent) == self.recent.maxlen and not any(self.recent)):
            self.state, self.open_until = "open", self.clock() + self.cooldown
'''

# (case, client.py, failed checks, the check whose message is examined, template or fragment it must fit)
WRONG = [
    ("fail-starter", (STARTERS / CLIENT).read_text(), {cb.OPENS}, cb.OPENS,
     "t= 0 s, call 4: expected it to fail fast, raising CircuitOpen without calling the server; it reached the "
     "server and handed back the 503 ✗"),
    ("fail-opens-one-failure-late", patched(("self.failures >= self.failure_threshold", "self.failures > self.failure_threshold")),
     {cb.OPENS}, cb.OPENS, "“503 every time” (failure_threshold=3, cooldown=30 s; the server answers 503 every time)"),
    ("fail-opens-one-failure-early", patched(("self.failures >= self.failure_threshold",
                                              "self.failures >= self.failure_threshold - 1")),
     {cb.CLOSED_BELOW}, cb.CLOSED_BELOW, "call 3: expected it to reach the server and hand back its 503 answer; it failed fast"),
    ("fail-success-does-not-reset", patched(('self.state, self.failures = "closed", 0', 'self.state = "closed"')),
     {cb.CLOSED_BELOW}, cb.CLOSED_BELOW, "“a success between failures”"),
    ("fail-counts-only-503", patched(("result.status_code >= 500", "result.status_code == 503")),
     {cb.OPENS}, cb.OPENS, "“500, then 502, every time”"),
    ("fail-cooldown-from-the-first-failure", patched(
        ("    def _failed(self) -> None:\n        self.failures += 1\n",
         "    def _failed(self) -> None:\n        self.failures += 1\n        if self.failures == 1:\n"
         "            self.first_failure = self.clock()\n"),
        ('self.state, self.opened_at = "open", self.clock()',
         'self.state, self.opened_at = "open", getattr(self, "first_failure", self.clock())')),
     {cb.HALF_OPEN, cb.REOPENS}, cb.HALF_OPEN, "“failures 20 s apart: the cool-down starts when it opens”"),
    ("fail-404-counts-as-failure", patched(("result.status_code >= 500", "result.status_code >= 400")),
     {cb.NOT_4XX}, cb.NOT_4XX, "“404 every time”"),
    ("fail-connection-errors-not-counted", patched(("        except Exception:\n            self._failed()\n            raise",
                                                    "        except Exception:\n            raise")),
     {cb.OPENS}, cb.OPENS, "call 3: expected it to fail fast, raising CircuitOpen without calling the server; it "
     "reached the server and raised its ConnectError"),
    ("fail-swallows-connection-errors", patched(("            self._failed()\n            raise",
                                                 "            self._failed()\n            return None")),
     {cb.CLOSED_BELOW}, cb.CLOSED_BELOW, "hand back its ConnectError (raised); it reached the server and returned None"),
    ("fail-never-half-opens", patched(("            if waited < self.cooldown:\n", "            if True:\n")),
     {cb.HALF_OPEN}, cb.HALF_OPEN, "t=30 s, call 4: expected it to reach the server"),
    ("fail-reads-the-real-clock", patched(("waited = self.clock() - self.opened_at", "waited = time.monotonic() - self.opened_at"),
                                          ('"open", self.clock()', '"open", time.monotonic()')),
     {cb.HALF_OPEN}, cb.HALF_OPEN, cb.NEVER_READ_CLOCK),
    ("fail-half-opens-early", patched(("if waited < self.cooldown:", "if waited < self.cooldown / 2:")),
     {cb.HALF_OPEN, cb.REOPENS}, cb.HALF_OPEN, "t=29 s, call 3: expected it to fail fast"),
    ("fail-probe-success-keeps-the-count", patched(('            self.state, self.failures = "closed", 0\n',
                                                    '            if self.state == "closed":\n'
                                                    '                self.failures = 0\n'
                                                    '            self.state = "closed"\n')),
     {cb.CLOSES}, cb.CLOSES, "call 6: expected it to reach the server and hand back its 503 answer; it failed fast"),
    ("fail-probe-failure-needs-more-failures", patched(('self.state = "half-open"', 'self.state, self.failures = "closed", 0')),
     {cb.REOPENS}, cb.REOPENS, "“the probe fails”"),
    ("fail-cooldown-not-restarted", patched(('        if self.state == "half-open" or self.failures >= self.failure_threshold:\n'
                                             '            self.state, self.opened_at = "open", self.clock()',
                                             '        if self.state == "half-open":\n'
                                             '            self.state = "open"\n'
                                             '        elif self.failures >= self.failure_threshold:\n'
                                             '            self.state, self.opened_at = "open", self.clock()')),
     {cb.REOPENS}, cb.REOPENS, "t=30 s, call 4: expected it to fail fast"),
    ("fail-raises-runtime-error", patched(("raise CircuitOpen(f", "raise RuntimeError(f")),
     {cb.OPENS}, cb.OPENS, "it did not call the server but raised RuntimeError: circuit open"),
    ("fail-calls-then-refuses", patched(("            if waited < self.cooldown:\n",
                                         "            if waited < self.cooldown:\n                function(*args, **kwargs)\n")),
     {cb.OPENS}, cb.OPENS, "it reached the server, then raised CircuitOpen"),
    ("fail-clock-not-called", patched(('"open", self.clock()', '"open", self.clock')),
     {cb.OPENS}, cb.OPENS, "raised TypeError: unsupported operand type(s) for -"),
    ("fail-sleeps-out-the-cooldown", patched(("                raise CircuitOpen(f", "                time.sleep(self.cooldown - waited)\n"
                                              "                return function(*args, **kwargs)\n                raise CircuitOpen(f")),
     {cb.RUNS, cb.OPENS}, cb.RUNS, cb.FIX_REAL_SLEEP),
    ("fail-renamed-class", SOLUTION.replace("CircuitBreaker", "Breaker"), {cb.RUNS}, cb.RUNS,
     "oas3/client.py has no CircuitBreaker (it defines:"),
    ("fail-other-constructor", patched(("def __init__(self, failure_threshold: int = 3", "def __init__(self, threshold: int = 3"),
                                       ("self.failure_threshold = failure_threshold", "self.failure_threshold = threshold")),
     {cb.RUNS}, cb.RUNS, "Keep the starter's signature: `def __init__(self, failure_threshold=3, cooldown=30.0, "
     "clock=time.monotonic)`"),
]
RIGHT = [
    ("pass-solution", SOLUTION),
    ("pass-lazy-state", with_breaker(LAZY_STATE)),
    ("pass-recent-results", with_breaker(RECENT_RESULTS)),
    ("pass-counts-429-too", patched(("result.status_code >= 500", "result.status_code >= 500 or result.status_code == 429"))),
    ("pass-raises-for-server-errors", patched(("        if is_failure(result):\n            self._failed()\n",
                                               "        if is_failure(result):\n            self._failed()\n"
                                               "            result.raise_for_status()\n"))),
    ("pass-open-error-is-a-runtime-error", patched(("class CircuitOpen(Exception):", "class CircuitOpen(RuntimeError):"))),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case of this file once, four workers at a time."""
    cases = {case: text for case, text, *_ in WRONG} | dict(RIGHT)
    folders = {case: make_submission(tmp_path_factory.mktemp(case), {CLIENT: text}) for case, text in cases.items()}
    return grade_many(folders, EXERCISE, workers=4)


@pytest.mark.parametrize("case, text, checks, check, template", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_breaker_fails_the_right_check(graded, case, text, checks, check, template):
    problems = failed(graded[case])
    assert set(problems) == checks, f"{case}: {graded[case]}"
    assert fits(template, problems[check]), f"{case}: {problems[check]}"
    assert problems[check].endswith(f"See {cb.LESSON}, “{cb.SECTION}”."), problems[check]


@pytest.mark.parametrize("case", [c[0] for c in RIGHT])
def test_correct_breaker_variant_passes(graded, case):
    result = graded[case]
    assert result.passed, str(result)
    assert len(result.checks) == 7


def test_checks_after_opening_wait_until_the_breaker_opens(graded):
    names = {check.name for check in graded["fail-starter"].checks}
    assert names == {cb.RUNS, cb.CLOSED_BELOW, cb.NOT_4XX, cb.OPENS}


def test_timeline_stops_at_the_first_wrong_step(graded):
    message = failed(graded["fail-half-opens-early"])[cb.HALF_OPEN]
    timeline = message.split("“the probe succeeds”")[1].split("“")[0]  # up to the next scenario's timeline
    assert timeline.count("✓") == 2 and timeline.count("✗") == 1 and "call 4" not in timeline


def test_every_scenario_step_names_a_check_with_a_fix():
    checks = {check for scenario in cb.SCENARIOS for kind, check in scenario.calls}
    assert checks == set(cb.FIXES) and all(kind in ("reach", "open") for s in cb.SCENARIOS for kind, _ in s.calls)
