"""Probe: drive the learner's CircuitBreaker through scripted timelines on a fake clock.

For each scenario (from `checker.exercises.circuit_breaker.SCENARIOS`) it builds

    CircuitBreaker(failure_threshold=K, cooldown=C, clock=<FakeClock>)

and plays the steps: `advance` moves the fake clock; `call` runs
`breaker.call(client.get, URL)` against a `FlakyServer` and records whether the
request reached the server and what came back. One `scenario` event per
scenario carries every step, how often the breaker read the clock, and any
time.sleep it called (a breaker never needs to).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from checker.probes.retry_client import public_names
from checker.probes.retry_harness import URL, FakeClock, FlakyServer, Reply, SleepLog, Tripwire, guarded, outcome_event

START = 1000.0  #: the fake clock's first reading; a breaker assuming time starts at 0 is caught


def chains_transport_error(error: BaseException | None) -> bool:
    """True if the error is, or was raised from, an httpx transport error (a refused connection)."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, httpx.TransportError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def run(module, folder: Path, events, scenarios: list[dict]) -> None:
    """Play every scenario against a fresh breaker."""
    missing = [name for name in ("CircuitBreaker", "CircuitOpen") if not isinstance(getattr(module, name, None), type)]
    if missing:
        events("missing", names=missing, defines=public_names(module))
        return
    with Tripwire(module, folder) as tripwire:
        play(module, folder, events, tripwire, scenarios)


def play(module, folder: Path, events, tripwire: Tripwire, scenarios: list[dict]) -> None:
    circuit_open = module.CircuitOpen
    for scenario in scenarios:
        events("scenario-start", name=scenario["name"])
        clock = FakeClock(START)
        made = guarded(lambda: module.CircuitBreaker(failure_threshold=scenario["threshold"],
                                                     cooldown=scenario["cooldown"], clock=clock))
        if made.kind != "returned":
            events("breaker-failed", threshold=scenario["threshold"], cooldown=scenario["cooldown"],
                   outcome=outcome_event(made, folder))
            return
        breaker, server = made.value, FlakyServer([Reply.from_json(r) for r in scenario["replies"]])
        steps, tripwire.log = [], SleepLog()
        with server.client() as http:
            for step in scenario["steps"]:
                if "advance" in step:
                    clock.advance(step["advance"])
                    continue
                before = len(server.requests)
                outcome = guarded(lambda: breaker.call(http.get, URL))
                steps.append({
                    "at": clock.now - START,
                    "reached": len(server.requests) - before,
                    "first_request": before + 1,
                    "outcome": outcome_event(outcome, folder),
                    "circuit_open": isinstance(outcome.error, circuit_open),
                    "transport_error": chains_transport_error(outcome.error),
                })
                if outcome.kind not in ("returned", "raised"):
                    break  # a hung or flooding breaker: the rest of this timeline would say nothing more
        events("scenario", name=scenario["name"], steps=steps, clock_reads=clock.calls, sleeps=tripwire.log.entries)
        tripwire.log = None
