"""Probe: call the learner's get_with_retries() against scripted flaky servers, without waiting.

For each scenario (from `checker.exercises.retry_after_client.SCENARIOS`) it builds
a `FlakyServer` playing the scenario's replies, then calls

    get_with_retries(URL, policy=RetryPolicy(max_attempts=N), client=<client of that server>, sleep=<FakeSleep>)

and reports a `scenario` event: the requests the server saw, every sleep asked
for (flagged `real` when time.sleep was called instead of the injected one),
and what came back. A `scenario-start` event precedes each call, so a crash or
hang can be pinned to its scenario.
"""

from __future__ import annotations

from pathlib import Path

from checker.probes.retry_harness import (
    URL,
    FakeSleep,
    FlakyServer,
    Reply,
    SleepLog,
    Tripwire,
    guarded,
    outcome_event,
)

FUNCTION = "get_with_retries"
POLICY = "RetryPolicy"


def public_names(module) -> list[str]:
    return sorted(name for name, value in vars(module).items() if callable(value) and not name.startswith("_"))


def run(module, folder: Path, events, scenarios: list[dict]) -> None:
    """Play every scenario against the learner's get_with_retries()."""
    missing = [name for name in (FUNCTION, POLICY) if not callable(getattr(module, name, None))]
    if missing:
        events("missing", names=missing, defines=public_names(module))
        return
    with Tripwire(module, folder) as tripwire:
        play(module, folder, events, tripwire, scenarios)


def play(module, folder: Path, events, tripwire: Tripwire, scenarios: list[dict]) -> None:
    function, policy_class = getattr(module, FUNCTION), getattr(module, POLICY)
    for scenario in scenarios:
        events("scenario-start", name=scenario["name"])
        made = guarded(lambda: policy_class(max_attempts=scenario["max_attempts"]))
        if made.kind != "returned":
            events("policy-failed", name=scenario["name"], max_attempts=scenario["max_attempts"],
                   outcome=outcome_event(made, folder))
            return
        server = FlakyServer([Reply.from_json(reply) for reply in scenario["replies"]])
        log = SleepLog()
        tripwire.log = log
        with server.client() as client:
            outcome = guarded(lambda: function(URL, policy=made.value, client=client, sleep=FakeSleep(log, folder)))
        tripwire.log = None
        events("scenario", name=scenario["name"], requests=server.requests, sleeps=log.entries,
               outcome=outcome_event(outcome, folder))
