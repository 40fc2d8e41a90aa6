"""Driver: sample the learner's backoff_delay() many times, and watch get_with_retries() use it.

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

from checker.drivers.fakes import CALL_LIMIT, CALL_SLACK, SAMPLING_LIMIT, Answers, FlakyServer, Reply, SleepLog
from checker.drivers.retry_client import call_client, missing

PROGRESS_EVERY = 50  #: client runs between progress events


def run(shim, events, module: str, configs: list[dict], samples: int, client: dict) -> None:
    """Sample every configuration, then the client's sleeps."""
    if missing(shim, events, ["RetryPolicy", "backoff_delay"]):
        return
    if sample_all(shim, events, configs, samples):
        run_client(shim, events, client)


def sample_all(shim, events, configs: list[dict], samples: int) -> bool:
    """One `samples` event per configuration, after a `declared` event; False if a policy failed."""
    events("declared", **shim.call("jitter", total=CALL_LIMIT + CALL_SLACK, on_ask=Answers(None, SleepLog(stop_after=None, keep=3))))
    for index, config in enumerate(configs):
        log = SleepLog(stop_after=None, keep=3)  # backoff_delay has no business sleeping: note it, don't stop it
        answer = shim.call("sample", SAMPLING_LIMIT + CALL_SLACK, total=SAMPLING_LIMIT + CALL_SLACK, on_ask=Answers(None, log),
                           policy=config["policy"], retry=config["retry"], count=samples)
        if "policy_failed" in answer:
            events("policy-failed", fields=config["policy"], outcome=answer["policy_failed"])
            return False
        for noted in answer.pop("sleeps", [])[:3]:  # real sleeps, noted in the sandbox: they only earn a message
            log.answer(noted if isinstance(noted, dict) else {})
        events("samples", index=index, sleeps=log.entries, **answer)
    return True


def run_client(shim, events, client: dict) -> None:
    """Call get_with_retries() `client["runs"]` times against a server that never sends Retry-After."""
    if missing(shim, events, ["get_with_retries"]):
        return
    retries = client["policy"]["max_attempts"] - 1
    sleeps: list[list[float]] = [[] for _ in range(retries)]
    log = SleepLog()
    for number_of_run in range(1, client["runs"] + 1):
        server, log = FlakyServer([Reply(503)]), SleepLog()
        outcome = call_client(shim, server, log, client["policy"])
        if "policy_failed" in outcome:
            events("policy-failed", fields=client["policy"], outcome=outcome["policy_failed"])
            return
        seconds = [entry["seconds"] for entry in log.entries]
        numeric = all(isinstance(s, (int, float)) for s in seconds)
        if outcome["kind"] not in ("returned", "raised") or len(seconds) != retries or not numeric:
            events("client-problem", run=number_of_run, requests=server.requests, sleeps=log.entries, outcome=outcome)
            return
        for retry, value in enumerate(seconds):
            sleeps[retry].append(float(value))
        if number_of_run % PROGRESS_EVERY == 0:
            events("client-progress", runs=number_of_run)
    events("client-sleeps", sleeps=sleeps, real=[entry for entry in log.entries if entry["real"]][:1])
