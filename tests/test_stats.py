"""The 503-share test's error rates: exact (dynamic programme) and by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from checker import stats


@pytest.fixture(scope="module")
def table():
    return stats._decision_table()


def test_a_correct_20_percent_fails_less_than_once_in_a_million(table):
    assert stats.operating_characteristic(0.20, table).fail_probability <= 1e-6


@pytest.mark.parametrize("p", [0.0, 0.05, 0.10, 0.15, 0.25, 0.30, 0.50, 1.0])
def test_a_share_of_15_percent_or_less_or_25_or_more_fails_with_99_percent(table, p):
    assert stats.operating_characteristic(p, table).fail_probability >= 0.99


def test_the_sequential_test_needs_far_fewer_requests_than_a_fixed_sample(table):
    oc = stats.operating_characteristic(0.20, table)
    assert oc.expected_requests < 1000  # a fixed-size test with the same error rates needs ~3100
    assert oc.quantile_99_requests < 2500


def test_decisions_at_the_edges():
    assert stats.decide(68, 68) == stats.FAIL  # always 503: caught fast
    assert stats.decide(10, 2) == stats.CONTINUE  # too early to say
    assert stats.decide(stats.MAX_REQUESTS, stats.MAX_REQUESTS // 5) == stats.PASS
    assert stats.decide(stats.MAX_REQUESTS, int(stats.MAX_REQUESTS * 0.24)) == stats.FAIL


def simulate(p: float, runs: int, rng: np.random.Generator, table) -> tuple[np.ndarray, np.ndarray]:
    """Run `decide` on `runs` simulated learners; return (failed, requests used) per run."""
    draws = rng.random((runs, stats.MAX_REQUESTS)) < p
    counts = np.cumsum(draws, axis=1)
    n = np.arange(1, stats.MAX_REQUESTS + 1)
    decisions = table[n, counts]  # one row of verdicts per run
    stop = np.argmax(decisions != 0, axis=1)
    return decisions[np.arange(runs), stop] == 1, stop + 1


def test_simulation_agrees_with_the_exact_error_rates(table):
    rng = np.random.default_rng(20261121)  # seeded: the test itself must never be flaky
    for p in (0.15, 0.20, 0.25):
        failed, used = simulate(p, 4000, rng, table)
        exact = stats.operating_characteristic(p, table)
        spread = 4 * np.sqrt(max(exact.fail_probability * (1 - exact.fail_probability), 1e-4) / 4000)
        assert abs(failed.mean() - exact.fail_probability) < spread, p
        assert abs(used.mean() - exact.expected_requests) < 0.05 * exact.expected_requests, p
    failed, _ = simulate(0.20, 4000, rng, table)
    assert not failed.any()  # 4000 correct learners: none failed (expected 0.003)


@pytest.mark.parametrize("source", ["random", "secrets", "numpy"])
def test_real_generators_used_by_learners_pass(table, source):
    import random
    import secrets

    draw = {
        "random": lambda: random.random() < 0.2,
        "secrets": lambda: secrets.randbelow(5) == 0,
        "numpy": lambda: np.random.random() < 0.2,
    }[source]
    unavailable = 0
    for requests in range(1, stats.MAX_REQUESTS + 1):
        unavailable += draw()
        verdict = stats.decide(requests, unavailable)
        if verdict != stats.CONTINUE:
            break
    assert verdict == stats.PASS  # fails with probability < 1e-6


def test_wilson_interval_contains_the_share():
    low, high = stats.wilson_interval(20, 100)
    assert low < 0.2 < high and 0.12 < low and high < 0.30
