"""rate-limit: wrong specs and limiters fail the right check; other correct limiters pass.

Every submission is graded once, by a real worker driving a fake clock, in a module-scoped
batch (a few at a time); no test sleeps.
"""

from __future__ import annotations

import re
from base64 import b64decode
from decimal import Decimal

import pytest
from checker_support import assert_fails, failed, grade_cases, literal

from checker.exercises import rate_limit as rl
from checker.drivers import ratelimit as probe
from checker.drivers.fields import FieldError, Item, Token, parse_field, parse_list

API = "oas3/ratelimit_api.py"
SPEC = "oas3/ex-05-02-ratelimit.yaml"
EXERCISE = "rate-limit"
PARALLEL = 3

CLOCK = "clock = time.monotonic\n"
NOW = "        now = clock()\n"
NEW_WINDOW = ("        if _window_start is None or now - _window_start >= WINDOW:\n"
              "            _window_start, _used = now, 0  # a new window restores the whole quota\n")
RESET = "        reset = math.ceil(_window_start + WINDOW - now)  # whole seconds, rounded up: never too early\n"
ALLOWED = "        allowed = _used < QUOTA\n"
HEADERS = ("        \"RateLimit-Policy\": f'\"{POLICY}\";q={QUOTA};w={WINDOW}',\n"
           "        \"RateLimit\": f'\"{POLICY}\";r={remaining};t={reset}',\n")
RETRY_AFTER = '            headers={**headers, "Retry-After": str(reset)},\n'
REFUSAL = re.compile(r"        return problem\(\n.*?\n        \)\n", re.S)
SPEC_429 = re.compile(r'        "429":\n.*?(?=components:)', re.S)
SPEC_429_MEDIA = "            application/problem+json:\n"
SPEC_200_HEADERS = ("          headers:\n            RateLimit-Policy:\n              $ref: '#/components/headers/RateLimit-Policy'\n"
                    "            RateLimit:\n              $ref: '#/components/headers/RateLimit'\n          content:\n"
                    "            application/json:\n")

PREAMBLE = '''import collections
import itertools
import math
import threading
import time

from connexion import problem

QUOTES = itertools.cycle([{"text": "Errors should never pass silently.", "author": "Tim Peters"}])
JSON = {"Content-Type": "application/json"}
clock = time.monotonic
POLICY, QUOTA, WINDOW = "anonymous", 5, 60
_lock = threading.Lock()


def answer(allowed, remaining, reset):
    headers = {"RateLimit-Policy": f'"{POLICY}";q={QUOTA};w={WINDOW}', "RateLimit": f'"{POLICY}";r={remaining};t={reset}'}
    if not allowed:
        return problem(status=429, title="Too Many Requests", detail="Slow down.",
                       headers={**headers, "Retry-After": str(reset)})
    return next(QUOTES), 200, {**JSON, **headers}
'''
SLIDING_LOG = PREAMBLE + '''
_served = collections.deque()  # when each request of the last WINDOW seconds was served


def get_quote():
    with _lock:
        now = clock()
        while _served and now - _served[0] >= WINDOW:
            _served.popleft()
        allowed = len(_served) < QUOTA
        if allowed:
            _served.append(now)
        reset = math.ceil(_served[0] + WINDOW - now)
        return answer(allowed, QUOTA - len(_served), reset)
'''
ALIGNED_WINDOWS = PREAMBLE + '''
_window, _used = None, 0


def get_quote():
    global _window, _used
    with _lock:
        now = clock()
        if math.floor(now / WINDOW) != _window:
            _window, _used = math.floor(now / WINDOW), 0
        allowed = _used < QUOTA
        _used += allowed
        return answer(allowed, QUOTA - _used, math.ceil((_window + 1) * WINDOW - now))
'''
TOKEN_BUCKET = PREAMBLE + '''
RATE = QUOTA / WINDOW  # tokens added per second, up to QUOTA
_tokens, _last = float(QUOTA), None


def get_quote():
    global _tokens, _last
    with _lock:
        now = clock()
        if _last is not None:
            _tokens = min(QUOTA, _tokens + (now - _last) * RATE)
        _last = now
        allowed = _tokens >= 1
        _tokens -= allowed
        next_token = math.ceil((math.floor(_tokens) + 1 - _tokens) / RATE)  # seconds until one more request
        return answer(allowed, math.floor(_tokens), next_token)
'''

