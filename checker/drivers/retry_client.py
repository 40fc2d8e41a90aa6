"""Driver: call the learner's get_with_retries() against scripted flaky servers, without waiting.

For each scenario (from `checker.exercises.retry_after_client.SCENARIOS`) the shim calls

    get_with_retries(URL, policy=RetryPolicy(max_attempts=N), client=<asks the parent>, sleep=<asks the parent>)

(and `clock=<asks the parent>` for a scenario that says `clock`: then sleeps and timed-out
requests move that clock on, as real time would pass)

and the parent plays the scenario's replies (`FlakyServer`) and logs every sleep
(flagged `real` when time.sleep was called instead of the injected one). One
`scenario` event per scenario: the requests the server saw, the sleeps, and what
came back; a `scenario-start` event first, so a crash or hang is pinned to it.
"""

from __future__ import annotations

from checker.drivers.fakes import CALL_LIMIT, CALL_SLACK, URL, Answers, FakeClock, FlakyServer, Reply, SleepLog

FUNCTION = "get_with_retries"
POLICY = "RetryPolicy"


def missing(shim, events, names: list[str], kind: str = "callable") -> bool:
    """Report (and say True) when the learner's module lacks one of `names`."""
    found = shim.call("missing", names=names, kind=kind)
    if found["missing"]:
        events("missing", names=found["missing"], defines=found["defines"])
        return True
    return False


def call_client(shim, server: FlakyServer | None, log: SleepLog, policy: dict, limit: float = CALL_LIMIT,
                clock: FakeClock | None = None) -> dict:
    """One guarded call of get_with_retries with the parent answering its requests, sleeps and, if given, clock."""
    return shim.call("call", limit + CALL_SLACK, total=limit + CALL_SLACK, on_ask=Answers(server, log, clock),
                     function=FUNCTION, policy=policy, url=URL, clock=clock is not None)


def run(shim, events, module: str, scenarios: list[dict]) -> None:
    """Play every scenario against the learner's get_with_retries()."""
    if missing(shim, events, [FUNCTION, POLICY]):
        return
    for scenario in scenarios:
        events("scenario-start", name=scenario["name"])
        clock = FakeClock() if scenario.get("clock") else None
        server = FlakyServer([Reply.from_json(reply) for reply in scenario["replies"]], clock)
        log = SleepLog()
        outcome = call_client(shim, server, log, {"max_attempts": scenario["max_attempts"], **scenario.get("policy", {})},
                              clock=clock)
        if "policy_failed" in outcome:
            events("policy-failed", name=scenario["name"], max_attempts=scenario["max_attempts"],
                   policy=scenario.get("policy", {}), outcome=outcome["policy_failed"])
            return
        events("scenario", name=scenario["name"], requests=server.requests, sleeps=log.entries, outcome=outcome,
               clock_reads=clock.calls if clock else 0)
