"""The code behind ex-05-02-ratelimit.yaml: each operationId `ratelimit_api.NAME` is NAME here."""

import itertools
import math
import threading
import time

from connexion import problem

QUOTES = itertools.cycle([
    {"text": "Be conservative in what you send, be liberal in what you accept.", "author": "Jon Postel"},
    {"text": "Errors should never pass silently.", "author": "Tim Peters"},
    {"text": "Everything fails, all the time.", "author": "Werner Vogels"},
])
JSON = {"Content-Type": "application/json"}

# Read the time through `clock()`, never time.monotonic() or time.time() directly:
# the lesson and the checker replace `clock` with a fake one, to move through
# rate-limit windows without waiting for them.
clock = time.monotonic

POLICY = "anonymous"  # the name clients see in RateLimit-Policy and RateLimit
QUOTA = 5  # requests ...
WINDOW = 60  # ... per this many seconds, shared by every anonymous client
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"  # from the RateLimit draft

_lock = threading.Lock()  # connexion may run two requests at once, in two threads
_window_start = None  # when the current fixed window began, in clock() seconds
_used = 0  # requests served in the current window


def get_quote():
    """Return the next quote, at most QUOTA times per WINDOW seconds; then a 429 problem."""
    global _window_start, _used
    with _lock:
        now = clock()
        if _window_start is None or now - _window_start >= WINDOW:
            _window_start, _used = now, 0  # a new window restores the whole quota
        reset = math.ceil(_window_start + WINDOW - now)  # whole seconds, rounded up: never too early
        allowed = _used < QUOTA
        _used += allowed
        remaining = QUOTA - _used
    headers = {
        "RateLimit-Policy": f'"{POLICY}";q={QUOTA};w={WINDOW}',
        "RateLimit": f'"{POLICY}";r={remaining};t={reset}',
    }
    if not allowed:
        return problem(
            status=429,
            title="Quota Exceeded",
            detail=f"Anonymous clients may get {QUOTA} quotes every {WINDOW} seconds; retry in {reset} s.",
            type=QUOTA_EXCEEDED,
            headers={**headers, "Retry-After": str(reset)},
            ext={"violated-policies": [POLICY]},
        )
    return next(QUOTES), 200, {**JSON, **headers}
