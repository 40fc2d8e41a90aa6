"""Driver: drive the learner's CircuitBreaker through scripted timelines on the parent's clock.

For each scenario (from `checker.exercises.circuit_breaker.SCENARIOS`) the shim builds

    CircuitBreaker(failure_threshold=K, cooldown=C, clock=<asks the parent>)

and the parent plays the steps: `advance` moves its fake clock; `call` runs
`breaker.call(client.get, URL)` in the shim, with every request answered by the
parent's `FlakyServer`, which records whether the request reached it. One
`scenario` event per scenario carries every step, how often the breaker read the
clock, and any time.sleep it called (a breaker never needs to).
"""

from __future__ import annotations

from checker.drivers.fakes import CALL_LIMIT, CALL_SLACK, URL, Answers, FakeClock, FlakyServer, Reply, SleepLog
from checker.drivers.retry_client import missing

START = 1000.0  #: the fake clock's first reading; a breaker assuming time starts at 0 is caught


def run(shim, events, module: str, scenarios: list[dict]) -> None:
    """Play every scenario against a fresh breaker."""
    if missing(shim, events, ["CircuitBreaker", "CircuitOpen"], kind="class"):
        return
    for scenario in scenarios:
        events("scenario-start", name=scenario["name"])
        clock, log = FakeClock(START), SleepLog()
        server = FlakyServer([Reply.from_json(r) for r in scenario["replies"]])
        answers = Answers(server, log, clock)
        made = shim.call("breaker", CALL_LIMIT + CALL_SLACK, total=CALL_LIMIT + CALL_SLACK, on_ask=answers,
                         threshold=scenario["threshold"], cooldown=scenario["cooldown"])
        if "breaker_failed" in made:
            events("breaker-failed", threshold=scenario["threshold"], cooldown=scenario["cooldown"],
                   outcome=made["breaker_failed"])
            return
        steps = []
        for step in scenario["steps"]:
            if "advance" in step:
                clock.advance(step["advance"])
                continue
            before = len(server.requests)
            outcome = shim.call("breaker-call", CALL_LIMIT + CALL_SLACK, total=CALL_LIMIT + CALL_SLACK, on_ask=answers, url=URL)
            error = outcome.get("error") or {}
            steps.append({
                "at": clock.now - START,
                "reached": len(server.requests) - before,
                "first_request": before + 1,
                "outcome": outcome,
                "circuit_open": error.get("circuit_open") is True,
                "transport_error": error.get("transport_error") is True,
            })
            if outcome["kind"] not in ("returned", "raised"):
                break  # a hung or flooding breaker: the rest of this timeline would say nothing more
        events("scenario", name=scenario["name"], steps=steps, clock_reads=clock.calls, sleeps=log.entries)
