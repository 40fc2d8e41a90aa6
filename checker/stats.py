"""Decide whether a random 503 share is 20%, with error rates we can state exactly.

A learner's `get_status` is random, so any verdict can be wrong by bad luck. We
use a truncated two-sided sequential probability ratio test (Wald's SPRT): two
one-sided tests, 20% against 15% and 20% against 25%, watched after every
request. Each stops as soon as the evidence is clear, so a correct submission
is usually accepted after a few hundred requests, and a badly wrong one (0%,
50%, 100%) is failed within a hundred or two.

Because the stopping rule depends only on (requests so far, 503s so far), the
exact error rates follow from a dynamic programme over that lattice
(`operating_characteristic`); tests/test_stats.py checks them, and by
simulation. With the constants below:

* a correct 20% implementation fails with probability 7.7e-7 (< 1e-6) per run,
  after 968 requests on average (99% of runs need at most 2414);
* an implementation at 15% or 25% fails with probability 0.996 / 0.991, and
  one further out more surely and sooner (0% after 248 requests, 100% after 68).

A fixed-size binomial test with the same error rates needs about 3100 requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGET = 0.20  #: the share of 503s the exercise asks for
LOW, HIGH = 0.15, 0.25  #: shares that must be caught
#: Wald's boundaries on the log-likelihood ratio. Fail (reject 20%) above
#: UPPER, pass when both one-sided ratios are below LOWER. UPPER is set a bit
#: above Wald's log(1/alpha) approximation so the exact rate, overshoot and
#: truncation included, stays under 1e-6.
UPPER = math.log(1 / 1e-6) + 1.2
LOWER = math.log(0.01) - 0.4
MAX_REQUESTS = 4000  #: the test always ends here
#: at MAX_REQUESTS, pass when the share is within this distance of 20%
FINAL_TOLERANCE = 0.0325

PASS, FAIL, CONTINUE = "pass", "fail", "continue"

_UP = (math.log(HIGH / TARGET), math.log((1 - HIGH) / (1 - TARGET)))
_DOWN = (math.log(LOW / TARGET), math.log((1 - LOW) / (1 - TARGET)))


def decide(requests: int, unavailable: int) -> str:
    """Return PASS, FAIL or CONTINUE after `requests` answers with `unavailable` 503s."""
    ok = requests - unavailable
    up = unavailable * _UP[0] + ok * _UP[1]
    down = unavailable * _DOWN[0] + ok * _DOWN[1]
    if up >= UPPER or down >= UPPER:
        return FAIL
    if up <= LOWER and down <= LOWER:
        return PASS
    if requests >= MAX_REQUESTS:
        return PASS if abs(unavailable / requests - TARGET) <= FINAL_TOLERANCE else FAIL
    return CONTINUE


@dataclass(frozen=True)
class OperatingCharacteristic:
    """Exact behaviour of `decide` for a true 503 probability `p`."""

    p: float
    fail_probability: float
    expected_requests: float
    quantile_99_requests: int


def _decision_table() -> np.ndarray:
    """decide() for every lattice point: 1 fail, 0 continue, -1 pass (rows = requests)."""
    table = np.zeros((MAX_REQUESTS + 1, MAX_REQUESTS + 1), dtype=np.int8)
    for n in range(1, MAX_REQUESTS + 1):
        k = np.arange(n + 1)
        up = k * _UP[0] + (n - k) * _UP[1]
        down = k * _DOWN[0] + (n - k) * _DOWN[1]
        row = np.zeros(n + 1, dtype=np.int8)
        row[(up <= LOWER) & (down <= LOWER)] = -1
        row[(up >= UPPER) | (down >= UPPER)] = 1
        if n == MAX_REQUESTS:
            undecided = row == 0
            inside = np.abs(k / n - TARGET) <= FINAL_TOLERANCE
            row[undecided & inside] = -1
            row[undecided & ~inside] = 1
        table[n, : n + 1] = row
    return table


def operating_characteristic(p: float, table: np.ndarray | None = None) -> OperatingCharacteristic:
    """Compute the exact fail probability and request count of the test at share `p`."""
    table = _decision_table() if table is None else table
    alive = np.zeros(MAX_REQUESTS + 2)
    alive[0] = 1.0  # probability of being undecided with k 503s so far
    fail = expected = 0.0
    cumulative_stop = 0.0
    quantile = MAX_REQUESTS
    for n in range(1, MAX_REQUESTS + 1):
        expected += alive[:n].sum()  # every undecided path makes request n
        step = np.zeros(n + 1)
        step[: n] += alive[:n] * (1 - p)
        step[1 : n + 1] += alive[:n] * p
        row = table[n, : n + 1]
        fail += step[row == 1].sum()
        cumulative_stop += step[row != 0].sum()
        if cumulative_stop >= 0.99 and quantile == MAX_REQUESTS:
            quantile = n
        step[row != 0] = 0.0
        alive[: n + 1] = step
    return OperatingCharacteristic(p, fail, expected, quantile)


def wilson_interval(unavailable: int, requests: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return a confidence interval for the 503 share, for learner messages."""
    from scipy.stats import binomtest  # imported late: only messages need it

    ci = binomtest(unavailable, requests).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)
