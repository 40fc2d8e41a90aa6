"""The parts the client drivers play in the parent: a flaky server, a sleep log, a fake clock.

The learner's client runs in the sandbox; every request it makes, every sleep
and every clock reading is a question to the parent (see `checker.inside.shim`),
answered here. What the exercises judge, the requests the server saw and the
sleeps asked for, is logged here, never reported by the sandbox.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

#: where learner clients are pointed; the shim's httpx client sends it to the parent, and
#: a client that bypasses the injected `client` finds nothing listening in the sandbox
URL = "http://127.0.0.1:9/status"
CALL_LIMIT = 1.0  #: real seconds one learner call may take (the shim's alarm; checker.inside.shim.CALL_LIMIT)
SAMPLING_LIMIT = 2.0  #: real seconds for one configuration's backoff_delay draws
CALL_SLACK = 4.0  #: seconds past a call's own limit before the parent stops waiting for the shim
MAX_REQUESTS = 50  #: a scenario's server stops the learner's code after this many requests
MAX_SLEEPS = 50  #: and the sleep log after this many sleeps
ATTEMPT_HEADER = "X-Checker-Attempt"  #: numbers every answer, so the checker knows which one came back


class SleepLog:
    """Every sleep of one scenario, injected or real, in the order they were asked for."""

    def __init__(self, stop_after: int | None = MAX_SLEEPS, keep: int | None = None) -> None:
        self.entries: list[dict] = []
        self.count = 0
        self.stop_after, self.keep = stop_after, keep  #: None: never stop the learner / keep every entry

    def answer(self, question: dict) -> dict:
        """The reply to the shim's `sleep` question: go on, or stop the learner's code."""
        if self.stop_after is not None and self.count >= self.stop_after:
            return {"stop": "slept-too-often"}
        self.count += 1
        if self.keep is None or len(self.entries) < self.keep:
            value = question.get("seconds")
            shown = value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)[:60]
            where = question.get("where") if isinstance(question.get("where"), dict) else {}
            self.entries.append({"seconds": shown, "real": question.get("real") is True,
                                 **{k: where[k] for k in ("file", "line", "code") if k in where}})
        return {}

    @property
    def seconds(self) -> list:
        return [entry["seconds"] for entry in self.entries]


class FakeClock:
    """A monotonic clock the driver moves by hand; counts how often learner code reads it."""

    def __init__(self, now: float = 1000.0):
        self.now, self.calls = now, 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now

    def answer(self) -> dict:
        return {"now": self()}

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status with an optional Retry-After, a refused connection, or no answer at all."""

    status: int = 200
    retry_after: str | None = None  #: sent as is
    date_in: float | None = None  #: Retry-After as an HTTP-date this many seconds from now
    refuse: bool = False  #: the connection is refused instead of answered
    slow: bool = False  #: no answer comes: the request ends only when its own timeout does

    @classmethod
    def from_json(cls, data: dict) -> Reply:
        return cls(**data)


def http_date(timestamp: float) -> str:
    return format_datetime(datetime.fromtimestamp(timestamp, timezone.utc), usegmt=True)


def timeout_of(value) -> float | str | None:
    """A request's read timeout as the shim reported it: seconds, None for none, or a short text for nonsense."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
        return value
    return str(value)[:40]


class FlakyServer:
    """Plays `replies` in order, repeating the last one; logs every request it was asked.

    A `slow` reply never comes: a request with a timeout ends when it runs out (the
    clock, if any, moves on by that much), and one without waits for ever, so the
    checker stops it (`waited-forever`)."""

    def __init__(self, replies: list[Reply], clock: FakeClock | None = None):
        self.replies, self.clock = replies, clock
        self.requests: list[dict] = []

    def answer(self, question: dict) -> dict:
        """The reply to the shim's `http` question."""
        number = len(self.requests) + 1
        if number > MAX_REQUESTS:
            return {"stop": "flooded"}
        timeout = timeout_of(question.get("timeout"))
        self.requests.append({"method": str(question.get("method"))[:10], "url": str(question.get("url"))[:200],
                              "timeout": timeout})
        reply = self.replies[min(number, len(self.replies)) - 1]
        if reply.refuse:
            return {"refuse": True}
        if reply.slow:
            if not isinstance(timeout, (int, float)) or timeout <= 0:
                return {"stop": "waited-forever"}
            if self.clock is not None:
                self.clock.advance(timeout)
            return {"timeout": True}
        now = time.time()
        headers = {ATTEMPT_HEADER: str(number), "Cache-Control": "no-store", "Date": http_date(math.floor(now)),
                   "Content-Type": "application/problem+json"}
        if reply.retry_after is not None:
            headers["Retry-After"] = reply.retry_after
        if reply.date_in is not None:
            # Rounded up, so the wait a client works out is never below date_in, however late it reads it.
            headers["Retry-After"] = http_date(math.ceil(now) + reply.date_in)
        body = {"status": reply.status, "title": "Checker answer", "detail": f"answer to request {number}"}
        return {"status": reply.status, "headers": headers, "body": json.dumps(body)}

    def client(self):
        """An httpx client whose requests all reach this server in-process (lesson 7 replays with it)."""
        import httpx

        def handle(request: httpx.Request) -> httpx.Response:
            timeout = request.extensions.get("timeout", {}).get("read")
            reply = self.answer({"method": request.method, "url": str(request.url), "timeout": timeout})
            if reply.get("timeout"):
                raise httpx.ReadTimeout(f"no answer within the request's timeout ({timeout:g} s)", request=request)
            if reply.get("stop") == "waited-forever":
                raise RuntimeError("the fake server never answers, and this request had no timeout: a real client "
                                   "would wait for ever. Pass timeout=policy.timeout to client.get().")
            if "status" not in reply:
                raise httpx.ConnectError("connection refused (the fake server is down)", request=request)
            return httpx.Response(reply["status"], headers=reply["headers"], content=reply["body"].encode())

        return httpx.Client(transport=httpx.MockTransport(handle), timeout=None)  # no default: as in the checker


class Answers:
    """Route the shim's questions during one learner call to the server, the sleep log and the clock."""

    def __init__(self, server: FlakyServer | None, log: SleepLog, clock: FakeClock | None = None):
        self.server, self.log, self.clock = server, log, clock

    def __call__(self, question: dict) -> dict:
        kind = question.get("kind")
        if kind == "http" and self.server is not None:
            return self.server.answer(question)
        if kind == "sleep":
            reply = self.log.answer(question)
            seconds = question.get("seconds")
            if self.clock is not None and not reply and isinstance(seconds, (int, float)) \
                    and not isinstance(seconds, bool) and 0 <= seconds < math.inf:
                self.clock.advance(seconds)  # time passes while the learner's code sleeps
            return reply
        if kind == "clock" and self.clock is not None:
            return self.clock.answer()
        return {"stop": "flooded"}
