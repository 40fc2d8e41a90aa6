"""A client for GET /status that is kind to a struggling server (lesson 07-Client-Retries).

Four exercises grade this file:

    retry-after-client   get_with_retries(), with retry_after_seconds()
    backoff-jitter       backoff_delay(), and the jitter RetryPolicy declares
    client-timeouts      get_with_retries() again: a timeout per attempt, a longest wait, a deadline
    circuit-breaker      CircuitBreaker

Nothing here sleeps or reads the clock by itself: `sleep` and `clock` are
parameters, so a notebook (or the checker) can pass fakes and never wait.
Keep the names and signatures: the checker calls them.
"""

from __future__ import annotations

import random  # backoff-jitter: random.uniform(low, high)
import time
from dataclasses import dataclass
from datetime import datetime, timezone  # retry-after-client: now, for an HTTP-date
from email.utils import parsedate_to_datetime  # retry-after-client: reads an HTTP-date

import httpx

#: answers that mean "not now, try again later"; a 400 or 404 would only come back again
RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How to retry when the server does not say when."""

    max_attempts: int = 4  #: attempts in all, the first one included: 4 means at most 3 retries
    backoff: str = "exponential"  #: "fixed": always `base`; "exponential": base, 2*base, 4*base, ... up to `cap`
    base: float = 1.0  #: seconds
    cap: float = 16.0  #: seconds: the delay before jitter never grows past this
    jitter: str = "bounded"  #: the jitter backoff_delay() adds: "bounded", "full" or "equal"
    spread: float = 0.5  #: seconds either side of the delay, for "bounded" jitter
    timeout: float = 5.0  #: seconds one attempt may wait for an answer
    max_wait: float = 60.0  #: the longest Retry-After the client accepts; asked for more, it gives up
    deadline: float = 120.0  #: seconds the whole call may take; a wait that would end later means give up


def backoff_delay(retry: int, policy: RetryPolicy = RetryPolicy()) -> float:
    """Seconds to wait before retry number `retry` (1 for the first retry) when no Retry-After came."""
    # Exercise backoff-jitter: follow policy.backoff (capped at policy.cap), then add policy.jitter.
    # The checker draws with the jitter RetryPolicy declares by default; honouring all three is a bonus.
    # Never return less than 0: time.sleep refuses a negative delay.
    return policy.base


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After value asks for, in either form; None when missing or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # delay-seconds: "120"
        return float(value)
    # Exercise retry-after-client: the other form, an HTTP-date such as "Fri, 20 Nov 2026 10:00:00 GMT".
    return None


def get_with_retries(url: str, *, policy: RetryPolicy = RetryPolicy(), client: httpx.Client | None = None,
                     sleep=time.sleep, clock=time.monotonic) -> httpx.Response:
    """GET `url`; on 429 or 503 wait and ask again, at most `policy.max_attempts` times in all.

    Waits what Retry-After says when the answer has one, else backoff_delay().
    Returns the last response: a success, an error not worth retrying, or the
    last retryable one when the attempts ran out.
    """
    if client is None:
        with httpx.Client() as own:
            return get_with_retries(url, policy=policy, client=own, sleep=sleep, clock=clock)
    # Exercise retry-after-client: this asks once and never retries.
    # Exercise client-timeouts, later: a timeout per attempt, retry errors, give up at max_wait and deadline.
    return client.get(url)


class CircuitOpen(Exception):
    """Raised instead of calling the server while the circuit is open."""


class CircuitBreaker:
    """Stop calling a failing server for a while: closed → open → half-open → closed."""

    def __init__(self, failure_threshold: int = 3, cooldown: float = 30.0, clock=time.monotonic):
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.clock = clock
        self.state = "closed"  # for you and the notebook; the checker watches behaviour only

    def call(self, function, *args, **kwargs):
        """Call `function(*args, **kwargs)` unless the circuit is open; count its failures."""
        # Exercise circuit-breaker: this calls through every time, however often the server fails.
        return function(*args, **kwargs)
