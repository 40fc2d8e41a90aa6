"""Probe: sample the learner's backoff_delay() many times, and watch get_with_retries() use it.

Reports, in order:

* `declared`: the `jitter` of the learner's default `RetryPolicy()`;
* one `samples` event per configuration (a policy and a retry number), with
  every value `backoff_delay(retry, policy)` returned, or what went wrong;
* `client-sleeps`: the sleeps of `runs` calls of `get_with_retries()` against a
  server that answers 503 without Retry-After every time, one list per retry;
  or `client-problem` with the first call that did not sleep as expected.

Policies are built as `RetryPolicy(**fields)`, so `jitter` keeps the learner's
default. The exercise module (`checker.exercises.backoff_jitter`) judges.
"""

from __future__ import annotations

import math
import numbers
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
    safe_repr,
)
from checker.probes.retry_client import public_names

SAMPLING_LIMIT = 2.0  #: real seconds for one configuration's samples (normally a few milliseconds)
PROGRESS_EVERY = 50  #: client runs between progress events


def number(value) -> float | None:
    """The value as a float if it is a finite real number of seconds (numpy's too), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) else None


def sample(function, retry: int, policy, count: int) -> list:
    return [function(retry, policy) for _ in range(count)]


def run(module, folder: Path, events, configs: list[dict], samples: int, client: dict) -> None:
    """Sample every configuration, then the client's sleeps."""
    missing = [name for name in ("RetryPolicy", "backoff_delay") if not callable(getattr(module, name, None))]
    if missing:
        events("missing", names=missing, defines=public_names(module))
        return
    with Tripwire(module, folder) as tripwire:
        sample_all(module, folder, events, tripwire, configs, samples)
        run_client(module, folder, events, tripwire, client)


def sample_all(module, folder: Path, events, tripwire: Tripwire, configs: list[dict], samples: int) -> None:
    """One `samples` event per configuration, after a `declared` event."""
    policy_class, function = module.RetryPolicy, module.backoff_delay
    default = guarded(lambda: policy_class().jitter)
    if default.kind == "returned":
        events("declared", jitter=default.value if isinstance(default.value, str) else repr(default.value)[:60])
    else:
        events("declared", jitter=None, outcome=outcome_event(default, folder))
    for index, config in enumerate(configs):
        made = guarded(lambda: policy_class(**config["policy"]))
        if made.kind != "returned":
            events("policy-failed", fields=config["policy"], outcome=outcome_event(made, folder))
            return
        log = SleepLog(stop_after=None, keep=3)  # backoff_delay has no business sleeping: note it, don't stop it
        tripwire.log = log
        outcome = guarded(lambda: sample(function, config["retry"], made.value, samples), limit=SAMPLING_LIMIT)
        tripwire.log = None
        event = {"index": index, "sleeps": log.entries}
        if outcome.kind == "returned":
            values = [number(value) for value in outcome.value]
            bad = next((value for value, seconds in zip(outcome.value, values) if seconds is None), None)
            if any(seconds is None for seconds in values):
                event["not_a_number"] = {"type": type(bad).__name__, "repr": safe_repr(bad)}
            else:
                event["values"] = values
        else:
            event["outcome"] = outcome_event(outcome, folder)
        events("samples", **event)


def run_client(module, folder: Path, events, tripwire: Tripwire, client: dict) -> None:
    """Call get_with_retries() `client["runs"]` times against a server that never sends Retry-After."""
    function = getattr(module, "get_with_retries", None)
    if not callable(function):
        events("missing", names=["get_with_retries"], defines=public_names(module))
        return
    made = guarded(lambda: module.RetryPolicy(**client["policy"]))
    if made.kind != "returned":
        events("policy-failed", fields=client["policy"], outcome=outcome_event(made, folder))
        return
    retries = client["policy"]["max_attempts"] - 1
    sleeps: list[list[float]] = [[] for _ in range(retries)]
    for number_of_run in range(1, client["runs"] + 1):
        server = FlakyServer([Reply(503)])
        log = SleepLog()
        tripwire.log = log
        with server.client() as http:
            outcome = guarded(lambda: function(URL, policy=made.value, client=http, sleep=FakeSleep(log, folder)))
        tripwire.log = None
        seconds = [entry["seconds"] for entry in log.entries]
        numeric = all(isinstance(s, (int, float)) for s in seconds)
        if outcome.kind not in ("returned", "raised") or len(seconds) != retries or not numeric:
            events("client-problem", run=number_of_run, requests=server.requests, sleeps=log.entries,
                   outcome=outcome_event(outcome, folder))
            return
        for retry, value in enumerate(seconds):
            sleeps[retry].append(float(value))
        if number_of_run % PROGRESS_EVERY == 0:
            events("client-progress", runs=number_of_run)
    events("client-sleeps", sleeps=sleeps, real=[entry for entry in log.entries if entry["real"]][:1])
