"""Driver: call the learner's submit_and_wait() against scripted thumbnail servers, on a fake clock.

For each scenario (from `checker.exercises.jobs_client.SCENARIOS`) the shim calls

    submit_and_wait(BASE_URL, url, client=<asks the parent>, sleep=<asks the parent>, clock=<asks the parent>,
                    deadline=...)

and the parent plays the scenario's replies in order (`JobServer`), logging every request with its
method, URL, Idempotency-Key values, body and the fake time it came at. Sleeps move the clock on;
so does a lost answer (`LOST_SECONDS`, the time a client spends before it knows). One `scenario`
event per scenario; a `scenario-start` event first, so a crash or hang is pinned to it.
"""

from __future__ import annotations

import json

from checker.drivers.fakes import ATTEMPT_HEADER, CALL_LIMIT, CALL_SLACK, MAX_REQUESTS, Answers, FakeClock, SleepLog

BASE_URL = "http://127.0.0.1:9"  #: nothing listens there in the sandbox: only the injected client reaches the parent
FUNCTION = "submit_and_wait"
LOST_SECONDS = 5.0  #: fake seconds a lost answer costs the client (its timeout, or the time to notice the drop)


class JobServer:
    """Plays `replies` in order, repeating the last one; logs every request it was asked."""

    def __init__(self, replies: list[dict], clock: FakeClock):
        self.replies, self.clock = replies, clock
        self.requests: list[dict] = []

    def answer(self, question: dict) -> dict:
        number = len(self.requests) + 1
        if number > MAX_REQUESTS:
            return {"stop": "flooded"}
        keys = question.get("keys") if isinstance(question.get("keys"), list) else []
        self.requests.append({"method": str(question.get("method"))[:10], "url": str(question.get("url"))[:200],
                              "keys": [str(k)[:200] for k in keys[:5]], "body": str(question.get("body", ""))[:500],
                              "at": round(self.clock.now - START, 6)})
        reply = self.replies[min(number, len(self.replies)) - 1]
        if reply.get("lost"):
            self.requests[-1]["lost"] = LOST_SECONDS
            self.clock.advance(LOST_SECONDS)
            return {"lost": reply["lost"]}
        headers = {ATTEMPT_HEADER: str(number), "Content-Type": reply.get("type", "application/json"),
                   **reply.get("headers", {})}
        return {"status": reply["status"], "headers": headers, "body": json.dumps(reply.get("body", {}))}


START = 1000.0  #: the fake clock's reading when each call begins


def run(shim, events, module: str, scenarios: list[dict]) -> None:
    """Play every scenario against the learner's submit_and_wait()."""
    for scenario in scenarios:
        events("scenario-start", name=scenario["name"])
        clock = FakeClock(START)
        server, log = JobServer(scenario["replies"], clock), SleepLog()
        outcome = shim.call("jobs-call", CALL_LIMIT + CALL_SLACK, total=CALL_LIMIT + CALL_SLACK,
                            on_ask=Answers(server, log, clock), base_url=BASE_URL, url=scenario["url"],
                            deadline=scenario["deadline"])
        if "missing" in outcome:
            events("missing", names=outcome["missing"], defines=outcome.get("defines", []))
            return
        events("scenario", name=scenario["name"], requests=server.requests, sleeps=log.entries, outcome=outcome,
               clock_reads=clock.calls, ended=round(clock.now - START, 6))