# case -> (edits {file: text | (old, new) | [(old, new), ...]}, failing check or None to pass, message template)
CASES = {
    "fail-spec-without-429": ({SPEC: (SPEC_429, "")}, rl.SPEC_429, rl.NO_429),
    "fail-spec-429-plain-json": ({SPEC: (SPEC_429_MEDIA, "            application/json:\n")}, rl.SPEC_429, rl.NOT_PROBLEM),
    "fail-spec-200-without-ratelimit-fields": ({SPEC: (SPEC_200_HEADERS, "          content:\n            application/json:\n")},
                                               rl.SPEC_200, rl.MISSING_HEADERS),
    "fail-reads-time-monotonic-directly": ({API: (NOW, "        now = time.monotonic()\n")}, rl.CLOCK, rl.CLOCK_UNREAD),
    "fail-no-clock": ({API: [(CLOCK, ""), (NOW, "        now = time.monotonic()\n")]}, rl.CLOCK, rl.NO_CLOCK),
    "fail-legacy-x-ratelimit-headers": ({API: (HEADERS, '        "X-RateLimit-Limit": str(QUOTA),\n'
                                                        '        "X-RateLimit-Remaining": str(remaining),\n'
                                                        '        "X-RateLimit-Reset": str(reset),\n')},
                                        rl.POLICY, rl.POLICY_MISSING),
    "fail-older-draft-dictionary-syntax": ({API: (HEADERS, HEADERS.replace("f'\"{POLICY}\";r={remaining};t={reset}'",
                                                                           "f'limit={QUOTA}, remaining={remaining}, reset={reset}'"))},
                                           rl.RATELIMIT, "is not a Structured Field List"),
    "fail-policy-name-unquoted": ({API: (HEADERS, HEADERS.replace('"{POLICY}"', "{POLICY}"))}, rl.POLICY, rl.POLICY_TOKEN),
    "fail-one-request-too-many": ({API: (ALLOWED, "        allowed = _used <= QUOTA\n")}, rl.REFUSED, "answered 200, expected 429"),
    "fail-retry-after-rounded-down": ({API: (RESET, RESET.replace("math.ceil", "math.floor"))}, rl.RESTORED,
                                      rl.AFTER_RETRY_REFUSED),
    "fail-no-retry-after": ({API: (RETRY_AFTER, "            headers=headers,\n")}, rl.RETRY_AFTER, rl.RA_MISSING),
    "fail-retry-after-http-date": ({API: [("import time\n", "import time\nfrom email.utils import formatdate\n"),
                                          (RETRY_AFTER, RETRY_AFTER.replace("str(reset)",
                                                                            "formatdate(time.time() + reset, usegmt=True)"))]},
                                   rl.RETRY_AFTER, rl.RA_DATE),
    "fail-window-never-resets": ({API: (NEW_WINDOW, NEW_WINDOW.replace(" or now - _window_start >= WINDOW", ""))},
                                 rl.RESTORED, rl.AFTER_RETRY_REFUSED),
    "fail-refusals-extend-the-window": ({API: (ALLOWED, ALLOWED + "        if not allowed:\n            _window_start = now\n")},
                                        rl.RESTORED, rl.AFTER_RETRY_REFUSED),
    "fail-429-not-a-problem": ({API: (REFUSAL, '        return {"error_msg": "Please register"}, 429, {**JSON, **headers, '
                                                '"Retry-After": str(reset)}\n')},
                               rl.REFUSED, "Content-Type is application/json"),
    "fail-r-does-not-count-down": ({API: ("        remaining = QUOTA - _used\n", "        remaining = QUOTA\n")},
                                   rl.RATELIMIT, rl.RATELIMIT_R),
    "fail-t-in-milliseconds": ({API: (HEADERS, HEADERS.replace("t={reset}", "t={reset * 1000}"))}, rl.RATELIMIT,
                               rl.RATELIMIT_T),
    "fail-handler-raises": ({API: (ALLOWED, "        allowed = _used < QUOTA / 0\n")}, rl.RUNS, "raised ZeroDivisionError"),
    "fail-quota-too-large-to-check": ({API: ("QUOTA = 5  ", "QUOTA = 5000  ")}, rl.POLICY, rl.QUOTA_TOO_LARGE),
    "fail-clock-is-a-number": ({API: [(CLOCK, "clock = 0.0\n"), (NOW, "        now = time.monotonic()\n")]}, rl.CLOCK,
                               "`clock` is a float, not a function"),
    "fail-handler-loops-forever": ({API: (NOW, NOW + "        while now:\n            pass\n")}, rl.RUNS,
                                   "did not answer request #1 within"),
    "fail-spec-broken-code-graded-with-the-checkers-spec": ({SPEC: ("openapi: 3.0.3\n", "openapi: 3.0.3\nx: [oops\n")},
                                                            rl.APP_FROM_SPEC, rl.SPEC_FALLBACK),
    "fail-new-window-only-after-more-than-w": ({API: (NEW_WINDOW, NEW_WINDOW.replace(">= WINDOW", "> WINDOW"))},
                                               rl.RESTORED, rl.WINDOW_END_REFUSED),
    "fail-t-always-the-whole-window": ({API: (HEADERS, HEADERS.replace("t={reset}", "t={WINDOW}"))}, rl.RATELIMIT,
                                       rl.RATELIMIT_T_LEFT),
    "pass-one-second-window": ({API: [("QUOTA = 5  ", "QUOTA = 10  "), ("WINDOW = 60  ", "WINDOW = 1  ")]}, None, None),
    "pass-sliding-window-log": ({API: SLIDING_LOG}, None, None),
    "pass-windows-aligned-to-the-clock": ({API: ALIGNED_WINDOWS}, None, None),
    "pass-token-bucket": ({API: TOKEN_BUCKET}, None, None),
    "pass-three-per-ten-seconds-named-default": ({API: [("QUOTA = 5  ", "QUOTA = 3  "), ("WINDOW = 60  ", "WINDOW = 10  "),
                                                        ('POLICY = "anonymous"', 'POLICY = "default"')]}, None, None),
    "pass-legacy-headers-as-well": ({API: (HEADERS, HEADERS + '        "X-RateLimit-Limit": str(QUOTA),\n'
                                                              '        "X-RateLimit-Remaining": str(remaining),\n')},
                                    None, None),
    "pass-about-blank-too-many-requests": ({API: [('            title="Quota Exceeded",\n', '            title="Too Many Requests",\n'),
                                                  ("            type=QUOTA_EXCEEDED,\n", "")]}, None, None),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """Grade every case (and the starter and solution), a few workers at a time."""
    return grade_cases(tmp_path_factory, CASES, EXERCISE, PARALLEL)


WRONG = [(case, check, template) for case, (_e, check, template) in CASES.items() if check]
CORRECT = [case for case, (_e, check, _t) in CASES.items() if not check]


@pytest.mark.parametrize("case, check, template", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_submission_fails_the_right_check(results, case, check, template):
    assert_fails(results[case], case, check, literal(template), rl.SECTION)


@pytest.mark.parametrize("case", CORRECT)
def test_alternative_correct_submission_passes(results, case):
    assert failed(results[case]) == {}, f"{case} should pass"


def test_solution_passes_every_check(results):
    assert failed(results["solution"]) == {} and results["solution"].score == 3


def test_starter_fails_for_the_missing_limit_and_fields(results):
    assert set(failed(results["starter"])) == {rl.SPEC_429, rl.SPEC_200, rl.CLOCK, rl.POLICY, rl.RATELIMIT,
                                               rl.REFUSED, rl.RETRY_AFTER, rl.HOLDS}


def test_the_policy_advertised_is_the_policy_checked(results):
    checks = {check.name: check.message for check in results["pass-three-per-ten-seconds-named-default"].checks}
    assert checks[rl.POLICY] == "q=3 requests per w=10 s"


def test_a_spec_mistake_does_not_cost_the_code_checks(results):
    assert set(failed(results["fail-spec-without-429"])) == {rl.SPEC_429}
    broken = failed(results["fail-spec-broken-code-graded-with-the-checkers-spec"])
    assert set(broken) == {f"oas3/{rl.SPEC} loads as YAML", rl.APP_FROM_SPEC}


def test_a_limiter_that_ignores_clock_is_told_how_time_moves(results):
    assert literal(rl.FIX_CLOCK) in failed(results["fail-reads-time-monotonic-directly"])[rl.RESTORED]


def test_t0_is_a_multiple_of_every_window_that_divides_a_day():
    assert all(probe.T0 % window == 0 for window in (1, 2, 5, 10, 30, 60, 300, 3600, 86400))


@pytest.mark.parametrize("text, items", [
    ('"default";q=100;w=60', [Item("default", {"q": 100, "w": 60})]),
    ('"burst";q=100;w=60, "daily";q=1000;w=86400', [Item("burst", {"q": 100, "w": 60}), Item("daily", {"q": 1000, "w": 86400})]),
    ('"default";r=50;t=30', [Item("default", {"r": 50, "t": 30})]),
    ('"peruser";q=100;w=60;pk=:cHsdsRa894==:', [Item("peruser", {"q": 100, "w": 60, "pk": b64decode("cHsdsRa894==")})]),
    ("default;q=5", [Item(Token("default"), {"q": 5})]),
    ('"a";flag;x=?0;y=1.5', [Item("a", {"flag": True, "x": False, "y": Decimal("1.5")})]),
])
def test_structured_field_lists_are_parsed(text, items):
    assert parse_list(text) == items


@pytest.mark.parametrize("text", ["", '"default";Q=5', '"unterminated;q=5', "limit=5, remaining=4", '"a",', "(1 2)"])
def test_malformed_structured_fields_are_refused_with_a_position(text):
    with pytest.raises(FieldError, match=r"at character \d+|empty"):
        parse_list(text)


def test_field_lines_are_combined_as_one_list():
    assert [i.value for i in parse_field(['"a";q=1', '"b";q=2'])] == ["a", "b"]
