"""Driver: drive a rate-limited GET with a fake clock, so windows pass without sleeping.

The learner's module reads the time through a module-level `clock` (by default
`time.monotonic`); the shim swaps it for a clock the parent sets before each request, then plays a fixed
script (times relative to T0, in seconds; q and w come from the first answer's
RateLimit-Policy):

    window-1     q requests at +0          -> expected 200, RateLimit r = q-1 … 0
    over         1 request at +0.5         -> expected 429 with Retry-After = RA
    holds        1 request half-way to RA or to the window's end, whichever is first -> expected 429
    after-retry  1 request at +0.5 + RA    -> expected 200 (the client waited as told)
    fresh        q requests at +10w        -> expected 200, r = q-1 … 0 (a whole idle window later)
    fresh-over   1 request at +10w         -> expected 429
    window-end   1 request at +11w         -> expected 200 (exactly w later a new window begins)

Every answer is reported as a `response` event with its phase and fake time;
the exercise module judges them.
"""

from __future__ import annotations

from checker.drivers.fields import FieldError, parse_field
from checker.worker import build_app, send

#: a multiple of every window that divides a day, and far beyond any machine's monotonic clock
T0 = 86400 * 11574.0
OVER_AT = 0.5  #: seconds after the window's first request that request q+1 is sent
LATE = 0.01  #: how long after Retry-After the patient client comes back


def policy(answer: dict) -> tuple[int, int] | None:
    """(q, w) of the first policy in the answer's RateLimit-Policy, if it has both as positive integers."""
    values = [v for k, v in answer["headers"] if k.lower() == "ratelimit-policy"]
    try:
        items = parse_field(values) if values else []
    except FieldError:
        return None
    for item in items:
        quota, window = item.params.get("q"), item.params.get("w")
        if all(type(x) is int and x > 0 for x in (quota, window)):
            return quota, window
    return None


def retry_after(answer: dict) -> int | None:
    values = [v.strip() for k, v in answer["headers"] if k.lower() == "retry-after"]
    return int(values[0]) if len(values) == 1 and values[0].isdigit() else None


def run(shim, events, module: str, specs: list, path: str, quota: int, window: int, max_quota: int) -> None:
    """Build the app with the parent's clock, and play the script (see the module docstring)."""
    base = build_app(shim, events, specs, module, clock=True, catch_errors=True)
    if base is not None:
        play(shim, events, base + path, quota, window, max_quota)


def play(shim, events, path: str, quota: int, window: int, max_quota: int) -> None:
    number = 0

    def request(phase: str, at: float) -> dict | None:
        nonlocal number
        number += 1
        answers = send(shim, events, [{"path": path, "now": T0 + at}], first=number, phase=phase, at=at)
        return answers[0] if answers else None

    first = request("window-1", 0.0)
    if first is None:
        return
    advertised = policy(first)
    if advertised:
        quota, window = advertised
    events("policy", quota=quota, window=window, advertised=advertised is not None)
    if quota > max_quota:
        return  # the exercise module explains; q+1 requests would prove nothing more
    for _ in range(quota - 1):
        if request("window-1", 0.0) is None:
            return
    over = request("over", OVER_AT)
    if over is None:
        return
    wait = retry_after(over)
    if wait is None or not 1 <= wait <= 2 * window:
        wait = window  # no usable Retry-After: come back after one window, as a careful client would
    elif request("holds", OVER_AT + min(wait, window - OVER_AT) / 2) is None:
        return  # strictly inside the first window, whatever w is (with w = 1, +0.5 + RA/2 would be its very end)
    if request("after-retry", OVER_AT + wait + LATE) is None:
        return
    fresh = 10.0 * window
    for _ in range(quota):
        if request("fresh", fresh) is None:
            return
    if request("fresh-over", fresh) is None:
        return
    request("window-end", fresh + window)  # exactly w later: "w seconds have passed", so a new window
